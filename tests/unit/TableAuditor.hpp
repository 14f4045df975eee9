#pragma once
// An auditor for disclosure control (DESIGN §6), independent of the engine: it reads only the
// table's true counts and each cell's status, and works out with GLPK the values every protected
// cell (Primary or Differencing) could take given everything released. The rule it checks: those
// values (non-negative integers satisfying every released total) include 0 and a value of at
// least k.
//
// Released and Rounded cells, and structural zeros, are pinned to their true counts: an attacker
// who knew exact values would know at least as much as one who sees rounded ones, so the audit
// is conservative. Every other cell is an unknown. The hidden cells split into components (two
// are linked when an equation holds both), and each component is its own small program. Most
// ranges are settled before any program, by boxes of hidden cells that can move together.

#include "belonging/Disclosure.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace belonging::testing {

/**
 * How the ranges are computed. Integer (the default) solves integer programs: exact. Relaxation
 * solves only the linear programs, which give the exact integer ranges for 1-D and 2-D tables
 * (their additivity equations are totally unimodular) but only bounds for 3-D and larger ones.
 * Integer costs little more, since the branch and bound starts from the relaxation's optimum and
 * that is usually integral already.
 */
enum class AuditExactness { Integer, Relaxation };

/**
 * How much of each range is worked out. Full: the least and the greatest consistent value of
 * every protected cell. Verdict: only what the rule needs, which is far cheaper on large tables
 * (the 1,000 x 20 bench table in a fraction of a second, where Full takes seconds): the least
 * value exactly, and the greatest only until a consistent table with the cell at k or more is
 * found (then ProtectedRange::maxExact is false and max is that value). Where no such table
 * turns up without a solver, a program asks whether one exists, and only if none does is the
 * cell optimised. The pass or fail is the same either way, and so is whatever makes a cell
 * fail: a least value above 0 or a greatest below k is always exact.
 */
enum class AuditRanges { Full, Verdict };

/** What an attacker can work out about one protected (Primary or Differencing) cell. */
struct ProtectedRange {
  std::vector<std::size_t> index;
  CellStatus status = CellStatus::Primary;
  std::string cell;        ///< "(2,T) = 3": where, and the true count.
  std::int64_t value = 0;  ///< The true count.
  double min = 0;          ///< Least consistent value.
  double max = 0;          ///< Greatest consistent value, when bounded (see maxExact).
  bool maxExact = false;   ///< Whether max is the greatest; if not, a consistent value of at least k.
  bool unbounded = false;  ///< No greatest value.
  bool solved = false;     ///< False if the solver failed (a problem says why).
  bool safe = false;       ///< min is 0 and max is at least k (or unbounded).
};

struct TableAudit {
  std::vector<std::string> problems;   ///< Empty when the table passes.
  std::vector<ProtectedRange> ranges;  ///< One per protected cell, in row-major order.
  std::size_t programs = 0;            ///< GLPK solves; whatever else was settled by moves found without one.
  bool passed() const { return problems.empty(); }
  /** The problems, then every protected cell's range. */
  std::string describe() const;
};

/**
 * Audits a table after suppression against the policy: the statuses (structural zeros, and
 * margins over structural zeros only, shown as 0; then margins Withheld when totals are not
 * released; Primary exactly the other counts 1..k-1; zeros Withheld when showZeros is false;
 * Differencing only on counts of at least k, unless the whole table is held back (every cell
 * but the structural zeros Differencing); every other shown cell Rounded when roundTo is set,
 * Released otherwise), the released values (rounded, halves up, when Rounded), the table's own
 * margins, the summary counts, and the range of every Primary and Differencing cell.
 */
TableAudit auditTable(const SuppressedTable& released, const DisclosurePolicy& policy,
                      AuditExactness exactness = AuditExactness::Integer, AuditRanges ranges = AuditRanges::Full);

/**
 * Audits linked tables (suppressLinked): each view against the rules as auditTable does, then
 * the set together over the joint records. A cell two views share must be shown the same way
 * in both, and every protected cell's range is worked out from everything any view released:
 * the unknowns are the joint table's hidden and unshown cells, bound by all its additivity.
 */
TableAudit auditLinked(const CountTable& joint, const std::vector<std::vector<std::size_t>>& views,
                       const std::vector<SuppressedTable>& released, const DisclosurePolicy& policy,
                       AuditExactness exactness = AuditExactness::Integer, AuditRanges ranges = AuditRanges::Full);

/** "(2,T)": an index, with T for a total. */
std::string formatIndex(const CountTable& table, const std::vector<std::size_t>& index);

/**
 * The table as text: each cell's true count, marked p (primary), s (secondary), d (differencing),
 * w (withheld), r (rounded) or z (structural zero); one block per slice beyond two dimensions.
 */
std::string formatTable(const SuppressedTable& released);

} // namespace belonging::testing
