#include "Registry.hpp"

#include <algorithm>

namespace belonging {
namespace {

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = std::min(path.find('/', start), path.size());
    segments.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

bool isParameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

/** Two patterns collide when they match the same paths: same literals, parameters anywhere. */
bool sameShape(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (isParameter(a[i]) != isParameter(b[i])) return false;
    if (!isParameter(a[i]) && a[i] != b[i]) return false;
  }
  return true;
}

const std::set<std::string> kMethods{"GET", "POST", "PUT", "PATCH", "DELETE"};

} // namespace

void Registry::addRoute(const std::string& plugin, Route route) {
  if (!kMethods.contains(route.method)) {
    throw RegistrationError("plugin \"" + plugin + "\" registers a route with method \"" +
                            route.method + "\"; use GET, POST, PUT, PATCH or DELETE");
  }
  if (!route.pattern.starts_with("/") || route.pattern.starts_with("/static/")) {
    throw RegistrationError("plugin \"" + plugin + "\" registers route \"" + route.pattern +
                            "\": patterns start with / and /static/ is reserved");
  }
  if (!route.handler) {
    throw RegistrationError("plugin \"" + plugin + "\" registers " + route.method + " " +
                            route.pattern + " without a handler");
  }
  if (route.anonymous && route.permission != kPublic) {
    throw RegistrationError("plugin \"" + plugin + "\" registers anonymous route " +
                            route.pattern + " with a permission: anonymous routes are public");
  }
  if (route.csrfExempt && !route.anonymous) {
    throw RegistrationError("plugin \"" + plugin + "\" exempts " + route.pattern +
                            " from CSRF checks: only anonymous routes may be exempt");
  }
  auto segments = splitPath(route.pattern);
  for (const auto& existing : routes_) {
    if (existing->route.method == route.method && sameShape(existing->segments, segments)) {
      throw RegistrationError("plugin \"" + plugin + "\" registers " + route.method + " " +
                              route.pattern + ", which plugin \"" + existing->plugin +
                              "\" already registered as " + existing->route.pattern);
    }
  }
  routes_.push_back(std::make_unique<RegisteredRoute>(
      RegisteredRoute{std::move(route), plugin, std::move(segments)}));
}

void Registry::addMigration(const std::string& plugin, Migration migration) {
  auto& list = migrations_[plugin];
  if (std::any_of(list.begin(), list.end(), [&](const Migration& m) { return m.id == migration.id; })) {
    throw RegistrationError("plugin \"" + plugin + "\" registers migration " + migration.id + " twice");
  }
  list.push_back(std::move(migration));
}

void Registry::addTemplate(const std::string& plugin, const std::string& name, std::string source) {
  const std::string key = plugin + "/" + name;
  if (templates_.contains(key)) {
    throw RegistrationError("plugin \"" + plugin + "\" registers template " + key + " twice");
  }
  templates_[key] = std::move(source);
  templateOwners_[key] = plugin;
}

void Registry::addPermission(const std::string& plugin, Permission permission) {
  if (permission.name.empty() || permission.name == kSignedIn) {
    throw RegistrationError("plugin \"" + plugin + "\" registers a permission without a usable name");
  }
  if (auto owner = permissionOwners_.find(permission.name); owner != permissionOwners_.end()) {
    throw RegistrationError("plugin \"" + plugin + "\" registers permission " + permission.name +
                            ", which plugin \"" + owner->second + "\" already registered");
  }
  permissionOwners_[permission.name] = plugin;
  permissions_[permission.name] = std::move(permission);
}

