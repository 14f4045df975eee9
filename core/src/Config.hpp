#pragma once
// Configuration read from TOML. Every problem is reported as "FILE:LINE: key: what is wrong",
// because an operator fixing a config on a server has only the message to go on.

#include <belonging/Disclosure.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace belonging {

/** A configuration problem; what() names the file, line and key. */
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 48;            ///< Worker threads: requests in progress at once (idle connections hold none).
  std::int64_t maxBodyBytes = 1 << 20;
  std::int64_t maxHeaderBytes = 8192;
  int requestTimeoutSeconds = 10;     ///< Whole-request deadline: headers and body, from the first byte.
  int keepAliveSeconds = 5;           ///< An idle keep-alive connection is closed after this.
  int maxConnections = 4096;          ///< Open connections in all; the oldest idle one makes way.
  int maxConnectionsPerAddress = 64;  ///< Per client address (trusted proxies exempt).
  std::filesystem::path staticDir;
  bool secureCookies = false;  ///< Forced on when TLS is configured.
  std::filesystem::path tlsCertificate;
  std::filesystem::path tlsPrivateKey;
  std::string serviceName = "Belonging";
  std::string organisationName;
  std::string phase = "beta";

  /** Whether browsers reach us over TLS (directly or via a proxy): cookies get Secure, HSTS is sent. */
  bool tlsInFront() const { return secureCookies || !tlsCertificate.empty(); }
};

struct DatabaseConfig {
  std::string url;
  /** The anonymous store; empty: derived from `url` (anonymousStoreUrl). */
  std::string anonymousUrl;
  int poolSize = 16;
};

struct SessionConfig {
  int idleMinutes = 30;
  int absoluteHours = 12;
};

struct SigninConfig {
  int maxFailuresPerAccount = 5;
  int maxFailuresPerAddress = 20;
  int windowMinutes = 15;
};

struct SsoConfig {
  bool enabled = false;
  std::string userHeader = "X-Remote-User";
  std::string displayNameHeader;
  std::string secretHeader = "X-Belonging-Proxy-Secret";
  std::string secret;          ///< Or from the environment variable BELONGING_SSO_SECRET.
  std::vector<std::string> trustedProxies;
  bool autoProvision = false;  ///< Create unknown users as staff on first sign-in.
};

/** A plugin's own [plugins.<name>] section, with the line of each key for error messages. */
struct PluginSection {
  nlohmann::json values = nlohmann::json::object();
  std::map<std::string, int> lines;
};

struct PluginsConfig {
  std::vector<std::string> enabled{"admin"};
  std::vector<std::string> required{"admin"};
  std::filesystem::path directory; ///< Empty: "plugins" beside the executable.
  std::map<std::string, PluginSection> sections;
  std::string sourceFile = "(defaults)"; ///< The config file, for error messages.
};

struct Config {
  std::filesystem::path file; ///< Empty when running on built-in defaults.
  ServerConfig server;
  DatabaseConfig database;
  SessionConfig sessions;
  SigninConfig signin;
  SsoConfig sso;
  std::string accessLog = "-"; ///< "-" for standard output, "off", or a file path.
  PluginsConfig plugins;
  DisclosurePolicy disclosure; ///< [disclosure]: threshold (>= 5), round (0, 5, 10), show_zeros.

  /** Reads `path`; throws ConfigError. */
  static Config load(const std::filesystem::path& path);
  /** Built-in defaults, with relative paths resolved against `baseDirectory`. */
  static Config defaults(const std::filesystem::path& baseDirectory);
};

} // namespace belonging
