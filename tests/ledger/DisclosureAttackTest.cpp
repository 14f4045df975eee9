// Attacks on disclosure control across releases (DESIGN §6), end to end through
// DisclosureService and the release ledger on a real database.
//
// Each test plays an attacker who sees only what the service publishes: the status of every
// cell and the value of the released ones, over several releases. The attacker subtracts
// released totals from each other, works hidden cells out of released margins, reads the
// statuses, and puts figures published earlier back into a later release; the test asserts
// that this recovers nothing about a group of fewer than k people. Besides each test's own
// attack, every release a test makes goes through Instance::release, where the same attacker
// (class Attacker) attacks it with everything published before for its measure and period.
// Where it can, the test also replays the attack on the same tables without the ledger
// (releaseCounts) and shows that it then succeeds, so it is the ledger that stops it.
//
// The ledger's rule: if any cell of at least k people differs from a figure already released
// for the same measure and period by 1..k-1 people, the whole table is held back (every cell
// Differencing, no value) and nothing is recorded; otherwise it is suppressed as usual and what
// it releases is recorded. The engine's own guarantee within one table (every hidden small cell
// could be 0 or at least k) is checked by the GLPK auditor in the unit tests.
// Attacks that still succeed are at the end, as known leaks.

#include "DisclosureService.hpp"
#include "LedgerDatabase.hpp"
#include "ReleaseLedger.hpp"
#include "SociDatabase.hpp"

#include <belonging/Disclosure.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace belonging;
using belonging::testing::ScratchDatabase;

