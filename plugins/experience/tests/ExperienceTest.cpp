// The experience plugin end to end: the real server, a real database (SQLite, or PostgreSQL
// when BELONGING_TEST_DATABASE is set), and a C++ client that blinds tokens as a browser does.

#include "../BlindRsa.hpp"
#include "../PaperCodes.hpp"
#include "../../../tests/integration/TestServer.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <future>
#include <numeric>
#include <random>
#include <regex>
#include <thread>

using namespace belonging::testing;
using belonging::experience::BlindVerifier;
using belonging::experience::Bytes;
namespace client = belonging::experience::client;
using nlohmann::json;

namespace {

constexpr const char* kProxySecret = "0123456789abcdef0123";

struct KeyEnvironment {
  KeyEnvironment() { setenv("BELONGING_EXPERIENCE_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1); }
};
const KeyEnvironment keyEnvironment;

ServerOptions experienceOptions() {
  ServerOptions options;
  options.plugins = {"admin", "experience"};
  options.seedDemo = true;
  // Scripted staff sign in through the trusted proxy: quick, and each a distinct person.
  options.extraConfig = std::string("[sso]\nenabled = true\nuser_header = \"X-Remote-User\"\nsecret_header = \"X-Proxy-Secret\"\n"
                                    "secret = \"") + kProxySecret + "\"\ntrusted_proxies = [\"127.0.0.1\"]\nauto_provision = true\n"
                        "[plugins.experience]\nsubmissions_per_minute = 100000\n";
  return options;
}

/** The same, with a mix that checks every 50 ms and a 2-second lease, so tests need not wait. */
ServerOptions fastMixOptions() {
  ServerOptions options = experienceOptions();
  options.extraConfig += "mix_check_seconds = 0.05\nmix_lease_seconds = 2\n";
  return options;
}

/** A direct connection to the server's anonymous store, as an insider with the files has. */
void openAnonymousStore(const TestServer& server, soci::session& sql) {
  // Its own database (PostgreSQL) or file (SQLite), never a part of the identified one.
  const std::string& url = server.anonymousDatabaseUrl();
  if (server.isPostgresql()) {
    sql.open(soci::postgresql, url);
  } else {
    sql.open(soci::sqlite3, "db=" + url.substr(std::string("sqlite:").size()));
  }
}

long long storedResponses(const TestServer& server, std::int64_t waveId) {
  soci::session sql;
  openAnonymousStore(server, sql);
  long long count = 0;
  sql << "SELECT COUNT(*) FROM experience_responses WHERE wave_id = :w", soci::use(waveId), soci::into(count);
  return count;
}

std::string attribute(const std::string& html, const std::string& name) {
  const std::regex pattern(name + "=\"([^\"]*)\"");
  std::smatch match;
  if (!std::regex_search(html, match, pattern)) return {};
  return match[1];
}

/** A browser with JavaScript: signs in via the proxy, blinds, finalises and submits. */
struct Participant {
  Participant(int port, std::string user) : browser(port), username(std::move(user)) {}
  Browser browser;
  std::string username;
  Bytes prepared, signature;

  httplib::Result get(const std::string& path) {
    return browser.get(path, {{"X-Remote-User", username}, {"X-Proxy-Secret", kProxySecret}});
  }
  /** Fetches the wave page and gets a token; returns the token request's status. */
  int obtainToken(std::int64_t waveId) {
    auto page = get("/experience/waves/" + std::to_string(waveId));
    if (page->status != 200) return page->status;
    const auto verifier = BlindVerifier::fromSpki(belonging::experience::base64UrlDecode(attribute(page->body, "data-public-key")));
    const std::string csrf = attribute(page->body, "data-csrf");
    Bytes message(32);
    std::mt19937_64 random(std::hash<std::string>{}(username));
    for (auto& byte : message) byte = static_cast<std::uint8_t>(random());
    prepared = client::prepare(message);
    const auto blinded = client::blind(verifier, prepared);
    auto response = browser.client().Post(
        ("/experience/waves/" + std::to_string(waveId) + "/token").c_str(),
        {{"Cookie", "belonging_session=" + browser.cookie("belonging_session")}, {"X-CSRF-Token", csrf},
         {"Accept", "application/json"}, {"X-Remote-User", username}, {"X-Proxy-Secret", kProxySecret}},
        json{{"blindedMessage", belonging::experience::base64UrlEncode(blinded.blindedMessage)}}.dump(), "application/json");
    if (response->status != 200) {
      UNSCOPED_INFO("token request: " << response->status << " " << response->body << " csrf=" << csrf << " cookie=" << browser.cookie("belonging_session"));
      return response->status;
    }
    signature = client::finalize(verifier, belonging::experience::base64UrlDecode(json::parse(response->body)["blindSignature"].get<std::string>()),
                                 blinded.inverse, prepared);
    return 200;
  }
};

/** Posts answers with no cookie at all, as the page's script does (credentials: "omit"). */
httplib::Result submitAnonymously(int port, const json& body) {
  httplib::Client anonymous("127.0.0.1", port);
  anonymous.set_read_timeout(30, 0);
  return anonymous.Post("/experience/submit", {{"Accept", "application/json"}}, body.dump(), "application/json");
}

json submission(std::int64_t waveId, const Participant& participant, const json& answers, const std::string& comment = {}) {
  return {{"wave", waveId},
          {"token", belonging::experience::base64UrlEncode(participant.prepared)},
          {"signature", belonging::experience::base64UrlEncode(participant.signature)},
          {"answers", answers},
          {"comment", comment}};
}

/** The receipt status for a participant's token, asked with no cookie. */
std::string receiptOf(int port, std::int64_t waveId, const Participant& participant) {
  httplib::Client anonymous("127.0.0.1", port);
  auto response = anonymous.Post("/experience/receipt", {{"Accept", "application/json"}},
                                 json{{"wave", waveId}, {"token", belonging::experience::base64UrlEncode(participant.prepared)}}.dump(),
                                 "application/json");
  if (!response || response->status != 200) return "error";
  return json::parse(response->body)["status"].get<std::string>();
}

std::string today(int offsetDays = 0) {
  const std::time_t at = std::time(nullptr) + offsetDays * 86400;
  std::tm parts{};
  gmtime_r(&at, &parts);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d", &parts);
  return buffer;
}

/** Creates and opens a wave as the demo analyst; returns its number. */
std::int64_t openWave(TestServer& server, const std::string& name) {
  Browser analyst(server.port());
  REQUIRE(analyst.signIn("analyst") == 303);
  analyst.get("/experience/manage");
  auto created = analyst.submit("/experience/manage", {{"name", name}, {"opensOn", today(-1)}, {"closesOn", today(10)}});
  REQUIRE(created->status == 303);
  auto list = server.cli({"experience", "waves"});
  std::smatch match;
  REQUIRE(std::regex_search(list.out, match, std::regex("(\\d+)\\tdraft\\t[^\\n]*" + name)));
  const std::int64_t id = std::stoll(match[1]);
  analyst.get("/experience/manage");
  REQUIRE(analyst.submit("/experience/manage/" + std::to_string(id) + "/open", {})->status == 303);
  return id;
}

void closeWave(TestServer& server, std::int64_t id) {
  Browser analyst(server.port());
  REQUIRE(analyst.signIn("analyst") == 303);
  analyst.get("/experience/manage");
  REQUIRE(analyst.submit("/experience/manage/" + std::to_string(id) + "/close", {{"confirm", "yes"}})->status == 303);
}

json results(TestServer& server, std::int64_t id) {
  Browser analyst(server.port());
  REQUIRE(analyst.signIn("analyst") == 303);
  auto response = analyst.get("/experience/waves/" + std::to_string(id) + "/results.json");
  REQUIRE(response->status == 200);
  return json::parse(response->body);
}

const json* indicator(const json& all, const std::string& id) {
  for (const auto& entry : all["indicators"]) {
    if (entry["id"] == id) return &entry;
  }
  return nullptr;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  auto ranks = [](const std::vector<double>& values) {
    std::vector<std::size_t> order(values.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](auto x, auto y) { return values[x] < values[y]; });
    std::vector<double> rank(values.size());
    for (std::size_t i = 0; i < order.size(); ++i) rank[order[i]] = static_cast<double>(i);
    return rank;
  };
  const auto ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  const double mean = (n - 1) / 2;
  double covariance = 0, varianceA = 0, varianceB = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    covariance += (ra[i] - mean) * (rb[i] - mean);
    varianceA += (ra[i] - mean) * (ra[i] - mean);
    varianceB += (rb[i] - mean) * (rb[i] - mean);
  }
  return covariance / std::sqrt(varianceA * varianceB);
}

} // namespace

