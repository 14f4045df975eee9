// The networks plugin end to end: the real server and plugin on a real database (SQLite, or
// PostgreSQL when BELONGING_TEST_DATABASE is set), driven like a browser without JavaScript
// and like an intranet web part calling the JSON API.

#include "../../../tests/integration/TestServer.hpp"

#include <nlohmann/json.hpp>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <sstream>

using namespace belonging::testing;
using nlohmann::json;

namespace {

constexpr int kThreshold = 11;

ServerOptions networksServer() {
  ServerOptions options;
  options.plugins = {"admin", "networks"};
  return options;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/** A signed-in browser that has fetched a page, so it holds the CSRF token. */
std::unique_ptr<Browser> signedIn(const TestServer& server, const std::string& username) {
  auto browser = std::make_unique<Browser>(server.port());
  REQUIRE(browser->signIn(username) == 303);
  // Not /networks: each directory view is a release, and tests decide when releases happen.
  REQUIRE(browser->get("/networks/mine")->status == 200);
  return browser;
}

/** Adds a user who chairs `scope` (a chair of another network, for the access tests). */
void addChair(const TestServer& server, const std::string& username, const std::string& scope) {
  REQUIRE(server.cli({"user", "add", username, "--display-name", "Other Chair", "--password-stdin"}, "belonging-demo\n").exitCode == 0);
  REQUIRE(server.cli({"user", "grant", username, "network-chair", "--scope", scope}).exitCode == 0);
}

std::string token(const TestServer& server, const std::string& username, const std::vector<std::string>& scopes) {
  std::vector<std::string> args{"token", "create", "--user", username};
  for (const auto& scope : scopes) {
    args.push_back("--scope");
    args.push_back(scope);
  }
  const auto result = server.cli(args);
  REQUIRE(result.exitCode == 0);
  return result.out.substr(0, result.out.find('\n'));
}

httplib::Headers bearer(const std::string& secret) { return {{"Authorization", "Bearer " + secret}}; }

/** Every count in a CSV (cells after the first column) is 0, at least k, or "*". */
void checkNoSmallCounts(const std::string& csv) {
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line); // header
  int cells = 0;
  while (std::getline(lines, line) && line.size() > 1 && line[0] == '"' && line.find(',') != std::string::npos) {
    std::istringstream fields(line.substr(line.rfind('"') + 2));
    std::string field;
    while (std::getline(fields, field, ',')) {
      if (!field.empty() && field.back() == '\r') field.pop_back();
      INFO(line);
      if (field == "*") continue;
      const int value = std::stoi(field);
      CHECK((value == 0 || value >= kThreshold));
      ++cells;
    }
  }
  CHECK(cells > 0);
}

} // namespace

