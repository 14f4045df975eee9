#pragma once
// Services the core offers a plugin. A plugin receives its Host in load() and keeps the
// reference; it never reaches for globals, so the same plugin code runs in tests with a
// host built for the test.

#include <belonging/Disclosure.hpp>
#include <belonging/Registrar.hpp>
#include <belonging/Request.hpp>
#include <belonging/Response.hpp>

#include <nlohmann/json.hpp>
#include <soci/connection-pool.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace belonging {

/**
 * Structured log lines (JSON) on standard error. Never log personal data. Lines logged while an
 * anonymous route is served are not written but counted for the day (DESIGN §5).
 */
class Logger {
public:
  virtual ~Logger() = default;
  virtual void info(std::string_view message) = 0;
  virtual void warning(std::string_view message) = 0;
  virtual void error(std::string_view message) = 0;
};

/** The SQL dialect behind the pool. */
enum class Dialect { Sqlite, Postgresql };

/**
 * The identified-data database. Lease a connection per unit of work:
 *   soci::session sql(host.database().pool());
 *   sql << "SELECT name FROM t WHERE id = :id", soci::use(id), soci::into(name);
 * Bind every value; never build SQL from user data.
 */
class Database {
public:
  virtual ~Database() = default;
  virtual soci::connection_pool& pool() = 0;
  virtual Dialect dialect() const = 0;
};

/** Mustache rendering inside the shared NHS.UK layout. Templates escape {{values}} by default. */
class Renderer {
public:
  virtual ~Renderer() = default;
  /** Renders a registered template ("<plugin>/<name>") to a fragment. */
  virtual std::string render(std::string_view templateName, const nlohmann::json& data) const = 0;
  /** Renders the template inside the layout into `response` (status unchanged). */
  virtual void page(const Request& request, Response& response, std::string_view templateName,
                    const nlohmann::json& data, std::string_view title) const = 0;
  /** A plain error page (or JSON error for API requests) with the given status. */
  virtual void errorPage(const Request& request, Response& response, int status,
                         std::string_view heading, std::string_view message) const = 0;
};

/** One audit record. */
struct AuditEntry {
  std::int64_t at = 0; ///< Seconds since the Unix epoch.
  std::string actor;
  std::string action;
  std::string target;
  std::string detail;
  std::string requestId;
};

/** The audit log of privileged actions. Refuses to write on anonymous routes. */
class AuditLog {
public:
  virtual ~AuditLog() = default;
  /** The newest entries first, for the admin page. */
  virtual std::vector<AuditEntry> recent(int limit, int offset) = 0;
  /** Records that the request's user did `action` to `target` (e.g. "role.grant", "user:42"). */
  virtual void record(const Request& request, std::string_view action, std::string_view target,
                      std::string_view detail = {}) = 0;
};

/** What a release is of: the ledger compares releases with the same measure and period. */
struct ReleaseScope {
  std::string measure;    ///< "membership": stable, one per kind of figure (the plugin's name is prefixed).
  std::string period;     ///< "2026-11", "wave:3": labels the release; it is compared with every earlier period too.
  std::string population; ///< The filter in words ("network=lgbtq"), recorded with each release.
  MeasureRule rule = MeasureRule::PeopleCounts; ///< How the measure is protected (SurveyProportions for survey results).
};

/**
 * Disclosure control (DESIGN §6): the only way a plugin releases a count, percentage or
 * indicator about people, in pages, exports and APIs alike. It applies the configured
 * [disclosure] policy, which no role, flag or parameter can change.
 *
 *   belonging::Table table({{"Network", {"LGBTQ+", "Disability"}}, {"Kind", {"Member", "Ally"}}});
 *   for (auto& row : memberships) table.addRecord(row.id, {row.network, row.kind});
 *   auto released = host.disclosure().release(table, {"membership", "2026-11", "all networks"});
 *   auto figure = released.figure({0, 1});         // status + value (if released) + reason
 *   belonging::displayText(figure, released.policy()); // "fewer than 11", "*", "42"
 */
/** A stored publication (DESIGN §6: a publication is an event). Appended in ABI 1.3. */
struct Publication {
  std::string key;              ///< As the plugin named it ("results.wave:3"), without the plugin's prefix.
  std::int64_t publishedAt = 0; ///< Seconds since the Unix epoch: show it as a date ("Published 29 December 2026").
  nlohmann::json content;       ///< The released figures, as the plugin shaped them.
};

