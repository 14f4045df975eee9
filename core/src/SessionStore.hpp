#pragma once
// Browser sessions kept in the database, so that any number of instances behind a load
// balancer share them. Only a SHA-256 of the cookie value is stored: a copy of the database
// does not hand out live sessions.

#include "SociDatabase.hpp"

#include <belonging/Identity.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace belonging {

struct SessionInfo {
  std::string id; ///< The cookie value (secret).
  std::int64_t userId = 0;
  std::int64_t createdAt = 0;
  std::int64_t lastSeenAt = 0;
};

/** A live session with its user and roles, read in one query (the per-request hot path). */
struct SessionUser {
  SessionInfo session;
  std::string username;
  std::string displayName;
  bool disabled = false;
  std::vector<RoleGrant> roles;
};

class SessionStore {
public:
  using Clock = std::function<std::int64_t()>;

  SessionStore(SociDatabase& database, int idleMinutes, int absoluteHours, Clock clock = unixNow);
  ~SessionStore();

  /** Starts a new session (always a new id, so a fixated id is useless) and returns it. */
  SessionInfo create(std::int64_t userId);
  /**
   * The live session for a cookie value. Expired sessions (idle or absolute) are deleted.
   * Refreshes last-seen at most once a minute, so most requests need no write.
   */
  std::optional<SessionInfo> find(const std::string& id);
  /** As find(), with the user and roles joined in, so a signed-in request costs one query. */
  std::optional<SessionUser> findWithUser(const std::string& id);
  void destroy(const std::string& id);
  /** Deletes every expired session (run now and then). */
  void purgeExpired();

private:
  /** One attempt at findWithUser on the leased connection `slot`. */
  std::optional<SessionUser> lookup(soci::session& sql, std::size_t slot, const std::string& id);
  /** Deletes the session if expired (true), or refreshes last-seen once a minute. */
  bool expireOrTouch(soci::session& sql, const std::string& hash, SessionInfo& session);

  struct LookupStatement;

  SociDatabase& database_;
  std::int64_t idleSeconds_;
  std::int64_t absoluteSeconds_;
  Clock clock_;
  /**
   * The per-request lookup, prepared once per pooled connection: preparing the join on every
   * request cost about 70 µs, more than rendering the page. Slot i is used only by the
   * thread that holds pooled connection i.
   */
  std::vector<std::unique_ptr<LookupStatement>> lookups_;
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
