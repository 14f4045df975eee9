// Linked tables (DESIGN §6): tables computed from the same records must be protected together.
// Each case is checked by the independent GLPK auditor over the whole set (auditLinked), which
// works out what an attacker holding every table of the set can deduce about each hidden cell.

#include "TableAuditor.hpp"

#include "belonging/Disclosure.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace belonging;
using belonging::testing::AuditExactness;
using belonging::testing::AuditRanges;
using belonging::testing::auditLinked;
using belonging::testing::formatTable;
using belonging::testing::TableAudit;

namespace {

using Views = std::vector<std::vector<std::size_t>>;

/** Whether some protected cell's range no longer holds both 0 and k: a real leak, not just a mismatch. */
bool narrowed(const TableAudit& audit) {
  return std::any_of(audit.ranges.begin(), audit.ranges.end(), [](const auto& range) { return range.solved && !range.safe; });
}

std::string explain(const std::vector<SuppressedTable>& released, const TableAudit& audit) {
  std::string text;
  for (std::size_t v = 0; v < released.size(); ++v) text += "view " + std::to_string(v + 1) + ":\n" + formatTable(released[v]);
  return text + audit.describe();
}

/**
 * Staff-survey answers to one question (yes, no) by ethnicity (White, BME, Not stated) and by
 * disability (disabled, not disabled): 71 respondents, of whom one did not state an ethnicity.
 * WRES 5 is the view {answer, ethnicity}, WDES 4a(i) the view {answer, disability}.
 */
CountTable surveyAnswers() {
  CountTable joint({2, 3, 2});
  const std::int64_t counts[2][3][2] = {{{6, 14}, {2, 4}, {0, 1}}, {{9, 28}, {1, 6}, {0, 0}}};
  for (std::size_t a = 0; a < 2; ++a)
    for (std::size_t e = 0; e < 3; ++e)
      for (std::size_t d = 0; d < 2; ++d) joint.set({a, e, d}, counts[a][e][d]);
  return joint;
}

/** The same views cut one at a time, as the product did before linked protection. */
std::vector<SuppressedTable> oneByOne(const CountTable& joint, const Views& views, const DisclosurePolicy& policy) {
  std::vector<SuppressedTable> released;
  for (const auto& view : views) {
    const CountTable table = project(joint, view);
    released.push_back(suppress(table, policy));
  }
  return released;
}

struct RandomSet {
  CountTable joint;
  Views views;
  DisclosurePolicy policy;
};

/** A reproducible random set of linked tables over 2 to 4 dimensions. */
RandomSet randomSet(std::uint32_t seed) {
  std::mt19937 random(seed);
  auto uniform = [&](std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(random);
  };
  const auto dimensions = static_cast<std::size_t>(uniform(2, 4));
  std::vector<std::size_t> sizes;
  for (std::size_t d = 0; d < dimensions; ++d) sizes.push_back(static_cast<std::size_t>(uniform(1, dimensions == 4 ? 3 : 4)));
  DisclosurePolicy policy;
  const int thresholds[] = {5, 10, 11};
  policy.threshold = thresholds[uniform(0, 2)];
  policy.releaseTotals = uniform(0, 99) < 85;
  const int roundings[] = {0, 0, 5, 10};
  policy.roundTo = roundings[uniform(0, 3)];
  policy.showZeros = uniform(0, 99) < 75;
  const std::int64_t k = policy.threshold;

  const int zeroPercent[] = {0, 20, 50};
  const int smallPercent[] = {20, 50, 80};
  const int zeros = zeroPercent[uniform(0, 2)];
  const int smalls = smallPercent[uniform(0, 2)];
  const std::int64_t largeMax = uniform(0, 1) == 0 ? 2 * k : 200;
  CountTable joint(sizes);
  for (std::size_t offset = 0; offset < joint.cellCount(); ++offset) {
    if (joint.isMargin(offset)) continue;
    std::int64_t value = 0;
    if (uniform(0, 99) >= zeros) value = uniform(0, 99) < smalls ? uniform(1, k - 1) : uniform(k, largeMax);
    joint.set(joint.index(offset), value);
  }
  // Two or three distinct views, each keeping 1 to 3 dimensions; never the whole joint table
  // unless it has only two (then one view may be it, as a table and its own margin are).
  Views views;
  const auto wanted = static_cast<std::size_t>(uniform(2, 3));
  for (int attempt = 0; attempt < 50 && views.size() < wanted; ++attempt) {
    std::vector<std::size_t> view;
    for (std::size_t d = 0; d < dimensions; ++d)
      if (uniform(0, 1) == 1) view.push_back(d);
    if (view.empty() || view.size() > 3 || (view.size() == dimensions && dimensions > 2)) continue;
    if (std::find(views.begin(), views.end(), view) == views.end()) views.push_back(view);
  }
  if (views.size() < 2) views = {{0}, {1}};
  return {std::move(joint), std::move(views), policy};
}

std::string describeSet(std::uint32_t seed, const RandomSet& set) {
  std::ostringstream out;
  out << "seed " << seed << ", joint sizes";
  for (std::size_t size : set.joint.sizes()) out << " " << size;
  out << ", views";
  for (const auto& view : set.views) {
    out << " {";
    for (std::size_t d : view) out << " " << d;
    out << " }";
  }
  out << ", k = " << set.policy.threshold << ", releaseTotals = " << set.policy.releaseTotals
      << ", roundTo = " << set.policy.roundTo << ", showZeros = " << set.policy.showZeros;
  return out.str();
}

} // namespace

