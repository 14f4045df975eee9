#include "SociDatabase.hpp"

#include "PostgresConnectionString.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>

namespace belonging {
namespace {

struct ParsedUrl {
  Dialect dialect;
  std::string connect; // What the SOCI backend takes.
};

ParsedUrl parseUrl(const std::string& url) {
  if (url.starts_with("sqlite:")) {
    std::string path = url.substr(7);
    if (path.empty()) throw DatabaseError("database URL \"sqlite:\" needs a file path, e.g. sqlite:data/belonging.db");
    return {Dialect::Sqlite, path};
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    // SOCI 4.0 re-splits its connection string at "=" and blanks: a URI with no "?option=" reached
    // libpq with "=" glued to the database name ("belonging="). libpq's own reading of the URI,
    // written out as keywords, is what SOCI gets instead.
    return {Dialect::Postgresql, PostgresConnectionString(url).toString()};
  }
  if (url.starts_with("postgresql:")) return {Dialect::Postgresql, url.substr(11)};
  if (url.find('=') != std::string::npos) return {Dialect::Postgresql, url};
  throw DatabaseError("database URL \"" + url +
                      "\" is not understood: use sqlite:PATH, postgresql://… or a PostgreSQL "
                      "connection string such as \"host=/run/postgresql dbname=belonging\"");
}

std::vector<std::string> splitStatements(const std::string& sql) {
  // Statements end with ";" at the end of a line, so semicolons inside string literals or
  // triggers on one line do not split them.
  std::vector<std::string> statements;
  std::istringstream lines(sql);
  std::string line, current;
  while (std::getline(lines, line)) {
    current += line + "\n";
    const auto last = line.find_last_not_of(" \t\r");
    if (last != std::string::npos && line[last] == ';') {
      statements.push_back(current);
      current.clear();
    }
  }
  if (current.find_first_not_of(" \t\r\n") != std::string::npos) statements.push_back(current);
  return statements;
}

void replaceAll(std::string& text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

} // namespace

Dialect urlDialect(const std::string& url) { return parseUrl(url).dialect; }

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SociDatabase::SociDatabase(const std::string& url, int poolSize, StoreKind kind) {
  const ParsedUrl parsed = parseUrl(url);
  dialect_ = parsed.dialect;
  size_ = static_cast<std::size_t>(std::max(1, poolSize));
  pool_ = std::make_unique<soci::connection_pool>(size_);
  if (dialect_ == Dialect::Sqlite) {
    const std::filesystem::path file(parsed.connect);
    if (file.has_parent_path()) {
      std::error_code ignored;
      std::filesystem::create_directories(file.parent_path(), ignored);
    }
  }
  for (std::size_t i = 0; i < size_; ++i) {
    soci::session& sql = pool_->at(i);
    try {
      if (dialect_ == Dialect::Sqlite) {
        sql.open(soci::sqlite3, "db=" + parsed.connect + " timeout=5");
        // WAL lets readers proceed while one writer commits. The identified store uses NORMAL
        // sync: durable across application crashes, losing at most the last commits on power
        // loss. An anonymous submission spends a token that cannot be issued again, so losing
        // it would silence someone: that store syncs every commit (FULL), and overwrites
        // deleted content (secure_delete) so reordered rows leave no trace of arrival order.
        sql << "PRAGMA journal_mode=WAL";
        if (kind == StoreKind::Anonymous) {
          sql << "PRAGMA synchronous=FULL";
          sql << "PRAGMA secure_delete=ON";
        } else {
          sql << "PRAGMA synchronous=NORMAL";
        }
        sql << "PRAGMA foreign_keys=ON";
        sql << "PRAGMA busy_timeout=5000";
      } else {
        sql.open(soci::postgresql, parsed.connect);
      }
    } catch (const std::exception& error) {
      throw DatabaseError("cannot open the database (" + dialectName() + "): " + error.what());
    }
  }
}

SociDatabase::~SociDatabase() = default;

bool SociDatabase::ping() {
  auto attempt = [this] {
    try {
      soci::session sql(*pool_);
      int one = 0;
      sql << "SELECT 1", soci::into(one);
      return one == 1;
    } catch (const std::exception&) {
      return false;
    }
  };
  if (attempt()) return true;
  recoverBrokenConnections();
  return attempt();
}

void SociDatabase::recoverBrokenConnections() {
  if (dialect_ != Dialect::Postgresql) return; // A SQLite file has no connection to lose.
  std::vector<std::size_t> leased;
  std::size_t position = 0;
  while (leased.size() < size_ && pool_->try_lease(position, 0)) leased.push_back(position);
  for (std::size_t slot : leased) {
    soci::session& sql = pool_->at(slot);
    if (!sql.is_connected()) {
      try {
        sql.reconnect();
      } catch (const std::exception&) {
        // Still down: the next failure tries again.
      }
    }
    pool_->give_back(slot);
  }
}

std::string SociDatabase::portableSql(const Migration& migration) const {
  std::string sql = (dialect_ == Dialect::Postgresql && migration.postgresqlSql)
                        ? *migration.postgresqlSql
                        : migration.sql;
  replaceAll(sql, "${AUTO_ID}",
             dialect_ == Dialect::Sqlite ? "INTEGER PRIMARY KEY"
                                         : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  replaceAll(sql, "${BLOB}", dialect_ == Dialect::Sqlite ? "BLOB" : "BYTEA");
  return sql;
}

std::vector<std::string> SociDatabase::statements(const Migration& migration) const {
  return splitStatements(portableSql(migration));
}

void SociDatabase::createMigrationsTable(soci::session& sql) {
  sql << "CREATE TABLE IF NOT EXISTS belonging_migrations (plugin TEXT NOT NULL, id TEXT NOT "
         "NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (plugin, id))";
}

void SociDatabase::lockForMigration(soci::session& sql) {
  // Two instances starting together on one PostgreSQL must not both apply a migration: a
  // transaction-scoped advisory lock serialises them, and each re-reads what is applied.
  if (dialect_ == Dialect::Postgresql) sql << "SELECT pg_advisory_xact_lock(7135553)";
}

std::vector<std::string> SociDatabase::migrate(const std::string& plugin,
                                               std::vector<Migration> migrations) {
  std::sort(migrations.begin(), migrations.end(),
            [](const Migration& a, const Migration& b) { return a.id < b.id; });
  std::vector<std::string> applied;
  soci::session sql(*pool_);
  {
    soci::transaction setup(sql);
    lockForMigration(sql);
    createMigrationsTable(sql);
    setup.commit();
  }
  for (const Migration& migration : migrations) {
    try {
      soci::transaction transaction(sql);
      lockForMigration(sql);
      int done = 0;
      sql << "SELECT COUNT(*) FROM belonging_migrations WHERE plugin = :p AND id = :i",
          soci::use(plugin), soci::use(migration.id), soci::into(done);
      if (done != 0) continue;
      for (const std::string& statement : statements(migration)) sql << statement;
      const std::int64_t now = unixNow();
      sql << "INSERT INTO belonging_migrations (plugin, id, applied_at) VALUES (:p, :i, :t)",
          soci::use(plugin), soci::use(migration.id), soci::use(now);
      transaction.commit();
      applied.push_back(migration.id);
    } catch (const std::exception& error) {
      throw DatabaseError("migration " + plugin + "/" + migration.id + " failed: " + error.what());
    }
  }
  return applied;
}

} // namespace belonging
