// Cell suppression for tables of counts with margins.
//
// Secondary suppression uses hypercubes, after tau-Argus's GHMITER, in the table extended by
// its totals. Pick, in every dimension, a partner index for the primary cell's index; the 2^D
// corners of that box can move together by +t or -t without changing any released total:
// a pair of categories moves in opposite directions (+, -), and a category paired with the
// dimension's total moves in the same direction (+, +), since the total follows its parts.
// A corner's sign is the product over dimensions. With every corner hidden:
//   - t = -v(p) takes the primary cell to 0 if every other "+" corner holds at least v(p);
//   - t = k - v(p) takes it to k if every "-" corner holds at least k - v(p).
// Both points are non-negative integer tables consistent with everything released, which is
// exactly the protection rule (DESIGN §6). Each primary cell gets its own box, chosen to hide
// the fewest extra people (then the fewest cells); boxes only ever add hidden cells, so one
// primary cell's protection cannot undo another's. A box using every total always qualifies
// for a primary category cell (a total is at least any of its parts). A primary total whose
// value is spread over several parts needs its parts to move together: see Protector.

#include <belonging/Disclosure.hpp>

#include <algorithm>
#include <limits>
#include <numeric>

namespace belonging {

CountTable::CountTable(std::vector<std::size_t> sizes) : sizes_(std::move(sizes)) {
  if (sizes_.empty() || sizes_.size() > 6) {
    throw DisclosureError("a table has 1 to 6 dimensions, not " + std::to_string(sizes_.size()));
  }
  std::size_t cells = 1;
  strides_.assign(sizes_.size(), 1);
  for (std::size_t d = sizes_.size(); d-- > 0;) {
    if (sizes_[d] == 0) throw DisclosureError("dimension " + std::to_string(d + 1) + " has no categories");
    strides_[d] = cells;
    cells *= sizes_[d] + 1;
  }
  values_.assign(cells, 0);
}

std::size_t CountTable::offset(const std::vector<std::size_t>& index) const {
  if (index.size() != sizes_.size()) {
    throw DisclosureError("a cell of a " + std::to_string(sizes_.size()) + "-dimensional table needs " +
                          std::to_string(sizes_.size()) + " coordinates");
  }
  std::size_t result = 0;
  for (std::size_t d = 0; d < sizes_.size(); ++d) {
    if (index[d] > sizes_[d]) throw DisclosureError("coordinate " + std::to_string(index[d]) + " is out of range");
    result += index[d] * strides_[d];
  }
  return result;
}

std::vector<std::size_t> CountTable::index(std::size_t offset) const {
  std::vector<std::size_t> result(sizes_.size());
  for (std::size_t d = 0; d < sizes_.size(); ++d) {
    result[d] = offset / strides_[d];
    offset %= strides_[d];
  }
  return result;
}

bool CountTable::isMargin(std::size_t offset) const {
  for (std::size_t d = 0; d < sizes_.size(); ++d) {
    if (offset / strides_[d] == sizes_[d]) return true;
    offset %= strides_[d];
  }
  return false;
}

void CountTable::set(const std::vector<std::size_t>& index, std::int64_t count) {
  if (count < 0) throw DisclosureError("a count cannot be negative (" + std::to_string(count) + ")");
  const std::size_t cell = offset(index);
  if (isMargin(cell)) throw DisclosureError("totals are derived from the categories and cannot be set");
  if (isStructuralZero(cell) && count != 0) throw DisclosureError("a structural zero cannot hold a count");
  const std::int64_t change = count - values_[cell];
  forEachMargin(index, [&](std::size_t target) { values_[target] += change; });
}

void CountTable::forEachMargin(const std::vector<std::size_t>& index, const std::function<void(std::size_t)>& visit) const {
  // The cell itself and every margin above it: each subset of coordinates replaced by the total.
  const std::size_t dimensions = sizes_.size();
  for (std::size_t mask = 0; mask < (std::size_t{1} << dimensions); ++mask) {
    std::size_t target = 0;
    for (std::size_t d = 0; d < dimensions; ++d) {
      target += ((mask >> d) & 1 ? sizes_[d] : index[d]) * strides_[d];
    }
    visit(target);
  }
}

std::int64_t roundCount(std::int64_t count, int base) {
  if (base <= 1) return count;
  return (count + base / 2) / base * base; // Halves up: counts are never negative.
}

void CountTable::setStructuralZero(const std::vector<std::size_t>& index) {
  const std::size_t cell = offset(index);
  if (isMargin(cell)) throw DisclosureError("only a category cell can be a structural zero, not a total");
  if (values_[cell] != 0) throw DisclosureError("a structural zero cannot hold a count");
  if (freeParts_.empty()) {
    // Each cell starts with every category cell under it free: the product of the sizes of
    // the dimensions where it is a total.
    freeParts_.resize(values_.size());
    for (std::size_t c = 0; c < values_.size(); ++c) {
      std::uint32_t parts = 1;
      std::size_t rest = c;
      for (std::size_t d = 0; d < sizes_.size(); ++d) {
        if (rest / strides_[d] == sizes_[d]) parts *= static_cast<std::uint32_t>(sizes_[d]);
        rest %= strides_[d];
      }
      freeParts_[c] = parts;
    }
  }
  if (freeParts_[cell] == 0) return;
  forEachMargin(index, [&](std::size_t target) { --freeParts_[target]; });
}

std::optional<std::int64_t> SuppressedTable::value(const std::vector<std::size_t>& index) const {
  const std::size_t cell = table_.offset(index);
  if (!isReleased(status_[cell])) return std::nullopt;
  const std::int64_t count = table_.atOffset(cell);
  if (status_[cell] == CellStatus::Rounded) return roundCount(count, roundTo_);
  return count;
}

std::size_t SuppressedTable::hiddenCells(CellStatus which) const {
  return static_cast<std::size_t>(std::count(status_.begin(), status_.end(), which));
}

std::int64_t SuppressedTable::hiddenPeople() const {
  std::int64_t people = 0;
  for (std::size_t cell = 0; cell < status_.size(); ++cell) {
    if (!isReleased(status_[cell]) && !table_.isMargin(cell)) people += table_.atOffset(cell);
  }
  return people;
}

namespace {

/**
 * Finds and hides the cheapest protection for one primary cell p.
 *
 * p's "category dimensions" are those where its index is a category; on the others it is a
 * total. Its parts are the nonzero category cells it sums (just p itself for a category cell).
 * Each part c gets a box pairing c with the total on p's total dimensions (so p is one of
 * its "+" corners) and with a common partner q on p's category dimensions.
 *   Down: every part moves by -v(c) at once; p falls to 0. A "+" corner x outside p's slice
 *   then falls by the parts behind it, which add up to y(x), the cell of p's slice with x's
 *   coordinates elsewhere: it stays non-negative if v(x) >= v(y(x)). Corners inside p's slice
 *   fall by exactly their own value; "-" corners only rise.
 *   Up: one part's box moves by k - v(p); p rises to k if that box's "-" corners hold at
 *   least k - v(p).
 * For a category cell this is the single box of the file comment. Taking q = the totals makes
 * every corner "+" and every x an aggregate of y(x), so some protection always exists.
 */
class Protector {
public:
  Protector(const CountTable& table, std::vector<CellStatus>& status, std::int64_t threshold)
      : table_(table), status_(status), threshold_(threshold), dimensions_(table.dimensions()) {}

