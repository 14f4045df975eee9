#pragma once
// The identified-data database behind a SOCI connection pool: SQLite in a file by default,
// PostgreSQL for sites that run several instances behind a load balancer.

#include <belonging/Host.hpp>
#include <belonging/Registrar.hpp>

#include <soci/connection-pool.h>

#include <memory>
#include <string>
#include <vector>

namespace belonging {

/** A problem opening or migrating the database, in words for an operator. */
class DatabaseError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/** Which of the two stores (DESIGN §5) a database is. */
enum class StoreKind {
  Identified, ///< Accounts, memberships, issuance records.
  Anonymous,  ///< Submissions and spent-token hashes: its own file or database, full durability.
};

/** The dialect a database URL names; throws DatabaseError when it names none. */
Dialect urlDialect(const std::string& url);

class SociDatabase final : public Database {
public:
  /**
   * Opens `poolSize` connections to `url`: "sqlite:PATH", "postgresql://…" or a libpq
   * connection string ("host=… dbname=…"). Throws DatabaseError.
   */
  SociDatabase(const std::string& url, int poolSize, StoreKind kind = StoreKind::Identified);
  ~SociDatabase() override;

  soci::connection_pool& pool() override { return *pool_; }
  Dialect dialect() const override { return dialect_; }
  std::size_t poolSize() const { return size_; }
  /** "sqlite" or "postgresql", as /healthz reports it. */
  std::string dialectName() const { return dialect_ == Dialect::Sqlite ? "sqlite" : "postgresql"; }
  /** Runs a trivial query, reconnecting broken connections once; false if unreachable. */
  bool ping();
  /**
   * Reconnects every idle pooled connection that the driver reports broken (PostgreSQL
   * restarted, or a connection killed). Called after a failed request so the next one works.
   */
  void recoverBrokenConnections();

  /** Replaces ${AUTO_ID} and ${BLOB} for this dialect. */
  std::string portableSql(const Migration& migration) const;
  /**
   * Applies the plugin's migrations not yet recorded, each in its own transaction, in id
   * order. Returns the ids applied. Throws DatabaseError naming the plugin and migration.
   */
  std::vector<std::string> migrate(const std::string& plugin, std::vector<Migration> migrations);
  /** The migration's statements for this dialect, one per element, in order. */
  std::vector<std::string> statements(const Migration& migration) const;
  /** Creates the table that records applied migrations, if missing, on `sql`. */
  static void createMigrationsTable(soci::session& sql);
  /**
   * On PostgreSQL, a transaction-scoped lock that serialises migrations (and moves) between
   * instances starting together; nothing on SQLite, whose writers queue anyway.
   */
  void lockForMigration(soci::session& sql);

private:
  Dialect dialect_ = Dialect::Sqlite;
  std::size_t size_ = 0;
  std::unique_ptr<soci::connection_pool> pool_;
};

/** Seconds since the Unix epoch: how every timestamp is stored, identical on both dialects. */
std::int64_t unixNow();

} // namespace belonging
