#include "TestServer.hpp"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

using namespace belonging::testing;
using Labels = std::vector<std::string>;

TEST_CASE("each demo user signs in and sees their role's navigation", "[integration][auth]") {
  TestServer server;
  const std::vector<std::pair<std::string, Labels>> expected{
      {"staff", {"Home"}},
      {"chair", {"Home"}},
      {"champion", {"Home"}},
      {"guardian", {"Home"}},
      {"analyst", {"Home", "Fixture secret"}},
      {"admin", {"Home", "Fixture secret", "Audit log"}}};
  for (const auto& [username, labels] : expected) {
    INFO(username);
    Browser browser(server.port());
    REQUIRE(browser.signIn(username) == 303);
    auto home = browser.get("/");
    REQUIRE(home->status == 200);
    CHECK(navigationLabels(home->body) == labels);
    CHECK(home->body.find("(demo)") != std::string::npos);
    CHECK(home->body.find("Fixture card") != std::string::npos);
    const bool seesAudit = username == "admin";
    CHECK((home->body.find("Who granted roles") != std::string::npos) == seesAudit);
    CHECK(browser.get("/admin/audit")->status == (seesAudit ? 200 : 403));
  }
}

TEST_CASE("signed-out visitors are sent to sign in and back", "[integration][auth]") {
  TestServer server;
  Browser browser(server.port());
  auto home = browser.get("/fixture/hello?x=1");
  REQUIRE(home->status == 303);
  // The server sends next=/fixture/hello%3Fx%3D1; cpp-httplib 0.11's client URL-decodes
  // header values as it parses them.
  CHECK(home->get_header_value("Location") == "/signin?next=/fixture/hello?x=1");
  browser.get("/signin?next=/fixture/hello");
  auto signin = browser.submit("/signin", {{"username", "staff"}, {"password", "belonging-demo"}, {"next", "/fixture/hello"}});
  CHECK(signin->get_header_value("Location") == "/fixture/hello");
  auto hello = browser.get("/fixture/hello");
  CHECK(hello->status == 200);
  CHECK(hello->body.find("<h1>hello</h1>") != std::string::npos);

  Browser other(server.port());
  other.get("/signin");
  auto offsite = other.submit("/signin", {{"username", "staff"}, {"password", "belonging-demo"}, {"next", "//evil.example/"}});
  CHECK(offsite->get_header_value("Location") == "/");
}

TEST_CASE("wrong passwords get the error summary, then throttling", "[integration][auth]") {
  TestServer server;
  Browser browser(server.port());
  browser.get("/signin");
  auto empty = browser.submit("/signin", {{"username", ""}, {"password", ""}});
  CHECK(empty->status == 400);
  CHECK(empty->body.find("nhsuk-error-summary") != std::string::npos);
  CHECK(empty->body.find("href=\"#username\"") != std::string::npos);
  CHECK(empty->body.find("Enter your username") != std::string::npos);

  for (int attempt = 0; attempt < 5; ++attempt) {
    auto wrong = browser.submit("/signin", {{"username", "staff"}, {"password", "not-the-password"}});
    CHECK(wrong->status == 401);
    CHECK(wrong->body.find("Enter a correct username and password") != std::string::npos);
    CHECK(wrong->body.find("value=\"staff\"") != std::string::npos);
  }
  auto blocked = browser.submit("/signin", {{"username", "staff"}, {"password", "belonging-demo"}});
  CHECK(blocked->status == 429);
  CHECK_FALSE(blocked->get_header_value("Retry-After").empty());
  CHECK(blocked->body.find("Too many failed attempts") != std::string::npos);
  // Another account from the same address is not locked by this account's failures.
  Browser colleague(server.port());
  CHECK(colleague.signIn("chair") == 303);
}

