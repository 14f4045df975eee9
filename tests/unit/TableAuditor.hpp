#pragma once
// An auditor for disclosure control (DESIGN §6), independent of the engine: it reads only the
// table's true counts and each cell's status, and works out with GLPK the values every primary
// cell could take given everything released. The rule it checks: those values (non-negative
// integers satisfying every released total) include 0 and a value of at least k.

#include "belonging/Disclosure.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace belonging::testing {

/**
 * How the ranges are computed. Integer (the default) solves integer programs: exact. Relaxation
 * solves only the linear programs, which give the exact integer ranges for 1-D and 2-D tables
 * (their additivity equations are totally unimodular) but only bounds for 3-D ones. Integer
 * costs little more, since the branch and bound starts from the relaxation's optimum and that
 * is usually integral already.
 */
enum class AuditExactness { Integer, Relaxation };

/** What an attacker can work out about one primary cell. */
struct PrimaryRange {
  std::vector<std::size_t> index;
  std::string cell;        ///< "(2,T) = 3": where, and the true count.
  std::int64_t value = 0;  ///< The true count.
  double min = 0;          ///< Least consistent value.
  double max = 0;          ///< Greatest consistent value, when bounded.
  bool unbounded = false;  ///< No greatest value.
  bool safe = false;       ///< min is 0 and max is at least k (or unbounded).
};

struct TableAudit {
  std::vector<std::string> problems;     ///< Empty when the table passes.
  std::vector<PrimaryRange> primaries;   ///< One per primary cell (empty if no program was solved).
  bool passed() const { return problems.empty(); }
  /** The problems, then every primary cell's range. */
  std::string describe() const;
};

/**
 * Audits a table after suppression against the policy: statuses (primary cells are exactly the
 * counts 1..k-1 that would otherwise be shown; margins are Withheld, and nothing is Secondary,
 * when totals are not released), released values, the table's own margins, the summary counts,
 * and the range of every primary cell.
 */
TableAudit auditTable(const SuppressedTable& released, const DisclosurePolicy& policy,
                      AuditExactness exactness = AuditExactness::Integer);

/** "(2,T)": an index, with T for a total. */
std::string formatIndex(const CountTable& table, const std::vector<std::size_t>& index);

/** The table as text: each cell's true count, marked p (primary), s (secondary) or w (withheld). */
std::string formatTable(const SuppressedTable& released);

} // namespace belonging::testing