namespace {

constexpr std::int64_t kThreshold = 11; // DisclosurePolicy's default k.

/** One member of staff, with the stable id of their record. */
struct Person {
  std::uint32_t id = 0;
  std::string directorate;
  int band = 5;
  std::string ethnicity;
  std::string network; ///< A staff network they belong to, or empty.
};

/** A workforce that hands out record ids in order, as a database would. */
class Workforce {
public:
  /** Adds `count` people alike, with new ids. */
  void hire(int count, const std::string& directorate, int band, const std::string& ethnicity,
            const std::string& network = {}) {
    for (int i = 0; i < count; ++i) people_.push_back({nextId_++, directorate, band, ethnicity, network});
  }
  /** A member of staff updates the ethnicity on their record. */
  void reclassify(std::uint32_t id, const std::string& ethnicity) {
    for (Person& person : people_) {
      if (person.id == id) person.ethnicity = ethnicity;
    }
  }
  const std::vector<Person>& people() const { return people_; }

private:
  std::vector<Person> people_;
  std::uint32_t nextId_ = 1000;
};

using Filter = std::function<bool(const Person&)>;
using Attribute = std::function<std::string(const Person&)>;

const Filter everyone = [](const Person&) { return true; };

/** A 1-D table of the filtered people by one attribute. */
Table tableBy(const Workforce& staff, const std::string& name, const std::vector<std::string>& categories,
              const Attribute& attribute, const Filter& filter = everyone) {
  Table table({{name, categories, {}, "Total"}});
  for (const Person& person : staff.people()) {
    if (filter(person)) table.addRecord(person.id, {attribute(person)});
  }
  return table;
}

/** A single count ("staff not in the network: 296"): one category, and its total. */
Table headcount(const Workforce& staff, const Filter& filter) {
  return tableBy(staff, "Staff", {"Headcount"}, [](const Person&) { return std::string("Headcount"); }, filter);
}

const std::vector<std::string> kEthnicities{"White", "Asian", "Black", "Mixed", "Other"};
const Attribute byEthnicity = [](const Person& person) { return person.ethnicity; };

/** The position of the grand total of a 1-D table. */
std::vector<std::size_t> total(const Table& table) { return {table.positions(0).size() - 1}; }

/** The position of a category of a 1-D table. */
std::vector<std::size_t> at(const Table& table, const std::string& label) {
  const auto& positions = table.positions(0);
  for (std::size_t i = 0; i < positions.size(); ++i) {
    if (positions[i].label == label) return {i};
  }
  FAIL("no category " << label);
  return {};
}

/** Every cell as the attacker sees it, and its true count: "White: released 150 (true 150)". */
std::string seen(const ReleasedTable& released) {
  std::ostringstream out;
  for (const auto& position : released.table().allPositions()) {
    out << released.table().describe(position) << ": " << statusName(released.status(position));
    if (const auto value = released.value(position)) out << " " << *value;
    out << " (true " << released.table().count(position) << ")\n";
  }
  return out.str();
}

/** Only what the attacker sees of a release: every cell's status and released value. */
std::string published(const ReleasedTable& released) {
  std::ostringstream out;
  for (const auto& position : released.table().allPositions()) {
    out << released.table().describe(position) << ": " << statusName(released.status(position));
    if (const auto value = released.value(position)) out << " " << *value;
    out << "\n";
  }
  return out.str();
}

/**
 * Whether the ledger held the whole release back: every cell (but structural zeros, which
 * everyone knows) Differencing, and no value released. All the statuses are then the same, so
 * they cannot point at the cells that changed.
 */
bool heldBack(const ReleasedTable& released) {
  const CountTable& shape = released.flat().shape();
  for (std::size_t cell = 0; cell < shape.cellCount(); ++cell) {
    if (shape.isStructuralZero(cell)) continue;
    if (released.flat().statusAt(cell) != CellStatus::Differencing) return false;
    if (released.flat().value(shape.index(cell))) return false;
  }
  return true;
}

/** Whether any cell of the release is Differencing. */
bool anyDifferencing(const ReleasedTable& released) {
  const CountTable& shape = released.flat().shape();
  for (std::size_t cell = 0; cell < shape.cellCount(); ++cell) {
    if (released.flat().statusAt(cell) == CellStatus::Differencing) return true;
  }
  return false;
}

using Known = std::vector<std::optional<std::int64_t>>; // Per flat cell of a table.

/** Solves every margin equation with one unknown, over and over, from what is known. */
Known subtract(const CountTable& shape, Known known) {
  // Each equation: a margin cell and the cells it sums along one dimension.
  std::vector<std::vector<std::size_t>> equations;
  for (std::size_t cell = 0; cell < shape.cellCount(); ++cell) {
    const auto index = shape.index(cell);
    for (std::size_t d = 0; d < shape.dimensions(); ++d) {
      if (index[d] != shape.total(d)) continue;
      std::vector<std::size_t> equation{cell};
      for (std::size_t category = 0; category < shape.total(d); ++category) {
        auto part = index;
        part[d] = category;
        equation.push_back(shape.offset(part));
      }
      equations.push_back(std::move(equation));
    }
  }
  for (bool progress = true; progress;) {
    progress = false;
    for (const auto& equation : equations) {
      const auto unknowns = std::count_if(equation.begin(), equation.end(), [&](std::size_t c) { return !known[c]; });
      if (unknowns != 1) continue;
      std::int64_t parts = 0;
      for (std::size_t i = 1; i < equation.size(); ++i) parts += known[equation[i]].value_or(0);
      if (!known[equation[0]]) {
        known[equation[0]] = parts;
      } else {
        const auto missing =
            std::find_if(equation.begin() + 1, equation.end(), [&](std::size_t c) { return !known[c]; });
        known[*missing] = *known[equation[0]] - parts;
      }
      progress = true;
    }
  }
  return known;
}

/** The released values of a release, per flat cell. Exact: only for unrounded releases. */
Known releasedValues(const ReleasedTable& released) {
  REQUIRE(released.policy().roundTo == 0);
  const CountTable& shape = released.flat().shape();
  Known known(shape.cellCount());
  for (std::size_t cell = 0; cell < shape.cellCount(); ++cell) known[cell] = released.flat().value(shape.index(cell));
  return known;
}

/**
 * What an attacker can work out from one release: the released values, then, over and over,
 * any cell that is the only unknown in a margin equation (a total is the sum of its parts).
 */
Known workOut(const ReleasedTable& released) { return subtract(released.flat().shape(), releasedValues(released)); }

/** Whether a hidden cell's status allows a count: a Primary cell counts 1..k-1 people. */
bool fits(CellStatus status, std::int64_t count, std::int64_t threshold) {
  return status != CellStatus::Primary || (count >= 1 && count < threshold);
}

/**
 * What an attacker who also kept earlier releases of the same table (what they worked out of
 * each, oldest first) can work out of a new one. A cell hidden now but not as Differencing,
 * whose figure they know from before, is taken to be unchanged: the ledger's rule says a table
 * that is not held back has no cell of at least k people 1..k-1 away from a figure already
 * published, so its people are the same as before or at least k apart, and the first is by far
 * the likelier. The latest earlier figure is used, if the cell's status now allows it (a
 * figure of at least k does not go back into a Primary cell). Then they subtract as before.
 */
Known workOutWithHistory(const std::vector<Known>& earlier, const ReleasedTable& after) {
  Known known = releasedValues(after);
  const CountTable& shape = after.flat().shape();
  for (std::size_t cell = 0; cell < shape.cellCount(); ++cell) {
    const CellStatus status = after.flat().statusAt(cell);
    if (known[cell] || status == CellStatus::Differencing) continue;
    for (auto before = earlier.rbegin(); before != earlier.rend() && !known[cell]; ++before) {
      if ((*before)[cell] && fits(status, *(*before)[cell], after.policy().threshold)) known[cell] = (*before)[cell];
    }
  }
  return subtract(shape, std::move(known));
}

Known workOutWithHistory(const ReleasedTable& before, const ReleasedTable& after) {
  return workOutWithHistory(std::vector<Known>{workOut(before)}, after);
}

/** The value of a cell as the attacker works it out from one release, if they can. */
std::optional<std::int64_t> workOut(const ReleasedTable& released, const std::vector<std::size_t>& position) {
  return workOut(released)[released.table().flatOffset(position)];
}

/** Whether a difference of people is one the rules protect: 1..k-1 either way. */
bool isSmallDifference(std::int64_t difference) {
  const std::int64_t size = difference < 0 ? -difference : difference;
  return size >= 1 && size < kThreshold;
}

/** What subtracting `later` from `earlier` gives the attacker, if both are known. */
std::optional<std::int64_t> difference(std::optional<std::int64_t> earlier, std::optional<std::int64_t> later) {
  if (!earlier || !later) return std::nullopt;
  return *earlier - *later;
}

/**
 * The categories of a 1-D table in which the attacker cannot rule out the one person who
 * joined (change = +1) or left (change = -1) between two releases of it. The attacker knows
 * that exactly one person changed, works out what they can of each release, and reads the
 * statuses. When the ledger holds a release back, every cell is Differencing whatever changed,
 * and the statuses say nothing about where. Were only some cells Differencing (as in an earlier
 * design, which hid the cells that changed and protected them with secondary suppression), a
 * Differencing cell whose earlier figure was published would be a cell whose people changed:
 * the ledger never flags an identical set.
 */
std::vector<std::string> possibleCategories(const ReleasedTable& before, const ReleasedTable& after, int change) {
  const Table& table = after.table();
  const auto knownBefore = workOut(before);
  const auto knownAfter = workOut(after);
  const bool statusesPoint = anyDifferencing(after) && !heldBack(after);
  std::vector<std::string> possible;
  for (const Position& candidate : table.positions(0)) {
    if (candidate.kind != Position::Kind::Category) continue;
    bool consistent = true;
    for (std::size_t p = 0; p < table.positions(0).size(); ++p) {
      const Position& position = table.positions(0)[p];
      const std::int64_t delta =
          position.kind == Position::Kind::Total || position.label == candidate.label ? change : 0;
      const std::size_t cell = table.flatOffset({p});
      if (knownBefore[cell] && knownAfter[cell] && *knownAfter[cell] != *knownBefore[cell] + delta) consistent = false;
      const bool publishedBefore = isReleased(before.status({p})) && before.table().count({p}) > 0;
      if (statusesPoint && delta == 0 && publishedBefore && after.status({p}) == CellStatus::Differencing) {
        consistent = false;
      }
    }
    if (consistent) possible.push_back(candidate.label);
  }
  return possible;
}

/** A cell of a release as the test knows it: its flat offset, name, true count and records. */
struct TrueCell {
  std::size_t flat = 0;
  std::string name;
  std::int64_t count = 0;
  std::vector<std::uint32_t> records; ///< Sorted, distinct.
};

std::vector<TrueCell> trueCells(const ReleasedTable& released) {
  const Table& table = released.table();
  const auto positions = table.allPositions();
  const auto records = table.recordsByCell();
  std::vector<TrueCell> cells;
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const auto& position = positions[i];
    cells.push_back({table.flatOffset(position), table.describe(position), table.count(position), records[i]});
  }
  return cells;
}

