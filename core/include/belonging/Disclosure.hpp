#pragma once
// Disclosure control: the one gate every count about people passes through (DESIGN §6).
//
//   belonging::CountTable table({3, 2});                 // 3 rows x 2 columns of categories
//   table.set({0, 0}, 25); ...                           // leaf counts; totals are derived
//   auto released = belonging::suppress(table, {.threshold = 11});
//   released.status({0, 1});                             // Released, Primary or Secondary
//   released.value({0, 1});                              // std::nullopt when hidden
//
// Rules: a cell counting 1 to k-1 people is hidden (primary suppression). Where totals are
// released, more cells are hidden (secondary suppression) so that, for every primary cell,
// the non-negative integer values consistent with everything released include 0 and a value
// of at least k: nobody can work a small count out by subtraction. There is no override.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace belonging {

/**
 * Disclosure policy, from the [disclosure] section of the configuration. The threshold is never
 * below 5 (DESIGN §6); 11 is NHS Staff Survey practice. Nothing here can switch protection off:
 * every field only chooses how much more to hide or how to show what is released.
 */
struct DisclosurePolicy {
  int threshold = 11;        ///< k: counts 1..k-1 are not released.
  int roundTo = 0;           ///< 0, or 5 or 10: released counts are rounded to the nearest multiple.
  bool showZeros = true;     ///< Whether a count of 0 is shown (false: Withheld).
  bool releaseTotals = true; ///< Whether margins (row, column, grand totals) are released.
};

/** Why a figure is or is not released. */
enum class CellStatus {
  Released,       ///< Shown as is.
  Rounded,        ///< Shown, rounded to the nearest policy.roundTo.
  Primary,        ///< Counts 1..k-1 people.
  Secondary,      ///< Hidden so that a primary cell cannot be worked out by subtraction.
  Differencing,   ///< Held back: the release differs from one already made by 1..k-1 people (the ledger).
  RateSuppressed, ///< A rate, mean or likelihood with a count in it that is not releasable.
  Withheld,       ///< Not published by policy: margins when releaseTotals is false, zeros when showZeros is false.
};

/** Whether a figure with this status is shown (Released or Rounded). */
constexpr bool isReleased(CellStatus status) { return status == CellStatus::Released || status == CellStatus::Rounded; }

/**
 * The one explanation every hidden figure carries, in pages, CSV, JSON and the CLI alike
 * (DESIGN §6, "hidden means hidden"). Why a cell is hidden (1..k-1 people, protecting another,
 * a zero withheld) narrows what it can be: three hidden "fewer than 11" cells in a column that
 * totals 30 must each be 10. The reason stays in the audit log (statusName), never in output.
 */
inline constexpr const char* kHiddenExplanation = "hidden to protect small groups";

/**
 * How a measure's figures are protected: the measure catalogue of DESIGN §6 and README.
 */
enum class MeasureRule {
  /** Counts of people: a count of 1 to k-1 is hidden, with secondary suppression over the margins. */
  PeopleCounts,
  /**
   * Survey proportions, as the NHS Staff Survey publishes them: the table's last dimension is
   * the answer, and every other cell defines a group of respondents. A group's size (its total
   * over the answers) is a count of people, protected as PeopleCounts are, secondary
   * suppression included, so a small group's size cannot be worked out from the other groups.
   * Each answer count is then released exactly when its group's size is, whatever it is (0 and
   * 1..k-1 included): a group of at least k may say that 2 of its 40 answered yes, and every
   * cell of a hidden group is hidden, zeros included, so nobody learns how a small group answered.
   */
  SurveyProportions,
};

/** A bad table or policy, in words that name what is wrong. */
class DisclosureError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/**
 * Counts over one to three categorical dimensions. Each dimension has `size` categories plus
 * a total: index `size` along a dimension (CountTable::total(d)) addresses the margin.
 * Margins are derived from the categories, so a table is always additive.
 */
class CountTable {
public:
  /**
   * `sizes[d]` categories in dimension d; 1 to 6 dimensions (3 for people to read, more when
   * hierarchical dimensions are embedded), each with at least one category.
   */
  explicit CountTable(std::vector<std::size_t> sizes);