TEST_CASE("linked tables: WRES 5 and WDES 4a(i) cut one by one give things away; protected together, not",
          "[core][disclosure][linked]") {
  // Survey-shaped sets: answers (2 or 3) x ethnicity (3 to 5, the last "Not stated" with 1 to 3
  // people) x disability (2 or 3), published as WRES 5 = {answer, ethnicity} and WDES 4a(i) =
  // {answer, disability}. Cut one by one, as before, some sets let a hidden cell be narrowed
  // (the 71 - 57 - 13 = 1); protected together, none does.
  const Views views = {{0, 1}, {0, 2}};
  const DisclosurePolicy policy{.threshold = 11};
  std::size_t separateFailures = 0, separateLeaks = 0, linkedFailures = 0;
  std::string example;
  for (std::uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937 random(seed);
    auto uniform = [&](std::int64_t low, std::int64_t high) {
      return std::uniform_int_distribution<std::int64_t>(low, high)(random);
    };
    const auto answers = static_cast<std::size_t>(uniform(2, 3));
    const auto ethnicities = static_cast<std::size_t>(uniform(3, 5));
    const auto disabilities = static_cast<std::size_t>(uniform(2, 3));
    CountTable joint({answers, ethnicities, disabilities});
    for (std::size_t a = 0; a < answers; ++a)
      for (std::size_t e = 0; e + 1 < ethnicities; ++e)
        for (std::size_t d = 0; d < disabilities; ++d) joint.set({a, e, d}, uniform(0, 14));
    for (std::int64_t notStated = uniform(1, 3); notStated > 0; --notStated) {
      const std::vector<std::size_t> cell = {static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(answers) - 1)),
                                             ethnicities - 1,
                                             static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(disabilities) - 1))};
      joint.set(cell, joint.at(cell) + 1);
    }
    const auto separate = oneByOne(joint, views, policy);
    const TableAudit separateAudit = auditLinked(joint, views, separate, policy);
    if (!separateAudit.passed()) {
      ++separateFailures;
      if (narrowed(separateAudit) && separateLeaks++ == 0)
        example = "seed " + std::to_string(seed) + ", cut one by one:\n" + explain(separate, separateAudit);
    }
    const auto released = suppressLinked(joint, views, policy);
    const TableAudit audit = auditLinked(joint, views, released, policy);
    if (!audit.passed()) {
      ++linkedFailures;
      FAIL_CHECK("seed " << seed << ", protected together:\n" << explain(released, audit));
    }
  }
  WARN("survey-shaped sets: cut one by one, " << separateFailures << " of 200 fail the joint audit (" << separateLeaks
                                               << " with a hidden cell narrowed below k or above 0); protected "
                                                  "together, "
                                               << linkedFailures << " fail\n"
                                               << example);
  CHECK(separateLeaks > 0);
  CHECK(linkedFailures == 0);
}

TEST_CASE("linked tables: protected together, the same answers split two ways pass", "[core][disclosure][linked]") {
  const CountTable joint = surveyAnswers();
  const Views views = {{0, 1}, {0, 2}};
  for (const DisclosurePolicy policy : {DisclosurePolicy{.threshold = 11}, DisclosurePolicy{.threshold = 5},
                                        DisclosurePolicy{.threshold = 11, .roundTo = 5},
                                        DisclosurePolicy{.threshold = 11, .showZeros = false}}) {
    const auto released = suppressLinked(joint, views, policy);
    REQUIRE(released.size() == 2);
    const TableAudit audit = auditLinked(joint, views, released, policy);
    INFO(explain(released, audit));
    CHECK(audit.passed());
    // The respondent count both views share is shown the same way in both.
    CHECK(released[0].value({2, 3}) == released[1].value({2, 2}));
    CHECK(released[0].statusAt(released[0].shape().offset({2, 3})) ==
          released[1].statusAt(released[1].shape().offset({2, 2})));
  }
}