  void protect(std::size_t primary) {
    origin_ = table_.index(primary);
    value_ = table_.atOffset(primary);
    collectParts();

    std::vector<std::size_t> categoryDims;
    for (std::size_t d = 0; d < dimensions_; ++d) {
      if (origin_[d] != table_.total(d)) categoryDims.push_back(d);
    }
    std::vector<std::size_t> partner(dimensions_);
    for (std::size_t d = 0; d < dimensions_; ++d) partner[d] = table_.total(d);

    // Per category dimension, the partners whose one-dimension corners pass the conditions
    // that must hold for every part, with what those corners would add to the cost: a cheap
    // filter and lower bound before checking whole boxes.
    struct Option {
      std::int64_t cost;
      std::size_t partner;
    };
    std::vector<std::vector<Option>> options(categoryDims.size());
    for (std::size_t i = 0; i < categoryDims.size(); ++i) {
      const std::size_t d = categoryDims[i];
      for (std::size_t b = 0; b <= table_.total(d); ++b) {
        if (b == origin_[d]) continue;
        const bool opposite = b != table_.total(d); // two categories move oppositely
        std::int64_t cost = 0;
        bool allowed = true;
        for (const auto& part : parts_) {
          std::vector<std::size_t> corner = part;
          corner[d] = b;
          const std::int64_t value = table_.at(corner);
          allowed = allowed && !table_.isStructuralZero(table_.offset(corner));
          if (!opposite) {
            std::vector<std::size_t> slice = corner;
            slice[d] = origin_[d];
            allowed = allowed && value >= table_.at(slice);
          } else if (parts_.size() == 1) {
            allowed = allowed && value >= threshold_ - value_;
          }
          if (status_[table_.offset(corner)] == CellStatus::Released) cost += value;
        }
        if (allowed) options[i].push_back({cost, b});
      }
      std::sort(options[i].begin(), options[i].end(), [](const Option& a, const Option& b) { return a.cost < b.cost; });
    }

    std::vector<std::size_t> bestCells;
    std::int64_t bestPeople = std::numeric_limits<std::int64_t>::max();
    std::size_t bestCount = std::numeric_limits<std::size_t>::max();
    std::vector<std::size_t> choice(categoryDims.size(), 0);
    std::vector<std::size_t> cells;
    const bool anyEmpty = std::any_of(options.begin(), options.end(), [](const auto& list) { return list.empty(); });
    while (!anyEmpty) {
      std::int64_t lowerBound = 0;
      for (std::size_t i = 0; i < categoryDims.size(); ++i) {
        lowerBound += options[i][choice[i]].cost;
        partner[categoryDims[i]] = options[i][choice[i]].partner;
      }
      std::int64_t people = 0;
      std::size_t count = 0;
      if (lowerBound <= bestPeople && qualifies(partner, cells, bestPeople, people, count) &&
          (people < bestPeople || (people == bestPeople && count < bestCount))) {
        bestCells = cells;
        bestPeople = people;
        bestCount = count;
        if (bestPeople == 0 && bestCount == 0) break; // Nothing new to hide: cannot do better.
      }
      std::size_t i = 0;
      for (; i < categoryDims.size(); ++i) {
        if (++choice[i] < options[i].size()) break;
        choice[i] = 0;
      }
      if (i == categoryDims.size()) break;
    }
    for (std::size_t cell : bestCells) {
      if (status_[cell] == CellStatus::Released) status_[cell] = CellStatus::Secondary;
    }
  }

private:
  void collectParts() {
    parts_.clear();
    std::vector<std::size_t> index = origin_;
    std::vector<std::size_t> totalDims;
    for (std::size_t d = 0; d < dimensions_; ++d) {
      if (origin_[d] == table_.total(d)) totalDims.push_back(d);
    }
    std::vector<std::size_t> counter(totalDims.size(), 0);
    while (true) {
      for (std::size_t i = 0; i < totalDims.size(); ++i) index[totalDims[i]] = counter[i];
      if (table_.at(index) > 0) parts_.push_back(index);
      std::size_t i = 0;
      for (; i < totalDims.size(); ++i) {
        if (++counter[i] < table_.sizes()[totalDims[i]]) break;
        counter[i] = 0;
      }
      if (i == totalDims.size()) break;
    }
  }

