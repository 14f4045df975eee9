// Labelled tables, hierarchies, rates and how figures are shown (Disclosure.hpp).
//
// A hierarchical dimension (band -> cluster) is embedded in the flat engine table as two
// dimensions, group x category, where every category sits in exactly one group: the other
// combinations are structural zeros, which the engine never moves. The flat margins then
// are exactly the published figures: (group, total) is the group's subtotal, (total, total)
// the grand total, and (total, category) repeats the category. So the engine's guarantee on
// the flat table, checked by the same independent auditor, is the guarantee on the
// hierarchical one, and no special case for subtotals is needed.

#include <belonging/Disclosure.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace belonging {

namespace {

std::vector<std::size_t> flatSizes(const std::vector<Dimension>& dimensions) {
  if (dimensions.empty() || dimensions.size() > 3) {
    throw DisclosureError("a table has 1 to 3 dimensions, not " + std::to_string(dimensions.size()));
  }
  std::vector<std::size_t> sizes;
  for (const auto& dimension : dimensions) {
    if (dimension.categories.empty()) throw DisclosureError("dimension \"" + dimension.name + "\" has no categories");
    if (!dimension.groups.empty()) {
      if (dimension.groups.size() != dimension.categories.size()) {
        throw DisclosureError("dimension \"" + dimension.name + "\" needs one group per category (" +
                              std::to_string(dimension.categories.size()) + "), not " +
                              std::to_string(dimension.groups.size()));
      }
      sizes.push_back(std::set<std::string>(dimension.groups.begin(), dimension.groups.end()).size());
    }
    sizes.push_back(dimension.categories.size());
  }
  return sizes;
}

std::string withSeparators(long long value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  for (std::size_t i = digits.size(); i > 3; i -= 3) digits.insert(i - 3, ",");
  return (value < 0 ? "-" : "") + digits;
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

/** Whether every input is released; otherwise a hidden figure, with the one explanation. */
std::optional<Figure> blockedRate(Figure::Kind kind, std::initializer_list<const Figure*> inputs) {
  for (const Figure* input : inputs) {
    if (!input->released() || !input->value) return Figure{kind, CellStatus::RateSuppressed, std::nullopt, kHiddenExplanation};
  }
  return std::nullopt;
}

// A rate over nobody has no value; it shows as every other figure without one does.
Figure emptyGroup(Figure::Kind kind) { return {kind, CellStatus::RateSuppressed, std::nullopt, kHiddenExplanation}; }

} // namespace

Table::Table(std::vector<Dimension> dimensions) : dimensions_(std::move(dimensions)), flat_(flatSizes(dimensions_)) {
  std::size_t firstFlat = 0;
  for (const auto& dimension : dimensions_) {
    if (std::set<std::string>(dimension.categories.begin(), dimension.categories.end()).size() !=
        dimension.categories.size()) {
      throw DisclosureError("dimension \"" + dimension.name + "\" lists a category twice");
    }
    Axis axis;
    axis.firstFlat = firstFlat;
    std::vector<Position> positions;
    if (dimension.groups.empty()) {
      for (std::size_t c = 0; c < dimension.categories.size(); ++c) {
        positions.push_back({Position::Kind::Category, dimension.categories[c], 0});
        axis.at.emplace_back(Position::Kind::Category, c);
      }
      firstFlat += 1;
    } else {
      axis.grouped = true;
      std::vector<std::string> groupLabels;
      for (std::size_t c = 0; c < dimension.categories.size(); ++c) {
        const std::string& group = dimension.groups[c];
        if (groupLabels.empty() || groupLabels.back() != group) {
          if (std::find(groupLabels.begin(), groupLabels.end(), group) != groupLabels.end()) {
            throw DisclosureError("dimension \"" + dimension.name + "\": the categories of group \"" + group +
                                  "\" must be listed together");
          }
          groupLabels.push_back(group);
          axis.groupCount.push_back(0);
          positions.push_back({Position::Kind::Group, group, 0});
          axis.at.emplace_back(Position::Kind::Group, groupLabels.size() - 1);
        }
        axis.groupOf.push_back(groupLabels.size() - 1);
        ++axis.groupCount.back();
        positions.push_back({Position::Kind::Category, dimension.categories[c], 1});
        axis.at.emplace_back(Position::Kind::Category, c);
      }
      firstFlat += 2;
    }
    positions.push_back({Position::Kind::Total, dimension.totalLabel, 0});
    axis.at.emplace_back(Position::Kind::Total, 0);
    positions_.push_back(std::move(positions));
    axes_.push_back(std::move(axis));
  }
  // A category in another group's row can never hold anyone, and everybody knows it.
  bool anyGrouped = std::any_of(axes_.begin(), axes_.end(), [](const Axis& a) { return a.grouped; });
  if (!anyGrouped) return;
  for (std::size_t cell = 0; cell < flat_.cellCount(); ++cell) {
    if (flat_.isMargin(cell)) continue;
    const auto index = flat_.index(cell);
    for (const auto& axis : axes_) {
      if (axis.grouped && axis.groupOf[index[axis.firstFlat + 1]] != index[axis.firstFlat]) {
        flat_.setStructuralZero(index);
        break;
      }
    }
  }
}

std::vector<std::size_t> Table::flatIndex(const std::vector<std::size_t>& position) const {
  if (position.size() != axes_.size()) {
    throw DisclosureError("a cell of this table needs " + std::to_string(axes_.size()) + " positions");
  }
  std::vector<std::size_t> index;
  for (std::size_t d = 0; d < axes_.size(); ++d) {
    const Axis& axis = axes_[d];
    if (position[d] >= axis.at.size()) throw DisclosureError("position " + std::to_string(position[d]) + " is out of range");
    const auto [kind, which] = axis.at[position[d]];
    const std::size_t categories = dimensions_[d].categories.size();
    if (!axis.grouped) {
      index.push_back(kind == Position::Kind::Total ? categories : which);
      continue;
    }
    switch (kind) {
    case Position::Kind::Category:
      index.push_back(axis.groupOf[which]);
      index.push_back(which);
      break;
    case Position::Kind::Group:
      index.push_back(which);
      index.push_back(categories);
      break;
    case Position::Kind::Total:
      index.push_back(axis.groupCount.size());
      index.push_back(categories);
      break;
    }
  }
  return index;
}

std::size_t Table::flatOffset(const std::vector<std::size_t>& position) const { return flat_.offset(flatIndex(position)); }

std::vector<std::size_t> Table::categoryIndex(const std::vector<std::string>& categories) const {
  if (categories.size() != dimensions_.size()) {
    throw DisclosureError("a cell of this table needs " + std::to_string(dimensions_.size()) + " category labels");
  }
  std::vector<std::size_t> position;
  for (std::size_t d = 0; d < dimensions_.size(); ++d) {
    const auto& positions = positions_[d];
    auto found = std::find_if(positions.begin(), positions.end(), [&](const Position& p) {
      return p.kind == Position::Kind::Category && p.label == categories[d];
    });
    if (found == positions.end()) {
      throw DisclosureError("\"" + categories[d] + "\" is not a category of " + dimensions_[d].name);
    }
    position.push_back(static_cast<std::size_t>(found - positions.begin()));
  }
  return flatIndex(position);
}

void Table::add(const std::vector<std::string>& categories, std::int64_t count) {
  if (count < 0) throw DisclosureError("a count cannot be negative (" + std::to_string(count) + ")");
  // No table counts anywhere near this many people. Capping the grand total, which every other
  // figure is at most, keeps the engine's sums from overflowing (counts near 2^63 did, in
  // `belonging suppress`: found by tests/fuzz/SuppressInputFuzzer).
  constexpr std::int64_t kMostPeople = 1'000'000'000'000'000;
  std::vector<std::size_t> grandTotal;
  for (std::size_t d = 0; d < flat_.dimensions(); ++d) grandTotal.push_back(flat_.total(d));
  if (count > kMostPeople - flat_.at(grandTotal)) {
    throw DisclosureError("the counts add up to more than " + std::to_string(kMostPeople) + " people");
  }
  const auto index = categoryIndex(categories);
  flat_.set(index, flat_.at(index) + count);
}

void Table::addRecord(std::uint32_t record, const std::vector<std::string>& categories) {
  if (hasKeys()) throw DisclosureError("a table's records must all have keys or none: this one has no key");
  const auto index = categoryIndex(categories);
  if (records_.empty()) records_.resize(flat_.cellCount());
  records_[flat_.offset(index)].push_back(record);
  flat_.set(index, flat_.at(index) + 1);
  ++unkeyedRecords_;
}

void Table::addRecord(std::uint32_t record, RecordKey key, const std::vector<std::string>& categories) {
  if (unkeyedRecords_ > 0) throw DisclosureError("a table's records must all have keys or none: this one has a key");
  const auto index = categoryIndex(categories);
  if (records_.empty()) records_.resize(flat_.cellCount());
  if (keySums_.empty()) keySums_.resize(flat_.cellCount());
  const std::size_t cell = flat_.offset(index);
  records_[cell].push_back(record);
  keySums_[cell] = (keySums_[cell] + key) % 256U;
  flat_.set(index, flat_.at(index) + 1);
}

RecordKey Table::cellKeyAt(std::size_t flatOffset) const {
  std::uint32_t sum = 0;
  for (std::size_t cell = 0; cell < keySums_.size(); ++cell) {
    if (keySums_[cell] == 0 && records_[cell].empty()) continue;
    flat_.forEachMargin(flat_.index(cell), [&](std::size_t target) {
      if (target == flatOffset) sum += keySums_[cell];
    });
  }
  return static_cast<RecordKey>(sum % 256U);
}

std::int64_t Table::count(const std::vector<std::size_t>& position) const { return flat_.at(flatIndex(position)); }

std::vector<std::vector<std::size_t>> Table::allPositions() const {
  std::vector<std::vector<std::size_t>> result;
  std::vector<std::size_t> position(positions_.size(), 0);
  while (true) {
    result.push_back(position);
    std::size_t d = position.size();
    while (d > 0) {
      --d;
      if (++position[d] < positions_[d].size()) break;
      position[d] = 0;
      if (d == 0) return result;
    }
  }
}

std::vector<std::vector<std::uint32_t>> Table::recordsByCell() const {
  const auto positions = allPositions();
  std::vector<std::vector<std::uint32_t>> result(positions.size());
  if (records_.empty()) return result;
  // Each category cell's records go to it and to every margin above it, once per record.
  std::vector<std::vector<std::uint32_t>> flat(flat_.cellCount());
  for (std::size_t cell = 0; cell < records_.size(); ++cell) {
    if (records_[cell].empty()) continue;
    flat_.forEachMargin(flat_.index(cell), [&](std::size_t target) {
      flat[target].insert(flat[target].end(), records_[cell].begin(), records_[cell].end());
    });
  }
  for (std::size_t i = 0; i < positions.size(); ++i) {
    result[i] = std::move(flat[flatOffset(positions[i])]);
    std::sort(result[i].begin(), result[i].end());
    result[i].erase(std::unique(result[i].begin(), result[i].end()), result[i].end());
  }
  return result;
}

std::string Table::describe(const std::vector<std::size_t>& position) const {
  std::string text;
  for (std::size_t d = 0; d < dimensions_.size(); ++d) {
    if (!text.empty()) text += "; ";
    text += dimensions_[d].name + "=" + positions_[d].at(position.at(d)).label;
  }
  return text;
}

CellStatus ReleasedTable::status(const std::vector<std::size_t>& position) const {
  return suppressed_.statusAt(table_.flatOffset(position));
}

std::optional<std::int64_t> ReleasedTable::value(const std::vector<std::size_t>& position) const {
  const std::size_t offset = table_.flatOffset(position);
  if (perturbed()) return perturbed_[offset];
  return suppressed_.value(table_.flat().index(offset));
}

Figure ReleasedTable::figure(const std::vector<std::size_t>& position) const {
  Figure result;
  result.status = status(position);
  if (const auto released = value(position)) result.value = static_cast<double>(*released);
  if (!result.released()) result.reason = kHiddenExplanation;
  return result;
}

std::size_t ReleasedTable::cells(CellStatus which) const {
  std::size_t result = 0;
  for (const auto& position : table_.allPositions()) if (status(position) == which) ++result;
  return result;
}

namespace {

/**
 * SurveyProportions (Disclosure.hpp): the engine protects the group sizes, a table of people
 * counts with the answer summed out, and each answer cell takes its group's status. The answer
 * is the last flat dimension (it must be ungrouped), so a cell's group is its index without it.
 */
SuppressedTable suppressProportions(const Table& table, const DisclosurePolicy& policy) {
  const auto& dimensions = table.dimensions();
  if (dimensions.size() < 2) throw DisclosureError("survey proportions need a group dimension and an answer dimension");
  if (!dimensions.back().groups.empty()) {
    throw DisclosureError("the answer dimension (\"" + dimensions.back().name + "\") of survey proportions cannot be grouped");
  }
  const CountTable& flat = table.flat();
  std::vector<std::size_t> groupSizes(flat.sizes().begin(), flat.sizes().end() - 1);
  const std::size_t answerTotal = flat.sizes().back();
  CountTable sizes(groupSizes);
  for (std::size_t cell = 0; cell < sizes.cellCount(); ++cell) {
    if (sizes.isMargin(cell)) continue;
    auto index = sizes.index(cell);
    index.push_back(answerTotal);
    const std::int64_t people = flat.at(index);
    index.back() = 0;
    // The answer does not enter which combinations cannot occur: any answer's cell says.
    if (flat.isStructuralZero(flat.offset(index))) {
      sizes.setStructuralZero(sizes.index(cell));
    } else {
      sizes.set(sizes.index(cell), people);
    }
  }
  const SuppressedTable protectedSizes = suppress(sizes, policy);
  std::vector<CellStatus> status(flat.cellCount());
  for (std::size_t cell = 0; cell < flat.cellCount(); ++cell) {
    auto index = flat.index(cell);
    index.pop_back();
    status[cell] = protectedSizes.status(index);
  }
  return SuppressedTable(flat, std::move(status), policy.roundTo);
}

} // namespace

ReleasedTable suppress(const Table& table, const DisclosurePolicy& policy, MeasureRule rule) {
  if (rule == MeasureRule::SurveyProportions) return ReleasedTable(table, suppressProportions(table, policy), policy);
  return ReleasedTable(table, suppress(table.flat(), policy), policy);
}

ReleasedTable holdBack(const Table& table, const DisclosurePolicy& policy) {
  validatePolicy(policy);
  const CountTable& flat = table.flat();
  std::vector<CellStatus> status(flat.cellCount(), CellStatus::Differencing);
  for (std::size_t cell = 0; cell < flat.cellCount(); ++cell) {
    if (flat.isStructuralZero(cell)) status[cell] = CellStatus::Released; // Known to all; never a position.
  }
  return ReleasedTable(table, SuppressedTable(flat, std::move(status), policy.roundTo), policy);
}

Figure percentage(const Figure& numerator, const Figure& denominator) {
  if (auto blocked = blockedRate(Figure::Kind::Percentage, {&numerator, &denominator})) return *blocked;
  if (*denominator.value <= 0) return emptyGroup(Figure::Kind::Percentage);
  return {Figure::Kind::Percentage, CellStatus::Released, std::round(100.0 * *numerator.value / *denominator.value), {}};
}

Figure relativeLikelihood(const Figure& aEvents, const Figure& aTotal, const Figure& bEvents, const Figure& bTotal) {
  if (auto blocked = blockedRate(Figure::Kind::Ratio, {&aEvents, &aTotal, &bEvents, &bTotal})) return *blocked;
  if (*aTotal.value <= 0 || *bTotal.value <= 0) return emptyGroup(Figure::Kind::Ratio);
  if (*bEvents.value <= 0) return emptyGroup(Figure::Kind::Ratio); // No one in the comparison group had the outcome.
  const double a = *aEvents.value / *aTotal.value;
  const double b = *bEvents.value / *bTotal.value;
  return {Figure::Kind::Ratio, CellStatus::Released, a / b, {}};
}

Figure mean(double value, const Figure& respondents) {
  if (auto blocked = blockedRate(Figure::Kind::Mean, {&respondents})) return *blocked;
  if (*respondents.value <= 0) return emptyGroup(Figure::Kind::Mean);
  return {Figure::Kind::Mean, CellStatus::Released, value, {}};
}

const char* statusName(CellStatus status) {
  switch (status) {
  case CellStatus::Released: return "released";
  case CellStatus::Rounded: return "rounded";
  case CellStatus::Primary: return "primary";
  case CellStatus::Secondary: return "secondary";
  case CellStatus::Differencing: return "differencing";
  case CellStatus::RateSuppressed: return "rate-suppressed";
  case CellStatus::Withheld: return "withheld";
  }
  return "unknown";
}

const char* publicStatusName(CellStatus status) {
  if (!isReleased(status)) return "hidden";
  return status == CellStatus::Rounded ? "rounded" : "released";
}

FigureText displayText(const Figure& figure, const DisclosurePolicy& policy) {
  if (!figure.released() || !figure.value) return {"*", kHiddenExplanation};
  const double value = *figure.value;
  switch (figure.kind) {
  case Figure::Kind::Count: {
    std::string hint;
    if (figure.status == CellStatus::Rounded) hint = "rounded to the nearest " + std::to_string(policy.roundTo);
    return {withSeparators(std::llround(value)), hint};
  }
  case Figure::Kind::Percentage: return {std::to_string(std::llround(value)) + "%", {}};
  case Figure::Kind::Mean: return {fixed(value, 2), {}};
  case Figure::Kind::Ratio: return {fixed(value, 2), {}};
  }
  return {};
}

nlohmann::json templateData(const Figure& figure, const DisclosurePolicy& policy) {
  const FigureText shown = displayText(figure, policy);
  const bool hidden = !figure.released() || !figure.value;
  return {{"text", shown.text}, {"hint", shown.hint}, {"hidden", hidden}, {"status", hidden ? "hidden" : publicStatusName(figure.status)}};
}

std::string csvText(const Figure& figure) {
  if (!figure.released() || !figure.value) return "*";
  if (figure.kind == Figure::Kind::Count || figure.kind == Figure::Kind::Percentage) {
    return std::to_string(std::llround(*figure.value));
  }
  return fixed(*figure.value, 2);
}

nlohmann::json toJson(const Figure& figure) {
  nlohmann::json result;
  if (figure.released() && figure.value) {
    if (figure.kind == Figure::Kind::Count || figure.kind == Figure::Kind::Percentage) {
      result["value"] = std::llround(*figure.value);
    } else {
      result["value"] = *figure.value;
    }
    result["status"] = publicStatusName(figure.status);
  } else {
    result["value"] = nullptr;
    result["status"] = "hidden";
  }
  return result;
}

} // namespace belonging