/** Records in one set but not the other. */
std::size_t symmetricDifference(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
  std::vector<std::uint32_t> apart;
  std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(apart));
  return apart.size();
}

/** Whether two releases are of the same table (the same cells, by name): refreshes of one another. */
bool sameCells(const ReleasedTable& a, const ReleasedTable& b) {
  if (a.flat().shape().sizes() != b.flat().shape().sizes()) return false;
  const auto positions = a.table().allPositions();
  if (positions != b.table().allPositions()) return false;
  return std::all_of(positions.begin(), positions.end(), [&](const std::vector<std::size_t>& position) {
    return a.table().describe(position) == b.table().describe(position);
  });
}

/**
 * The attacker every release is shown to. For each new release, with everything published
 * before for the same plugin, measure and period, they:
 *  - read the statuses: a release must not single cells out as Differencing; it is either held
 *    back whole or has no Differencing cell;
 *  - work out what they can (subtraction, and history: the figures of earlier releases of the
 *    same table put back into hidden cells that are not Differencing, see workOutWithHistory),
 *    and must not get the true count of a hidden cell of 1..k-1 people;
 *  - subtract: for a cell of this release and a cell of an earlier one whose people differ by
 *    1..k-1 (the test knows the records; the attacker knows the filters that made them), they
 *    must not know both true counts when those differ, for the difference is about those few.
 * Rounded figures are not used for arithmetic here (the rounding test deals with them).
 */
class Attacker {
public:
  /** Attacks a release, keeps it, and says what was learned ("" when nothing). */
  std::string see(const std::string& scope, const ReleasedTable& released) {
    std::string leaks;
    if (anyDifferencing(released) && !heldBack(released)) {
      leaks += "some cells are Differencing and some are not: the statuses point at the change\n";
    }
    const std::int64_t k = released.policy().threshold;
    std::vector<Known> earlier;
    for (const Seen& before : history_) {
      if (before.scope == scope && sameCells(before.released, released)) earlier.push_back(before.known);
    }
    Known known = released.policy().roundTo == 0 ? workOutWithHistory(earlier, released)
                                                 : Known(released.flat().shape().cellCount());
    const auto cells = trueCells(released);
    for (const TrueCell& cell : cells) {
      const bool hidden = !isReleased(released.flat().statusAt(cell.flat));
      if (hidden && cell.count >= 1 && cell.count < k && known[cell.flat] == cell.count) {
        leaks += cell.name + " is hidden but worked out: " + std::to_string(cell.count) + "\n";
      }
    }
    for (const Seen& before : history_) {
      if (before.scope != scope) continue;
      for (const TrueCell& then : before.cells) {
        if (before.known[then.flat] != then.count) continue;
        for (const TrueCell& now : cells) {
          if (known[now.flat] != now.count || now.count == then.count) continue;
          const auto apart = static_cast<std::int64_t>(symmetricDifference(then.records, now.records));
          if (apart >= 1 && apart < k) {
            leaks += "earlier " + then.name + " (" + std::to_string(then.count) + ") and now " + now.name + " (" +
                     std::to_string(now.count) + ") are both known, and their records differ by " +
                     std::to_string(apart) + "\n";
          }
        }
      }
    }
    history_.push_back({scope, released, std::move(known), cells});
    return leaks;
  }

private:
  struct Seen {
    std::string scope;
    ReleasedTable released;
    Known known;
    std::vector<TrueCell> cells;
  };
  std::vector<Seen> history_;
};

/**
 * One instance's view: its pool on the shared database, its ledger and the plugin's service.
 * Instances on one database share an Attacker, who sees every release any of them makes.
 */
struct Instance {
  Instance(const ScratchDatabase& scratch, const DisclosurePolicy& policy, const std::string& plugin = "workforce",
           std::shared_ptr<Attacker> sharedAttacker = std::make_shared<Attacker>())
      : database(scratch.open()), ledger(*database), service(ledger, policy, plugin), owner(plugin),
        attacker(std::move(sharedAttacker)) {}

  /** Releases through the ledger, as a plugin does, and shows the release to the attacker. */
  ReleasedTable release(const Table& table, const ReleaseScope& scope) {
    auto released = service.release(table, scope);
    const std::string where = owner + "/" + scope.measure + " in " + scope.period;
    INFO("the attacker's view of a release of " << where << " (" << scope.population << "):\n" << seen(released));
    CHECK(attacker->see(where, released) == "");
    return released;
  }

  std::unique_ptr<SociDatabase> database;
  ReleaseLedger ledger;
  DisclosureService service;
  std::string owner;
  std::shared_ptr<Attacker> attacker;
};

/** Two releases an attacker compares. */
struct TwoReleases {
  ReleasedTable before;
  ReleasedTable after;
};

/**
 * Ethnicity of "band 5 and above" (191 people), then of the same but for the only band 9 in
 * Estates (190): both large, so no cell is small in either.
 */
