// An independent audit of disclosure control (DESIGN §6): every table the engine suppresses is
// checked by TableAuditor, which works out with GLPK what an attacker could deduce about each
// primary cell from everything released.

#include "TableAuditor.hpp"

#include "belonging/Disclosure.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace belonging;
using belonging::testing::AuditExactness;
using belonging::testing::AuditRanges;
using belonging::testing::auditTable;
using belonging::testing::formatTable;
using belonging::testing::TableAudit;

namespace {

using Index = std::vector<std::size_t>;

CountTable table1(const std::vector<std::int64_t>& values) {
  CountTable table({values.size()});
  for (std::size_t i = 0; i < values.size(); ++i) table.set({i}, values[i]);
  return table;
}

CountTable table2(const std::vector<std::vector<std::int64_t>>& rows) {
  CountTable table({rows.size(), rows.at(0).size()});
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < rows[r].size(); ++c) table.set({r, c}, rows[r][c]);
  return table;
}

CountTable table3(const std::vector<std::vector<std::vector<std::int64_t>>>& slices) {
  CountTable table({slices.size(), slices.at(0).size(), slices.at(0).at(0).size()});
  for (std::size_t s = 0; s < slices.size(); ++s)
    for (std::size_t r = 0; r < slices[s].size(); ++r)
      for (std::size_t c = 0; c < slices[s][r].size(); ++c) table.set({s, r, c}, slices[s][r][c]);
  return table;
}

std::string explain(const SuppressedTable& released, const TableAudit& audit) {
  return formatTable(released) + audit.describe();
}

/** Suppresses with the engine and requires the audit to pass; returns the released table. */
SuppressedTable suppressAndAudit(const CountTable& table, const DisclosurePolicy& policy) {
  SuppressedTable released = suppress(table, policy);
  const TableAudit audit = auditTable(released, policy);
  INFO(explain(released, audit));
  REQUIRE(audit.passed());
  return released;
}

std::size_t hiddenTotal(const SuppressedTable& released) {
  return released.hiddenCells(CellStatus::Primary) + released.hiddenCells(CellStatus::Secondary) +
         released.hiddenCells(CellStatus::Withheld);
}

/**
 * Why a Verdict audit disagrees with the Full one, or empty: it must reach the same verdict,
 * the same least values, and greatest values that are either exact or consistent values of at
 * least k no greater than the exact ones.
 */
std::string verdictDisagreement(const TableAudit& full, const TableAudit& verdict, std::int64_t k) {
  if (full.passed() != verdict.passed()) return "the Verdict audit reaches the other verdict";
  if (full.ranges.size() != verdict.ranges.size()) return "the Verdict audit has another number of ranges";
  for (std::size_t i = 0; i < full.ranges.size(); ++i) {
    const auto& exact = full.ranges[i];
    const auto& quick = verdict.ranges[i];
    const auto atLeastK = static_cast<double>(k) - 1e-6;
    const bool sameMin = std::abs(exact.min - quick.min) < 1e-6;
    const bool maxAgrees = quick.maxExact || quick.unbounded
                               ? quick.unbounded == exact.unbounded && (exact.unbounded || std::abs(exact.max - quick.max) < 1e-6)
                               : quick.max >= atLeastK && (exact.unbounded || quick.max <= exact.max + 1e-6);
    if (!sameMin || !maxAgrees || quick.safe != exact.safe) return "the Verdict range of " + exact.cell + " disagrees";
  }
  return "";
}

/** Audits with full ranges and as a verdict, requires them to agree, and returns the full audit. */
TableAudit auditBothWays(const SuppressedTable& released, const DisclosurePolicy& policy) {
  const TableAudit full = auditTable(released, policy);
  const TableAudit verdict = auditTable(released, policy, AuditExactness::Integer, AuditRanges::Verdict);
  INFO(explain(released, full) + "verdict:\n" + verdict.describe());
  CHECK(verdictDisagreement(full, verdict, policy.threshold) == "");
  return full;
}

// ---- random tables -------------------------------------------------------------------------

struct RandomCase {
  CountTable table;
  DisclosurePolicy policy;
};

