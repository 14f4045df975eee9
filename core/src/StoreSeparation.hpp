#pragma once
// Keeping DESIGN §5's two stores apart. The anonymous store is its own SQLite file or its own
// PostgreSQL database, best on a server of its own: never a schema beside identified data,
// where one transaction-id clock (xmin) and one WAL would link each answer to the issuance of
// its token.

#include "SociDatabase.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace belonging {

/**
 * The anonymous store's URL when none is configured: beside the identified SQLite file
 * ("data/belonging.db" -> "data/belonging-anonymous.db"), or on PostgreSQL the database named
 * like the identified one plus "_anonymous" on the same server, with the same role and options
 * (dbname=belonging -> dbname=belonging_anonymous). `identifiedDatabase`, when given, is the
 * identified database's name as its server reports it (for URLs that name none). Throws
 * DatabaseError when the derived name would be longer than PostgreSQL allows.
 */
std::string anonymousStoreUrl(const std::string& identifiedUrl, const std::string& identifiedDatabase = "");

/**
 * Throws DatabaseError when both URLs name one database: the same SQLite file, or the same
 * PostgreSQL host (or socket directory), port and database in any of libpq's spellings.
 * A SQLite store beside a PostgreSQL one (either way round) is allowed.
 */
void refuseSameDatabase(const std::string& identifiedUrl, const std::string& anonymousUrl);

/** The anonymous store, opened, and what an operator should know about where it is. */
struct AnonymousStoreOpening {
  std::unique_ptr<SociDatabase> store;
  /** Advice worth a line in the log at start-up (e.g. "shares a PostgreSQL server"), or "". */
  std::string advice;
};

/**
 * Opens the anonymous store beside `identified`: at `configuredUrl`, or derived from
 * `identifiedUrl` (anonymousStoreUrl) when that is empty. Refuses a URL naming the identified
 * database, also when only the servers can tell (two spellings of one socket). Creates a
 * missing PostgreSQL database when the role may (tolerating an instance that creates it at the
 * same moment); otherwise throws DatabaseError naming the database and how to create it.
 */
AnonymousStoreOpening openAnonymousStore(SociDatabase& identified, const std::string& identifiedUrl,
                                         const std::string& configuredUrl, int poolSize);

/** Where Belonging before anonymity v2 kept the anonymous store: a schema of the identified database. */
inline constexpr const char* kLegacyAnonymousSchema = "belonging_anonymous";

/**
 * Throws DatabaseError, saying how to move it, when the identified PostgreSQL database still
 * has tables in kLegacyAnonymousSchema. Nothing starts until they are moved.
 */
void refuseLegacyAnonymousSchema(SociDatabase& identified);

/** What moveLegacyAnonymousSchema did. */
struct LegacyMoveReport {
  bool found = false;         ///< False: no legacy tables, nothing done.
  bool alreadyCopied = false; ///< An earlier move had copied everything but stopped before the drop.
  std::vector<std::pair<std::string, std::int64_t>> tables; ///< Each table moved, with its rows.
};

/**
 * Moves the legacy schema's tables into the anonymous store's own PostgreSQL database without
 * losing a row. Writers to the old tables are locked out; in one transaction on the new
 * database the migrations recorded in the old schema are replayed from `anonymousMigrations`
 * (the enabled plugins'), every row is copied in random order (so neither xmin nor page order
 * there reflects arrival), identity sequences are carried over, and each table's row count and
 * content digest are checked against the old one; only after that commits is the old schema
 * dropped. If the new database already holds tables, they must be an exact copy (an earlier
 * move interrupted before the drop), else nothing is changed. Throws DatabaseError.
 */
LegacyMoveReport moveLegacyAnonymousSchema(SociDatabase& identified, SociDatabase& anonymous,
                                           const std::map<std::string, std::vector<Migration>>& anonymousMigrations);

} // namespace belonging