TwoReleases oneApartFilters(Instance& instance) {
  Workforce staff;
  staff.hire(60, "Medicine", 5, "White");
  staff.hire(40, "Medicine", 6, "Asian");
  staff.hire(30, "Surgery", 7, "Black");
  staff.hire(25, "Estates", 5, "White");
  staff.hire(20, "Surgery", 8, "Mixed");
  staff.hire(15, "Corporate", 6, "Other");
  staff.hire(1, "Estates", 9, "Mixed"); // The only band 9 in Estates: everyone knows who that is.
  staff.hire(50, "Corporate", 3, "White");
  const Filter bandFiveUp = [](const Person& person) { return person.band >= 5; };
  const Filter bandFiveUpButOne = [](const Person& person) {
    return person.band >= 5 && !(person.band == 9 && person.directorate == "Estates");
  };
  const Table wide = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity, bandFiveUp);
  const Table narrow = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity, bandFiveUpButOne);
  auto first = instance.release(wide, {"ethnicity", "2026-11", "band >= 5"});
  REQUIRE(first.value(total(wide)) == 191);
  auto second = instance.release(narrow, {"ethnicity", "2026-11", "band >= 5 and not (band 9 in Estates)"});
  return {std::move(first), std::move(second)};
}

const ReleaseScope kRefreshScope{"ethnicity", "2026-11", "all staff"};

/** Ethnicity of all staff, published; then one new starter (Mixed) and the dashboard refreshes. */
TwoReleases refreshAfterOneStarter(Instance& instance, Workforce& staff) {
  staff.hire(120, "Medicine", 5, "White");
  staff.hire(60, "Surgery", 6, "Asian");
  staff.hire(40, "Surgery", 5, "Black");
  staff.hire(20, "Estates", 4, "Mixed");
  staff.hire(15, "Corporate", 7, "Other");
  auto first = instance.release(tableBy(staff, "Ethnicity", kEthnicities, byEthnicity), kRefreshScope);
  staff.hire(1, "Estates", 4, "Mixed");
  auto refreshed = instance.release(tableBy(staff, "Ethnicity", kEthnicities, byEthnicity), kRefreshScope);
  return {std::move(first), std::move(refreshed)};
}

const std::vector<std::string> kDirectorates{"Medicine", "Surgery", "Estates", "Corporate"};
const std::vector<std::size_t> kEstatesMixed{2, 3}; // In the directorate x ethnicity table.

/**
 * Staff by ethnicity (or directorate x ethnicity), published; then one Mixed member of staff
 * in Estates leaves while twelve White starters join Medicine, and it is published again.
 */
TwoReleases leaverAndStarters(Instance& instance, Workforce& staff, bool twoDimensions) {
  staff.hire(150, "Medicine", 5, "White");
  staff.hire(60, "Surgery", 6, "Asian");
  staff.hire(40, "Surgery", 5, "Black");
  staff.hire(19, "Estates", 4, "Mixed");
  staff.hire(15, "Corporate", 7, "Other");
  staff.hire(1, "Estates", 4, "Mixed"); // Leaves before the second release.
  const std::uint32_t leaver = staff.people().back().id;
  const auto table = [&](const Filter& filter) {
    if (!twoDimensions) return tableBy(staff, "Ethnicity", kEthnicities, byEthnicity, filter);
    Table result({{"Directorate", kDirectorates, {}, "All directorates"}, {"Ethnicity", kEthnicities, {}, "Total"}});
    for (const Person& person : staff.people()) {
      if (filter(person)) result.addRecord(person.id, {person.directorate, person.ethnicity});
    }
    return result;
  };
  auto first = instance.release(table(everyone), kRefreshScope);
  REQUIRE(first.table().count(twoDimensions ? kEstatesMixed : std::vector<std::size_t>{3}) == 20);
  staff.hire(12, "Medicine", 5, "White");
  auto second = instance.release(table([leaver](const Person& person) { return person.id != leaver; }), kRefreshScope);
  return {std::move(first), std::move(second)};
}

/** How many record sets the ledger holds for the workforce plugin's measure in 2026-11. */
std::size_t recorded(Instance& instance, const std::string& measure) {
  return instance.ledger.recordedCount("workforce/" + measure, "2026-11");
}

} // namespace

TEST_CASE("attack: subtracting the total of 'everyone but directorate X' from the full total", "[ledger][attack]") {
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  Workforce staff;
  staff.hire(120, "Medicine", 5, "White");
  staff.hire(90, "Surgery", 6, "Asian");
  staff.hire(40, "Estates", 3, "White");
  staff.hire(30, "Corporate", 4, "Black");
  staff.hire(3, "Pharmacy", 7, "Mixed"); // X: too few to publish.
  const std::vector<std::string> all{"Medicine", "Surgery", "Estates", "Corporate", "Pharmacy"};
  const std::vector<std::string> allButPharmacy{"Medicine", "Surgery", "Estates", "Corporate"};
  const Attribute byDirectorate = [](const Person& person) { return person.directorate; };
  const Filter notPharmacy = [](const Person& person) { return person.directorate != "Pharmacy"; };

  const Table byAll = tableBy(staff, "Directorate", all, byDirectorate);
  const Table byRest = tableBy(staff, "Directorate", allButPharmacy, byDirectorate, notPharmacy);

  // The first release protects Pharmacy within itself: it is primary, and a second cell hides
  // with it so the total cannot be subtracted down to it.
  const auto first = instance.release(byAll, {"headcount", "2026-11", "all staff"});
  INFO("first release:\n" << seen(first));
  REQUIRE(first.status(at(byAll, "Pharmacy")) == CellStatus::Primary);
  REQUIRE(first.value(total(byAll)) == 283);
  CHECK_FALSE(workOut(first, at(byAll, "Pharmacy")));

  // The attacker then asks for "everyone except Pharmacy" and subtracts the two totals. The
  // total is 3 people from the one published, so the whole table is held back.
  const auto second = instance.release(byRest, {"headcount", "2026-11", "directorate != Pharmacy"});
  INFO("second release:\n" << seen(second));
  CHECK(heldBack(second));
  const auto derived = difference(workOut(first, total(byAll)), workOut(second, total(byRest)));
  CHECK_FALSE((derived && isSmallDifference(*derived)));
  // Nor can the directorates of the second release be added up to its total instead: they are
  // held back with it, although their people are the ones published before.
  std::optional<std::int64_t> parts = 0;
  for (const auto& directorate : allButPharmacy) {
    const auto part = workOut(second, at(byRest, directorate));
    parts = parts && part ? std::optional<std::int64_t>(*parts + *part) : std::nullopt;
  }
  const auto viaParts = difference(workOut(first, total(byAll)), parts);
  CHECK_FALSE((viaParts && isSmallDifference(*viaParts)));

  // Without the ledger the second total is published and the subtraction gives Pharmacy's size.
  const auto unguarded = instance.service.releaseCounts(byRest);
  REQUIRE(unguarded.value(total(byRest)));
  CHECK(*first.value(total(byAll)) - *unguarded.value(total(byRest)) == 3);
}