/** A reproducible random table: the same seed and dimensions give the same case. */
RandomCase randomCase(std::uint32_t seed, int dimensions) {
  std::mt19937 random(seed);
  auto uniform = [&](std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(random);
  };
  auto size = [&](std::int64_t low, std::int64_t high) { return static_cast<std::size_t>(uniform(low, high)); };
  std::vector<std::size_t> sizes;
  if (dimensions == 1) sizes = {size(1, 30)};
  if (dimensions == 2) sizes = {size(1, 12), size(1, 8)};
  if (dimensions == 3) sizes = {size(2, 5), size(2, 5), size(2, 5)};
  DisclosurePolicy policy;
  const int thresholds[] = {5, 10, 11};
  policy.threshold = thresholds[uniform(0, 2)];
  policy.releaseTotals = uniform(0, 99) < 85;
  const std::int64_t k = policy.threshold;

  // Per table, a mix of zeros, small counts and large counts (near the threshold or up to 500).
  const int zeroPercent[] = {0, 10, 30, 60, 90};
  const int smallPercent[] = {5, 20, 40, 80, 100};
  const int zeros = zeroPercent[uniform(0, 4)];
  const int smalls = smallPercent[uniform(0, 4)];
  const std::int64_t largeMax = uniform(0, 2) == 0 ? 2 * k : 500;
  CountTable table(sizes);
  for (std::size_t offset = 0; offset < table.cellCount(); ++offset) {
    if (table.isMargin(offset)) continue;
    std::int64_t value = 0;
    if (uniform(0, 99) >= zeros) value = uniform(0, 99) < smalls ? uniform(1, k - 1) : uniform(k, largeMax);
    table.set(table.index(offset), value);
  }

  // Zeros, rounding and structural zeros, from a stream of their own so that the tables above
  // stay what they were.
  std::mt19937 extraRandom(seed ^ 0x9e3779b9u);
  auto extra = [&](std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(extraRandom);
  };
  const int roundings[] = {0, 0, 5, 10};
  policy.roundTo = roundings[extra(0, 3)];
  policy.showZeros = extra(0, 99) < 75;
  if (extra(0, 2) == 0) {
    for (std::size_t offset = 0; offset < table.cellCount(); ++offset) {
      if (!table.isMargin(offset) && table.atOffset(offset) == 0 && extra(0, 99) < 40)
        table.setStructuralZero(table.index(offset));
    }
  }
  return {std::move(table), policy};
}

std::string describeCase(std::uint32_t seed, int dimensions, const DisclosurePolicy& policy) {
  std::ostringstream out;
  out << dimensions << "-D table, seed " << seed << ", k = " << policy.threshold
      << ", releaseTotals = " << (policy.releaseTotals ? "true" : "false") << ", roundTo = " << policy.roundTo
      << ", showZeros = " << (policy.showZeros ? "true" : "false");
  return out.str();
}

