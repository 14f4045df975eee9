#pragma once
// Publications (DESIGN §6: "a publication is an event"). A release of figures about people (a
// wave's results at close, a year's indicators, a monthly membership snapshot) is computed once,
// protected as a whole, and stored; every page, export and API afterwards reads the stored
// figures. Viewing never re-runs protection, so the same publication always shows the same
// figures, and nobody can make it re-run by viewing it at a chosen moment.
// The store lives in the identified database so that every instance serves one copy.

#include <belonging/Host.hpp>
#include <belonging/Registrar.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace belonging {

/** Publications as stored: keys carry the owning plugin's name ("experience/results.wave:3"). */
class PublicationStore {
public:
  explicit PublicationStore(Database& database);

  /** The store's table, to be applied with the core's migrations. */
  static std::vector<Migration> migrations();

  /**
   * The publication under `key`: read back if it exists; otherwise computed by `compute`
   * (which releases its figures through disclosure control) and stored. compute runs outside
   * any transaction, since releasing writes to the ledger; if two instances compute the same
   * key at once, the first stored wins and both return it. Throws std::invalid_argument for an
   * empty key or content that is not a JSON object; what compute throws propagates and nothing
   * is stored.
   */
  Publication once(const std::string& key, const std::function<nlohmann::json()>& compute);

  /** The publication under `key`, if it has been made. */
  std::optional<Publication> find(const std::string& key);

  /** The newest publication whose key starts with `prefix` (ties: the greatest key). */
  std::optional<Publication> latest(const std::string& prefix);

private:
  Database& database_;
};

} // namespace belonging
