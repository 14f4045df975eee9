#pragma once
// Browser sessions kept in the database, so that any number of instances behind a load
// balancer share them. Only a SHA-256 of the cookie value is stored: a copy of the database
// does not hand out live sessions.

#include "SociDatabase.hpp"

#include <functional>
#include <optional>
#include <string>

namespace belonging {

struct SessionInfo {
  std::string id; ///< The cookie value (secret).
  std::int64_t userId = 0;
  std::int64_t createdAt = 0;
  std::int64_t lastSeenAt = 0;
};

class SessionStore {
public:
  using Clock = std::function<std::int64_t()>;

  SessionStore(SociDatabase& database, int idleMinutes, int absoluteHours, Clock clock = unixNow)
      : database_(database), idleSeconds_(static_cast<std::int64_t>(idleMinutes) * 60),
        absoluteSeconds_(static_cast<std::int64_t>(absoluteHours) * 3600), clock_(std::move(clock)) {}

  /** Starts a new session (always a new id, so a fixated id is useless) and returns it. */
  SessionInfo create(std::int64_t userId);
  /**
   * The live session for a cookie value. Expired sessions (idle or absolute) are deleted.
   * Refreshes last-seen at most once a minute, so most requests need no write.
   */
  std::optional<SessionInfo> find(const std::string& id);
  void destroy(const std::string& id);
  /** Deletes every expired session (run now and then). */
  void purgeExpired();

private:
  SociDatabase& database_;
  std::int64_t idleSeconds_;
  std::int64_t absoluteSeconds_;
  Clock clock_;
};

/**
 * Counts failed sign-ins per account and per client address in fixed windows, in the
 * database so that every instance sees the same counts.
 */
class SigninThrottle {
public:
  SigninThrottle(SociDatabase& database, int maxPerAccount, int maxPerAddress, int windowMinutes,
                 SessionStore::Clock clock = unixNow)
      : database_(database), maxPerAccount_(maxPerAccount), maxPerAddress_(maxPerAddress),
        windowSeconds_(static_cast<std::int64_t>(windowMinutes) * 60), clock_(std::move(clock)) {}

  /** Seconds until another attempt is allowed; 0 if allowed now. */
  std::int64_t retryAfter(const std::string& username, const std::string& address);
  void recordFailure(const std::string& username, const std::string& address);
  void recordSuccess(const std::string& username);

private:
  std::int64_t blockedFor(soci::session& sql, const std::string& key, int limit, std::int64_t now);
  void bump(soci::session& sql, const std::string& key, std::int64_t now);

  SociDatabase& database_;
  int maxPerAccount_;
  int maxPerAddress_;
  std::int64_t windowSeconds_;
  SessionStore::Clock clock_;
};

} // namespace belonging
