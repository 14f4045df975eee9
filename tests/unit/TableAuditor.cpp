#include "TableAuditor.hpp"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace belonging::testing {

namespace {

constexpr double kTolerance = 1e-6;

// Every status is spelled out, with no default, so that -Wswitch names these functions when
// the engine gains a status the auditor has not been taught.
const char* statusLabel(CellStatus status) {
  switch (status) {
  case CellStatus::Released: return "Released";
  case CellStatus::Rounded: return "Rounded";
  case CellStatus::Primary: return "Primary";
  case CellStatus::Secondary: return "Secondary";
  case CellStatus::Differencing: return "Differencing";
  case CellStatus::RateSuppressed: return "RateSuppressed";
  case CellStatus::Withheld: return "Withheld";
  }
  return "invalid status";
}

char statusMark(CellStatus status) {
  switch (status) {
  case CellStatus::Released: return ' ';
  case CellStatus::Rounded: return 'r';
  case CellStatus::Primary: return 'p';
  case CellStatus::Secondary: return 's';
  case CellStatus::Differencing: return 'd';
  case CellStatus::RateSuppressed: return '!';
  case CellStatus::Withheld: return 'w';
  }
  return '?';
}

/** Whether the rule "the consistent values include 0 and a value of at least k" applies. */
bool isProtected(CellStatus status) {
  switch (status) {
  case CellStatus::Primary:
  case CellStatus::Differencing: return true;
  case CellStatus::Released:
  case CellStatus::Rounded:
  case CellStatus::Secondary:
  case CellStatus::RateSuppressed:
  case CellStatus::Withheld: return false;
  }
  return false;
}

constexpr CellStatus kAllStatuses[] = {CellStatus::Released,     CellStatus::Rounded,        CellStatus::Primary,
                                       CellStatus::Secondary,    CellStatus::Differencing,   CellStatus::RateSuppressed,
                                       CellStatus::Withheld};
constexpr std::size_t kStatusCount = std::size(kAllStatuses);

/**
 * Row-major geometry of the table extended by its margins (size + 1 per dimension), worked out
 * here from the sizes alone rather than taken from CountTable, so the auditor can check it.
 */
class Shape {
public:
  explicit Shape(std::vector<std::size_t> sizes) : sizes_(std::move(sizes)), strides_(sizes_.size(), 1) {
    for (std::size_t d = sizes_.size(); d-- > 0;) {
      strides_[d] = cellCount_;
      cellCount_ *= sizes_[d] + 1;
    }
  }

  std::size_t dimensions() const { return sizes_.size(); }
  std::size_t size(std::size_t d) const { return sizes_[d]; }
  std::size_t stride(std::size_t d) const { return strides_[d]; }
  std::size_t cellCount() const { return cellCount_; }
  std::size_t coordinate(std::size_t offset, std::size_t d) const { return offset / strides_[d] % (sizes_[d] + 1); }

  bool isMargin(std::size_t offset) const {
    for (std::size_t d = 0; d < sizes_.size(); ++d)
      if (coordinate(offset, d) == sizes_[d]) return true;
    return false;
  }

  std::vector<std::size_t> index(std::size_t offset) const {
    std::vector<std::size_t> result(sizes_.size());
    for (std::size_t d = 0; d < sizes_.size(); ++d) result[d] = coordinate(offset, d);
    return result;
  }

private:
  std::vector<std::size_t> sizes_;
  std::vector<std::size_t> strides_;
  std::size_t cellCount_ = 1;
};

/**
 * One additivity equation: along dimension d, from the cell `first` (coordinate 0 on d), the
 * categories sum to the total. Every cell lies on exactly one such line per dimension.
 */
struct Equation {
  std::size_t dimension = 0;
  std::size_t first = 0;
};

/** Cells that share an equation, merged into components (union by size, path halving). */
class Components {
public:
  explicit Components(std::size_t cells) : parent_(cells), size_(cells, 1) {
    std::iota(parent_.begin(), parent_.end(), std::size_t{0});
  }

  std::size_t find(std::size_t cell) {
    while (parent_[cell] != cell) {
      parent_[cell] = parent_[parent_[cell]];
      cell = parent_[cell];
    }
    return cell;
  }

  void merge(std::size_t a, std::size_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = a;
    size_[a] += size_[b];
  }

private:
  std::vector<std::size_t> parent_;
  std::vector<std::size_t> size_;
};

struct ProblemDeleter {
  void operator()(glp_prob* problem) const { glp_delete_prob(problem); }
};

/**
 * The additivity equations of one component of hidden cells, as a GLPK problem: one column per
 * hidden cell (a non-negative integer), one row per equation, with everything known moved to
 * the right-hand side at its true value.
 */
class ComponentModel {
public:
  ComponentModel(const Shape& shape, const CountTable& table, const std::vector<bool>& hidden,
                 const std::vector<std::size_t>& cells, const std::vector<Equation>& equations,
                 std::vector<int>& columnOf, std::vector<std::string>& problems)
      : problem_(glp_create_prob()), columnOf_(columnOf) {
    for (std::size_t i = 0; i < cells.size(); ++i) columnOf_[cells[i]] = static_cast<int>(i) + 1;
    glp_add_cols(problem_.get(), static_cast<int>(cells.size()));
    for (int column = 1; column <= static_cast<int>(cells.size()); ++column) {
      glp_set_col_bnds(problem_.get(), column, GLP_LO, 0.0, 0.0);
      glp_set_col_kind(problem_.get(), column, GLP_IV);
    }
    glp_add_rows(problem_.get(), static_cast<int>(equations.size()));
    std::vector<int> rows{0}, columns{0};
    std::vector<double> coefficients{0.0};
    int row = 0;
    for (const Equation& equation : equations) {
      ++row;
      const std::size_t d = equation.dimension;
      double rhs = 0;
      double trueLeft = 0;
      for (std::size_t c = 0; c <= shape.size(d); ++c) {
        const std::size_t cell = equation.first + c * shape.stride(d);
        const double sign = c == shape.size(d) ? -1.0 : 1.0;
        const auto value = static_cast<double>(table.atOffset(cell));
        if (!hidden[cell]) {
          rhs -= sign * value;
          continue;
        }
        rows.push_back(row);
        columns.push_back(columnOf_[cell]);
        coefficients.push_back(sign);
        trueLeft += sign * value;
      }
      // The true table must be one of the solutions, or every range below is meaningless.
      if (std::abs(trueLeft - rhs) > kTolerance)
        problems.push_back("auditor model: true counts violate the equation along dimension " + std::to_string(d) +
                           " ending at " + formatIndex(table, shape.index(equation.first + shape.size(d) * shape.stride(d))));
      glp_set_row_bnds(problem_.get(), row, GLP_FX, rhs, rhs);
    }
    glp_load_matrix(problem_.get(), static_cast<int>(rows.size()) - 1, rows.data(), columns.data(),
                    coefficients.data());
    glp_init_smcp(&simplex_);
    simplex_.msg_lev = GLP_MSG_OFF;
    glp_init_iocp(&integer_);
    integer_.msg_lev = GLP_MSG_OFF;
    // The relaxation is solved first (warm-started from the last basis), so the branch and
    // bound needs no presolve of its own.
    integer_.presolve = GLP_OFF;
    // A failure to decide is reported as a problem rather than hanging the tests.
    integer_.tm_lim = 60'000;
  }