  std::size_t dimensions() const { return sizes_.size(); }
  const std::vector<std::size_t>& sizes() const { return sizes_; }
  /** The index of the total along dimension d (one past the last category). */
  std::size_t total(std::size_t dimension) const { return sizes_.at(dimension); }
  /** Cells including margins: product of (size + 1). */
  std::size_t cellCount() const { return values_.size(); }

  /** Sets a category cell (no total index); throws DisclosureError for negative counts. */
  void set(const std::vector<std::size_t>& index, std::int64_t count);
  /** Any cell, margins included. */
  std::int64_t at(const std::vector<std::size_t>& index) const { return values_[offset(index)]; }
  std::int64_t atOffset(std::size_t offset) const { return values_[offset]; }
  /** Row-major offset of an index over the extended shape (size + 1 per dimension). */
  std::size_t offset(const std::vector<std::size_t>& index) const;
  /** The index of a row-major offset. */
  std::vector<std::size_t> index(std::size_t offset) const;
  /** Whether the cell is a margin (some coordinate is a total). */
  bool isMargin(std::size_t offset) const;
  /**
   * Marks a category cell as a structural zero: a combination that cannot occur and that
   * everyone knows is 0 (band 7 in cluster "AfC 1-4"). It stays 0, is always released, and
   * suppression never moves it. Hierarchical tables are built on these (see Table).
   */
  void setStructuralZero(const std::vector<std::size_t>& index);
  /** A structural zero, or a margin over structural zeros only. */
  bool isStructuralZero(std::size_t offset) const { return !freeParts_.empty() && freeParts_[offset] == 0; }

  /** Calls visit(offset) for the category cell at `index` and every margin above it. */
  void forEachMargin(const std::vector<std::size_t>& index, const std::function<void(std::size_t)>& visit) const;

private:
  std::vector<std::size_t> sizes_;
  std::vector<std::size_t> strides_;
  std::vector<std::int64_t> values_;
  std::vector<std::uint32_t> freeParts_; ///< Per cell, category cells under it that are not structural zeros.
};

/** A table after disclosure control: each cell's status, and its value only if released. */
class SuppressedTable {
public:
  SuppressedTable(CountTable table, std::vector<CellStatus> status, int roundTo = 0)
      : table_(std::move(table)), status_(std::move(status)), roundTo_(roundTo) {}

  const CountTable& shape() const { return table_; }
  CellStatus status(const std::vector<std::size_t>& index) const { return status_[table_.offset(index)]; }
  CellStatus statusAt(std::size_t offset) const { return status_[offset]; }
  /** The count if released (rounded when the status is Rounded); std::nullopt if hidden. */
  std::optional<std::int64_t> value(const std::vector<std::size_t>& index) const;
  /** Cells with this status (margins included). */
  std::size_t hiddenCells(CellStatus which) const;
  /** People in hidden category cells (margins not counted), for summaries. */
  std::int64_t hiddenPeople() const;

private:
  CountTable table_;
  std::vector<CellStatus> status_;
  int roundTo_ = 0;
};

/**
 * Applies primary and, where totals are released, secondary suppression, then the policy's
 * zeros and rounding. Throws DisclosureError for a bad policy (threshold below 5, rounding
 * other than 0, 5 or 10).
 */
SuppressedTable suppress(const CountTable& table, const DisclosurePolicy& policy);

/**
 * Linked tables (DESIGN §6): tables computed from the same records, protected together so that
 * no combination of them narrows a hidden cell. `joint` counts the records cross-classified by
 * every dimension any table uses; each view keeps some of its dimensions (1 to 3, ascending)
 * and sums over the rest: WRES 5 and WDES 4a(i) are the views {answer, ethnicity} and
 * {answer, disability} of answer x ethnicity x disability, sharing the answer margin and the
 * number of respondents. Secondary suppression runs once over the joint table, in which the
 * cells no view shows are hidden anyway; each view is returned with the status of its cells
 * there, so a figure shared by two views is shown, or hidden, in both.
 */
std::vector<SuppressedTable> suppressLinked(const CountTable& joint, const std::vector<std::vector<std::size_t>>& views,
                                            const DisclosurePolicy& policy);

/** The view of `joint` that keeps dimensions `view` (in that order) and sums over the rest. */
CountTable project(const CountTable& joint, const std::vector<std::size_t>& view);

/** `count` rounded to the nearest multiple of `base` (halves up); unchanged for base 0. */
std::int64_t roundCount(std::int64_t count, int base);

