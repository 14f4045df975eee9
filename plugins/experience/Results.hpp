#pragma once
// WRES indicators 5-8 and WDES metrics 4-9a for a closed wave, every figure released through
// the disclosure engine: per indicator, a headline table (group x answer) and one table per
// breakdown (group x directorate x answer, group x pay-band cluster x answer), under the
// survey-proportions rule: a group's figures are shown when at least k of it answered, and
// every figure of a smaller group is hidden, zeros included. A breakdown's by-group margins
// repeat the headline's counts, so a breakdown is published only when it hides exactly the
// same of them (otherwise one table would give away what the other hid), and only when it
// shows something: otherwise one sentence says that too few answered.

#include "ExperienceService.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace experience {

struct WaveResults {
  nlohmann::json page; ///< Template data for templates/results.mustache.
  nlohmann::json json; ///< The JSON export.
  std::string csv;     ///< The CSV export.
};

/** Computes and releases the wave's results; the wave must be closed (ExperienceError 409). */
WaveResults buildResults(ExperienceService& service, const Wave& wave);

} // namespace experience