  int column(std::size_t cell) const { return columnOf_[cell]; }

  /**
   * Optimises the cell's value; std::nullopt when unbounded; throws on a solver failure.
   * `witness` tells whether solutionValue() now holds a solution of the kind asked for (integral
   * for `integer`): a table consistent with everything released.
   */
  std::optional<double> optimise(int column, int direction, bool integer, bool& witness) {
    setObjective(column);
    glp_set_obj_dir(problem_.get(), direction);
    witness = false;
    const int status = solveRelaxation();
    if (status == GLP_UNBND) return std::nullopt;
    if (status != GLP_OPT) throw std::runtime_error("linear program status " + std::to_string(status));
    if (!integer || integral()) {
      witness = true;
      return glp_get_obj_val(problem_.get());
    }
    if (solveInteger() != GLP_OPT)
      throw std::runtime_error("integer program status " + std::to_string(glp_mip_status(problem_.get())));
    witness = true;
    return glp_mip_obj_val(problem_.get());
  }

  /**
   * Whether some solution (integral for `integer`) has the cell at exactly 0 (`atLeast` empty)
   * or at `atLeast` or more; if so, solutionValue() holds it until the next call. Cheaper than
   * optimising: any solution will do, so the branch and bound stops at the first.
   */
  bool reaches(int column, std::optional<double> atLeast, bool integer) {
    setObjective(0);
    if (atLeast) glp_set_col_bnds(problem_.get(), column, GLP_LO, *atLeast, 0.0);
    else glp_set_col_bnds(problem_.get(), column, GLP_FX, 0.0, 0.0);
    bool found = false;
    try {
      const int status = solveRelaxation();
      if (status == GLP_OPT) found = !integer || integral() || solveInteger() == GLP_FEAS;
      else if (status != GLP_NOFEAS) throw std::runtime_error("linear program status " + std::to_string(status));
    } catch (...) {
      glp_set_col_bnds(problem_.get(), column, GLP_LO, 0.0, 0.0);
      throw;
    }
    boundChanged_ = column;
    return found;
  }

  /** The value of a column in the last solution. */
  double solutionValue(int column) const {
    return fromIntegerProgram_ ? glp_mip_col_val(problem_.get(), column) : glp_get_col_prim(problem_.get(), column);
  }

private:
  void setObjective(int column) {
    // A bound left by reaches() is undone first: the solution it found has been read by now.
    if (boundChanged_ != 0) glp_set_col_bnds(problem_.get(), boundChanged_, GLP_LO, 0.0, 0.0);
    boundChanged_ = 0;
    if (objective_ == column) return;
    if (objective_ != 0) glp_set_obj_coef(problem_.get(), objective_, 0.0);
    if (column != 0) glp_set_obj_coef(problem_.get(), column, 1.0);
    objective_ = column;
  }

  /** The linear program from the last basis; its GLPK status. */
  int solveRelaxation() {
    fromIntegerProgram_ = false;
    int code = glp_simplex(problem_.get(), &simplex_);
    if (code != 0) {
      // A bad warm start: start again from the standard basis.
      glp_std_basis(problem_.get());
      code = glp_simplex(problem_.get(), &simplex_);
    }
    if (code != 0) throw std::runtime_error("glp_simplex failed with code " + std::to_string(code));
    return glp_get_status(problem_.get());
  }

  /**
   * Branch and bound from the relaxation just solved: GLP_OPT, GLP_FEAS (a solution, not proven
   * best: enough for reaches()) or GLP_NOFEAS. Throws when it gives up.
   */
  int solveInteger() {
    glp_iocp parameters = integer_;
    if (objective_ == 0) {
      // Any solution answers reaches(): go deep, and let the feasibility pump look, to find one
      // soon rather than proving a best one.
      parameters.bt_tech = GLP_BT_DFS;
      parameters.fp_heur = GLP_ON;
    }
    const int code = glp_intopt(problem_.get(), &parameters);
    const int status = glp_mip_status(problem_.get());
    const bool anySolution = status == GLP_OPT || status == GLP_FEAS;
    fromIntegerProgram_ = anySolution;
    if (objective_ == 0 && anySolution) return GLP_FEAS;
    if (code == GLP_ETMLIM)
      throw std::runtime_error("the branch and bound gave up after " + std::to_string(integer_.tm_lim / 1000) + " s");
    if (code != 0) throw std::runtime_error("glp_intopt failed with code " + std::to_string(code));
    return status;
  }