/** Throws DisclosureError naming the field if the policy is not allowed. */
void validatePolicy(const DisclosurePolicy& policy);

// ---------------------------------------------------------------------------------------------
// The cell-key method (ONS Census 2021, ABS TableBuilder), for counts re-published over time.
// Any exact count that is published again as people join and leave can be differenced: two
// releases one person apart give that person away. So each record carries a random key, drawn
// once when the record is created; a cell's key is the sum of its records' keys modulo 256; and
// a fixed, public table maps (count, cell key) to a small change. The same people always give the
// same cell key, so the same figure, in every table, page and export, however often it is asked
// for; one person more or less gives an unrelated key, so their change hides in the noise.
// ---------------------------------------------------------------------------------------------

/** A record's key, 0..255. */
using RecordKey = std::uint8_t;

/** A new record key from the CSPRNG (OpenSSL). Draw it once, when the record is created, and keep it secret. */
RecordKey newRecordKey();

/**
 * The perturbation table. For a count c and a cell key:
 *  - c = 0 stays 0 (a cell with no records has key 0 and nobody to protect);
 *  - 1 <= c <= k-1 is hidden: primary suppression has already hidden it, and the table never
 *    turns it into a number (neither 0 nor k: a shown 0 must mean nobody);
 *  - c >= k becomes c + change(cell key), the change in -maxChange()..+maxChange() drawn by the
 *    key from weights() (how many of the 256 keys give each change);
 *  - where c + change would fall below k, the cell is hidden instead, as if it were small: so a
 *    released figure is never 1..k-1, and the edge between hidden and shown is itself noisy
 *    (a group of k to k+maxChange()-1 people is sometimes hidden).
 * README ("Cell-key perturbation") gives the standard table's parameters and why.
 */
class PerturbationTable {
public:
  /** weights[i] keys out of 256 give the change i - (weights.size() - 1) / 2; an odd count of weights summing to 256. */
  explicit PerturbationTable(std::vector<int> weights);
  /** The table every keyed release uses: changes -3..+3, each for 36 or 37 of the 256 keys. */
  static const PerturbationTable& standard();

  int maxChange() const { return maxChange_; }
  const std::vector<int>& weights() const { return weights_; }
  /** The change a cell key gives a count of at least k (before the edge rule above). */
  int change(RecordKey cellKey) const { return changeByKey_[cellKey]; }
  /** The released figure for a true count, or std::nullopt when the cell is hidden. */
  std::optional<std::int64_t> perturb(std::int64_t count, RecordKey cellKey, int threshold) const;
  /** Over a uniform cell key, for counts of at least k + maxChange(): */
  double variance() const;            ///< E[change^2] (the mean change is 0).
  double meanAbsoluteChange() const;  ///< E[|change|].
  double changedShare() const;        ///< P(change != 0).

private:
  std::vector<int> weights_;
  int maxChange_ = 0;
  std::vector<int> changeByKey_; ///< 256 entries.
};

// ---------------------------------------------------------------------------------------------
// Tables people read: labelled, optionally hierarchical, with records for the release ledger.
// Plugins build a Table and release it through host.disclosure() (Host.hpp), which applies the
// configured policy and the ledger; they never call suppress() on their own figures.
// ---------------------------------------------------------------------------------------------

/**
 * A dimension of a Table: its categories in display order and, optionally, a group for each
 * category (pay band -> band cluster, directorate -> division), which adds a released
 * subtotal per group. Every group's categories must be listed together.
 */
struct Dimension {
  std::string name;                    ///< "Pay band"
  std::vector<std::string> categories; ///< "Band 5", "Band 6", ...
  std::vector<std::string> groups;     ///< Empty, or one group label per category ("AfC 5-7").
  std::string totalLabel = "Total";
};

/** One position along a dimension of a Table: a category, a group's subtotal, or the total. */
struct Position {
  enum class Kind { Category, Group, Total };
  Kind kind = Kind::Category;
  std::string label;
  int depth = 0; ///< 1 for a category inside a group (indent it), else 0.
};

/**
 * Counts over one to three labelled dimensions. Cells are addressed by position: along each
 * dimension, positions() lists each group's subtotal followed by its categories (or just the
 * categories when ungrouped), then the total. Totals and subtotals are derived.
 */
