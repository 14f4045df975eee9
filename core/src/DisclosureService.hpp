#pragma once
// The Host's disclosure control (DESIGN §6): the configured policy plus the release ledger.
// Each plugin gets its own instance, so its measures are prefixed with its name and one
// plugin's releases can never be mistaken for another's.

#include "ReleaseLedger.hpp"

#include <belonging/Host.hpp>

#include <string>

namespace belonging {

class DisclosureService final : public DisclosureControl {
public:
  /** `owner` prefixes every measure ("networks/membership"). */
  DisclosureService(ReleaseLedger& ledger, const DisclosurePolicy& policy, std::string owner)
      : ledger_(ledger), policy_(policy), owner_(std::move(owner)) {
    validatePolicy(policy_);
  }

  const DisclosurePolicy& policy() const override { return policy_; }
  ReleasedTable release(const Table& table, const ReleaseScope& scope) override;
  ReleasedTable releaseCounts(const Table& table) override;

  /**
   * Records beyond k - 1 within which a change holds a table back: 0 for exact tables, 0..8
   * drawn from the cell keys of a keyed (perturbed) one.
   */
  static int holdBackMargin(const Table& table);

private:
  ReleaseLedger& ledger_;
  DisclosurePolicy policy_;
  std::string owner_;
};

} // namespace belonging