  /** Whether the relaxation's optimum is integral, and so the integer optimum too. */
  bool integral() const {
    for (int column = 1; column <= glp_get_num_cols(problem_.get()); ++column) {
      const double value = glp_get_col_prim(problem_.get(), column);
      if (std::abs(value - std::round(value)) > 1e-9) return false;
    }
    return true;
  }

  std::unique_ptr<glp_prob, ProblemDeleter> problem_;
  std::vector<int>& columnOf_; // cell offset -> GLPK column, for this component's cells
  glp_smcp simplex_{};
  glp_iocp integer_{};
  int objective_ = 0;     // the column optimised, 0 for none
  int boundChanged_ = 0;  // the column reaches() bounded, 0 for none
  bool fromIntegerProgram_ = false;
};

/** What the consistent tables found so far show about one protected cell. */
struct Reach {
  bool zero = false;      ///< One has the cell at 0.
  double highest = 0;     ///< The greatest value the cell has in one.
  bool unbounded = false; ///< The cell can grow without limit.
};

/**
 * Consistent tables found without a solver; they settle most protected cells' ranges. Pick, for
 * a hidden cell p, a partner coordinate b_d != p_d in every dimension. If all 2^D corners of
 * that box are hidden, adding t to some corners and -t to the others keeps every equation:
 * across dimension d the sign flips when p_d and b_d are both categories (their sum is fixed)
 * and not when one is the total (it moves with its part). With t = -v(p), p falls to 0, which
 * needs every other "+" corner to hold at least v(p); with t > 0 it rises by as much as the
 * least "-" corner holds, or without limit if there is none. A margin spread over several parts
 * falls to 0 when the boxes of all its parts, with a common partner, move at once. Every move is
 * checked against the table (hidden cells only, nothing negative, every equation balanced)
 * before it is believed, so a slip here cannot pass a table.
 */
class MoveSearch {
public:
  MoveSearch(const Shape& shape, const CountTable& table, const std::vector<bool>& hidden)
      : shape_(shape), table_(table), hidden_(hidden), partners_(shape.dimensions()), choice_(shape.dimensions()) {}

  /**
   * Improves `reach` for a hidden cell; stops once it reaches 0 and, when `target` is given, a
   * value of at least *target (or no limit), or when its budget of boxes is spent.
   */
  void search(std::size_t cell, Reach& reach, std::optional<double> target, std::vector<std::string>& problems) {
    const auto settled = [&] { return reach.zero && (!target || reach.unbounded || reach.highest >= *target); };
    if (settled()) return;
    collectParts(cell);
    if (parts_.size() > 1 && !reach.zero) searchPartsFalling(cell, reach, problems);
    if (!settled()) searchBoxes(cell, reach, target, settled, problems);
  }

private:
  static constexpr std::size_t kMaxBoxes = std::size_t{1} << 14;
  static constexpr std::size_t kMaxPartCorners = std::size_t{1} << 20;

  using Changes = std::vector<std::pair<std::size_t, std::int64_t>>; // (cell, change)

  /** The nonzero category cells the cell sums: itself for a category cell. */
  void collectParts(std::size_t cell) {
    parts_.clear();
    std::vector<std::size_t> totals;
    std::size_t first = cell;
    for (std::size_t d = 0; d < shape_.dimensions(); ++d) {
      if (shape_.coordinate(cell, d) != shape_.size(d)) continue;
      totals.push_back(d);
      first -= shape_.size(d) * shape_.stride(d);
    }
    std::vector<std::size_t> counter(totals.size(), 0);
    while (true) {
      std::size_t part = first;
      for (std::size_t i = 0; i < totals.size(); ++i) part += counter[i] * shape_.stride(totals[i]);
      if (table_.atOffset(part) > 0) parts_.push_back(part);
      std::size_t i = 0;
      for (; i < totals.size(); ++i) {
        if (++counter[i] < shape_.size(totals[i])) break;
        counter[i] = 0;
      }
      if (i == totals.size()) return;
    }
  }

  /**
   * Per dimension in `use`, the partners whose one-dimension corner is hidden, largest corner
   * first (large corners are the ones that let p move far). False if some dimension has none.
   */
  bool collectPartners(std::size_t cell, const std::vector<bool>& use) {
    for (std::size_t d = 0; d < shape_.dimensions(); ++d) {
      partners_[d].clear();
      choice_[d] = 0;
      if (!use[d]) continue;
      const std::size_t own = shape_.coordinate(cell, d);
      const std::size_t lineStart = cell - own * shape_.stride(d);
      for (std::size_t b = 0; b <= shape_.size(d); ++b) {
        if (b != own && hidden_[lineStart + b * shape_.stride(d)]) partners_[d].push_back(b);
      }
      if (partners_[d].empty()) return false;
      std::sort(partners_[d].begin(), partners_[d].end(), [&](std::size_t a, std::size_t b) {
        return table_.atOffset(lineStart + a * shape_.stride(d)) > table_.atOffset(lineStart + b * shape_.stride(d));
      });
    }
    return true;
  }

  /** The next combination of partners over the dimensions in use; false after the last. */
  bool nextPartners() {
    for (std::size_t d = 0; d < shape_.dimensions(); ++d) {
      if (partners_[d].empty()) continue;
      if (++choice_[d] < partners_[d].size()) return true;
      choice_[d] = 0;
    }
    return false;
  }

  std::size_t partner(std::size_t d) const { return partners_[d][choice_[d]]; }

  /** The corner of `origin`'s box taking the partner on the dimensions in `mask`, and its sign. */
  std::pair<std::size_t, bool> corner(std::size_t origin, std::size_t mask) const {
    std::size_t offset = origin;
    bool plus = true;
    for (std::size_t d = 0; d < shape_.dimensions(); ++d) {
      if (!((mask >> d) & 1u)) continue;
      const std::size_t own = shape_.coordinate(origin, d);
      offset = offset - own * shape_.stride(d) + partner(d) * shape_.stride(d);
      if (own < shape_.size(d) && partner(d) < shape_.size(d)) plus = !plus;
    }
    return {offset, plus};
  }

