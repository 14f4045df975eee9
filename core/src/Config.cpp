#include "Config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace belonging {
namespace {

/** Reads one TOML table, checking types and refusing unknown keys. */
class SectionReader {
public:
  SectionReader(const std::filesystem::path& file, const toml::table& table, std::string name)
      : file_(file), table_(table), name_(std::move(name)) {}

  void integer(const char* key, auto& target, std::int64_t minimum, std::int64_t maximum, const std::string& why = {}) {
    const toml::node* node = take(key);
    if (!node) return;
    // Only ask an integer node for its value: toml++ converts a float such as 1e80 to int64
    // with undefined behaviour (found by tests/fuzz/ConfigFuzzer).
    const auto value = node->is_integer() ? node->value<std::int64_t>() : std::nullopt;
    if (!value || *value < minimum || *value > maximum) {
      fail(*node, key, "must be a whole number from " + std::to_string(minimum) + " to " +
                           std::to_string(maximum) + (why.empty() ? "" : " (" + why + ")"));
    }
    target = static_cast<std::remove_reference_t<decltype(target)>>(*value);
  }

  void oneOf(const char* key, int& target, const std::vector<int>& allowed, const std::string& why) {
    const toml::node* node = take(key);
    if (!node) return;
    const auto value = node->is_integer() ? node->value<std::int64_t>() : std::nullopt;
    if (!value || std::find(allowed.begin(), allowed.end(), *value) == allowed.end()) {
      std::string list;
      for (int choice : allowed) list += (list.empty() ? "" : ", ") + std::to_string(choice);
      fail(*node, key, "must be one of " + list + " (" + why + ")");
    }
    target = static_cast<int>(*value);
  }

  void boolean(const char* key, bool& target) {
    const toml::node* node = take(key);
    if (!node) return;
    if (!node->is_boolean()) fail(*node, key, "must be true or false");
    target = *node->value<bool>();
  }

  void string(const char* key, std::string& target) {
    const toml::node* node = take(key);
    if (!node) return;
    if (!node->is_string()) fail(*node, key, "must be a string in quotes");
    target = *node->value<std::string>();
  }

  void path(const char* key, std::filesystem::path& target) {
    std::string text;
    string(key, text);
    if (!text.empty()) target = resolve(text);
  }

  void strings(const char* key, std::vector<std::string>& target) {
    const toml::node* node = take(key);
    if (!node) return;
    const toml::array* array = node->as_array();
    if (!array) fail(*node, key, "must be a list of strings, e.g. [\"a\", \"b\"]");
    target.clear();
    for (const toml::node& element : *array) {
      if (!element.is_string()) fail(element, key, "must contain only strings");
      target.push_back(*element.value<std::string>());
    }
  }

  /** Throws for any key that no reader call took. */
  void refuseUnknown(const std::set<std::string>& alsoAllowed = {}) {
    for (const auto& [key, node] : table_) {
      const std::string name(key.str());
      if (!taken_.contains(name) && !alsoAllowed.contains(name)) {
        fail(node, name, "is not a known setting in [" + name_ + "]");
      }
    }
  }

  std::filesystem::path resolve(const std::string& text) const {
    std::filesystem::path value(text);
    return value.is_absolute() ? value : (file_.parent_path() / value).lexically_normal();
  }

  [[noreturn]] void fail(const toml::node& node, std::string_view key, const std::string& what) const {
    std::ostringstream message;
    message << file_.string() << ":" << node.source().begin.line << ": " << name_ << "." << key
            << " " << what;
    throw ConfigError(message.str());
  }

private:
  const toml::node* take(const char* key) {
    taken_.insert(key);
    return table_.get(key);
  }

  const std::filesystem::path& file_;
  const toml::table& table_;
  std::string name_;
  std::set<std::string> taken_;
};

nlohmann::json toJson(const toml::node& node) {
  if (const auto* table = node.as_table()) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& [key, value] : *table) object[std::string(key.str())] = toJson(value);
    return object;
  }
  if (const auto* array = node.as_array()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& value : *array) list.push_back(toJson(value));
    return list;
  }
  if (node.is_string()) return *node.value<std::string>();
  if (node.is_integer()) return *node.value<std::int64_t>();
  if (node.is_floating_point()) return *node.value<double>();
  if (node.is_boolean()) return *node.value<bool>();
  // Dates and times: kept as their TOML text.
  return node.visit([](const auto& value) {
    std::ostringstream text;
    if constexpr (toml::is_date<decltype(value)> || toml::is_time<decltype(value)> ||
                  toml::is_date_time<decltype(value)>) {
      text << value;
    }
    return text.str();
  });
}