TEST_CASE("a member of staff answers once, unlinkably, and abuse is refused", "[integration][experience]") {
  TestServer server(experienceOptions());
  const auto waveId = openWave(server, "Pilot wave");
  Participant nurse(server.port(), "night.nurse");

  // The wave is offered on the survey page and the home page.
  CHECK(nurse.get("/experience")->body.find("Pilot wave") != std::string::npos);
  CHECK(nurse.get("/")->body.find("/experience/waves/" + std::to_string(waveId)) != std::string::npos);
  auto page = nurse.get("/experience/waves/" + std::to_string(waveId));
  REQUIRE(page->status == 200);
  CHECK(page->body.find("data-public-key=\"") != std::string::npos);
  CHECK(page->body.find("/static/experience.js") != std::string::npos);

  REQUIRE(nurse.obtainToken(waveId) == 200);
  const json answers{{"public_harassment", "1-2"}, {"ethnicity", "bme"}, {"disability", "no"}};

  SECTION("bad answers are refused naming the question, and the token still works afterwards") {
    auto bad = submitAnonymously(server.port(), submission(waveId, nurse, {{"ethnicity", "purple"}}));
    CHECK(bad->status == 422);
    CHECK(json::parse(bad->body)["field"] == "ethnicity");
    auto unknown = submitAnonymously(server.port(), submission(waveId, nurse, {{"shoe_size", "9"}}));
    CHECK(unknown->status == 422);
    CHECK(submitAnonymously(server.port(), submission(waveId, nurse, answers))->status == 202);
  }

  SECTION("a recorded submission cannot be replayed, and a second token is refused") {
    CHECK(submitAnonymously(server.port(), submission(waveId, nurse, answers))->status == 202);
    CHECK(submitAnonymously(server.port(), submission(waveId, nurse, answers))->status == 409);
    // The same token with padding is the same token.
    auto padded = submission(waveId, nurse, answers);
    padded["token"] = padded["token"].get<std::string>() + std::string((4 - padded["token"].get<std::string>().size() % 4) % 4, '=');
    CHECK(submitAnonymously(server.port(), padded)->status >= 400);
    CHECK(nurse.obtainToken(waveId) == 409);
    auto again = nurse.get("/experience/waves/" + std::to_string(waveId));
    // The page still opens (the browser with the token carries on from it), marked as issued
    // so a browser without the token explains instead of asking for a second.
    CHECK(again->status == 200);
    CHECK(again->body.find("data-issued=\"true\"") != std::string::npos);
    CHECK(again->body.find("You have already been given your code") != std::string::npos);
  }

  SECTION("malformed and forged credentials are 400") {
    auto forged = submission(waveId, nurse, answers);
    auto signature = nurse.signature;
    signature[10] ^= 1;
    forged["signature"] = belonging::experience::base64UrlEncode(signature);
    CHECK(submitAnonymously(server.port(), forged)->status == 400);
    auto notBase64 = submission(waveId, nurse, answers);
    notBase64["token"] = "not base64!";
    CHECK(submitAnonymously(server.port(), notBase64)->status == 400);
    httplib::Client anonymous("127.0.0.1", server.port());
    CHECK(anonymous.Post("/experience/submit", "{not json", "application/json")->status == 400);
    CHECK(anonymous.Post("/experience/submit", json{{"wave", "x"}}.dump(), "application/json")->status == 400);
    // The real submission still goes through afterwards.
    CHECK(submitAnonymously(server.port(), submission(waveId, nurse, answers))->status == 202);
  }
}