TEST_CASE("linked tables: a figure shown elsewhere is a margin too", "[core][disclosure][linked]") {
  // The wave page's respondent count (a 1-D view of everyone) beside a breakdown by ethnicity.
  CountTable joint({3});
  joint.set({0}, 57);
  joint.set({1}, 13);
  joint.set({2}, 1);
  const DisclosurePolicy policy{.threshold = 11, .releaseTotals = false};
  // Without totals the breakdown alone would hide only the 1; the page's 71 is the total.
  CountTable total({1});
  total.set({0}, 71);
  const std::vector<SuppressedTable> separate = {suppress(joint, policy), suppress(CountTable(total), {.threshold = 11})};
  CHECK(separate[0].value({0}) == 57);
  CHECK(separate[0].value({1}) == 13);
  // Linked: the count of everyone is the joint's total, so one more cell hides with the 1.
  CountTable breakdownWithAll({3, 1});
  breakdownWithAll.set({0, 0}, 57);
  breakdownWithAll.set({1, 0}, 13);
  breakdownWithAll.set({2, 0}, 1);
  const Views views = {{0}, {1}};
  const auto released = suppressLinked(breakdownWithAll, views, policy);
  const TableAudit audit = auditLinked(breakdownWithAll, views, released, policy);
  INFO(explain(released, audit));
  CHECK(audit.passed());
  CHECK(released[1].value({0}) == 71);
  CHECK((released[0].value({0}) == std::nullopt || released[0].value({1}) == std::nullopt));
}

TEST_CASE("linked tables: bad views are refused, naming the view", "[core][disclosure][linked]") {
  const CountTable joint = surveyAnswers();
  const DisclosurePolicy policy{.threshold = 11};
  CHECK_THROWS_WITH(suppressLinked(joint, {}, policy), Catch::Matchers::Contains("at least one view"));
  CHECK_THROWS_WITH(suppressLinked(joint, {{0}, {3}}, policy), Catch::Matchers::Contains("view 2"));
  CHECK_THROWS_WITH(suppressLinked(joint, {{1, 0}}, policy), Catch::Matchers::Contains("in order"));
  CHECK_THROWS_WITH(suppressLinked(joint, {{}}, policy), Catch::Matchers::Contains("1 to 3"));
}

TEST_CASE("linked tables: 2,000 random linked sets pass the joint audit", "[core][disclosure][linked]") {
  const std::uint32_t firstSeed = 7'000'000u;
  const std::uint32_t count = 2000;
  const auto started = std::chrono::steady_clock::now();
  std::size_t failures = 0, hiddenBySet = 0, separateFailures = 0, separateLeaks = 0, sampled = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t seed = firstSeed + i;
    const RandomSet set = randomSet(seed);
    std::string failure;
    try {
      const auto released = suppressLinked(set.joint, set.views, set.policy);
      const TableAudit audit = auditLinked(set.joint, set.views, released, set.policy, AuditExactness::Integer,
                                           AuditRanges::Verdict);
      if (!audit.passed()) failure = explain(released, audit);
      for (const auto& table : released) hiddenBySet += table.hiddenCells(CellStatus::Secondary);
      // How often cutting the same views one by one would have given something away.
      if (i % 4 == 0) {
        const auto separate = oneByOne(set.joint, set.views, set.policy);
        const TableAudit separateAudit =
            auditLinked(set.joint, set.views, separate, set.policy, AuditExactness::Integer, AuditRanges::Verdict);
        if (!separateAudit.passed()) ++separateFailures;
        if (narrowed(separateAudit)) ++separateLeaks;
        ++sampled;
      }
    } catch (const std::exception& error) {
      failure = std::string("suppress or audit threw: ") + error.what();
    }
    if (!failure.empty()) {
      ++failures;
      if (failures <= 3) FAIL_CHECK(describeSet(seed, set) + "\n" + failure);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN(std::to_string(count) + " random linked sets (seeds " + std::to_string(firstSeed) + "..) in " +
       std::to_string(seconds) + " s; " + std::to_string(hiddenBySet) + " secondary cells; cut one by one, " +
       std::to_string(separateFailures) + " of " + std::to_string(sampled) + " sampled sets would fail (" +
       std::to_string(separateLeaks) + " narrowing a hidden cell); " +
       std::to_string(failures) + " failed");
  REQUIRE(failures == 0);
}
