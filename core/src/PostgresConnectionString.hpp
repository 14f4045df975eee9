#pragma once
// A PostgreSQL connection string taken apart by libpq itself (PQconninfoParse), so that the
// anonymous store's database can be derived from the identified one, and the two compared,
// whichever of libpq's forms the configuration uses: "postgresql://user@host:port/db?…" or
// "host=… port=… dbname=…".

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace belonging {

class PostgresConnectionString {
public:
  /**
   * Parses "postgresql://…", "postgres://…", "postgresql:KEY=VALUE …" or "KEY=VALUE …".
   * Throws DatabaseError with libpq's reason when libpq would not accept it.
   */
  explicit PostgresConnectionString(const std::string& text);

  /** The keyword's value as written (URI escapes decoded), or "" when the string does not set it. */
  std::string value(std::string_view keyword) const;
  /** The same connection (server, role, TLS and other options) to another database. */
  PostgresConnectionString withDatabase(const std::string& name) const;
  /**
   * Keyword/value form, which both libpq and SOCI's PostgreSQL backend read: SOCI re-splits
   * the string on blanks, so values are quoted only when they must be.
   */
  std::string toString() const;

  /**
   * The server as libpq would reach it: host (or socket directory, or hostaddr) and port,
   * with libpq's environment defaults filled in. Equal for two spellings of one server,
   * except where DNS or a service file would be needed to tell (the live check covers those).
   */
  std::string serverKey() const;
  /** The database libpq would connect to: dbname, else PGDATABASE, else the role's name. */
  std::string databaseName() const;
  /** `database "NAME" on HOST:PORT`, for messages: never the password. */
  std::string describe() const;

private:
  PostgresConnectionString() = default;

  std::vector<std::pair<std::string, std::string>> options_; // Only those set, in libpq's order.
};

/**
 * A name as a double-quoted SQL identifier, for the few statements that cannot take a bound
 * parameter (CREATE DATABASE, LOCK TABLE). Throws DatabaseError on a NUL byte.
 */
std::string quoteIdentifier(std::string_view name);

/**
 * Whether Belonging will create a database of this name itself: 1 to 63 bytes (PostgreSQL
 * silently truncates longer names) of ASCII letters, digits, "_", "-" and ".".
 */
bool isCreatableDatabaseName(std::string_view name);

} // namespace belonging