TEST_CASE("results exist only after close", "[integration][experience]") {
  TestServer server(experienceOptions());
  const auto waveId = openWave(server, "Closing wave");
  Participant nurse(server.port(), "late.nurse");
  REQUIRE(nurse.obtainToken(waveId) == 200);
  Browser analyst(server.port());
  REQUIRE(analyst.signIn("analyst") == 303);
  CHECK(analyst.get("/experience/waves/" + std::to_string(waveId) + "/results")->status == 409);
  closeWave(server, waveId);
  CHECK(submitAnonymously(server.port(), submission(waveId, nurse, {{"discrimination", "no"}}))->status == 410);
  CHECK(analyst.get("/experience/waves/" + std::to_string(waveId) + "/results")->status == 200);
  Participant other(server.port(), "other.nurse");
  CHECK(other.obtainToken(waveId) == 410);
}

TEST_CASE("a closed wave's results are published once: every view and export shows the same figures",
          "[integration][experience][disclosure]") {
  // Issue 14: the results showed WRES 5 on the first view and "*" for 63-74 figures on every
  // later view, because each view released the tables again and the ledger compared them with
  // the first. Now the first view publishes, and every page, CSV and JSON reads the publication.
  TestServer server(experienceOptions());
  const auto waveId = openWave(server, "Published wave");
  for (int i = 0; i < 30; ++i) {
    Participant participant(server.port(), "published" + std::to_string(i));
    REQUIRE(participant.obtainToken(waveId) == 200);
    const json answers{{"public_harassment", i % 3 == 0 ? "1-2" : "never"},
                       {"ethnicity", i < 20 ? "white" : i < 27 ? "bme" : "prefer-not"}, {"directorate", "operations"}};
    REQUIRE(submitAnonymously(server.port(), submission(waveId, participant, answers))->status == 202);
  }
  closeWave(server, waveId);
  Browser analyst(server.port());
  REQUIRE(analyst.signIn("analyst") == 303);
  const std::string base = "/experience/waves/" + std::to_string(waveId) + "/results";
  const auto firstJson = analyst.get(base + ".json");
  const auto firstCsv = analyst.get(base + ".csv");
  REQUIRE(firstJson->status == 200);
  REQUIRE(firstCsv->status == 200);
  const json first = json::parse(firstJson->body);
  const json* wres5 = indicator(first, "wres5");
  REQUIRE(wres5);
  CHECK((*wres5)["shown"] == true);
  for (int view = 0; view < 10; ++view) {
    CHECK(analyst.get(base + ".json")->body == firstJson->body);
    CHECK(analyst.get(base + ".csv")->body == firstCsv->body);
    CHECK(analyst.get(base)->status == 200);
    CHECK(results(server, waveId).dump() == first.dump());
  }
}

TEST_CASE("every experience route for every role", "[integration][experience]") {
  TestServer server(experienceOptions());
  const auto waveId = openWave(server, "Roles wave");
  const std::string wave = "/experience/waves/" + std::to_string(waveId);
  struct Expectation {
    std::string path;
    std::map<std::string, int> status; // username ("" = not signed in) -> status
  };
  // Admin is not all-seeing: no results, no comments, no wave management.
  const std::vector<Expectation> expectations{
      {"/experience", {{"", 303}, {"staff", 200}, {"analyst", 200}, {"admin", 200}}},
      {wave, {{"", 303}, {"staff", 200}}},
      {"/experience/manage", {{"", 303}, {"staff", 403}, {"chair", 403}, {"admin", 403}, {"analyst", 200}}},
      {wave + "/results", {{"", 303}, {"staff", 403}, {"admin", 403}, {"guardian", 403}, {"analyst", 409}}},
      {wave + "/results.csv", {{"", 303}, {"staff", 403}, {"admin", 403}, {"analyst", 409}}},
      {wave + "/results.json", {{"staff", 403}, {"admin", 403}, {"analyst", 409}}},
      {wave + "/comments", {{"", 303}, {"staff", 403}, {"admin", 403}, {"analyst", 409}}},
      {"/experience/code", {{"", 200}, {"staff", 200}}},
      {"/experience/waves/999", {{"staff", 404}}},
      {"/experience/waves/abc", {{"staff", 404}}},
  };
  for (const auto& expectation : expectations) {
    for (const auto& [user, status] : expectation.status) {
      Browser browser(server.port());
      if (!user.empty()) REQUIRE(browser.signIn(user) == 303);
      INFO(expectation.path << " as " << (user.empty() ? "nobody" : user));
      CHECK(browser.get(expectation.path)->status == status);
    }
  }
  // State-changing analyst routes refuse others.
  for (const std::string user : {"staff", "admin", "chair"}) {
    Browser browser(server.port());
    REQUIRE(browser.signIn(user) == 303);
    browser.get("/experience");
    INFO(user);
    CHECK(browser.submit("/experience/manage", {{"name", "x"}, {"opensOn", today()}, {"closesOn", today()}})->status == 403);
    CHECK(browser.submit("/experience/manage/" + std::to_string(waveId) + "/close", {{"confirm", "yes"}})->status == 403);
  }
  // Bad wave input names the field.
  Browser analyst(server.port());
  REQUIRE(analyst.signIn("analyst") == 303);
  analyst.get("/experience/manage");
  auto badDate = analyst.submit("/experience/manage", {{"name", "Bad"}, {"opensOn", "2026-02-30"}, {"closesOn", today()}});
  CHECK(badDate->status == 422);
  CHECK(badDate->body.find("opening date") != std::string::npos);
  auto backwards = analyst.submit("/experience/manage", {{"name", "Backwards"}, {"opensOn", today(5)}, {"closesOn", today()}});
  CHECK(backwards->status == 422);
  CHECK(backwards->body.find("on or after the opening date") != std::string::npos);
  auto unconfirmed = analyst.submit("/experience/manage/" + std::to_string(waveId) + "/close", {});
  CHECK(unconfirmed->status == 422);
}

