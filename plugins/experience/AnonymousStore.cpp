#include "AnonymousStore.hpp"

#include <belonging/WriteTransaction.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <soci/soci.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <tuple>

namespace experience {
namespace {

using belonging::Dialect;
using belonging::WriteTransaction;

constexpr std::size_t kMaxBatch = 512;

/** A uniform random bit generator drawing on OpenSSL's CSPRNG, for std::shuffle. */
struct SecureRandom {
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() {
    result_type value = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof(value)) != 1) {
      throw std::runtime_error("the system random number generator failed");
    }
    return value;
  }
};

/** A random positive 63-bit key: no autoincrement, so a key says nothing about arrival. */
std::int64_t randomKey() {
  SecureRandom random;
  return static_cast<std::int64_t>(random() >> 1) | 1;
}

long long affected(soci::statement& statement) {
  statement.execute(true);
  return statement.get_affected_rows();
}

/** A uniform integer in [low, high] from the CSPRNG. */
std::size_t uniform(std::size_t low, std::size_t high) {
  SecureRandom random;
  return std::uniform_int_distribution<std::size_t>(low, high)(random);
}

std::int64_t epochSeconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

/**
 * The writer's statements, prepared once per transaction and run for every submission in
 * it: parsing them afresh for each submission cost more than executing them. They spend the
 * credential and mark it held by this instance; the answers are not written here at all.
 */
class SpendStatements {
public:
  SpendStatements(soci::session& sql, Dialect dialect, const std::string& instance)
      : instance_(instance), now_(epochSeconds()),
        knownCode_((sql.prepare << "SELECT COUNT(*) FROM experience_codes WHERE code_hash = :c AND wave_id = :w",
                    soci::use(code_), soci::use(waveId_), soci::into(known_))),
        // On PostgreSQL the share lock makes closeWave wait for this transaction, so nothing
        // is spent for a wave after its pools have been written and shuffled.
        isOpen_((sql.prepare << (dialect == Dialect::Postgresql
                                     ? "SELECT wave_id FROM experience_open_waves WHERE wave_id = :w FOR SHARE"
                                     : "SELECT wave_id FROM experience_open_waves WHERE wave_id = :w"),
                 soci::use(waveId_), soci::into(open_))),
        spend_((sql.prepare << "INSERT INTO experience_spent (credential_hash, wave_id, pooled_by) VALUES (:h, :w, :i) "
                               "ON CONFLICT (credential_hash) DO NOTHING",
                soci::use(hash_), soci::use(waveId_), soci::use(instance_))),
        holderQuery_((sql.prepare << "SELECT pooled_by FROM experience_spent WHERE credential_hash = :h",
                 soci::use(hash_), soci::into(holder_, holderIndicator_))),
        lease_((sql.prepare << "SELECT lease_until FROM experience_instances WHERE instance_id = :i",
                soci::use(holder_), soci::into(leaseUntil_))),
        takeOver_((sql.prepare << "UPDATE experience_spent SET pooled_by = :me WHERE credential_hash = :h AND pooled_by = :old",
                   soci::use(instance_), soci::use(hash_), soci::use(holder_))) {}

  SubmitOutcome spend(const Submission& submission) {
    waveId_ = submission.waveId;
    if (submission.paperCode) {
      code_ = *submission.paperCode;
      knownCode_.execute(true);
      if (known_ == 0) return SubmitOutcome::UnknownCode;
    }
    if (!isOpen_.execute(true)) return SubmitOutcome::NotOpen;
    hash_ = submission.credentialHash;
    if (affected(spend_) == 1) return SubmitOutcome::Received;
    // Spent before. If its answers were held by an instance that has since stopped, they were
    // lost with it: accept them once more, taking the hold over (at most one taker wins).
    holderQuery_.execute(true);
    if (holderIndicator_ != soci::i_ok || holder_ == instance_) return SubmitOutcome::AlreadySpent;
    if (lease_.execute(true) && leaseUntil_ >= now_) return SubmitOutcome::HeldElsewhere;
    return affected(takeOver_) == 1 ? SubmitOutcome::Received : SubmitOutcome::HeldElsewhere;
  }

private:
  // Bound by reference into the statements below, so declared before them.
  std::string instance_, code_, hash_, holder_;
  soci::indicator holderIndicator_ = soci::i_null;
  std::int64_t now_, waveId_ = 0, open_ = 0, leaseUntil_ = 0;
  int known_ = 0;
  soci::statement knownCode_, isOpen_, spend_, holderQuery_, lease_, takeOver_;
};

} // namespace