TEST_CASE("attack: 'all staff' minus 'staff not in network N' gives the network's size", "[ledger][attack]") {
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  Workforce staff;
  staff.hire(150, "Medicine", 5, "White");
  staff.hire(146, "Surgery", 6, "Asian");
  staff.hire(4, "Surgery", 6, "Asian", "Disability network"); // N: four members.
  const Filter notInNetwork = [](const Person& person) { return person.network != "Disability network"; };

  const auto all = instance.release(headcount(staff, everyone), {"headcount", "2026-11", "all staff"});
  REQUIRE(all.value({1}) == 300);

  const Table complement = headcount(staff, notInNetwork);
  const auto rest = instance.release(complement, {"headcount", "2026-11", "network != Disability"});
  INFO(seen(rest));
  CHECK(heldBack(rest));
  const auto derived = difference(workOut(all, {1}), workOut(rest, {1}));
  CHECK_FALSE((derived && isSmallDifference(*derived)));
  // The attacker asks again under another wording of the same filter: still nothing. (Held
  // back, nothing of the first ask was recorded, so it is compared with 300 again.)
  const auto again = instance.release(complement, {"headcount", "2026-11", "not a Disability member"});
  CHECK(heldBack(again));
  CHECK_FALSE(workOut(again, {1}));

  // Without the ledger: 300 - 296 = 4.
  const auto unguarded = instance.service.releaseCounts(complement);
  CHECK(*all.value({1}) - *unguarded.value({1}) == 4);
}

TEST_CASE("attack: two large filters one person apart reveal that person", "[ledger][attack]") {
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  const auto [first, second] = oneApartFilters(instance);
  INFO("first release:\n" << seen(first) << "second release:\n" << seen(second));
  const Table& wide = first.table();
  const Table& narrow = second.table();

  // The totals cannot be subtracted: the narrower table is held back whole.
  CHECK(heldBack(second));
  const auto derived = difference(workOut(first, total(wide)), workOut(second, total(narrow)));
  CHECK_FALSE((derived && isSmallDifference(*derived)));
  // Nor can any ethnicity, so the person's ethnicity is not pinned down by subtraction either;
  // and every ethnicity has the same status, so it is not pinned down by reading them (see
  // "filters one person apart do not mark that person's category" below).
  for (const auto& ethnicity : kEthnicities) {
    const auto apart = difference(workOut(first, at(wide, ethnicity)), workOut(second, at(narrow, ethnicity)));
    CHECK_FALSE((apart && isSmallDifference(*apart)));
  }

  // Without the ledger, the Mixed figure drops by one: the band 9 in Estates is Mixed.
  const auto unguarded = instance.service.releaseCounts(narrow);
  CHECK(possibleCategories(first, unguarded, -1) == std::vector<std::string>{"Mixed"});
}

TEST_CASE("attack: overlapping segments of the same size, two records apart", "[ledger][attack]") {
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  Workforce staff;
  staff.hire(60, "Medicine", 5, "White");
  const auto& people = staff.people();
  // Segment A is records 1..50, B is records 2..51: both 50 people, symmetric difference 2.
  const auto inSegment = [&](std::size_t first, std::size_t last) -> Filter {
    return [&people, first, last](const Person& person) {
      return person.id >= people[first - 1].id && person.id <= people[last - 1].id;
    };
  };
  const Table a = headcount(staff, inSegment(1, 50));
  const Table b = headcount(staff, inSegment(2, 51));
  REQUIRE(isReleased(instance.release(a, {"headcount", "2026-11", "segment A"}).status({1})));
  const auto releasedB = instance.release(b, {"headcount", "2026-11", "segment B"});
  INFO(seen(releasedB));
  CHECK(heldBack(releasedB));
  CHECK_FALSE(workOut(releasedB, {1}));

  // Why B must be held back: once A and B are both out, A-or-B (51) and A-and-B (49) are each
  // one record from them, and without the ledger their difference from B isolates record 1.
  // With it, both are one record from A and are held back too.
  const Table either = headcount(staff, inSegment(1, 51));
  const Table both = headcount(staff, inSegment(2, 50));
  CHECK(heldBack(instance.release(either, {"headcount", "2026-11", "A or B"})));
  CHECK(heldBack(instance.release(both, {"headcount", "2026-11", "A and B"})));
  const auto unguardedB = instance.service.releaseCounts(b);
  const auto unguardedEither = instance.service.releaseCounts(either);
  CHECK(*unguardedEither.value({1}) - *unguardedB.value({1}) == 1);
}

TEST_CASE("attack: a release refreshed after one more record", "[ledger][attack]") {
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  Workforce staff;
  const auto [first, refreshed] = refreshAfterOneStarter(instance, staff);
  INFO("first release:\n" << seen(first) << "refresh:\n" << seen(refreshed));
  const Table& after = refreshed.table();
  for (const auto& position : after.allPositions()) REQUIRE(isReleased(first.status(position)));

  // Mixed and the total moved by one person, so the whole refresh is held back, and no figure
  // that moved by 1..k-1 can be worked out. Nothing of it is recorded: the six sets of the
  // first release are all the ledger holds.
  CHECK(heldBack(refreshed));
  CHECK(recorded(instance, "ethnicity") == 6);
  for (const auto& position : after.allPositions()) {
    const auto apart = difference(workOut(refreshed, position), workOut(first, position));
    INFO(after.describe(position));
    CHECK_FALSE((apart && isSmallDifference(*apart)));
  }

  // Without the ledger the refreshed Mixed figure is 21 where it was 20.
  CHECK(possibleCategories(first, instance.service.releaseCounts(after), +1) == std::vector<std::string>{"Mixed"});

  // Ten more starters, in the same ethnicity: 11 new people since the last published figures,
  // which is k, so the refresh is published again in full, and its new Mixed and total recorded.
  staff.hire(10, "Estates", 4, "Mixed");
  const Table later = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity);
  const auto republished = instance.release(later, kRefreshScope);
  INFO("after ten more:\n" << seen(republished));
  for (const auto& position : later.allPositions()) {
    CHECK(republished.status(position) == CellStatus::Released);
    CHECK(republished.value(position) == later.count(position));
  }
  CHECK(republished.value(at(later, "Mixed")) == 31);
  CHECK(recorded(instance, "ethnicity") == 8);
}