TEST_CASE("simultaneous guesses for one account are checked at most the limit times", "[integration][auth]") {
  // Each guess is a slow scrypt hash: a throttle that checks before hashing and counts after
  // lets every guess that arrives during the first hashes through.
  ServerOptions options;
  options.threads = 16;
  TestServer server(options);
  constexpr int kGuesses = 30, kLimit = 5; // [signin] max_failures_per_account defaults to 5.
  std::vector<std::unique_ptr<Browser>> browsers;
  for (int i = 0; i < kGuesses; ++i) {
    browsers.push_back(std::make_unique<Browser>(server.port()));
    browsers.back()->get("/signin");
  }
  std::vector<int> statuses(kGuesses, 0);
  std::vector<std::thread> guesses;
  for (int i = 0; i < kGuesses; ++i) {
    guesses.emplace_back([&, i] {
      auto result = browsers[static_cast<std::size_t>(i)]->submit(
          "/signin", {{"username", "staff"}, {"password", "wrong-guess-" + std::to_string(i)}});
      statuses[static_cast<std::size_t>(i)] = result ? result->status : -1;
    });
  }
  for (auto& guess : guesses) guess.join();
  const auto checked = std::count(statuses.begin(), statuses.end(), 401);
  CHECK(checked <= kLimit);
  CHECK(checked + std::count(statuses.begin(), statuses.end(), 429) == kGuesses);
  // The right password after the limit is refused without being checked.
  Browser right(server.port());
  CHECK(right.signIn("staff") == 429);
}

TEST_CASE("a browser that signed in before gets through its address's lockout", "[integration][auth]") {
  ServerOptions options;
  options.extraConfig = "[signin]\nmax_failures_per_address = 3\n";
  TestServer server(options);
  Browser known(server.port());
  REQUIRE(known.signIn("staff") == 303);
  const std::string device = known.cookie("belonging_device");
  REQUIRE_FALSE(device.empty());

  // Someone at the same address (or behind the same unlisted proxy) guesses other accounts.
  // X-Forwarded-For from a client that is not a trusted proxy does not change its address.
  Browser guesser(server.port());
  guesser.get("/signin");
  for (int i = 0; i < 3; ++i) {
    auto wrong = guesser.post("/signin", {{"username", "nobody" + std::to_string(i)}, {"password", "wrong-password"},
                                          {"_csrf", guesser.csrf()}},
                              {{"X-Forwarded-For", "10.9.8." + std::to_string(i)}});
    CHECK(wrong->status == 401);
  }
  Browser stranger(server.port());
  CHECK(stranger.signIn("chair") == 429);

  // The browser that signed in as staff before may still try staff, and only staff.
  Browser returning(server.port());
  returning.setCookie("belonging_device", device);
  CHECK(returning.signIn("chair") == 429);
  CHECK(returning.signIn("staff") == 303);
  // A cookie altered to name another account is not trusted.
  Browser forger(server.port());
  std::string altered = device;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'a' ? 'b' : 'a';
  forger.setCookie("belonging_device", altered);
  CHECK(forger.signIn("staff") == 429);
  // The account's own limit still applies to a known browser.
  Browser careless(server.port());
  careless.setCookie("belonging_device", device);
  careless.get("/signin");
  for (int i = 0; i < 5; ++i) {
    CHECK(careless.submit("/signin", {{"username", "staff"}, {"password", "wrong-password"}})->status == 401);
  }
  CHECK(careless.submit("/signin", {{"username", "staff"}, {"password", "belonging-demo"}})->status == 429);
}

TEST_CASE("the audit log's page number cannot overflow", "[integration][auth]") {
  TestServer server;
  Browser admin(server.port());
  REQUIRE(admin.signIn("admin") == 303);
  CHECK(admin.get("/admin/audit?page=2")->status == 200);
  for (const std::string page : {"2147483647", "2147483648", "99999999999999999999", "-1", "0", "1e3", "abc", "2x"}) {
    INFO(page);
    auto response = admin.get("/admin/audit?page=" + page);
    REQUIRE(response);
    CHECK(response->status == 400);
    CHECK(response->body.find("page") != std::string::npos);
  }
  auto last = admin.get("/admin/audit?page=1000000");
  CHECK(last->status == 200);
  CHECK(last->body.find("page=1000001") == std::string::npos);
}

