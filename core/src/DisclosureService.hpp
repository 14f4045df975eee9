#pragma once
// The Host's disclosure control (DESIGN §6): the configured policy plus the release ledger.
// Each plugin gets its own instance, so its measures are prefixed with its name and one
// plugin's releases can never be mistaken for another's.

#include "PublicationStore.hpp"
#include "ReleaseLedger.hpp"

#include <belonging/Host.hpp>

#include <string>

namespace belonging {

class DisclosureService final : public DisclosureControl {
public:
  /** `owner` prefixes every measure ("networks/membership"). */
  DisclosureService(ReleaseLedger& ledger, const DisclosurePolicy& policy, std::string owner,
                    PublicationStore* publications = nullptr)
      : ledger_(ledger), policy_(policy), owner_(std::move(owner)), publications_(publications) {
    validatePolicy(policy_);
  }

  const DisclosurePolicy& policy() const override { return policy_; }
  ReleasedTable release(const Table& table, const ReleaseScope& scope) override;
  ReleasedTable releaseCounts(const Table& table) override;
  Publication publish(const std::string& key, const std::function<nlohmann::json()>& compute) override;
  std::optional<Publication> latestPublication(const std::string& prefix) override;

  /**
   * Records beyond k - 1 within which a change holds a table back: 0 for exact tables, 0..8
   * drawn from the cell keys of a keyed (perturbed) one.
   */
  static int holdBackMargin(const Table& table);

private:
  ReleaseLedger& ledger_;
  DisclosurePolicy policy_;
  std::string owner_;
  PublicationStore* publications_; ///< Null only in tests that publish nothing.
};

} // namespace belonging
