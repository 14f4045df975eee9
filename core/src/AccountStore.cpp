#include "AccountStore.hpp"

#include "Crypto.hpp"

#include <belonging/WriteTransaction.hpp>
#include <soci/soci.h>

#include <algorithm>

namespace belonging {

const std::vector<std::string>& coreRoles() {
  static const std::vector<std::string> kRoles{"staff",         "network-chair",  "role-lead",
                                               "champion",      "ftsu-guardian",  "people-analyst",
                                               "admin"};
  return kRoles;
}

void AccountStore::checkUsername(const std::string& username) {
  const bool validCharacters = std::all_of(username.begin(), username.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '@';
  });
  if (username.size() < 2 || username.size() > 64 || !validCharacters) {
    throw AccountError("username \"" + username +
                       "\" must be 2 to 64 letters, digits, dots, dashes, underscores or @");
  }
}

void AccountStore::checkPassword(const std::string& password) {
  if (password.size() < 12) throw AccountError("the password must be at least 12 characters long");
  if (password.size() > 1024) throw AccountError("the password must be at most 1024 characters long");
}

std::int64_t AccountStore::addUser(const std::string& username, const std::string& displayName,
                                   const std::optional<std::string>& password, bool demo) {
  checkUsername(username);
  if (password) checkPassword(*password);
  const std::string hash = password ? crypto::hashPassword(*password) : std::string();
  soci::session sql(database_.pool());
  belonging::WriteTransaction transaction(sql, database_.dialect());
  int taken = 0;
  sql << "SELECT COUNT(*) FROM users WHERE username = :u", soci::use(username), soci::into(taken);
  if (taken != 0) throw AccountError("a user called \"" + username + "\" already exists");
  const std::int64_t now = unixNow();
  const int demoFlag = demo ? 1 : 0;
  std::int64_t id = 0;
  sql << "INSERT INTO users (username, display_name, password_hash, is_demo, disabled, created_at) "
         "VALUES (:u, :d, :h, :demo, 0, :t) RETURNING id",
      soci::use(username), soci::use(displayName.empty() ? username : displayName),
      soci::use(hash), soci::use(demoFlag), soci::use(now), soci::into(id);
  const std::string staff = "staff", noScope;
  sql << "INSERT INTO user_roles (user_id, role, scope, granted_at) VALUES (:i, :r, :s, :t)",
      soci::use(id), soci::use(staff), soci::use(noScope), soci::use(now);
  transaction.commit();
  return id;
}

namespace {
/** Reads one user row with `query`, a complete literal with one bound value. */
template <typename Value>
std::optional<UserRecord> readUser(soci::session& sql, const char* query, const Value& value) {
  UserRecord user;
  int disabled = 0, demo = 0;
  soci::indicator hashIndicator = soci::i_ok;
  sql << query, soci::use(value), soci::into(user.id), soci::into(user.username),
      soci::into(user.displayName), soci::into(user.passwordHash, hashIndicator), soci::into(disabled),
      soci::into(demo);
  if (!sql.got_data()) return std::nullopt;
  if (hashIndicator != soci::i_ok) user.passwordHash.clear();
  user.disabled = disabled != 0;
  user.demo = demo != 0;
  return user;
}
} // namespace

std::optional<UserRecord> AccountStore::userByUsername(const std::string& username) {
  soci::session sql(database_.pool());
  return readUser(sql,
                  "SELECT id, username, display_name, password_hash, disabled, is_demo FROM users WHERE username = :u",
                  username);
}

std::optional<UserRecord> AccountStore::userById(std::int64_t id) {
  soci::session sql(database_.pool());
  return readUser(sql, "SELECT id, username, display_name, password_hash, disabled, is_demo FROM users WHERE id = :i",
                  id);
}

std::int64_t AccountStore::requireUser(soci::session& sql, const std::string& username) {
  std::int64_t id = 0;
  sql << "SELECT id FROM users WHERE username = :u", soci::use(username), soci::into(id);
  if (!sql.got_data()) throw AccountError("there is no user called \"" + username + "\"");
  return id;
}