TEST_CASE("paper codes: one-time, no sign-in, no JavaScript", "[integration][experience]") {
  TestServer server(experienceOptions());
  const auto waveId = openWave(server, "Paper wave");
  TempDirectory output;
  const std::string csvPath = (output / "codes.csv").string(), sheetPath = (output / "slips.html").string();
  auto made = server.cli({"experience", "codes", "--wave", std::to_string(waveId), "--count", "3", "-o", csvPath, "--sheet", sheetPath});
  REQUIRE(made.exitCode == 0);
  std::ifstream csv(csvPath);
  std::vector<std::string> codes;
  for (std::string line; std::getline(csv, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line != "code") codes.push_back(line);
  }
  REQUIRE(codes.size() == 3);
  CHECK(std::regex_match(codes[0], std::regex("[2-9A-HJKMNP-TW-Z]{4}(-[2-9A-HJKMNP-TW-Z]{4}){3}-[2-9A-HJKMNP-TW-Z]{3}")));
  std::ifstream sheet(sheetPath);
  const std::string sheetText((std::istreambuf_iterator<char>(sheet)), std::istreambuf_iterator<char>());
  CHECK(sheetText.find(codes[1]) != std::string::npos);
  // Refuses to overwrite, and refuses bad arguments, with exit code 2.
  CHECK(server.cli({"experience", "codes", "--wave", std::to_string(waveId), "--count", "3", "-o", csvPath}).exitCode == 2);
  CHECK(server.cli({"experience", "codes", "--wave", std::to_string(waveId), "--count", "0", "-o", (output / "x.csv").string()}).exitCode == 2);
  CHECK(server.cli({"experience", "codes", "--wave", "999", "--count", "1", "-o", (output / "y.csv").string()}).exitCode == 2);
  // The codes' text is nowhere in either database.
  for (const auto& file : std::filesystem::directory_iterator(std::filesystem::path(server.configPath()).parent_path())) {
    if (!file.is_regular_file() || file.path().extension() == ".toml") continue;
    std::ifstream in(file.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string bare = codes[0];
    std::erase(bare, '-');
    CHECK(bytes.find(bare) == std::string::npos);
    CHECK(bytes.find(codes[0]) == std::string::npos);
  }

  Browser holder(server.port()); // Not signed in.
  CHECK(holder.get("/experience/code")->status == 200);
  auto typo = holder.post("/experience/code", {{"code", codes[0].substr(0, codes[0].size() - 1) + (codes[0].back() == 'Z' ? "Y" : "Z")}});
  CHECK(typo->status == 400);
  CHECK(typo->body.find("typing mistake") != std::string::npos);
  CHECK(holder.post("/experience/code", {{"code", "0000"}})->status == 400);
  std::string lower = codes[0];
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto form = holder.post("/experience/code", {{"code", lower}});
  REQUIRE(form->status == 200);
  CHECK(form->body.find("name=\"public_harassment\"") != std::string::npos);
  CHECK(form->body.find("experience.js") == std::string::npos); // No script needed.
  auto invalid = holder.post("/experience/code/answers", {{"code", lower}, {"ethnicity", "white"}, {"ethnicity_detail", "asian-indian"}});
  CHECK(invalid->status == 422);
  CHECK(invalid->body.find("nhsuk-error-summary") != std::string::npos);
  CHECK(invalid->body.find("href=\"#field-ethnicity_detail\"") != std::string::npos);
  auto recorded = holder.post("/experience/code/answers", {{"code", lower}, {"ethnicity", "white"}, {"discrimination", "no"}});
  CHECK(recorded->status == 200);
  CHECK(recorded->body.find("Your answers have been received") != std::string::npos);
  CHECK(recorded->body.find("at least 19 colleagues") != std::string::npos);
  CHECK(holder.post("/experience/code/answers", {{"code", codes[0]}, {"discrimination", "yes"}})->status == 409);
  // Typing a used code again says where its answers are, without showing them.
  auto waiting = holder.post("/experience/code", {{"code", codes[0]}});
  CHECK(waiting->status == 200);
  CHECK(waiting->body.find("waiting to be saved") != std::string::npos);
  CHECK(waiting->body.find("name=\"public_harassment\"") == std::string::npos);
  // A code for a closed wave is 410.
  closeWave(server, waveId);
  CHECK(holder.post("/experience/code", {{"code", codes[1]}})->status == 410);
  auto saved = holder.post("/experience/code", {{"code", codes[0]}});
  CHECK(saved->status == 200);
  CHECK(saved->body.find("Your answers are saved") != std::string::npos);
  // While serving, the anonymous routes leave no line at all; stopped, the server writes the
  // day's counts, with neither address nor time finer than the day.
  CHECK(server.accessLog().find("/experience/code") == std::string::npos);
  server.stop();
  const std::string log = server.accessLog();
  std::size_t anonymousLines = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("/experience/code") == std::string::npos) continue;
    ++anonymousLines;
    CHECK(line.find("\"count\"") != std::string::npos);
    CHECK(line.find("127.0.0.1") == std::string::npos);
    CHECK_FALSE(std::regex_search(line, std::regex("T\\d\\d:\\d\\d")));
  }
  CHECK(anonymousLines >= 5);
}

