#include "SessionStore.hpp"

#include "Crypto.hpp"

#include <belonging/WriteTransaction.hpp>
#include <soci/soci.h>

#include <algorithm>

namespace belonging {

SessionInfo SessionStore::create(std::int64_t userId) {
  SessionInfo session{crypto::randomToken(32), userId, clock_(), clock_()};
  const std::string hash = crypto::sha256Hex(session.id);
  soci::session sql(database_.pool());
  sql << "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at) VALUES (:h, :u, :c, :l)",
      soci::use(hash), soci::use(userId), soci::use(session.createdAt),
      soci::use(session.lastSeenAt);
  return session;
}

bool SessionStore::expireOrTouch(soci::session& sql, const std::string& hash, SessionInfo& session) {
  const std::int64_t now = clock_();
  if (now - session.lastSeenAt > idleSeconds_ || now - session.createdAt > absoluteSeconds_) {
    sql << "DELETE FROM sessions WHERE id_hash = :h", soci::use(hash);
    return true;
  }
  if (now - session.lastSeenAt >= 60) {
    sql << "UPDATE sessions SET last_seen_at = :n WHERE id_hash = :h", soci::use(now), soci::use(hash);
    session.lastSeenAt = now;
  }
  return false;
}

std::optional<SessionInfo> SessionStore::find(const std::string& id) {
  if (id.empty() || id.size() > 128) return std::nullopt;
  const std::string hash = crypto::sha256Hex(id);
  soci::session sql(database_.pool());
  SessionInfo session{id, 0, 0, 0};
  sql << "SELECT user_id, created_at, last_seen_at FROM sessions WHERE id_hash = :h",
      soci::use(hash), soci::into(session.userId), soci::into(session.createdAt),
      soci::into(session.lastSeenAt);
  if (!sql.got_data() || expireOrTouch(sql, hash, session)) return std::nullopt;
  return session;
}

struct SessionStore::LookupStatement {
  std::string hash;
  long long userId = 0, createdAt = 0, lastSeenAt = 0;
  std::string username, displayName, role, scope;
  int disabled = 0;
  soci::indicator roleIndicator = soci::i_ok, scopeIndicator = soci::i_ok;
  // Declared last: it binds the members above, which must exist first.
  soci::statement statement;

