#include "AnonymousStore.hpp"

#include <belonging/WriteTransaction.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <soci/soci.h>

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>

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

/**
 * The writer's statements, prepared once per transaction and run for every submission in
 * it: parsing them afresh for each submission cost more than executing them.
 */
class StoreStatements {
public:
  StoreStatements(soci::session& sql, Dialect dialect)
      : knownCode_((sql.prepare << "SELECT COUNT(*) FROM experience_codes WHERE code_hash = :c AND wave_id = :w",
                    soci::use(code_), soci::use(waveId_), soci::into(known_))),
        spend_((sql.prepare << "INSERT INTO experience_spent (credential_hash, wave_id) VALUES (:h, :w) "
                               "ON CONFLICT (credential_hash) DO NOTHING",
                soci::use(hash_), soci::use(waveId_))),
        // On PostgreSQL the share lock makes closeWave wait for this transaction, so nothing
        // lands after the wave's rows have been shuffled.
        isOpen_((sql.prepare << (dialect == Dialect::Postgresql
                                     ? "SELECT wave_id FROM experience_open_waves WHERE wave_id = :w FOR SHARE"
                                     : "SELECT wave_id FROM experience_open_waves WHERE wave_id = :w"),
                 soci::use(waveId_), soci::into(open_))),
        unspend_((sql.prepare << "DELETE FROM experience_spent WHERE credential_hash = :h", soci::use(hash_))),
        response_((sql.prepare << "INSERT INTO experience_responses (response_key, wave_id, questionnaire_version, "
                                  "answers) VALUES (:k, :w, :v, :a)",
                   soci::use(key_), soci::use(waveId_), soci::use(version_), soci::use(text_))),
        comment_((sql.prepare << "INSERT INTO experience_comments (comment_key, wave_id, body) VALUES (:k, :w, :b)",
                  soci::use(key_), soci::use(waveId_), soci::use(text_))) {}

  SubmitOutcome store(const Submission& submission) {
    waveId_ = submission.waveId;
    if (submission.paperCode) {
      code_ = *submission.paperCode;
      knownCode_.execute(true);
      if (known_ == 0) return SubmitOutcome::UnknownCode;
    }
    hash_ = submission.credentialHash;
    if (affected(spend_) == 0) return SubmitOutcome::AlreadySpent;
    if (!isOpen_.execute(true)) {
      unspend_.execute(true);
      return SubmitOutcome::NotOpen;
    }
    key_ = randomKey();
    version_ = submission.questionnaireVersion;
    text_ = submission.answers;
    response_.execute(true);
    if (!submission.comment.empty()) {
      key_ = randomKey();
      text_ = submission.comment;
      comment_.execute(true);
    }
    return SubmitOutcome::Recorded;
  }

private:
  // Bound by reference into the statements below, so declared before them.
  std::string code_, hash_, text_;
  std::int64_t waveId_ = 0, key_ = 0, open_ = 0;
  int version_ = 1, known_ = 0;
  soci::statement knownCode_, spend_, isOpen_, unspend_, response_, comment_;
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
  return {{"0001_anonymous_store", schema("INTEGER", " WITHOUT ROWID"), schema("BIGINT", "")}};
}

AnonymousStore::AnonymousStore(belonging::Database& database) : database_(database) {}

AnonymousStore::~AnonymousStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void AnonymousStore::openWave(std::int64_t waveId) {
  soci::session sql(database_.pool());
  sql << "INSERT INTO experience_open_waves (wave_id) VALUES (:w) ON CONFLICT (wave_id) DO NOTHING", soci::use(waveId);
}

SubmitOutcome AnonymousStore::submit(Submission submission) {
  Pending pending{std::move(submission), {}};
  auto outcome = pending.outcome.get_future();
  {
    std::lock_guard lock(mutex_);
    if (!writer_.joinable()) writer_ = std::thread([this] { writerLoop(); });
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
    // for all of them.
    std::vector<SubmitOutcome> outcomes(batch.size());
    bool committed = false;
    try {
      soci::session sql(database_.pool());
      WriteTransaction transaction(sql, dialect);
      StoreStatements statements(sql, dialect);
      for (std::size_t i = 0; i < batch.size(); ++i) outcomes[i] = statements.store(batch[i]->submission);
      transaction.commit();
      committed = true;
    } catch (const std::exception&) {
      // Rolled back: each submission is tried alone below, and reports its own error.
    }
    if (committed) {
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->outcome.set_value(outcomes[i]);
      continue;
    }
    // One bad submission must not sink the others: retry each in its own transaction.
    for (Pending* pending : batch) {
      try {
        soci::session sql(database_.pool());
        WriteTransaction transaction(sql, dialect);
        const SubmitOutcome outcome = StoreStatements(sql, dialect).store(pending->submission);
        transaction.commit();
        pending->outcome.set_value(outcome);
      } catch (...) {
        pending->outcome.set_exception(std::current_exception());
      }
    }
  }
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

void AnonymousStore::closeWave(std::int64_t waveId) {
  {
    soci::session sql(database_.pool());
    WriteTransaction transaction(sql, database_.dialect());
    sql << "DELETE FROM experience_open_waves WHERE wave_id = :w", soci::use(waveId);
    transaction.commit();
  }
  // In this process, let the writer drain what it holds: those submissions now find the
  // wave closed, or were committed before the delete above.
  rewriteInRandomOrder(waveId);
}

void AnonymousStore::rewriteInRandomOrder(std::int64_t closingWave) {
  const Dialect dialect = database_.dialect();
  soci::session sql(database_.pool());
  SecureRandom random;
  {
    WriteTransaction transaction(sql, dialect);
    if (dialect == Dialect::Postgresql) {
      sql << "LOCK TABLE experience_responses, experience_comments, experience_spent, experience_codes "
             "IN ACCESS EXCLUSIVE MODE";
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
    std::shuffle(comments.begin(), comments.end(), random);
    auto readPairs = [&](const std::string& query) {
      std::vector<std::pair<std::string, std::int64_t>> pairs;
      std::pair<std::string, std::int64_t> pair;
      soci::statement select = (sql.prepare << query, soci::into(pair.first), soci::into(pair.second));
      select.execute();
      while (select.fetch()) pairs.push_back(pair);
      std::shuffle(pairs.begin(), pairs.end(), random);
      return pairs;
    };
    const auto spent = readPairs("SELECT credential_hash, wave_id FROM experience_spent");
    const auto codes = readPairs("SELECT code_hash, wave_id FROM experience_codes");

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
    for (const auto& [name, column, pairs] :
         {std::tuple{std::string("experience_spent"), std::string("credential_hash"), &spent},
          std::tuple{std::string("experience_codes"), std::string("code_hash"), &codes}}) {
      const std::string table = target(name);
      for (const auto& [hash, wave] : *pairs) {
        sql << "INSERT INTO " + table + " (" + column + ", wave_id) VALUES (:h, :w)", soci::use(hash), soci::use(wave);
      }
      swap(name);
    }
    transaction.commit();
  }
  if (dialect == Dialect::Sqlite) {
    // Rebuild the file so no page keeps the old layout, and empty the write-ahead log, whose
    // frames would otherwise hold rows in the order they were written.
    sql << "VACUUM";
    sql << "PRAGMA wal_checkpoint(TRUNCATE)";
  }
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