TEST_CASE("attack: a held-back cell cannot be worked out as the total minus the others", "[ledger][attack]") {
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  Workforce staff;

  SECTION("1-D: one person leaves Mixed while twelve join White") {
    const auto [first, second] = leaverAndStarters(instance, staff, false);
    INFO("first release:\n" << seen(first) << "second release:\n" << seen(second));
    const Table& after = second.table();
    // White and the total each differ from what was published by at least k people, but Mixed
    // (19) differs by one person, so the whole table is held back: White and the total with it.
    // Were Mixed merely hidden, it would be the total minus the other four.
    CHECK(heldBack(second));
    for (const auto& position : after.allPositions()) CHECK_FALSE(workOut(second, position));
    const auto apart = difference(workOut(first, at(after, "Mixed")), workOut(second, at(after, "Mixed")));
    CHECK_FALSE((apart && isSmallDifference(*apart)));

    // Hiding Mixed alone would not do: with the other four and the total as they are without
    // the ledger, the total minus the others gives 19, one less than the 20 published before.
    const auto unprotected = instance.service.releaseCounts(after);
    std::int64_t others = 0;
    for (const auto& ethnicity : kEthnicities) {
      if (ethnicity != "Mixed") others += *unprotected.value(at(after, ethnicity));
    }
    CHECK(*first.value(at(after, "Mixed")) - (*unprotected.value(total(after)) - others) == 1);
  }

  SECTION("2-D: a held-back table with row and column totals") {
    const auto [first, second] = leaverAndStarters(instance, staff, true);
    INFO("first release:\n" << seen(first) << "second release:\n" << seen(second));
    const Table& after = second.table();
    CHECK(heldBack(second));
    const auto knownBefore = workOut(first);
    const auto knownAfter = workOut(second);
    for (const auto& position : after.allPositions()) {
      const auto cell = after.flatOffset(position);
      const auto apart = difference(knownBefore[cell], knownAfter[cell]);
      INFO(after.describe(position));
      CHECK_FALSE(knownAfter[cell]);
      CHECK_FALSE((apart && isSmallDifference(*apart)));
    }
  }
}

TEST_CASE("attack: other measures are independent, other periods are not; instances share one ledger", "[ledger][attack]") {
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Workforce staff;
  staff.hire(100, "Medicine", 5, "White");
  const Table hundred = headcount(staff, everyone);
  staff.hire(1, "Medicine", 5, "White");
  const Table hundredAndOne = headcount(staff, everyone);

  Instance first(scratch, policy);
  Instance second(scratch, policy, "workforce", first.attacker);
  REQUIRE(isReleased(first.release(hundred, {"headcount", "2026-11", "all staff"}).status({1})));

  SECTION("another period is compared with the earlier ones") {
    // The month-boundary attack: a new month must not publish Nov 100, Dec 101.
    const auto december = first.release(hundredAndOne, {"headcount", "2026-12", "all staff"});
    CHECK(heldBack(december));
    CHECK_FALSE(workOut(december, {1}));
  }
  SECTION("another measure is released freely") {
    CHECK(first.release(hundredAndOne, {"starters", "2026-11", "all staff"}).value({1}) == 101);
  }
  SECTION("another plugin's measure of the same name is its own") {
    Instance other(scratch, policy, "networks", first.attacker);
    CHECK(other.release(hundredAndOne, {"headcount", "2026-11", "all staff"}).value({1}) == 101);
  }
  SECTION("a second instance sees the first one's releases") {
    // Two servers behind a load balancer: the attacker's second request lands on the other.
    const auto refreshed = second.release(hundredAndOne, {"headcount", "2026-11", "all staff"});
    CHECK(heldBack(refreshed));
    CHECK_FALSE(workOut(refreshed, {1}));
    // And what the second publishes, the first then knows about.
    staff.hire(20, "Medicine", 5, "White");
    const ReleaseScope scope{"headcount", "2026-11", "all staff"};
    REQUIRE(second.release(headcount(staff, everyone), scope).status({1}) == CellStatus::Released);
    staff.hire(1, "Medicine", 5, "White");
    CHECK(heldBack(first.release(headcount(staff, everyone), scope)));
  }
}

TEST_CASE("attack: rounding to 5 does not replace the ledger", "[ledger][attack]") {
  ScratchDatabase scratch;
  DisclosurePolicy policy;
  policy.roundTo = 5;
  Instance instance(scratch, policy);
  Workforce staff;
  staff.hire(120, "Medicine", 5, "White");
  staff.hire(60, "Surgery", 6, "Asian");
  staff.hire(40, "Surgery", 5, "Black");
  staff.hire(12, "Estates", 4, "Mixed"); // Rounds to 10; 13 rounds to 15.
  staff.hire(15, "Corporate", 7, "Other");
  const ReleaseScope scope{"ethnicity", "2026-11", "all staff"};

  const Table before = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity);
  const auto first = instance.release(before, scope);
  INFO("first release:\n" << seen(first));
  REQUIRE(first.status(at(before, "Mixed")) == CellStatus::Rounded);
  REQUIRE(first.value(at(before, "Mixed")) == 10);

  staff.hire(1, "Estates", 4, "Mixed");
  const Table after = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity);
  const auto refreshed = instance.release(after, scope);
  INFO("refresh:\n" << seen(refreshed));
  // Mixed (13) is one person from the 12 behind the published 10: the refresh is held back,
  // so no rounded figure moves and nothing tells the attacker where the new starter went.
  CHECK(heldBack(refreshed));

  // Rounding alone would not hide it: 12 was shown as 10, and 13 is shown as 15.
  const auto unguarded = instance.service.releaseCounts(after);
  CHECK(unguarded.value(at(after, "Mixed")) == 15);
}

