#include "DemoData.hpp"

#include <ctime>
#include <random>

namespace experience {
namespace {

std::string dateFromToday(int days) {
  const std::time_t at = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
  std::tm parts{};
  gmtime_r(&at, &parts);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d", &parts);
  return buffer;
}

/** A made-up respondent: answers drawn with rates that differ by group, as real results often do. */
nlohmann::json demoAnswers(std::mt19937& random, const Questionnaire& asked) {
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(random) < p; };
  auto pick = [&](const std::vector<std::string>& values) {
    return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(random)];
  };
  nlohmann::json answers = nlohmann::json::object();
  const bool bme = chance(0.3), disabled = chance(0.2);
  answers["ethnicity"] = chance(0.05) ? "prefer-not" : bme ? "bme" : "white";
  answers["disability"] = chance(0.05) ? "prefer-not" : disabled ? "yes" : "no";
  const double burden = 1.0 + (bme ? 0.3 : 0.0) + (disabled ? 0.4 : 0.0);
  auto times = [&](double base) { return chance(base * burden) ? pick({"1-2", "3-5", "6-10", "more-than-10"}) : "never"; };
  answers["public_harassment"] = times(0.25);
  answers["manager_harassment"] = times(0.1);
  answers["colleague_harassment"] = times(0.15);
  answers["reported"] = chance(0.5) ? "yes" : chance(0.5) ? "no" : "not-applicable";
  answers["discrimination"] = chance(0.06 * burden * burden) ? "yes" : "no";
  answers["career_fair"] = chance(0.6 / burden) ? "yes" : pick({"no", "dont-know"});
  answers["pressure_to_work"] = chance(0.2 * burden) ? "yes" : pick({"no", "not-applicable"});
  answers["valued"] = pick({"very-dissatisfied", "dissatisfied", "neither", "satisfied", "satisfied", "very-satisfied"});
  if (disabled) answers["adjustments"] = chance(0.7) ? "yes" : pick({"no", "not-needed"});
  for (const char* item : {"engagement_look_forward", "engagement_improvements", "engagement_recommend"}) {
    answers[item] = pick({"disagree", "neither", "agree", "agree", "strongly-agree"});
  }
  const Question* directorate = asked.question("directorate");
  answers["directorate"] = directorate->options[std::uniform_int_distribution<std::size_t>(
                                                     0, directorate->options.size() - 2)(random)].value;
  answers["band_cluster"] = pick({"afc-1-4", "afc-5-7", "afc-5-7", "afc-5-7", "afc-8a-8b", "afc-8c-vsm", "medical-dental"});
  answers["staff_group"] = pick({"nursing-midwifery", "medical-dental", "allied-health", "admin-clerical", "admin-clerical"});
  if (chance(0.7)) answers["age_band"] = pick({"16-30", "31-40", "41-50", "51-65"});
  return answers;
}

} // namespace

void seedDemo(ExperienceService& service) {
  if (!service.waves.all().empty()) return;
  const int version = service.latestVersion();
  const Questionnaire& asked = service.questionnaire(version);

  const auto closed = service.createWave("Staff experience, spring " + dateFromToday(-200).substr(0, 4),
                                         dateFromToday(-200), dateFromToday(-170));
  service.openWave(closed);
  std::mt19937 random(20261121);
  const char* comments[] = {"The new rota system has made a real difference to my team.",
                            "I would like more flexible working for carers.",
                            "Managers should get training on reasonable adjustments.",
                            "Thank you for the staff network events this year."};
  for (int i = 0; i < 900; ++i) {
    Submission submission;
    submission.waveId = closed;
    submission.questionnaireVersion = version;
    submission.credentialHash = credentialHash("demo", closed, std::to_string(i) + ":" + std::to_string(random()));
    submission.answers = demoAnswers(random, asked).dump();
    if (i % 90 == 0) submission.comment = comments[(i / 90) % 4];
    service.anonymous.submit(std::move(submission));
  }
  service.closeWave(closed);

  const auto open = service.createWave("Staff experience, winter " + dateFromToday(0).substr(0, 4), dateFromToday(-7),
                                       dateFromToday(30));
  service.openWave(open);
}

} // namespace experience
