#include "TestServer.hpp"

#include <catch2/catch.hpp>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <cstdlib>
#include <regex>
#include <thread>
#include <vector>

using namespace belonging::testing;

TEST_CASE("two instances on one database share sessions", "[integration][multi-instance]") {
  TestServer first;
  TestServer second(first, true);
  REQUIRE(first.port() != second.port());

  Browser viaFirst(first.port());
  REQUIRE(viaFirst.signIn("chair") == 303);
  Browser viaSecond(second.port());
  viaSecond.setCookie("belonging_session", viaFirst.cookie("belonging_session"));
  auto home = viaSecond.get("/");
  REQUIRE(home->status == 200);
  CHECK(home->body.find("Charlie Chair") != std::string::npos);

  // A form rendered by one instance is accepted by the other (CSRF secret shared too)…
  viaSecond.get("/account");
  CHECK(viaSecond.submit("/signout", {})->status == 303);
  // …and signing out there ends the session everywhere.
  CHECK(viaFirst.get("/")->status == 303);
}

TEST_CASE("instances starting together create the anonymous database once", "[integration][multi-instance]") {
  TestServer first;
  if (!first.isPostgresql()) {
    SUCCEED("SQLite: the anonymous store is a file, created by whichever opens it first");
    return;
  }
  first.stop();
  std::smatch match;
  const std::string anonymousUrl = first.anonymousDatabaseUrl();
  REQUIRE(std::regex_search(anonymousUrl, match, std::regex("dbname=(\\S+)")));
  const std::string name = match[1];
  {
    soci::session admin(soci::postgresql, std::getenv("BELONGING_TEST_DATABASE"));
    admin << "DROP DATABASE " + name + " WITH (FORCE)"; // A name TestServer generated.
  }
  // Four instances find it missing at the same moment; each creates it or sees another did.
  std::vector<CommandResult> results(4);
  std::vector<std::thread> starting;
  for (auto& result : results) starting.emplace_back([&first, &result] { result = first.cli({"migrate"}); });
  for (auto& thread : starting) thread.join();
  for (const auto& result : results) {
    INFO(result.err);
    CHECK(result.exitCode == 0);
  }
  soci::session admin(soci::postgresql, std::getenv("BELONGING_TEST_DATABASE"));
  std::int64_t count = 0;
  admin << "SELECT COUNT(*) FROM pg_database WHERE datname = :n", soci::use(name), soci::into(count);
  CHECK(count == 1);
  first.start();
}
