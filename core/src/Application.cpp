#include "Application.hpp"

#include "Crypto.hpp"
#include "StoreSeparation.hpp"

#include <soci/soci.h>

#include <filesystem>
#include <fstream>

namespace belonging {
namespace {

std::string staticVersion(const std::filesystem::path& directory) {
  // Changes whenever the front-end build changes, so browsers fetch new assets at once while
  // caching them for a day otherwise.
  std::error_code error;
  const auto stamp = std::filesystem::last_write_time(directory / "nhsuk.min.css", error);
  return error ? "1" : std::to_string(stamp.time_since_epoch().count() % 1000000007);
}

} // namespace

Application::Application(Config configuration) : config(std::move(configuration)) {
  database = std::make_unique<SociDatabase>(config.database.url, config.database.poolSize);
  if (!database->ping()) throw DatabaseError("the database does not answer: " + config.database.url);
  AnonymousStoreOpening anonymous =
      openAnonymousStore(*database, config.database.url, config.database.anonymousUrl, config.database.poolSize);
  anonymousDatabase = std::move(anonymous.store);
  anonymousStoreAdvice_ = std::move(anonymous.advice);
  if (!anonymousDatabase->ping()) throw DatabaseError("the anonymous store does not answer");
  renderer = std::make_unique<MustacheRenderer>(
      registry, LayoutSettings{config.server.serviceName, config.server.organisationName,
                               config.server.phase, staticVersion(config.server.staticDir)});
  audit = std::make_unique<SqlAuditLog>(*database);
  ledger = std::make_unique<ReleaseLedger>(*database);
  publications = std::make_unique<PublicationStore>(*database);
  accounts = std::make_unique<AccountStore>(*database);
  sessions = std::make_unique<SessionStore>(*database, config.sessions.idleMinutes,
                                            config.sessions.absoluteHours);
  throttle = std::make_unique<SigninThrottle>(*database, config.signin.maxFailuresPerAccount,
                                              config.signin.maxFailuresPerAddress,
                                              config.signin.windowMinutes);
  {
    PluginRegistrar core(registry, "core");
    registerCore(*this, core);
  }
  plugins = std::make_unique<PluginLoader>(
      registry, HostServices{&logger, database.get(), renderer.get(), audit.get(), ledger.get(), &config.disclosure, accounts.get(), anonymousDatabase.get(), publications.get()}, logger);
  plugins->loadAll(config.plugins);
  registry.finalise();
  renderer->validate();
}

Application::~Application() {
  if (plugins) plugins->unloadAll();
}

void Application::migrate() {
  // Before anything is written: a pre-v2 anonymous store inside the identified database must
  // be moved out first (belonging move-anonymous-schema), or its answers would be left behind.
  refuseLegacyAnonymousSchema(*database);
  if (!anonymousStoreAdvice_.empty()) logger.info(anonymousStoreAdvice_);
  const auto& all = registry.migrations();
  auto run = [&](const std::string& plugin) {
    const auto found = all.find(plugin);
    if (found == all.end()) return;
    for (const auto& id : database->migrate(plugin, found->second)) {
      logger.info("applied migration " + plugin + "/" + id);
    }
  };
  run("core");
  for (const auto& status : plugins->statuses()) {
    if (status.status != "loaded") continue;
    run(status.name);
    if (const auto found = registry.anonymousMigrations().find(status.name);
        found != registry.anonymousMigrations().end()) {
      for (const auto& id : anonymousDatabase->migrate(status.name, found->second)) {
        logger.info("applied anonymous-store migration " + status.name + "/" + id);
      }
    }
  }
  soci::session sql(database->pool());
  const std::string name = "csrf", value = crypto::randomToken(32);
  sql << "INSERT INTO core_secrets (name, secret) VALUES (:n, :s) ON CONFLICT (name) DO NOTHING",
      soci::use(name), soci::use(value);
}

nlohmann::json Application::exportUserData(std::int64_t userId) {
  nlohmann::json data = nlohmann::json::object();
  for (const auto& [plugin, manifest] : registry.privacyManifests()) {
    if (manifest.exportUserData) data[plugin] = manifest.exportUserData(userId);
  }
  return data;
}

std::string Application::eraseUserData(std::int64_t userId) {
  std::string erased;
  for (const auto& [plugin, manifest] : registry.privacyManifests()) {
    if (!manifest.eraseUserData || manifest.items.empty()) continue;
    manifest.eraseUserData(userId);
    erased += (erased.empty() ? "" : ", ") + plugin;
  }
  return erased;
}

std::string Application::readSecret() {
  soci::session sql(database->pool());
  const std::string name = "csrf";
  std::string secret;
  sql << "SELECT secret FROM core_secrets WHERE name = :n", soci::use(name), soci::into(secret);
  if (!sql.got_data()) throw DatabaseError("the database is not migrated: run `belonging migrate`");
  return secret;
}

} // namespace belonging
