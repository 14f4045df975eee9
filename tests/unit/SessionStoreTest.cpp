#include "AccountStore.hpp"
#include "CoreSchema.hpp"
#include "SessionStore.hpp"

#include <soci/soci.h>

#include "../TempDirectory.hpp"

#include <catch2/catch.hpp>

using namespace belonging;

namespace {
struct TestDatabase {
  testing::TempDirectory directory;
  SociDatabase database{"sqlite:" + (directory / "test.db").string(), 2};
  std::int64_t now = 1'000'000;
  TestDatabase() { database.migrate("core", coreMigrations()); }
  SessionStore::Clock clock() {
    return [this] { return now; };
  }
};
} // namespace

TEST_CASE("sessions expire when idle and after an absolute limit", "[core][sessions]") {
  TestDatabase db;
  AccountStore accounts(db.database);
  const auto userId = accounts.addUser("nurse", "Night Nurse", std::nullopt);
  SessionStore sessions(db.database, 30, 12, db.clock());

  const auto session = sessions.create(userId);
  CHECK(session.id.size() >= 43);
  CHECK(sessions.find(session.id)->userId == userId);
  CHECK_FALSE(sessions.find("not-a-session"));

  db.now += 29 * 60; // Active within the idle limit keeps it alive…
  REQUIRE(sessions.find(session.id));
  db.now += 29 * 60;
  REQUIRE(sessions.find(session.id));
  db.now += 31 * 60; // …but 31 idle minutes end it.
  CHECK_FALSE(sessions.find(session.id));

  const auto longLived = sessions.create(userId);
  for (int i = 0; i < 12 * 3 + 1; ++i) {
    db.now += 20 * 60;
    if (!sessions.find(longLived.id)) break;
  }
  CHECK_FALSE(sessions.find(longLived.id)); // The absolute limit of 12 hours applies.
}

TEST_CASE("the database stores only a hash of the session id", "[core][sessions]") {
  TestDatabase db;
  AccountStore accounts(db.database);
  SessionStore sessions(db.database, 30, 12, db.clock());
  const auto session = sessions.create(accounts.addUser("a1", "", std::nullopt));
  soci::session sql(db.database.pool());
  int found = 0;
  sql << "SELECT COUNT(*) FROM sessions WHERE id_hash = :h", soci::use(session.id), soci::into(found);
  CHECK(found == 0);
}

TEST_CASE("sign-in attempts are reserved per account and per address", "[core][signin]") {
  TestDatabase db;
  SigninThrottle throttle(db.database, 3, 5, 15, db.clock());
  for (int i = 0; i < 3; ++i) CHECK(throttle.reserve("alice", "10.0.0.1", false) == 0);
  CHECK(throttle.reserve("alice", "10.0.0.2", false) == 15 * 60);
  CHECK(throttle.reserve("bob", "10.0.0.2", false) == 0);
  // Address limit: five attempts over different accounts (the refused one above did not count).
  CHECK(throttle.reserve("bob", "10.0.0.1", false) == 0);
  CHECK(throttle.reserve("carol", "10.0.0.1", false) == 0);
  CHECK(throttle.reserve("dave", "10.0.0.1", false) > 0);
  // A known device is held to the account's limit only.
  CHECK(throttle.reserve("dave", "10.0.0.1", true) == 0);
  db.now += 15 * 60;
  CHECK(throttle.reserve("alice", "10.0.0.1", false) == 0);
  // Success clears the account and refunds the address.
  for (int i = 0; i < 3; ++i) CHECK(throttle.reserve("erin", "10.0.0.3", false) == 0);
  throttle.recordSuccess("erin", "10.0.0.3", false);
  CHECK(throttle.reserve("erin", "10.0.0.3", false) == 0);
}

TEST_CASE("device cookies name one account, are signed and expire", "[core][signin]") {
  TestDatabase db;
  SigninThrottle throttle(db.database, 3, 5, 15, db.clock());
  const std::string cookie = throttle.deviceCookie("secret", "alice");
  CHECK(throttle.knowsDevice("secret", cookie, "alice"));
  CHECK_FALSE(throttle.knowsDevice("secret", cookie, "bob"));
  CHECK_FALSE(throttle.knowsDevice("other secret", cookie, "alice"));
  CHECK_FALSE(throttle.knowsDevice("secret", throttle.deviceCookie("secret", "bob").substr(0, 8) + cookie.substr(8), "bob"));
  for (const char* junk : {"", ".", "..", "YWxpY2U.1.x", "YWxpY2U"}) CHECK_FALSE(throttle.knowsDevice("secret", junk, "alice"));
  db.now += SigninThrottle::kDeviceSeconds + 1;
  CHECK_FALSE(throttle.knowsDevice("secret", cookie, "alice"));
}

TEST_CASE("accounts: roles, tokens and disabling", "[core][accounts]") {
  TestDatabase db;
  AccountStore accounts(db.database);
  CHECK_THROWS_WITH(accounts.addUser("x", "", std::nullopt), Catch::Contains("must be 2 to 64"));
  CHECK_THROWS_WITH(accounts.addUser("ok", "", std::string("short")), "the password must be at least 12 characters long");
  accounts.addUser("chair1", "", std::nullopt);
  CHECK_THROWS_WITH(accounts.addUser("chair1", "", std::nullopt), "a user called \"chair1\" already exists");
  CHECK_THROWS_WITH(accounts.grant("chair1", "overlord", ""), Catch::StartsWith("\"overlord\" is not a role; roles are: staff"));
  accounts.grant("chair1", "network-chair", "lgbtq");
  accounts.grant("chair1", "network-chair", "lgbtq"); // Idempotent.
  const auto user = accounts.findByUsername("chair1");
  REQUIRE(user);
  CHECK(accounts.roles(user->id).size() == 2);
  CHECK_THROWS_WITH(accounts.revoke("chair1", "admin", ""), "\"chair1\" does not hold the role \"admin\"");

  const auto token = accounts.createToken("chair1", "intranet", {"signed-in"}, 30);
  CHECK(token.secret.starts_with("blg_"));
  CHECK(accounts.findToken(token.secret)->userId == user->id);
  CHECK_FALSE(accounts.findToken(token.secret + "x"));
  accounts.disable("chair1");
  CHECK_FALSE(accounts.findToken(token.secret));
  CHECK(accounts.findByUsername("chair1")->disabled);
  CHECK_FALSE(accounts.hasRealAccounts() == false);
}
