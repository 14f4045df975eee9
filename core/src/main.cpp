// The `belonging` command: one binary for serving, migrating, seeding and administration.

#include "Application.hpp"
#include "HttpServer.hpp"
#include "StoreSeparation.hpp"
#include "SuppressCommand.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <malloc.h>
#include <optional>
#include <pthread.h>
#include <set>
#include <thread>

using namespace belonging;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kDemoColleagues = 120;

struct GlobalOptions {
  std::string configPath;
  std::string databaseUrl;
};

Config loadConfig(const GlobalOptions& options) {
  Config config;
  if (!options.configPath.empty()) {
    config = Config::load(options.configPath);
  } else if (std::filesystem::exists("config/belonging.toml")) {
    config = Config::load("config/belonging.toml");
  } else {
    config = Config::defaults(std::filesystem::current_path());
  }
  if (!options.databaseUrl.empty()) config.database.url = options.databaseUrl;
  return config;
}

/**
 * glibc gives each busy thread its own heap arena, up to eight per core: with 48 workers that
 * is 16 arenas on a 2-core machine, each keeping its own freed pages. The 10-minute soak's RSS
 * grew 15.7% that way with no leak; two arenas per core (4 there) held it to 8.8%, levelling
 * off after 7 minutes, at 763 requests/s.
 * MALLOC_ARENA_MAX in the environment still wins.
 */
void limitHeapArenas() {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  mallopt(M_ARENA_MAX, static_cast<int>(std::min(2u * cores, 64u)));
}

int serve(const GlobalOptions& options, const std::string& listen) {
  limitHeapArenas();
  // Block the shutdown signals in every thread; one thread waits for them and stops the server.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Config config = loadConfig(options);
  if (!listen.empty()) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw ConfigError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
    config.server.host = listen.substr(0, colon);
    try {
      config.server.port = std::stoi(listen.substr(colon + 1));
    } catch (const std::exception&) {
      throw ConfigError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
    }
  }
  Application application(std::move(config));
  application.migrate();
  application.sessions->purgeExpired();
  HttpServer server(application);
  std::thread waiter([&server, signals] {
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
  });
  const bool tls = !application.config.server.tlsCertificate.empty();
  server.run(application.config.server.host, application.config.server.port, [&](int port) {
    std::printf("Belonging is ready at %s://%s:%d\n", tls ? "https" : "http",
                application.config.server.host.c_str(), port);
    std::fflush(stdout);
  });
  // Stopped by a signal, or the listener failed: wake the waiter so it can be joined.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  application.logger.info("stopped");
  return 0;
}