TEST_CASE("state-changing requests need the CSRF token", "[integration][auth][csrf]") {
  TestServer server;
  Browser browser(server.port());
  REQUIRE(browser.signIn("admin") == 303);
  browser.get("/");
  auto missing = browser.post("/signout", {});
  CHECK(missing->status == 403);
  CHECK(missing->body.find("This form has expired") != std::string::npos);
  auto wrong = browser.post("/signout", {{"_csrf", std::string(64, '0')}});
  CHECK(wrong->status == 403);
  auto header = browser.post("/fixture/audited", {}, {{"X-CSRF-Token", browser.csrf()}});
  CHECK(header->status == 200);
  // Sign-in itself is protected against login CSRF.
  Browser fresh(server.port());
  auto forged = fresh.post("/signin", {{"username", "staff"}, {"password", "belonging-demo"}});
  CHECK(forged->status == 403);
}

TEST_CASE("sign-in issues a new session id and sign-out ends it", "[integration][auth][sessions]") {
  TestServer server;
  Browser browser(server.port());
  browser.setCookie("belonging_session", "attacker-chosen-session-id-000000000000000");
  REQUIRE(browser.signIn("staff") == 303);
  const std::string session = browser.cookie("belonging_session");
  CHECK(session != "attacker-chosen-session-id-000000000000000");
  CHECK(session.size() >= 43);
  auto home = browser.get("/");
  CHECK(home->status == 200);

  auto signout = browser.submit("/signout", {});
  CHECK(signout->status == 303);
  CHECK(browser.get("/signin")->body.find("You have signed out.") != std::string::npos);
  Browser replay(server.port());
  replay.setCookie("belonging_session", session);
  CHECK(replay.get("/")->status == 303);
}

TEST_CASE("a disabled account loses its session at once", "[integration][auth][sessions]") {
  TestServer server;
  Browser browser(server.port());
  REQUIRE(browser.signIn("champion") == 303);
  REQUIRE(browser.get("/")->status == 200);
  REQUIRE(server.cli({"user", "disable", "champion"}).exitCode == 0);
  CHECK(browser.get("/")->status == 303);
  Browser again(server.port());
  CHECK(again.signIn("champion") == 401);
}

TEST_CASE("changing the password ends sessions and the new one works", "[integration][auth]") {
  TestServer server;
  Browser browser(server.port());
  REQUIRE(browser.signIn("guardian") == 303);
  browser.get("/account");
  auto wrong = browser.submit("/account/password", {{"current_password", "nope"}, {"new_password", "a-long-new-password"}});
  CHECK(wrong->status == 400);
  CHECK(wrong->body.find("Enter your current password correctly") != std::string::npos);
  auto shortPassword = browser.submit("/account/password", {{"current_password", "belonging-demo"}, {"new_password", "short"}});
  CHECK(shortPassword->status == 400);
  auto changed = browser.submit("/account/password", {{"current_password", "belonging-demo"}, {"new_password", "a-long-new-password"}});
  CHECK(changed->status == 303);
  CHECK(browser.get("/")->status == 303);
  Browser fresh(server.port());
  CHECK(fresh.signIn("guardian", "belonging-demo") == 401);
  CHECK(fresh.signIn("guardian", "a-long-new-password") == 303);
}

