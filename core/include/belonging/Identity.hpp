#pragma once
// Who is making a request, as established by the core (session, API token or trusted proxy).

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace belonging {

/** A role held by a user, optionally limited to a scope (e.g. network-chair of "lgbtq"). */
struct RoleGrant {
  std::string role;  ///< One of the core roles, e.g. "network-chair".
  std::string scope; ///< Empty for organisation-wide; otherwise a plugin-defined key.
};

/** An authenticated user. Plugins never see passwords or session ids. */
struct Identity {
  std::int64_t userId = 0;
  std::string username;
  std::string displayName;
  std::vector<RoleGrant> roles;
  /** Effective permissions: those granted by the user's roles, narrowed by a token's scopes. */
  std::set<std::string, std::less<>> permissions;
  /** True when authenticated by an API bearer token rather than a browser session. */
  bool viaToken = false;

  /** Whether the user holds the permission (and, through a token, the token allows it). */
  bool can(std::string_view permission) const { return permissions.contains(permission); }

  /** Whether the user holds the role organisation-wide or for the given scope. */
  bool hasRole(std::string_view role, std::string_view scope = {}) const {
    return std::any_of(roles.begin(), roles.end(), [&](const RoleGrant& grant) {
      return grant.role == role && (grant.scope.empty() || grant.scope == scope);
    });
  }
};

} // namespace belonging