TEST_CASE("attack: a move between two small categories is published as before and says nothing of the mover",
          "[ledger][attack]") {
  // One member of staff updates their ethnicity from Mixed to Other. Both categories are under
  // k, so both are primary; the total and every other category hold exactly the people they
  // held, so no cell of at least k moved and the table is not held back. It is suppressed as
  // before, and the attacker sees exactly what they saw before: as if nobody had moved.
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  Workforce staff;
  staff.hire(120, "Medicine", 5, "White");
  staff.hire(60, "Surgery", 6, "Asian");
  staff.hire(40, "Surgery", 5, "Black");
  staff.hire(4, "Estates", 4, "Mixed");
  staff.hire(1, "Estates", 4, "Mixed"); // Will record their ethnicity as Other.
  const std::uint32_t mover = staff.people().back().id;
  staff.hire(6, "Corporate", 7, "Other");

  const Table before = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity);
  const auto first = instance.release(before, kRefreshScope);
  INFO("first release:\n" << seen(first));
  REQUIRE(first.status(at(before, "Mixed")) == CellStatus::Primary);
  REQUIRE(first.status(at(before, "Other")) == CellStatus::Primary);
  REQUIRE(first.value(total(before)) == 231);
  const auto recordedBefore = recorded(instance, "ethnicity");

  staff.reclassify(mover, "Other");
  const Table after = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity);
  REQUIRE(after.count(at(after, "Mixed")) == 4);
  REQUIRE(after.count(at(after, "Other")) == 7);
  const auto second = instance.release(after, kRefreshScope);
  INFO("second release:\n" << seen(second));

  // Released as usual, not held back; the small cells are still primary.
  CHECK_FALSE(heldBack(second));
  CHECK(second.status(at(after, "Mixed")) == CellStatus::Primary);
  CHECK(second.status(at(after, "Other")) == CellStatus::Primary);
  // Every status and figure is what it was, so nothing tells the attacker that anyone moved,
  // let alone from where to where.
  CHECK(published(second) == published(first));
  // Neither subtraction nor history gives them Mixed or Other, before or after.
  const auto withHistory = workOutWithHistory(first, second);
  for (const auto& ethnicity : {"Mixed", "Other"}) {
    INFO(ethnicity);
    CHECK_FALSE(workOut(first, at(before, ethnicity)));
    CHECK_FALSE(withHistory[after.flatOffset(at(after, ethnicity))]);
  }
  // And the ledger has nothing new: every set released is one released before.
  CHECK(recorded(instance, "ethnicity") == recordedBefore);
}

