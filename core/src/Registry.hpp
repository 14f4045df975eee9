#pragma once
// Everything the core and the plugins registered at start-up, and the router built from it.
// Filled only during loading; read-only (and so safe to share between threads) once serving.

#include <belonging/Registrar.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace belonging {

/** A registration that breaks a rule (duplicate route, registration after load…). */
class RegistrationError : public std::logic_error {
public:
  using std::logic_error::logic_error;
};

struct RegisteredRoute {
  Route route;
  std::string plugin;
  std::vector<std::string> segments; ///< Pattern split on "/"; "{name}" marks a parameter.
};

/** A matched route and the values of its {parameters}. */
struct RouteMatch {
  const RegisteredRoute* route = nullptr;
  std::map<std::string, std::string, std::less<>> parameters;
  /** True when the path exists under another method (answer 405 rather than 404). */
  bool otherMethod = false;
};

class Registry {
public:
  void addRoute(const std::string& plugin, Route route);
  void addMigration(const std::string& plugin, Migration migration);
  void addTemplate(const std::string& plugin, const std::string& name, std::string source);
  void addPermission(const std::string& plugin, Permission permission);
  void addNavigationItem(const std::string& plugin, NavigationItem item);
  void addHomeCards(const std::string& plugin, HomeCardProvider provider);
  void addSetting(const std::string& plugin, Setting setting);
  void setPrivacyManifest(const std::string& plugin, PrivacyManifest manifest);
  void addDemoData(const std::string& plugin, std::function<void()> seed);
  void addAnonymousMigration(const std::string& plugin, Migration migration);
  void addCommand(const std::string& plugin, Command command);
  /** Drops everything a plugin registered (its load failed and it is being skipped). */
  void removePlugin(const std::string& plugin);
  /** Checks cross-plugin rules once every plugin has loaded: route permissions exist. */
  void finalise();

  RouteMatch match(std::string_view method, std::string_view path) const;
  /** Permissions the roles grant (the union). */
  std::set<std::string, std::less<>> permissionsFor(const std::vector<RoleGrant>& roles) const;

  const std::map<std::string, std::string>& templates() const { return templates_; }
  const std::map<std::string, std::vector<Migration>>& migrations() const { return migrations_; }
  const std::map<std::string, Permission>& permissions() const { return permissions_; }
  const std::vector<std::pair<std::string, NavigationItem>>& navigation() const { return navigation_; }
  const std::vector<std::pair<std::string, HomeCardProvider>>& homeCards() const { return homeCards_; }
  const std::map<std::string, std::vector<Setting>>& settings() const { return settings_; }
  const std::map<std::string, PrivacyManifest>& privacyManifests() const { return manifests_; }
  bool hasPrivacyManifest(const std::string& plugin) const { return manifests_.contains(plugin); }
  /** Demo seeders in load order. */
  const std::vector<std::pair<std::string, std::function<void()>>>& demoData() const { return demoData_; }
  const std::map<std::string, std::vector<Migration>>& anonymousMigrations() const { return anonymousMigrations_; }
  /** Plugin subcommands by name, with the plugin that added each. */
  const std::map<std::string, std::pair<std::string, Command>, std::less<>>& commands() const { return commands_; }

private:
  std::vector<std::unique_ptr<RegisteredRoute>> routes_;
  std::map<std::string, std::string> templates_;
  std::map<std::string, std::string> templateOwners_;
  std::map<std::string, std::vector<Migration>> migrations_;
  std::map<std::string, Permission> permissions_;
  std::map<std::string, std::string> permissionOwners_;
  std::vector<std::pair<std::string, NavigationItem>> navigation_;
  std::vector<std::pair<std::string, HomeCardProvider>> homeCards_;
  std::map<std::string, std::vector<Setting>> settings_;
  std::map<std::string, PrivacyManifest> manifests_;
  std::vector<std::pair<std::string, std::function<void()>>> demoData_;
  std::map<std::string, std::vector<Migration>> anonymousMigrations_;
  std::map<std::string, std::pair<std::string, Command>, std::less<>> commands_;
};

/** The Registrar handed to one plugin; it refuses every call once closed. */
class PluginRegistrar final : public Registrar {
public:
  PluginRegistrar(Registry& registry, std::string plugin)
      : registry_(registry), plugin_(std::move(plugin)) {}

  void close() { open_ = false; }

  void addRoute(Route route) override;
  void addMigration(Migration migration) override;
  void addTemplate(std::string name, std::string source) override;
  void addTemplates(const EmbeddedFile* files) override;
  void addPermission(Permission permission) override;
  void addNavigationItem(NavigationItem item) override;
  void addHomeCards(HomeCardProvider provider) override;
  void addSetting(Setting setting) override;
  void setPrivacyManifest(PrivacyManifest manifest) override;
  void addDemoData(std::function<void()> seed) override;
  void addAnonymousMigration(Migration migration) override;
  void addCommand(Command command) override;

private:
  void requireOpen(std::string_view what) const;

  Registry& registry_;
  std::string plugin_;
  bool open_ = true;
};

} // namespace belonging
