#include "TestServer.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace belonging::testing;

TEST_CASE("every subcommand has --help", "[integration][cli]") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"demo", "--help"},
        {"plugins", "--help"}, {"user", "add", "--help"}, {"user", "grant", "--help"},
        {"token", "create", "--help"}, {"token", "revoke", "--help"}}) {
    const auto result = runBelonging(args);
    INFO(args.front());
    CHECK(result.exitCode == 0);
    CHECK(result.out.find("Usage") != std::string::npos);
  }
  CHECK(runBelonging({"frobnicate"}).exitCode == 2);
}

TEST_CASE("a malformed config names file, line and key and exits 2", "[integration][cli][config]") {
  TempDirectory directory;
  const auto path = directory / "bad.toml";
  std::ofstream(path) << "[server]\nlisten = \"127.0.0.1:0\"\nthreads = \"lots\"\n";
  auto result = runBelonging({"--config", path.string(), "migrate"});
  CHECK(result.exitCode == 2);
  CHECK(result.err.find(path.string() + ":3: server.threads must be a whole number") != std::string::npos);

  std::ofstream(path) << "[server\nlisten = 1\n";
  result = runBelonging({"--config", path.string(), "serve"});
  CHECK(result.exitCode == 2);
  CHECK(result.err.find(path.string() + ":1:") != std::string::npos);
}

TEST_CASE("an unreachable database is a clear error at start", "[integration][cli][database]") {
  TempDirectory directory;
  auto sqlite = runBelonging({"--database", "sqlite:/proc/no/such/dir/b.db", "migrate"});
  CHECK(sqlite.exitCode == 1);
  CHECK(sqlite.err.find("database error: cannot open the database (sqlite)") != std::string::npos);
  auto postgres = runBelonging({"--database", "host=127.0.0.1 port=1 dbname=x connect_timeout=2", "serve"});
  CHECK(postgres.exitCode == 1);
  CHECK(postgres.err.find("database error: cannot open the database (postgresql)") != std::string::npos);
  auto nonsense = runBelonging({"--database", "mysql://x", "migrate"});
  CHECK(nonsense.exitCode == 1);
  CHECK(nonsense.err.find("is not understood") != std::string::npos);
}

TEST_CASE("plugins lists each plugin with version, ABI and status", "[integration][cli][plugins]") {
  ServerOptions options;
  options.plugins = {"admin", "fixture_good", "fixture_wrong_abi"};
  TestServer server(options);
  const auto result = server.cli({"plugins"});
  CHECK(result.exitCode == 0);
  CHECK(result.out.find("admin") != std::string::npos);
  CHECK(result.out.find("fixture_good         1.2.3      1.3   loaded") != std::string::npos);
  CHECK(result.out.find("fixture_wrong_abi    9.9.9      99.0  failed: plugin \"fixture_wrong_abi\" 9.9.9 was built for plugin ABI 99.0") !=
        std::string::npos);
}

TEST_CASE("a required plugin that cannot load stops the server naming it", "[integration][cli][plugins]") {
  TempDirectory directory;
  const auto path = directory / "belonging.toml";
  std::ofstream(path) << "[database]\nurl = \"sqlite:" << (directory / "b.db").string()
                      << "\"\n[plugins]\nenabled = [\"networkz\"]\nrequired = [\"networkz\"]\n";
  const auto result = runBelonging({"--config", path.string(), "serve"});
  CHECK(result.exitCode == 1);
  CHECK(result.err.find("plugin \"networkz\" is not installed") != std::string::npos);
}

TEST_CASE("user management and demo safety", "[integration][cli][accounts]") {
  ServerOptions options;
  options.seedDemo = false;
  TestServer server(options);
  auto added = server.cli({"user", "add", "matron", "--display-name", "Ward Matron", "--password-stdin"},
                          "a-long-enough-password\n");
  REQUIRE(added.exitCode == 0);
  CHECK(server.cli({"user", "add", "matron"}).err.find("already exists") != std::string::npos);
  CHECK(server.cli({"user", "add", "x"}).exitCode == 2);
  CHECK(server.cli({"user", "add", "weak", "--password-stdin"}, "short\n").err.find("at least 12") != std::string::npos);
  CHECK(server.cli({"user", "grant", "matron", "people-analyst"}).exitCode == 0);
  auto badRole = server.cli({"user", "grant", "matron", "superuser"});
  CHECK(badRole.exitCode == 2);
  CHECK(badRole.err.find("\"superuser\" is not a role") != std::string::npos);
  CHECK(server.cli({"user", "grant", "nobody", "admin"}).err.find("there is no user called \"nobody\"") != std::string::npos);

  Browser browser(server.port());
  REQUIRE(browser.signIn("matron", "a-long-enough-password") == 303);
  CHECK(navigationLabels(browser.get("/")->body) == std::vector<std::string>{"Home", "Fixture secret"});
  CHECK(server.cli({"user", "revoke", "matron", "people-analyst"}).exitCode == 0);
  CHECK(navigationLabels(browser.get("/")->body) == std::vector<std::string>{"Home"});

  // With a real account present, demo data is refused: it would add known passwords.
  auto demo = server.cli({"demo"});
  CHECK(demo.exitCode == 2);
  CHECK(demo.err.find("this database holds real accounts") != std::string::npos);
}

TEST_CASE("demo is idempotent", "[integration][cli][accounts]") {
  TestServer server;
  CHECK(server.cli({"demo"}).exitCode == 0);
  CHECK(server.cli({"demo"}).exitCode == 0);
  Browser browser(server.port());
  CHECK(browser.signIn("analyst") == 303);
}

TEST_CASE("global options work after the subcommand, as scripts/run uses them", "[integration][cli]") {
  TempDirectory directory;
  const std::string url = "sqlite:" + (directory / "b.db").string();
  CHECK(runBelonging({"migrate", "--database", url}).exitCode == 0);
  const auto listed = runBelonging({"plugins", "--database", url});
  CHECK(listed.exitCode == 0);
  CHECK(listed.out.find("NAME") != std::string::npos);
}