  void searchBoxes(std::size_t cell, Reach& reach, std::optional<double> target, const auto& settled,
                   std::vector<std::string>& problems) {
    const std::size_t corners = std::size_t{1} << shape_.dimensions();
    if (!collectPartners(cell, std::vector<bool>(shape_.dimensions(), true))) return;
    const std::int64_t value = table_.atOffset(cell);
    for (std::size_t tried = 0; tried < kMaxBoxes; ++tried) {
      bool allHidden = true, fallsToZero = true;
      std::optional<std::int64_t> leastMinus;
      for (std::size_t mask = 1; mask < corners && allHidden; ++mask) {
        const auto [offset, plus] = corner(cell, mask);
        allHidden = hidden_[offset];
        const std::int64_t cornerValue = table_.atOffset(offset);
        if (plus) fallsToZero = fallsToZero && cornerValue >= value;
        else leastMinus = std::min(leastMinus.value_or(cornerValue), cornerValue);
      }
      if (allHidden) {
        if (fallsToZero && !reach.zero) reach.zero = believe(boxMove(cell, -value), cell, -value, problems);
        if (!reach.unbounded && !leastMinus) reach.unbounded = believe(boxMove(cell, 1), cell, 1, problems, true);
        // A rise counts only once it reaches the target: below it, the solver has to decide.
        const bool risesToTarget = leastMinus && target && static_cast<double>(value + *leastMinus) >= *target;
        if (!reach.unbounded && risesToTarget && reach.highest < *target &&
            believe(boxMove(cell, *leastMinus), cell, *leastMinus, problems))
          reach.highest = static_cast<double>(value + *leastMinus);
        if (settled()) return;
      }
      if (!nextPartners()) return;
    }
  }

  /** Every part's box, with the total on p's total dimensions and a common partner on the others, falling at once. */
  void searchPartsFalling(std::size_t cell, Reach& reach, std::vector<std::string>& problems) {
    std::vector<bool> use(shape_.dimensions());
    for (std::size_t d = 0; d < shape_.dimensions(); ++d) use[d] = shape_.coordinate(cell, d) != shape_.size(d);
    if (!collectPartners(cell, use)) return;
    const std::size_t corners = std::size_t{1} << shape_.dimensions();
    for (std::size_t work = 0; work < kMaxPartCorners; work += parts_.size() * corners) {
      // On p's total dimensions the partner of each part is the total; the corner helper
      // takes p's partners, so total dimensions are set here by hand.
      Changes changes;
      for (std::size_t part : parts_) {
        const std::int64_t value = table_.atOffset(part);
        for (std::size_t mask = 0; mask < corners; ++mask) {
          std::size_t offset = part;
          bool plus = true;
          for (std::size_t d = 0; d < shape_.dimensions(); ++d) {
            if (!((mask >> d) & 1u)) continue;
            const std::size_t own = shape_.coordinate(part, d);
            const std::size_t other = use[d] ? partner(d) : shape_.size(d);
            offset = offset - own * shape_.stride(d) + other * shape_.stride(d);
            if (other < shape_.size(d)) plus = !plus;
          }
          changes.emplace_back(offset, plus ? -value : value);
        }
      }
      if (believe(std::move(changes), cell, -table_.atOffset(cell), problems)) {
        reach.zero = true;
        return;
      }
      if (!nextPartners()) return;
    }
  }

  /** The changes of moving the current box around `cell` by t (+t on "+" corners). */
  Changes boxMove(std::size_t cell, std::int64_t t) const {
    Changes changes;
    for (std::size_t mask = 0; mask < (std::size_t{1} << shape_.dimensions()); ++mask) {
      const auto [offset, plus] = corner(cell, mask);
      changes.emplace_back(offset, plus ? t : -t);
    }
    return changes;
  }

  /**
   * Whether the table with these changes is still consistent with everything released, and
   * changes `cell` by `change`: only hidden cells change, none goes negative, every equation
   * still balances; for a `ray`, nothing falls, so the move can be repeated without end. A move
   * that misses `cell` or breaks an equation is an auditor bug, and reported as one.
   */
  bool believe(Changes changes, std::size_t cell, std::int64_t change, std::vector<std::string>& problems,
               bool ray = false) const {
    std::sort(changes.begin(), changes.end());
    Changes merged;
    for (const auto& [offset, delta] : changes) {
      if (!merged.empty() && merged.back().first == offset) merged.back().second += delta;
      else merged.emplace_back(offset, delta);
    }
    // ((d, line start), change), summed per line after sorting.
    std::vector<std::pair<std::pair<std::size_t, std::size_t>, std::int64_t>> lines;
    std::int64_t cellChange = 0;
    for (const auto& [offset, delta] : merged) {
      if (delta == 0) continue;
      if (!hidden_[offset] || table_.atOffset(offset) + delta < 0 || (ray && delta < 0)) return false;
      if (offset == cell) cellChange = delta;
      for (std::size_t d = 0; d < shape_.dimensions(); ++d) {
        const std::size_t coordinate = shape_.coordinate(offset, d);
        const std::size_t lineStart = offset - coordinate * shape_.stride(d);
        lines.push_back({{d, lineStart}, coordinate == shape_.size(d) ? -delta : delta}); // the total enters with -1
      }
    }
    std::sort(lines.begin(), lines.end());
    bool balanced = true;
    for (std::size_t i = 0; i < lines.size() && balanced;) {
      std::int64_t sum = 0;
      std::size_t j = i;
      for (; j < lines.size() && lines[j].first == lines[i].first; ++j) sum += lines[j].second;
      balanced = sum == 0;
      i = j;
    }
    if (balanced && cellChange == change) return true;
    problems.push_back("auditor: a box move around " + formatIndex(table_, shape_.index(cell)) +
                       (balanced ? " misses the cell" : " breaks an equation") + " (an auditor bug)");
    return false;
  }

