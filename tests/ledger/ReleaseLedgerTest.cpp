#include "Crypto.hpp"
#include "LedgerDatabase.hpp"
#include "ReleaseLedger.hpp"
#include "SociDatabase.hpp"

#include <catch2/catch.hpp>
#include <soci/soci.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <latch>
#include <memory>
#include <numeric>
#include <regex>
#include <stdexcept>
#include <thread>
#include <unistd.h>

using namespace belonging;
using belonging::testing::ScratchDatabase;

namespace {

constexpr int kThreshold = 11;

/** Record ids first..last-1. */
std::vector<std::uint32_t> ids(std::uint32_t first, std::uint32_t last) {
  std::vector<std::uint32_t> result(last - first);
  std::iota(result.begin(), result.end(), first);
  return result;
}

std::vector<std::uint32_t> without(std::vector<std::uint32_t> records, const std::vector<std::uint32_t>& removed) {
  std::erase_if(records, [&](std::uint32_t record) {
    return std::find(removed.begin(), removed.end(), record) != removed.end();
  });
  return records;
}

/** Releases as the disclosure engine would: what the ledger flags is suppressed. Returns the flags. */
std::vector<bool> release(ReleaseLedger& ledger, const std::string& measure, const std::string& period,
                          const std::vector<LedgerPopulation>& populations) {
  std::vector<bool> flagged;
  ledger.release(measure, period, kThreshold, populations, [&](const std::vector<bool>& differencing) {
    flagged = differencing;
    std::vector<bool> released;
    for (const bool flag : differencing) released.push_back(!flag);
    return released;
  });
  return flagged;
}

bool differencing(ReleaseLedger& ledger, const std::string& measure, const std::string& period,
                  std::vector<std::uint32_t> records) {
  const auto flags = release(ledger, measure, period, {{"test", std::move(records)}});
  REQUIRE(flags.size() == 1);
  return flags[0];
}

} // namespace

TEST_CASE("a first release is recorded and an identical one is neither flagged nor duplicated", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  CHECK(ledger.recordedCount("staff-count", "2025") == 0);
  CHECK_FALSE(differencing(ledger, "staff-count", "2025", ids(0, 100)));
  CHECK(ledger.recordedCount("staff-count", "2025") == 1);

  // The same set in another order, with duplicates, under another definition.
  auto shuffled = ids(0, 100);
  std::reverse(shuffled.begin(), shuffled.end());
  shuffled.push_back(7);
  CHECK(release(ledger, "staff-count", "2025", {{"another filter, same people", shuffled}}) == std::vector<bool>{false});
  CHECK(ledger.recordedCount("staff-count", "2025") == 1);
}

TEST_CASE("a set one record larger or smaller than a released one is differencing", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  REQUIRE_FALSE(differencing(ledger, "m", "p", ids(0, 100)));
  CHECK(differencing(ledger, "m", "p", ids(0, 101)));  // Refreshed after one more record.
  CHECK(differencing(ledger, "m", "p", ids(1, 100)));  // A filter that drops one person.
  CHECK(differencing(ledger, "m", "p", without(ids(0, 100), {50})));
  // Suppressed releases are not recorded, so the ledger still holds only the first.
  CHECK(ledger.recordedCount("m", "p") == 1);
}

TEST_CASE("k-1 records apart is differencing, k apart is not", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  REQUIRE_FALSE(differencing(ledger, "m", "p", ids(0, 100)));
  CHECK(differencing(ledger, "m", "p", ids(0, 100 + kThreshold - 1)));
  CHECK(differencing(ledger, "m", "p", ids(kThreshold - 1, 100)));
  CHECK_FALSE(differencing(ledger, "m", "p", ids(0, 100 + kThreshold)));
  CHECK(ledger.recordedCount("m", "p") == 2);
  // Now 0..110 is recorded too: 0..105 is within k-1 of both.
  CHECK(differencing(ledger, "m", "p", ids(0, 105)));
  // k from the first and k-1 from the second.
  CHECK(differencing(ledger, "m", "p", ids(0, 100 + 2 * kThreshold - 1)));
}

TEST_CASE("overlapping segments of the same size are differencing", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  REQUIRE_FALSE(differencing(ledger, "m", "p", ids(0, 100)));
  // Same count, one person swapped for another: the symmetric difference is 2.
  CHECK(differencing(ledger, "m", "p", ids(1, 101)));
  CHECK(differencing(ledger, "m", "p", ids(5, 105)));
  CHECK_FALSE(differencing(ledger, "m", "p", ids(6, 106)));
}

