#include "TestServer.hpp"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <regex>

using namespace belonging::testing;

TEST_CASE("an anonymous route sees no identity and is logged without address or time", "[integration][anonymous]") {
  TestServer server;
  Browser browser(server.port());
  REQUIRE(browser.signIn("staff") == 303);
  // Even a signed-in browser that sends its cookies is anonymous here.
  auto result = browser.post("/fixture/anonymous", {{"answer", "yes"}}, {{"X-Forwarded-For", "10.1.2.3"}});
  REQUIRE(result);
  REQUIRE(result->status == 200);
  const auto seen = nlohmann::json::parse(result->body);
  CHECK(seen["user"] == false);
  CHECK(seen["remoteAddress"] == "");
  CHECK(seen["requestId"] == "");
  CHECK(seen["cookie"] == "");
  CHECK(seen["auditRefused"] == true);
  CHECK(result->get_header_value("X-Request-Id").empty());
  CHECK(result->get_header_value("Set-Cookie").empty());

  server.stop();
  int anonymousLines = 0;
  std::istringstream lines(server.accessLog());
  for (std::string line; std::getline(lines, line);) {
    const auto entry = nlohmann::json::parse(line);
    if (entry.value("route", "") != "/fixture/anonymous") continue;
    ++anonymousLines;
    CHECK(entry.size() == 4); // date, method, route, status: nothing else.
    CHECK(std::regex_match(entry["date"].get<std::string>(), std::regex("\\d{4}-\\d{2}-\\d{2}")));
    CHECK_FALSE(entry.contains("remote_addr"));
    CHECK_FALSE(entry.contains("time"));
    CHECK_FALSE(entry.contains("request_id"));
    CHECK_FALSE(entry.contains("user_id"));
    CHECK(line.find("127.0.0.1") == std::string::npos);
  }
  CHECK(anonymousLines == 1);
}