TEST_CASE("API bearer tokens are scoped, expiring and revocable", "[integration][auth][tokens]") {
  TestServer server;
  auto created = server.cli({"token", "create", "--user", "analyst", "--scope", "signed-in", "--scope", "fixture.secret"});
  REQUIRE(created.exitCode == 0);
  const std::string token = created.out.substr(0, created.out.find('\n'));
  CHECK(token.starts_with("blg_"));
  CHECK(created.err.find("shown only once") != std::string::npos);

  Browser api(server.port());
  const httplib::Headers bearer{{"Authorization", "Bearer " + token}};
  CHECK(api.get("/fixture/secret", bearer)->status == 200);
  CHECK(api.get("/fixture/hello", bearer)->status == 200);
  // Bearer requests are not ambient: no CSRF token needed.
  CHECK(api.post("/fixture/audited", {}, bearer)->status == 200);

  auto narrow = server.cli({"token", "create", "--user", "analyst", "--scope", "fixture.secret"});
  const std::string narrowToken = narrow.out.substr(0, narrow.out.find('\n'));
  CHECK(api.get("/fixture/secret", {{"Authorization", "Bearer " + narrowToken}})->status == 200);
  CHECK(api.get("/fixture/hello", {{"Authorization", "Bearer " + narrowToken}})->status == 403);

  // A token cannot carry more than its user holds.
  auto staffToken = server.cli({"token", "create", "--user", "staff", "--scope", "fixture.secret"});
  const std::string staffSecret = staffToken.out.substr(0, staffToken.out.find('\n'));
  CHECK(api.get("/fixture/secret", {{"Authorization", "Bearer " + staffSecret}})->status == 403);

  auto unknownScope = server.cli({"token", "create", "--user", "analyst", "--scope", "everything"});
  CHECK(unknownScope.exitCode == 2);
  CHECK(unknownScope.err.find("\"everything\" is not a permission") != std::string::npos);

  const auto id = created.err.substr(created.err.find("Token ") + 6);
  REQUIRE(server.cli({"token", "revoke", id.substr(0, id.find(' '))}).exitCode == 0);
  auto revoked = api.get("/fixture/secret", bearer);
  CHECK(revoked->status == 401);
  CHECK(nlohmann::json::parse(revoked->body)["error"] == "the bearer token is unknown, expired or revoked");

  Browser admin(server.port());
  REQUIRE(admin.signIn("admin") == 303);
  const auto audit = admin.get("/admin/audit")->body;
  CHECK(audit.find("token.create") != std::string::npos);
  CHECK(audit.find("token.revoke") != std::string::npos);
  CHECK(audit.find("fixture.export") != std::string::npos);
  CHECK(audit.find(token) == std::string::npos);
}

TEST_CASE("single sign-on from the trusted proxy only", "[integration][auth][sso]") {
  ServerOptions options;
  options.extraConfig = "[sso]\nenabled = true\nuser_header = \"X-Remote-User\"\nsecret_header = \"X-Proxy-Secret\"\n"
                        "secret = \"0123456789abcdef0123\"\ntrusted_proxies = [\"127.0.0.1\"]\nauto_provision = true\n";
  TestServer server(options);
  Browser browser(server.port());
  auto wrongSecret = browser.get("/", {{"X-Remote-User", "admin"}, {"X-Proxy-Secret", "guess"}});
  CHECK(wrongSecret->status == 303);
  CHECK(wrongSecret->get_header_value("Location").starts_with("/signin"));

  auto viaProxy = browser.get("/", {{"X-Remote-User", "chair"}, {"X-Proxy-Secret", "0123456789abcdef0123"}});
  CHECK(viaProxy->status == 200);
  CHECK(viaProxy->body.find("Charlie Chair") != std::string::npos);
  // The session cookie it set keeps working without the header…
  CHECK(browser.get("/")->status == 200);
  // …and a different user at the proxy replaces the session.
  auto newcomer = browser.get("/", {{"X-Remote-User", "new.starter"}, {"X-Proxy-Secret", "0123456789abcdef0123"}});
  CHECK(newcomer->status == 200);
  CHECK(newcomer->body.find("new.starter") != std::string::npos);
}

TEST_CASE("many people signing in through the proxy for the first time at once all get in", "[integration][auth][sso]") {
  // SQLite fails a deferred transaction that reads and then writes at once ("database is
  // locked") when another connection wrote in between; provisioning must queue instead.
  ServerOptions options;
  options.extraConfig = "[sso]\nenabled = true\nuser_header = \"X-Remote-User\"\nsecret_header = \"X-Proxy-Secret\"\n"
                        "secret = \"0123456789abcdef0123\"\ntrusted_proxies = [\"127.0.0.1\"]\nauto_provision = true\n";
  TestServer server(options);
  constexpr int kPeople = 24;
  std::vector<int> statuses(kPeople * 3, 0);
  std::vector<std::thread> people;
  for (int person = 0; person < kPeople; ++person) {
    people.emplace_back([&, person] {
      Browser browser(server.port());
      for (int visit = 0; visit < 3; ++visit) {
        auto page = browser.get("/", {{"X-Remote-User", "rush." + std::to_string(person)},
                                      {"X-Proxy-Secret", "0123456789abcdef0123"}});
        statuses[static_cast<std::size_t>(person * 3 + visit)] = page ? page->status : -1;
      }
    });
  }
  for (auto& person : people) person.join();
  for (const int status : statuses) CHECK(status == 200);
}