TEST_CASE("a complementary filter (all, then all but a small group) is differencing", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  const auto everyone = ids(0, 200);
  REQUIRE_FALSE(differencing(ledger, "m", "p", everyone));
  CHECK(differencing(ledger, "m", "p", without(everyone, {17, 93, 150})));
  CHECK_FALSE(differencing(ledger, "m", "p", without(everyone, ids(100, 100 + kThreshold))));
}

TEST_CASE("other measures have their own history; other periods share it", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  REQUIRE_FALSE(differencing(ledger, "network-members", "2025", ids(0, 100)));
  // A new period is no fresh start: Nov 100, Dec 101 would give the joiner away.
  CHECK(differencing(ledger, "network-members", "2026", ids(0, 101)));
  CHECK_FALSE(differencing(ledger, "network-members", "2026", ids(0, 100 + kThreshold)));
  CHECK_FALSE(differencing(ledger, "survey-responses", "2025", ids(0, 101)));
  CHECK(ledger.recordedCount("network-members", "2025") == 1);
  CHECK(ledger.recordedCount("network-members", "2026") == 1);
  CHECK(ledger.recordedCount("survey-responses", "2025") == 1);
}

TEST_CASE("populations of one release are compared with earlier releases, not with each other", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  // Cells of one table differ by a few records; the table's own suppression handles that.
  const auto flags = release(ledger, "m", "p",
                             {{"cell=A", ids(0, 100)}, {"cell=B", ids(0, 101)}, {"cell=A again", ids(0, 100)}});
  CHECK(flags == std::vector<bool>{false, false, false});
  CHECK(ledger.recordedCount("m", "p") == 2);
  const auto later = release(ledger, "m", "p", {{"x", ids(0, 100)}, {"y", ids(0, 102)}, {"z", ids(500, 600)}});
  CHECK(later == std::vector<bool>{false, true, false});
  CHECK(ledger.recordedCount("m", "p") == 3);
}

TEST_CASE("only what decide says was released is recorded, and never an empty set", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  std::vector<bool> seen;
  ledger.release("m", "p", kThreshold, {{"suppressed", ids(0, 100)}, {"released", ids(500, 600)}, {"empty", {}}},
                 [&](const std::vector<bool>& differencing) {
                   seen = differencing;
                   return std::vector<bool>{false, true, true};
                 });
  CHECK(seen == std::vector<bool>{false, false, false});
  CHECK(ledger.recordedCount("m", "p") == 1);
  // The withheld set left no trace, so a set one record from it is not differencing.
  CHECK_FALSE(differencing(ledger, "m", "p", ids(0, 101)));
  CHECK(differencing(ledger, "m", "p", ids(500, 601)));
}

TEST_CASE("if decide throws or answers wrongly, nothing is recorded", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  CHECK_THROWS_WITH(ledger.release("m", "p", kThreshold, {{"a", ids(0, 100)}},
                                   [](const std::vector<bool>&) -> std::vector<bool> {
                                     throw std::runtime_error("the table could not be built");
                                   }),
                    "the table could not be built");
  CHECK(ledger.recordedCount("m", "p") == 0);
  CHECK_THROWS_AS(ledger.release("m", "p", kThreshold, {{"a", ids(0, 100)}},
                                 [](const std::vector<bool>&) { return std::vector<bool>{}; }),
                  std::logic_error);
  CHECK(ledger.recordedCount("m", "p") == 0);
  // And the (measure, period) is not left locked.
  CHECK_FALSE(differencing(ledger, "m", "p", ids(0, 101)));
  CHECK(ledger.recordedCount("m", "p") == 1);
  CHECK(release(ledger, "m", "p", {}).empty());
}

TEST_CASE("a threshold below 1 is refused", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  CHECK_THROWS_AS(ledger.release("m", "p", 0, {{"a", ids(0, 10)}}, [](const std::vector<bool>& d) { return d; }),
                  std::invalid_argument);
}