class DisclosureControl {
public:
  virtual ~DisclosureControl() = default;
  virtual const DisclosurePolicy& policy() const = 0;
  /**
   * Suppresses the table and applies the release ledger: if any cell of at least k people
   * differs by 1 to k-1 people from a figure already released for the same measure, in any
   * period, the whole table is held back (every cell Differencing) until at least k have
   * changed; otherwise what is released is recorded. Build the table with Table::addRecord
   * (a stable id per person or submission); throws DisclosureError otherwise. A table whose
   * records have keys is perturbed by the cell-key method (perturb in Disclosure.hpp), and is
   * held back within k-1 plus 0..8 records, drawn from its keys.
   */
  virtual ReleasedTable release(const Table& table, const ReleaseScope& scope) = 0;
  /**
   * Suppression without the ledger, for counts that have no record ids (a table a user
   * uploaded to make it safe). Figures drawn from records in the database use release().
   */
  virtual ReleasedTable releaseCounts(const Table& table) = 0;
  /**
   * A publication (DESIGN §6): a wave's results at close, a year's indicators, a monthly
   * snapshot. The first call computes it with `compute`, which releases its figures through
   * release() and returns a JSON object of what was released (hidden figures as null, never a
   * hidden value or why it is hidden); it is stored under `key`, and every later call, on any
   * instance, returns the stored figures byte for byte without running compute. Pages, exports
   * and APIs all render what this returns, so they always agree. Appended in ABI 1.3.
   */
  virtual Publication publish(const std::string& key, const std::function<nlohmann::json()>& compute) = 0;
  /** The newest publication whose key starts with `prefix`, if any: what a live view shows. Appended in ABI 1.3. */
  virtual std::optional<Publication> latestPublication(const std::string& prefix) = 0;
};

/** A user as a plugin may see them: never a password, session or token. */
struct UserSummary {
  std::int64_t id = 0;
  std::string username;
  std::string displayName;
  bool disabled = false;
};

/**
 * Finds users and manages their scoped core roles (a network-chair of "lgbtq"). Plugins scope
 * the core roles but add none. The caller audits every grant and revoke.
 */
class UserDirectory {
public:
  virtual ~UserDirectory() = default;
  virtual std::optional<UserSummary> findByUsername(std::string_view username) = 0;
  virtual std::optional<UserSummary> findById(std::int64_t userId) = 0;
  /** Enabled users holding the role for exactly this scope (organisation-wide grants excluded). */
  virtual std::vector<UserSummary> holders(std::string_view role, std::string_view scope) = 0;
  /** Grants a core role limited to `scope`; idempotent. Throws std::runtime_error for an unknown role. */
  virtual void grantRole(std::int64_t userId, std::string_view role, std::string_view scope) = 0;
  /** Revokes the scoped role; returns false if the user did not hold it. */
  virtual bool revokeRole(std::int64_t userId, std::string_view role, std::string_view scope) = 0;
};

/** Everything a plugin may use from the core. */
class Host {
public:
  virtual ~Host() = default;
  /** Valid only while the plugin's load callback runs. */
  virtual Registrar& registrar() = 0;
  virtual Logger& logger() = 0;
  virtual Database& database() = 0;
  virtual Renderer& renderer() = 0;
  virtual AuditLog& audit() = 0;
  virtual DisclosureControl& disclosure() = 0;
  /**
   * The plugin's [plugins.<name>] section merged over the defaults of its registered settings.
   * Complete once load has returned (read it in handlers, not in load).
   */
  virtual const nlohmann::json& settings() const = 0;
  /** Users and their scoped roles (appended in ABI 1.1). */
  virtual UserDirectory& users() = 0;
  /**
   * The anonymous store (DESIGN §5): a database apart from the identified one (its own SQLite
   * file, or its own PostgreSQL database) for submissions and spent-token hashes. Nothing in
   * it may refer to a user, session, address or time finer than a wave, and no key may be
   * shared with the identified store. SQLite connections run with secure_delete on and full
   * durability. Schema changes go through Registrar::addAnonymousMigration. Appended in ABI 1.2.
   */
  virtual Database& anonymousDatabase() = 0;
};

} // namespace belonging
