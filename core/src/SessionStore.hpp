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
#include <string_view>
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
 * Limits sign-in attempts per account and per client address in fixed windows, in the
 * database so that every instance sees the same counts. An attempt is counted before the
 * slow password check and refunded if it succeeds: counting after the check let every guess
 * that arrived while the first were being hashed through, however many there were.
 */
class SigninThrottle {
public:
  SigninThrottle(SociDatabase& database, int maxPerAccount, int maxPerAddress, int windowMinutes,
                 SessionStore::Clock clock = unixNow)
      : database_(database), maxPerAccount_(maxPerAccount), maxPerAddress_(maxPerAddress),
        windowSeconds_(static_cast<std::int64_t>(windowMinutes) * 60), clock_(std::move(clock)) {}

  /** How long a device cookie is trusted. */
  static constexpr std::int64_t kDeviceSeconds = 180LL * 24 * 60 * 60;

  /**
   * Reserves an attempt before the password is checked: counts it against the account and
   * (unless the browser is a known device for this account) the address, in one write
   * transaction, and undoes the count if either is then over its limit. Returns 0 when the
   * attempt may go ahead, else the seconds until one may.
   */
  std::int64_t reserve(const std::string& username, const std::string& address, bool knownDevice);
  /** After a successful sign-in: clears the account's count and refunds the address's. */
  void recordSuccess(const std::string& username, const std::string& address, bool knownDevice);

  /**
   * A device cookie for a browser that has just signed in as `username` (the OWASP "device
   * cookie" pattern): signed with `secret`, it lets that browser keep trying that account while
   * its address is over the per-address limit, e.g. behind a busy proxy that is not listed.
   */
  std::string deviceCookie(std::string_view secret, const std::string& username) const;
  /** Whether `cookie` is an unexpired device cookie from deviceCookie() for `username`. */
  bool knowsDevice(std::string_view secret, std::string_view cookie, const std::string& username) const;

private:
  /** Counts one attempt for the key; returns the seconds to wait if that puts it over `limit`. */
  std::int64_t bump(soci::session& sql, const std::string& key, int limit, std::int64_t now);

  SociDatabase& database_;
  int maxPerAccount_;
  int maxPerAddress_;
  std::int64_t windowSeconds_;
  SessionStore::Clock clock_;
};

} // namespace belonging