std::string credentialHash(std::string_view label, std::int64_t waveId, std::string_view credential) {
  const std::string input = std::string(label) + ":" + std::to_string(waveId) + ":" + std::string(credential);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::vector<belonging::Migration> AnonymousStore::migrations() {
  // SQLite: an INTEGER PRIMARY KEY is the rowid, so the random key is also the physical
  // order; a separate key column would leave an autoincrementing rowid recording arrival.
  // Tables keyed by a hash have no rowid at all. PostgreSQL has neither rule, so only the
  // key type and WITHOUT ROWID differ by dialect.
  auto schema = [](const std::string& key, const std::string& hashed) {
    return "CREATE TABLE experience_open_waves (wave_id " + key + " PRIMARY KEY);\n"
           "CREATE TABLE experience_responses (\n"
           "  response_key " + key + " PRIMARY KEY,\n"
           "  wave_id BIGINT NOT NULL,\n"
           "  questionnaire_version INTEGER NOT NULL,\n"
           "  sequence INTEGER,\n"
           "  answers TEXT NOT NULL\n"
           ");\n"
           "CREATE TABLE experience_comments (\n"
           "  comment_key " + key + " PRIMARY KEY,\n"
           "  wave_id BIGINT NOT NULL,\n"
           "  body TEXT NOT NULL\n"
           ");\n"
           "CREATE TABLE experience_spent (credential_hash TEXT PRIMARY KEY, wave_id BIGINT NOT NULL)" + hashed + ";\n"
           "CREATE TABLE experience_codes (code_hash TEXT PRIMARY KEY, wave_id BIGINT NOT NULL)" + hashed + ";\n";
  };
  // The mix: a spent credential names the instance whose pool holds its answers until their
  // batch is written (NULL once written), and each instance keeps a lease while it runs.
  auto mix = [](const std::string& hashed) {
    return "ALTER TABLE experience_spent ADD COLUMN pooled_by TEXT;\n"
           "CREATE TABLE experience_instances (instance_id TEXT PRIMARY KEY, lease_until BIGINT NOT NULL)" + hashed + ";\n";
  };
  return {{"0001_anonymous_store", schema("INTEGER", " WITHOUT ROWID"), schema("BIGINT", "")},
          {"0002_threshold_mix", mix(" WITHOUT ROWID"), mix("")}};
}

namespace {

/** A random name for this process's pool: it says nothing but "this run of this server". */
std::string newInstanceId() {
  SecureRandom random;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 2; ++i) {
    auto value = random();
    for (int j = 0; j < 16; ++j, value >>= 4) id += kHex[value & 15];
  }
  return id;
}

} // namespace

AnonymousStore::AnonymousStore(belonging::Database& database) : database_(database), instanceId_(newInstanceId()) {}

AnonymousStore::~AnonymousStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  mixerWake_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (mixer_.joinable()) mixer_.join();
  // Give up the lease at once, so the browsers of anyone whose answers were still pooled here
  // can send them again to another instance (or this one, restarted) without waiting for it.
  if (!pools_.empty()) {
    try {
      soci::session sql(database_.pool());
      sql << "DELETE FROM experience_instances WHERE instance_id = :i", soci::use(instanceId_);
    } catch (const std::exception&) {
      // The lease lapses by itself.
    }
  }
}

