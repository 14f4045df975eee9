#pragma once
// Waves and token issuance, in the identified store. An issuance row says only "this user
// was given a token for this wave": never when, never what was signed, so nothing here can be
// matched with what arrives in the anonymous store.

#include <belonging/Host.hpp>

#include <soci/soci.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace experience {

enum class WaveStatus { Draft, Open, Closed };
const char* statusName(WaveStatus status);
WaveStatus parseStatus(const std::string& name);

struct Wave {
  std::int64_t id = 0;
  std::string name;
  std::string opensOn;  ///< YYYY-MM-DD, first day submissions are accepted (UTC).
  std::string closesOn; ///< YYYY-MM-DD, last day submissions are accepted.
  int questionnaireVersion = 1;
  WaveStatus status = WaveStatus::Draft;
  std::string publicKey;           ///< base64url DER SubjectPublicKeyInfo.
  std::string encryptedPrivateKey; ///< base64url, AES-256-GCM under the key-encryption key.

  /** Open, and today (UTC, YYYY-MM-DD) within the dates: when submissions are accepted. */
  bool accepting(const std::string& today) const {
    return status == WaveStatus::Open && opensOn <= today && today <= closesOn;
  }
};

class WaveStore {
public:
  explicit WaveStore(belonging::Database& database) : database_(database) {}
  static std::vector<belonging::Migration> migrations();

  std::vector<Wave> all();
  std::optional<Wave> find(std::int64_t id);
  /**
   * find(), answered from memory for up to a second: token requests and submissions read
   * their wave on every request, and parsing that query costs more than the rest of the
   * lookup. Changes made through this store clear it at once; another instance's change is
   * seen within a second, and the anonymous store still checks that a wave is open inside
   * every submission's own transaction.
   */
  std::shared_ptr<const Wave> findRecent(std::int64_t id);
  std::int64_t create(const Wave& wave);
  void setStatus(std::int64_t id, WaveStatus status);
  /**
   * Issues the user's one token for the wave: runs `sign`, then records the issuance (one
   * statement, so its own transaction), and returns the signature only once it is committed. Returns std::nullopt, and
   * discards any signature made, if the user already had one (two racing requests: one wins).
   * `sign` runs before the write transaction: on SQLite a transaction holds the one write lock,
   * and an RSA signature inside it would queue every other issuance behind it.
   */
  template <typename Sign> std::optional<std::string> issue(std::int64_t waveId, std::int64_t userId, Sign sign);
  bool wasIssued(std::int64_t waveId, std::int64_t userId);
  /** Waves the user was issued a token for (subject-access export). */
  std::vector<std::int64_t> wavesIssuedTo(std::int64_t userId);
  void eraseUser(std::int64_t userId);

private:
  bool recordIssuance(std::int64_t waveId, std::int64_t userId);
  std::vector<Wave> read(const std::string& where, std::optional<std::int64_t> id);
  belonging::Database& database_;
  std::mutex recentMutex_;
  std::map<std::int64_t, std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<const Wave>>> recent_;
};

template <typename Sign>
std::optional<std::string> WaveStore::issue(std::int64_t waveId, std::int64_t userId, Sign sign) {
  // No "already issued?" read first: the wave page checks that, repeats are rate-limited,
  // and the insert below is the check that counts.
  std::string signature = sign();
  if (!recordIssuance(waveId, userId)) return std::nullopt;
  return signature;
}

} // namespace experience
