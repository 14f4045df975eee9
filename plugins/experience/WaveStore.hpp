#pragma once
// Waves and token issuance, in the identified store. An issuance row says only "this user
// was given a token for this wave": never when, never what was signed, so nothing here can be
// matched with what arrives in the anonymous store.

#include <belonging/Host.hpp>

#include <soci/soci.h>

#include <cstdint>
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
  std::int64_t create(const Wave& wave);
  void setStatus(std::int64_t id, WaveStatus status);
  /**
   * Records that the user is being issued a token for the wave, and runs `sign` in the same
   * transaction: the signature is released only once the record is committed, and a failed
   * signature leaves no record. Returns std::nullopt if the user already had one.
   */
  template <typename Sign> std::optional<std::string> issue(std::int64_t waveId, std::int64_t userId, Sign sign);
  bool wasIssued(std::int64_t waveId, std::int64_t userId);
  /** Waves the user was issued a token for (subject-access export). */
  std::vector<std::int64_t> wavesIssuedTo(std::int64_t userId);
  void eraseUser(std::int64_t userId);

private:
  bool recordIssuance(soci::session& sql, std::int64_t waveId, std::int64_t userId);
  std::vector<Wave> read(const std::string& where, std::optional<std::int64_t> id);
  belonging::Database& database_;
};

template <typename Sign>
std::optional<std::string> WaveStore::issue(std::int64_t waveId, std::int64_t userId, Sign sign) {
  soci::session sql(database_.pool());
  soci::transaction transaction(sql);
  if (!recordIssuance(sql, waveId, userId)) return std::nullopt;
  std::string signature = sign();
  transaction.commit();
  return signature;
}

} // namespace experience