/** Suppresses and audits `count` random tables; reports failures with their seeds and the economy. */
void auditRandomTables(int dimensions, std::uint32_t count) {
  const std::uint32_t firstSeed = 1'000'000u * static_cast<std::uint32_t>(dimensions);
  const auto started = std::chrono::steady_clock::now();
  std::size_t failures = 0, cells = 0, primary = 0, secondary = 0, secondaryMargins = 0;
  std::int64_t people = 0, primaryPeople = 0, secondaryPeople = 0;
  std::size_t tablesWithSecondary = 0, crossChecked = 0, relaxationDiffers = 0, verdictChecked = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t seed = firstSeed + i;
    const RandomCase random = randomCase(seed, dimensions);
    std::string failure;
    try {
      const SuppressedTable released = suppress(random.table, random.policy);
      const TableAudit audit = auditTable(released, random.policy);
      if (!audit.passed()) failure = explain(released, audit);
      // Cross-check the solver: the relaxation's range contains the integer one, and equals it
      // for 1-D and 2-D tables (total unimodularity).
      if (audit.passed() && i % 8 == 0 && !audit.ranges.empty()) {
        ++crossChecked;
        const TableAudit relaxed = auditTable(released, random.policy, AuditExactness::Relaxation);
        for (std::size_t p = 0; p < audit.ranges.size() && failure.empty(); ++p) {
          const auto& exact = audit.ranges[p];
          const auto& lp = relaxed.ranges.at(p);
          const bool sameMin = std::abs(lp.min - exact.min) < 1e-6;
          const bool sameMax = lp.unbounded == exact.unbounded && (lp.unbounded || std::abs(lp.max - exact.max) < 1e-6);
          const bool contains = lp.min <= exact.min + 1e-6 && (lp.unbounded || (!exact.unbounded && lp.max >= exact.max - 1e-6));
          if (!sameMin || !sameMax) ++relaxationDiffers;
          if (!contains || (dimensions < 3 && !(sameMin && sameMax)))
            failure = "auditor: linear and integer ranges disagree for " + exact.cell + "\n" +
                      explain(released, audit) + "relaxation:\n" + relaxed.describe();
        }
      }
      // Cross-check the Verdict audit (moves found without a solver, then feasibility programs)
      // against the full ranges.
      if (i % 4 == 1 && failure.empty()) {
        ++verdictChecked;
        const TableAudit verdict = auditTable(released, random.policy, AuditExactness::Integer, AuditRanges::Verdict);
        const std::string disagreement = verdictDisagreement(audit, verdict, random.policy.threshold);
        if (!disagreement.empty())
          failure = "auditor: " + disagreement + "\n" + explain(released, audit) + "verdict:\n" + verdict.describe();
      }
      const CountTable& table = released.shape();
      for (std::size_t offset = 0; offset < table.cellCount(); ++offset) {
        const bool margin = table.isMargin(offset);
        const std::int64_t value = table.atOffset(offset);
        if (!margin) people += value;
        switch (released.statusAt(offset)) {
        case CellStatus::Primary:
          ++primary;
          if (!margin) primaryPeople += value;
          break;
        case CellStatus::Secondary:
          ++secondary;
          if (margin) ++secondaryMargins;
          else secondaryPeople += value;
          break;
        default: break;
        }
      }
      cells += table.cellCount();
      if (released.hiddenCells(CellStatus::Secondary) > 0) ++tablesWithSecondary;
    } catch (const std::exception& error) {
      failure = std::string("suppress or audit threw: ") + error.what();
    }
    if (!failure.empty()) {
      ++failures;
      if (failures <= 3) FAIL_CHECK(describeCase(seed, dimensions, random.policy) + "\n" + failure);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::ostringstream economy;
  economy << dimensions << "-D: " << count << " tables (seeds " << firstSeed << ".." << firstSeed + count - 1
          << ") in " << seconds << " s; " << cells << " cells, " << primary << " primary, " << secondary
          << " secondary (" << secondaryMargins << " of them margins) in " << tablesWithSecondary
          << " tables; people " << people << ", in primary cells " << primaryPeople
          << ", hidden by secondary suppression " << secondaryPeople << "; " << crossChecked
          << " tables cross-checked against linear programs (" << relaxationDiffers
          << " primary ranges wider there), " << verdictChecked << " against Verdict audits; " << failures
          << " failed";
  WARN(economy.str());
  REQUIRE(failures == 0);
}

} // namespace

// ---- 1. small cases with known answers ---------------------------------------------------------

TEST_CASE("disclosure: a small 1-D category is protected by a second hidden cell", "[core][disclosure]") {
  const auto released = suppressAndAudit(table1({3, 20, 30}), {.threshold = 11});
  CHECK(released.status({0}) == CellStatus::Primary);
  CHECK_FALSE(released.value({0}).has_value());
  CHECK(released.hiddenCells(CellStatus::Primary) == 1);
  // Otherwise 3 = 53 - 20 - 30.
  CHECK(released.hiddenCells(CellStatus::Secondary) >= 1);
  CHECK(released.hiddenCells(CellStatus::Withheld) == 0);
}

TEST_CASE("disclosure: a small cell in a 2x2 table needs four hidden cells", "[core][disclosure]") {
  const auto released = suppressAndAudit(table2({{3, 20}, {30, 40}}), {.threshold = 11});
  CHECK(released.status({0, 0}) == CellStatus::Primary);
  CHECK(released.hiddenCells(CellStatus::Primary) == 1);
  // Three hidden cells would leave some equation with a single unknown.
  CHECK(released.hiddenCells(CellStatus::Secondary) >= 3);
}