  const Shape& shape_;
  const CountTable& table_;
  const std::vector<bool>& hidden_;
  std::vector<std::size_t> parts_;
  std::vector<std::vector<std::size_t>> partners_;
  std::vector<std::size_t> choice_;
};

struct QuietGlpk {
  QuietGlpk() { glp_term_out(GLP_OFF); }
};

/** Steps a row-major index over the extended shape (size + 1 per dimension). */
void advance(std::vector<std::size_t>& index, const std::vector<std::size_t>& sizes) {
  for (std::size_t d = index.size(); d-- > 0;) {
    if (++index[d] <= sizes[d]) return;
    index[d] = 0;
  }
}

/** The nearest multiple of `base`, halves up (counts are never negative). */
std::int64_t roundToMultiple(std::int64_t count, std::int64_t base) { return (count + base / 2) / base * base; }

} // namespace

std::string formatIndex(const CountTable& table, const std::vector<std::size_t>& index) {
  std::string text = "(";
  for (std::size_t d = 0; d < index.size(); ++d) {
    if (d > 0) text += ',';
    text += index[d] == table.total(d) ? std::string("T") : std::to_string(index[d]);
  }
  return text + ")";
}

std::string formatTable(const SuppressedTable& released) {
  const CountTable& table = released.shape();
  const auto& sizes = table.sizes();
  const std::size_t dimensions = sizes.size();
  std::ostringstream out;
  auto cell = [&](const std::vector<std::size_t>& index) {
    const std::size_t offset = table.offset(index);
    const CellStatus status = released.statusAt(offset);
    std::ostringstream text;
    text.width(6);
    text << table.at(index);
    const bool structural = table.isStructuralZero(offset) && status == CellStatus::Released;
    out << text.str() << (structural ? 'z' : statusMark(status));
  };
  auto label = [&](std::size_t d, std::size_t i) { return i == sizes[d] ? std::string("T") : std::to_string(i); };
  if (dimensions == 1) {
    for (std::size_t i = 0; i <= sizes[0]; ++i) cell({i});
    out << "   (last is the total)\n";
  } else {
    // Rows and columns are the last two dimensions; one block per combination of the others.
    std::vector<std::size_t> index(dimensions, 0);
    const std::size_t rowDimension = dimensions - 2, columnDimension = dimensions - 1;
    while (true) {
      if (dimensions > 2) {
        out << "slice (";
        for (std::size_t d = 0; d < rowDimension; ++d) out << (d > 0 ? "," : "") << label(d, index[d]);
        out << ",.,.):\n";
      }
      for (index[rowDimension] = 0; index[rowDimension] <= sizes[rowDimension]; ++index[rowDimension]) {
        std::ostringstream head;
        head.width(3);
        head << label(rowDimension, index[rowDimension]);
        out << head.str() << " |";
        for (index[columnDimension] = 0; index[columnDimension] <= sizes[columnDimension]; ++index[columnDimension])
          cell(index);
        out << '\n';
      }
      bool advanced = false;
      for (std::size_t d = rowDimension; d-- > 0 && !advanced;) {
        advanced = ++index[d] <= sizes[d];
        if (!advanced) index[d] = 0;
      }
      if (!advanced) break;
    }
  }
  out << "(p primary, s secondary, d differencing, w withheld, r rounded, z structural zero, ! rate-suppressed;"
         " true counts shown; T is a total)\n";
  return out.str();
}

std::string TableAudit::describe() const {
  std::ostringstream out;
  for (const auto& problem : problems) out << "PROBLEM: " << problem << '\n';
  for (const auto& range : ranges) {
    out << (range.status == CellStatus::Differencing ? "differencing " : "primary ") << range.cell
        << ": consistent values [" << range.min << ", ";
    if (range.unbounded) out << "inf";
    else out << range.max;
    out << "]" << (range.maxExact || range.unbounded ? "" : " (or more)") << (range.safe ? "" : "  <-- UNSAFE") << '\n';
  }
  return out.str();
}