void AnonymousStore::configure(const MixSettings& settings) {
  std::lock_guard lock(mutex_);
  settings_ = settings;
  settings_.batch = std::max<std::size_t>(settings_.batch, 1);
}

void AnonymousStore::openWave(std::int64_t waveId) {
  soci::session sql(database_.pool());
  sql << "INSERT INTO experience_open_waves (wave_id) VALUES (:w) ON CONFLICT (wave_id) DO NOTHING", soci::use(waveId);
}

void AnonymousStore::startThreads() {
  // Called with mutex_ held. The lease exists before the first credential names this instance.
  if (writer_.joinable()) return;
  renewLease();
  writer_ = std::thread([this] { writerLoop(); });
  mixer_ = std::thread([this] { mixerLoop(); });
}

void AnonymousStore::renewLease() {
  soci::session sql(database_.pool());
  const std::int64_t until = epochSeconds() + settings_.lease.count();
  soci::statement update = (sql.prepare << "UPDATE experience_instances SET lease_until = :t WHERE instance_id = :i",
                            soci::use(until), soci::use(instanceId_));
  if (affected(update) == 0) {
    sql << "INSERT INTO experience_instances (instance_id, lease_until) VALUES (:i, :t)", soci::use(instanceId_),
        soci::use(until);
  }
}

SubmitOutcome AnonymousStore::submit(Submission submission) {
  Pending pending{std::move(submission), {}};
  auto outcome = pending.outcome.get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw std::runtime_error("the anonymous store is shutting down");
    startThreads();
    queue_.push_back(&pending);
  }
  wake_.notify_one();
  return outcome.get();
}

void AnonymousStore::writerLoop() {
  const Dialect dialect = database_.dialect();
  for (;;) {
    std::vector<Pending*> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return; // Stopping with nothing left.
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    // Everything that queued while the last batch synced goes in one transaction: one sync
    // for all of them. The pool lock is held from before the transaction until the answers
    // are pooled, so a closing wave's final flush cannot miss a credential already spent.
    std::vector<SubmitOutcome> outcomes(batch.size());
    bool committed = false;
    {
      std::lock_guard poolLock(poolMutex_);
      try {
        soci::session sql(database_.pool());
        WriteTransaction transaction(sql, dialect);
        SpendStatements statements(sql, dialect, instanceId_);
        for (std::size_t i = 0; i < batch.size(); ++i) outcomes[i] = statements.spend(batch[i]->submission);
        transaction.commit();
        committed = true;
      } catch (const std::exception&) {
        // Rolled back: each submission is tried alone below, and reports its own error.
      }
      if (committed) {
        for (std::size_t i = 0; i < batch.size(); ++i) {
          if (outcomes[i] == SubmitOutcome::Received) pools_[batch[i]->submission.waveId].held.push_back(batch[i]->submission);
        }
      }
    }
    if (committed) {
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->outcome.set_value(outcomes[i]);
      continue;
    }
    // One bad submission must not sink the others: retry each in its own transaction.
    for (Pending* pending : batch) {
      try {
        std::lock_guard poolLock(poolMutex_);
        soci::session sql(database_.pool());
        WriteTransaction transaction(sql, dialect);
        const SubmitOutcome outcome = SpendStatements(sql, dialect, instanceId_).spend(pending->submission);
        transaction.commit();
        if (outcome == SubmitOutcome::Received) pools_[pending->submission.waveId].held.push_back(pending->submission);
        pending->outcome.set_value(outcome);
      } catch (...) {
        pending->outcome.set_exception(std::current_exception());
      }
    }
  }
}