TEST_CASE("disclosure: a 3-D table with one small cell passes the audit", "[core][disclosure]") {
  const auto released = suppressAndAudit(table3({{{3, 20}, {30, 40}}, {{25, 50}, {60, 70}}}), {.threshold = 11});
  CHECK(released.status({0, 0, 0}) == CellStatus::Primary);
  CHECK(released.hiddenCells(CellStatus::Secondary) >= 3);
}

TEST_CASE("disclosure: tables with no small counts hide nothing", "[core][disclosure]") {
  const DisclosurePolicy policy{.threshold = 11};
  for (const auto& table : {table1({11, 0, 500}), table2({{11, 12, 0}, {0, 40, 300}}),
                            table3({{{11, 0}, {0, 12}}, {{20, 0}, {0, 0}}}), table1({0, 0, 0}),
                            table2({{0, 0}, {0, 0}}), table3({{{0, 0}, {0, 0}}, {{0, 0}, {0, 0}}})}) {
    const auto released = suppressAndAudit(table, policy);
    CHECK(hiddenTotal(released) == 0);
    CHECK(released.hiddenPeople() == 0);
  }
}

TEST_CASE("disclosure: zeros and counts of k are released, k - 1 is not", "[core][disclosure]") {
  // Without totals, so that no cell is hidden as secondary.
  const auto released = suppressAndAudit(table1({0, 5, 4, 100, 200}), {.threshold = 5, .releaseTotals = false});
  CHECK(released.value({0}) == 0);
  CHECK(released.value({1}) == std::optional<std::int64_t>(5));
  CHECK(released.status({2}) == CellStatus::Primary);
  CHECK(released.hiddenCells(CellStatus::Primary) == 1);
}

TEST_CASE("disclosure: when everything is small, small totals are primary too", "[core][disclosure]") {
  SECTION("1-D") {
    const auto released = suppressAndAudit(table1({1, 2, 3}), {.threshold = 11});
    CHECK(released.status({3}) == CellStatus::Primary); // the total, 6
    CHECK(released.hiddenCells(CellStatus::Primary) == 4);
  }
  SECTION("2-D") {
    const auto released = suppressAndAudit(table2({{1, 2, 3}, {3, 1, 2}}), {.threshold = 11});
    CHECK(released.status({0, 3}) == CellStatus::Primary); // row total 6
    CHECK(released.status({2, 0}) == CellStatus::Primary); // column total 4
    CHECK(released.status({2, 3}) != CellStatus::Primary); // grand total 12
  }
  SECTION("1 category") {
    const auto released = suppressAndAudit(table1({4}), {.threshold = 5});
    CHECK(released.hiddenCells(CellStatus::Primary) == 2);
  }
}

TEST_CASE("disclosure: without totals, only primary suppression and margins withheld", "[core][disclosure]") {
  const DisclosurePolicy policy{.threshold = 11, .releaseTotals = false};
  const auto released = suppressAndAudit(table2({{3, 20, 0}, {30, 40, 5}}), policy);
  CHECK(released.status({0, 0}) == CellStatus::Primary);
  CHECK(released.status({1, 2}) == CellStatus::Primary);
  CHECK(released.hiddenCells(CellStatus::Primary) == 2);
  CHECK(released.hiddenCells(CellStatus::Secondary) == 0);
  CHECK(released.hiddenCells(CellStatus::Withheld) == 3 * 4 - 2 * 3);
  CHECK(released.status({2, 3}) == CellStatus::Withheld);
  CHECK(released.value({0, 1}) == std::optional<std::int64_t>(20));
  CHECK(released.hiddenPeople() == 8);
}

// ---- 2. the auditor can fail --------------------------------------------------------------------

