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
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace belonging {

/** Disclosure policy. The threshold is never below 5 (DESIGN §6); 11 is NHS Staff Survey practice. */
struct DisclosurePolicy {
  int threshold = 11;      ///< k: counts 1..k-1 are not released.
  bool releaseTotals = true; ///< Whether margins (row, column, grand totals) are released.
};

/** Why a cell is or is not released. */
enum class CellStatus {
  Released,  ///< Shown as is.
  Primary,   ///< Counts 1..k-1 people.
  Secondary, ///< Hidden so that a primary cell cannot be worked out by subtraction.
  Withheld,  ///< A margin the policy does not publish (releaseTotals = false).
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
  /** `sizes[d]` categories in dimension d; 1 to 3 dimensions, each with at least one category. */
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

private:
  std::vector<std::size_t> sizes_;
  std::vector<std::size_t> strides_;
  std::vector<std::int64_t> values_;
};

/** A table after disclosure control: each cell's status, and its value only if released. */
class SuppressedTable {
public:
  SuppressedTable(CountTable table, std::vector<CellStatus> status)
      : table_(std::move(table)), status_(std::move(status)) {}

  const CountTable& shape() const { return table_; }
  CellStatus status(const std::vector<std::size_t>& index) const { return status_[table_.offset(index)]; }
  CellStatus statusAt(std::size_t offset) const { return status_[offset]; }
  /** The count if released; std::nullopt if hidden. */
  std::optional<std::int64_t> value(const std::vector<std::size_t>& index) const;
  std::size_t hiddenCells(CellStatus which) const;
  /** People in hidden category cells (margins not counted), for summaries. */
  std::int64_t hiddenPeople() const;

private:
  CountTable table_;
  std::vector<CellStatus> status_;
};

/**
 * Applies primary and, where totals are released, secondary suppression. Throws
 * DisclosureError for a threshold below 5.
 */
SuppressedTable suppress(const CountTable& table, const DisclosurePolicy& policy);

} // namespace belonging
