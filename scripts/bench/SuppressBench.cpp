// Times the disclosure engine on the tables issue 3 names: 1,000 x 20 with margins, and
// 50 x 10 x 10. Counts mix zeros, small cells and large ones, seeded.
//
// The GLPK audit is not timed here yet: at these sizes each primary cell costs two solves of
// seconds each. The unit tests audit 10,000 random smaller tables exactly.

#include <belonging/Disclosure.hpp>

#include <chrono>
#include <cstdio>
#include <random>

using namespace belonging;

int main() {
  std::mt19937 random(20261121);
  auto count = [&random] {
    const auto kind = random() % 10;
    return kind < 3 ? 0 : kind < 6 ? 1 + static_cast<std::int64_t>(random() % 10) : static_cast<std::int64_t>(random() % 300);
  };
  for (const auto& sizes : {std::vector<std::size_t>{1000, 20}, std::vector<std::size_t>{50, 10, 10}}) {
    CountTable table(sizes);
    for (std::size_t cell = 0; cell < table.cellCount(); ++cell) {
      if (!table.isMargin(cell)) table.set(table.index(cell), count());
    }
    const auto start = std::chrono::steady_clock::now();
    const SuppressedTable released = suppress(table, DisclosurePolicy{});
    const double milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-12s cells %6zu  primary %5zu  secondary %5zu  people hidden %7lld  suppress %7.1f ms (goal <= 1000)\n",
                sizes.size() == 2 ? "1000 x 20" : "50 x 10 x 10", table.cellCount(),
                released.hiddenCells(CellStatus::Primary), released.hiddenCells(CellStatus::Secondary),
                static_cast<long long>(released.hiddenPeople()), milliseconds);
  }
  return 0;
}
