#pragma once
// Loads the plugins a config lists, checking each descriptor before any C++ type crosses the
// boundary, in dependency order. Plugins are never dlclose()d: their code may still be
// referenced by static destructors and std::function objects at exit.

#include "Config.hpp"
#include "DisclosureService.hpp"
#include "Registry.hpp"

#include <belonging/Host.hpp>
#include <belonging/PluginAbi.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace belonging {

/** A required plugin could not be loaded; what() names it and says why. */
class PluginError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/** The services every plugin's Host hands out; the core owns them. */
struct HostServices {
  Logger* logger = nullptr;
  Database* database = nullptr;
  Renderer* renderer = nullptr;
  AuditLog* audit = nullptr;
  ReleaseLedger* ledger = nullptr;
  const DisclosurePolicy* policy = nullptr; ///< The [disclosure] section (each plugin's service copies it).
  UserDirectory* users = nullptr;
  Database* anonymousDatabase = nullptr;
  PublicationStore* publications = nullptr;
};

/** The Host given to one plugin. */
class PluginHost final : public Host {
public:
  PluginHost(Registry& registry, const HostServices& services, std::string plugin)
      : registrar_(registry, plugin), services_(services),
        disclosure_(*services.ledger, *services.policy, std::move(plugin), services.publications) {}
  Registrar& registrar() override { return registrar_; }
  Logger& logger() override { return *services_.logger; }
  Database& database() override { return *services_.database; }
  Renderer& renderer() override { return *services_.renderer; }
  AuditLog& audit() override { return *services_.audit; }
  DisclosureControl& disclosure() override { return disclosure_; }
  const nlohmann::json& settings() const override { return settings_; }
  UserDirectory& users() override { return *services_.users; }
  Database& anonymousDatabase() override { return *services_.anonymousDatabase; }

  void closeRegistrar() { registrar_.close(); }
  void setSettings(nlohmann::json settings) { settings_ = std::move(settings); }

private:
  PluginRegistrar registrar_;
  HostServices services_;
  DisclosureService disclosure_;
  nlohmann::json settings_ = nlohmann::json::object();
};

/** What `belonging plugins` reports for each enabled plugin. */
struct PluginStatus {
  std::string name;
  std::string version;     ///< Empty when the file could not be read.
  std::string abi;         ///< "1.0".
  std::string status;      ///< "loaded", or "failed: why".
  bool required = false;
};

class PluginLoader {
public:
  PluginLoader(Registry& registry, HostServices services, Logger& logger)
      : registry_(registry), services_(services), logger_(logger) {}
  ~PluginLoader();

  /**
   * Loads config.enabled from the directory. A failing required plugin throws PluginError;
   * a failing optional one is logged, its registrations dropped, and skipped.
   */
  void loadAll(const PluginsConfig& config);
  /** Loads one statically linked plugin (unit tests), given its entry point. */
  void loadStatic(belonging_plugin_entry_fn entry, const PluginsConfig& config);
  /** Calls unload in reverse load order. */
  void unloadAll();

  const std::vector<PluginStatus>& statuses() const { return statuses_; }
  /** The directory plugins are read from when the config names none: "plugins" beside the executable. */
  static std::filesystem::path defaultDirectory();

private:
  struct Candidate {
    std::string name;
    std::string file;
    const belonging_plugin_descriptor* descriptor = nullptr;
    std::vector<std::string> dependencies;
    bool required = false;
  };

  const belonging_plugin_descriptor* open(const std::string& name, const std::filesystem::path& file);
  void check(const std::string& name, const belonging_plugin_descriptor* descriptor) const;
  void load(const Candidate& candidate, const PluginsConfig& config);
  void applySettings(const std::string& name, PluginHost& host, const PluginsConfig& config) const;
  void fail(const Candidate& candidate, const std::string& why);

  Registry& registry_;
  HostServices services_;
  Logger& logger_;
  std::vector<PluginStatus> statuses_;
  std::vector<std::pair<const belonging_plugin_descriptor*, std::unique_ptr<PluginHost>>> loaded_;
};

} // namespace belonging
