#include "WaveStore.hpp"

#include <belonging/WriteTransaction.hpp>
#include <soci/soci.h>

#include <stdexcept>

namespace experience {

const char* statusName(WaveStatus status) {
  switch (status) {
  case WaveStatus::Draft: return "draft";
  case WaveStatus::Open: return "open";
  case WaveStatus::Closed: return "closed";
  }
  return "draft";
}

WaveStatus parseStatus(const std::string& name) {
  if (name == "open") return WaveStatus::Open;
  if (name == "closed") return WaveStatus::Closed;
  if (name == "draft") return WaveStatus::Draft;
  throw std::runtime_error("unknown wave status \"" + name + "\"");
}

std::vector<belonging::Migration> WaveStore::migrations() {
  // Issuances have no surrogate key and, on SQLite, no rowid: a row's position would
  // otherwise record the order in which people asked for tokens. PostgreSQL has no
  // WITHOUT ROWID, so only that clause differs.
  const std::string schema = "CREATE TABLE experience_waves (\n"
                             "  id ${AUTO_ID},\n"
                             "  name TEXT NOT NULL UNIQUE,\n"
                             "  opens_on TEXT NOT NULL,\n"
                             "  closes_on TEXT NOT NULL,\n"
                             "  questionnaire_version INTEGER NOT NULL,\n"
                             "  status TEXT NOT NULL,\n"
                             "  public_key TEXT NOT NULL,\n"
                             "  private_key TEXT NOT NULL\n"
                             ");\n"
                             "CREATE TABLE experience_issuances (\n"
                             "  wave_id BIGINT NOT NULL REFERENCES experience_waves (id),\n"
                             "  user_id BIGINT NOT NULL,\n"
                             "  PRIMARY KEY (wave_id, user_id)\n"
                             ")";
  return {{"0001_waves", schema + " WITHOUT ROWID;\n", schema + ";\n"}};
}

namespace {

constexpr const char* kWaveColumns =
    "id, name, opens_on, closes_on, questionnaire_version, status, public_key, private_key";

struct WaveRow {
  Wave wave;
  std::string status;
  void bind(soci::statement& statement) {
    statement.exchange(soci::into(wave.id));
    statement.exchange(soci::into(wave.name));
    statement.exchange(soci::into(wave.opensOn));
    statement.exchange(soci::into(wave.closesOn));
    statement.exchange(soci::into(wave.questionnaireVersion));
    statement.exchange(soci::into(status));
    statement.exchange(soci::into(wave.publicKey));
    statement.exchange(soci::into(wave.encryptedPrivateKey));
  }
  Wave take() {
    wave.status = parseStatus(status);
    return wave;
  }
};

} // namespace

std::vector<Wave> WaveStore::read(const std::string& where, std::optional<std::int64_t> id) {
  soci::session sql(database_.pool());
  WaveRow row;
  soci::statement statement(sql);
  row.bind(statement);
  std::int64_t wanted = id.value_or(0);
  if (id) statement.exchange(soci::use(wanted));
  statement.alloc();
  statement.prepare("SELECT " + std::string(kWaveColumns) + " FROM experience_waves " + where);
  statement.define_and_bind();
  statement.execute(false);
  std::vector<Wave> waves;
  while (statement.fetch()) waves.push_back(row.take());
  return waves;
}

std::vector<Wave> WaveStore::all() { return read("ORDER BY opens_on DESC, id DESC", std::nullopt); }

std::optional<Wave> WaveStore::find(std::int64_t id) {
  auto waves = read("WHERE id = :id", id);
  if (waves.empty()) return std::nullopt;
  return waves.front();
}

std::int64_t WaveStore::create(const Wave& wave) {
  soci::session sql(database_.pool());
  belonging::WriteTransaction transaction(sql, database_.dialect());
  const std::string status = statusName(wave.status);
  sql << "INSERT INTO experience_waves (name, opens_on, closes_on, questionnaire_version, status, public_key, "
         "private_key) VALUES (:n, :o, :c, :v, :s, :p, :k)",
      soci::use(wave.name), soci::use(wave.opensOn), soci::use(wave.closesOn), soci::use(wave.questionnaireVersion),
      soci::use(status), soci::use(wave.publicKey), soci::use(wave.encryptedPrivateKey);
  std::int64_t id = 0;
  sql << "SELECT id FROM experience_waves WHERE name = :n", soci::use(wave.name), soci::into(id);
  transaction.commit();
  return id;
}

void WaveStore::setStatus(std::int64_t id, WaveStatus status) {
  soci::session sql(database_.pool());
  const std::string name = statusName(status);
  sql << "UPDATE experience_waves SET status = :s WHERE id = :id", soci::use(name), soci::use(id);
  std::lock_guard lock(recentMutex_);
  recent_.erase(id);
}

std::shared_ptr<const Wave> WaveStore::findRecent(std::int64_t id) {
  constexpr auto kFresh = std::chrono::seconds(1);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(recentMutex_);
    if (const auto cached = recent_.find(id); cached != recent_.end() && now - cached->second.first < kFresh) {
      return cached->second.second;
    }
  }
  auto wave = find(id);
  if (!wave) return nullptr; // Unknown ids are not remembered: nothing can fill the map.
  auto shared = std::make_shared<const Wave>(std::move(*wave));
  std::lock_guard lock(recentMutex_);
  recent_[id] = {now, shared};
  return shared;
}

bool WaveStore::recordIssuance(std::int64_t waveId, std::int64_t userId) {
  soci::session sql(database_.pool());
  soci::statement statement = (sql.prepare << "INSERT INTO experience_issuances (wave_id, user_id) VALUES (:w, :u) "
                                              "ON CONFLICT (wave_id, user_id) DO NOTHING",
                               soci::use(waveId), soci::use(userId));
  statement.execute(true);
  return statement.get_affected_rows() > 0;
}

bool WaveStore::wasIssued(std::int64_t waveId, std::int64_t userId) {
  soci::session sql(database_.pool());
  int count = 0;
  sql << "SELECT COUNT(*) FROM experience_issuances WHERE wave_id = :w AND user_id = :u", soci::use(waveId),
      soci::use(userId), soci::into(count);
  return count > 0;
}

std::vector<std::int64_t> WaveStore::wavesIssuedTo(std::int64_t userId) {
  soci::session sql(database_.pool());
  std::int64_t waveId = 0;
  soci::statement statement =
      (sql.prepare << "SELECT wave_id FROM experience_issuances WHERE user_id = :u ORDER BY wave_id", soci::use(userId),
       soci::into(waveId));
  statement.execute();
  std::vector<std::int64_t> waves;
  while (statement.fetch()) waves.push_back(waveId);
  return waves;
}

void WaveStore::eraseUser(std::int64_t userId) {
  soci::session sql(database_.pool());
  sql << "DELETE FROM experience_issuances WHERE user_id = :u", soci::use(userId);
}

} // namespace experience
