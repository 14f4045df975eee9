#pragma once
// What a plugin may register while it loads. The registrar is valid only during the plugin's
// load callback: afterwards every call throws, because routes or migrations added while the
// server is running would escape the start-up checks (duplicate routes, permission audit).

#include <belonging/EmbeddedFile.hpp>
#include <belonging/Request.hpp>
#include <belonging/Response.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace belonging {

/**
 * Handles a request. May throw: the core answers 500 and logs the error with the request id
 * (on an anonymous route, counts it for the day instead).
 */
using Handler = std::function<void(const Request&, Response&)>;

/** Route access levels that are not permissions. */
inline constexpr const char* kPublic = "";             ///< Anyone, signed in or not.
inline constexpr const char* kSignedIn = "signed-in";  ///< Any signed-in user.

/** An HTTP route. Patterns are literal segments and {name} parameters: "/networks/{slug}". */
struct Route {
  std::string method;  ///< "GET", "POST", "PUT", "PATCH" or "DELETE".
  std::string pattern; ///< Absolute path pattern.
  /** kPublic, kSignedIn or a registered permission name. */
  std::string permission = kSignedIn;
  /**
   * An anonymous route ignores cookies and sign-in, gets no request id or client address,
   * writes no audit record and leaves no log line: the core keeps only daily counts by route,
   * method and status, and counts its errors rather than logging them. Anonymous routes must
   * be kPublic. Whatever the handler logs through Host::logger is counted the same way; each
   * anonymous route also needs a silent location in config/nginx/belonging.conf.
   */
  bool anonymous = false;
  /**
   * Skip the CSRF check. Allowed only on anonymous routes, whose requests carry no cookie and
   * authenticate with a credential in the body (e.g. a blind-signed token).
   */
  bool csrfExempt = false;
  Handler handler;
};

/**
 * A schema change, applied once in a transaction and recorded in belonging_migrations.
 * SQL runs on SQLite and PostgreSQL; write portable SQL and use the placeholders
 * ${AUTO_ID} (an auto-generated 64-bit primary key column type) and ${BLOB} (binary data).
 * Statements are separated by ";" at the end of a line.
 */
struct Migration {
  std::string id;  ///< Sortable and unique within the plugin, e.g. "0001_networks".
  std::string sql; ///< Portable SQL.
  /** Replaces `sql` on PostgreSQL when set. */
  std::optional<std::string> postgresqlSql;
};

/** A permission and the roles that hold it. Admin holds only what is listed: it is not all-seeing. */
struct Permission {
  std::string name;        ///< "plugin.action", e.g. "networks.manage".
  std::string description; ///< Plain English, shown to admins.
  std::vector<std::string> roles; ///< Core roles granted this permission.
};

/** An entry in the header navigation, shown to users who hold the permission. */
struct NavigationItem {
  std::string label;
  std::string href;
  std::string permission = kSignedIn;
  int order = 100; ///< Lower comes first.
};

/** A card on the signed-in home page. */
struct HomeCard {
  std::string title;
  std::string text;
  std::string href;
  std::string linkText;
};

/** Supplies home-page cards for a request; called on every home-page view, so keep it cheap. */
struct HomeCardProvider {
  std::string permission = kSignedIn;
  int order = 100;
  std::function<std::vector<HomeCard>(const Request&)> cards;
};

/** A key a plugin accepts in its [plugins.<name>] config section. */
struct Setting {
  std::string key;
  std::string description;
  nlohmann::json defaultValue; ///< Also fixes the type the config value must have.
};

/** A kind of personal data a plugin stores (the privacy manifest's rows). */
struct PersonalDataItem {
  std::string name;        ///< e.g. "network membership".
  std::string description; ///< What is stored and why.
  bool specialCategory = false; ///< UK GDPR Article 9 data (ethnicity, health, sexuality, religion…).
  std::string retention;   ///< e.g. "until the member leaves or the account is disabled".
};

/**
 * The privacy manifest every plugin must declare (Moodle's privacy provider is the model):
 * what personal data it keeps, and how it serves a subject-access request and an erasure.
 * A plugin that stores nothing personal says so with an empty item list.
 */
struct PrivacyManifest {
  std::vector<PersonalDataItem> items;
  /** Everything the plugin holds about the user, for a subject-access export. */
  std::function<nlohmann::json(std::int64_t userId)> exportUserData;
  /** Deletes everything the plugin holds about the user. */
  std::function<void(std::int64_t userId)> eraseUserData;
};

/**
 * A `belonging <name> …` subcommand a plugin adds (e.g. `belonging experience codes`). It runs
 * after the databases are migrated, with the arguments that follow its name; it parses them
 * itself, prints to standard output and error, and returns the process exit code (2 for bad
 * usage). Exceptions are reported as errors with exit code 1.
 */
struct Command {
  std::string name;    ///< The plugin's name, or a word of its own; must not clash with another command.
  std::string summary; ///< One line for `belonging --help`.
  std::function<int(const std::vector<std::string>& arguments)> run;
};

/** The registration surface handed to a plugin during load. Every method throws after load. */
class Registrar {
public:
  virtual ~Registrar() = default;
  /** Adds a route; a method and pattern already taken by any plugin is an error. */
  virtual void addRoute(Route route) = 0;
  virtual void addMigration(Migration migration) = 0;
  /** Adds a Mustache template, referred to later as "<plugin>/<name>". */
  virtual void addTemplate(std::string name, std::string source) = 0;
  /** Adds every template of a null-terminated table made by belonging_add_plugin(TEMPLATES …). */
  virtual void addTemplates(const EmbeddedFile* files) = 0;
  virtual void addPermission(Permission permission) = 0;
  virtual void addNavigationItem(NavigationItem item) = 0;
  virtual void addHomeCards(HomeCardProvider provider) = 0;
  virtual void addSetting(Setting setting) = 0;
  virtual void setPrivacyManifest(PrivacyManifest manifest) = 0;
  /**
   * Demo data for `belonging demo`, run after the core's demo sign-ins (staff, chair, champion,
   * guardian, analyst, admin) exist. Must be idempotent: demo may run on every start.
   * Appended in ABI 1.1.
   */
  virtual void addDemoData(std::function<void()> seed) = 0;
  /**
   * A schema change to the anonymous store (Host::anonymousDatabase), recorded there.
   * Appended in ABI 1.2.
   */
  virtual void addAnonymousMigration(Migration migration) = 0;
  /** A CLI subcommand. Appended in ABI 1.2. */
  virtual void addCommand(Command command) = 0;
};

} // namespace belonging
