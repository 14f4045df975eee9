// Publications are events (DESIGN §6): computed once, stored, and read back identically by every
// view and every instance. Runs on SQLite, and on PostgreSQL in scripts/test's second pass.

#include "LedgerDatabase.hpp"
#include "DisclosureService.hpp"
#include "PublicationStore.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using belonging::Publication;
using belonging::PublicationStore;
using belonging::testing::ScratchDatabase;

namespace {

std::unique_ptr<belonging::SociDatabase> openWithPublications(const ScratchDatabase& scratch) {
  auto database = scratch.open(4);
  database->migrate("core-publication-test", PublicationStore::migrations());
  return database;
}

} // namespace

TEST_CASE("publications: computed once, then read back byte for byte", "[publication]") {
  ScratchDatabase scratch;
  auto database = openWithPublications(scratch);
  PublicationStore store(*database);
  int computed = 0;
  auto compute = [&] {
    ++computed;
    // Different every time it runs: only the first may ever be seen.
    return nlohmann::json{{"respondents", 900 + computed}, {"table", {{"White", 57}, {"BME", nullptr}}}};
  };
  const Publication first = store.once("experience.results.wave:3", compute);
  std::vector<std::string> seen;
  for (int view = 0; view < 10; ++view) seen.push_back(store.once("experience.results.wave:3", compute).content.dump());
  CHECK(computed == 1);
  for (const auto& text : seen) CHECK(text == first.content.dump());
  CHECK(first.content.at("respondents") == 901);
  CHECK(first.publishedAt > 0);
  const auto found = store.find("experience.results.wave:3");
  REQUIRE(found);
  CHECK(found->content == first.content);
  CHECK(found->publishedAt == first.publishedAt);
  CHECK_FALSE(store.find("experience.results.wave:4"));
}

TEST_CASE("publications: instances racing to publish all serve the first stored", "[publication]") {
  ScratchDatabase scratch;
  auto one = openWithPublications(scratch);
  auto two = scratch.open(4);
  PublicationStore first(*one), second(*two);
  std::atomic<int> computed{0};
  std::vector<std::string> results(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      PublicationStore& store = i % 2 == 0 ? first : second;
      results[i] = store.once("networks.membership:2026-11", [&] {
                          return nlohmann::json{{"computed by", static_cast<int>(i)}, {"n", ++computed}};
                        })
                       .content.dump();
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(computed >= 1);
  for (const auto& result : results) CHECK(result == results.front());
}

TEST_CASE("publications: a failed computation stores nothing", "[publication]") {
  ScratchDatabase scratch;
  auto database = openWithPublications(scratch);
  PublicationStore store(*database);
  CHECK_THROWS_WITH(store.once("experience.results.wave:5", []() -> nlohmann::json { throw std::runtime_error("no answers"); }),
                    "no answers");
  CHECK_FALSE(store.find("experience.results.wave:5"));
  CHECK_THROWS_AS(store.once("experience.results.wave:5", [] { return nlohmann::json::array({1, 2}); }),
                  std::invalid_argument);
  CHECK_FALSE(store.find("experience.results.wave:5"));
  CHECK_THROWS_AS(store.once("", [] { return nlohmann::json::object(); }), std::invalid_argument);
  CHECK(store.once("experience.results.wave:5", [] { return nlohmann::json{{"ok", true}}; }).content.at("ok") == true);
}

TEST_CASE("publications: the latest under a prefix, with pattern characters taken literally", "[publication]") {
  ScratchDatabase scratch;
  auto database = openWithPublications(scratch);
  PublicationStore store(*database);
  CHECK_FALSE(store.latest("networks.membership:"));
  store.once("networks.membership:2026-10", [] { return nlohmann::json{{"month", "October"}}; });
  store.once("networks.membership:2026-11", [] { return nlohmann::json{{"month", "November"}}; });
  store.once("networks.members%hip:2026-12", [] { return nlohmann::json{{"month", "not this one"}}; });
  const auto latest = store.latest("networks.membership:");
  REQUIRE(latest);
  CHECK(latest->key == "networks.membership:2026-11");
  CHECK(latest->content.at("month") == "November");
  CHECK(store.latest("networks.members%")->key == "networks.members%hip:2026-12");
  CHECK_FALSE(store.latest("networks.members_"));
}

TEST_CASE("publications: each plugin publishes under its own name", "[publication]") {
  ScratchDatabase scratch;
  auto database = openWithPublications(scratch);
  belonging::ReleaseLedger ledger(*database);
  PublicationStore store(*database);
  const belonging::DisclosurePolicy policy;
  belonging::DisclosureService experience(ledger, policy, "experience", &store);
  belonging::DisclosureService networks(ledger, policy, "networks", &store);
  const auto published = experience.publish("results.wave:3", [] { return nlohmann::json{{"respondents", 71}}; });
  CHECK(published.key == "results.wave:3");
  CHECK(store.find("experience/results.wave:3"));
  // Another plugin's same key is its own publication.
  CHECK(networks.publish("results.wave:3", [] { return nlohmann::json{{"members", 40}}; }).content.at("members") == 40);
  CHECK(experience.publish("results.wave:3", [] { return nlohmann::json{{"respondents", 72}}; }).content.at("respondents") == 71);
  const auto latest = experience.latestPublication("results.");
  REQUIRE(latest);
  CHECK(latest->key == "results.wave:3");
  CHECK_FALSE(networks.latestPublication("membership"));
  belonging::DisclosureService unpublished(ledger, policy, "admin");
  CHECK_THROWS_AS(unpublished.publish("x", [] { return nlohmann::json::object(); }), std::logic_error);
}