void AnonymousStore::mixerLoop() {
  auto lastLease = std::chrono::steady_clock::now();
  for (;;) {
    // A random wait, so the moment a batch is written is not set by any one arrival.
    const auto mean = settings_.checkEvery.count();
    const auto wait = std::min(std::chrono::milliseconds(static_cast<std::int64_t>(uniform(
                                   static_cast<std::size_t>(mean / 2), static_cast<std::size_t>(mean + mean / 2)))),
                               std::chrono::duration_cast<std::chrono::milliseconds>(settings_.lease) / 4);
    {
      std::unique_lock lock(mutex_);
      if (mixerWake_.wait_for(lock, wait, [this] { return stopping_; })) return;
    }
    try {
      if (std::chrono::steady_clock::now() - lastLease >= settings_.lease / 4) {
        renewLease();
        lastLease = std::chrono::steady_clock::now();
      }
      mixNow();
    } catch (const std::exception&) {
      // The store is unreachable: the pool keeps its answers and the next round tries again.
    }
  }
}

std::vector<std::int64_t> AnonymousStore::openWaves() {
  soci::session sql(database_.pool());
  std::vector<std::int64_t> waves;
  std::int64_t wave = 0;
  soci::statement select = (sql.prepare << "SELECT wave_id FROM experience_open_waves", soci::into(wave));
  select.execute();
  while (select.fetch()) waves.push_back(wave);
  return waves;
}

std::size_t AnonymousStore::drawThreshold() const {
  // From [2B, 3B): a batch is due only when at least B can go and at least B stay.
  return 2 * settings_.batch + uniform(0, settings_.batch - 1);
}

void AnonymousStore::mixNow() {
  std::lock_guard poolLock(poolMutex_);
  if (pools_.empty()) return;
  const auto open = openWaves();
  std::vector<std::int64_t> waves;
  for (const auto& [wave, pool] : pools_) waves.push_back(wave);
  for (const auto wave : waves) {
    if (closingHere_.contains(wave)) continue; // closeWave writes it inside the rewrite.
    Pool& pool = pools_[wave];
    const bool closed = std::find(open.begin(), open.end(), wave) == open.end();
    // Another instance closed the wave: everything it holds goes now, whatever the count.
    if (closed) {
      flush(wave, true);
      continue;
    }
    if (pool.threshold == 0) pool.threshold = drawThreshold();
    if (pool.held.size() >= pool.threshold) flush(wave, false);
  }
}

bool AnonymousStore::flush(std::int64_t waveId, bool all) {
  // Called with poolMutex_ held.
  auto found = pools_.find(waveId);
  if (found == pools_.end()) return true;
  Pool& pool = found->second;
  SecureRandom random;
  std::shuffle(pool.held.begin(), pool.held.end(), random);
  const std::size_t held = pool.held.size();
  // Leave a random remainder of at least B behind (and write at least B): someone who floods the
  // pool around one colleague cannot be sure that colleague is in the batch they see, and the
  // last batch, written when the wave closes, is never a handful that stands out.
  const std::size_t batch = settings_.batch;
  const std::size_t take = all || held < 2 * batch ? held : held - uniform(batch, held - batch);
  const Dialect dialect = database_.dialect();
  try {
    soci::session sql(database_.pool());
    WriteTransaction transaction(sql, dialect);
    // First release every hold, in hash order (which says nothing about arrival); a hold that
    // another instance took over while this one's lease had lapsed is theirs to write.
    std::vector<std::size_t> byHash(take);
    std::iota(byHash.begin(), byHash.end(), std::size_t{0});
    std::sort(byHash.begin(), byHash.end(), [&](std::size_t a, std::size_t b) {
      return pool.held[a].credentialHash < pool.held[b].credentialHash;
    });
    std::vector<bool> keep(take, false);
    {
      std::string hash;
      soci::statement release = (sql.prepare << "UPDATE experience_spent SET pooled_by = NULL "
                                                "WHERE credential_hash = :h AND pooled_by = :i",
                                 soci::use(hash), soci::use(instanceId_));
      for (const auto index : byHash) {
        hash = pool.held[index].credentialHash;
        keep[index] = affected(release) == 1;
      }
    }
    // Then the answers, in the pool's shuffled order with fresh random keys, and the comments
    // in an order of their own, so neither table's order pairs with the other.
    std::int64_t key = 0, wave = waveId;
    int version = 1;
    std::string text;
    {
      soci::statement insert = (sql.prepare << "INSERT INTO experience_responses (response_key, wave_id, "
                                               "questionnaire_version, answers) VALUES (:k, :w, :v, :a)",
                                soci::use(key), soci::use(wave), soci::use(version), soci::use(text));
      for (std::size_t i = 0; i < take; ++i) {
        if (!keep[i]) continue;
        key = randomKey();
        version = pool.held[i].questionnaireVersion;
        text = pool.held[i].answers;
        insert.execute(true);
      }
    }
    std::vector<std::string> comments;
    for (std::size_t i = 0; i < take; ++i) {
      if (keep[i] && !pool.held[i].comment.empty()) comments.push_back(pool.held[i].comment);
    }
    std::shuffle(comments.begin(), comments.end(), random);
    {
      soci::statement insert = (sql.prepare << "INSERT INTO experience_comments (comment_key, wave_id, body) "
                                               "VALUES (:k, :w, :b)",
                                soci::use(key), soci::use(wave), soci::use(text));
      for (auto& comment : comments) {
        key = randomKey();
        text = std::move(comment);
        insert.execute(true);
      }
    }
    transaction.commit();
  } catch (const std::exception&) {
    return false; // Still pooled: the next round tries again.
  }
  pool.held.erase(pool.held.begin(), pool.held.begin() + static_cast<std::ptrdiff_t>(take));
  pool.threshold = drawThreshold();
  if (pool.held.empty()) pools_.erase(found);
  return true;
}