TEST_CASE("attack: the attacker shown every release catches what hiding only the changed cells published",
          "[ledger][attack]") {
  // The attacker of Instance::release, shown by hand the two releases the earlier design made
  // when one Mixed member of staff left and twelve White starters joined: all published, then
  // Mixed (19) Differencing with Other (15, unchanged) as its secondary partner, the rest
  // published. They read the statuses, and put Other's figure back to subtract Mixed: 19.
  const DisclosurePolicy policy;
  Workforce staff;
  staff.hire(150, "Medicine", 5, "White");
  staff.hire(60, "Surgery", 6, "Asian");
  staff.hire(40, "Surgery", 5, "Black");
  staff.hire(19, "Estates", 4, "Mixed");
  staff.hire(15, "Corporate", 7, "Other");
  staff.hire(1, "Estates", 4, "Mixed");
  const std::uint32_t leaver = staff.people().back().id;
  const Table before = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity);
  staff.hire(12, "Medicine", 5, "White");
  const Filter stayed = [leaver](const Person& person) { return person.id != leaver; };
  const Table after = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity, stayed);
  std::vector<CellStatus> statuses(after.flat().cellCount(), CellStatus::Released);
  statuses[after.flatOffset(at(after, "Mixed"))] = CellStatus::Differencing;
  statuses[after.flatOffset(at(after, "Other"))] = CellStatus::Secondary;
  const ReleasedTable earlierDesign(after, SuppressedTable(after.flat(), statuses), policy);

  Attacker attacker;
  REQUIRE(attacker.see("workforce/ethnicity in 2026-11", suppress(before, policy)) == "");
  const std::string learned = attacker.see("workforce/ethnicity in 2026-11", earlierDesign);
  INFO(learned);
  CHECK(learned.find("statuses point at the change") != std::string::npos);
  CHECK(learned.find("earlier Ethnicity=Mixed (20) and now Ethnicity=Mixed (19)") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Attacks that succeeded when the ledger hid only the cells whose people changed (Differencing)
// and protected them with secondary suppression, and that holding the whole table back stops.
// ---------------------------------------------------------------------------------------------

TEST_CASE("attack: a refresh after one more record does not mark the category that grew", "[ledger][attack]") {
  // Hiding only the cells that changed marked Mixed as "differs from a figure already
  // published" and the cells around it as "hidden to protect a smaller group", so the statuses
  // said which category the new starter is in. Held back whole, every cell says the same.
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  Workforce staff;
  const auto [first, refreshed] = refreshAfterOneStarter(instance, staff);
  INFO("first release:\n" << seen(first) << "refresh:\n" << seen(refreshed));
  CHECK(heldBack(refreshed));
  const auto possible = possibleCategories(first, refreshed, +1);
  INFO("the new starter could be: " << Catch::StringMaker<std::vector<std::string>>::convert(possible));
  CHECK(possible == kEthnicities);
}

TEST_CASE("attack: filters one person apart do not mark that person's category", "[ledger][attack]") {
  // The same through filters: everyone knows who the one band 9 in Estates is, and hiding only
  // the cells that changed marked Mixed, alone among the ethnicities, as Differencing.
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  const auto [first, second] = oneApartFilters(instance);
  INFO("first release:\n" << seen(first) << "second release:\n" << seen(second));
  CHECK(heldBack(second));
  const auto possible = possibleCategories(first, second, -1);
  INFO("the excluded person could be: " << Catch::StringMaker<std::vector<std::string>>::convert(possible));
  CHECK(possible == kEthnicities);
}

// Secondary suppression chosen within one release hid, next to the Differencing Mixed, cells
// whose people had not changed since they were published (Other, 15). An attacker who kept the
// earlier release put those figures back and subtracted: Mixed was the total minus the rest, 19
// where it was 20. Held back whole, no figure of the release is published to subtract from, and
// no hidden cell is one whose earlier figure the attacker may put back (they are all Differencing).
namespace {
void attackWithHistory(bool twoDimensions) {
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  Workforce staff;
  const auto [first, second] = leaverAndStarters(instance, staff, twoDimensions);
  INFO("first release:\n" << seen(first) << "second release:\n" << seen(second));
  CHECK(heldBack(second));
  const auto mixed = twoDimensions ? kEstatesMixed : at(second.table(), "Mixed");
  const auto cell = second.table().flatOffset(mixed);
  const auto withHistory = workOutWithHistory(first, second);
  for (const auto& position : second.table().allPositions()) {
    INFO(second.table().describe(position));
    CHECK_FALSE(withHistory[second.table().flatOffset(position)]);
  }
  const auto apart = difference(workOut(first)[cell], withHistory[cell]);
  CHECK_FALSE((apart && isSmallDifference(*apart)));
}
} // namespace

TEST_CASE("attack: in 1-D, history cannot be combined with a held-back table", "[ledger][attack]") {
  attackWithHistory(false);
}

TEST_CASE("attack: in 2-D, history cannot be combined with a held-back table", "[ledger][attack]") {
  attackWithHistory(true);
}

TEST_CASE("attack: a category that falls under k is not worked out from a partner published before",
          "[ledger][attack]") {
  // Ethnicity is published in full (Mixed 20, Other 15); then eleven Mixed staff leave. No cell
  // of at least k moved by 1..k-1 (Mixed and the total moved by 11), so the table is not held
  // back but suppressed afresh: Mixed (9) is primary, and a partner is hidden with it. Every
  // partner it could have was published before with the same people, and the ledger's rule
  // tells the attacker so (a cell of at least k that moved by 1..k-1 would have held the table
  // back; one at least k away would not fit the total), so they put its earlier figure back and
  // subtract: Mixed would be 9. The service therefore holds back a table in which a cell hidden
  // as a partner is exactly a set published before.
  ScratchDatabase scratch;
  const DisclosurePolicy policy;
  Instance instance(scratch, policy);
  Workforce staff;
  staff.hire(150, "Medicine", 5, "White");
  staff.hire(60, "Surgery", 6, "Asian");
  staff.hire(40, "Surgery", 5, "Black");
  staff.hire(9, "Estates", 4, "Mixed");
  staff.hire(11, "Estates", 4, "Mixed"); // Leave before the second release.
  const std::uint32_t lastLeaver = staff.people().back().id;
  staff.hire(15, "Corporate", 7, "Other");
  const Filter stayed = [lastLeaver](const Person& person) {
    return person.id > lastLeaver || person.id + 11 <= lastLeaver;
  };

  const auto first = instance.release(tableBy(staff, "Ethnicity", kEthnicities, byEthnicity), kRefreshScope);
  INFO("first release:\n" << seen(first));
  REQUIRE(first.value(at(first.table(), "Mixed")) == 20);
  const Table after = tableBy(staff, "Ethnicity", kEthnicities, byEthnicity, stayed);
  REQUIRE(after.count(at(after, "Mixed")) == 9);
  const auto second = instance.release(after, kRefreshScope);
  INFO("second release:\n" << seen(second));
  CHECK(heldBack(second));
  CHECK_FALSE(workOut(second, at(after, "Mixed")));
  const auto withHistory = workOutWithHistory(first, second)[after.flatOffset(at(after, "Mixed"))];
  CHECK_FALSE(withHistory == after.count(at(after, "Mixed")));
}

// ---------------------------------------------------------------------------------------------
// Known leak. The attack at the end succeeds against the rule the ledger implements (DESIGN §6:
// a release differing from an earlier one by 1..k-1 people is suppressed), so it is tagged
// [!shouldfail]: the suite stays green while it does, and turns red if that changes.
// ---------------------------------------------------------------------------------------------

TEST_CASE("known leak: whether a release is held back says whether one person is in it",
          "[ledger][attack][!shouldfail]") {
  // The attacker asks for the number of Mixed staff of band 5 and above, then for the same
  // without the one band 9 in Estates. If that person is Mixed, the second count is one person
  // from the first and is held back; if not, it is the same set and is published again. The
  // hold-back says nothing about where a change is, but it says there is one: here, that the
  // person is Mixed. Stopping it needs the decision to hold back not to depend on records the
  // attacker does not already know about (auditing that could be simulated from the requests
  // alone), or noise: the ledger cannot do it by comparing record sets.
  const auto secondRelease = [](const std::string& ethnicity) {
    ScratchDatabase scratch;
    const DisclosurePolicy policy;
    Instance instance(scratch, policy);
    Workforce staff;
    staff.hire(20, "Medicine", 5, "Mixed");
    staff.hire(100, "Surgery", 6, "White");
    staff.hire(1, "Estates", 9, ethnicity); // Everyone knows who the band 9 in Estates is.
    const Filter mixedFiveUp = [](const Person& person) { return person.ethnicity == "Mixed" && person.band >= 5; };
    const Filter butThem = [mixedFiveUp](const Person& person) {
      return mixedFiveUp(person) && !(person.band == 9 && person.directorate == "Estates");
    };
    instance.release(headcount(staff, mixedFiveUp), {"headcount", "2026-11", "Mixed, band >= 5"});
    return instance.release(headcount(staff, butThem), {"headcount", "2026-11", "Mixed, band >= 5, not them"});
  };
  const auto ifMixed = secondRelease("Mixed");
  const auto ifWhite = secondRelease("White");
  INFO("if they are Mixed:\n" << seen(ifMixed) << "if they are White:\n" << seen(ifWhite));
  CHECK(heldBack(ifMixed) == heldBack(ifWhite));
}