TEST_CASE("200 staff: indicators match a hand count, small groups are hidden, and nothing orders submissions",
          "[integration][experience][unlinkability]") {
  TestServer server(experienceOptions());
  const auto waveId = openWave(server, "Unlinkability wave");
  constexpr int kStaff = 200;
  // Each person's answers are distinct, so the test (not the system) can tell rows apart.
  const std::vector<std::string> times{"never", "1-2", "3-5", "6-10", "more-than-10"};
  const std::vector<std::string> fair{"yes", "no", "dont-know"};
  struct Person {
    json answers;
    int issuedAt = 0;
  };
  std::vector<Person> people(kStaff);
  std::vector<Participant> participants;
  participants.reserve(kStaff);
  int handWhiteYes = 0, handWhite = 0, handBmeYes = 0, handBme = 0;
  for (int i = 0; i < kStaff; ++i) {
    // 120 White, 76 BME, 4 prefer not to say: the last group is below k.
    const std::string ethnicity = i < 120 ? "white" : i < 196 ? "bme" : "prefer-not";
    people[static_cast<std::size_t>(i)].answers = {{"public_harassment", times[static_cast<std::size_t>(i % 5)]},
                         {"manager_harassment", times[static_cast<std::size_t>((i / 5) % 5)]},
                         {"colleague_harassment", times[static_cast<std::size_t>((i / 25) % 5)]},
                         {"career_fair", fair[static_cast<std::size_t>((i / 125) % 3)]},
                         {"discrimination", i % 3 == 0 ? "yes" : "no"},
                         {"ethnicity", ethnicity},
                         {"disability", i % 4 == 0 ? "yes" : "no"}};
    const bool yes = i % 5 != 0; // public_harassment other than "never"
    if (ethnicity == "white") { handWhite++; handWhiteYes += yes; }
    if (ethnicity == "bme") { handBme++; handBmeYes += yes; }
    participants.emplace_back(server.port(), "scripted" + std::to_string(1000 + i));
  }
  // Issuance in one order…
  for (int i = 0; i < kStaff; ++i) {
    REQUIRE(participants[static_cast<std::size_t>(i)].obtainToken(waveId) == 200);
    people[static_cast<std::size_t>(i)].issuedAt = i;
  }
  // …submission in a shuffled one.
  std::vector<int> arrival(kStaff);
  std::iota(arrival.begin(), arrival.end(), 0);
  std::shuffle(arrival.begin(), arrival.end(), std::mt19937(7));
  std::vector<int> arrivedAt(kStaff);
  for (int position = 0; position < kStaff; ++position) {
    const int i = arrival[static_cast<std::size_t>(position)];
    arrivedAt[static_cast<std::size_t>(i)] = position;
    const std::string comment = i % 10 == 0 ? "comment from person " + std::to_string(i) : "";
    REQUIRE(submitAnonymously(server.port(), submission(waveId, participants[static_cast<std::size_t>(i)],
                                                       people[static_cast<std::size_t>(i)].answers, comment))->status == 202);
  }
  closeWave(server, waveId);

  // Indicators against a hand count.
  const json all = results(server, waveId);
  CHECK(all["respondents"]["value"] == kStaff);
  const json* wres5 = indicator(all, "wres5");
  REQUIRE(wres5);
  std::map<std::string, json> byGroup;
  for (const auto& group : (*wres5)["groups"]) byGroup[group["group"]] = group;
  CHECK(byGroup["White"]["yes"]["value"] == handWhiteYes);
  CHECK(byGroup["White"]["respondents"]["value"] == handWhite);
  CHECK(byGroup["White"]["value"]["value"] == std::lround(100.0 * handWhiteYes / handWhite)); // Whole percentages.
  CHECK(byGroup["All respondents"]["respondents"]["value"] == kStaff);
  CHECK(byGroup["All respondents"]["yes"]["value"] == 160); // Everyone but the "never" fifth.
  // Four people preferred not to say: every figure of theirs hidden, and so is another group's
  // (secondary suppression over the group sizes), so that their number cannot be worked out
  // from the total. Hidden figures all look alike: nothing says which is the small group.
  const json hidden{{"value", nullptr}, {"status", "hidden"}};
  for (const char* figure : {"value", "yes", "respondents"}) CHECK(byGroup["Not stated"][figure] == hidden);
  int hiddenGroups = 0;
  for (const auto& [name, group] : byGroup) {
    hiddenGroups += group["respondents"] == hidden;
    // Where a figure is shown, it is the hand count.
    if (name == "BME" && !group["yes"]["value"].is_null()) CHECK(group["yes"]["value"] == handBmeYes);
    if (name == "BME" && !group["respondents"]["value"].is_null()) CHECK(group["respondents"]["value"] == handBme);
  }
  CHECK(hiddenGroups >= 2);

  // WRES 8 by hand: discrimination "yes" for every third person.
  const json* wres8 = indicator(all, "wres8");
  REQUIRE(wres8);
  int white8 = 0;
  for (int i = 0; i < 120; ++i) white8 += i % 3 == 0;
  for (const auto& group : (*wres8)["groups"]) {
    if (group["group"] == "White") CHECK(group["yes"]["value"] == white8);
  }

  // Nothing in the anonymous store orders rows like issuance or arrival.
  const std::string dataDir = std::filesystem::path(server.configPath()).parent_path().string();
  soci::session sql;
  openAnonymousStore(server, sql);
  // Which person each stored row is, by its answers.
  auto personOf = [&](const std::string& stored) {
    const json row = json::parse(stored);
    for (int i = 0; i < kStaff; ++i) {
      bool same = true;
      for (const auto& [question, value] : people[static_cast<std::size_t>(i)].answers.items()) {
        if (!row.contains(question) || row[question] != value) { same = false; break; }
      }
      if (same) return i;
    }
    return -1;
  };
  std::vector<double> physical, issued, arrived, keys, sequences;
  {
    std::string answers;
    long long key = 0, sequence = 0;
    const std::string order = server.isPostgresql() ? "ctid" : "rowid";
    soci::statement rows = (sql.prepare << "SELECT response_key, sequence, answers FROM experience_responses WHERE wave_id = :w ORDER BY " + order,
                            soci::use(waveId), soci::into(key), soci::into(sequence), soci::into(answers));
    rows.execute();
    int position = 0;
    while (rows.fetch()) {
      const int person = personOf(answers);
      REQUIRE(person >= 0);
      physical.push_back(position++);
      keys.push_back(static_cast<double>(key));
      sequences.push_back(static_cast<double>(sequence));
      issued.push_back(people[static_cast<std::size_t>(person)].issuedAt);
      arrived.push_back(arrivedAt[static_cast<std::size_t>(person)]);
    }
  }
  REQUIRE(physical.size() == kStaff);
  // |rho| for 200 independent orders has a standard deviation of about 0.07: 0.3 is over 4 of them.
  for (const auto* column : {&physical, &keys, &sequences}) {
    CHECK(std::abs(spearman(*column, issued)) < 0.3);
    CHECK(std::abs(spearman(*column, arrived)) < 0.3);
  }
  // No column holds anything but the wave, the version, the shuffled number and the answers.
  if (!server.isPostgresql()) {
    std::vector<std::string> columns;
    std::string name;
    soci::statement info = (sql.prepare << "SELECT name FROM pragma_table_info('experience_responses')", soci::into(name));
    info.execute();
    while (info.fetch()) columns.push_back(name);
    CHECK(columns == std::vector<std::string>{"response_key", "wave_id", "questionnaire_version", "sequence", "answers"});
    // The file itself: where each person's answers sit in the bytes says nothing either.
    std::ifstream in(dataDir + "/belonging-anonymous.db", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<double> offsets, offsetIssued, offsetArrived;
    for (int i = 0; i < kStaff; ++i) {
      // The stored JSON is compact and sorted by key; find each person's by its first fields.
      json stored = people[static_cast<std::size_t>(i)].answers;
      const auto at = bytes.find(stored.dump());
      if (at == std::string::npos) continue;
      offsets.push_back(static_cast<double>(at));
      offsetIssued.push_back(i);
      offsetArrived.push_back(arrivedAt[static_cast<std::size_t>(i)]);
    }
    CHECK(offsets.size() == kStaff);
    CHECK(std::abs(spearman(offsets, offsetIssued)) < 0.3);
    CHECK(std::abs(spearman(offsets, offsetArrived)) < 0.3);
    // The write-ahead log was emptied at close.
    std::error_code error;
    CHECK(std::filesystem::file_size(dataDir + "/belonging-anonymous.db-wal", error) == 0);
  }
  // Comments: kept apart, shown to the analyst only as a list.
  Browser analyst(server.port());
  REQUIRE(analyst.signIn("analyst") == 303);
  auto comments = analyst.get("/experience/waves/" + std::to_string(waveId) + "/comments");
  CHECK(comments->status == 200);
  CHECK(comments->body.find("comment from person 10") != std::string::npos);
  CHECK(comments->body.find("Check the wording") != std::string::npos);
  // Exports are audited.
  analyst.get("/experience/waves/" + std::to_string(waveId) + "/results.csv");
  Browser admin(server.port());
  REQUIRE(admin.signIn("admin") == 303);
  auto audit = admin.get("/admin/audit");
  CHECK(audit->body.find("experience.results.export") != std::string::npos);
  CHECK(audit->body.find("experience.comments.view") != std::string::npos);
}

TEST_CASE("results: a group of fewer than k shows nothing, zeros included, and no output says why a figure is hidden",
          "[integration][experience][disclosure]") {
  // Issue 14: "3 medical respondents" was hidden while "said yes: 0" beside it was released,
  // which told the reader how each of the three answered; and "primary" / "fewer than 11"
  // marked which hidden figures were small. Here three people who preferred not to state their
  // ethnicity, and three White staff who are all of Medical, all answered "never".
  TestServer server(experienceOptions());
  const auto waveId = openWave(server, "Small groups wave");
  struct Person {
    std::string ethnicity, directorate;
  };
  std::vector<Person> people;
  for (int i = 0; i < 22; ++i) people.push_back({"white", "operations"});
  for (int i = 0; i < 20; ++i) people.push_back({"white", "nursing-and-quality"});
  for (int i = 0; i < 3; ++i) people.push_back({"white", "medical"});
  for (int i = 0; i < 12; ++i) people.push_back({"bme", "operations"});
  for (int i = 0; i < 3; ++i) people.push_back({"prefer-not", "operations"});
  const std::vector<std::string> bands{"afc-1-4", "afc-5-7", "afc-8a-8b", "afc-8c-vsm", "medical-dental", "prefer-not"};
  int whiteYes = 0;
  for (std::size_t i = 0; i < people.size(); ++i) {
    const bool small = people[i].ethnicity == "prefer-not" || people[i].directorate == "medical";
    const bool yes = !small && i % 2 == 0;
    whiteYes += yes && people[i].ethnicity == "white";
    Participant participant(server.port(), "smallgroups" + std::to_string(i));
    REQUIRE(participant.obtainToken(waveId) == 200);
    // Ten people in each pay band: every band is too small, so that breakdown is not offered.
    const json answers{{"public_harassment", yes ? "1-2" : "never"}, {"ethnicity", people[i].ethnicity},
                       {"directorate", people[i].directorate}, {"band_cluster", bands[i % bands.size()]}};
    REQUIRE(submitAnonymously(server.port(), submission(waveId, participant, answers))->status == 202);
  }
  closeWave(server, waveId);

  const json hidden{{"value", nullptr}, {"status", "hidden"}};
  const json all = results(server, waveId);
  const json* wres5 = indicator(all, "wres5");
  REQUIRE(wres5);
  std::map<std::string, json> byGroup;
  for (const auto& group : (*wres5)["groups"]) byGroup[group["group"]] = group;
  // Not stated (3, all "never"): every figure hidden, the zero too.
  for (const char* figure : {"value", "yes", "respondents"}) CHECK(byGroup["Not stated"][figure] == hidden);
  // BME (12) is hidden with it, so 60 - 45 does not give the three away; White and everyone show.
  for (const char* figure : {"value", "yes", "respondents"}) CHECK(byGroup["BME"][figure] == hidden);
  CHECK(byGroup["White"]["respondents"]["value"] == 45);
  CHECK(byGroup["White"]["yes"]["value"] == whiteYes);
  CHECK(byGroup["White"]["value"]["value"] == std::lround(100.0 * whiteYes / 45));
  CHECK(byGroup["All respondents"]["respondents"]["value"] == 60);
  // By directorate: the breakdown is offered; Medical (3, all "never") shows nothing at all.
  const json& byDirectorate = (*wres5)["breakdowns"]["directorate"];
  REQUIRE(byDirectorate["shown"] == true);
  int medicalCells = 0;
  for (const auto& entry : byDirectorate["cells"]) {
    if (entry["directorate"] == "Medical" && (entry["group"] == "White" || entry["group"] == "All respondents")) {
      ++medicalCells;
      for (const char* figure : {"value", "yes", "respondents"}) CHECK(entry[figure] == hidden);
    }
    if (entry["directorate"] == "Operations" && entry["group"] == "White") CHECK(entry["respondents"]["value"] == 22);
  }
  CHECK(medicalCells == 2);
  // By pay band every group is too small: said once, not as a table of stars.
  const json& byBand = (*wres5)["breakdowns"]["band_cluster"];
  CHECK(byBand["shown"] == false);
  CHECK(byBand["note"] == "Too few people answered in each pay band to show this by pay band.");
  CHECK_FALSE(byBand.contains("cells"));
  // Nobody answered WRES 8: said once as well.
  const json* wres8 = indicator(all, "wres8");
  REQUIRE(wres8);
  CHECK((*wres8)["shown"] == false);
  CHECK((*wres8)["groups"].empty());

  // No output says why a figure is hidden, or that it is small.
  Browser analyst(server.port());
  REQUIRE(analyst.signIn("analyst") == 303);
  auto csv = analyst.get("/experience/waves/" + std::to_string(waveId) + "/results.csv");
  auto page = analyst.get("/experience/waves/" + std::to_string(waveId) + "/results");
  REQUIRE(csv->status == 200);
  REQUIRE(page->status == 200);
  for (const std::string& output : {all.dump(), csv->body}) {
    for (const char* leak : {"primary", "secondary", "withheld", "differencing", "suppressed", "ewer than"}) {
      INFO(leak);
      CHECK(output.find(leak) == std::string::npos);
    }
  }
  CHECK(page->body.find("ewer than") == std::string::npos);
  CHECK(page->body.find("(hidden to protect small groups)") != std::string::npos);
  CHECK(page->body.find("Too few people answered in each pay band to show this by pay band.") != std::string::npos);
  // The CSV: the three of Not stated and of Medical are stars in every column, like every hidden figure.
  for (const char* row : {"\"All\",\"All\",\"Not stated\"", "\"Directorate\",\"Medical\",\"White\"",
                          "\"Directorate\",\"Medical\",\"All respondents\""}) {
    INFO(row);
    CHECK(csv->body.find(std::string(row) + ",*,*,*,hidden\r\n") != std::string::npos);
  }
  CHECK(csv->body.find("\"All\",\"All\",\"White\"," + std::to_string(whiteYes) + ",45,") != std::string::npos);
  CHECK(csv->body.find("\"Pay band\",,,,,,\"Too few people answered in each pay band to show this by pay band.\"\r\n") !=
        std::string::npos);
}

TEST_CASE("a token spent at the same moment through two server processes counts once", "[integration][experience]") {
  TestServer first(experienceOptions());
  TestServer second(first, true);
  const auto waveId = openWave(first, "Double-spend wave");
  for (int attempt = 0; attempt < 5; ++attempt) {
    Participant person(first.port(), "double" + std::to_string(attempt));
    REQUIRE(person.obtainToken(waveId) == 200);
    const json body = submission(waveId, person, {{"discrimination", "no"}});
    auto one = std::async(std::launch::async, [&] { return submitAnonymously(first.port(), body)->status; });
    auto two = std::async(std::launch::async, [&] { return submitAnonymously(second.port(), body)->status; });
    std::vector<int> statuses{one.get(), two.get()};
    std::sort(statuses.begin(), statuses.end());
    CHECK(statuses == std::vector<int>{202, 409});
  }
}

TEST_CASE("a flood of forged tokens, unknown codes and replays denies no real token or code", "[integration][experience]") {
  // A small failure budget, so the flood is well past it.
  auto options = experienceOptions();
  options.extraConfig += "failed_attempts_per_minute = 5\n";
  TestServer server(options);
  const auto waveId = openWave(server, "Flood wave");
  TempDirectory output;
  const std::string csvPath = (output / "codes.csv").string();
  REQUIRE(server.cli({"experience", "codes", "--wave", std::to_string(waveId), "--count", "1", "-o", csvPath}).exitCode == 0);
  std::ifstream csv(csvPath);
  std::string realCode;
  for (std::string line; std::getline(csv, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line != "code") realCode = line;
  }
  REQUIRE(!realCode.empty());

  const json answers{{"discrimination", "no"}};
  Participant spender(server.port(), "flood.spender"), nurse(server.port(), "flood.nurse");
  REQUIRE(spender.obtainToken(waveId) == 200);
  REQUIRE(nurse.obtainToken(waveId) == 200);
  REQUIRE(submitAnonymously(server.port(), submission(waveId, spender, answers))->status == 202);

  std::mt19937_64 random(42);
  int throttled = 0;
  for (int i = 0; i < 40; ++i) {
    auto forged = submission(waveId, nurse, answers);
    Bytes token(64), signature = nurse.signature;
    for (auto& byte : token) byte = static_cast<std::uint8_t>(random());
    forged["token"] = belonging::experience::base64UrlEncode(token);
    forged["signature"] = belonging::experience::base64UrlEncode(signature);
    const int forgedStatus = submitAnonymously(server.port(), forged)->status;
    CHECK((forgedStatus == 400 || forgedStatus == 429));
    throttled += forgedStatus == 429;
    const int replayStatus = submitAnonymously(server.port(), submission(waveId, spender, answers))->status;
    CHECK((replayStatus == 409 || replayStatus == 429));
    Browser guesser(server.port());
    const std::string wrongCode = experience::generatePaperCode(); // Well formed, but never issued.
    const int codeStatus = guesser.post("/experience/code", {{"code", wrongCode}})->status;
    CHECK((codeStatus == 400 || codeStatus == 429));
    const int answersStatus = guesser.post("/experience/code/answers", {{"code", wrongCode}, {"discrimination", "no"}})->status;
    CHECK((answersStatus == 400 || answersStatus == 429));
  }
  // Invalid attempts past the budget are still slowed down…
  CHECK(throttled > 0);
  // …but a real token and a real paper code go straight through.
  CHECK(submitAnonymously(server.port(), submission(waveId, nurse, answers))->status == 202);
  Browser holder(server.port());
  CHECK(holder.post("/experience/code", {{"code", realCode}})->status == 200);
  CHECK(holder.post("/experience/code/answers", {{"code", realCode}, {"discrimination", "no"}})->status == 200);
}

TEST_CASE("the results CSV quotes the wave's name and defuses formulas in it", "[integration][experience]") {
  TestServer server(experienceOptions());
  const auto waveId = openWave(server, "\t@Tab \"wave\"");
  closeWave(server, waveId);
  Browser analyst(server.port());
  REQUIRE(analyst.signIn("analyst") == 303);
  auto csv = analyst.get("/experience/waves/" + std::to_string(waveId) + "/results.csv");
  REQUIRE(csv->status == 200);
  CHECK(csv->body.find("\r\n\"'\t@Tab \"\"wave\"\"\",") != std::string::npos);
  CHECK(csv->body.find("\r\n\"\t@Tab") == std::string::npos);
}

TEST_CASE("answers reach the store only in shuffled batches of at least B, and the browser can ask when",
          "[integration][experience][mix]") {
  TestServer server(fastMixOptions());
  const auto waveId = openWave(server, "Mix wave");
  constexpr int kBatch = 20; // The default B.
  std::vector<Participant> people;
  people.reserve(60);
  auto arrive = [&](int count) {
    for (int i = 0; i < count; ++i) {
      people.emplace_back(server.port(), "mixed" + std::to_string(people.size()));
      REQUIRE(people.back().obtainToken(waveId) == 200);
      CHECK(receiptOf(server.port(), waveId, people.back()) == "unknown");
      const std::string comment = "mix-nonce-" + std::to_string(people.size());
      auto sent = submitAnonymously(server.port(), submission(waveId, people.back(), {{"discrimination", "no"}}, comment));
      REQUIRE(sent->status == 202);
      CHECK(json::parse(sent->body)["status"] == "received");
    }
  };
  arrive(kBatch - 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500)); // Ten checks of the mix.
  // B-1 arrivals: nothing written, every one pending.
  CHECK(storedResponses(server, waveId) == 0);
  for (const auto& person : people) CHECK(receiptOf(server.port(), waveId, person) == "pending");
  if (!server.isPostgresql()) {
    // Not a byte of a pooled answer in the store's file or its write-ahead log.
    const auto dataDir = std::filesystem::path(server.configPath()).parent_path();
    for (const char* file : {"belonging-anonymous.db", "belonging-anonymous.db-wal"}) {
      std::ifstream in(dataDir / file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      CHECK(bytes.find("mix-nonce-") == std::string::npos);
    }
  }
  // Past 3B-1 a batch is due whatever threshold the pool drew from [2B, 3B).
  arrive(2 * kBatch);
  long long stored = 0;
  for (int wait = 0; wait < 100 && stored == 0; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stored = storedResponses(server, waveId);
  }
  CHECK(stored >= kBatch);
  // At least B stay behind, so the batch the close writes is never a handful.
  CHECK(stored <= static_cast<long long>(people.size()) - kBatch);
  int storedReceipts = 0, pendingReceipts = 0;
  for (const auto& person : people) {
    const auto status = receiptOf(server.port(), waveId, person);
    storedReceipts += status == "stored";
    pendingReceipts += status == "pending";
  }
  // What the receipts say matches what the store holds (a batch may land between the reads).
  CHECK(storedReceipts >= stored);
  CHECK(storedReceipts + pendingReceipts == static_cast<int>(people.size()));
  // A spent token stays spent whether pooled or stored.
  CHECK(submitAnonymously(server.port(), submission(waveId, people.front(), {{"discrimination", "yes"}}))->status == 409);
  // Closing writes the rest, whatever the count.
  closeWave(server, waveId);
  CHECK(storedResponses(server, waveId) == static_cast<long long>(people.size()));
  for (const auto& person : people) CHECK(receiptOf(server.port(), waveId, person) == "stored");
  // The receipt route is anonymous: no cookie is set and a malformed token is a 400.
  httplib::Client anonymous("127.0.0.1", server.port());
  auto bad = anonymous.Post("/experience/receipt", json{{"wave", waveId}, {"token", "!"}}.dump(), "application/json");
  CHECK(bad->status == 400);
  CHECK_FALSE(bad->has_header("Set-Cookie"));
}

TEST_CASE("answers held by a server that stops are accepted once more from the browser that holds them",
          "[integration][experience][mix]") {
  TestServer server(fastMixOptions());
  const auto waveId = openWave(server, "Restart wave");
  Participant stopped(server.port(), "held-at-stop"), crashed(server.port(), "held-at-crash");
  REQUIRE(stopped.obtainToken(waveId) == 200);
  REQUIRE(crashed.obtainToken(waveId) == 200);
  const json first = submission(waveId, stopped, {{"discrimination", "no"}});
  const json second = submission(waveId, crashed, {{"discrimination", "yes"}});
  REQUIRE(submitAnonymously(server.port(), first)->status == 202);
  // A clean stop gives up the lease at once: the answers it held are lost, and say so.
  server.stop();
  server.start();
  CHECK(receiptOf(server.port(), waveId, stopped) == "lost");
  CHECK(submitAnonymously(server.port(), first)->status == 202);
  CHECK(receiptOf(server.port(), waveId, stopped) == "pending");
  CHECK(submitAnonymously(server.port(), first)->status == 409);
  // kill -9: the lease lapses after its 2 seconds, then the same holds.
  REQUIRE(submitAnonymously(server.port(), second)->status == 202);
  server.crash();
  server.start();
  // Until the killed server's lease lapses (2-3 s after its last renewal; a slow restart may
  // take longer than that) its answers count as held, and a re-send is refused.
  if (receiptOf(server.port(), waveId, crashed) == "pending") {
    CHECK(submitAnonymously(server.port(), second)->status == 409);
  }
  std::string status;
  for (int wait = 0; wait < 100 && (status = receiptOf(server.port(), waveId, crashed)) != "lost"; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(status == "lost");
  // Sent again by its browser twice at once (two tabs): accepted exactly once.
  auto one = std::async(std::launch::async, [&] { return submitAnonymously(server.port(), second)->status; });
  auto two = std::async(std::launch::async, [&] { return submitAnonymously(server.port(), second)->status; });
  std::vector<int> statuses{one.get(), two.get()};
  std::sort(statuses.begin(), statuses.end());
  CHECK(statuses == std::vector<int>{202, 409});
  // The first one's second holder was the server just killed: lost again, sent a third time.
  CHECK(receiptOf(server.port(), waveId, stopped) == "lost");
  CHECK(submitAnonymously(server.port(), first)->status == 202);
  closeWave(server, waveId);
  CHECK(storedResponses(server, waveId) == 2);
  CHECK(receiptOf(server.port(), waveId, stopped) == "stored");
  CHECK(receiptOf(server.port(), waveId, crashed) == "stored");
}
