#include "SessionStore.hpp"

#include "Crypto.hpp"

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

std::optional<SessionInfo> SessionStore::find(const std::string& id) {
  if (id.empty() || id.size() > 128) return std::nullopt;
  const std::string hash = crypto::sha256Hex(id);
  soci::session sql(database_.pool());
  SessionInfo session{id, 0, 0, 0};
  sql << "SELECT user_id, created_at, last_seen_at FROM sessions WHERE id_hash = :h",
      soci::use(hash), soci::into(session.userId), soci::into(session.createdAt),
      soci::into(session.lastSeenAt);
  if (!sql.got_data()) return std::nullopt;
  const std::int64_t now = clock_();
  if (now - session.lastSeenAt > idleSeconds_ || now - session.createdAt > absoluteSeconds_) {
    sql << "DELETE FROM sessions WHERE id_hash = :h", soci::use(hash);
    return std::nullopt;
  }
  if (now - session.lastSeenAt >= 60) {
    sql << "UPDATE sessions SET last_seen_at = :n WHERE id_hash = :h", soci::use(now),
        soci::use(hash);
    session.lastSeenAt = now;
  }
  return session;
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

std::int64_t SigninThrottle::blockedFor(soci::session& sql, const std::string& key, int limit,
                                        std::int64_t now) {
  std::int64_t windowStart = 0;
  int failures = 0;
  sql << "SELECT window_start, failures FROM signin_throttle WHERE throttle_key = :k",
      soci::use(key), soci::into(windowStart), soci::into(failures);
  if (!sql.got_data() || now - windowStart >= windowSeconds_ || failures < limit) return 0;
  return windowStart + windowSeconds_ - now;
}

std::int64_t SigninThrottle::retryAfter(const std::string& username, const std::string& address) {
  soci::session sql(database_.pool());
  const std::int64_t now = clock_();
  return std::max(blockedFor(sql, "account:" + username, maxPerAccount_, now),
                  address.empty() ? 0 : blockedFor(sql, "address:" + address, maxPerAddress_, now));
}

void SigninThrottle::bump(soci::session& sql, const std::string& key, std::int64_t now) {
  const std::int64_t windowOpen = now - windowSeconds_;
  // One statement, so concurrent failures on two instances cannot lose a count.
  sql << "INSERT INTO signin_throttle (throttle_key, window_start, failures) VALUES (:k, :n, 1) "
         "ON CONFLICT (throttle_key) DO UPDATE SET "
         "failures = CASE WHEN signin_throttle.window_start <= :o THEN 1 ELSE signin_throttle.failures + 1 END, "
         "window_start = CASE WHEN signin_throttle.window_start <= :o2 THEN :n2 ELSE signin_throttle.window_start END",
      soci::use(key), soci::use(now), soci::use(windowOpen), soci::use(windowOpen), soci::use(now);
}

void SigninThrottle::recordFailure(const std::string& username, const std::string& address) {
  soci::session sql(database_.pool());
  soci::transaction transaction(sql);
  const std::int64_t now = clock_();
  bump(sql, "account:" + username, now);
  if (!address.empty()) bump(sql, "address:" + address, now);
  transaction.commit();
}

void SigninThrottle::recordSuccess(const std::string& username) {
  soci::session sql(database_.pool());
  const std::string key = "account:" + username;
  sql << "DELETE FROM signin_throttle WHERE throttle_key = :k", soci::use(key);
}

} // namespace belonging