TEST_CASE("a member of staff finds the LGBTQ+ network, joins as an ally, sees it and leaves", "[networks]") {
  TestServer server(networksServer());
  auto staff = signedIn(server, "staff");

  auto found = staff->get("/networks?q=lgbt");
  REQUIRE(found->status == 200);
  CHECK(contains(found->body, "LGBTQ+ Network"));
  CHECK_FALSE(contains(found->body, "Carers Network"));
  CHECK(contains(found->body, "Showing 1 of 8 networks"));
  CHECK(contains(staff->get("/networks?visibility=open")->body, "Carers Network"));
  CHECK_FALSE(contains(staff->get("/networks?visibility=open")->body, "LGBTQ+ Network"));

  auto page = staff->get("/networks/lgbtq");
  REQUIRE(page->status == 200);
  CHECK(contains(page->body, "Charlie Chair (demo)"));
  CHECK(contains(page->body, "Sasha Sponsor (demo)"));
  CHECK(contains(page->body, "Pride planning meeting"));
  CHECK(contains(page->body, "href=\"/networks/lgbtq/join\""));

  auto join = staff->get("/networks/lgbtq/join");
  REQUIRE(join->status == 200);
  CHECK(contains(join->body, "Statement version 1"));
  CHECK(contains(join->body, "special category data"));

  // No consent: the form comes back with the NHS.UK error summary, and nothing is stored.
  auto refused = staff->submit("/networks/lgbtq/join", {{"kind", "ally"}});
  CHECK(refused->status == 400);
  CHECK(contains(refused->body, "nhsuk-error-summary"));
  CHECK(contains(refused->body, "href=\"#consent\""));
  CHECK(contains(refused->body, "<title>Error: "));
  // A stale statement version is refused with the reason.
  auto stale = staff->submit("/networks/lgbtq/join", {{"kind", "ally"}, {"consent_version", "0"}});
  CHECK(stale->status == 409);
  CHECK(contains(stale->body, "read it again"));
  CHECK(contains(staff->get("/networks/mine")->body, "You are not in any staff network yet"));

  auto joined = staff->submit("/networks/lgbtq/join", {{"kind", "ally"}, {"consent_version", "1"}});
  REQUIRE(joined->status == 303);
  CHECK(joined->get_header_value("Location") == "/networks/mine");
  auto mine = staff->get("/networks/mine");
  CHECK(contains(mine->body, "You have joined LGBTQ+ Network as an ally."));
  CHECK(contains(mine->body, "LGBTQ+ Network"));
  CHECK(contains(mine->body, "Ally since"));
  CHECK(contains(staff->get("/networks/lgbtq")->body, "You are an ally of this network."));

  // Joining twice is idempotent.
  auto again = staff->submit("/networks/lgbtq/join", {{"kind", "ally"}, {"consent_version", "1"}});
  CHECK(again->status == 303);
  CHECK(contains(staff->get("/networks/mine")->body, "You were already in LGBTQ+ Network"));

  // Subject access: the plugin's export, and the account-wide one, record the consent.
  auto data = staff->get("/networks/mine/data");
  REQUIRE(data->status == 200);
  CHECK(contains(data->get_header_value("Content-Disposition"), "attachment"));
  const auto exported = json::parse(data->body)["networks"]["memberships"];
  REQUIRE(exported.size() == 1);
  CHECK(exported[0]["slug"] == "lgbtq");
  CHECK(exported[0]["kind"] == "ally");
  CHECK(exported[0]["consent_version"] == 1);
  CHECK(exported[0]["consented_at"].get<std::int64_t>() > 1700000000);
  const auto account = json::parse(staff->get("/account/data")->body);
  CHECK(account["data"]["networks"]["memberships"].size() == 1);
  CHECK(account["data"]["core"]["username"] == "staff");

  auto left = staff->submit("/networks/lgbtq/leave", {{"return", "/networks/mine"}});
  CHECK(left->status == 303);
  mine = staff->get("/networks/mine");
  CHECK(contains(mine->body, "You have left LGBTQ+ Network. Your membership has been deleted."));
  CHECK(contains(mine->body, "You are not in any staff network yet"));
  CHECK(json::parse(staff->get("/networks/mine/data")->body)["networks"]["memberships"].empty());
}

