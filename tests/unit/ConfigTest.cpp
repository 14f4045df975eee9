#include "Config.hpp"

#include "../TempDirectory.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace belonging;

namespace {
std::filesystem::path write(const testing::TempDirectory& dir, const std::string& text) {
  const auto path = dir / "belonging.toml";
  std::ofstream(path) << text;
  return path;
}
std::string errorFor(const testing::TempDirectory& dir, const std::string& text) {
  try {
    Config::load(write(dir, text));
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "no error";
}
} // namespace

TEST_CASE("a valid config is read, with paths relative to the file", "[core][config]") {
  testing::TempDirectory dir;
  const Config config = Config::load(write(dir, R"(
[server]
listen = "0.0.0.0:9090"
threads = 8
static_dir = "static"
[database]
url = "sqlite:db/b.db"
[plugins]
enabled = ["admin", "networks"]
required = ["admin"]
[plugins.networks]
consent_version = 2
)"));
  CHECK(config.server.host == "0.0.0.0");
  CHECK(config.server.port == 9090);
  CHECK(config.server.threads == 8);
  CHECK(config.server.staticDir == dir / "static");
  CHECK(config.database.url == "sqlite:" + (dir / "db/b.db").string());
  CHECK(config.plugins.enabled == std::vector<std::string>{"admin", "networks"});
  CHECK(config.plugins.sections.at("networks").values.at("consent_version") == 2);
  CHECK(config.plugins.sections.at("networks").lines.at("consent_version") == 12);
}

TEST_CASE("config errors name the file, the line and the key", "[core][config]") {
  testing::TempDirectory dir;
  const std::string file = (dir / "belonging.toml").string();
  CHECK(errorFor(dir, "[server]\nthreads = \"many\"\n") ==
        file + ":2: server.threads must be a whole number from 2 to 1024");
  CHECK(errorFor(dir, "[server]\n\nthreads = 0\n") ==
        file + ":3: server.threads must be a whole number from 2 to 1024");
  CHECK(errorFor(dir, "[sessions]\nidle_minuets = 5\n") ==
        file + ":2: sessions.idle_minuets is not a known setting in [sessions]");
  CHECK(errorFor(dir, "[server]\nlisten = \n") .starts_with(file + ":2: "));
  CHECK(errorFor(dir, "[serevr]\nlisten = \"x:1\"\n") == file + ":1: [serevr] is not a known section");
  CHECK(errorFor(dir, "[plugins]\nenabled = \"admin\"\n") ==
        file + ":2: plugins.enabled must be a list of strings, e.g. [\"a\", \"b\"]");
  CHECK(errorFor(dir, "[plugins]\nenabled = []\nrequired = [\"admin\"]\n") ==
        file + ": plugins.required lists \"admin\", which is not in plugins.enabled");
  CHECK(errorFor(dir, "[server]\nlisten = \"localhost\"\n").find("server.listen must be HOST:PORT") != std::string::npos);
  CHECK(errorFor(dir, "[sso]\nenabled = true\n").find("sso.enabled needs") != std::string::npos);
}

TEST_CASE("a missing config file is an error naming it", "[core][config]") {
  CHECK_THROWS_WITH(Config::load("/nonexistent/belonging.toml"),
                    "/nonexistent/belonging.toml: cannot read the configuration file");
}

TEST_CASE("the [disclosure] policy is read, and a threshold below 5 is refused", "[core][config][disclosure]") {
  testing::TempDirectory dir;
  const std::string file = (dir / "belonging.toml").string();
  const Config defaults = Config::load(write(dir, "[server]\n"));
  CHECK(defaults.disclosure.threshold == 11);
  CHECK(defaults.disclosure.roundTo == 0);
  CHECK(defaults.disclosure.showZeros);
  const Config config = Config::load(write(dir, "[disclosure]\nthreshold = 20\nround = 5\nshow_zeros = false\n"));
  CHECK(config.disclosure.threshold == 20);
  CHECK(config.disclosure.roundTo == 5);
  CHECK_FALSE(config.disclosure.showZeros);
  CHECK(errorFor(dir, "[disclosure]\nthreshold = 4\n") ==
        file + ":2: disclosure.threshold must be a whole number from 5 to 1000 (a group of fewer than 5 people "
               "is too small to publish, whatever the setting)");
  CHECK(errorFor(dir, "[disclosure]\nround = 3\n") == file + ":2: disclosure.round must be one of 0, 5, 10 (0 turns rounding off)");
  CHECK(errorFor(dir, "[disclosure]\nenabled = false\n") ==
        file + ":2: disclosure.enabled is not a known setting in [disclosure]");
}
