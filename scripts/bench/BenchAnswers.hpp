#pragma once
// One full, valid answer set per scripted person for questionnaire v1, shared by the
// benchmark and the soak so both exercise the same validation path.

#include <nlohmann/json.hpp>

#include <cstddef>

/** Person i's answers: varied across people, always valid (the Disabled get the WDES 8 question). */
inline nlohmann::json answersFor(std::size_t i) {
  static const char* const times[] = {"never", "1-2", "3-5", "6-10", "more-than-10"};
  static const char* const agree[] = {"strongly-disagree", "disagree", "neither", "agree", "strongly-agree"};
  const bool disabled = i % 5 == 0;
  nlohmann::json answers{{"public_harassment", times[i % 5]},
                         {"manager_harassment", times[(i / 5) % 5]},
                         {"colleague_harassment", times[(i / 25) % 5]},
                         {"reported", i % 2 ? "yes" : "no"},
                         {"discrimination", i % 3 ? "no" : "yes"},
                         {"career_fair", i % 4 ? "yes" : "dont-know"},
                         {"pressure_to_work", i % 3 ? "no" : "yes"},
                         {"valued", "satisfied"},
                         {"engagement_look_forward", agree[i % 5]},
                         {"engagement_improvements", agree[(i / 5) % 5]},
                         {"engagement_recommend", agree[(i / 25) % 5]},
                         {"ethnicity", i % 3 ? "white" : "bme"},
                         {"disability", disabled ? "yes" : "no"},
                         {"staff_group", "nursing-midwifery"},
                         {"band_cluster", "afc-5-7"},
                         {"sex", i % 2 ? "female" : "male"}};
  if (disabled) answers["adjustments"] = "yes";
  return answers;
}
