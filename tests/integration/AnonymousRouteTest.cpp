#include "TestServer.hpp"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

using namespace belonging::testing;

namespace {

std::vector<nlohmann::json> jsonLines(const std::string& text) {
  std::vector<nlohmann::json> entries;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) entries.push_back(nlohmann::json::parse(line));
  return entries;
}

/** Whether a log line mentions a path under /fixture/anonymous in any field. */
bool mentionsAnonymousRoute(const nlohmann::json& entry) {
  return entry.dump().find("/fixture/anonymous") != std::string::npos;
}

std::string rawExchange(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string reply;
  char buffer[4096];
  for (ssize_t got; (got = recv(fd, buffer, sizeof(buffer), 0)) > 0;) reply.append(buffer, static_cast<std::size_t>(got));
  close(fd);
  return reply;
}

} // namespace

TEST_CASE("an anonymous route sees no identity and leaves no access-log line, only the day's counts",
          "[integration][anonymous]") {
  TestServer server;
  Browser browser(server.port());
  REQUIRE(browser.signIn("staff") == 303);
  // Even a signed-in browser that sends its cookies is anonymous here.
  for (int i = 0; i < 3; ++i) {
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
    // An identified request between them, as token issuance would be.
    CHECK(browser.get("/healthz")->status == 200);
  }
  // Not UTF-8 in a JSON body: 400 from the core's boundary check.
  auto malformed = browser.client().Post("/fixture/anonymous", std::string("{\"a\":\"\xff\"}"), "application/json");
  REQUIRE(malformed);
  CHECK(malformed->status == 400);
  // Larger than max_body_bytes: 413 from the Content-Length, before the handler.
  auto large = browser.client().Post("/fixture/anonymous", std::string(2 * 1024 * 1024, 'x'), "application/octet-stream");
  REQUIRE(large);
  CHECK(large->status == 413);
  CHECK(browser.get("/healthz")->status == 200);

  // While the server runs: the identified requests are there, line by line; the anonymous ones are not.
  // A line is written just after its response is sent, so the last one may still be on its way.
  auto healthLines = [](const auto& lines) {
    return std::count_if(lines.begin(), lines.end(), [](const auto& entry) { return entry.value("path", "") == "/healthz"; });
  };
  auto during = jsonLines(server.accessLog());
  for (int wait = 0; wait < 50 && healthLines(during) < 4; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    during = jsonLines(server.accessLog());
  }
  CHECK(healthLines(during) == 4);
  for (const auto& entry : during) {
    INFO(entry.dump());
    CHECK_FALSE(mentionsAnonymousRoute(entry));
  }

  // A stopped server writes the partial day: one line per route, method and status, sorted.
  server.stop();
  const auto after = jsonLines(server.accessLog());
  REQUIRE(after.size() > during.size());
  for (std::size_t i = 0; i < during.size(); ++i) CHECK(after[i] == during[i]); // Only appended.
  std::vector<nlohmann::json> counts;
  for (const auto& entry : after) {
    if (mentionsAnonymousRoute(entry)) counts.push_back(entry);
  }
  const std::string today = counts.empty() ? "" : counts[0].value("date", "");
  CHECK(std::regex_match(today, std::regex("\\d{4}-\\d{2}-\\d{2}")));
  const std::vector<nlohmann::json> expected{
      {{"date", today}, {"route", "/fixture/anonymous"}, {"method", "POST"}, {"status", 200}, {"count", 3}},
      {{"date", today}, {"route", "/fixture/anonymous"}, {"method", "POST"}, {"status", 400}, {"count", 1}},
      {{"date", today}, {"route", "/fixture/anonymous"}, {"method", "POST"}, {"status", 413}, {"count", 1}}};
  CHECK(counts == expected);
  for (const auto& entry : counts) {
    CHECK(entry.dump().find("127.0.0.1") == std::string::npos);
    CHECK(entry.dump().find("10.1.2.3") == std::string::npos);
  }
}

