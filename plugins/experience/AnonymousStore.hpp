#pragma once
// Submissions in the anonymous store (DESIGN §5). Nothing here refers to a person, a session,
// an address or a time: a response is a random key, a wave, a questionnaire version and the
// answers; a comment is kept in its own table with no way to join it to a response; spent
// credentials are hashes. At close the wave's rows are rewritten in a random order and the
// old pages wiped, so neither keys nor the file's layout say in what order people answered.

#include <belonging/Host.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace experience {

/** One set of answers to store, with the credential that pays for it. */
struct Submission {
  std::int64_t waveId = 0;
  int questionnaireVersion = 1;
  std::string credentialHash;            ///< Hash of the token, or of the paper code.
  std::optional<std::string> paperCode;  ///< The code's hash, which must be one issued for the wave.
  std::string answers;                   ///< JSON object of question id -> value.
  std::string comment;                   ///< Empty for none.
};

enum class SubmitOutcome {
  Recorded,
  AlreadySpent,  ///< The token or code was used before.
  NotOpen,       ///< The wave is not taking submissions (closed while this was in flight).
  UnknownCode,   ///< No such paper code for the wave.
};

/** A stored response, as read after close. */
struct StoredResponse {
  std::uint32_t sequence = 0; ///< Position in the shuffled order: the ledger's record id.
  std::map<std::string, std::string> answers;
};

class AnonymousStore {
public:
  explicit AnonymousStore(belonging::Database& database);
  ~AnonymousStore();
  AnonymousStore(const AnonymousStore&) = delete;
  AnonymousStore& operator=(const AnonymousStore&) = delete;

  static std::vector<belonging::Migration> migrations();

  /** Allows submissions for the wave (the anonymous store's own record of which waves are open). */
  void openWave(std::int64_t waveId);
  /**
   * Stops submissions for the wave, waiting for any in flight, then rewrites the store in a
   * random order, numbers the wave's responses in that order and wipes the old pages.
   */
  void closeWave(std::int64_t waveId);
  /**
   * Stores a submission durably. Concurrent calls are committed together (group commit): one
   * transaction and one sync for many submissions, each still all-or-nothing.
   */
  SubmitOutcome submit(Submission submission);

  /** Stores hashes of new paper codes for the wave. */
  void addCodes(std::int64_t waveId, const std::vector<std::string>& codeHashes);
  /** The wave a paper code belongs to, if it is one. */
  std::optional<std::int64_t> waveOfCode(const std::string& codeHash);

  std::int64_t responseCount(std::int64_t waveId);
  /** The wave's responses in their shuffled order (after close). */
  std::vector<StoredResponse> responses(std::int64_t waveId);
  /** The wave's comments, in random order. */
  std::vector<std::string> comments(std::int64_t waveId);

private:
  struct Pending {
    Submission submission;
    std::promise<SubmitOutcome> outcome;
  };
  void writerLoop();
  void rewriteInRandomOrder(std::int64_t closingWave);

  belonging::Database& database_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  std::thread writer_;
};

/** Hex SHA-256 of a labelled credential: what the spent set and the code list hold. */
std::string credentialHash(std::string_view label, std::int64_t waveId, std::string_view credential);

} // namespace experience
