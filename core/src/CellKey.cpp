// The cell-key method (Disclosure.hpp): record keys, the perturbation table, and its application
// to a released table. README, "Cell-key perturbation", says why the table is what it is.

#include <belonging/Disclosure.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <stdexcept>
#include <string>

namespace belonging {

RecordKey newRecordKey() {
  unsigned char key = 0;
  // A predictable key would let an intruder who knows their helpers' keys work out the noise.
  if (RAND_bytes(&key, 1) != 1) throw std::runtime_error("the CSPRNG could not give a record key");
  return key;
}

PerturbationTable::PerturbationTable(std::vector<int> weights) : weights_(std::move(weights)) {
  if (weights_.size() % 2 == 0) throw DisclosureError("a perturbation table needs an odd number of weights, centred on 0");
  if (std::any_of(weights_.begin(), weights_.end(), [](int weight) { return weight < 0; }) ||
      std::accumulate(weights_.begin(), weights_.end(), 0) != 256) {
    throw DisclosureError("a perturbation table's weights must be non-negative and share out the 256 cell keys");
  }
  maxChange_ = static_cast<int>(weights_.size() / 2);
  // Keys in order, a run per change: with uniform cell keys each change has its weight / 256.
  changeByKey_.reserve(256);
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    changeByKey_.insert(changeByKey_.end(), static_cast<std::size_t>(weights_[i]), static_cast<int>(i) - maxChange_);
  }
}

const PerturbationTable& PerturbationTable::standard() {
  // Changes -3..+3, each for 36 or 37 of the 256 keys, symmetric so the mean change is 0. Why
  // this wide rather than the ONS's "about 14% of cells changed": see README.
  static const PerturbationTable table({36, 37, 37, 36, 37, 37, 36});
  return table;
}

std::optional<std::int64_t> PerturbationTable::perturb(std::int64_t count, RecordKey cellKey, int threshold) const {
  if (count <= 0) return 0;
  if (count < threshold) return std::nullopt;
  const std::int64_t released = count + change(cellKey);
  if (released < threshold) return std::nullopt;
  return released;
}

double PerturbationTable::variance() const {
  double sum = 0;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    const double change = static_cast<double>(static_cast<int>(i) - maxChange_);
    sum += weights_[i] * change * change;
  }
  return sum / 256.0;
}

double PerturbationTable::meanAbsoluteChange() const {
  double sum = 0;
  for (std::size_t i = 0; i < weights_.size(); ++i) sum += weights_[i] * std::abs(static_cast<int>(i) - maxChange_);
  return sum / 256.0;
}

double PerturbationTable::changedShare() const { return 1.0 - weights_[static_cast<std::size_t>(maxChange_)] / 256.0; }

ReleasedTable perturb(ReleasedTable released, const PerturbationTable& perturbation) {
  const Table& table = released.table_;
  if (!table.hasKeys()) return released;
  const CountTable& shape = table.flat();
  const int threshold = released.policy_.threshold;
  std::vector<CellStatus> status(shape.cellCount());
  released.perturbed_.assign(shape.cellCount(), std::nullopt);
  for (std::size_t cell = 0; cell < shape.cellCount(); ++cell) {
    status[cell] = released.suppressed_.statusAt(cell);
    // Structural zeros are known to all and stay 0, like any count of nobody.
    if (!isReleased(status[cell]) || shape.isStructuralZero(cell)) {
      if (isReleased(status[cell])) released.perturbed_[cell] = 0;
      continue;
    }
    const auto value = perturbation.perturb(shape.atOffset(cell), table.cellKeyAt(cell), threshold);
    if (!value) {
      status[cell] = CellStatus::Secondary; // Hidden like any other cell: the noise took it under k.
      continue;
    }
    released.perturbed_[cell] = status[cell] == CellStatus::Rounded ? roundCount(*value, released.policy_.roundTo) : *value;
  }
  released.suppressed_ = SuppressedTable(shape, std::move(status), released.policy_.roundTo);
  return released;
}

} // namespace belonging