void AccountStore::setPassword(std::int64_t userId, const std::string& password) {
  checkPassword(password);
  const std::string hash = crypto::hashPassword(password);
  soci::session sql(database_.pool());
  belonging::WriteTransaction transaction(sql, database_.dialect());
  sql << "UPDATE users SET password_hash = :h WHERE id = :i", soci::use(hash), soci::use(userId);
  // A password change ends every other session: the usual reason to change it is suspicion.
  sql << "DELETE FROM sessions WHERE user_id = :i", soci::use(userId);
  transaction.commit();
}

void AccountStore::disable(const std::string& username) {
  soci::session sql(database_.pool());
  belonging::WriteTransaction transaction(sql, database_.dialect());
  const std::int64_t id = requireUser(sql, username);
  const std::int64_t now = unixNow();
  sql << "UPDATE users SET disabled = 1 WHERE id = :i", soci::use(id);
  sql << "DELETE FROM sessions WHERE user_id = :i", soci::use(id);
  sql << "UPDATE api_tokens SET revoked_at = :t WHERE user_id = :i AND revoked_at IS NULL",
      soci::use(now), soci::use(id);
  transaction.commit();
}

namespace {
void requireCoreRole(std::string_view role) {
  const auto& roles = coreRoles();
  if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
    std::string known;
    for (const auto& name : roles) known += (known.empty() ? "" : ", ") + name;
    throw AccountError("\"" + std::string(role) + "\" is not a role; roles are: " + known);
  }
}

UserSummary summaryOf(const UserRecord& user) {
  return {user.id, user.username, user.displayName, user.disabled};
}
} // namespace

void AccountStore::grant(const std::string& username, const std::string& role,
                         const std::string& scope) {
  requireCoreRole(role);
  std::int64_t id = 0;
  {
    soci::session sql(database_.pool());
    id = requireUser(sql, username);
  }
  grantRole(id, role, scope);
}

void AccountStore::grantRole(std::int64_t userId, std::string_view role, std::string_view scope) {
  requireCoreRole(role);
  const std::string roleName(role), scopeName(scope);
  const std::int64_t now = unixNow();
  soci::session sql(database_.pool());
  sql << "INSERT INTO user_roles (user_id, role, scope, granted_at) VALUES (:i, :r, :s, :t) "
         "ON CONFLICT (user_id, role, scope) DO NOTHING",
      soci::use(userId), soci::use(roleName), soci::use(scopeName), soci::use(now);
}

bool AccountStore::revokeRole(std::int64_t userId, std::string_view role, std::string_view scope) {
  const std::string roleName(role), scopeName(scope);
  soci::session sql(database_.pool());
  soci::statement statement =
      (sql.prepare << "DELETE FROM user_roles WHERE user_id = :i AND role = :r AND scope = :s",
       soci::use(userId), soci::use(roleName), soci::use(scopeName));
  statement.execute(true);
  return statement.get_affected_rows() > 0;
}

std::optional<UserSummary> AccountStore::findByUsername(std::string_view username) {
  auto user = userByUsername(std::string(username));
  return user ? std::optional(summaryOf(*user)) : std::nullopt;
}

std::optional<UserSummary> AccountStore::findById(std::int64_t userId) {
  auto user = userById(userId);
  return user ? std::optional(summaryOf(*user)) : std::nullopt;
}

std::vector<UserSummary> AccountStore::holders(std::string_view role, std::string_view scope) {
  const std::string roleName(role), scopeName(scope);
  soci::session sql(database_.pool());
  std::vector<UserSummary> found;
  UserSummary user;
  soci::statement statement =
      (sql.prepare << "SELECT u.id, u.username, u.display_name FROM users u JOIN user_roles r ON "
                      "r.user_id = u.id WHERE r.role = :r AND r.scope = :s AND u.disabled = 0 "
                      "ORDER BY u.display_name, u.id",
       soci::use(roleName), soci::use(scopeName), soci::into(user.id), soci::into(user.username),
       soci::into(user.displayName));
  statement.execute();
  while (statement.fetch()) found.push_back(user);
  return found;
}