namespace {

/**
 * auditTable's work. With `published` (a linked set's joint table), the cells no view shows are
 * unknowns like any hidden cell, and the per-cell status rules are left to each view's own audit
 * (a joint margin can be a view's category); the ranges then use everything any view released.
 */
TableAudit auditCells(const SuppressedTable& released, const DisclosurePolicy& policy, AuditExactness exactness,
                      AuditRanges ranges, const std::vector<bool>* published, bool inLinkedSet) {
  static const QuietGlpk quiet;
  TableAudit audit;
  auto& problems = audit.problems;
  const CountTable& table = released.shape();
  const auto& sizes = table.sizes();
  const std::int64_t k = policy.threshold;

  if (policy.threshold < 5) problems.push_back("policy: threshold " + std::to_string(policy.threshold) + " is below 5");
  if (policy.roundTo != 0 && policy.roundTo != 5 && policy.roundTo != 10)
    problems.push_back("policy: roundTo " + std::to_string(policy.roundTo) + " is not 0, 5 or 10");
  if (sizes.empty() || table.dimensions() != sizes.size()) {
    problems.push_back("table has " + std::to_string(sizes.size()) + " dimensions");
    return audit;
  }
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 0) problems.push_back("dimension " + std::to_string(d) + " has no categories");
    if (table.total(d) != sizes[d]) problems.push_back("total(" + std::to_string(d) + ") is not size");
  }
  const Shape shape(sizes);
  if (!problems.empty()) return audit;
  const std::size_t cellCount = shape.cellCount();
  if (table.cellCount() != cellCount) {
    problems.push_back("cellCount() is " + std::to_string(table.cellCount()) + ", expected " + std::to_string(cellCount));
    return audit;
  }

  // The table itself: row-major offsets, margin flags, and margins that are the sums of the
  // categories (computed here from the category cells alone).
  // A margin is a structural zero when every category cell under it is one.
  std::vector<std::int64_t> sums(cellCount, 0);
  std::vector<std::size_t> freeParts(cellCount, 0);
  std::vector<bool> margin(cellCount);
  for (std::size_t offset = 0; offset < cellCount; ++offset) {
    margin[offset] = shape.isMargin(offset);
    if (margin[offset]) continue;
    const std::int64_t value = table.atOffset(offset);
    const bool free = !table.isStructuralZero(offset);
    for (std::size_t mask = 0; mask < (std::size_t{1} << shape.dimensions()); ++mask) {
      std::size_t target = offset;
      for (std::size_t d = 0; d < shape.dimensions(); ++d)
        if ((mask >> d) & 1u) target += (shape.size(d) - shape.coordinate(offset, d)) * shape.stride(d);
      sums[target] += value;
      if (free) ++freeParts[target];
    }
  }

  // A release the ledger holds back whole: every cell Differencing but the structural zeros, so
  // that the statuses do not point at what changed. Then no other status is owed anywhere.
  bool heldBack = false;
  for (std::size_t offset = 0; offset < cellCount; ++offset) {
    if (freeParts[offset] == 0) continue;
    heldBack = released.statusAt(offset) == CellStatus::Differencing;
    if (!heldBack) break;
  }

  std::size_t counted[kStatusCount] = {};
  std::int64_t hiddenPeople = 0;
  std::vector<bool> hidden(cellCount, false);
  std::vector<std::size_t> protectedCells;
  std::vector<std::size_t> index(shape.dimensions(), 0); // of offset, advanced at the loop's end
  for (std::size_t offset = 0; offset < cellCount; advance(index, sizes), ++offset) {
    const auto where = [&] { return formatIndex(table, index); };
    if (table.offset(index) != offset) {
      problems.push_back("offset" + where() + " is " + std::to_string(table.offset(index)) + ", not row-major " +
                         std::to_string(offset));
      return audit;
    }
    if (table.index(offset) != index) problems.push_back("index(offset" + where() + ") does not round-trip");
    const bool isMargin = margin[offset];
    if (table.isMargin(offset) != isMargin) problems.push_back("isMargin wrong at " + where());
    const std::int64_t value = table.atOffset(offset);
    if (table.at(index) != value) problems.push_back("atOffset differs from at at " + where());
    if (value < 0) problems.push_back("negative count at " + where());
    if (value != sums[offset])
      problems.push_back("margin " + where() + " is " + std::to_string(value) + " but its categories sum to " +
                         std::to_string(sums[offset]));

    const CellStatus status = released.statusAt(offset);
    if (released.status(index) != status) problems.push_back("status differs from statusAt at " + where());
    if (published && !(*published)[offset]) {
      // Shown by no view: an unknown, whatever it holds (structural zeros are known anyway).
      ++counted[static_cast<std::size_t>(CellStatus::Withheld)];
      if (!isMargin) hiddenPeople += value;
      hidden[offset] = freeParts[offset] != 0;
      continue;
    }
    const auto statusNumber = static_cast<std::size_t>(status);
    if (statusNumber >= kStatusCount) {
      problems.push_back("invalid status at " + where());
      hidden[offset] = true;
      continue;
    }
    ++counted[statusNumber];
    const bool shownStatus = isReleased(status);
    if (!shownStatus && !isMargin) hiddenPeople += value;
    const auto described = [&] { return where() + " = " + std::to_string(value) + " is " + statusLabel(status); };
    // The rule is a literal, so that checking costs nothing when it holds; k and roundTo are
    // spelled out in the message.
    const auto expect = [&](bool holds, const char* rule) {
      if (!holds)
        problems.push_back(described() + ": " + rule + " (k = " + std::to_string(k) + ", roundTo = " +
                           std::to_string(policy.roundTo) + ")");
    };

    // Structural zeros are public knowledge: an attacker knows them whatever their status, so
    // they are constants below even if (wrongly) hidden.
    const bool structural = freeParts[offset] == 0;
    if (table.isStructuralZero(offset) != structural)
      problems.push_back("isStructuralZero wrong at " + where() + (isMargin ? " (a margin over structural zeros only is one)" : ""));
    hidden[offset] = !shownStatus && !structural;
    if (isProtected(status)) protectedCells.push_back(offset);

    // What the status must be, in the engine's order of precedence.
    const bool small = value >= 1 && value < k;
    if (published) {
      // The views' own audits hold each cell to the rules.
    } else if (structural) {
      expect(value == 0, "a structural zero holds no people");
      // Shown, whether as Released or (when the policy rounds) Rounded: both say 0.
      expect(isReleased(status), "structural zeros are always released");
      expect(status != CellStatus::Rounded || policy.roundTo != 0, "nothing is Rounded when roundTo is 0");
    } else if (heldBack) {
      // Every status here is Differencing (the loop above made sure).
    } else if (isMargin && !policy.releaseTotals) {
      expect(status == CellStatus::Withheld, "margins are Withheld when totals are not released");
    } else if (small) {
      expect(status == CellStatus::Primary, "counts 1..k-1 are Primary");
    } else if (value == 0 && !policy.showZeros) {
      expect(status == CellStatus::Withheld, "zeros are Withheld when showZeros is false");
    } else {
      switch (status) {
      case CellStatus::Released:
        expect(policy.roundTo == 0, "released counts are Rounded when roundTo is set");
        break;
      case CellStatus::Rounded:
        expect(policy.roundTo != 0, "nothing is Rounded when roundTo is 0");
        break;
      case CellStatus::Primary:
        expect(false, "primary cells are exactly the counts 1..k-1 that would be shown");
        break;
      case CellStatus::Secondary:
        // In a linked set a view's categories are sums of the joint table, so there is
        // something to subtract from even when no view shows its totals.
        expect(policy.releaseTotals || inLinkedSet, "no secondary suppression when totals are not released");
        break;
      case CellStatus::Differencing:
        expect(value >= k, "a Differencing cell counts at least k");
        break;
      case CellStatus::RateSuppressed:
        expect(false, "RateSuppressed is for rates, never for a count");
        break;
      case CellStatus::Withheld:
        expect(false, "only margins (without released totals) and zeros (without showZeros) are Withheld");
        break;
      }
    }

    // The released value: the count itself, or rounded (halves up); nothing when hidden.
    const auto shown = released.value(index);
    if (shownStatus) {
      std::int64_t expected = value;
      if (status == CellStatus::Rounded && policy.roundTo > 0) expected = roundToMultiple(value, policy.roundTo);
      if (!shown) problems.push_back(described() + " but value() is empty");
      else if (*shown != expected)
        problems.push_back(described() + " but value() says " + std::to_string(*shown) + ", expected " +
                           std::to_string(expected));
    } else if (shown) {
      problems.push_back(described() + " but value() shows " + std::to_string(*shown));
    }
  }
  for (CellStatus status : kAllStatuses) {
    if (isReleased(status)) continue;
    const std::size_t reported = released.hiddenCells(status);
    const std::size_t expected = counted[static_cast<std::size_t>(status)];
    if (reported != expected)
      problems.push_back(std::string("hiddenCells(") + statusLabel(status) + ") is " + std::to_string(reported) +
                         ", expected " + std::to_string(expected));
  }
  if (released.hiddenPeople() != hiddenPeople)
    problems.push_back("hiddenPeople() is " + std::to_string(released.hiddenPeople()) + ", expected " +
                       std::to_string(hiddenPeople));
  if (protectedCells.empty()) return audit;

  // The equations that hold a hidden cell, and the components of hidden cells they link.
  // An equation with none is the table's own additivity, checked above through the margins.
  std::vector<Equation> equations;
  Components components(cellCount);
  for (std::size_t d = 0; d < shape.dimensions(); ++d) {
    for (std::size_t first = 0; first < cellCount; ++first) {
      if (shape.coordinate(first, d) != 0) continue;
      std::optional<std::size_t> linked;
      for (std::size_t c = 0; c <= shape.size(d); ++c) {
        const std::size_t cell = first + c * shape.stride(d);
        if (!hidden[cell]) continue;
        if (linked) components.merge(*linked, cell);
        else linked = cell;
      }
      if (linked) equations.push_back({d, first});
    }
  }

  // Only components holding a protected cell need a program.
  std::vector<std::size_t> componentOf(cellCount, 0); // cell -> 1 + component number, 0 if none
  std::vector<std::vector<std::size_t>> componentCells;
  for (std::size_t cell : protectedCells) {
    if (!hidden[cell]) continue; // a structural zero wrongly hidden: reported above
    const std::size_t root = components.find(cell);
    if (componentOf[root] == 0) {
      componentCells.emplace_back();
      componentOf[root] = componentCells.size();
    }
  }
  for (std::size_t cell = 0; cell < cellCount; ++cell) {
    if (!hidden[cell]) continue;
    const std::size_t number = componentOf[components.find(cell)];
    if (number != 0) componentCells[number - 1].push_back(cell);
  }
  std::vector<std::vector<Equation>> componentEquations(componentCells.size());
  for (const Equation& equation : equations) {
    for (std::size_t c = 0; c <= shape.size(equation.dimension); ++c) {
      const std::size_t cell = equation.first + c * shape.stride(equation.dimension);
      if (!hidden[cell]) continue;
      const std::size_t number = componentOf[components.find(cell)];
      if (number != 0) componentEquations[number - 1].push_back(equation);
      break;
    }
  }

  // The ranges. For a verdict, first the moves found without a solver; then, component by
  // component, a program for what is left open. (Full ranges need a program per cell anyway,
  // and on small tables a solve costs less than the search.) Every solution found along the way
  // is a consistent table too, and may settle other cells.
  const bool integer = exactness == AuditExactness::Integer;
  const bool full = ranges == AuditRanges::Full;
  const std::optional<double> target = full ? std::nullopt : std::optional<double>(static_cast<double>(k));
  audit.ranges.resize(protectedCells.size());
  std::vector<Reach> reaches(protectedCells.size());
  std::vector<std::size_t> rangeOf(cellCount, 0);
  MoveSearch moves(shape, table, hidden);
  for (std::size_t i = 0; i < protectedCells.size(); ++i) {
    const std::size_t cell = protectedCells[i];
    rangeOf[cell] = i;
    ProtectedRange& range = audit.ranges[i];
    range.index = shape.index(cell);
    range.status = released.statusAt(cell);
    range.value = table.atOffset(cell);
    range.cell = formatIndex(table, range.index) + " = " + std::to_string(range.value);
    range.solved = true;
    reaches[i].highest = static_cast<double>(range.value); // the true table is consistent
    reaches[i].zero = range.value == 0;
    if (hidden[cell]) {
      if (!full) moves.search(cell, reaches[i], target, problems);
    } else {
      // A structural zero wrongly marked Primary (reported above): public, so pinned.
      range.maxExact = true;
      range.max = static_cast<double>(range.value);
    }
  }
  // Open: the least value, unless some table has the cell at 0; the greatest, unless it is
  // unbounded or (for a verdict) some table has it at k or more.
  const auto minimumOpen = [&](std::size_t i) { return !reaches[i].zero; };
  const auto maximumOpen = [&](std::size_t i) {
    return !reaches[i].unbounded && (full || reaches[i].highest < static_cast<double>(k) - kTolerance);
  };
  std::vector<int> columnOf(cellCount, 0);
  for (std::size_t number = 0; number < componentCells.size(); ++number) {
    const auto& cells = componentCells[number];
    std::vector<std::size_t> open; // range numbers
    for (std::size_t cell : cells)
      if (isProtected(released.statusAt(cell)) && (minimumOpen(rangeOf[cell]) || maximumOpen(rangeOf[cell])))
        open.push_back(rangeOf[cell]);
    if (open.empty()) continue;
    ComponentModel model(shape, table, hidden, cells, componentEquations[number], columnOf, problems);
    const auto harvest = [&] {
      for (std::size_t i : open) {
        if (!minimumOpen(i) && !maximumOpen(i)) continue;
        const double value = model.solutionValue(model.column(protectedCells[i]));
        if (value <= kTolerance) reaches[i].zero = true;
        reaches[i].highest = std::max(reaches[i].highest, value);
      }
    };
    for (std::size_t position = 0; position < open.size(); ++position) {
      const std::size_t i = open[position];
      ProtectedRange& range = audit.ranges[i];
      const int column = model.column(protectedCells[i]);
      try {
        bool witness = false;
        if (minimumOpen(i) && !full && (++audit.programs, model.reaches(column, std::nullopt, integer))) harvest();
        if (minimumOpen(i)) {
          ++audit.programs;
          range.min = model.optimise(column, GLP_MIN, integer, witness).value_or(-1.0);
          if (witness) harvest();
        }
        if (maximumOpen(i) && !full && (++audit.programs, model.reaches(column, static_cast<double>(k), integer)))
          harvest();
        if (maximumOpen(i)) {
          ++audit.programs;
          const auto max = model.optimise(column, GLP_MAX, integer, witness);
          if (witness) harvest();
          if (max) range.max = *max;
          else reaches[i].unbounded = true;
          range.maxExact = true;
        }
      } catch (const std::exception& error) {
        problems.push_back("auditor: solver failed for " + range.cell + ": " + error.what());
        range.solved = false;
        continue;
      }
    }
  }
  for (std::size_t i = 0; i < protectedCells.size(); ++i) {
    ProtectedRange& range = audit.ranges[i];
    const Reach& reach = reaches[i];
    if (reach.zero) range.min = 0;
    range.unbounded = reach.unbounded;
    if (!range.maxExact && !reach.unbounded) range.max = reach.highest;
    range.maxExact = range.maxExact || reach.unbounded;
  }

  for (ProtectedRange& range : audit.ranges) {
    if (!range.solved) continue;
    const auto value = static_cast<double>(range.value);
    if (range.min > value + kTolerance || (!range.unbounded && range.max < value - kTolerance))
      problems.push_back("auditor model: the true count of " + range.cell + " lies outside its range");
    range.safe = range.min <= kTolerance && (range.unbounded || range.max >= static_cast<double>(k) - kTolerance);
    if (!range.safe) {
      std::ostringstream text;
      text << statusLabel(range.status) << " " << range.cell << " can be narrowed to [" << range.min << ", ";
      if (range.unbounded) text << "inf";
      else text << range.max;
      text << "]: needs 0 and >= " << k;
      problems.push_back(text.str());
    }
  }
  return audit;
}

} // namespace

