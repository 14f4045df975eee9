#pragma once
// Submissions in the anonymous store (DESIGN §5). Nothing here refers to a person, a session,
// an address or a time: a response is a random key, a wave, a questionnaire version and the
// answers; a comment is kept in its own table with no way to join it to a response; spent
// credentials are hashes.
//
// The threshold mix (Chaum 1981): when a submission arrives only its spent-credential hash is
// written, durably, marked as held by this server instance. Its answers wait in memory, in a
// pool per wave, and reach the store only in batches of at least B, written in random order
// with random keys in one transaction (or all together when the wave closes). So every file,
// log and replication stream that records write order sees batches, never one person's
// answers at the moment they sent them. A pool is checked on a random timer against a random
// threshold in [2B, 3B) and keeps a random remainder of at least B, so no single arrival
// decides a batch; the closing instance's last pool joins the close-time rewrite itself.
//
// Crashes: a spent hash still marked as held by an instance whose lease has lapsed means its
// answers died with that instance's memory; the same credential is then accepted once more,
// from the browser (or paper slip) that still holds it. At close the wave's rows are
// rewritten in a random order and the old pages wiped, and the rewrite is verified.

#include <belonging/Host.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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
  Received,      ///< Spent durably; the answers wait in the pool for their batch.
  AlreadySpent,  ///< The token or code was used before, and its answers are stored or pooled here.
  HeldElsewhere, ///< Used before, and its answers are pooled by another running instance (which may yet stop).
  NotOpen,       ///< The wave is not taking submissions (closed while this was in flight).
  UnknownCode,   ///< No such paper code for the wave.
};

/** What a credential's holder may learn about their submission. */
enum class ReceiptStatus {
  Stored,   ///< In the store, in a batch with at least B others (or written at close).
  Pending,  ///< Held in a running instance's pool, waiting for its batch.
  Lost,     ///< Held by an instance that stopped before its batch: send it again.
  Unknown,  ///< Never spent: send it.
};

/** The receipt status as the JSON API spells it. */
inline const char* receiptName(ReceiptStatus status) {
  switch (status) {
  case ReceiptStatus::Stored: return "stored";
  case ReceiptStatus::Pending: return "pending";
  case ReceiptStatus::Lost: return "lost";
  case ReceiptStatus::Unknown: break;
  }
  return "unknown";
}

/** How the mix batches (configured from [plugins.experience]). */
struct MixSettings {
  std::size_t batch = 20;                   ///< B: the fewest submissions written together.
  std::chrono::milliseconds checkEvery{10000}; ///< Mean time between flush checks (randomised ±50%).
  std::chrono::seconds lease{60};           ///< An instance silent this long is taken to be gone.
};

/** A stored response, as read after close. */
struct StoredResponse {
  std::uint32_t sequence = 0; ///< Position in the shuffled order: the ledger's record id.
  std::map<std::string, std::string> answers;
};

/** What closing a wave found. */
struct CloseReport {
  std::int64_t lost = 0; ///< Submissions held by instances that stopped before writing them.
};

class AnonymousStore {
public:
  explicit AnonymousStore(belonging::Database& database);
  ~AnonymousStore();
  AnonymousStore(const AnonymousStore&) = delete;
  AnonymousStore& operator=(const AnonymousStore&) = delete;

  static std::vector<belonging::Migration> migrations();

  /** Sets the mix's parameters; call before the first submission. */
  void configure(const MixSettings& settings);
  const MixSettings& settings() const { return settings_; }

  /** Allows submissions for the wave (the anonymous store's own record of which waves are open). */
  void openWave(std::int64_t waveId);
  /**
   * Stops submissions for the wave, writes every instance's pool for it, then rewrites the
   * store in a random order, numbers the wave's responses in that order, wipes the old pages
   * and checks that no old page or log frame survives (throws if one might).
   */
  CloseReport closeWave(std::int64_t waveId);
  /**
   * Spends the credential durably and puts the answers in the pool. Concurrent calls share
   * one transaction and one sync (group commit), each still all-or-nothing.
   */
  SubmitOutcome submit(Submission submission);
  /** Where the submission paid for by this credential hash is. */
  ReceiptStatus receipt(const std::string& credentialHash);
  /** Writes whatever batches are due now (the mixer's timer calls this; so may tests). */
  void mixNow();
  /** Submissions this instance holds for the wave, not yet written. */
  std::size_t pooled(std::int64_t waveId);

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
  struct Pool {
    std::vector<Submission> held;
    std::size_t threshold = 0; ///< Flush once held reaches this (drawn from [2B, 3B)).
  };
  void startThreads();
  void writerLoop();
  void mixerLoop();
  void renewLease();
  /** Writes a random batch from the wave's pool (everything when `all`); false if it failed. */
  bool flush(std::int64_t waveId, bool all);
  std::vector<std::int64_t> openWaves();
  void rewriteInRandomOrder(std::int64_t closingWave, const std::vector<Submission>& pooledHere);
  std::size_t drawThreshold() const;
  void verifyRewrite(std::int64_t closingWave);

  belonging::Database& database_;
  MixSettings settings_;
  const std::string instanceId_;
  std::mutex mutex_;                ///< Guards queue_, stopping_, the threads.
  std::condition_variable wake_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  std::thread writer_;
  std::thread mixer_;
  std::condition_variable mixerWake_;
  /** Held from a spend transaction's start until its answers are in the pool, and by flushes. */
  std::mutex poolMutex_;
  std::map<std::int64_t, Pool> pools_;
  std::set<std::int64_t> closingHere_; ///< Waves this instance is closing: their pool joins the rewrite.
};

/** Hex SHA-256 of a labelled credential: what the spent set and the code list hold. */
std::string credentialHash(std::string_view label, std::int64_t waveId, std::string_view credential);

} // namespace experience