class Table {
public:
  /** Throws DisclosureError for no or more than three dimensions, empty or repeated labels, or bad groups. */
  explicit Table(std::vector<Dimension> dimensions);

  const std::vector<Dimension>& dimensions() const { return dimensions_; }
  const std::vector<Position>& positions(std::size_t dimension) const { return positions_.at(dimension); }

  /** Adds `count` people to the category cell named by one category label per dimension. */
  void add(const std::vector<std::string>& categories, std::int64_t count = 1);
  /**
   * Adds one person, by the stable id of their record (a membership row, a submission), so the
   * release ledger can tell whether a later release differs from this one by fewer than k.
   */
  void addRecord(std::uint32_t record, const std::vector<std::string>& categories);
  /**
   * Adds one person with their record key (newRecordKey(), drawn once and kept with the record):
   * the table's released counts are then perturbed by the cell-key method (PerturbationTable).
   * Use it for counts that are re-published as they change (membership, dashboards). A table's
   * records either all have keys or none do; mixing them throws DisclosureError.
   */
  void addRecord(std::uint32_t record, RecordKey key, const std::vector<std::string>& categories);
  bool hasRecords() const { return !records_.empty(); }
  /** Whether the records were added with keys, so releases are perturbed. */
  bool hasKeys() const { return !keySums_.empty(); }
  /** A cell's key: the sum of its records' keys modulo 256 (0 without keys). */
  RecordKey cellKey(const std::vector<std::size_t>& position) const { return cellKeyAt(flatOffset(position)); }
  /** The key of a flat cell (margins included), as cellKey. */
  RecordKey cellKeyAt(std::size_t flatOffset) const;

  /** The true count at a position (one position index per dimension). */
  std::int64_t count(const std::vector<std::size_t>& position) const;
  /** Every cell's position, row-major over positions(). */
  std::vector<std::vector<std::size_t>> allPositions() const;
  /** Each cell's record ids (sorted, distinct), in allPositions() order; empty without records. */
  std::vector<std::vector<std::uint32_t>> recordsByCell() const;
  /** "Pay band=AfC 5-7; Ethnicity=BME": a cell, for ledger entries and messages. */
  std::string describe(const std::vector<std::size_t>& position) const;

  /** The flat engine table (hierarchies embedded as extra dimensions with structural zeros). */
  const CountTable& flat() const { return flat_; }
  /** The flat offset of a position. */
  std::size_t flatOffset(const std::vector<std::size_t>& position) const;

private:
  std::vector<std::size_t> flatIndex(const std::vector<std::size_t>& position) const;
  std::vector<std::size_t> categoryIndex(const std::vector<std::string>& categories) const;

  struct Axis {                                   // How one dimension maps onto flat dimensions.
    bool grouped = false;
    std::size_t firstFlat = 0;                    // Its first flat dimension.
    std::vector<std::size_t> groupOf;             // Category -> group index.
    std::vector<std::size_t> groupCount;          // Categories per group.
    std::vector<std::pair<Position::Kind, std::size_t>> at; // Position -> (kind, category or group).
  };
  std::vector<Dimension> dimensions_;
  std::vector<std::vector<Position>> positions_;
  std::vector<Axis> axes_;
  CountTable flat_;
  std::vector<std::vector<std::uint32_t>> records_; // Per flat category cell, when records are used.
  std::vector<std::uint32_t> keySums_;              // Per flat category cell, when records have keys.
  std::size_t unkeyedRecords_ = 0;
};

/**
 * A released figure: a count, a rate, a mean or a relative likelihood, with its status. The
 * value is present only when the figure is released.
 */
struct Figure {
  enum class Kind { Count, Percentage, Mean, Ratio };
  Kind kind = Kind::Count;
  CellStatus status = CellStatus::Released;
  std::optional<double> value;
  std::string reason; ///< kHiddenExplanation when hidden (the same for every hidden figure); empty when released.
  bool released() const { return isReleased(status); }
};

/** A Table after disclosure control. */
class ReleasedTable {
public:
  ReleasedTable(Table table, SuppressedTable suppressed, DisclosurePolicy policy)
      : table_(std::move(table)), suppressed_(std::move(suppressed)), policy_(policy) {}