TEST_CASE("disclosure audit: catches a small count worked out by subtraction", "[core][disclosure]") {
  const DisclosurePolicy policy{.threshold = 11};
  using S = CellStatus;
  SECTION("1-D, only the primary cell hidden") {
    const SuppressedTable bad(table1({3, 20, 30}), {S::Primary, S::Released, S::Released, S::Released});
    const TableAudit audit = auditBothWays(bad, policy);
    INFO(explain(bad, audit));
    REQUIRE_FALSE(audit.passed());
    REQUIRE(audit.ranges.size() == 1);
    CHECK(audit.ranges[0].min == 3);
    CHECK(audit.ranges[0].max == 3);
    CHECK_FALSE(audit.ranges[0].safe);
  }
  SECTION("1-D, one more cell hidden, whose value caps the range below k") {
    // 3 and 5 hidden, total 38: the 3 lies in [0, 8].
    const SuppressedTable bad(table1({3, 5, 30}), {S::Primary, S::Primary, S::Released, S::Released});
    const TableAudit audit = auditBothWays(bad, policy);
    INFO(explain(bad, audit));
    REQUIRE_FALSE(audit.passed());
    CHECK(audit.ranges.at(0).min == 0);
    CHECK(audit.ranges.at(0).max == 8);
  }
  SECTION("1-D, a secondary cell: passes") {
    const SuppressedTable good(table1({3, 20, 30}), {S::Primary, S::Secondary, S::Released, S::Released});
    const TableAudit audit = auditBothWays(good, policy);
    INFO(explain(good, audit));
    REQUIRE(audit.passed());
    CHECK(audit.ranges.at(0).min == 0);
    CHECK(audit.ranges.at(0).max == 23);
  }
  SECTION("2-D, an incomplete rectangle") {
    // Row 0 and column 0 each have a second hidden cell, but (1,0) is alone in row 1.
    const CountTable table = table2({{3, 20}, {30, 40}});
    std::vector<CellStatus> status(table.cellCount(), S::Released);
    status[table.offset({0, 0})] = S::Primary;
    status[table.offset({0, 1})] = S::Secondary;
    status[table.offset({1, 0})] = S::Secondary;
    const SuppressedTable bad(table, status);
    const TableAudit audit = auditBothWays(bad, policy);
    INFO(explain(bad, audit));
    REQUIRE_FALSE(audit.passed());
    CHECK(audit.ranges.at(0).min == 3);
    status[table.offset({1, 1})] = S::Secondary; // complete the rectangle
    const SuppressedTable good(table, status);
    const TableAudit fixed = auditBothWays(good, policy);
    INFO(explain(good, fixed));
    CHECK(fixed.passed());
    CHECK(fixed.ranges.at(0).min == 0);
    CHECK(fixed.ranges.at(0).max == 23);
  }
  SECTION("3-D, a rectangle within one slice is not enough") {
    // Enough in 2-D, but the line through the primary cell along dimension 0 pins it: 3 = 28 - 25.
    const CountTable table = table3({{{3, 20}, {30, 40}}, {{25, 50}, {60, 70}}});
    std::vector<CellStatus> status(table.cellCount(), S::Released);
    for (const Index& index : {Index{0, 0, 1}, Index{0, 1, 0}, Index{0, 1, 1}}) status[table.offset(index)] = S::Secondary;
    status[table.offset({0, 0, 0})] = S::Primary;
    const SuppressedTable bad(table, status);
    for (const auto exactness : {AuditExactness::Integer, AuditExactness::Relaxation}) {
      const TableAudit audit = auditTable(bad, policy, exactness);
      INFO(explain(bad, audit));
      REQUIRE_FALSE(audit.passed());
      CHECK(audit.ranges.at(0).min == 3);
      CHECK(audit.ranges.at(0).max == 3);
    }
  }
  SECTION("3-D, where only integers show the cell is never 0") {
    // Released: the zeros (0,0,1), (0,1,0), (1,1,1) and the totals (0,T,T), (1,T,T), (T,0,T),
    // (T,T,1), (T,T,T). With a = (0,0,0): (0,1,1) = 6 - a, (1,0,1) = a, (1,1,0) = a - 1 and
    // (1,0,0) = 7 - 2a, so (1,0,0) is odd: 1, 3 or 5. The relaxation (a = 3.5) reaches 0.
    const CountTable table = table3({{{3, 0}, {0, 3}}, {{1, 3}, {2, 0}}});
    std::vector<CellStatus> status(table.cellCount());
    for (std::size_t offset = 0; offset < table.cellCount(); ++offset) {
      const auto value = table.atOffset(offset);
      status[offset] = value >= 1 && value < 5 ? S::Primary : S::Secondary;
    }
    constexpr std::size_t T = 2;
    for (const Index& index : {Index{0, 0, 1}, Index{0, 1, 0}, Index{1, 1, 1}, Index{0, T, T}, Index{1, T, T},
                               Index{T, 0, T}, Index{T, T, 1}, Index{T, T, T}})
      status[table.offset(index)] = S::Released;
    const SuppressedTable bad(table, status);
    const DisclosurePolicy five{.threshold = 5};
    auto rangeOf = [](const TableAudit& audit, const std::string& cell) {
      for (const auto& range : audit.ranges)
        if (range.cell == cell) return range;
      FAIL("no primary " << cell);
      return belonging::testing::ProtectedRange{};
    };
    const TableAudit exact = auditTable(bad, five, AuditExactness::Integer);
    const TableAudit relaxed = auditTable(bad, five, AuditExactness::Relaxation);
    // The verdict needs the integer program too: the relaxation alone would pass the table.
    CHECK(verdictDisagreement(exact, auditTable(bad, five, AuditExactness::Integer, AuditRanges::Verdict), 5) == "");
    INFO(explain(bad, exact) + "relaxation:\n" + relaxed.describe());
    CHECK_FALSE(exact.passed());
    const auto integer = rangeOf(exact, "(1,0,0) = 1");
    CHECK(integer.min == 1);
    CHECK(integer.max == 5);
    CHECK_FALSE(integer.safe);
    const auto linear = rangeOf(relaxed, "(1,0,0) = 1");
    CHECK(linear.min == Approx(0).margin(1e-9));
    CHECK(linear.safe);
  }
  SECTION("statuses that break the rules") {
    const CountTable table = table1({3, 20, 30});
    const TableAudit shown = auditTable(SuppressedTable(table, {S::Released, S::Secondary, S::Released, S::Released}), policy);
    CHECK_FALSE(shown.passed()); // a small count released
    const TableAudit large = auditTable(SuppressedTable(table, {S::Primary, S::Primary, S::Secondary, S::Released}), policy);
    CHECK_FALSE(large.passed()); // 20 is not a primary cell
    const TableAudit withheld = auditTable(SuppressedTable(table, {S::Primary, S::Secondary, S::Released, S::Withheld}), policy);
    CHECK_FALSE(withheld.passed()); // totals are released under this policy
    const TableAudit shownMargin = auditTable(SuppressedTable(table, {S::Primary, S::Released, S::Released, S::Released}),
                                              {.threshold = 11, .releaseTotals = false});
    CHECK_FALSE(shownMargin.passed()); // the total must be withheld
  }
}