TableAudit auditTable(const SuppressedTable& released, const DisclosurePolicy& policy, AuditExactness exactness,
                      AuditRanges ranges) {
  return auditCells(released, policy, exactness, ranges, nullptr, false);
}

TableAudit auditLinked(const CountTable& joint, const std::vector<std::vector<std::size_t>>& views,
                       const std::vector<SuppressedTable>& released, const DisclosurePolicy& policy,
                       AuditExactness exactness, AuditRanges ranges) {
  TableAudit audit;
  if (views.size() != released.size()) {
    audit.problems.push_back(std::to_string(views.size()) + " views but " + std::to_string(released.size()) +
                             " released tables");
    return audit;
  }
  // What is shown of each joint cell, gathered from every view that shows it.
  std::vector<std::optional<CellStatus>> shown(joint.cellCount());
  std::vector<std::size_t> shownBy(joint.cellCount(), 0);
  for (std::size_t v = 0; v < views.size(); ++v) {
    const std::string name = "view " + std::to_string(v + 1);
    const SuppressedTable& table = released[v];
    const CountTable& shape = table.shape();
    if (shape.dimensions() != views[v].size()) {
      audit.problems.push_back(name + " has " + std::to_string(shape.dimensions()) + " dimensions, expected " +
                               std::to_string(views[v].size()));
      continue;
    }
    // Each view on its own: the status rules, and its cells' ranges from what it shows alone.
    for (const auto& problem : auditCells(table, policy, exactness, AuditRanges::Verdict, nullptr, true).problems)
      audit.problems.push_back(name + ": " + problem);
    for (std::size_t cell = 0; cell < shape.cellCount(); ++cell) {
      const auto index = shape.index(cell);
      std::vector<std::size_t> jointIndex(joint.dimensions());
      for (std::size_t d = 0; d < joint.dimensions(); ++d) jointIndex[d] = joint.total(d);
      for (std::size_t i = 0; i < views[v].size(); ++i) jointIndex[views[v][i]] = index[i];
      const std::size_t target = joint.offset(jointIndex);
      const std::string where = name + " " + formatIndex(shape, index);
      if (shape.atOffset(cell) != joint.atOffset(target)) {
        audit.problems.push_back(where + " counts " + std::to_string(shape.atOffset(cell)) + " but the records give " +
                                 std::to_string(joint.atOffset(target)));
      }
      const CellStatus status = table.statusAt(cell);
      // A view's margin Withheld because totals are not released says nothing of the cell.
      if (status == CellStatus::Withheld && shape.isMargin(cell) && !policy.releaseTotals) continue;
      if (shown[target] && *shown[target] != status) {
        audit.problems.push_back(where + " is " + statusLabel(status) + " but view " + std::to_string(shownBy[target]) +
                                 " shows the same cell as " + statusLabel(*shown[target]));
        // The attacker reads whichever view shows it: the ranges below use the shown value.
        if (!isReleased(status)) continue;
      }
      shown[target] = status;
      shownBy[target] = v + 1;
    }
  }
  std::vector<bool> published(joint.cellCount());
  std::vector<CellStatus> status(joint.cellCount(), CellStatus::Withheld);
  for (std::size_t cell = 0; cell < joint.cellCount(); ++cell) {
    published[cell] = shown[cell].has_value();
    if (shown[cell]) status[cell] = *shown[cell];
  }
  const SuppressedTable together(joint, std::move(status), policy.roundTo);
  TableAudit linked = auditCells(together, policy, exactness, ranges, &published, true);
  audit.problems.insert(audit.problems.end(), linked.problems.begin(), linked.problems.end());
  audit.ranges = std::move(linked.ranges);
  audit.programs = linked.programs;
  return audit;
}

} // namespace belonging::testing