void AccountStore::revoke(const std::string& username, const std::string& role,
                          const std::string& scope) {
  std::int64_t id = 0;
  {
    soci::session sql(database_.pool());
    id = requireUser(sql, username);
  }
  if (!revokeRole(id, role, scope)) {
    throw AccountError("\"" + username + "\" does not hold the role \"" + role + "\"" +
                       (scope.empty() ? "" : " for \"" + scope + "\""));
  }
}

std::vector<RoleGrant> AccountStore::roles(std::int64_t userId) {
  soci::session sql(database_.pool());
  std::vector<RoleGrant> grants;
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT role, scope FROM user_roles WHERE user_id = :i ORDER BY role, scope",
       soci::use(userId));
  for (const auto& row : rows) grants.push_back({row.get<std::string>(0), row.get<std::string>(1)});
  return grants;
}

bool AccountStore::hasRealAccounts() {
  soci::session sql(database_.pool());
  int count = 0;
  sql << "SELECT COUNT(*) FROM users WHERE is_demo = 0", soci::into(count);
  return count > 0;
}

IssuedToken AccountStore::createToken(const std::string& username, const std::string& label,
                                      const std::vector<std::string>& scopes, int days) {
  if (days < 1 || days > 366) throw AccountError("a token must expire in 1 to 366 days");
  if (scopes.empty()) throw AccountError("a token needs at least one scope");
  std::string joined;
  for (const auto& scope : scopes) {
    if (scope.empty() || scope.find_first_of(", ") != std::string::npos) {
      throw AccountError("scope \"" + scope + "\" is not a permission name");
    }
    joined += (joined.empty() ? "" : ",") + scope;
  }
  soci::session sql(database_.pool());
  const std::int64_t userId = requireUser(sql, username);
  IssuedToken token;
  // The prefix lets secret scanners recognise a leaked token; only its hash is stored.
  token.secret = "blg_" + crypto::randomToken(32);
  const std::string hash = crypto::sha256Hex(token.secret);
  const std::int64_t now = unixNow();
  token.expiresAt = now + static_cast<std::int64_t>(days) * 86400;
  sql << "INSERT INTO api_tokens (token_hash, user_id, label, scopes, created_at, expires_at) "
         "VALUES (:h, :u, :l, :s, :c, :e) RETURNING id",
      soci::use(hash), soci::use(userId), soci::use(label), soci::use(joined), soci::use(now),
      soci::use(token.expiresAt), soci::into(token.id);
  return token;
}

void AccountStore::revokeToken(std::int64_t tokenId) {
  soci::session sql(database_.pool());
  const std::int64_t now = unixNow();
  soci::statement statement =
      (sql.prepare << "UPDATE api_tokens SET revoked_at = :t WHERE id = :i AND revoked_at IS NULL",
       soci::use(now), soci::use(tokenId));
  statement.execute(true);
  if (statement.get_affected_rows() == 0) {
    throw AccountError("there is no live token with id " + std::to_string(tokenId));
  }
}

std::optional<TokenRecord> AccountStore::findToken(const std::string& secret) {
  if (!secret.starts_with("blg_")) return std::nullopt;
  const std::string hash = crypto::sha256Hex(secret);
  soci::session sql(database_.pool());
  TokenRecord token;
  std::string scopes;
  const std::int64_t now = unixNow();
  sql << "SELECT t.id, t.user_id, t.scopes, t.expires_at FROM api_tokens t JOIN users u ON "
         "u.id = t.user_id WHERE t.token_hash = :h AND t.revoked_at IS NULL AND t.expires_at > :n "
         "AND u.disabled = 0",
      soci::use(hash), soci::use(now), soci::into(token.id), soci::into(token.userId),
      soci::into(scopes), soci::into(token.expiresAt);
  if (!sql.got_data()) return std::nullopt;
  for (std::size_t start = 0; start <= scopes.size();) {
    const auto comma = std::min(scopes.find(',', start), scopes.size());
    if (comma > start) token.scopes.push_back(scopes.substr(start, comma - start));
    start = comma + 1;
  }
  return token;
}

} // namespace belonging
