#pragma once
// The ledger of released populations behind "across releases" disclosure control (DESIGN §6).
// Suppressing small cells protects one table; it does not protect two tables whose populations
// differ by a few people, because subtracting one figure from the other isolates them. So every
// release records which records it was computed over, and a later release of the same measure,
// in any period, whose record set differs from a recorded one by 1..k-1 records is flagged.
// The ledger lives in the database so that every instance, in every process, sees one history.

#include <belonging/Host.hpp>
#include <belonging/Registrar.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace belonging {

/** One population a release is computed over. */
struct LedgerPopulation {
  std::string definition;             ///< Human-readable, e.g. "network=lgbtq; kind=ally; cell=Total".
  std::vector<std::uint32_t> records; ///< Stable record ids, any order; duplicates are ignored.
};

class ReleaseLedger {
public:
  /** Decides, from differencing[i], which populations are actually published (released[i]). */
  using Decision = std::function<std::vector<bool>(const std::vector<bool>& differencing)>;

  explicit ReleaseLedger(Database& database);

  /** The ledger's tables, to be applied with the core's migrations. */
  static std::vector<Migration> migrations();

  /**
   * In one transaction, serialised per measure across instances and processes: loads the
   * earlier releases of the measure, in every period (the period only labels a release: a new
   * month or wave must not reset the history); sets differencing[i] when populations[i]
   * differs from an earlier recorded set by 1..threshold-1 records (symmetric difference);
   * calls decide(differencing), which returns released[i]; records every released population
   * with at least one record unless an identical set is already recorded; commits.
   * Populations of one call are compared with earlier releases only, not with each other: cells
   * of one table legitimately differ by a few records, and the table's secondary suppression
   * deals with that. If decide throws, nothing is recorded and the exception propagates.
   * decide runs while the measure is locked, so it should only compute.
   * If `published` is given, it is filled before decide runs: published[i] is true when
   * populations[i] is exactly a set already released, so its figure is public knowledge.
   * Throws std::invalid_argument for threshold < 1, std::logic_error when decide returns the
   * wrong number of answers, DatabaseError on corrupt stored data.
   */
  void release(const std::string& measure, const std::string& period, int threshold,
               const std::vector<LedgerPopulation>& populations, const Decision& decide,
               std::vector<bool>* published = nullptr);

  /** Number of distinct recorded populations for (measure, period): for tests and the admin. */
  std::size_t recordedCount(const std::string& measure, const std::string& period);

private:
  Database& database_;
};

} // namespace belonging