  const Table& table() const { return table_; }
  const DisclosurePolicy& policy() const { return policy_; }
  CellStatus status(const std::vector<std::size_t>& position) const;
  /** The released count (rounded if the policy rounds), or std::nullopt. */
  std::optional<std::int64_t> value(const std::vector<std::size_t>& position) const;
  /** The cell as a Figure, with the reason when hidden. */
  Figure figure(const std::vector<std::size_t>& position) const;
  /** Cells (of this table's positions) with the status. */
  std::size_t cells(CellStatus status) const;
  /** The flat engine result, for auditing. */
  const SuppressedTable& flat() const { return suppressed_; }
  /** Whether the released values are perturbed (the table's records had keys). */
  bool perturbed() const { return !perturbed_.empty(); }

private:
  friend ReleasedTable perturb(ReleasedTable released, const PerturbationTable& perturbation);
  Table table_;
  SuppressedTable suppressed_;
  DisclosurePolicy policy_;
  std::vector<std::optional<std::int64_t>> perturbed_; ///< Per flat cell, when perturbed.
};

/**
 * The cell-key method applied to a released table whose records have keys: every released
 * count becomes PerturbationTable::perturb of its true count and cell key (then rounded, if the
 * policy rounds); a count the table hides becomes Secondary. Hidden cells stay hidden. A table
 * without keys is returned as it is.
 */
ReleasedTable perturb(ReleasedTable released, const PerturbationTable& perturbation = PerturbationTable::standard());

/**
 * Applies the policy to a Table under the measure's rule (no ledger: DisclosureControl::release
 * adds that). SurveyProportions needs at least two dimensions, the last (the answer) ungrouped.
 */
ReleasedTable suppress(const Table& table, const DisclosurePolicy& policy, MeasureRule rule = MeasureRule::PeopleCounts);

/**
 * The whole table held back: every cell Differencing. What the ledger gives when any cell of
 * at least k people differs from a figure already released by 1 to k-1 people. Holding back
 * only the cells that changed would not do: which cells are hidden, or the earlier value of a
 * cell hidden now, would point at the change.
 */
ReleasedTable holdBack(const Table& table, const DisclosurePolicy& policy);

/**
 * Rates (DESIGN §6): a rate is released only when every count in it is released; it is
 * computed from the released counts (so from rounded ones when the policy rounds). Otherwise
 * it is RateSuppressed. A rate over an empty group is RateSuppressed too. A percentage is
 * rounded to a whole number, as survey results are published (DESIGN §6).
 */
Figure percentage(const Figure& numerator, const Figure& denominator);
/** WRES-style relative likelihood: (aEvents / aTotal) / (bEvents / bTotal). */
Figure relativeLikelihood(const Figure& aEvents, const Figure& aTotal, const Figure& bEvents, const Figure& bTotal);
/** A mean (an engagement score) over `respondents` people: released when that count is. */
Figure mean(double value, const Figure& respondents);

/**
 * "released", "rounded", "primary", "secondary", "differencing", "rate-suppressed", "withheld":
 * for the audit log and tests only. Never put it in a page, export or API (publicStatusName).
 */
const char* statusName(CellStatus status);
/** What output may say of a figure: "released", "rounded" or "hidden", never why it is hidden. */
const char* publicStatusName(CellStatus status);

/**
 * How to show a figure. `text` is what is seen ("42", "40", "*", "13%"); every hidden figure is
 * "*" with kHiddenExplanation as its hint. `hint` is extra words for screen readers, shown
 * visually hidden (nhsuk-u-visually-hidden), empty when the text says it all.
 */
struct FigureText {
  std::string text;
  std::string hint;
};
FigureText displayText(const Figure& figure, const DisclosurePolicy& policy);
/**
 * For templates: {"text", "hint", "hidden", "status"} (status as publicStatusName). The core template "core/figure" renders
 * it with the hint visually hidden; put the result in a cell with {{{figure}}}:
 *   cell["figure"] = host.renderer().render("core/figure", belonging::templateData(figure, policy));
 */
nlohmann::json templateData(const Figure& figure, const DisclosurePolicy& policy);
/** For CSV: the value, or "*" when hidden. */
std::string csvText(const Figure& figure);
/** For JSON APIs: {"value": 42 | null, "status": "released" | "rounded" | "hidden"}. */
nlohmann::json toJson(const Figure& figure);

} // namespace belonging