std::size_t AnonymousStore::pooled(std::int64_t waveId) {
  std::lock_guard poolLock(poolMutex_);
  const auto found = pools_.find(waveId);
  return found == pools_.end() ? 0 : found->second.held.size();
}

ReceiptStatus AnonymousStore::receipt(const std::string& hash) {
  soci::session sql(database_.pool());
  std::string holder;
  soci::indicator holderIndicator = soci::i_null;
  sql << "SELECT pooled_by FROM experience_spent WHERE credential_hash = :h", soci::use(hash),
      soci::into(holder, holderIndicator);
  if (!sql.got_data()) return ReceiptStatus::Unknown;
  if (holderIndicator != soci::i_ok) return ReceiptStatus::Stored;
  if (holder == instanceId_) return ReceiptStatus::Pending;
  std::int64_t leaseUntil = 0;
  sql << "SELECT lease_until FROM experience_instances WHERE instance_id = :i", soci::use(holder), soci::into(leaseUntil);
  return sql.got_data() && leaseUntil >= epochSeconds() ? ReceiptStatus::Pending : ReceiptStatus::Lost;
}

void AnonymousStore::addCodes(std::int64_t waveId, const std::vector<std::string>& codeHashes) {
  soci::session sql(database_.pool());
  WriteTransaction transaction(sql, database_.dialect());
  for (const auto& hash : codeHashes) {
    sql << "INSERT INTO experience_codes (code_hash, wave_id) VALUES (:h, :w)", soci::use(hash), soci::use(waveId);
  }
  transaction.commit();
}

std::optional<std::int64_t> AnonymousStore::waveOfCode(const std::string& codeHash) {
  soci::session sql(database_.pool());
  std::int64_t waveId = 0;
  sql << "SELECT wave_id FROM experience_codes WHERE code_hash = :h", soci::use(codeHash), soci::into(waveId);
  if (!sql.got_data()) return std::nullopt;
  return waveId;
}

