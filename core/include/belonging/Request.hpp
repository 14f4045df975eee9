#pragma once
// A request as a plugin handler sees it. Copied out of the HTTP library so that plugins depend
// only on the SDK, and so that anonymous routes can be given a request with nothing identifying.

#include <belonging/Identity.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace belonging {

/** A message shown once on the next page, carried in a signed cookie. */
struct Flash {
  std::string kind; ///< "success", "info" or "warning".
  std::string text;
};

/** One incoming request. Header names are lower-case. */
struct Request {
  std::string method;    ///< "GET", "POST", …
  std::string path;      ///< Decoded path without the query string.
  std::string body;      ///< Raw body (forms are also parsed into `form`).
  std::string requestId; ///< Empty on anonymous routes, which must not be traceable.
  /** Client address; always empty on anonymous routes. */
  std::string remoteAddress;
  std::map<std::string, std::string, std::less<>> pathParams;
  std::multimap<std::string, std::string, std::less<>> query;
  std::multimap<std::string, std::string, std::less<>> form;
  std::multimap<std::string, std::string, std::less<>> headers;
  /** Set when signed in (or token-authenticated); never set on anonymous routes. */
  std::optional<Identity> user;
  /** The token a form must echo in its `_csrf` field (or the X-CSRF-Token header). */
  std::string csrfToken;
  /** Messages carried over from the previous response; shown by the layout. */
  std::vector<Flash> flash;
  /** True when the route was declared anonymous (see Route::anonymous). */
  bool anonymous = false;

  /** A path parameter such as {slug}; empty if absent. */
  std::string param(std::string_view name) const { return firstOf(pathParams, name); }
  /** The first value of a query-string parameter; empty if absent. */
  std::string queryValue(std::string_view name) const { return firstOf(query, name); }
  /** The first value of a form field; empty if absent. */
  std::string formValue(std::string_view name) const { return firstOf(form, name); }
  /** The first value of a header (name in lower case); empty if absent. */
  std::string header(std::string_view name) const { return firstOf(headers, name); }
  /** Whether a signed-in user holds the permission. */
  bool can(std::string_view permission) const { return user && user->can(permission); }
  /** Whether the client asked for JSON (an API call) rather than a page. */
  bool wantsJson() const {
    return path.starts_with("/api/") || header("accept").find("application/json") != std::string::npos;
  }

private:
  template <typename Map> static std::string firstOf(const Map& map, std::string_view name) {
    auto found = map.find(name);
    return found == map.end() ? std::string() : found->second;
  }
};

} // namespace belonging
