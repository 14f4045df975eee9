// Times the disclosure engine on the tables issue 3 names: 1,000 x 20 with margins, and
// 50 x 10 x 10. Counts mix zeros, small cells and large ones, seeded. Then a wave's linked
// publication (issue 14): 100,000 responses to one question, cross-classified by ethnicity,
// disability, pay band and directorate, published as four breakdowns protected together.
//
// Each released table is then audited exactly by the GLPK auditor the unit tests use
// (tests/unit/TableAuditor), so the bench also shows that the engine's output at this size is
// safe, and what an exact audit costs.

#include "TableAuditor.hpp"

#include <belonging/Disclosure.hpp>

#include <chrono>
#include <cstdio>
#include <random>

using namespace belonging;

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

int main() {
  std::mt19937 random(20261121);
  auto count = [&random] {
    const auto kind = random() % 10;
    return kind < 3 ? 0 : kind < 6 ? 1 + static_cast<std::int64_t>(random() % 10) : static_cast<std::int64_t>(random() % 300);
  };
  bool allPassed = true;
  for (const auto& sizes : {std::vector<std::size_t>{1000, 20}, std::vector<std::size_t>{50, 10, 10}}) {
    CountTable table(sizes);
    for (std::size_t cell = 0; cell < table.cellCount(); ++cell) {
      if (!table.isMargin(cell)) table.set(table.index(cell), count());
    }
    const DisclosurePolicy policy{};
    auto start = std::chrono::steady_clock::now();
    const SuppressedTable released = suppress(table, policy);
    const double suppressSeconds = secondsSince(start);
    start = std::chrono::steady_clock::now();
    const testing::TableAudit audit =
        testing::auditTable(released, policy, testing::AuditExactness::Integer, testing::AuditRanges::Verdict);
    const double auditSeconds = secondsSince(start);
    std::printf("%-12s cells %6zu  primary %5zu  secondary %5zu  people hidden %7lld  suppress %6.3f s  audit %6.3f s"
                " (%zu GLPK solves)  (goal <= 1 s each)  audit %s\n",
                sizes.size() == 2 ? "1000 x 20" : "50 x 10 x 10", table.cellCount(),
                released.hiddenCells(CellStatus::Primary), released.hiddenCells(CellStatus::Secondary),
                static_cast<long long>(released.hiddenPeople()), suppressSeconds, auditSeconds, audit.programs,
                audit.passed() ? "passed" : "FAILED");
    if (!audit.passed()) {
      allPassed = false;
      std::size_t shown = 0;
      for (const auto& problem : audit.problems) {
        if (++shown > 10) break;
        std::printf("  problem: %s\n", problem.c_str());
      }
      if (audit.problems.size() > 10) std::printf("  ... %zu problems in all\n", audit.problems.size());
    }
  }

  // A wave of 100,000 responses to one question (yes, no, not answered), each respondent with an
  // ethnicity (6, one rare), a disability status (3), a pay band (9) and a directorate (12, two
  // small), published as the answer by each of the four: linked through the answer margin and
  // the respondent count, so protected together over the joint table.
  {
    const std::vector<std::size_t> sizes = {3, 6, 3, 9, 12};
    CountTable joint(sizes);
    const std::vector<std::vector<double>> weights = {{55, 40, 5},
                                                      {70, 12, 8, 5, 4, 0.02},
                                                      {80, 15, 5},
                                                      {5, 12, 25, 20, 15, 10, 7, 4, 2},
                                                      {20, 15, 12, 10, 10, 8, 8, 7, 5, 4, 0.05, 0.02}};
    std::vector<std::discrete_distribution<std::size_t>> pick;
    for (const auto& weight : weights) pick.emplace_back(weight.begin(), weight.end());
    std::vector<std::int64_t> counts(joint.cellCount(), 0);
    std::vector<std::size_t> index(sizes.size());
    for (int response = 0; response < 100000; ++response) {
      for (std::size_t d = 0; d < sizes.size(); ++d) index[d] = pick[d](random);
      ++counts[joint.offset(index)];
    }
    for (std::size_t cell = 0; cell < joint.cellCount(); ++cell) {
      if (!joint.isMargin(cell)) joint.set(joint.index(cell), counts[cell]);
    }
    const std::vector<std::vector<std::size_t>> views = {{0, 1}, {0, 2}, {0, 3}, {0, 4}};
    const DisclosurePolicy policy{};
    auto start = std::chrono::steady_clock::now();
    const auto released = suppressLinked(joint, views, policy);
    const double suppressSeconds = secondsSince(start);
    std::size_t primary = 0, secondary = 0;
    for (const auto& table : released) {
      primary += table.hiddenCells(CellStatus::Primary);
      secondary += table.hiddenCells(CellStatus::Secondary);
    }
    start = std::chrono::steady_clock::now();
    const testing::TableAudit audit =
        testing::auditLinked(joint, views, released, policy, testing::AuditExactness::Integer, testing::AuditRanges::Verdict);
    const double auditSeconds = secondsSince(start);
    std::printf("linked wave  joint cells %6zu, 4 views: primary %zu  secondary %zu  suppress %6.3f s (goal <= 2 s)"
                "  audit %6.3f s (%zu GLPK solves)  audit %s\n",
                joint.cellCount(), primary, secondary, suppressSeconds, auditSeconds, audit.programs,
                audit.passed() ? "passed" : "FAILED");
    if (!audit.passed()) {
      allPassed = false;
      for (std::size_t i = 0; i < audit.problems.size() && i < 10; ++i) std::printf("  problem: %s\n", audit.problems[i].c_str());
    }
  }
  return allPassed ? 0 : 1;
}