const toml::table& sectionOf(const std::filesystem::path& file, const toml::table& root,
                             const char* name) {
  static const toml::table kEmpty;
  const toml::node* node = root.get(name);
  if (!node) return kEmpty;
  if (!node->is_table()) {
    throw ConfigError(file.string() + ":" + std::to_string(node->source().begin.line) + ": " +
                      name + " must be a section, written [" + name + "]");
  }
  return *node->as_table();
}

} // namespace

Config Config::defaults(const std::filesystem::path& baseDirectory) {
  Config config;
  config.database.url = "sqlite:" + (baseDirectory / "data" / "belonging.db").string();
  config.server.staticDir = baseDirectory / "web" / "static";
  if (const char* secret = std::getenv("BELONGING_SSO_SECRET")) config.sso.secret = secret;
  return config;
}

Config Config::load(const std::filesystem::path& path) {
  std::ifstream stream(path);
  if (!stream) throw ConfigError(path.string() + ": cannot read the configuration file");
  toml::table root;
  try {
    root = toml::parse(stream, path.string());
  } catch (const toml::parse_error& error) {
    throw ConfigError(path.string() + ":" + std::to_string(error.source().begin.line) + ": " +
                      std::string(error.description()));
  }

  const std::filesystem::path absolute = std::filesystem::absolute(path).lexically_normal();
  Config config = defaults(absolute.parent_path().parent_path());
  config.file = absolute;
  config.plugins.sourceFile = path.string();

  for (const auto& [key, node] : root) {
    static const std::set<std::string> kSections{"server", "database", "sessions", "signin",
                                                 "sso",    "log",      "plugins", "disclosure"};
    if (!kSections.contains(std::string(key.str()))) {
      throw ConfigError(path.string() + ":" + std::to_string(node.source().begin.line) + ": [" +
                        std::string(key.str()) + "] is not a known section");
    }
  }

  SectionReader server(absolute, sectionOf(path, root, "server"), "server");
  std::string listen;
  server.string("listen", listen);
  if (!listen.empty()) {
    const auto colon = listen.rfind(':');
    int port = -1;
    if (colon != std::string::npos) {
      try {
        std::size_t used = 0;
        port = std::stoi(listen.substr(colon + 1), &used);
        if (used != listen.size() - colon - 1) port = -1;
      } catch (const std::exception&) {
        port = -1;
      }
    }
    if (colon == std::string::npos || port < 0 || port > 65535) {
      throw ConfigError(path.string() + ": server.listen must be HOST:PORT, e.g. \"127.0.0.1:8080\"");
    }
    config.server.host = listen.substr(0, colon);
    config.server.port = port;
  }
  server.integer("threads", config.server.threads, 2, 1024);
  server.integer("max_body_bytes", config.server.maxBodyBytes, 1024, 256LL << 20);
  server.integer("max_header_bytes", config.server.maxHeaderBytes, 1024, 65536);
  server.integer("request_timeout_seconds", config.server.requestTimeoutSeconds, 1, 300);
  server.integer("keep_alive_seconds", config.server.keepAliveSeconds, 1, 300);
  server.integer("max_connections", config.server.maxConnections, 16, 1000000);
  server.integer("max_connections_per_address", config.server.maxConnectionsPerAddress, 2, 1000000);
  server.path("static_dir", config.server.staticDir);
  server.boolean("secure_cookies", config.server.secureCookies);
  server.path("tls_certificate", config.server.tlsCertificate);
  server.path("tls_private_key", config.server.tlsPrivateKey);
  server.string("service_name", config.server.serviceName);
  server.string("organisation_name", config.server.organisationName);
  server.string("phase", config.server.phase);
  server.refuseUnknown();

  SectionReader database(absolute, sectionOf(path, root, "database"), "database");
  std::string url;
  database.string("url", url);
  if (url.starts_with("sqlite:")) {
    // A relative SQLite path means relative to the config file, like every other path here.
    url = "sqlite:" + database.resolve(url.substr(7)).string();
  }
  if (!url.empty()) config.database.url = url;
  std::string anonymousUrl;
  database.string("anonymous_url", anonymousUrl);
  if (anonymousUrl.starts_with("sqlite:")) anonymousUrl = "sqlite:" + database.resolve(anonymousUrl.substr(7)).string();
  config.database.anonymousUrl = anonymousUrl;
  database.integer("pool_size", config.database.poolSize, 1, 256);
  database.refuseUnknown();

  SectionReader sessions(absolute, sectionOf(path, root, "sessions"), "sessions");
  sessions.integer("idle_minutes", config.sessions.idleMinutes, 1, 24 * 60);
  sessions.integer("absolute_hours", config.sessions.absoluteHours, 1, 24 * 7);
  sessions.refuseUnknown();

  SectionReader signin(absolute, sectionOf(path, root, "signin"), "signin");
  signin.integer("max_failures_per_account", config.signin.maxFailuresPerAccount, 1, 1000);
  signin.integer("max_failures_per_address", config.signin.maxFailuresPerAddress, 1, 100000);
  signin.integer("window_minutes", config.signin.windowMinutes, 1, 24 * 60);
  signin.refuseUnknown();

  SectionReader sso(absolute, sectionOf(path, root, "sso"), "sso");
  sso.boolean("enabled", config.sso.enabled);
  sso.string("user_header", config.sso.userHeader);
  sso.string("display_name_header", config.sso.displayNameHeader);
  sso.string("secret_header", config.sso.secretHeader);
  sso.string("secret", config.sso.secret);
  sso.strings("trusted_proxies", config.sso.trustedProxies);
  sso.boolean("auto_provision", config.sso.autoProvision);
  sso.refuseUnknown();
  if (config.sso.enabled && (config.sso.secret.size() < 16 || config.sso.trustedProxies.empty())) {
    throw ConfigError(path.string() + ": sso.enabled needs sso.trusted_proxies and a secret of at "
                      "least 16 characters (sso.secret or the BELONGING_SSO_SECRET variable)");
  }

  // No key here can turn protection off: the threshold has a floor, rounding and hiding zeros
  // only hide more (DESIGN §6).
  SectionReader disclosure(absolute, sectionOf(path, root, "disclosure"), "disclosure");
  disclosure.integer("threshold", config.disclosure.threshold, 5, 1000,
                     "a group of fewer than 5 people is too small to publish, whatever the setting");
  disclosure.oneOf("round", config.disclosure.roundTo, {0, 5, 10}, "0 turns rounding off");
  disclosure.boolean("show_zeros", config.disclosure.showZeros);
  disclosure.refuseUnknown();

  SectionReader log(absolute, sectionOf(path, root, "log"), "log");
  std::string accessLog;
  log.string("access_log", accessLog);
  if (!accessLog.empty()) {
    config.accessLog = (accessLog == "-" || accessLog == "off") ? accessLog
                                                               : log.resolve(accessLog).string();
  }
  log.refuseUnknown();

  const toml::table& pluginsTable = sectionOf(path, root, "plugins");
  SectionReader plugins(absolute, pluginsTable, "plugins");
  plugins.strings("enabled", config.plugins.enabled);
  plugins.strings("required", config.plugins.required);
  plugins.path("directory", config.plugins.directory);
  std::set<std::string> pluginSections;
  for (const auto& [key, node] : pluginsTable) {
    if (const auto* table = node.as_table()) {
      const std::string name(key.str());
      pluginSections.insert(name);
      PluginSection section;
      section.values = toJson(*table);
      for (const auto& [settingKey, settingNode] : *table) {
        section.lines[std::string(settingKey.str())] =
            static_cast<int>(settingNode.source().begin.line);
      }
      config.plugins.sections[name] = std::move(section);
    }
  }
  plugins.refuseUnknown(pluginSections);
  for (const auto& name : config.plugins.required) {
    if (std::find(config.plugins.enabled.begin(), config.plugins.enabled.end(), name) ==
        config.plugins.enabled.end()) {
      throw ConfigError(path.string() + ": plugins.required lists \"" + name +
                        "\", which is not in plugins.enabled");
    }
  }
  return config;
}

} // namespace belonging
