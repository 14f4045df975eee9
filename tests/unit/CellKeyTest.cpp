// The cell-key method (Disclosure.hpp): the perturbation table's stated properties, and its
// consistency: the same records give the same figure in any table, in any order.

#include <belonging/Disclosure.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace belonging;

namespace {

constexpr int kThreshold = 11;

struct Record {
  std::uint32_t id;
  RecordKey key;
  std::string network;
  std::string kind;
};

std::vector<Record> people(std::mt19937_64& random, std::size_t count) {
  const std::vector<std::string> networks{"LGBTQ+", "Carers", "Faith"}, kinds{"Member", "Ally"};
  std::vector<Record> records;
  for (std::size_t i = 0; i < count; ++i) {
    records.push_back({static_cast<std::uint32_t>(i + 1), static_cast<RecordKey>(random() % 256),
                       networks[random() % networks.size()], kinds[random() % 4 == 0 ? 1 : 0]});
  }
  return records;
}

Table networkByKind(const std::vector<Record>& records) {
  Table table({{"Network", {"LGBTQ+", "Carers", "Faith"}, {}, "All networks"}, {"Kind", {"Member", "Ally"}, {}, "Total"}});
  for (const Record& record : records) table.addRecord(record.id, record.key, {record.network, record.kind});
  return table;
}

Table networkOnly(const std::vector<Record>& records) {
  Table table({{"Network", {"Faith", "LGBTQ+", "Carers"}, {}, "Everyone"}});
  for (const Record& record : records) table.addRecord(record.id, record.key, {record.network});
  return table;
}

std::size_t position(const Table& table, std::size_t dimension, const std::string& label) {
  const auto& positions = table.positions(dimension);
  for (std::size_t i = 0; i < positions.size(); ++i) {
    if (positions[i].label == label) return i;
  }
  FAIL("no position " << label);
  return 0;
}

} // namespace

TEST_CASE("the standard perturbation table: changes -3..+3, mean 0, the stated variance", "[core][cellkey]") {
  const PerturbationTable& table = PerturbationTable::standard();
  CHECK(table.maxChange() == 3);
  std::map<int, int> keysPerChange;
  int sum = 0;
  for (int key = 0; key < 256; ++key) {
    const int change = table.change(static_cast<RecordKey>(key));
    CHECK(std::abs(change) <= table.maxChange());
    ++keysPerChange[change];
    sum += change;
  }
  CHECK(sum == 0);
  CHECK(keysPerChange == std::map<int, int>{{-3, 36}, {-2, 37}, {-1, 37}, {0, 36}, {1, 37}, {2, 37}, {3, 36}});
  CHECK(table.variance() == Approx(1018.0 / 256.0));
  CHECK(table.meanAbsoluteChange() == Approx(438.0 / 256.0));
  CHECK(table.changedShare() == Approx(220.0 / 256.0));
  WARN("standard perturbation table: max change " << table.maxChange() << ", variance " << table.variance()
                                                  << ", mean absolute change " << table.meanAbsoluteChange()
                                                  << ", cells changed " << table.changedShare());
}

TEST_CASE("a perturbation table must be centred and share out the 256 keys", "[core][cellkey]") {
  CHECK_THROWS_AS(PerturbationTable({128, 128}), DisclosureError);
  CHECK_THROWS_AS(PerturbationTable({100, 100, 100}), DisclosureError);
  CHECK_THROWS_AS(PerturbationTable({-1, 258, -1}), DisclosureError);
  const PerturbationTable exact({256});
  CHECK(exact.maxChange() == 0);
  CHECK(exact.perturb(40, 17, kThreshold) == 40);
}

TEST_CASE("zeros stay zero, 1..k-1 is never released, and no change exceeds the maximum", "[core][cellkey]") {
  const PerturbationTable& table = PerturbationTable::standard();
  int checked = 0;
  for (int threshold : {5, 11, 20}) {
    for (std::int64_t count = 0; count <= 300; ++count) {
      for (int key = 0; key < 256; ++key) {
        const auto released = table.perturb(count, static_cast<RecordKey>(key), threshold);
        const bool right = count == 0          ? released == 0
                           : count < threshold ? !released
                           : released          ? *released >= threshold && std::llabs(*released - count) <= table.maxChange()
                                               : count < threshold + table.maxChange(); // Only near k can noise hide.
        if (!right) FAIL_CHECK("count " << count << ", key " << key << ", k " << threshold);
        ++checked;
      }
    }
  }
  CHECK(checked == 3 * 301 * 256);
}

