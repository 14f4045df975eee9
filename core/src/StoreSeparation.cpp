#include "StoreSeparation.hpp"

#include "PostgresConnectionString.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

namespace belonging {
namespace {

constexpr std::size_t kMaxDatabaseNameBytes = 63;
constexpr std::size_t kRowsPerInsert = 500;

// libpq's and SOCI's messages span lines ("Cannot establish connection…\nFATAL: …"): one line
// for an operator's terminal and the JSON log.
std::string oneLine(const std::string& text) {
  std::string line;
  for (char c : text) {
    const bool blank = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (blank && (line.empty() || line.back() == ' ')) continue;
    line += blank ? ' ' : c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string sameDatabaseMessage(const std::string& what) {
  return "database.anonymous_url names the same database as database.url (" + what +
         "). The anonymous store must be a database of its own (DESIGN §5): in one database a "
         "single transaction-id clock links each answer to the issuance of its token. Leave "
         "database.anonymous_url unset for the default (on PostgreSQL the database named like "
         "database.url's plus \"_anonymous\"; on SQLite a file beside it), or name another "
         "database, best on a separate server";
}

std::filesystem::path canonicalFile(const std::string& sqliteUrl) {
  std::error_code ignored;
  const std::filesystem::path file(sqliteUrl.substr(7));
  const auto canonical = std::filesystem::weakly_canonical(file, ignored);
  return canonical.empty() ? std::filesystem::absolute(file, ignored).lexically_normal() : canonical;
}

/** Which running server and which database a pooled connection reaches. */
struct ServerIdentity {
  std::string server; // The postmaster's start, in epoch seconds: one running cluster, one value.
  std::string database;
};

ServerIdentity identityOf(SociDatabase& database) {
  soci::session sql(database.pool());
  ServerIdentity identity;
  // Epoch seconds, not the timestamp's text, which follows each session's TimeZone setting.
  sql << "SELECT CAST(extract(epoch FROM pg_postmaster_start_time()) AS text), CAST(current_database() AS text)",
      soci::into(identity.server), soci::into(identity.database);
  return identity;
}

std::string createInstructions(const PostgresConnectionString& target, const std::string& role) {
  std::string command = "createdb";
  if (!target.value("host").empty()) command += " -h " + target.value("host");
  if (!target.value("port").empty()) command += " -p " + target.value("port");
  command += " -O " + (role.empty() ? std::string("ROLE") : role) + " " + target.databaseName();
  return "create it once as a role that may (`" + command + "`, or in psql: CREATE DATABASE " +
         quoteIdentifier(target.databaseName()) + " OWNER " + quoteIdentifier(role.empty() ? "ROLE" : role) +
         ";), then start Belonging again";
}

/**
 * Creates the anonymous store's PostgreSQL database if it is missing. `sameServer` is the
 * identified store when the database was derived (it is on that server and the identified role
 * can ask for it); otherwise the target server's "postgres" (or "template1") database is used.
 */
void ensureDatabaseExists(const PostgresConnectionString& target, SociDatabase* sameServer) {
  std::string connectError;
  try {
    soci::session probe(soci::postgresql, target.toString());
    return;
  } catch (const std::exception& error) {
    connectError = oneLine(error.what());
  }
  const std::string name = target.databaseName();

  std::optional<soci::session> own;
  if (sameServer) {
    own.emplace(sameServer->pool());
  } else {
    std::string maintenanceError;
    for (const char* database : {"postgres", "template1"}) {
      try {
        own.emplace(soci::postgresql, target.withDatabase(database).toString());
        break;
      } catch (const std::exception& error) {
        own.reset();
        maintenanceError = oneLine(error.what());
      }
    }
    if (!own) {
      throw DatabaseError("cannot connect to the anonymous store's " + target.describe() + " (" + connectError +
                          "), nor to that server's postgres or template1 database to create it (" +
                          maintenanceError + ")");
    }
  }
  soci::session& maintenance = *own;

  std::int64_t exists = 0;
  std::string role;
  maintenance << "SELECT count(*) FROM pg_database WHERE datname = :name", soci::use(name), soci::into(exists);
  maintenance << "SELECT CAST(current_user AS text)", soci::into(role);
  if (exists != 0) {
    // Another instance created it since, or the connection failed for another reason
    // (password, pg_hba.conf, CONNECT privilege): one more try tells which.
    try {
      soci::session probe(soci::postgresql, target.toString());
      return;
    } catch (const std::exception& error) {
      throw DatabaseError("cannot connect to the anonymous store's " + target.describe() + ": " + oneLine(error.what()));
    }
  }
  if (!isCreatableDatabaseName(name)) {
    throw DatabaseError("the anonymous store's " + target.describe() +
                        " does not exist, and Belonging creates only databases named with ASCII letters, digits, "
                        "\"_\", \"-\" and \".\" (at most 63 bytes): " + createInstructions(target, role));
  }
  // CREATE DATABASE cannot run inside a transaction: this session is in autocommit. A second
  // instance starting at the same moment may win the race; its database is as good as ours.
  for (int attempt = 1;; ++attempt) {
    try {
      maintenance << "CREATE DATABASE " + quoteIdentifier(name);
      return;
    } catch (const soci::postgresql_soci_error& error) {
      const std::string state = error.sqlstate();
      if (state == "42P04" || state == "23505") return; // duplicate_database, or the catalog's unique index.
      if (state == "55006" && attempt < 10) {
        // "source database template1 is being accessed by other users": another creator, briefly.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      throw DatabaseError("the anonymous store's " + target.describe() + " does not exist and role \"" + role +
                          "\" cannot create it (" + oneLine(error.what()) + "): " + createInstructions(target, role));
    }
  }
}

std::string legacySchema() { return kLegacyAnonymousSchema; }

std::string legacyTable(const std::string& table) {
  return quoteIdentifier(legacySchema()) + "." + quoteIdentifier(table);
}

std::vector<std::string> legacyTables(soci::session& sql) {
  const std::string schema = legacySchema();
  std::vector<std::string> tables;
  soci::rowset<std::string> rows =
      (sql.prepare << "SELECT CAST(c.relname AS text) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') ORDER BY c.relname",
       soci::use(schema));
  for (const std::string& table : rows) tables.push_back(table);
  return tables;
}

/** Row count and a digest of every row's content, independent of physical order. */
struct TableDigest {
  std::int64_t rows = 0;
  std::string digest;
  bool operator==(const TableDigest&) const = default;
};

TableDigest digestOf(soci::session& sql, const std::string& qualifiedTable) {
  // Rows as JSON text, sorted bytewise (COLLATE "C"), so two databases with different default
  // collations agree. The session settings that shape the text are pinned by pinOutputFormat.
  TableDigest result;
  sql << "SELECT count(*), coalesce(md5(string_agg(CAST(row_to_json(t) AS text), ',' ORDER BY "
         "CAST(row_to_json(t) AS text) COLLATE \"C\")), '') FROM " + qualifiedTable + " t",
      soci::into(result.rows), soci::into(result.digest);
  return result;
}

void pinOutputFormat(soci::session& sql) {
  sql << "SET LOCAL DateStyle = 'ISO, YMD'";
  sql << "SET LOCAL IntervalStyle = 'postgres'";
  sql << "SET LOCAL TimeZone = 'UTC'";
  sql << "SET LOCAL bytea_output = 'hex'";
  sql << "SET LOCAL extra_float_digits = 1";
}

std::int64_t userTableCount(soci::session& sql) {
  std::int64_t tables = 0;
  sql << "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', "
         "'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'",
      soci::into(tables);
  return tables;
}

bool resolves(soci::session& sql, const std::string& table) {
  const std::string quoted = quoteIdentifier(table);
  soci::indicator found = soci::i_null;
  std::string name;
  sql << "SELECT CAST(to_regclass(:name) AS text)", soci::use(quoted), soci::into(name, found);
  return found == soci::i_ok;
}

struct AppliedMigration {
  std::string plugin;
  std::string id;
};

std::vector<AppliedMigration> legacyMigrations(soci::session& source) {
  std::vector<AppliedMigration> applied;
  soci::rowset<soci::row> rows = (source.prepare << "SELECT plugin, id FROM " + legacyTable("belonging_migrations") +
                                                        " ORDER BY applied_at, plugin, id");
  for (const soci::row& row : rows) applied.push_back({row.get<std::string>(0), row.get<std::string>(1)});
  return applied;
}

const Migration& registeredMigration(const std::map<std::string, std::vector<Migration>>& anonymousMigrations,
                                     const AppliedMigration& applied) {
  if (const auto plugin = anonymousMigrations.find(applied.plugin); plugin != anonymousMigrations.end()) {
    for (const Migration& migration : plugin->second) {
      if (migration.id == applied.id) return migration;
    }
  }
  throw DatabaseError("the old anonymous store records migration " + applied.plugin + "/" + applied.id +
                      ", which no enabled plugin registers: enable plugin \"" + applied.plugin +
                      "\" in the configuration and run the move again");
}

void copyRows(soci::session& source, soci::session& target, const std::string& table) {
  // Random order: the new database's pages then say nothing about the order people answered.
  soci::rowset<std::string> rows =
      (source.prepare << "SELECT CAST(row_to_json(t) AS text) FROM " + legacyTable(table) + " t ORDER BY random()");
  // json_populate_recordset matches columns by name, and every value goes through its type's
  // own text input, so each value arrives exactly as it was.
  const std::string insert = "INSERT INTO " + quoteIdentifier(table) +
                             " OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(CAST(NULL AS " +
                             quoteIdentifier(table) + "), CAST(:rows AS json))";
  std::string batch;
  std::size_t inBatch = 0;
  auto flush = [&] {
    if (inBatch == 0) return;
    batch += "]";
    target << insert, soci::use(batch);
    batch.clear();
    inBatch = 0;
  };
  for (const std::string& row : rows) {
    batch += inBatch == 0 ? "[" : ",";
    batch += row;
    if (++inBatch == kRowsPerInsert) flush();
  }
  flush();
}

void carrySequences(soci::session& source, soci::session& target) {
  // Identity and serial columns continue where they were, so no new key repeats an old one.
  const std::string schema = legacySchema();
  soci::rowset<soci::row> columns =
      (source.prepare << "SELECT CAST(c.relname AS text), CAST(a.attname AS text) FROM pg_attribute a "
                         "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT "
                         "a.attisdropped AND pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), "
                         "a.attname) IS NOT NULL",
       soci::use(schema));
  std::vector<std::pair<std::string, std::string>> sequenced;
  for (const soci::row& row : columns) sequenced.emplace_back(row.get<std::string>(0), row.get<std::string>(1));
  for (const auto& [table, column] : sequenced) {
    const std::string oldTable = legacyTable(table), newTable = quoteIdentifier(table);
    std::int64_t last = 0;
    soci::indicator called = soci::i_null;
    source << "SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence(:t, :c) AS regclass))", soci::use(oldTable),
        soci::use(column), soci::into(last, called);
    if (called != soci::i_ok) continue; // Never used: the new sequence starts where the old one would have.
    std::string newSequence;
    soci::indicator hasSequence = soci::i_null;
    target << "SELECT pg_get_serial_sequence(:t, :c)", soci::use(newTable), soci::use(column),
        soci::into(newSequence, hasSequence);
    if (hasSequence != soci::i_ok) {
      throw DatabaseError("column " + table + "." + column + " has a sequence in the old store but not in the new one");
    }
    std::int64_t set = 0;
    target << "SELECT setval(CAST(:s AS regclass), :v)", soci::use(newSequence), soci::use(last), soci::into(set);
  }
}

} // namespace

std::string anonymousStoreUrl(const std::string& identifiedUrl, const std::string& identifiedDatabase) {
  if (urlDialect(identifiedUrl) == Dialect::Sqlite) {
    std::filesystem::path file(identifiedUrl.substr(7));
    const std::string extension = file.extension().string();
    file.replace_filename(file.stem().string() + "-anonymous" + (extension.empty() ? ".db" : extension));
    return "sqlite:" + file.string();
  }
  const PostgresConnectionString identified(identifiedUrl);
  const std::string name =
      (identifiedDatabase.empty() ? identified.databaseName() : identifiedDatabase) + "_anonymous";
  if (name.size() > kMaxDatabaseNameBytes) {
    throw DatabaseError("the anonymous store's database would be named \"" + name +
                        "\", longer than PostgreSQL's 63 bytes: set database.anonymous_url to name it");
  }
  return identified.withDatabase(name).toString();
}

void refuseSameDatabase(const std::string& identifiedUrl, const std::string& anonymousUrl) {
  const Dialect dialect = urlDialect(identifiedUrl);
  if (dialect != urlDialect(anonymousUrl)) return;
  if (dialect == Dialect::Sqlite) {
    const auto file = canonicalFile(identifiedUrl);
    if (file == canonicalFile(anonymousUrl)) throw DatabaseError(sameDatabaseMessage("the file " + file.string()));
    return;
  }
  const PostgresConnectionString identified(identifiedUrl), anonymous(anonymousUrl);
  if (identified.serverKey() == anonymous.serverKey() && identified.databaseName() == anonymous.databaseName()) {
    throw DatabaseError(sameDatabaseMessage(identified.describe()));
  }
}

AnonymousStoreOpening openAnonymousStore(SociDatabase& identified, const std::string& identifiedUrl,
                                         const std::string& configuredUrl, int poolSize) {
  const bool derived = configuredUrl.empty();
  const bool identifiedOnPostgresql = identified.dialect() == Dialect::Postgresql;
  std::string url = configuredUrl;
  if (derived) url = anonymousStoreUrl(identifiedUrl, identifiedOnPostgresql ? identityOf(identified).database : "");
  refuseSameDatabase(identifiedUrl, url);
  const bool anonymousOnPostgresql = urlDialect(url) == Dialect::Postgresql;
  if (anonymousOnPostgresql) ensureDatabaseExists(PostgresConnectionString(url), derived ? &identified : nullptr);

  AnonymousStoreOpening opening;
  opening.store = std::make_unique<SociDatabase>(url, poolSize, StoreKind::Anonymous);
  if (identifiedOnPostgresql && anonymousOnPostgresql) {
    // The servers have the last word: a socket and "localhost", or a service file, can name
    // one database in ways no string comparison sees.
    const ServerIdentity first = identityOf(identified), second = identityOf(*opening.store);
    if (first.server == second.server && first.database == second.database) {
      throw DatabaseError(sameDatabaseMessage("both reach database \"" + first.database + "\" on one server"));
    }
    if (first.server == second.server) {
      opening.advice = "the anonymous store (database \"" + second.database +
                       "\") is on the same PostgreSQL server as the identified data, so the two share one "
                       "transaction-id counter and one WAL stream; for the strongest separation put it on a "
                       "separate server (database.anonymous_url; README, \"Production: PostgreSQL\")";
    }
  } else if (identifiedOnPostgresql) {
    opening.advice = "the anonymous store is a SQLite file on this machine: run a single instance, since "
                     "instances behind a load balancer would each keep their own (set database.anonymous_url "
                     "to a PostgreSQL database for several)";
  }
  return opening;
}

void refuseLegacyAnonymousSchema(SociDatabase& identified) {
  if (identified.dialect() != Dialect::Postgresql) return;
  soci::session sql(identified.pool());
  if (legacyTables(sql).empty()) return;
  throw DatabaseError(
      "the identified database still holds an anonymous store in its schema " + legacySchema() +
      " (from Belonging before anonymity v2), where one transaction-id clock links answers to token issuance. "
      "Stop every instance, then run `belonging move-anonymous-schema` with this configuration: it copies "
      "those tables into the anonymous store's own database in one transaction, checks every row arrived, "
      "and only then drops the schema (README, \"Moving an anonymous store out of the identified database\")");
}

LegacyMoveReport moveLegacyAnonymousSchema(SociDatabase& identified, SociDatabase& anonymous,
                                           const std::map<std::string, std::vector<Migration>>& anonymousMigrations) {
  LegacyMoveReport report;
  if (identified.dialect() != Dialect::Postgresql) return report;
  soci::session source(identified.pool());
  soci::transaction sourceTransaction(source);
  const std::vector<std::string> tables = legacyTables(source);
  if (tables.empty()) return report;
  report.found = true;
  if (anonymous.dialect() != Dialect::Postgresql) {
    throw DatabaseError("the anonymous store is a SQLite file, and the move copies into a PostgreSQL database only: "
                        "leave database.anonymous_url unset (or name a PostgreSQL database) and run it again");
  }
  if (std::find(tables.begin(), tables.end(), "belonging_migrations") == tables.end()) {
    throw DatabaseError("the schema " + legacySchema() +
                        " in the identified database has no belonging_migrations table, so Belonging did not make "
                        "it: move or drop it by hand");
  }

  // Lock out writers (an instance of the old version still running) until the schema is gone;
  // readers may go on. A lock not granted soon means such an instance is busy: say so.
  source << "SET LOCAL lock_timeout = '10s'";
  std::string lock = "LOCK TABLE ";
  for (std::size_t i = 0; i < tables.size(); ++i) lock += (i ? ", " : "") + legacyTable(tables[i]);
  try {
    source << lock + " IN SHARE MODE";
  } catch (const soci::postgresql_soci_error& error) {
    if (error.sqlstate() == "55P03") {
      throw DatabaseError("the old anonymous store is in use: stop every instance of Belonging, then run the move again");
    }
    throw;
  }
  pinOutputFormat(source);
  std::vector<TableDigest> before;
  for (const std::string& table : tables) before.push_back(digestOf(source, legacyTable(table)));

  soci::session target(anonymous.pool());
  soci::transaction targetTransaction(target);
  anonymous.lockForMigration(target);
  pinOutputFormat(target);
  if (userTableCount(target) != 0) {
    // Only an exact copy is acceptable: an earlier move that committed here and stopped before
    // dropping the old schema. Anything else needs a person to look; nothing is touched.
    for (std::size_t i = 0; i < tables.size(); ++i) {
      if (!resolves(target, tables[i]) || digestOf(target, quoteIdentifier(tables[i])) != before[i]) {
        throw DatabaseError("the anonymous store's own database already holds tables, and they are not an exact copy "
                            "of the schema " + legacySchema() + " in the identified database (table " + tables[i] +
                            " differs), so neither is changed: compare the two by hand, empty the new database if "
                            "it holds nothing you need, and run the move again");
      }
    }
    report.alreadyCopied = true;
  } else {
    SociDatabase::createMigrationsTable(target);
    for (const AppliedMigration& applied : legacyMigrations(source)) {
      for (const std::string& statement : anonymous.statements(registeredMigration(anonymousMigrations, applied))) {
        target << statement;
      }
    }
    for (const std::string& table : tables) {
      if (!resolves(target, table)) {
        throw DatabaseError("table " + table + " of the schema " + legacySchema() +
                            " is made by no enabled plugin's migrations: enable the plugin that owns it, or move "
                            "it by hand");
      }
      copyRows(source, target, table);
    }
    carrySequences(source, target);
    for (std::size_t i = 0; i < tables.size(); ++i) {
      if (digestOf(target, quoteIdentifier(tables[i])) != before[i]) {
        throw DatabaseError("table " + tables[i] + " did not arrive intact (row count or content differs); nothing "
                            "was changed");
      }
    }
    targetTransaction.commit();
  }
  source << "DROP SCHEMA " + quoteIdentifier(legacySchema()) + " CASCADE";
  sourceTransaction.commit();
  for (std::size_t i = 0; i < tables.size(); ++i) report.tables.emplace_back(tables[i], before[i].rows);
  return report;
}

} // namespace belonging
