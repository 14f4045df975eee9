// Issue 12's findings, each as an attack: header injection and open redirects over every route
// that takes a return path, idle and slowloris connections, oversized bodies, bytes that are
// not UTF-8, and compression of pages that hold the CSRF token.

#include "TestServer.hpp"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace belonging::testing;
using Clock = std::chrono::steady_clock;

namespace {

/** A raw TCP connection from a chosen loopback source address. */
int connectFrom(int port, const char* source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source, &local.sin_addr);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) == 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  return fd;
}

/** Reads until the peer closes or `timeout` passes; returns what arrived. */
std::string readAll(int fd, std::chrono::milliseconds timeout) {
  std::string reply;
  const auto deadline = Clock::now() + timeout;
  char buffer[8192];
  while (Clock::now() < deadline) {
    pollfd entry{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (poll(&entry, 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) break;
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got <= 0) break;
    reply.append(buffer, static_cast<std::size_t>(got));
  }
  return reply;
}

std::string exchange(int port, const std::string& request, const char* source = "127.0.0.1") {
  const int fd = connectFrom(port, source);
  REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::string reply = readAll(fd, std::chrono::seconds(5));
  close(fd);
  return reply;
}

/** Whether the peer has closed the connection (reads EOF or an error without blocking). */
bool closedByPeer(int fd) {
  char byte;
  const ssize_t got = recv(fd, &byte, 1, MSG_DONTWAIT);
  return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

ServerOptions withPlugins(std::vector<std::string> plugins) {
  ServerOptions options;
  options.plugins = std::move(plugins);
  return options;
}

std::string head(const std::string& reply) { return reply.substr(0, reply.find("\r\n\r\n")); }

/** The checks every response to a hostile return path must pass. */
void checkNoSplitNoBounce(const httplib::Result& result, const std::string& what) {
  INFO(what);
  REQUIRE(result);
  CHECK(result->status < 500);
  for (const auto& [name, value] : result->headers) {
    INFO(name << ": " << value);
    CHECK(value.find_first_of("\r\n") == std::string::npos);
    CHECK(name != "Injected");
    if (name == "Set-Cookie") CHECK(value.find("attacker") == std::string::npos);
  }
  if (result->has_header("Location")) {
    const std::string location = result->get_header_value("Location");
    INFO("Location: " << location);
    REQUIRE_FALSE(location.empty());
    CHECK(location[0] == '/');
    CHECK_FALSE(location.starts_with("//"));
    CHECK(location.find_first_of("\\\t ") == std::string::npos);
    for (const char c : location) CHECK(static_cast<unsigned char>(c) > 0x20);
  }
}

const std::vector<std::string> kHostileTargets = {
    "/%0d%0aSet-Cookie:%20belonging_session=attacker",
    "/%0aInjected:%20yes",
    "/%0dInjected:%20yes",
    "/%00Injected",
    "/%09/evil.example/",
    "/%0a/evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "/%5cevil.example/",
    "https://evil.example/",
    "javascript:alert(1)",
    "/%E2%80%A8/evil.example",
    "/ /evil.example",
};

} // namespace

TEST_CASE("no route that takes a return path can split headers or leave the site", "[integration][hardening]") {
  TestServer server(withPlugins({"admin", "networks"}));
  Browser signedOut(server.port());
  Browser staff(server.port());
  REQUIRE(staff.signIn("staff") == 303);
  REQUIRE(staff.get("/networks/lgbtq"));
  for (const auto& target : kHostileTargets) {
    checkNoSplitNoBounce(signedOut.get("/signin?next=" + target), "GET /signin signed out: " + target);
    checkNoSplitNoBounce(staff.get("/signin?next=" + target), "GET /signin signed in: " + target);
    // Forms carry the decoded text: decode the percent escapes as a browser's form would.
    std::string decoded;
    for (std::size_t i = 0; i < target.size(); ++i) {
      if (target[i] == '%' && i + 2 < target.size()) {
        decoded += static_cast<char>(std::stoi(target.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        decoded += target[i];
      }
    }
    Browser guesser(server.port());
    REQUIRE(guesser.get("/signin"));
    checkNoSplitNoBounce(guesser.submit("/signin", {{"username", "staff"}, {"password", "belonging-demo"}, {"next", decoded}}),
                         "POST /signin: " + target);
    REQUIRE(staff.get("/networks/lgbtq"));
    checkNoSplitNoBounce(staff.submit("/networks/lgbtq/leave", {{"return", "/networks" + decoded}}),
                         "POST leave: /networks" + target);
    checkNoSplitNoBounce(staff.submit("/networks/lgbtq/leave", {{"return", decoded}}), "POST leave: " + target);
    // Signed out, any page sends the visitor to sign in with the page as `next`.
    checkNoSplitNoBounce(signedOut.get("/networks" + target), "signed-out redirect: /networks" + target);
  }
  // The raw bytes too: nothing after a CR or LF may reach the wire as a header.
  const std::string reply = exchange(server.port(), "GET /signin?next=/%0d%0aSet-Cookie:%20belonging_session=attacker HTTP/1.1\r\n"
                                                    "Host: x\r\nCookie: belonging_session=" + staff.cookie("belonging_session") +
                                                    "\r\nConnection: close\r\n\r\n");
  CHECK(head(reply).find("\r\nSet-Cookie: belonging_session=attacker") == std::string::npos);
  CHECK(head(reply).find("Location: /\r\n") != std::string::npos);
}

TEST_CASE("every response header passes the core's check, whatever a handler sets", "[integration][hardening]") {
  TestServer server;
  Browser browser(server.port());
  auto split = browser.get("/fixture/header?value=ok%0d%0aSet-Cookie:%20belonging_session=attacker");
  REQUIRE(split);
  CHECK(split->status == 500);
  CHECK_FALSE(split->has_header("X-Fixture"));
  for (const auto& [name, value] : split->headers) CHECK(value.find("attacker") == std::string::npos);
  auto away = browser.get("/fixture/header?value=ok&location=https://evil.example/");
  REQUIRE(away);
  CHECK(away->status == 500);
  CHECK_FALSE(away->has_header("Location"));
  auto fine = browser.get("/fixture/header?value=fine&location=/signin");
  REQUIRE(fine);
  CHECK(fine->status == 302);
  CHECK(fine->get_header_value("X-Fixture") == "fine");
  CHECK(server.errorLog().find("refused an unsafe response header") != std::string::npos);
}

TEST_CASE("idle and slowloris connections cannot starve other users", "[integration][hardening]") {
  TestServer server(withPlugins({"admin", "networks"}));
  Browser staff(server.port());
  REQUIRE(staff.signIn("staff") == 303);

  // 200 idle connections and 50 that send a header line a second, all from the users' address.
  std::vector<int> idle, slow;
  for (int i = 0; i < 200; ++i) idle.push_back(connectFrom(server.port()));
  // Half drip their headers, half a body they announced (the server has 8 workers).
  const std::string bodyHead = "POST /signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                               "Content-Length: 100000\r\n\r\nusername=";
  for (int i = 0; i < 50; ++i) {
    slow.push_back(connectFrom(server.port()));
    if (i % 2) {
      send(slow.back(), bodyHead.data(), bodyHead.size(), MSG_NOSIGNAL);
    } else {
      send(slow.back(), "GET / HTTP/1.1\r\nHost: x\r\n", 25, MSG_NOSIGNAL);
    }
  }
  std::atomic<bool> dripping{true};
  std::thread drip([&] {
    while (dripping) {
      for (std::size_t i = 0; i < slow.size(); ++i) {
        if (i % 2) {
          send(slow[i], "a", 1, MSG_NOSIGNAL);
        } else {
          send(slow[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  for (int round = 0; round < 5; ++round) {
    auto started = Clock::now();
    const std::string health = exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto healthTime = Clock::now() - started;
    CHECK(health.starts_with("HTTP/1.1 200"));
    CHECK(healthTime < std::chrono::seconds(1));
    started = Clock::now();
    auto page = staff.get("/networks");
    const auto pageTime = Clock::now() - started;
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(pageTime < std::chrono::seconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  dripping = false;
  drip.join();

  // The per-address cap closed the oldest idle connections to make way.
  std::size_t open = 0;
  for (const int fd : idle) open += closedByPeer(fd) ? 0U : 1U;
  for (const int fd : slow) open += closedByPeer(fd) ? 0U : 1U;
  CHECK(open <= 64);
  for (const int fd : idle) close(fd);
  for (const int fd : slow) close(fd);
}

TEST_CASE("a request must arrive whole within the deadline, and idle connections close", "[integration][hardening]") {
  ServerOptions options;
  options.serverConfig = "request_timeout_seconds = 2\nkeep_alive_seconds = 1\n";
  TestServer server(options);

  const int slow = connectFrom(server.port());
  const int silent = connectFrom(server.port());
  const auto started = Clock::now();
  std::string reply;
  // One header byte every 300 ms never completes the request; the deadline ends it.
  while (Clock::now() - started < std::chrono::seconds(5) && !closedByPeer(slow)) {
    send(slow, "X", 1, MSG_NOSIGNAL);
    reply += readAll(slow, std::chrono::milliseconds(300));
    if (reply.find("408") != std::string::npos) break;
  }
  const auto slowLasted = Clock::now() - started;
  CHECK(reply.starts_with("HTTP/1.1 408"));
  CHECK(slowLasted < std::chrono::milliseconds(3500));
  readAll(silent, std::chrono::seconds(4));
  CHECK(closedByPeer(silent));
  CHECK(Clock::now() - started < std::chrono::milliseconds(4500));
  close(slow);
  close(silent);

  // Keep-alive: served, then closed after a second of idleness.
  const int kept = connectFrom(server.port());
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  send(kept, request.data(), request.size(), MSG_NOSIGNAL);
  CHECK(readAll(kept, std::chrono::milliseconds(500)).starts_with("HTTP/1.1 200"));
  readAll(kept, std::chrono::seconds(3));
  CHECK(closedByPeer(kept));
  close(kept);

  // Two pipelined requests on one connection are both answered, in order.
  const std::string two = exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(two.starts_with("HTTP/1.1 200"));
  CHECK(two.find("HTTP/1.1 404") != std::string::npos);
}

TEST_CASE("an announced oversized body is refused at once and the connection closed", "[integration][hardening]") {
  TestServer server;
  const auto started = Clock::now();
  const int fd = connectFrom(server.port());
  const std::string request = "POST /signin HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\nusername=";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  const std::string reply = readAll(fd, std::chrono::seconds(3));
  CHECK(reply.starts_with("HTTP/1.1 413"));
  CHECK(Clock::now() - started < std::chrono::seconds(1));
  CHECK(closedByPeer(fd));
  close(fd);

  // Framing two parsers could read differently is refused outright.
  CHECK(exchange(server.port(), "POST /signin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef")
            .starts_with("HTTP/1.1 400"));
  CHECK(exchange(server.port(), "POST /signin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            .starts_with("HTTP/1.1 400"));
  CHECK(exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n").starts_with("HTTP/1.1 400"));
  // A chunked body could drip for the whole deadline in a worker: Content-Length is required.
  CHECK(exchange(server.port(), "POST /signin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n")
            .starts_with("HTTP/1.1 411"));
  // Expect: 100-continue gets its 100 at once, then the body is read and answered.
  const int waiting = connectFrom(server.port());
  const std::string expectHead = "POST /signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                 "Content-Length: 11\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
  send(waiting, expectHead.data(), expectHead.size(), MSG_NOSIGNAL);
  CHECK(readAll(waiting, std::chrono::milliseconds(500)).starts_with("HTTP/1.1 100 Continue"));
  send(waiting, "username=ab", 11, MSG_NOSIGNAL);
  const std::string answered = readAll(waiting, std::chrono::seconds(3));
  CHECK(answered.find("HTTP/1.1 403") != std::string::npos); // No CSRF token: refused, but read and answered.
  close(waiting);
  CHECK(exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n")
            .starts_with("HTTP/1.1 431"));
}

TEST_CASE("one client address cannot hold more than its share of connections", "[integration][hardening]") {
  ServerOptions options;
  options.serverConfig = "max_connections_per_address = 10\n";
  TestServer server(options);
  std::vector<int> held;
  for (int i = 0; i < 30; ++i) held.push_back(connectFrom(server.port(), "127.0.0.2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::size_t open = 0;
  for (const int fd : held) open += closedByPeer(fd) ? 0U : 1U;
  CHECK(open <= 10);
  CHECK(open >= 5);
  // Another address is not affected, and neither is a new request from the capped one.
  CHECK(exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").starts_with("HTTP/1.1 200"));
  CHECK(exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "127.0.0.2").starts_with("HTTP/1.1 200"));
  for (const int fd : held) close(fd);
}

TEST_CASE("text that is not UTF-8 is refused naming the field, and stored bad bytes cannot break a page",
          "[integration][hardening]") {
  setenv("BELONGING_EXPERIENCE_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
  TestServer server(withPlugins({"admin", "networks", "experience"}));
  Browser browser(server.port());
  REQUIRE(browser.get("/signin"));
  auto form = browser.client().Post("/signin", {{"Cookie", "belonging_presession=" + browser.cookie("belonging_presession")}},
                                    "_csrf=" + browser.csrf() + "&username=%FFstaff&password=x",
                                    "application/x-www-form-urlencoded");
  REQUIRE(form);
  CHECK(form->status == 400);
  CHECK(form->body.find("username") != std::string::npos);
  auto query = browser.get("/signin?next=%C0%AF");
  REQUIRE(query);
  CHECK(query->status == 400);
  CHECK(query->body.find("next") != std::string::npos);

  // Anonymous routes: a paper code with a stray byte or an accent is a 400, never a 500.
  Browser anonymous(server.port());
  auto stray = anonymous.client().Post("/experience/code", "code=%FF", "application/x-www-form-urlencoded");
  REQUIRE(stray);
  CHECK(stray->status == 400);
  auto accent = anonymous.client().Post("/experience/code", {{"Accept", "application/json"}}, "code=%C3%A9",
                                        "application/x-www-form-urlencoded");
  REQUIRE(accent);
  CHECK(accent->status == 400);
  auto json = anonymous.client().Post("/experience/submit", {{"Accept", "application/json"}}, "{\"wave\":\"\xff\"}",
                                      "application/json");
  REQUIRE(json);
  CHECK(json->status == 400);

  Browser chair(server.port());
  REQUIRE(chair.signIn("chair") == 303);
  REQUIRE(chair.get("/networks/lgbtq/posts/new"));
  auto post = chair.client().Post("/networks/lgbtq/posts", {{"Cookie", "belonging_session=" + chair.cookie("belonging_session")}},
                                  "_csrf=" + chair.csrf() + "&kind=announcement&title=%FF&body=x",
                                  "application/x-www-form-urlencoded");
  REQUIRE(post);
  CHECK(post->status == 400);
  CHECK(post->body.find("title") != std::string::npos);

  if (!server.isPostgresql()) {
    // Rows written before input was checked (SQLite keeps any bytes): pages and JSON still work.
    soci::session sql(soci::sqlite3, "db=" + server.databaseUrl().substr(7));
    sql << "UPDATE networks SET name = 'LGBTQ' || char(255) || ' network' WHERE slug = 'lgbtq'";
    sql << "UPDATE networks SET name = CAST(X'4C4742FF' AS TEXT) WHERE slug = 'lgbtq'";
    Browser staff(server.port());
    REQUIRE(staff.signIn("staff") == 303);
    for (const char* path : {"/api/v1/networks", "/api/v1/networks/lgbtq", "/networks", "/networks/lgbtq"}) {
      INFO(path);
      auto result = staff.get(path);
      REQUIRE(result);
      CHECK(result->status == 200);
    }
  }
}

TEST_CASE("pages holding the CSRF token are never compressed", "[integration][hardening]") {
  TestServer server;
  Browser browser(server.port());
  auto page = browser.get("/signin?next=/reflected", {{"Accept-Encoding", "gzip, deflate, br"}});
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK_FALSE(page->has_header("Content-Encoding"));
  CHECK(page->body.find("_csrf") != std::string::npos);
}