TEST_CASE("errors on anonymous routes are counted for the day, never logged with a time", "[integration][anonymous]") {
  TestServer server;
  Browser browser(server.port());
  for (int i = 0; i < 2; ++i) {
    auto thrown = browser.post("/fixture/anonymous/throw", {});
    REQUIRE(thrown);
    CHECK(thrown->status == 500);
    CHECK(thrown->body.find("anonymous failure detail") == std::string::npos);
    CHECK(thrown->get_header_value("X-Request-Id").empty());
  }
  auto refused = browser.post("/fixture/anonymous/header", {});
  REQUIRE(refused);
  CHECK(refused->status == 500);
  CHECK_FALSE(refused->has_header("X-Fixture"));
  // What a plugin logs while serving an anonymous request is diverted by the core too.
  auto logged = browser.post("/fixture/anonymous/log", {});
  REQUIRE(logged);
  CHECK(logged->status == 200);
  // The same failure on an identified route is still logged with its request id.
  auto identified = browser.get("/fixture/throw");
  REQUIRE(identified);
  CHECK(identified->status == 500);

  server.stop();
  // The application log: the identified failure, and nothing of the anonymous ones.
  const std::string applicationLog = server.errorLog();
  CHECK(applicationLog.find(identified->get_header_value("X-Request-Id")) != std::string::npos);
  std::istringstream lines(applicationLog);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK(line.find("/fixture/anonymous") == std::string::npos);
    CHECK(line.find("anonymous failure detail") == std::string::npos);
    CHECK(line.find("unsafe response header") == std::string::npos);
    CHECK(line.find("anonymous route") == std::string::npos);
    CHECK(line.find("anonymous plugin log line") == std::string::npos);
  }
  // The access log: counts and error summaries with the date only.
  std::vector<nlohmann::json> anonymous;
  for (const auto& entry : jsonLines(server.accessLog())) {
    if (mentionsAnonymousRoute(entry)) anonymous.push_back(entry);
  }
  REQUIRE(anonymous.size() == 6);
  const std::string today = anonymous[0].value("date", "");
  const std::vector<nlohmann::json> expected{
      {{"date", today}, {"route", "/fixture/anonymous/header"}, {"method", "POST"}, {"status", 500}, {"count", 1}},
      {{"date", today}, {"route", "/fixture/anonymous/log"}, {"method", "POST"}, {"status", 200}, {"count", 1}},
      {{"date", today}, {"route", "/fixture/anonymous/throw"}, {"method", "POST"}, {"status", 500}, {"count", 2}},
      {{"date", today},
       {"route", "/fixture/anonymous/header"},
       {"method", "POST"},
       {"errors", {{"refused an unsafe response header x-fixture", 1}}}},
      {{"date", today}, {"route", "/fixture/anonymous/log"}, {"method", "POST"}, {"errors", {{"warning: anonymous plugin log line", 1}}}},
      {{"date", today}, {"route", "/fixture/anonymous/throw"}, {"method", "POST"}, {"errors", {{"anonymous failure detail", 2}}}}};
  CHECK(anonymous == expected);
}

TEST_CASE("a request cpp-httplib cannot route leaves no identified line naming an anonymous route",
          "[integration][anonymous]") {
  TestServer server;
  Browser browser(server.port());
  // Warm each worker with an identified request, so a stale per-thread state would show.
  for (int i = 0; i < 16; ++i) CHECK(browser.get("/healthz")->status == 200);
  // Two '?' in the target: cpp-httplib parses the path, then refuses the line without routing it.
  for (int i = 0; i < 4; ++i) {
    const std::string reply = rawExchange(server.port(), "POST /fixture/anonymous?a?b HTTP/1.1\r\nHost: x\r\n"
                                                         "Content-Length: 0\r\nConnection: close\r\n\r\n");
    CHECK(reply.starts_with("HTTP/1.1 "));
  }
  const auto during = jsonLines(server.accessLog());
  for (const auto& entry : during) {
    INFO(entry.dump());
    CHECK_FALSE(mentionsAnonymousRoute(entry));
  }
  CHECK(browser.get("/healthz")->status == 200);
}
