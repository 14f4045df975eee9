#include "DisclosureService.hpp"

#include "Crypto.hpp"

#include <optional>

namespace belonging {
namespace {

/** How far past k - 1 the hold-back distance of a keyed table may reach: see holdBackMargin. */
constexpr unsigned kHoldBackSpread = 8;

} // namespace

int DisclosureService::holdBackMargin(const Table& table) {
  if (!table.hasKeys()) return 0;
  // With a fixed distance an intruder whose k-1 helpers leave learns from the hold-back alone
  // whether a colleague joined too (k-1 or k apart). So a keyed table is held back at a distance
  // of k-1 plus 0..kHoldBackSpread, drawn from its cells' keys: the same people always give the
  // same margin, and one person more gives an unrelated one. Hashed, so it says nothing about
  // the noise any single cell carries.
  std::string cells;
  for (const auto& position : table.allPositions()) {
    cells += std::to_string(table.cellKey(position)) + ":" + std::to_string(table.count(position)) + ";";
  }
  const std::string digest = crypto::sha256Hex("hold-back margin|" + cells);
  return static_cast<int>(std::stoul(digest.substr(0, 8), nullptr, 16) % (kHoldBackSpread + 1));
}


ReleasedTable DisclosureService::release(const Table& table, const ReleaseScope& scope) {
  if (scope.measure.empty() || scope.period.empty()) {
    throw DisclosureError("a release needs a measure and a period, so later releases can be compared with it");
  }
  const auto positions = table.allPositions();
  const auto records = table.recordsByCell();
  // The grand total's records must be exactly its count: every person added once, by record.
  const std::size_t grandTotal = positions.size() - 1;
  const auto people = table.count(positions[grandTotal]);
  if (people > 0 && (records[grandTotal].size() != static_cast<std::size_t>(people))) {
    throw DisclosureError("a table released through the ledger must be built with Table::addRecord, one distinct "
                          "record id per person (" + std::to_string(people) + " counted, " +
                          std::to_string(records[grandTotal].size()) + " distinct records)");
  }
  std::vector<LedgerPopulation> populations;
  populations.reserve(positions.size());
  for (std::size_t i = 0; i < positions.size(); ++i) {
    populations.push_back({scope.population + " | " + table.describe(positions[i]), records[i]});
  }
  std::optional<ReleasedTable> result;
  std::vector<bool> published;
  ledger_.release(owner_ + "/" + scope.measure, scope.period, policy_.threshold + holdBackMargin(table), populations,
                  [&](const std::vector<bool>& differencing) {
                    // Flags on cells under k do not matter: they are hidden anyway (or, under
                    // SurveyProportions, an answer count of a released group), and their
                    // changes show in the margins or group sizes, which are at least k.
                    bool hold = false;
                    for (std::size_t i = 0; i < positions.size() && !hold; ++i) {
                      hold = differencing[i] && table.count(positions[i]) >= policy_.threshold;
                    }
                    result.emplace(hold ? holdBack(table, policy_) : perturb(suppress(table, policy_, scope.rule)));
                    // A cell hidden to protect a small one protects nothing if its figure was
                    // published before for exactly these people: the earlier figure fills it
                    // back in. Hold the table back rather than release that.
                    for (std::size_t i = 0; i < positions.size() && !hold; ++i) {
                      hold = published[i] && result->status(positions[i]) == CellStatus::Secondary;
                    }
                    if (hold) result.emplace(holdBack(table, policy_));
                    std::vector<bool> released(positions.size());
                    for (std::size_t i = 0; i < positions.size(); ++i) {
                      released[i] = isReleased(result->status(positions[i]));
                    }
                    return released;
                  },
                  &published);
  return std::move(*result);
}

ReleasedTable DisclosureService::releaseCounts(const Table& table) { return suppress(table, policy_); }

namespace {

/** The plugin's view of a stored publication: its key without the owner's prefix. */
Publication owned(Publication stored, std::size_t prefixLength) {
  stored.key.erase(0, prefixLength);
  return stored;
}

} // namespace

Publication DisclosureService::publish(const std::string& key, const std::function<nlohmann::json()>& compute) {
  if (!publications_) throw std::logic_error("this disclosure service has no publication store");
  if (key.empty()) throw DisclosureError("a publication needs a key");
  const std::string prefix = owner_ + "/";
  return owned(publications_->once(prefix + key, compute), prefix.size());
}

std::optional<Publication> DisclosureService::latestPublication(const std::string& prefix) {
  if (!publications_) throw std::logic_error("this disclosure service has no publication store");
  const std::string owner = owner_ + "/";
  auto found = publications_->latest(owner + prefix);
  if (!found) return std::nullopt;
  return owned(std::move(*found), owner.size());
}

} // namespace belonging