TEST_CASE("the ledger survives a restart", "[ledger]") {
  ScratchDatabase scratch;
  {
    auto database = scratch.open();
    ReleaseLedger ledger(*database);
    REQUIRE_FALSE(differencing(ledger, "m", "p", ids(0, 100)));
  }
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  CHECK(ledger.recordedCount("m", "p") == 1);
  CHECK(differencing(ledger, "m", "p", ids(0, 99)));
  CHECK_FALSE(differencing(ledger, "m", "p", ids(0, 100)));
}

TEST_CASE("releases are stored with their date only", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  REQUIRE_FALSE(differencing(ledger, "m", "p", ids(0, 100)));
  soci::session sql(database->pool());
  std::string releasedOn;
  sql << "SELECT released_on FROM disclosure_releases", soci::into(releasedOn);
  CHECK(std::regex_match(releasedOn, std::regex("\\d{4}-\\d{2}-\\d{2}")));
}

TEST_CASE("corrupt stored records are reported with the measure and period", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  REQUIRE_FALSE(differencing(ledger, "staff-count", "2025", ids(0, 100)));
  soci::session sql(database->pool());
  std::string stored;
  sql << "SELECT records FROM disclosure_releases", soci::into(stored);
  const std::string bytes = crypto::base64UrlDecode(stored);
  const std::string truncated = crypto::base64UrlEncode(bytes.substr(0, bytes.size() / 2));
  const std::string corruption = GENERATE_COPY(values<std::string>({"not base64!", "AAAA", "", truncated}));
  sql << "UPDATE disclosure_releases SET records = :r", soci::use(corruption);
  CHECK_THROWS_AS(differencing(ledger, "staff-count", "2025", ids(0, 101)), DatabaseError);
  CHECK_THROWS_WITH(differencing(ledger, "staff-count", "2025", ids(0, 101)),
                    Catch::Contains("\"staff-count\"") && Catch::Contains("\"2025\""));
  CHECK(ledger.recordedCount("staff-count", "2025") == 1);
}

TEST_CASE("a stored cardinality that disagrees with the records is reported", "[ledger]") {
  ScratchDatabase scratch;
  auto database = scratch.open();
  ReleaseLedger ledger(*database);
  REQUIRE_FALSE(differencing(ledger, "m", "p", ids(0, 100)));
  soci::session sql(database->pool());
  sql << "UPDATE disclosure_releases SET cardinality = 101";
  CHECK_THROWS_WITH(differencing(ledger, "m", "p", ids(0, 102)), Catch::Contains("cardinality"));
}

TEST_CASE("concurrent releases from two instances are serialised per measure", "[ledger][concurrency]") {
  ScratchDatabase scratch;
  constexpr int kThreads = 8;
  constexpr int kInstances = 2;
  std::vector<std::unique_ptr<SociDatabase>> databases;
  std::vector<std::unique_ptr<ReleaseLedger>> ledgers;
  for (int i = 0; i < kInstances; ++i) {
    databases.push_back(scratch.open(kThreads / kInstances));
    ledgers.push_back(std::make_unique<ReleaseLedger>(*databases.back()));
  }
  // Several rounds, each on a measure not seen before (periods share a measure's history), so
  // the lock row is created under contention too.
  for (int round = 0; round < 3; ++round) {
    const std::string period = "round-" + std::to_string(round);
    const std::string measure = "staff-count-" + period;
    std::latch start(kThreads);
    std::atomic<int> flagged{0};
    std::vector<std::exception_ptr> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        try {
          // Nested sets 0..100+t: any two differ by 1..kThreads-1 < k records.
          const std::vector<LedgerPopulation> population{
              {"thread " + std::to_string(t), ids(0, 100 + static_cast<std::uint32_t>(t))}};
          start.arrive_and_wait();
          ledgers[static_cast<std::size_t>(t % kInstances)]->release(
              measure, period, kThreshold, population, [&](const std::vector<bool>& differencing) {
                // Widen the window between reading the ledger and recording: without
                // serialisation every thread would read an empty ledger.
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                if (differencing[0]) ++flagged;
                return std::vector<bool>{!differencing[0]};
              });
        } catch (...) {
          errors[static_cast<std::size_t>(t)] = std::current_exception();
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& error : errors) {
      if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& exception) {
          FAIL("a release failed: " << exception.what());
        }
      }
    }
    CHECK(ledgers[0]->recordedCount(measure, period) == 1);
    CHECK(flagged == kThreads - 1);
  }
}