CloseReport AnonymousStore::closeWave(std::int64_t waveId) {
  {
    // This instance's own pool for the wave is written inside the rewrite, not as a batch of
    // its own: the mixer must leave it alone from here on.
    std::lock_guard poolLock(poolMutex_);
    closingHere_.insert(waveId);
  }
  struct Done {
    AnonymousStore& store;
    std::int64_t wave;
    ~Done() {
      std::lock_guard poolLock(store.poolMutex_);
      store.closingHere_.erase(wave);
    }
  } done{*this, waveId};
  {
    soci::session sql(database_.pool());
    WriteTransaction transaction(sql, database_.dialect());
    sql << "DELETE FROM experience_open_waves WHERE wave_id = :w", soci::use(waveId);
    transaction.commit();
  }
  // From here no instance spends a credential for the wave (a spend committed before the
  // delete is already pooled: the writer holds the pool lock until it is). Other running
  // instances see the wave closed at their next check and write all they hold for it.
  const auto deadline = std::chrono::steady_clock::now() + 3 * settings_.checkEvery + std::chrono::seconds(5);
  CloseReport report;
  {
    soci::session sql(database_.pool());
    for (;;) {
      std::int64_t held = 0;
      const std::int64_t now = epochSeconds();
      sql << "SELECT COUNT(*) FROM experience_spent s JOIN experience_instances i ON i.instance_id = s.pooled_by "
             "WHERE s.wave_id = :w AND i.lease_until >= :t AND s.pooled_by <> :me",
          soci::use(waveId), soci::use(now), soci::use(instanceId_), soci::into(held);
      if (held == 0 || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    sql << "SELECT COUNT(*) FROM experience_spent WHERE wave_id = :w AND pooled_by IS NOT NULL AND pooled_by <> :me",
        soci::use(waveId), soci::use(instanceId_), soci::into(report.lost);
  }
  std::lock_guard poolLock(poolMutex_);
  std::vector<Submission> pooledHere;
  if (const auto found = pools_.find(waveId); found != pools_.end()) pooledHere = found->second.held;
  rewriteInRandomOrder(waveId, pooledHere);
  pools_.erase(waveId); // Only once the rewrite holding them has committed.
  return report;
}

void AnonymousStore::rewriteInRandomOrder(std::int64_t closingWave, const std::vector<Submission>& pooledHere) {
  const Dialect dialect = database_.dialect();
  soci::session sql(database_.pool());
  SecureRandom random;
  {
    WriteTransaction transaction(sql, dialect);
    if (dialect == Dialect::Postgresql) {
      sql << "LOCK TABLE experience_responses, experience_comments, experience_spent, experience_codes "
             "IN ACCESS EXCLUSIVE MODE";
    }
    // This instance's last pool joins the stored rows here, so it never appears as a group of
    // its own, neither to someone watching the tables nor in the log of this transaction.
    std::vector<const Submission*> joining;
    {
      std::string hash;
      soci::statement release = (sql.prepare << "UPDATE experience_spent SET pooled_by = NULL "
                                                "WHERE credential_hash = :h AND pooled_by = :i",
                                 soci::use(hash), soci::use(instanceId_));
      std::vector<const Submission*> byHash;
      for (const auto& submission : pooledHere) byHash.push_back(&submission);
      std::sort(byHash.begin(), byHash.end(), [](const Submission* a, const Submission* b) {
        return a->credentialHash < b->credentialHash;
      });
      for (const Submission* submission : byHash) {
        hash = submission->credentialHash;
        if (affected(release) == 1) joining.push_back(submission);
      }
    }
    // Responses: every wave's rows get new random keys; the closing wave's get their
    // sequence numbers (the release ledger's record ids) in the shuffled order.
    struct Row {
      std::int64_t waveId;
      int version;
      std::int64_t sequence; // 0 for none.
      std::string answers;
    };
    std::vector<Row> rows;
    {
      Row row{};
      std::int64_t sequence = 0;
      soci::indicator sequenceIndicator = soci::i_null;
      soci::statement select = (sql.prepare << "SELECT wave_id, questionnaire_version, sequence, answers "
                                               "FROM experience_responses",
                                soci::into(row.waveId), soci::into(row.version), soci::into(sequence, sequenceIndicator),
                                soci::into(row.answers));
      select.execute();
      while (select.fetch()) {
        row.sequence = sequenceIndicator == soci::i_ok ? sequence : 0;
        rows.push_back(row);
      }
    }
    for (const Submission* submission : joining) rows.push_back({submission->waveId, submission->questionnaireVersion, 0, submission->answers});
    std::shuffle(rows.begin(), rows.end(), random);
    std::int64_t next = 0;
    for (auto& row : rows) {
      if (row.waveId == closingWave) row.sequence = ++next;
    }
    struct Comment {
      std::int64_t waveId;
      std::string body;
    };
    std::vector<Comment> comments;
    {
      Comment comment{};
      soci::statement select =
          (sql.prepare << "SELECT wave_id, body FROM experience_comments", soci::into(comment.waveId), soci::into(comment.body));
      select.execute();
      while (select.fetch()) comments.push_back(comment);
    }
    for (const Submission* submission : joining) {
      if (!submission->comment.empty()) comments.push_back({submission->waveId, submission->comment});
    }
    std::shuffle(comments.begin(), comments.end(), random);
    struct Spent {
      std::string hash;
      std::int64_t waveId = 0;
      std::string holder;
      soci::indicator holderIndicator = soci::i_null;
    };
    std::vector<Spent> spent;
    {
      Spent row;
      soci::statement select = (sql.prepare << "SELECT credential_hash, wave_id, pooled_by FROM experience_spent",
                                soci::into(row.hash), soci::into(row.waveId), soci::into(row.holder, row.holderIndicator));
      select.execute();
      while (select.fetch()) spent.push_back(row);
    }
    std::shuffle(spent.begin(), spent.end(), random);
    std::vector<std::pair<std::string, std::int64_t>> codes;
    {
      std::pair<std::string, std::int64_t> pair;
      soci::statement select = (sql.prepare << "SELECT code_hash, wave_id FROM experience_codes", soci::into(pair.first),
                                soci::into(pair.second));
      select.execute();
      while (select.fetch()) codes.push_back(pair);
    }
    std::shuffle(codes.begin(), codes.end(), random);

    // PostgreSQL keeps deleted rows in place until vacuumed and appends new ones, so the old
    // order would survive a DELETE and INSERT: build fresh tables and drop the old ones.
    // SQLite overwrites deleted content (secure_delete) and VACUUM below rebuilds the file.
    const bool fresh = dialect == Dialect::Postgresql;
    auto target = [&](const std::string& table) {
      if (!fresh) {
        sql << "DELETE FROM " + table;
        return table;
      }
      sql << "CREATE TABLE " + table + "_shuffled (LIKE " + table + " INCLUDING ALL)";
      return table + "_shuffled";
    };
    auto swap = [&](const std::string& table) {
      if (!fresh) return;
      sql << "DROP TABLE " + table;
      sql << "ALTER TABLE " + table + "_shuffled RENAME TO " + table;
    };
    {
      const std::string table = target("experience_responses");
      for (const auto& row : rows) {
        const std::int64_t key = randomKey();
        soci::indicator sequenceIndicator = row.sequence == 0 ? soci::i_null : soci::i_ok;
        std::int64_t sequence = row.sequence;
        sql << "INSERT INTO " + table + " (response_key, wave_id, questionnaire_version, sequence, answers) "
                                        "VALUES (:k, :w, :v, :s, :a)",
            soci::use(key), soci::use(row.waveId), soci::use(row.version), soci::use(sequence, sequenceIndicator),
            soci::use(row.answers);
      }
      swap("experience_responses");
    }
    {
      const std::string table = target("experience_comments");
      for (const auto& comment : comments) {
        const std::int64_t key = randomKey();
        sql << "INSERT INTO " + table + " (comment_key, wave_id, body) VALUES (:k, :w, :b)", soci::use(key),
            soci::use(comment.waveId), soci::use(comment.body);
      }
      swap("experience_comments");
    }
    {
      const std::string table = target("experience_spent");
      for (auto& row : spent) {
        sql << "INSERT INTO " + table + " (credential_hash, wave_id, pooled_by) VALUES (:h, :w, :i)", soci::use(row.hash),
            soci::use(row.waveId), soci::use(row.holder, row.holderIndicator);
      }
      swap("experience_spent");
    }
    {
      const std::string table = target("experience_codes");
      for (const auto& [hash, wave] : codes) {
        sql << "INSERT INTO " + table + " (code_hash, wave_id) VALUES (:h, :w)", soci::use(hash), soci::use(wave);
      }
      swap("experience_codes");
    }
    transaction.commit();
  }
  if (dialect == Dialect::Sqlite) verifyRewrite(closingWave);
}

void AnonymousStore::verifyRewrite(std::int64_t closingWave) {
  // Rebuild the file so no page keeps the old layout, then empty the write-ahead log, whose
  // frames would otherwise hold rows in the order they were written. Another process reading
  // the store (a backup, a sqlite3 shell) can make either step fail or, for the checkpoint,
  // quietly do less: so check the outcome, retry, and fail loudly rather than say "shuffled".
  soci::session sql(database_.pool());
  std::string file;
  {
    int sequence = 0;
    std::string name;
    sql << "SELECT seq, name, file FROM pragma_database_list WHERE name = 'main'", soci::into(sequence), soci::into(name),
        soci::into(file);
  }
  std::string problem;
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    try {
      sql << "VACUUM";
      int busy = 0, frames = 0, copied = 0;
      sql << "PRAGMA wal_checkpoint(TRUNCATE)", soci::into(busy), soci::into(frames), soci::into(copied);
      std::error_code error;
      const auto walSize = file.empty() ? 0 : std::filesystem::file_size(file + "-wal", error);
      if (busy == 0 && frames == 0 && (error || walSize == 0)) return;
      problem = "another connection holds the store open, so its write-ahead log (" + file +
                "-wal) still holds " + std::to_string(frames) + " frames in write order";
    } catch (const std::exception& failure) {
      problem = failure.what();
    }
  }
  throw std::runtime_error("the wave's answers were shuffled, but the old order could survive on disk: " + problem +
                           ". Stop whatever else has the anonymous store open, then run `belonging experience close --wave " + std::to_string(closingWave) + " --again`.");
}

std::int64_t AnonymousStore::responseCount(std::int64_t waveId) {
  soci::session sql(database_.pool());
  std::int64_t count = 0;
  sql << "SELECT COUNT(*) FROM experience_responses WHERE wave_id = :w", soci::use(waveId), soci::into(count);
  return count;
}

std::vector<StoredResponse> AnonymousStore::responses(std::int64_t waveId) {
  soci::session sql(database_.pool());
  std::int64_t sequence = 0;
  soci::indicator sequenceIndicator = soci::i_null;
  std::string answers;
  soci::statement select = (sql.prepare << "SELECT sequence, answers FROM experience_responses WHERE wave_id = :w "
                                           "ORDER BY sequence",
                            soci::use(waveId), soci::into(sequence, sequenceIndicator), soci::into(answers));
  select.execute();
  std::vector<StoredResponse> responses;
  while (select.fetch()) {
    StoredResponse response;
    response.sequence = sequenceIndicator == soci::i_ok ? static_cast<std::uint32_t>(sequence) : 0;
    const auto parsed = nlohmann::json::parse(answers); // Named: items() of a temporary would dangle.
    for (const auto& [question, value] : parsed.items()) {
      response.answers[question] = value.get<std::string>();
    }
    responses.push_back(std::move(response));
  }
  return responses;
}

std::vector<std::string> AnonymousStore::comments(std::int64_t waveId) {
  soci::session sql(database_.pool());
  std::string body;
  soci::statement select = (sql.prepare << "SELECT body FROM experience_comments WHERE wave_id = :w ORDER BY comment_key",
                            soci::use(waveId), soci::into(body));
  select.execute();
  std::vector<std::string> comments;
  while (select.fetch()) comments.push_back(body);
  return comments;
}

} // namespace experience
