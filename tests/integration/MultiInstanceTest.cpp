#include "TestServer.hpp"

#include <catch2/catch.hpp>

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
