#pragma once
// One configured Belonging instance: database, registry, plugins and services. Shared by
// every CLI subcommand, so `serve`, `migrate` and `plugins` see the same set-up.

#include "AccountStore.hpp"
#include "Config.hpp"
#include "JsonLogger.hpp"
#include "MustacheRenderer.hpp"
#include "PluginLoader.hpp"
#include "PublicationStore.hpp"
#include "ReleaseLedger.hpp"
#include "Registry.hpp"
#include "SessionStore.hpp"
#include "SociDatabase.hpp"
#include "SqlAuditLog.hpp"

#include <memory>

namespace belonging {

class Application {
public:
  /** Opens the database and loads the plugins; throws ConfigError, DatabaseError, PluginError. */
  explicit Application(Config config);
  ~Application();

  /**
   * Applies pending migrations: the core's first, then each plugin's in load order. Throws
   * DatabaseError first if a pre-v2 anonymous store is still inside the identified database.
   */
  void migrate();
  /** Every plugin's subject-access export for the user, keyed by plugin name. */
  nlohmann::json exportUserData(std::int64_t userId);
  /** Runs every plugin's erasure for the user; returns the plugins' names, comma-separated. */
  std::string eraseUserData(std::int64_t userId);
  /** The HMAC key for CSRF tokens and flash cookies, shared by every instance via the database. */
  std::string readSecret();

  Config config;
  JsonLogger logger;
  std::unique_ptr<SociDatabase> database;
  /** The anonymous store (DESIGN §5): no key in it refers to anything in `database`. */
  std::unique_ptr<SociDatabase> anonymousDatabase;
  Registry registry;
  std::unique_ptr<MustacheRenderer> renderer;
  std::unique_ptr<SqlAuditLog> audit;
  std::unique_ptr<ReleaseLedger> ledger;
  std::unique_ptr<PublicationStore> publications;
  std::unique_ptr<AccountStore> accounts;
  std::unique_ptr<SessionStore> sessions;
  std::unique_ptr<SigninThrottle> throttle;
  std::unique_ptr<PluginLoader> plugins;

private:
  std::string anonymousStoreAdvice_; ///< Logged once by migrate(), where `serve` logs, and CLI commands stay quiet.
};

/** Registers the core's routes, templates, migrations and permissions. */
void registerCore(Application& application, Registrar& registrar);

} // namespace belonging