TEST_CASE("the chair sees the members, exports them, posts an event and removes a member", "[networks]") {
  TestServer server(networksServer());
  auto staff = signedIn(server, "staff");
  REQUIRE(staff->submit("/networks/lgbtq/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);

  auto chair = signedIn(server, "chair");
  auto members = chair->get("/networks/lgbtq/members");
  REQUIRE(members->status == 200);
  CHECK(contains(members->body, "Sam Staff (demo)"));
  CHECK(contains(members->body, "Demo Colleague"));

  auto csv = chair->get("/networks/lgbtq/members.csv");
  REQUIRE(csv->status == 200);
  CHECK(contains(csv->get_header_value("Content-Type"), "text/csv"));
  CHECK(contains(csv->body, "\"Sam Staff (demo)\",\"staff\",\"Member\""));

  // Bad input names each field at fault.
  chair->get("/networks/lgbtq/posts/new");
  auto bad = chair->submit("/networks/lgbtq/posts", {{"kind", "event"}, {"title", ""}, {"event_date", "2026-02-31"},
                                                     {"start_time", "25:00"}, {"online_link", "javascript:alert(1)"}});
  CHECK(bad->status == 400);
  for (const char* message : {"Enter a title", "Enter the date as year-month-day", "Enter the start time",
                              "Enter the online link as a full web address"}) {
    INFO(message);
    CHECK(contains(bad->body, message));
  }
  auto posted = chair->submit("/networks/lgbtq/posts", {{"kind", "event"},
                                                        {"title", "Trans awareness lunch"},
                                                        {"event_date", "2099-03-31"},
                                                        {"start_time", "12:30"},
                                                        {"end_time", "13:30"},
                                                        {"place", "Board room"},
                                                        {"online_link", "https://teams.example.nhs.uk/x"},
                                                        {"accessibility", "Step-free; captions"}});
  REQUIRE(posted->status == 303);
  auto page = staff->get("/networks/lgbtq");
  CHECK(contains(page->body, "Trans awareness lunch"));
  CHECK(contains(page->body, "Tuesday 31 March 2099, 12:30 to 13:30"));
  CHECK(contains(page->body, "Step-free; captions"));
  // Members see the network's next events on their home page.
  CHECK(contains(staff->get("/")->body, "Pride planning meeting"));
  auto announcement = chair->submit("/networks/lgbtq/posts", {{"kind", "announcement"}, {"title", "New co-chair wanted"},
                                                              {"body", "Nominations open."}});
  CHECK(announcement->status == 303);
  CHECK(contains(staff->get("/networks/lgbtq")->body, "New co-chair wanted"));

  // Removal needs a reason; the audit keeps the reason but not who was removed.
  const std::string staffId = [&] {
    const auto& body = members->body;
    const auto at = body.find("/members/", body.find("Sam Staff (demo)"));
    return body.substr(at + 9, body.find('/', at + 9) - at - 9);
  }();
  CHECK(chair->submit("/networks/lgbtq/members/" + staffId + "/remove", {{"reason", ""}})->status == 400);
  CHECK(chair->submit("/networks/lgbtq/members/" + staffId + "/remove", {{"reason", "Asked to be removed"}})->status == 303);
  CHECK_FALSE(contains(chair->get("/networks/lgbtq/members")->body, "Sam Staff (demo)"));
  CHECK(contains(staff->get("/networks/mine")->body, "You are not in any staff network yet"));

  auto admin = signedIn(server, "admin");
  const auto audit = admin->get("/admin/audit")->body;
  CHECK(contains(audit, "networks.members.export"));
  CHECK(contains(audit, "networks.member.remove"));
  CHECK(contains(audit, "reason: Asked to be removed"));
  CHECK(contains(audit, "networks.post.add"));
  CHECK_FALSE(contains(audit, "Sam Staff"));
}

TEST_CASE("a chair's token acts only within its scopes", "[networks]") {
  TestServer server(networksServer());
  auto chair = signedIn(server, "chair");
  const auto page = chair->get("/networks/lgbtq")->body;
  std::smatch match;
  REQUIRE(std::regex_search(page, match, std::regex("/networks/lgbtq/posts/(\\d+)/delete")));
  const std::string deletePath = "/networks/lgbtq/posts/" + match[1].str() + "/delete";
  const std::map<std::string, std::string> event{{"kind", "event"},        {"title", "Token event"}, {"event_date", "2099-04-01"},
                                                 {"start_time", "12:30"},   {"end_time", "13:30"},    {"place", "Board room"},
                                                 {"accessibility", "Step-free"}};

  // Scoped to the pages any signed-in user may see: the chair's role does not come with it.
  const auto pagesOnly = bearer(token(server, "chair", {"signed-in"}));
  Browser api(server.port());
  CHECK(api.get("/networks/lgbtq", pagesOnly)->status == 200);
  CHECK(api.post("/networks/lgbtq/posts", event, pagesOnly)->status == 403);
  CHECK(api.post(deletePath, {}, pagesOnly)->status == 403);
  CHECK_FALSE(contains(chair->get("/networks/lgbtq")->body, "Token event"));

  // Given the permission to post, the same chair's token may.
  const auto poster = bearer(token(server, "chair", {"signed-in", "networks.posts"}));
  CHECK(api.post("/networks/lgbtq/posts", event, poster)->status == 303);
  CHECK(contains(chair->get("/networks/lgbtq")->body, "Token event"));
  CHECK(api.post(deletePath, {}, poster)->status == 303);
  // Sponsors post too, so the permission comes with the staff role; it is no key to other networks.
  const auto staffPoster = bearer(token(server, "staff", {"signed-in", "networks.posts"}));
  CHECK(api.post("/networks/lgbtq/posts", event, staffPoster)->status == 403);
}

TEST_CASE("CSV exports quote every field and defuse spreadsheet formulas", "[networks]") {
  TestServer server(networksServer());
  auto admin = signedIn(server, "admin");
  for (const auto& [name, slug] : {std::pair<std::string, std::string>{"=HYPERLINK(\"http://x\")", "formula"},
                                   {"Say \"hi\" network", "quoted"},
                                   {"@SUM(A1)", "at-sign"}}) {
    admin->get("/networks/manage/new");
    REQUIRE(admin->submit("/networks/manage/new", {{"name", name}, {"slug", slug}, {"summary", "Testing."},
                                                   {"visibility", "open"}})->status == 303);
  }
  auto analyst = signedIn(server, "analyst");
  auto csv = analyst->get("/networks/report.csv");
  REQUIRE(csv->status == 200);
  CHECK(contains(csv->body, "\r\n\"'=HYPERLINK(\"\"http://x\"\")\","));
  CHECK(contains(csv->body, "\r\n\"Say \"\"hi\"\" network\","));
  CHECK(contains(csv->body, "\r\n\"'@SUM(A1)\","));
  CHECK_FALSE(contains(csv->body, "\r\n\"=HYPERLINK"));

  // A member whose display name starts with a tab and a formula.
  REQUIRE(server.cli({"user", "add", "tab.person", "--display-name", "\t=1+1", "--password-stdin"}, "belonging-demo\n").exitCode == 0);
  auto member = signedIn(server, "tab.person");
  REQUIRE(member->submit("/networks/lgbtq/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
  auto chair = signedIn(server, "chair");
  auto members = chair->get("/networks/lgbtq/members.csv");
  REQUIRE(members->status == 200);
  CHECK(contains(members->body, "\r\n\"'\t=1+1\",\"tab.person\","));
}

TEST_CASE("every networks route answers every role as the rules say", "[networks]") {
  TestServer server(networksServer());
  addChair(server, "otherchair", "carers");
  const std::vector<std::string> roles{"staff", "chair", "otherchair", "sponsor", "analyst", "admin", "signed-out"};
  struct Expectation {
    std::string path;
    std::map<std::string, int> status; ///< By role; roles not listed get `otherwise`.
    int otherwise;
  };
  const std::vector<Expectation> expectations{
      {"/networks", {{"signed-out", 303}}, 200},
      {"/networks/lgbtq", {{"signed-out", 303}}, 200},
      {"/networks/lgbtq/join", {{"signed-out", 303}}, 200},
      {"/networks/mine", {{"signed-out", 303}}, 200},
      {"/networks/mine/data", {{"signed-out", 303}}, 200},
      {"/networks/nonesuch", {{"signed-out", 303}}, 404},
      {"/networks/lgbtq/members", {{"chair", 200}, {"sponsor", 200}, {"signed-out", 303}}, 403},
      {"/networks/lgbtq/members.csv", {{"chair", 200}, {"sponsor", 200}, {"signed-out", 303}}, 403},
      {"/networks/lgbtq/posts/new", {{"chair", 200}, {"sponsor", 200}, {"signed-out", 303}}, 403},
      {"/networks/carers/members", {{"otherchair", 200}, {"signed-out", 303}}, 403},
      {"/networks/manage", {{"admin", 200}, {"signed-out", 303}}, 403},
      {"/networks/manage/new", {{"admin", 200}, {"signed-out", 303}}, 403},
      {"/networks/lgbtq/edit", {{"admin", 200}, {"signed-out", 303}}, 403},
      {"/networks/report", {{"analyst", 200}, {"signed-out", 303}}, 403},
      {"/networks/report.csv", {{"analyst", 200}, {"signed-out", 303}}, 403},
      {"/api/v1/networks", {{"signed-out", 401}}, 200},
      {"/api/v1/networks/lgbtq", {{"signed-out", 401}}, 200},
      {"/api/v1/networks/nonesuch", {{"signed-out", 401}}, 404},
      {"/api/v1/networks/lgbtq/members", {{"chair", 200}, {"sponsor", 200}, {"signed-out", 401}}, 403},
  };
  for (const auto& role : roles) {
    Browser browser(server.port());
    if (role != "signed-out") REQUIRE(browser.signIn(role) == 303);
    for (const auto& expectation : expectations) {
      INFO(role << " GET " << expectation.path);
      const auto found = expectation.status.find(role);
      const int wanted = found == expectation.status.end() ? expectation.otherwise : found->second;
      const auto result = browser.get(expectation.path);
      REQUIRE(result);
      CHECK(result->status == wanted);
      if (expectation.path.starts_with("/api/") && wanted >= 400 && role != "signed-out") {
        CHECK(json::parse(result->body).contains("error"));
      }
    }
    // State-changing routes: everyone signed in may join and leave; only leaders post; only
    // admins manage. Signed out, every one goes to the sign-in page (or 401 on the API).
    if (role == "signed-out") {
      CHECK(browser.post("/networks/lgbtq/leave", {})->status == 403); // No CSRF token without a session.
      continue;
    }
    browser.get("/networks");
    INFO(role);
    CHECK(browser.submit("/networks/carers/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
    CHECK(browser.submit("/networks/carers/leave", {})->status == 303);
    const bool leadsLgbtq = role == "chair" || role == "sponsor";
    CHECK(browser.submit("/networks/lgbtq/posts", {{"kind", "announcement"}, {"title", "Hello from " + role}})->status ==
          (leadsLgbtq ? 303 : 403));
    CHECK(browser.submit("/networks/lgbtq/members/1/remove", {{"reason", "test"}})->status ==
          (leadsLgbtq ? 404 : 403));
    CHECK(browser.submit("/networks/lgbtq/sponsor", {{"username", "sponsor"}})->status == (role == "admin" ? 303 : 403));
    CHECK(browser.submit("/networks/lgbtq/chairs", {{"username", "chair"}})->status == (role == "admin" ? 303 : 403));
  }
  // The chair of another network asking for this one's members is refused and audited.
  auto admin = signedIn(server, "admin");
  const auto audit = admin->get("/admin/audit")->body;
  CHECK(contains(audit, "networks.members.denied"));
  CHECK(contains(audit, "otherchair"));
  CHECK(contains(audit, "networks.lead.denied"));
}

TEST_CASE("the JSON API joins and leaves idempotently and says why it refuses", "[networks]") {
  TestServer server(networksServer());
  const std::string staffToken = token(server, "staff", {"signed-in"});
  httplib::Client api("127.0.0.1", server.port());
  const std::string path = "/api/v1/networks/lgbtq/membership";

  auto first = api.Post(path.c_str(), bearer(staffToken), R"({"kind":"ally","consent_version":1})", "application/json");
  REQUIRE(first);
  CHECK(first->status == 201);
  CHECK(json::parse(first->body)["membership"]["kind"] == "ally");
  auto second = api.Post(path.c_str(), bearer(staffToken), R"({"kind":"ally","consent_version":1})", "application/json");
  CHECK(second->status == 200);

  const std::vector<std::tuple<std::string, int, std::string>> refusals{
      {R"({"kind":"ally","consent_version":0})", 409, "version 1"},
      {R"({"kind":"ally"})", 400, "Confirm that you have read"},
      {R"({"kind":"ally","consent_version":"1"})", 400, "consent_version must be a whole number"},
      {R"({"kind":"friend","consent_version":1})", 400, "member or as an ally"},
      {R"(not json)", 400, "Send a JSON object"},
      {R"({"kind":"member","consent_version":1,"name_visible_to_members":"yes"})", 400, "true or false"},
  };
  for (const auto& [body, status, message] : refusals) {
    INFO(body);
    auto refused = api.Post(path.c_str(), bearer(staffToken), body, "application/json");
    REQUIRE(refused);
    CHECK(refused->status == status);
    CHECK(contains(json::parse(refused->body)["error"].get<std::string>(), message));
  }
  auto unknown = api.Post("/api/v1/networks/nonesuch/membership", bearer(staffToken), R"({"kind":"ally","consent_version":1})",
                          "application/json");
  CHECK(unknown->status == 404);

  auto list = json::parse(api.Get("/api/v1/networks", bearer(staffToken))->body);
  REQUIRE(list["networks"].size() == 8);
  CHECK(list["consent_version"] == 1);
  CHECK_FALSE(list.contains("csrf_token")); // Tokens need no CSRF token.
  for (const auto& network : list["networks"]) {
    INFO(network["slug"]);
    const auto& value = network["people"]["value"];
    if (value.is_number()) CHECK((value.get<int>() == 0 || value.get<int>() >= kThreshold));
    if (network["slug"] == "lgbtq") CHECK(network["your_membership"]["kind"] == "ally");
  }

  auto leave = api.Delete(path.c_str(), bearer(staffToken));
  CHECK(leave->status == 200);
  CHECK(json::parse(leave->body)["left"] == true);
  CHECK(json::parse(api.Delete(path.c_str(), bearer(staffToken))->body)["left"] == false);

  // An archived network takes nobody.
  auto admin = signedIn(server, "admin");
  admin->get("/networks/armed-forces/edit");
  REQUIRE(admin->submit("/networks/armed-forces/archive", {{"archived", "yes"}})->status == 303);
  auto archived = api.Post("/api/v1/networks/armed-forces/membership", bearer(staffToken),
                           R"({"kind":"member","consent_version":1})", "application/json");
  CHECK(archived->status == 409);
  CHECK(contains(json::parse(archived->body)["error"].get<std::string>(), "archived"));

  // A browser session needs the CSRF token in a header.
  auto staff = signedIn(server, "staff");
  const auto csrf = json::parse(staff->get("/api/v1/networks")->body)["csrf_token"].get<std::string>();
  CHECK(staff->client().Post(path.c_str(), {{"Cookie", "belonging_session=" + staff->cookie("belonging_session")}},
                             R"({"kind":"member","consent_version":1})", "application/json")->status == 403);
  auto withHeader = staff->client().Post(path.c_str(),
                                         {{"Cookie", "belonging_session=" + staff->cookie("belonging_session")},
                                          {"X-CSRF-Token", csrf}},
                                         R"({"kind":"member","consent_version":1})", "application/json");
  CHECK(withHeader->status == 201);

  // Member lists through the API: chairs and sponsor, and only with a token scoped for it.
  const auto narrow = token(server, "chair", {"signed-in"});
  CHECK(api.Get("/api/v1/networks/lgbtq/members", bearer(narrow))->status == 403);
  const auto wide = token(server, "chair", {"signed-in", "networks.members"});
  auto listed = api.Get("/api/v1/networks/lgbtq/members", bearer(wide));
  REQUIRE(listed->status == 200);
  bool foundStaff = false;
  const auto listedBody = json::parse(listed->body);
  for (const auto& member : listedBody["members"]) foundStaff = foundStaff || member["username"] == "staff";
  CHECK(foundStaff);
}

TEST_CASE("open networks show members the members who chose to be seen; confidential ones show them nobody", "[networks]") {
  TestServer server(networksServer());
  auto staff = signedIn(server, "staff");
  auto champion = signedIn(server, "champion");
  REQUIRE(staff->submit("/networks/carers/join", {{"kind", "member"}, {"consent_version", "1"}, {"visible", "yes"}})->status == 303);
  REQUIRE(champion->submit("/networks/carers/join", {{"kind", "ally"}, {"consent_version", "1"}})->status == 303);
  auto seen = champion->get("/networks/carers/members");
  REQUIRE(seen->status == 200);
  const std::string table = seen->body.substr(seen->body.find("<table"));
  CHECK(contains(table, "Sam Staff (demo)"));
  CHECK_FALSE(contains(table, "Chris Champion (demo)"));
  CHECK_FALSE(contains(seen->body, "Remove")); // Members do not manage members.
  CHECK(champion->get("/networks/carers/members.csv")->status == 403);

  // Asking to be visible on a confidential network is ignored: only chairs and sponsor see.
  REQUIRE(staff->submit("/networks/lgbtq/join", {{"kind", "member"}, {"consent_version", "1"}, {"visible", "yes"}})->status == 303);
  CHECK(staff->get("/networks/lgbtq/members")->status == 403);
  const auto exported = json::parse(staff->get("/networks/mine/data")->body)["networks"]["memberships"];
  for (const auto& membership : exported) {
    if (membership["slug"] == "lgbtq") CHECK(membership["name_visible_to_members"] == false);
  }
}

TEST_CASE("admins create, edit and archive networks and appoint chairs and sponsors, all audited", "[networks]") {
  TestServer server(networksServer());
  auto admin = signedIn(server, "admin");
  admin->get("/networks/manage/new");
  auto reserved = admin->submit("/networks/manage/new", {{"name", "Mine"}, {"slug", "mine"}, {"summary", "x"}, {"visibility", "open"}});
  CHECK(reserved->status == 400);
  CHECK(contains(reserved->body, "is used by the portal itself"));
  auto duplicate = admin->submit("/networks/manage/new", {{"name", "Carers Network"}, {"slug", "carers-2"}, {"summary", "x"},
                                                          {"visibility", "open"}, {"contact_email", "not an address"}});
  CHECK(duplicate->status == 400);
  CHECK(contains(duplicate->body, "There is already a network called Carers Network"));
  CHECK(contains(duplicate->body, "Enter the contact email address in the right format"));
  auto created = admin->submit("/networks/manage/new", {{"name", "Race Equality Allies"}, {"slug", "race-equality"},
                                                        {"summary", "Allies working on race equality."},
                                                        {"visibility", "confidential"}, {"allies_welcome", "yes"}});
  REQUIRE(created->status == 303);
  CHECK(created->get_header_value("Location") == "/networks/race-equality/edit");

  auto staff = signedIn(server, "staff");
  CHECK(staff->get("/networks/race-equality/members")->status == 403);
  admin->get("/networks/race-equality/edit");
  CHECK(admin->submit("/networks/race-equality/chairs", {{"username", "nobody-here"}})->status == 400);
  REQUIRE(admin->submit("/networks/race-equality/chairs", {{"username", "staff"}})->status == 303);
  CHECK(staff->get("/networks/race-equality/members")->status == 200);
  CHECK(contains(staff->get("/networks/race-equality")->body, "Sam Staff (demo)"));
  // Admins manage but still do not see confidential member lists.
  CHECK(admin->get("/networks/race-equality/members")->status == 403);

  auto edit = admin->get("/networks/race-equality/edit");
  const auto at = edit->body.find("/networks/race-equality/chairs/");
  REQUIRE(at != std::string::npos);
  const std::string removePath = edit->body.substr(at, edit->body.find('"', at) - at);
  REQUIRE(admin->submit(removePath, {})->status == 303);
  CHECK(staff->get("/networks/race-equality/members")->status == 403);

  REQUIRE(admin->submit("/networks/race-equality/sponsor", {{"username", "champion"}})->status == 303);
  CHECK(contains(staff->get("/networks/race-equality")->body, "Chris Champion (demo)"));
  REQUIRE(admin->submit("/networks/race-equality/edit", {{"name", "Race Equality Network"}, {"summary", "Renamed."},
                                                         {"visibility", "open"}})->status == 303);
  CHECK(contains(staff->get("/networks/race-equality")->body, "Race Equality Network"));
  REQUIRE(admin->submit("/networks/race-equality/archive", {{"archived", "yes"}})->status == 303);
  auto join = staff->submit("/networks/race-equality/join", {{"kind", "member"}, {"consent_version", "1"}});
  CHECK(join->status == 409);
  CHECK(contains(join->body, "archived"));
  CHECK_FALSE(contains(staff->get("/networks")->body, "Race Equality Network"));

  const auto audit = admin->get("/admin/audit")->body;
  for (const char* action : {"networks.create", "networks.chair.appoint", "networks.chair.remove", "networks.sponsor.set",
                             "networks.edit", "networks.archive"}) {
    INFO(action);
    CHECK(contains(audit, action));
  }
}

TEST_CASE("the People team's figures never show 1 to k-1 and small changes are not published", "[networks]") {
  TestServer server(networksServer());
  // A small network: three members.
  auto admin = signedIn(server, "admin");
  admin->get("/networks/manage/new");
  REQUIRE(admin->submit("/networks/manage/new", {{"name", "Tiny Network"}, {"slug", "tiny"}, {"summary", "Small."},
                                                 {"visibility", "open"}})->status == 303);
  for (const char* username : {"staff", "chair", "champion"}) {
    auto browser = signedIn(server, username);
    REQUIRE(browser->submit("/networks/tiny/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
  }

  auto analyst = signedIn(server, "analyst");
  auto report = analyst->get("/networks/report");
  REQUIRE(report->status == 200);
  // The small network is a star like every hidden figure, never "fewer than 11" (issue 14, item 5).
  CHECK(contains(report->body, "(hidden to protect small groups)"));
  CHECK_FALSE(contains(report->body, "ewer than"));
  CHECK(contains(report->body, "LGBTQ+ Network"));
  auto csv = analyst->get("/networks/report.csv");
  REQUIRE(csv->status == 200);
  CHECK(contains(csv->body, "\"Tiny Network\",*,"));
  checkNoSmallCounts(csv->body);
  const auto before = json::parse(analyst->get("/api/v1/networks")->body);
  CHECK_FALSE(before["figures"].contains("current")); // Saying "held back" would say someone changed.
  int womenBefore = -1;
  for (const auto& network : before["networks"]) {
    if (network["slug"] == "womens") womenBefore = network["people"]["value"].get<int>();
    if (network["slug"] == "tiny") CHECK(network["people"]["value"].is_null());
  }
  REQUIRE(womenBefore >= kThreshold);

  // One more member of the Women's network: re-publishing would reveal that one person joined.
  auto staff = signedIn(server, "staff");
  REQUIRE(staff->submit("/networks/womens/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
  const auto after = json::parse(analyst->get("/api/v1/networks")->body);
  CHECK(after["figures"] == before["figures"]);
  for (const auto& network : after["networks"]) {
    if (network["slug"] == "womens") CHECK(network["people"]["value"] == womenBefore);
  }
  report = analyst->get("/networks/report");
  CHECK_FALSE(contains(report->body, "held back"));
  checkNoSmallCounts(analyst->get("/networks/report.csv")->body);
  CHECK(contains(report->body, "By month"));
  auto adminAudit = admin->get("/admin/audit")->body;
  CHECK(contains(adminAudit, "networks.report.export"));
}

TEST_CASE("erasure: staff erase their own network data, and disabling an account erases it", "[networks]") {
  TestServer server(networksServer());
  auto staff = signedIn(server, "staff");
  REQUIRE(staff->submit("/networks/carers/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
  auto unconfirmed = staff->submit("/networks/mine/erase", {});
  CHECK(unconfirmed->status == 400);
  CHECK(contains(unconfirmed->body, "Confirm that you want to leave every network"));
  CHECK(contains(unconfirmed->body, "Carers Network")); // Nothing was erased.
  REQUIRE(staff->submit("/networks/mine/erase", {{"confirm", "yes"}})->status == 303);
  CHECK(contains(staff->get("/networks/mine")->body, "You are not in any staff network yet"));

  auto champion = signedIn(server, "champion");
  REQUIRE(champion->submit("/networks/lgbtq/join", {{"kind", "ally"}, {"consent_version", "1"}})->status == 303);
  auto chair = signedIn(server, "chair");
  CHECK(contains(chair->get("/networks/lgbtq/members")->body, "Chris Champion (demo)"));
  const auto disabled = server.cli({"user", "disable", "champion"});
  CHECK(disabled.exitCode == 0);
  CHECK(contains(disabled.out, "networks"));
  CHECK_FALSE(contains(chair->get("/networks/lgbtq/members")->body, "Chris Champion (demo)"));
}

namespace {

/** A network's published "people" figure from the API, or -1 when hidden. */
int apiPeople(Browser& browser, const std::string& slug) {
  const auto body = json::parse(browser.get("/api/v1/networks")->body);
  for (const auto& network : body["networks"]) {
    if (network["slug"] == slug) return network["people"]["value"].is_number() ? network["people"]["value"].get<int>() : -1;
  }
  FAIL("no network " << slug);
  return -1;
}

/** The row of a network in the report's CSV: "Members,Allies,Total" as shown. */
std::string csvRowOf(Browser& browser, const std::string& name) {
  const auto csv = browser.get("/networks/report.csv")->body;
  const auto at = csv.find("\"" + name + "\",");
  REQUIRE(at != std::string::npos);
  const auto start = at + name.size() + 3;
  return csv.substr(start, csv.find("\r\n", start) - start);
}

/** Opens the server's identified database, as an insider with the files could. */
void openIdentified(const TestServer& server, soci::session& sql) {
  if (server.isPostgresql()) {
    sql.open(soci::postgresql, server.databaseUrl());
  } else {
    sql.open(soci::sqlite3, "db=" + server.databaseUrl().substr(std::string("sqlite:").size()));
  }
}

} // namespace

TEST_CASE("month boundary: one person leaving is not published as last month's figure minus one", "[networks]") {
  TestServer server(networksServer());
  auto analyst = signedIn(server, "analyst");
  const int november = apiPeople(*analyst, "womens");
  REQUIRE(november >= kThreshold);
  const auto novemberCsv = csvRowOf(*analyst, "Women's Network");

  // One member leaves; then the month turns: what was published is relabelled last month's,
  // publication and ledger alike, as if the server's clock had moved on.
  auto staff = signedIn(server, "staff");
  REQUIRE(staff->submit("/networks/womens/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
  CHECK(apiPeople(*analyst, "womens") == november); // One joiner: nothing new is published.
  {
    soci::session sql;
    openIdentified(server, sql);
    sql << "UPDATE network_publications SET period = '2000-01'";
    sql << "UPDATE disclosure_releases SET period = '2000-01'";
  }
  REQUIRE(staff->submit("/networks/womens/leave", {})->status == 303);
  auto other = signedIn(server, "champion");
  REQUIRE(other->submit("/networks/womens/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
  // Today's product published December afresh: November 39, December 38 (or 40). Now the ledger
  // spans months, so December shows November's publication until k people have changed.
  CHECK(apiPeople(*analyst, "womens") == november);
  CHECK(csvRowOf(*analyst, "Women's Network") == novemberCsv);
  const auto report = analyst->get("/networks/report")->body;
  CHECK(contains(report, "January 2000"));
}

TEST_CASE("helper accounts that leave and rejoin do not force out the target's change", "[networks]") {
  TestServer server(networksServer());
  // The intruder's helpers: k-1 accounts in the Women's network.
  std::vector<std::unique_ptr<Browser>> helpers;
  for (int i = 0; i < kThreshold - 1; ++i) {
    const std::string name = "helper" + std::to_string(i);
    REQUIRE(server.cli({"user", "add", name, "--password-stdin"}, "belonging-demo\n").exitCode == 0);
    helpers.push_back(signedIn(server, name));
    REQUIRE(helpers.back()->submit("/networks/womens/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
  }
  auto analyst = signedIn(server, "analyst");
  const int before = apiPeople(*analyst, "womens");
  REQUIRE(before >= kThreshold);
  const auto beforeCsv = csvRowOf(*analyst, "Women's Network");
  const auto beforeNote = json::parse(analyst->get("/api/v1/networks")->body)["figures"];

  // The target joins; the helpers leave and rejoin, which today made new membership rows, pushed
  // the ledger's set distance past k and published a change of exactly the target.
  auto target = signedIn(server, "staff");
  REQUIRE(target->submit("/networks/womens/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
  for (auto& helper : helpers) {
    helper->get("/networks/womens");
    REQUIRE(helper->submit("/networks/womens/leave", {})->status == 303);
    REQUIRE(helper->submit("/networks/womens/join", {{"kind", "member"}, {"consent_version", "1"}})->status == 303);
  }
  // The same people but one: the same records, so nothing new is published, and the view says
  // nothing that differs from a view in which the target had not joined.
  CHECK(apiPeople(*analyst, "womens") == before);
  CHECK(csvRowOf(*analyst, "Women's Network") == beforeCsv);
  CHECK(json::parse(analyst->get("/api/v1/networks")->body)["figures"] == beforeNote);

  // Every page and export shows the one published figure for the cell.
  auto staff = signedIn(server, "champion");
  CHECK(apiPeople(*staff, "womens") == before);
  const auto total = beforeCsv.substr(beforeCsv.rfind(',') + 1);
  CHECK(total == std::to_string(before));
  CHECK(contains(staff->get("/networks/womens")->body, std::to_string(before)));
  CHECK(contains(staff->get("/networks")->body, std::to_string(before)));

  // Leaving and rejoining keeps the person's record; the export names it, never its key.
  const auto exported = json::parse(target->get("/networks/mine/data")->body)["networks"];
  CHECK(exported["network_records"] == json::array({"womens"}));
  REQUIRE(target->submit("/networks/womens/leave", {})->status == 303);
  CHECK(json::parse(target->get("/networks/mine/data")->body)["networks"]["network_records"] == json::array({"womens"}));
  REQUIRE(target->submit("/networks/mine/erase", {{"confirm", "yes"}})->status == 303);
  CHECK(json::parse(target->get("/networks/mine/data")->body)["networks"]["network_records"].empty());
}
