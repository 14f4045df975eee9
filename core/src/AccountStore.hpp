#pragma once
// Local accounts, role grants and API bearer tokens in the identified database.

#include "SociDatabase.hpp"

#include <belonging/Host.hpp>
#include <belonging/Identity.hpp>

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace belonging {

/** The roles of DESIGN §4. Plugins scope them (a chair of which network) but add no others. */
const std::vector<std::string>& coreRoles();

/** A request the store cannot honour (unknown user, bad role…), in words for the operator. */
class AccountError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct UserRecord {
  std::int64_t id = 0;
  std::string username;
  std::string displayName;
  std::string passwordHash;
  bool disabled = false;
  bool demo = false;
};

struct TokenRecord {
  std::int64_t id = 0;
  std::int64_t userId = 0;
  std::vector<std::string> scopes;
  std::int64_t expiresAt = 0;
};

/** What `token create` returns: the secret is shown once and never stored. */
struct IssuedToken {
  std::int64_t id = 0;
  std::string secret;
  std::int64_t expiresAt = 0;
};

class AccountStore final : public UserDirectory {
public:
  explicit AccountStore(SociDatabase& database) : database_(database) {}

  /** Creates a user with the staff role; throws AccountError if the name is taken or invalid. */
  std::int64_t addUser(const std::string& username, const std::string& displayName,
                       const std::optional<std::string>& password, bool demo = false);
  std::optional<UserRecord> userByUsername(const std::string& username);
  std::optional<UserRecord> userById(std::int64_t id);
  void setPassword(std::int64_t userId, const std::string& password);
  /** Disables the account and ends its sessions and tokens. */
  void disable(const std::string& username);
  void grant(const std::string& username, const std::string& role, const std::string& scope);
  void revoke(const std::string& username, const std::string& role, const std::string& scope);
  std::vector<RoleGrant> roles(std::int64_t userId);
  // UserDirectory: what plugins may know about users and their scoped roles.
  std::optional<UserSummary> findByUsername(std::string_view username) override;
  std::optional<UserSummary> findById(std::int64_t userId) override;
  std::vector<UserSummary> holders(std::string_view role, std::string_view scope) override;
  void grantRole(std::int64_t userId, std::string_view role, std::string_view scope) override;
  bool revokeRole(std::int64_t userId, std::string_view role, std::string_view scope) override;

  /** Whether any account exists that `demo` did not create. */
  bool hasRealAccounts();

  /** Issues an API token for the user; scopes are permission names or "signed-in". */
  IssuedToken createToken(const std::string& username, const std::string& label,
                          const std::vector<std::string>& scopes, int days);
  void revokeToken(std::int64_t tokenId);
  /** The live token matching a presented secret, if any. */
  std::optional<TokenRecord> findToken(const std::string& secret);

  /** A username is 2–64 characters of letters, digits, ".", "_", "-" or "@". */
  static void checkUsername(const std::string& username);
  /** Passwords are at least 12 characters: length beats composition rules (NCSC guidance). */
  static void checkPassword(const std::string& password);

private:
  std::int64_t requireUser(soci::session& sql, const std::string& username);

  SociDatabase& database_;
};

} // namespace belonging
