#include "TableAuditor.hpp"

#include <glpk.h>

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

namespace belonging::testing {

namespace {

constexpr double tolerance = 1e-6;

const char* statusName(CellStatus status) {
  switch (status) {
  case CellStatus::Released: return "Released";
  case CellStatus::Primary: return "Primary";
  case CellStatus::Secondary: return "Secondary";
  case CellStatus::Withheld: return "Withheld";
  }
  return "invalid status";
}

char statusMark(CellStatus status) {
  switch (status) {
  case CellStatus::Released: return ' ';
  case CellStatus::Primary: return 'p';
  case CellStatus::Secondary: return 's';
  case CellStatus::Withheld: return 'w';
  }
  return '?';
}

/** Every index of the extended shape (size + 1 per dimension), in row-major order. */
std::vector<std::vector<std::size_t>> allIndices(const std::vector<std::size_t>& sizes) {
  std::vector<std::vector<std::size_t>> result;
  std::vector<std::size_t> index(sizes.size(), 0);
  while (true) {
    result.push_back(index);
    std::size_t d = sizes.size();
    while (d > 0) {
      --d;
      if (++index[d] <= sizes[d]) break;
      index[d] = 0;
      if (d == 0) return result;
    }
  }
}

std::size_t rowMajorOffset(const std::vector<std::size_t>& sizes, const std::vector<std::size_t>& index) {
  std::size_t offset = 0;
  for (std::size_t d = 0; d < sizes.size(); ++d) offset = offset * (sizes[d] + 1) + index[d];
  return offset;
}

bool hasTotal(const std::vector<std::size_t>& sizes, const std::vector<std::size_t>& index) {
  for (std::size_t d = 0; d < sizes.size(); ++d)
    if (index[d] == sizes[d]) return true;
  return false;
}

struct ProblemDeleter {
  void operator()(glp_prob* problem) const { glp_delete_prob(problem); }
};

/** The additivity equations over the hidden cells, as a GLPK problem. */
class RangeModel {
public:
  RangeModel(const SuppressedTable& released, const std::vector<std::vector<std::size_t>>& indices,
             std::vector<std::string>& problems)
      : problem_(glp_create_prob()) {
    const CountTable& table = released.shape();
    const auto& sizes = table.sizes();
    // One column per hidden cell, integer, bounded below by 0.
    for (const auto& index : indices) {
      if (released.status(index) == CellStatus::Released) continue;
      column_[rowMajorOffset(sizes, index)] = static_cast<int>(column_.size()) + 1;
    }
    glp_add_cols(problem_.get(), static_cast<int>(column_.size()));
    for (const auto& [offset, column] : column_) {
      glp_set_col_bnds(problem_.get(), column, GLP_LO, 0.0, 0.0);
      glp_set_col_kind(problem_.get(), column, GLP_IV);
    }
    // For each dimension d and each combination of the other coordinates (totals included):
    // the categories along d sum to the total along d.
    std::vector<int> rows{0}, columns{0};
    std::vector<double> coefficients{0.0};
    int rowCount = 0;
    for (std::size_t d = 0; d < sizes.size(); ++d) {
      for (const auto& start : indices) {
        if (start[d] != 0) continue;
        std::vector<std::pair<int, double>> terms;
        double rhs = 0;
        double trueLeft = 0;
        auto index = start;
        for (std::size_t c = 0; c <= sizes[d]; ++c) {
          index[d] = c;
          const double sign = c == sizes[d] ? -1.0 : 1.0;
          const double value = static_cast<double>(table.at(index));
          const auto found = column_.find(rowMajorOffset(sizes, index));
          if (found == column_.end()) {
            rhs -= sign * value;
          } else {
            terms.emplace_back(found->second, sign);
            trueLeft += sign * value;
          }
        }
        if (terms.empty()) continue; // all released: holds by construction (checked elsewhere)
        // Sanity check: the true table satisfies the model.
        if (std::abs(trueLeft - rhs) > tolerance) {
          auto where = start;
          where[d] = sizes[d];
          problems.push_back("auditor model: true counts violate the equation along dimension " +
                             std::to_string(d) + " ending at " + formatIndex(table, where));
        }
        ++rowCount;
        glp_add_rows(problem_.get(), 1);
        glp_set_row_bnds(problem_.get(), rowCount, GLP_FX, rhs, rhs);
        for (const auto& [column, sign] : terms) {
          rows.push_back(rowCount);
          columns.push_back(column);
          coefficients.push_back(sign);
        }
      }
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
  }

  int column(std::size_t offset) const { return column_.at(offset); }

  /** Optimises the cell's value; std::nullopt when unbounded; throws on a solver failure. */
  std::optional<double> optimise(int column, int direction, bool integer) {
    if (objective_ != column) {
      if (objective_ != 0) glp_set_obj_coef(problem_.get(), objective_, 0.0);
      glp_set_obj_coef(problem_.get(), column, 1.0);
      objective_ = column;
    }
    glp_set_obj_dir(problem_.get(), direction);
    int code = glp_simplex(problem_.get(), &simplex_);
    if (code != 0) {
      // A bad warm start: start again from the standard basis.
      glp_std_basis(problem_.get());
      code = glp_simplex(problem_.get(), &simplex_);
    }
    if (code != 0) throw std::runtime_error("glp_simplex failed with code " + std::to_string(code));
    const int status = glp_get_status(problem_.get());
    if (status == GLP_UNBND) return std::nullopt;
    if (status != GLP_OPT) throw std::runtime_error("linear program status " + std::to_string(status));
    if (!integer || integral()) return glp_get_obj_val(problem_.get());
    code = glp_intopt(problem_.get(), &integer_);
    if (code != 0) throw std::runtime_error("glp_intopt failed with code " + std::to_string(code));
    if (glp_mip_status(problem_.get()) != GLP_OPT)
      throw std::runtime_error("integer program status " + std::to_string(glp_mip_status(problem_.get())));
    return glp_mip_obj_val(problem_.get());
  }

private:
  /** Whether the relaxation's optimum is integral, and so the integer optimum too. */
  bool integral() const {
    for (int column = 1; column <= glp_get_num_cols(problem_.get()); ++column) {
      const double value = glp_get_col_prim(problem_.get(), column);
      if (std::abs(value - std::round(value)) > 1e-9) return false;
    }
    return true;
  }

  std::unique_ptr<glp_prob, ProblemDeleter> problem_;
  std::map<std::size_t, int> column_; // row-major offset -> GLPK column
  glp_smcp simplex_{};
  glp_iocp integer_{};
  int objective_ = 0;
};

struct QuietGlpk {
  QuietGlpk() { glp_term_out(GLP_OFF); }
};

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
  std::ostringstream out;
  auto cell = [&](std::vector<std::size_t> index) {
    std::ostringstream text;
    text.width(6);
    text << table.at(index);
    out << text.str() << statusMark(released.status(index));
  };
  auto label = [&](std::size_t d, std::size_t i) { return i == sizes[d] ? std::string("T") : std::to_string(i); };
  if (sizes.size() == 1) {
    for (std::size_t i = 0; i <= sizes[0]; ++i) cell({i});
    out << "   (last is the total)\n";
    return out.str();
  }
  const std::size_t slices = sizes.size() == 3 ? sizes[0] + 1 : 1;
  for (std::size_t s = 0; s < slices; ++s) {
    if (sizes.size() == 3) out << "slice " << label(0, s) << ":\n";
    const std::size_t rd = sizes.size() == 3 ? 1 : 0;
    for (std::size_t r = 0; r <= sizes[rd]; ++r) {
      std::ostringstream head;
      head.width(3);
      head << label(rd, r);
      out << head.str() << " |";
      for (std::size_t c = 0; c <= sizes[rd + 1]; ++c)
        cell(sizes.size() == 3 ? std::vector<std::size_t>{s, r, c} : std::vector<std::size_t>{r, c});
      out << '\n';
    }
  }
  out << "(p primary, s secondary, w withheld; T is a total)\n";
  return out.str();
}

std::string TableAudit::describe() const {
  std::ostringstream out;
  for (const auto& problem : problems) out << "PROBLEM: " << problem << '\n';
  for (const auto& range : primaries) {
    out << "primary " << range.cell << ": consistent values [" << range.min << ", ";
    if (range.unbounded) out << "inf";
    else out << range.max;
    out << "]" << (range.safe ? "" : "  <-- UNSAFE") << '\n';
  }
  return out.str();
}

TableAudit auditTable(const SuppressedTable& released, const DisclosurePolicy& policy, AuditExactness exactness) {
  static const QuietGlpk quiet;
  TableAudit audit;
  auto& problems = audit.problems;
  const CountTable& table = released.shape();
  const auto& sizes = table.sizes();
  const std::int64_t k = policy.threshold;

  if (sizes.empty() || sizes.size() > 3 || table.dimensions() != sizes.size()) {
    problems.push_back("table has " + std::to_string(sizes.size()) + " dimensions");
    return audit;
  }
  for (std::size_t d = 0; d < sizes.size(); ++d)
    if (table.total(d) != sizes[d]) problems.push_back("total(" + std::to_string(d) + ") is not size");
  const auto indices = allIndices(sizes);
  if (table.cellCount() != indices.size()) {
    problems.push_back("cellCount() is " + std::to_string(table.cellCount()) + ", expected " +
                       std::to_string(indices.size()));
    return audit;
  }

  // The table itself: row-major offsets, margin flags, and margins that are the sums of the
  // categories (computed here from the category cells alone).
  std::vector<std::int64_t> sums(indices.size(), 0);
  for (const auto& index : indices) {
    if (hasTotal(sizes, index)) continue;
    const std::int64_t value = table.at(index);
    if (value < 0) problems.push_back("negative count at " + formatIndex(table, index));
    for (unsigned mask = 0; mask < (1u << sizes.size()); ++mask) {
      auto target = index;
      for (std::size_t d = 0; d < sizes.size(); ++d)
        if ((mask >> d) & 1u) target[d] = sizes[d];
      sums[rowMajorOffset(sizes, target)] += value;
    }
  }
  std::size_t counted[4] = {0, 0, 0, 0};
  std::int64_t hiddenPeople = 0;
  std::size_t primaryCount = 0;
  for (const auto& index : indices) {
    const std::size_t offset = rowMajorOffset(sizes, index);
    const auto where = [&] { return formatIndex(table, index); };
    if (table.offset(index) != offset) {
      problems.push_back("offset" + where() + " is " + std::to_string(table.offset(index)) + ", not row-major " +
                         std::to_string(offset));
      return audit;
    }
    if (table.index(offset) != index) problems.push_back("index(offset" + where() + ") does not round-trip");
    const bool margin = hasTotal(sizes, index);
    if (table.isMargin(offset) != margin) problems.push_back("isMargin wrong at " + where());
    const std::int64_t value = table.at(index);
    if (table.atOffset(offset) != value) problems.push_back("atOffset differs from at at " + where());
    if (value != sums[offset])
      problems.push_back("margin " + where() + " is " + std::to_string(value) + " but its categories sum to " +
                         std::to_string(sums[offset]));

    const CellStatus status = released.status(index);
    if (released.statusAt(offset) != status) problems.push_back("statusAt differs from status at " + where());
    const int statusNumber = static_cast<int>(status);
    if (statusNumber < 0 || statusNumber > 3) {
      problems.push_back("invalid status at " + where());
      continue;
    }
    ++counted[statusNumber];
    if (status != CellStatus::Released && !margin) hiddenPeople += value;
    const auto described = [&] { return where() + " = " + std::to_string(value) + " is " + statusName(status); };

    const auto shown = released.value(index);
    if (status == CellStatus::Released) {
      if (!shown) problems.push_back(described() + " but value() is empty");
      else if (*shown != value)
        problems.push_back(described() + " but value() says " + std::to_string(*shown));
      if (value >= 1 && value < k) problems.push_back(described() + ": a small count is released");
    } else if (shown) {
      problems.push_back(described() + " but value() shows " + std::to_string(*shown));
    }

    const bool small = value >= 1 && value < k;
    const bool shownByPolicy = !margin || policy.releaseTotals;
    if ((status == CellStatus::Primary) != (small && shownByPolicy))
      problems.push_back(described() + ": primary cells are exactly the shown cells counting 1.." +
                         std::to_string(k - 1));
    if (status == CellStatus::Primary) ++primaryCount;
    if (!policy.releaseTotals) {
      if (margin && status != CellStatus::Withheld)
        problems.push_back(described() + ": margins are Withheld when totals are not released");
      if (status == CellStatus::Secondary)
        problems.push_back(described() + ": no secondary suppression when totals are not released");
    } else if (status == CellStatus::Withheld) {
      problems.push_back(described() + ": nothing is Withheld when totals are released");
    }
    if (status == CellStatus::Withheld && !margin) problems.push_back(described() + ": only margins are Withheld");
  }
  for (CellStatus status : {CellStatus::Released, CellStatus::Primary, CellStatus::Secondary, CellStatus::Withheld}) {
    const std::size_t reported = released.hiddenCells(status);
    const std::size_t expected = counted[static_cast<int>(status)];
    if (status != CellStatus::Released && reported != expected)
      problems.push_back(std::string("hiddenCells(") + statusName(status) + ") is " + std::to_string(reported) +
                         ", expected " + std::to_string(expected));
  }
  if (released.hiddenPeople() != hiddenPeople)
    problems.push_back("hiddenPeople() is " + std::to_string(released.hiddenPeople()) + ", expected " +
                       std::to_string(hiddenPeople));
  if (primaryCount == 0) return audit;

  // The ranges of the primary cells.
  const bool integer = exactness == AuditExactness::Integer;
  RangeModel model(released, indices, problems);
  for (const auto& index : indices) {
    if (released.status(index) != CellStatus::Primary) continue;
    PrimaryRange range;
    range.index = index;
    range.value = table.at(index);
    const std::string where = formatIndex(table, index) + " = " + std::to_string(range.value);
    range.cell = where;
    try {
      const int column = model.column(rowMajorOffset(sizes, index));
      range.min = model.optimise(column, GLP_MIN, integer).value_or(-1.0);
      const auto max = model.optimise(column, GLP_MAX, integer);
      range.unbounded = !max.has_value();
      range.max = max.value_or(0.0);
    } catch (const std::exception& error) {
      problems.push_back("auditor: solver failed for primary " + where + ": " + error.what());
      audit.primaries.push_back(range);
      continue;
    }
    const auto value = static_cast<double>(range.value);
    if (range.min > value + tolerance || (!range.unbounded && range.max < value - tolerance))
      problems.push_back("auditor model: the true count of " + where + " lies outside its range");
    range.safe = range.min <= tolerance && (range.unbounded || range.max >= static_cast<double>(k) - tolerance);
    if (!range.safe) {
      std::ostringstream text;
      text << "primary " << where << " can be narrowed to [" << range.min << ", ";
      if (range.unbounded) text << "inf";
      else text << range.max;
      text << "]: needs 0 and >= " << k;
      problems.push_back(text.str());
    }
    audit.primaries.push_back(range);
  }
  return audit;
}

} // namespace belonging::testing