// ---- 2b. structural zeros, differencing, zeros and rounding -------------------------------------
// Statuses are set by hand here: the auditor is checked on its own, whatever the engine does.

namespace {

using S = CellStatus;

/** Every cell `fill`, except the ones listed. */
std::vector<CellStatus> statuses(const CountTable& table, CellStatus fill,
                                 std::initializer_list<std::pair<Index, CellStatus>> except = {}) {
  std::vector<CellStatus> result(table.cellCount(), fill);
  for (const auto& [index, status] : except) result[table.offset(index)] = status;
  return result;
}

bool mentions(const TableAudit& audit, const std::string& words) {
  for (const auto& problem : audit.problems)
    if (problem.find(words) != std::string::npos) return true;
  return false;
}

/**
 *      0z  30  60 |  90
 *      25  50  40 | 115
 *     ------------+----
 *      25  80 100 | 205     (0,0) is a structural zero.
 */
CountTable tableWithStructuralZero() {
  CountTable table = table2({{0, 30, 60}, {25, 50, 40}});
  table.setStructuralZero({0, 0});
  return table;
}

} // namespace

TEST_CASE("disclosure audit: a Differencing cell is protected like a primary one", "[core][disclosure]") {
  const DisclosurePolicy policy{.threshold = 11};
  const CountTable table = tableWithStructuralZero();
  SECTION("left to subtraction: fails") {
    const SuppressedTable bad(table, statuses(table, S::Released, {{{1, 1}, S::Differencing}}));
    const TableAudit audit = auditBothWays(bad, policy);
    INFO(explain(bad, audit));
    REQUIRE_FALSE(audit.passed());
    REQUIRE(audit.ranges.size() == 1);
    CHECK(audit.ranges[0].status == S::Differencing);
    CHECK(audit.ranges[0].min == 50);
    CHECK(audit.ranges[0].max == 50);
    CHECK_FALSE(audit.ranges[0].safe);
  }
  SECTION("in a box of hidden cells: passes") {
    // (1,1) + t, (0,2) + t, (0,1) - t, (1,2) - t: t runs from -50 to +30.
    const SuppressedTable good(table, statuses(table, S::Released,
                                               {{{1, 1}, S::Differencing}, {{0, 1}, S::Secondary},
                                                {{0, 2}, S::Secondary}, {{1, 2}, S::Secondary}}));
    const TableAudit audit = auditBothWays(good, policy);
    INFO(explain(good, audit));
    REQUIRE(audit.passed());
    CHECK(audit.ranges.at(0).min == 0);
    CHECK(audit.ranges.at(0).max == 80);
  }
  SECTION("a box through a structural zero protects nothing") {
    // Were (0,0) unknown, (1,1) could rise to 75 with it; it is public, so (1,1) is pinned.
    const SuppressedTable bad(table, statuses(table, S::Released,
                                              {{{1, 1}, S::Differencing}, {{0, 0}, S::Secondary},
                                               {{0, 1}, S::Secondary}, {{1, 0}, S::Secondary}}));
    const TableAudit audit = auditBothWays(bad, policy);
    INFO(explain(bad, audit));
    REQUIRE_FALSE(audit.passed());
    CHECK(mentions(audit, "structural zeros are always released"));
    CHECK(audit.ranges.at(0).min == 50);
    CHECK(audit.ranges.at(0).max == 50);
  }
  SECTION("a table held back whole: every cell but the structural zeros") {
    const SuppressedTable held(table, statuses(table, S::Differencing, {{{0, 0}, S::Released}}));
    const TableAudit audit = auditBothWays(held, policy);
    INFO(explain(held, audit));
    CHECK(audit.passed());
    CHECK(audit.ranges.size() == table.cellCount() - 1);
    const CountTable small = table2({{3, 30}, {0, 50}});
    CHECK(auditBothWays(SuppressedTable(small, statuses(small, S::Differencing)), policy).passed());
    // Not whole: the small count is owed its own status.
    CHECK_FALSE(auditTable(SuppressedTable(small, statuses(small, S::Differencing, {{{1, 1}, S::Released}})), policy)
                    .passed());
  }
  SECTION("only on counts of at least k") {
    const CountTable small = table1({3, 20, 30, 0});
    const TableAudit onSmall =
        auditTable(SuppressedTable(small, {S::Differencing, S::Secondary, S::Released, S::Released, S::Released}), policy);
    CHECK(mentions(onSmall, "counts 1..k-1 are Primary"));
    const TableAudit onZero =
        auditTable(SuppressedTable(small, {S::Primary, S::Secondary, S::Released, S::Differencing, S::Released}), policy);
    CHECK(mentions(onZero, "a Differencing cell counts at least k"));
  }
}