  explicit LookupStatement(soci::session& sql)
      : statement((sql.prepare << "SELECT s.user_id, s.created_at, s.last_seen_at, u.username, "
                                  "u.display_name, u.disabled, r.role, r.scope FROM sessions s JOIN "
                                  "users u ON u.id = s.user_id LEFT JOIN user_roles r ON r.user_id = "
                                  "s.user_id WHERE s.id_hash = :h",
                   soci::use(hash), soci::into(userId), soci::into(createdAt), soci::into(lastSeenAt),
                   soci::into(username), soci::into(displayName), soci::into(disabled),
                   soci::into(role, roleIndicator), soci::into(scope, scopeIndicator))) {}
};

SessionStore::SessionStore(SociDatabase& database, int idleMinutes, int absoluteHours, Clock clock)
    : database_(database), idleSeconds_(static_cast<std::int64_t>(idleMinutes) * 60),
      absoluteSeconds_(static_cast<std::int64_t>(absoluteHours) * 3600), clock_(std::move(clock)),
      lookups_(database.poolSize()) {}

SessionStore::~SessionStore() = default;

std::optional<SessionUser> SessionStore::findWithUser(const std::string& id) {
  if (id.empty() || id.size() > 128) return std::nullopt;
  soci::connection_pool& pool = database_.pool();
  const std::size_t slot = pool.lease();
  struct GiveBack {
    soci::connection_pool& pool;
    std::size_t slot;
    ~GiveBack() { pool.give_back(slot); }
  } giveBack{pool, slot};
  soci::session& sql = pool.at(slot);
  // A statement prepared on a connection that was since reconnected (PostgreSQL restarted)
  // fails once: prepare it afresh and retry this read before giving up.
  for (int attempt = 0;; ++attempt) {
    try {
      return lookup(sql, slot, id);
    } catch (...) {
      lookups_[slot].reset();
      if (attempt > 0) throw;
    }
  }
}

std::optional<SessionUser> SessionStore::lookup(soci::session& sql, std::size_t slot, const std::string& id) {
  if (!lookups_[slot]) lookups_[slot] = std::make_unique<LookupStatement>(sql);
  LookupStatement& statement = *lookups_[slot];
  statement.hash = crypto::sha256Hex(id);
  std::optional<SessionUser> found;
  for (bool row = statement.statement.execute(true); row; row = statement.statement.fetch()) {
    if (!found) {
      found.emplace();
      found->session = {id, statement.userId, statement.createdAt, statement.lastSeenAt};
      found->username = statement.username;
      found->displayName = statement.displayName;
      found->disabled = statement.disabled != 0;
    }
    if (statement.roleIndicator == soci::i_ok) found->roles.push_back({statement.role, statement.scope});
  }
  if (found && expireOrTouch(sql, statement.hash, found->session)) return std::nullopt;
  return found;
}

void SessionStore::destroy(const std::string& id) {
  const std::string hash = crypto::sha256Hex(id);
  soci::session sql(database_.pool());
  sql << "DELETE FROM sessions WHERE id_hash = :h", soci::use(hash);
}

void SessionStore::purgeExpired() {
  const std::int64_t now = clock_();
  const std::int64_t idleCutoff = now - idleSeconds_, absoluteCutoff = now - absoluteSeconds_;
  soci::session sql(database_.pool());
  sql << "DELETE FROM sessions WHERE last_seen_at < :i OR created_at < :a", soci::use(idleCutoff),
      soci::use(absoluteCutoff);
}

std::int64_t SigninThrottle::bump(soci::session& sql, const std::string& key, int limit, std::int64_t now) {
  const std::int64_t windowOpen = now - windowSeconds_;
  // Count first, then read back: the upsert holds the row (PostgreSQL's row lock, SQLite's
  // write lock from BEGIN IMMEDIATE) until the transaction ends, so a concurrent attempt
  // waits and then sees this one's count.
  sql << "INSERT INTO signin_throttle (throttle_key, window_start, failures) VALUES (:k, :n, 1) "
         "ON CONFLICT (throttle_key) DO UPDATE SET "
         "failures = CASE WHEN signin_throttle.window_start <= :o THEN 1 ELSE signin_throttle.failures + 1 END, "
         "window_start = CASE WHEN signin_throttle.window_start <= :o2 THEN :n2 ELSE signin_throttle.window_start END",
      soci::use(key), soci::use(now), soci::use(windowOpen), soci::use(windowOpen), soci::use(now);
  std::int64_t windowStart = 0;
  int attempts = 0;
  sql << "SELECT window_start, failures FROM signin_throttle WHERE throttle_key = :k", soci::use(key),
      soci::into(windowStart), soci::into(attempts);
  if (attempts <= limit) return 0;
  return std::max<std::int64_t>(1, windowStart + windowSeconds_ - now);
}

std::int64_t SigninThrottle::reserve(const std::string& username, const std::string& address, bool knownDevice) {
  soci::session sql(database_.pool());
  belonging::WriteTransaction transaction(sql, database_.dialect());
  const std::int64_t now = clock_();
  std::int64_t wait = bump(sql, "account:" + username, maxPerAccount_, now);
  if (!knownDevice && !address.empty()) wait = std::max(wait, bump(sql, "address:" + address, maxPerAddress_, now));
  if (wait > 0) {
    // A refused attempt is not checked, so it does not count: it would only stretch the lockout.
    transaction.rollback();
    return wait;
  }
  transaction.commit();
  return 0;
}

void SigninThrottle::recordSuccess(const std::string& username, const std::string& address, bool knownDevice) {
  soci::session sql(database_.pool());
  belonging::WriteTransaction transaction(sql, database_.dialect());
  const std::string accountKey = "account:" + username;
  sql << "DELETE FROM signin_throttle WHERE throttle_key = :k", soci::use(accountKey);
  if (!knownDevice && !address.empty()) {
    // Only the failures of others at the address should count against it, not this success.
    const std::string addressKey = "address:" + address;
    sql << "UPDATE signin_throttle SET failures = failures - 1 WHERE throttle_key = :k AND failures > 0",
        soci::use(addressKey);
  }
  transaction.commit();
}

std::string SigninThrottle::deviceCookie(std::string_view secret, const std::string& username) const {
  const std::string payload = crypto::base64UrlEncode(username) + "." + std::to_string(clock_() + kDeviceSeconds);
  return payload + "." + crypto::hmacSha256Hex(secret, "device:" + payload);
}

bool SigninThrottle::knowsDevice(std::string_view secret, std::string_view cookie, const std::string& username) const {
  const auto macAt = cookie.rfind('.');
  if (macAt == std::string_view::npos) return false;
  const std::string_view payload = cookie.substr(0, macAt);
  if (!crypto::constantTimeEquals(cookie.substr(macAt + 1), crypto::hmacSha256Hex(secret, "device:" + std::string(payload)))) {
    return false;
  }
  const auto expiresAt = payload.find('.');
  const std::string_view expires = payload.substr(expiresAt + 1);
  if (expiresAt == std::string_view::npos || expires.empty() || expires.size() > 18 ||
      expires.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  try {
    return crypto::base64UrlDecode(payload.substr(0, expiresAt)) == username && std::stoll(std::string(expires)) > clock_();
  } catch (const std::invalid_argument&) {
    return false;
  }
}

} // namespace belonging