TEST_CASE("the same records give the same figure in any table and any order", "[core][cellkey]") {
  std::mt19937_64 random(20261101);
  const DisclosurePolicy policy;
  for (int round = 0; round < 50; ++round) {
    auto records = people(random, 60 + random() % 200);
    const ReleasedTable first = perturb(suppress(networkByKind(records), policy));
    std::shuffle(records.begin(), records.end(), random);
    const ReleasedTable shuffled = perturb(suppress(networkByKind(records), policy));
    const ReleasedTable other = perturb(suppress(networkOnly(records), policy));
    REQUIRE(first.perturbed());
    for (const auto& cell : first.table().allPositions()) {
      CHECK(first.value(cell) == shuffled.value(cell));
      CHECK(first.status(cell) == shuffled.status(cell));
    }
    // A network's total in the 2-D table and the same people in a 1-D table of another order.
    for (const char* network : {"LGBTQ+", "Carers", "Faith"}) {
      const std::vector<std::size_t> inFirst{position(first.table(), 0, network), 2};
      const std::vector<std::size_t> inOther{position(other.table(), 0, network)};
      INFO(network << ": " << first.table().count(inFirst) << " people");
      REQUIRE(first.table().count(inFirst) == other.table().count(inOther));
      CHECK(first.table().cellKey(inFirst) == other.table().cellKey(inOther));
      if (isReleased(first.status(inFirst)) && isReleased(other.status(inOther))) {
        CHECK(first.value(inFirst) == other.value(inOther));
      }
    }
    CHECK(first.value({3, 2}) == other.value({3}));
  }
}

TEST_CASE("released tables with keys show nothing in 1..k-1 and keep zeros", "[core][cellkey]") {
  std::mt19937_64 random(7);
  const DisclosurePolicy policy;
  std::size_t released = 0, changed = 0;
  for (int round = 0; round < 200; ++round) {
    const auto records = people(random, random() % 120);
    const ReleasedTable table = perturb(suppress(networkByKind(records), policy));
    for (const auto& cell : table.table().allPositions()) {
      const auto value = table.value(cell);
      const auto count = table.table().count(cell);
      if (!value) continue; // Suppression may hide a zero too (to protect a neighbour); noise never moves one.
      if (count == 0) CHECK(*value == 0);
      CHECK((*value == 0 || *value >= kThreshold));
      CHECK(std::llabs(*value - count) <= PerturbationTable::standard().maxChange());
      ++released;
      if (*value != count) ++changed;
    }
  }
  CHECK(released > 500);
  CHECK(changed > released / 2); // Most cells of at least k are changed: see README for why.
}

TEST_CASE("one person more gives an unrelated cell key; cell keys are sums modulo 256", "[core][cellkey]") {
  Table table({{"Network", {"A"}, {}, "Total"}});
  table.addRecord(1, 200, {"A"});
  table.addRecord(2, 100, {"A"});
  CHECK(table.cellKey({0}) == 44); // (200 + 100) % 256
  CHECK(table.cellKey({1}) == 44);
  CHECK(table.hasKeys());
  CHECK_THROWS_AS(table.addRecord(3, {"A"}), DisclosureError);
  Table unkeyed({{"Network", {"A"}, {}, "Total"}});
  unkeyed.addRecord(1, {"A"});
  CHECK_THROWS_AS(unkeyed.addRecord(2, RecordKey{5}, {"A"}), DisclosureError);
  CHECK_FALSE(perturb(suppress(unkeyed, DisclosurePolicy{})).perturbed());
}

TEST_CASE("record keys come from the CSPRNG: all 256 values turn up", "[core][cellkey]") {
  std::set<int> seen;
  for (int i = 0; i < 20000 && seen.size() < 256; ++i) seen.insert(newRecordKey());
  CHECK(seen.size() == 256);
}
