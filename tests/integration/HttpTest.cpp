#include "TestServer.hpp"

#include <nlohmann/json.hpp>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace belonging::testing;

namespace {
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

TEST_CASE("healthz reports status, version, database and plugins", "[integration][http]") {
  TestServer server;
  Browser browser(server.port());
  auto result = browser.get("/healthz");
  REQUIRE(result);
  CHECK(result->status == 200);
  const auto body = nlohmann::json::parse(result->body);
  CHECK(body["status"] == "ok");
  CHECK(body["version"] == "0.1.0");
  CHECK(body["database"] == (server.isPostgresql() ? "postgresql" : "sqlite"));
  CHECK(body["plugins"].size() == 2);
  CHECK(body["plugins"][0]["name"] == "admin");
}

TEST_CASE("every response carries the security headers", "[integration][http]") {
  TestServer server;
  Browser browser(server.port());
  for (const char* path : {"/signin", "/healthz", "/no-such-page", "/static/nhsuk.min.css"}) {
    auto result = browser.get(path);
    REQUIRE(result);
    INFO(path);
    const std::string csp = result->get_header_value("Content-Security-Policy");
    CHECK(csp.find("script-src 'self'") != std::string::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    CHECK(result->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(result->get_header_value("Referrer-Policy") == "no-referrer");
  }
  Browser fresh(server.port());
  auto page = fresh.get("/signin");
  CHECK(page->get_header_value("Cache-Control") == "no-store");
  CHECK(page->body.find("<script>") == std::string::npos);
  CHECK(page->get_header_value("Set-Cookie").find("HttpOnly; SameSite=Lax") != std::string::npos);
}

TEST_CASE("static assets are served with caching", "[integration][http]") {
  TestServer server;
  Browser browser(server.port());
  auto css = browser.get("/static/nhsuk.min.css");
  REQUIRE(css);
  CHECK(css->status == 200);
  CHECK(css->get_header_value("Cache-Control") == "public, max-age=86400");
  CHECK(browser.get("/static/../belonging.toml")->status != 200);
}

TEST_CASE("errors are pages from templates, never stack traces", "[integration][http]") {
  TestServer server;
  Browser browser(server.port());
  auto missing = browser.get("/no-such-page");
  CHECK(missing->status == 404);
  CHECK(missing->body.find("Page not found") != std::string::npos);
  CHECK(missing->body.find("nhsuk-header") != std::string::npos);

  auto wrongMethod = browser.post("/healthz", {});
  CHECK(wrongMethod->status == 405);

  auto failure = browser.get("/fixture/throw");
  CHECK(failure->status == 500);
  CHECK(failure->body.find("Sorry, there is a problem with the service") != std::string::npos);
  CHECK(failure->body.find("internal detail") == std::string::npos);
  const std::string requestId = failure->get_header_value("X-Request-Id");
  REQUIRE_FALSE(requestId.empty());
  CHECK(failure->body.find(requestId) != std::string::npos);
  // The detail goes to the log with the same reference, for the administrator.
  const std::string log = server.errorLog();
  CHECK(log.find(requestId) != std::string::npos);
  CHECK(log.find("internal detail that must not reach the user") != std::string::npos);
}

TEST_CASE("path parameters reach the handler", "[integration][http]") {
  TestServer server;
  Browser browser(server.port());
  auto result = browser.get("/fixture/items/a%20b");
  REQUIRE(result->status == 200);
  CHECK(nlohmann::json::parse(result->body)["id"] == "a b");
}

TEST_CASE("oversized and malformed requests are refused and the server keeps serving", "[integration][http]") {
  TestServer server;
  Browser browser(server.port());
  auto large = browser.client().Post("/signin", std::string(2 * 1024 * 1024, 'x'), "application/octet-stream");
  REQUIRE(large);
  CHECK(large->status == 413);

  // Headers over max_header_bytes (8192 by default) in total: 431.
  auto headers = browser.get("/signin", {{"X-Padding-One", std::string(5000, 'a')}, {"X-Padding-Two", std::string(5000, 'b')}});
  REQUIRE(headers);
  CHECK(headers->status == 431);
  // One line longer than the whole head may be: 431 from the connection front, before parsing.
  auto line = browser.get("/signin", {{"X-Padding", std::string(9000, 'a')}});
  REQUIRE(line);
  CHECK(line->status == 431);

  const std::string garbage = rawExchange(server.port(), "NONSENSE\r\n\r\n");
  CHECK(garbage.starts_with("HTTP/1.1 400"));
  const std::string badVersion = rawExchange(server.port(), "GET / HTTP/9.9\r\nHost: x\r\n\r\n");
  CHECK(badVersion.starts_with("HTTP/1.1 400"));

  CHECK(browser.get("/healthz")->status == 200);
}

TEST_CASE("the access log is JSON lines with request ids", "[integration][http]") {
  TestServer server;
  Browser browser(server.port());
  auto result = browser.get("/healthz");
  const std::string id = result->get_header_value("X-Request-Id");
  server.stop();
  bool found = false;
  std::istringstream lines(server.accessLog());
  for (std::string line; std::getline(lines, line);) {
    const auto entry = nlohmann::json::parse(line);
    if (entry.value("request_id", "") == id) {
      found = true;
      CHECK(entry["path"] == "/healthz");
      CHECK(entry["status"] == 200);
      CHECK(entry["remote_addr"] == "127.0.0.1");
      CHECK(entry.contains("time"));
    }
  }
  CHECK(found);
}

TEST_CASE("healthz answers 503 while PostgreSQL is unreachable and recovers after", "[integration][http][postgresql]") {
  TestServer server;
  if (!server.isPostgresql()) {
    SUCCEED("PostgreSQL only: a SQLite file cannot become unreachable under a running server");
    return;
  }
  Browser browser(server.port());
  REQUIRE(browser.signIn("staff") == 303);
  const std::string name = server.databaseUrl().substr(server.databaseUrl().find("dbname=") + 7);
  const std::string database = name.substr(0, name.find(' '));
  soci::session admin(soci::postgresql, std::getenv("BELONGING_TEST_DATABASE"));
  admin << "ALTER DATABASE " + database + " ALLOW_CONNECTIONS false";
  admin << "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d", soci::use(database);

  auto down = browser.get("/healthz");
  REQUIRE(down);
  CHECK(down->status == 503);
  CHECK(nlohmann::json::parse(down->body)["status"] == "unavailable");

  admin << "ALTER DATABASE " + database + " ALLOW_CONNECTIONS true";
  CHECK(browser.get("/healthz")->status == 200);
  // Connections killed under the server are replaced: the session still works.
  for (int attempt = 0; attempt < 3 && browser.get("/")->status != 200; ++attempt) {
  }
  CHECK(browser.get("/")->status == 200);
}