  /** Checks the protection for partner q; fills the cells it hides and their cost. */
  bool qualifies(const std::vector<std::size_t>& partner, std::vector<std::size_t>& cells,
                 std::int64_t bestPeople, std::int64_t& people, std::size_t& count) {
    cells.clear();
    bool someUpMove = false;
    std::vector<std::size_t> corner(dimensions_), slice(dimensions_);
    for (const auto& part : parts_) {
      bool upMoveFits = true;
      for (std::size_t mask = 0; mask < (std::size_t{1} << dimensions_); ++mask) {
        bool positive = true, inSlice = true;
        for (std::size_t d = 0; d < dimensions_; ++d) {
          const bool usePartner = (mask >> d) & 1;
          const bool categoryDim = origin_[d] != table_.total(d);
          // On p's total dimensions the partner is the total, so the corner there is either the
          // part's category or the total; on category dimensions it is p's index or q's.
          corner[d] = usePartner ? partner[d] : part[d];
          slice[d] = categoryDim ? origin_[d] : corner[d];
          if (usePartner && categoryDim) {
            inSlice = false;
            if (partner[d] != table_.total(d)) positive = !positive;
          }
        }
        const std::int64_t value = table_.at(corner);
        const std::size_t cell = table_.offset(corner);
        if (table_.isStructuralZero(cell)) return false; // Everyone knows it is 0: it cannot move.
        if (positive) {
          if (!inSlice && value < table_.at(slice)) return false;
        } else if (value < threshold_ - value_) {
          upMoveFits = false;
        }
        if (status_[cell] == CellStatus::Released && std::find(cells.begin(), cells.end(), cell) == cells.end()) {
          cells.push_back(cell);
          people += value;
          if (people > bestPeople) return false;
        }
      }
      someUpMove = someUpMove || upMoveFits;
    }
    count = cells.size();
    return someUpMove;
  }

