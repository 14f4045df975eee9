// Times the disclosure engine on the tables issue 3 names: 1,000 x 20 with margins, and
// 50 x 10 x 10. Counts mix zeros, small cells and large ones, seeded.
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
  return allPassed ? 0 : 1;
}