std::string readPasswordFromStdin() {
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

void seedDemo(Application& application) {
  if (application.accounts->hasRealAccounts()) {
    throw AccountError("this database holds real accounts; demo data is only for a database "
                       "with no accounts or only demo ones");
  }
  struct DemoUser {
    const char* username;
    const char* displayName;
    const char* role;
    const char* scope;
  };
  // The chair's scope names the LGBTQ+ network that the networks plugin's demo data creates.
  const DemoUser users[] = {{"staff", "Sam Staff (demo)", "staff", ""},
                            {"chair", "Charlie Chair (demo)", "network-chair", "lgbtq"},
                            {"champion", "Chris Champion (demo)", "champion", ""},
                            {"guardian", "Gabi Guardian (demo)", "ftsu-guardian", ""},
                            {"analyst", "Ana Analyst (demo)", "people-analyst", ""},
                            {"admin", "Ali Admin (demo)", "admin", ""},
                            {"sponsor", "Sasha Sponsor (demo)", "staff", ""}};
  for (const DemoUser& user : users) {
    if (!application.accounts->findByUsername(user.username)) {
      application.accounts->addUser(user.username, user.displayName, std::string("belonging-demo"), true);
    }
    application.accounts->grant(user.username, user.role, user.scope);
  }
  // Colleagues who cannot sign in (no password) so that plugins' demo figures have enough
  // people to pass disclosure control: a demo where every count is "fewer than 11" shows little.
  for (int number = 1; number <= kDemoColleagues; ++number) {
    char username[32], displayName[48];
    std::snprintf(username, sizeof(username), "colleague%03d", number);
    std::snprintf(displayName, sizeof(displayName), "Demo Colleague %d", number);
    if (!application.accounts->userByUsername(username)) {
      application.accounts->addUser(username, displayName, std::nullopt, true);
    }
  }
  for (const auto& [plugin, seed] : application.registry.demoData()) seed();
}

/** `belonging move-anonymous-schema`: the one way out of the pre-v2 PostgreSQL layout. */
int moveAnonymousSchema(Application& application) {
  const LegacyMoveReport report = moveLegacyAnonymousSchema(*application.database, *application.anonymousDatabase,
                                                            application.registry.anonymousMigrations());
  if (!report.found) {
    std::printf("The identified database has no tables in the schema %s: nothing to move.\n", kLegacyAnonymousSchema);
    return 0;
  }
  std::string moved;
  for (const auto& [table, rows] : report.tables) {
    std::printf("  %-40s %lld rows\n", table.c_str(), static_cast<long long>(rows));
    moved += (moved.empty() ? "" : ", ") + table + " (" + std::to_string(rows) + ")";
  }
  try {
    application.audit->recordAs("cli", "anonymous-store.move", std::string("schema:") + kLegacyAnonymousSchema, moved);
  } catch (const std::exception& error) {
    // The move itself is committed: say so rather than report a failure.
    std::fprintf(stderr, "belonging: the move is complete, but its audit record could not be written: %s\n", error.what());
  }
  std::printf(report.alreadyCopied
                  ? "The anonymous store's own database already held an exact copy (an earlier move stopped before "
                    "the end); the schema %s is now dropped from the identified database.\n"
                  : "Copied into the anonymous store's own database in one transaction, checked every row, and "
                    "dropped the schema %s from the identified database.\n",
              kLegacyAnonymousSchema);
  return 0;
}

const std::set<std::string, std::less<>> kCoreCommands{"serve", "migrate", "demo", "plugins", "user", "token", "suppress",
                                                         "move-anonymous-schema"};

/**
 * A plugin's subcommand (`belonging experience codes …`): the core parses only the global
 * options before it, since which commands exist depends on the plugins the config enables.
 * Returns std::nullopt when argv names a core subcommand (or none), for CLI11 to parse.
 */
std::optional<int> runPluginCommand(int argc, char** argv) {
  GlobalOptions options;
  int at = 1;
  for (; at < argc; ++at) {
    const std::string_view argument = argv[at];
    std::string* target = argument == "--config" ? &options.configPath
                          : argument == "--database" ? &options.databaseUrl
                                                     : nullptr;
    if (target) {
      if (at + 1 >= argc) return std::nullopt; // CLI11 reports the missing value.
      *target = argv[++at];
      continue;
    }
    if (argument.starts_with("--config=")) { options.configPath = argument.substr(9); continue; }
    if (argument.starts_with("--database=")) { options.databaseUrl = argument.substr(11); continue; }
    break;
  }
  if (at >= argc) return std::nullopt;
  const std::string name = argv[at];
  if (name.starts_with("-") || kCoreCommands.contains(name)) return std::nullopt;
  Application application(loadConfig(options));
  application.logger.setQuiet(true);
  const auto found = application.registry.commands().find(name);
  if (found == application.registry.commands().end()) {
    std::string known;
    for (const auto& command : kCoreCommands) known += " " + command;
    for (const auto& [command, entry] : application.registry.commands()) known += " " + command;
    std::fprintf(stderr, "belonging: unknown command \"%s\"; commands are:%s\n", name.c_str(), known.c_str());
    return kExitUsage;
  }
  application.migrate();
  return found->second.second.run(std::vector<std::string>(argv + at + 1, argv + argc));
}

} // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Belonging: staff networks, rosters, speaking up and anonymous staff experience "
               "for NHS organisations"};
  cli.require_subcommand(1);
  // Global options work before or after the subcommand: `belonging migrate --config X`.
  cli.fallthrough();
  GlobalOptions options;
  cli.add_option("--config", options.configPath, "Configuration file (default: config/belonging.toml if present)");
  cli.add_option("--database", options.databaseUrl,
                 "Database: sqlite:PATH or a PostgreSQL connection string (overrides the config)");
  cli.set_version_flag("--version", BELONGING_VERSION);
  cli.footer("Enabled plugins add commands of their own, e.g. `belonging experience --help`.");

  std::string listen;
  auto* serveCommand = cli.add_subcommand("serve", "Serve the portal over HTTP");
  serveCommand->add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free one)");
  auto* migrateCommand = cli.add_subcommand("migrate", "Apply pending database migrations");
  auto* demoCommand = cli.add_subcommand("demo", "Create the demo sign-ins and data (idempotent)");
  auto* pluginsCommand = cli.add_subcommand("plugins", "List the enabled plugins and whether they load");
  auto* moveCommand = cli.add_subcommand(
      "move-anonymous-schema",
      "Move a PostgreSQL anonymous store kept before v2 in the schema belonging_anonymous of the identified "
      "database into its own database (stop every instance first)");

  auto* userCommand = cli.add_subcommand("user", "Manage local accounts");
  userCommand->require_subcommand(1);
  std::string username, displayName, role, scope;
  bool passwordFromStdin = false;
  auto* userAdd = userCommand->add_subcommand("add", "Create an account (with the staff role)");
  userAdd->add_option("USERNAME", username, "Username")->required();
  userAdd->add_option("--display-name", displayName, "Name shown in the portal");
  userAdd->add_flag("--password-stdin", passwordFromStdin,
                    "Read a password from standard input (otherwise the account signs in by SSO only)");
  auto* userDisable = userCommand->add_subcommand("disable", "Disable an account and end its sessions and tokens");
  userDisable->add_option("USERNAME", username, "Username")->required();
  auto* userGrant = userCommand->add_subcommand("grant", "Grant a role");
  auto* userRevoke = userCommand->add_subcommand("revoke", "Revoke a role");
  for (auto* command : {userGrant, userRevoke}) {
    command->add_option("USERNAME", username, "Username")->required();
    command->add_option("ROLE", role, "staff, network-chair, role-lead, champion, ftsu-guardian, people-analyst or admin")->required();
    command->add_option("--scope", scope, "Limit the role to one network or role type");
  }

  auto* tokenCommand = cli.add_subcommand("token", "Manage API bearer tokens for tools");
  tokenCommand->require_subcommand(1);
  std::vector<std::string> scopes{"signed-in"};
  std::string label = "api";
  int days = 90;
  std::int64_t tokenId = 0;
  auto* tokenCreate = tokenCommand->add_subcommand("create", "Create a token; prints it once on standard output");
  tokenCreate->add_option("--user", username, "The user the token acts as")->required();
  tokenCreate->add_option("--scope", scopes, "Permissions the token may use (repeat); \"signed-in\" for pages any user may see")
      ->capture_default_str();
  tokenCreate->add_option("--days", days, "Days until it expires (1–366)")->capture_default_str();
  tokenCreate->add_option("--label", label, "What the token is for")->capture_default_str();
  auto* tokenRevoke = tokenCommand->add_subcommand("revoke", "Revoke a token by id");
  tokenRevoke->add_option("ID", tokenId, "Token id, as printed by token create")->required();

  SuppressOptions suppressOptions;
  auto* suppressCommand = cli.add_subcommand(
      "suppress", "Hide small counts in a CSV table, and any cell that would reveal them by subtraction");
  suppressCommand->add_option("INPUT", suppressOptions.input,
                               "CSV: first row column labels, first column row labels, optional total row and column "
                               "(labelled Total, Grand Total or All, in any case, or as --total-label says)")
      ->required();
  suppressCommand->add_option("-o,--output", suppressOptions.output, "Write here instead of standard output");
  suppressCommand->add_option("--threshold", suppressOptions.threshold, "k: counts 1 to k-1 are hidden (at least 5)")
      ->capture_default_str();
  suppressCommand->add_option("--round", suppressOptions.round, "5 or 10: round released counts to the nearest 5 or 10");
  suppressCommand->add_flag("--hide-zeros", suppressOptions.hideZeros, "Show counts of 0 as * too");
  suppressCommand->add_option("--format", suppressOptions.format, "csv (hidden cells as *) or json (hidden cells as value null)");
  suppressCommand->add_option("--total-label", suppressOptions.totalLabels,
                              "Another label of a total row or column (any case); repeat for more")
      ->allow_extra_args(false); // One label per --total-label, so the INPUT after it stays INPUT.
  suppressCommand->add_option("--totals", suppressOptions.totals, "auto: release the totals the input has; none: release none")
      ->capture_default_str();

  try {
    if (const auto code = runPluginCommand(argc, argv)) return *code;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "belonging: %s\n", error.what());
    return kExitFailure;
  }

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = cli.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }

  try {
    if (serveCommand->parsed()) return serve(options, listen);
    // Needs no database or plugins: a People team can run it on any table.
    if (suppressCommand->parsed()) return runSuppress(suppressOptions, std::cerr);

    Application application(loadConfig(options));
    application.logger.setQuiet(true);
    if (pluginsCommand->parsed()) {
      std::printf("%-20s %-10s %-5s %s\n", "NAME", "VERSION", "ABI", "STATUS");
      for (const auto& status : application.plugins->statuses()) {
        std::printf("%-20s %-10s %-5s %s\n", status.name.c_str(), status.version.c_str(),
                    status.abi.c_str(), status.status.c_str());
      }
      return 0;
    }
    // Before migrate(), which refuses to run while the old schema is there.
    if (moveCommand->parsed()) return moveAnonymousSchema(application);
    application.migrate();
    if (migrateCommand->parsed()) {
      std::printf("The database is up to date.\n");
    } else if (demoCommand->parsed()) {
      seedDemo(application);
      std::printf("Demo sign-ins: staff, chair, champion, guardian, analyst, admin, sponsor (password: belonging-demo)\n");
    } else if (userAdd->parsed()) {
      std::optional<std::string> password;
      if (passwordFromStdin) password = readPasswordFromStdin();
      application.accounts->addUser(username, displayName, password);
      application.audit->recordAs("cli", "user.add", "user:" + username);
      std::printf("Created user %s.\n", username.c_str());
    } else if (userDisable->parsed()) {
      application.accounts->disable(username);
      // The privacy manifests promise that what plugins keep about a person (network
      // memberships…) goes when their account is disabled.
      const auto erased = application.eraseUserData(application.accounts->userByUsername(username)->id);
      application.audit->recordAs("cli", "user.disable", "user:" + username, "erased data held by: " + erased);
      std::printf("Disabled %s, ended their sessions and tokens, and erased what these hold about them: %s.\n",
                  username.c_str(), erased.c_str());
    } else if (userGrant->parsed()) {
      application.accounts->grant(username, role, scope);
      application.audit->recordAs("cli", "role.grant", "user:" + username, role + (scope.empty() ? "" : " for " + scope));
      std::printf("Granted %s to %s.\n", role.c_str(), username.c_str());
    } else if (userRevoke->parsed()) {
      application.accounts->revoke(username, role, scope);
      application.audit->recordAs("cli", "role.revoke", "user:" + username, role + (scope.empty() ? "" : " for " + scope));
      std::printf("Revoked %s from %s.\n", role.c_str(), username.c_str());
    } else if (tokenCreate->parsed()) {
      for (const auto& wanted : scopes) {
        if (wanted != kSignedIn && !application.registry.permissions().contains(wanted)) {
          throw AccountError("scope \"" + wanted + "\" is not a permission any enabled plugin registers");
        }
      }
      const auto token = application.accounts->createToken(username, label, scopes, days);
      application.audit->recordAs("cli", "token.create", "user:" + username,
                                  "token " + std::to_string(token.id) + " (" + label + ")");
      std::fprintf(stderr, "Token %lld for %s expires in %d days. It is shown only once:\n",
                   static_cast<long long>(token.id), username.c_str(), days);
      std::printf("%s\n", token.secret.c_str());
    } else if (tokenRevoke->parsed()) {
      application.accounts->revokeToken(tokenId);
      application.audit->recordAs("cli", "token.revoke", "token:" + std::to_string(tokenId));
      std::printf("Revoked token %lld.\n", static_cast<long long>(tokenId));
    }
    return 0;
  } catch (const ConfigError& error) {
    std::fprintf(stderr, "belonging: configuration error: %s\n", error.what());
    return kExitUsage;
  } catch (const AccountError& error) {
    std::fprintf(stderr, "belonging: %s\n", error.what());
    return kExitUsage;
  } catch (const DatabaseError& error) {
    std::fprintf(stderr, "belonging: database error: %s\n", error.what());
    return kExitFailure;
  } catch (const PluginError& error) {
    std::fprintf(stderr, "belonging: plugin error: %s\n", error.what());
    return kExitFailure;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "belonging: %s\n", error.what());
    return kExitFailure;
  }
}