  const CountTable& table_;
  std::vector<CellStatus>& status_;
  std::int64_t threshold_;
  std::size_t dimensions_;
  std::vector<std::size_t> origin_;
  std::int64_t value_ = 0;
  std::vector<std::vector<std::size_t>> parts_;
};

} // namespace

void validatePolicy(const DisclosurePolicy& policy) {
  if (policy.threshold < 5) {
    throw DisclosureError("the disclosure threshold must be at least 5, not " + std::to_string(policy.threshold));
  }
  if (policy.roundTo != 0 && policy.roundTo != 5 && policy.roundTo != 10) {
    throw DisclosureError("disclosure rounding must be 0 (off), 5 or 10, not " + std::to_string(policy.roundTo));
  }
}

namespace {

/**
 * The engine's one pass, over a single table or over the joint table behind linked ones.
 * `published` (null for a single table, where every cell is) marks the cells shown anywhere;
 * the rest are Withheld and, hidden anyway, free for secondary suppression to move.
 */
std::vector<CellStatus> protectCells(const CountTable& table, const std::vector<bool>* published,
                                     const DisclosurePolicy& policy) {
  validatePolicy(policy);
  const std::int64_t k = policy.threshold;
  std::vector<CellStatus> status(table.cellCount(), CellStatus::Released);
  std::vector<std::size_t> primaries;
  for (std::size_t cell = 0; cell < table.cellCount(); ++cell) {
    if (table.isStructuralZero(cell)) continue; // Public knowledge: always shown, never moved.
    const bool shown = published ? (*published)[cell] : policy.releaseTotals || !table.isMargin(cell);
    if (!shown) {
      status[cell] = CellStatus::Withheld;
      continue;
    }
    const std::int64_t value = table.atOffset(cell);
    if (value >= 1 && value < k) {
      status[cell] = CellStatus::Primary;
      primaries.push_back(cell);
    } else if (value == 0 && !policy.showZeros) {
      status[cell] = CellStatus::Withheld;
    }
  }
  // A single table without released totals has nothing to subtract from: hiding the cell
  // suffices. Linked tables always do, since a view's categories are sums of the joint table.
  if (published || policy.releaseTotals) {
    // Largest first: they need the biggest partners, whose boxes often cover smaller cells too.
    std::stable_sort(primaries.begin(), primaries.end(),
                     [&](std::size_t a, std::size_t b) { return table.atOffset(a) > table.atOffset(b); });
    Protector protector(table, status, k);
    for (std::size_t cell : primaries) protector.protect(cell);
  }
  // Rounding last: it only blurs what is released, so it cannot undo any protection.
  if (policy.roundTo > 0) {
    for (auto& cellStatus : status) {
      if (cellStatus == CellStatus::Released) cellStatus = CellStatus::Rounded;
    }
  }
  return status;
}

/** The joint cell that a view's cell is: the view's coordinates, and the total elsewhere. */
std::vector<std::size_t> jointIndex(const CountTable& joint, const std::vector<std::size_t>& view,
                                    const std::vector<std::size_t>& viewIndex) {
  std::vector<std::size_t> index(joint.dimensions());
  for (std::size_t d = 0; d < joint.dimensions(); ++d) index[d] = joint.total(d);
  for (std::size_t i = 0; i < view.size(); ++i) index[view[i]] = viewIndex[i];
  return index;
}

} // namespace

CountTable project(const CountTable& joint, const std::vector<std::size_t>& view) {
  std::vector<std::size_t> sizes;
  for (std::size_t d : view) {
    if (d >= joint.dimensions()) throw DisclosureError("a table has no dimension " + std::to_string(d + 1));
    sizes.push_back(joint.sizes()[d]);
  }
  CountTable table(sizes);
  for (std::size_t cell = 0; cell < table.cellCount(); ++cell) {
    if (table.isMargin(cell)) continue;
    const std::size_t source = joint.offset(jointIndex(joint, view, table.index(cell)));
    if (joint.isStructuralZero(source)) table.setStructuralZero(table.index(cell));
    else table.set(table.index(cell), joint.atOffset(source));
  }
  return table;
}

SuppressedTable suppress(const CountTable& table, const DisclosurePolicy& policy) {
  return SuppressedTable(table, protectCells(table, nullptr, policy), policy.roundTo);
}

std::vector<SuppressedTable> suppressLinked(const CountTable& joint, const std::vector<std::vector<std::size_t>>& views,
                                            const DisclosurePolicy& policy) {
  if (views.empty()) throw DisclosureError("linked tables need at least one view");
  for (std::size_t v = 0; v < views.size(); ++v) {
    const auto& view = views[v];
    const std::string which = "view " + std::to_string(v + 1);
    if (view.empty() || view.size() > 3) throw DisclosureError(which + " must keep 1 to 3 dimensions");
    for (std::size_t i = 0; i < view.size(); ++i) {
      if (view[i] >= joint.dimensions()) {
        throw DisclosureError(which + " keeps dimension " + std::to_string(view[i] + 1) + " of a " +
                              std::to_string(joint.dimensions()) + "-dimensional table");
      }
      if (i > 0 && view[i] <= view[i - 1]) throw DisclosureError(which + " must list its dimensions once each, in order");
    }
  }
  // A joint cell is published when some view shows it: it is a total on every dimension the
  // view sums over, and (unless totals are released) a category on every dimension it keeps.
  std::vector<bool> published(joint.cellCount(), false);
  for (std::size_t cell = 0; cell < joint.cellCount(); ++cell) {
    const auto index = joint.index(cell);
    for (const auto& view : views) {
      bool inView = true, viewMargin = false;
      for (std::size_t d = 0; d < joint.dimensions(); ++d) {
        const bool kept = std::find(view.begin(), view.end(), d) != view.end();
        const bool total = index[d] == joint.total(d);
        if (!kept && !total) inView = false;
        if (kept && total) viewMargin = true;
      }
      if (inView && (policy.releaseTotals || !viewMargin)) published[cell] = true;
    }
  }
  const std::vector<CellStatus> status = protectCells(joint, &published, policy);

  std::vector<SuppressedTable> released;
  for (const auto& view : views) {
    CountTable table = project(joint, view);
    // Every view shows a shared cell the same way; a view's own margins are Withheld when
    // totals are not released, even where another view shows the same figure as a category.
    std::vector<CellStatus> viewStatus(table.cellCount());
    for (std::size_t cell = 0; cell < table.cellCount(); ++cell) {
      const std::size_t source = joint.offset(jointIndex(joint, view, table.index(cell)));
      viewStatus[cell] = status[source];
      if (!policy.releaseTotals && table.isMargin(cell) && !table.isStructuralZero(cell)) {
        viewStatus[cell] = CellStatus::Withheld;
      }
    }
    released.emplace_back(std::move(table), std::move(viewStatus), policy.roundTo);
  }
  return released;
}

} // namespace belonging