void Registry::addNavigationItem(const std::string& plugin, NavigationItem item) {
  navigation_.emplace_back(plugin, std::move(item));
  std::stable_sort(navigation_.begin(), navigation_.end(),
                   [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
}

void Registry::addHomeCards(const std::string& plugin, HomeCardProvider provider) {
  if (!provider.cards) {
    throw RegistrationError("plugin \"" + plugin + "\" registers home cards without a provider");
  }
  homeCards_.emplace_back(plugin, std::move(provider));
  std::stable_sort(homeCards_.begin(), homeCards_.end(),
                   [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
}

void Registry::addSetting(const std::string& plugin, Setting setting) {
  auto& list = settings_[plugin];
  if (std::any_of(list.begin(), list.end(), [&](const Setting& s) { return s.key == setting.key; })) {
    throw RegistrationError("plugin \"" + plugin + "\" registers setting " + setting.key + " twice");
  }
  list.push_back(std::move(setting));
}

void Registry::setPrivacyManifest(const std::string& plugin, PrivacyManifest manifest) {
  if (manifests_.contains(plugin)) {
    throw RegistrationError("plugin \"" + plugin + "\" sets its privacy manifest twice");
  }
  const bool storesPersonalData = !manifest.items.empty();
  if (storesPersonalData && (!manifest.exportUserData || !manifest.eraseUserData)) {
    throw RegistrationError("plugin \"" + plugin + "\" stores personal data but its privacy "
                            "manifest lacks a subject-access export or an erasure function");
  }
  manifests_[plugin] = std::move(manifest);
}

void Registry::removePlugin(const std::string& plugin) {
  std::erase_if(routes_, [&](const auto& route) { return route->plugin == plugin; });
  std::erase_if(templates_, [&](const auto& entry) { return templateOwners_[entry.first] == plugin; });
  std::erase_if(templateOwners_, [&](const auto& entry) { return entry.second == plugin; });
  migrations_.erase(plugin);
  std::erase_if(permissions_, [&](const auto& entry) { return permissionOwners_[entry.first] == plugin; });
  std::erase_if(permissionOwners_, [&](const auto& entry) { return entry.second == plugin; });
  std::erase_if(navigation_, [&](const auto& entry) { return entry.first == plugin; });
  std::erase_if(homeCards_, [&](const auto& entry) { return entry.first == plugin; });
  settings_.erase(plugin);
  manifests_.erase(plugin);
  std::erase_if(demoData_, [&](const auto& entry) { return entry.first == plugin; });
  anonymousMigrations_.erase(plugin);
  std::erase_if(commands_, [&](const auto& entry) { return entry.second.first == plugin; });
}

void Registry::addDemoData(const std::string& plugin, std::function<void()> seed) {
  demoData_.emplace_back(plugin, std::move(seed));
}

void Registry::addAnonymousMigration(const std::string& plugin, Migration migration) {
  auto& list = anonymousMigrations_[plugin];
  for (const auto& existing : list) {
    if (existing.id == migration.id) {
      throw RegistrationError("plugin \"" + plugin + "\" registers anonymous-store migration \"" +
                              migration.id + "\" twice");
    }
  }
  list.push_back(std::move(migration));
}

void Registry::addCommand(const std::string& plugin, Command command) {
  // The core's own subcommands are parsed before plugins load, so a plugin may not shadow them.
  static const std::set<std::string, std::less<>> kCoreCommands{"serve", "migrate", "demo", "plugins",
                                                                "user", "token", "suppress", "help"};
  if (command.name.empty() || !command.run) {
    throw RegistrationError("plugin \"" + plugin + "\" registers a command without a name or handler");
  }
  if (kCoreCommands.contains(command.name)) {
    throw RegistrationError("plugin \"" + plugin + "\" registers command \"" + command.name +
                            "\", which is a core command");
  }
  if (const auto found = commands_.find(command.name); found != commands_.end()) {
    throw RegistrationError("plugin \"" + plugin + "\" registers command \"" + command.name +
                            "\", which plugin \"" + found->second.first + "\" already registered");
  }
  std::string name = command.name;
  commands_.emplace(std::move(name), std::make_pair(plugin, std::move(command)));
}

void Registry::finalise() {
  for (const auto& registered : routes_) {
    const std::string& permission = registered->route.permission;
    if (permission != kPublic && permission != kSignedIn && !permissions_.contains(permission)) {
      throw RegistrationError("plugin \"" + registered->plugin + "\" protects " +
                              registered->route.method + " " + registered->route.pattern +
                              " with permission \"" + permission + "\", which no plugin registers");
    }
  }
}

RouteMatch Registry::match(std::string_view method, std::string_view path) const {
  RouteMatch result;
  if (!path.starts_with("/")) return result;
  const auto segments = splitPath(path);
  const std::string_view wanted = method == "HEAD" ? std::string_view("GET") : method;
  for (const auto& registered : routes_) {
    if (registered->segments.size() != segments.size()) continue;
    bool matches = true;
    for (std::size_t i = 0; i < segments.size() && matches; ++i) {
      const std::string& part = registered->segments[i];
      matches = isParameter(part) ? !segments[i].empty() : part == segments[i];
    }
    if (!matches) continue;
    if (registered->route.method != wanted) {
      result.otherMethod = true;
      continue;
    }
    result.route = registered.get();
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const std::string& part = registered->segments[i];
      if (isParameter(part)) result.parameters[part.substr(1, part.size() - 2)] = segments[i];
    }
    result.otherMethod = false;
    return result;
  }
  return result;
}

std::set<std::string, std::less<>> Registry::permissionsFor(const std::vector<RoleGrant>& roles) const {
  std::set<std::string, std::less<>> granted;
  for (const auto& [name, permission] : permissions_) {
    for (const auto& grant : roles) {
      if (std::find(permission.roles.begin(), permission.roles.end(), grant.role) !=
          permission.roles.end()) {
        granted.insert(name);
        break;
      }
    }
  }
  return granted;
}

void PluginRegistrar::requireOpen(std::string_view what) const {
  if (!open_) {
    throw RegistrationError("plugin \"" + plugin_ + "\" tried to register " + std::string(what) +
                            " after load; register everything inside load()");
  }
}

void PluginRegistrar::addRoute(Route route) {
  requireOpen("route " + route.method + " " + route.pattern);
  registry_.addRoute(plugin_, std::move(route));
}
void PluginRegistrar::addMigration(Migration migration) {
  requireOpen("migration " + migration.id);
  registry_.addMigration(plugin_, std::move(migration));
}
void PluginRegistrar::addTemplate(std::string name, std::string source) {
  requireOpen("template " + name);
  registry_.addTemplate(plugin_, name, std::move(source));
}
void PluginRegistrar::addTemplates(const EmbeddedFile* files) {
  requireOpen("templates");
  for (; files && files->name; ++files) registry_.addTemplate(plugin_, files->name, files->text);
}
void PluginRegistrar::addPermission(Permission permission) {
  requireOpen("permission " + permission.name);
  registry_.addPermission(plugin_, std::move(permission));
}
void PluginRegistrar::addNavigationItem(NavigationItem item) {
  requireOpen("navigation item " + item.label);
  registry_.addNavigationItem(plugin_, std::move(item));
}
void PluginRegistrar::addHomeCards(HomeCardProvider provider) {
  requireOpen("home cards");
  registry_.addHomeCards(plugin_, std::move(provider));
}
void PluginRegistrar::addSetting(Setting setting) {
  requireOpen("setting " + setting.key);
  registry_.addSetting(plugin_, std::move(setting));
}
void PluginRegistrar::setPrivacyManifest(PrivacyManifest manifest) {
  requireOpen("a privacy manifest");
  registry_.setPrivacyManifest(plugin_, std::move(manifest));
}
void PluginRegistrar::addDemoData(std::function<void()> seed) {
  requireOpen("demo data");
  registry_.addDemoData(plugin_, std::move(seed));
}
void PluginRegistrar::addAnonymousMigration(Migration migration) {
  requireOpen("anonymous-store migration " + migration.id);
  registry_.addAnonymousMigration(plugin_, std::move(migration));
}
void PluginRegistrar::addCommand(Command command) {
  requireOpen("command " + command.name);
  registry_.addCommand(plugin_, std::move(command));
}

} // namespace belonging
