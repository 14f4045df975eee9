#pragma once
// What the experience plugin's routes and commands share: the two stores, the shipped
// questionnaires, wave keys, rate limits, and the rules for issuing and spending credentials,
// so the browser path, the paper-code path and the CLI can never apply different rules.

#include "AnonymousStore.hpp"
#include "BlindRsa.hpp"
#include "Questionnaire.hpp"
#include "WaveStore.hpp"

#include <belonging/Host.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace experience {
using namespace belonging::experience; // The blind-signature primitives (BlindRsa.hpp).

/** A request the plugin refuses, with the HTTP status and a message that says why. */
class ExperienceError : public std::runtime_error {
public:
  ExperienceError(int status, const std::string& message, std::string field = {})
      : std::runtime_error(message), status_(status), field_(std::move(field)) {}
  int status() const { return status_; }
  const std::string& field() const { return field_; }

private:
  int status_;
  std::string field_;
};

/**
 * At most `limit` events per window for each key. Anonymous routes have no address to key on,
 * so there the key is everyone (empty) or the credential itself, never the client.
 */
class RateLimit {
public:
  RateLimit(std::size_t limit, std::chrono::seconds window) : limit_(limit), window_(window) {}
  /** Counts an event for `key`; false when the key is over its limit. */
  bool allow(const std::string& key = {});
  /** Whether the key is at its limit, without counting an event. */
  bool full(const std::string& key = {});
  void setLimit(std::size_t limit) { limit_ = limit; }

private:
  std::mutex mutex_;
  std::size_t limit_;
  std::chrono::seconds window_;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> events_;
  std::chrono::steady_clock::time_point lastPruned_ = std::chrono::steady_clock::now();
};

/** The salt length of our waves' RSASSA-PSS signatures (RFC 9474 RSABSSA-SHA384-PSS-Randomized). */
inline constexpr int kSaltLength = 48;

class ExperienceService {
public:
  explicit ExperienceService(belonging::Host& host);

  belonging::Host& host;
  WaveStore waves;
  AnonymousStore anonymous;

  /** The questionnaire a wave uses (the shipped versions, with the configured directorates). */
  const Questionnaire& questionnaire(int version);
  /** The newest shipped questionnaire version. */
  int latestVersion();
  /** Today's date in UTC, YYYY-MM-DD: the only time the anonymous side ever knows. */
  static std::string today();

  /** The wave, or ExperienceError 404. */
  Wave requireWave(std::int64_t id);
  /** Creates a wave with a fresh key pair (ExperienceError 422 naming the field for bad input). */
  std::int64_t createWave(const std::string& name, const std::string& opensOn, const std::string& closesOn);
  void openWave(std::int64_t id);
  /**
   * Closes the wave: no more tokens, every pool's answers written, the store shuffled. On an
   * already-closed wave with `again`, repeats the anonymous side (after a failed rewrite).
   */
  CloseReport closeWave(std::int64_t id, bool again = false);
  /** The mix's settings from [plugins.experience] (B, the check interval). */
  const MixSettings& mix();

  /**
   * Signs a blinded message for a signed-in user, once per wave: ExperienceError 409 for a
   * second time, 410 when the wave is not accepting, 400 for a malformed message, 429 when
   * rate-limited. Returns the blind signature (base64url).
   */
  std::string issueToken(std::int64_t waveId, std::int64_t userId, const std::string& blindedMessage);
  /**
   * Stores answers paid for with a finalised token: 400 malformed or invalid signature, 409
   * spent, 410 outside the wave, 422 a bad answer (field named), 429 rate-limited.
   */
  void submitWithToken(std::int64_t waveId, const std::string& token, const std::string& signature,
                       const std::map<std::string, std::string>& answers, const std::string& comment);
  /** The wave a typed paper code is for: 400 for a mistyped or unknown code, 410 closed (if mustBeOpen). */
  Wave waveForCode(const std::string& typedCode, bool mustBeOpen = true);
  /** Stores answers paid for with a paper code (errors as submitWithToken). */
  void submitWithCode(const std::string& typedCode, const std::map<std::string, std::string>& answers,
                      const std::string& comment);
  /**
   * Where the answers paid for by this token are (400 for a malformed token). Needs no
   * signature: only the token's holder can name its hash.
   */
  ReceiptStatus receiptForToken(std::int64_t waveId, const std::string& token);
  /** The same for a paper code (400 for a mistyped or unknown code). */
  ReceiptStatus receiptForCode(const std::string& typedCode);
  /** Makes `count` paper codes for the wave; only their hashes are kept. */
  std::vector<std::string> makePaperCodes(std::int64_t waveId, int count);

private:
  KeyEncryptionKey keyEncryptionKey();
  std::shared_ptr<const BlindSigner> signer(const Wave& wave);
  std::shared_ptr<const BlindVerifier> verifier(const Wave& wave);
  std::pair<std::string, std::string> checkedAnswers(const Wave& wave, const std::map<std::string, std::string>& answers,
                                                     const std::string& comment);
  void store(Submission submission);
  /** The error for an invalid credential: `status`, or 429 once the failure budget is spent. */
  ExperienceError invalid(int status, const std::string& message, const std::string& field);
  void configureLimits();

  std::once_flag configured_;
  std::map<int, Questionnaire> questionnaires_;
  std::mutex keysMutex_;
  std::map<std::int64_t, std::shared_ptr<const BlindSigner>> signers_;
  std::map<std::int64_t, std::shared_ptr<const BlindVerifier>> verifiers_;
  /**
   * Invalid tokens and codes in the last minute, everyone's together. Past the budget an
   * invalid attempt is answered 429 rather than 400, so a script that honours Retry-After
   * backs off; credentials are always checked first, so a valid one never meets this limit
   * and a flood cannot lock real people out. There is no limit on valid submissions: there
   * can only be as many as were issued (one token per person per wave, itself limited per
   * person, and one per printed paper code), so a global cap could only refuse real people.
   */
  RateLimit failures_{600, std::chrono::seconds(60)};
  /**
   * Credentials found already spent in the last minute, keyed by their hash: a replay of one
   * is answered 409 from here instead of queueing behind real submissions at the writer.
   * Keyed by credential, not client, so it needs no address; it holds only replayed hashes.
   */
  RateLimit knownSpent_{1, std::chrono::seconds(60)};
  RateLimit issuances_{10, std::chrono::seconds(60)};
};

/** Adds a route whose handler may throw ExperienceError (an error page, or JSON for API calls). */
void addRoute(ExperienceService& service, belonging::Route route);
/** A numeric path parameter, or ExperienceError 404. */
std::int64_t idParam(const belonging::Request& request, const std::string& name);

} // namespace experience