TEST_CASE("disclosure audit: structural zeros are released as 0, other zeros as the policy says",
          "[core][disclosure]") {
  SECTION("released: passes; hidden: fails") {
    const CountTable table = tableWithStructuralZero();
    const DisclosurePolicy policy{.threshold = 11};
    const SuppressedTable good(table, statuses(table, S::Released));
    CHECK(auditBothWays(good, policy).passed());
    const SuppressedTable bad(table, statuses(table, S::Released, {{{0, 0}, S::Withheld}}));
    CHECK_FALSE(auditBothWays(bad, policy).passed());
  }
  SECTION("without showZeros, only the zeros nobody knows are Withheld") {
    // (0,0) is structural, (1,0) merely 0; so is column 0's total, which (1,0) is part of.
    CountTable table = table2({{0, 30, 60}, {0, 50, 40}});
    table.setStructuralZero({0, 0});
    const DisclosurePolicy policy{.threshold = 11, .showZeros = false};
    const SuppressedTable good(table, statuses(table, S::Released, {{{1, 0}, S::Withheld}, {{2, 0}, S::Withheld}}));
    CHECK(auditBothWays(good, policy).passed());
    const SuppressedTable shown(table, statuses(table, S::Released, {{{2, 0}, S::Withheld}}));
    CHECK(mentions(auditTable(shown, policy), "zeros are Withheld when showZeros is false"));
    const SuppressedTable structuralHidden(
        table, statuses(table, S::Released, {{{0, 0}, S::Withheld}, {{1, 0}, S::Withheld}, {{2, 0}, S::Withheld}}));
    CHECK(mentions(auditTable(structuralHidden, policy), "structural zeros are always released"));
  }
  SECTION("a total over structural zeros only is one too") {
    CountTable table = table2({{0, 30}, {0, 50}});
    table.setStructuralZero({0, 0});
    table.setStructuralZero({1, 0});
    const DisclosurePolicy policy{.threshold = 11, .showZeros = false};
    CHECK(table.isStructuralZero(table.offset({2, 0})));
    CHECK(auditBothWays(SuppressedTable(table, statuses(table, S::Released)), policy).passed());
    const SuppressedTable bad(table, statuses(table, S::Released, {{{2, 0}, S::Withheld}}));
    CHECK(mentions(auditTable(bad, policy), "structural zeros are always released"));
  }
}

