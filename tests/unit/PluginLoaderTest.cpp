#include "JsonLogger.hpp"
#include "MustacheRenderer.hpp"
#include "PluginLoader.hpp"
#include "SqlAuditLog.hpp"

#include "../TempDirectory.hpp"

#include <catch2/catch.hpp>

extern "C" const belonging_plugin_descriptor* belonging_plugin_entry_fixture_good(void);

using namespace belonging;

namespace {

/** Real services on a throwaway SQLite database, as the application would give plugins. */
struct LoaderEnvironment {
  testing::TempDirectory directory;
  JsonLogger logger;
  SociDatabase database{"sqlite:" + (directory / "test.db").string(), 1};
  Registry registry;
  MustacheRenderer renderer{registry, {}};
  SqlAuditLog audit{database};
  ReleaseLedger ledger{database};
  DisclosurePolicy policy;
  PluginLoader loader{registry, {&logger, &database, &renderer, &audit, &ledger, &policy, nullptr}, logger};

  LoaderEnvironment() {
    logger.setQuiet(true);
    // The core's own sign-in route, which a fixture tries to take.
    registry.addRoute("core", {"GET", "/signin", kPublic, false, false, [](const Request&, Response&) {}});
  }

  static PluginsConfig config(std::vector<std::string> enabled, std::vector<std::string> required = {}) {
    PluginsConfig config;
    config.enabled = std::move(enabled);
    config.required = std::move(required);
    config.directory = BELONGING_TEST_PLUGIN_DIR;
    return config;
  }
  std::string loadRequired(const std::string& name) {
    try {
      loader.loadAll(config({name}, {name}));
    } catch (const PluginError& error) {
      return error.what();
    }
    return "loaded";
  }
};

} // namespace

TEST_CASE("a good plugin loads and registers through the registrar", "[core][plugins]") {
  LoaderEnvironment environment;
  environment.loader.loadAll(LoaderEnvironment::config({"fixture_good"}));
  REQUIRE(environment.loader.statuses().size() == 1);
  const PluginStatus& status = environment.loader.statuses().front();
  CHECK(status.name == "fixture_good");
  CHECK(status.version == "1.2.3");
  CHECK(status.abi == "1.3");
  CHECK(status.status == "loaded");
  CHECK(environment.registry.match("GET", "/fixture/hello").route);
  CHECK(environment.registry.templates().contains("fixture_good/hello"));
  CHECK(environment.registry.permissions().contains("fixture.secret"));
  CHECK(environment.registry.hasPrivacyManifest("fixture_good"));
}

TEST_CASE("a wrong ABI major is refused naming the plugin and both versions", "[core][plugins]") {
  LoaderEnvironment environment;
  CHECK(environment.loadRequired("fixture_wrong_abi") ==
        "plugin \"fixture_wrong_abi\" 9.9.9 was built for plugin ABI 99.0; this host supports ABI "
        "1.3 (same major, minor up to 3): rebuild it against this SDK");
}

TEST_CASE("a different build signature is refused before load is called", "[core][plugins]") {
  LoaderEnvironment environment;
  const std::string message = environment.loadRequired("fixture_wrong_signature");
  CHECK_THAT(message, Catch::StartsWith("plugin \"fixture_wrong_signature\" 0.0.1 was built as "
                                        "\"othercc-1;c++201703;other-abi;plain;sdk-0.0\" but this host (ABI 1.3) was built as \"" +
                                        std::string(BELONGING_BUILD_SIGNATURE) + "\""));
}

TEST_CASE("a plugin that throws during load is reported and leaves nothing behind", "[core][plugins]") {
  LoaderEnvironment environment;
  CHECK(environment.loadRequired("fixture_throws") ==
        "plugin \"fixture_throws\" failed to load: fixture refused to load");
  CHECK_FALSE(environment.registry.match("GET", "/fixture/throws").route);
}

TEST_CASE("an optional plugin that fails is skipped and the others load", "[core][plugins]") {
  LoaderEnvironment environment;
  environment.loader.loadAll(LoaderEnvironment::config({"fixture_throws", "fixture_good"}));
  REQUIRE(environment.loader.statuses().size() == 2);
  CHECK(environment.loader.statuses()[0].status == "failed: plugin \"fixture_throws\" failed to load: fixture refused to load");
  CHECK(environment.loader.statuses()[1].status == "loaded");
}

TEST_CASE("a plugin registering a taken route fails naming the owner", "[core][plugins]") {
  LoaderEnvironment environment;
  CHECK(environment.loadRequired("fixture_duplicate_route") ==
        "plugin \"fixture_duplicate_route\" failed to load: plugin \"fixture_duplicate_route\" registers "
        "GET /signin, which plugin \"core\" already registered as /signin");
}

TEST_CASE("registering after load is an error", "[core][plugins]") {
  LoaderEnvironment environment;
  REQUIRE(environment.loadRequired("fixture_late") == "loaded");
  const auto match = environment.registry.match("GET", "/fixture/late");
  REQUIRE(match.route);
  Request request;
  Response response;
  CHECK_THROWS_WITH(match.route->route.handler(request, response),
                    "plugin \"fixture_late\" tried to register route GET /fixture/too-late after "
                    "load; register everything inside load()");
}

TEST_CASE("a plugin without a privacy manifest is refused", "[core][plugins]") {
  LoaderEnvironment environment;
  CHECK_THAT(environment.loadRequired("fixture_no_manifest"),
             Catch::Contains("declares no privacy manifest"));
  CHECK_FALSE(environment.registry.match("GET", "/fixture/no-manifest").route);
}

TEST_CASE("an unknown plugin names the missing file", "[core][plugins]") {
  LoaderEnvironment environment;
  CHECK_THAT(environment.loadRequired("no_such_plugin"),
             Catch::StartsWith("plugin \"no_such_plugin\" is not installed: there is no ") &&
                 Catch::EndsWith("no_such_plugin.so"));
}

TEST_CASE("plugin settings are validated against what the plugin registers", "[core][plugins]") {
  LoaderEnvironment environment;
  auto config = LoaderEnvironment::config({"fixture_good"});
  config.sourceFile = "belonging.toml";
  config.sections["fixture_good"].values = {{"greting", "hi"}};
  config.sections["fixture_good"].lines = {{"greting", 7}};
  CHECK_THROWS_WITH(environment.loader.loadAll(config),
                    "belonging.toml:7: plugins.fixture_good.greting is not a setting of plugin \"fixture_good\"");

  LoaderEnvironment typed;
  config.sections["fixture_good"].values = {{"greeting", 5}};
  config.sections["fixture_good"].lines = {{"greeting", 8}};
  CHECK_THROWS_WITH(typed.loader.loadAll(config),
                    "belonging.toml:8: plugins.fixture_good.greeting must be a string, like \"hello\"");
}

TEST_CASE("the same plugin sources link statically for unit tests", "[core][plugins]") {
  LoaderEnvironment environment;
  environment.loader.loadStatic(&belonging_plugin_entry_fixture_good, LoaderEnvironment::config({}));
  CHECK(environment.registry.match("GET", "/fixture/hello").route);
  CHECK(environment.loader.statuses().front().status == "loaded");
}