TEST_CASE("disclosure audit: rounded releases", "[core][disclosure]") {
  const CountTable table = table2({{12, 27}, {33, 48}});
  const DisclosurePolicy five{.threshold = 11, .roundTo = 5};
  SECTION("Rounded, with values rounded to 5: passes") {
    CHECK(auditBothWays(SuppressedTable(table, statuses(table, S::Rounded), 5), five).passed());
  }
  SECTION("Released although the policy rounds: fails") {
    CHECK(mentions(auditTable(SuppressedTable(table, statuses(table, S::Released), 5), five),
                   "released counts are Rounded when roundTo is set"));
  }
  SECTION("Rounded, but value() not rounded: fails") {
    CHECK(mentions(auditTable(SuppressedTable(table, statuses(table, S::Rounded), 0), five), "value() says 12, expected 10"));
  }
  SECTION("Rounded although the policy does not round: fails") {
    CHECK(mentions(auditTable(SuppressedTable(table, statuses(table, S::Rounded), 5), {.threshold = 11}),
                   "nothing is Rounded when roundTo is 0"));
  }
  SECTION("halves round up") {
    // 25 -> 30, 15 -> 20, total 40 -> 40.
    CHECK(auditBothWays(SuppressedTable(table1({25, 15}), {S::Rounded, S::Rounded, S::Rounded}, 10),
                        {.threshold = 11, .roundTo = 10})
              .passed());
  }
  SECTION("rounded cells are pinned at their true counts") {
    const SuppressedTable released(table1({3, 20, 30}), {S::Primary, S::Secondary, S::Rounded, S::Rounded}, 5);
    const TableAudit audit = auditBothWays(released, five);
    INFO(explain(released, audit));
    CHECK(audit.passed());
    CHECK(audit.ranges.at(0).max == 23);
  }
  SECTION("RateSuppressed is never a count's status") {
    CHECK(mentions(auditTable(SuppressedTable(table, statuses(table, S::Rounded, {{{0, 0}, S::RateSuppressed}}), 5), five),
                   "RateSuppressed is for rates"));
  }
}

// ---- 3. random tables ---------------------------------------------------------------------------

TEST_CASE("disclosure audit: 3,000 random 1-D tables", "[core][disclosure]") { auditRandomTables(1, 3000); }
TEST_CASE("disclosure audit: 5,000 random 2-D tables", "[core][disclosure]") { auditRandomTables(2, 5000); }
TEST_CASE("disclosure audit: 2,000 random 3-D tables", "[core][disclosure]") { auditRandomTables(3, 2000); }

// ---- 4. the threshold -------------------------------------------------------------------------

TEST_CASE("disclosure: a threshold below 5 is refused, naming the threshold", "[core][disclosure]") {
  const CountTable table = table1({3, 20, 30});
  for (const int threshold : {4, 1, 0, -11}) {
    CAPTURE(threshold);
    try {
      suppress(table, {.threshold = threshold});
      FAIL("no DisclosureError");
    } catch (const DisclosureError& error) {
      const std::string message = error.what();
      CHECK_THAT(message, Catch::Matchers::Contains("threshold", Catch::CaseSensitive::No));
      CHECK_THAT(message, Catch::Matchers::Contains(std::to_string(threshold)));
    }
  }
  CHECK_NOTHROW(suppress(table, {.threshold = 5}));
  CHECK_THROWS_AS(CountTable({2}).set({0}, -1), DisclosureError);
}
