// Fuzzes survey answer checking (plugins/experience/Questionnaire.cpp: validate and
// cleanComment) with the shipped questionnaire, as ExperienceService::checkedAnswers uses it on
// an anonymous submission. Input: lines "question=value"; a "comment=" line is the free text
// (its "\n" escapes are line breaks, since the input is split on lines).

#include "FuzzSupport.hpp"
#include "experience/Questionnaire.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

using belonging::fuzz::check;
using belonging::fuzz::isUtf8;

namespace {
std::unique_ptr<experience::Questionnaire> questionnaire;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto shipped = experience::shippedQuestionnaires({"Finance and performance", "Nursing", "Estates"});
  check(shipped.contains(1), "questionnaire v1 is shipped");
  questionnaire = std::make_unique<experience::Questionnaire>(shipped.at(1));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> answers;
  std::string comment;
  while (!input.empty()) {
    const auto end = std::min(input.find('\n'), input.size());
    const std::string_view line = input.substr(0, end);
    input.remove_prefix(std::min(end + 1, input.size()));
    const auto equals = line.find('=');
    const std::string id(line.substr(0, equals));
    const std::string value(equals == std::string_view::npos ? std::string_view() : line.substr(equals + 1));
    if (id == "comment") {
      for (std::size_t at = 0; at < value.size(); ++at) {
        if (value.compare(at, 2, "\\n") == 0) {
          comment += '\n';
          ++at;
        } else {
          comment += value[at];
        }
      }
    } else {
      answers.emplace(id, value);
    }
  }
  const bool utf8 = isUtf8(std::string_view(reinterpret_cast<const char*>(data), size));

  try {
    const auto stored = questionnaire->validate(answers);
    nlohmann::json json = nlohmann::json::object();
    for (const auto& [id, value] : stored) {
      const experience::Question* asked = questionnaire->question(id);
      check(asked != nullptr && asked->option(value) != nullptr, "only known questions and their options are stored");
      check(asked->collapsesInto.empty(), "detailed categories are never stored");
      json[id] = value;
    }
    (void)json.dump(); // Stored as JSON: must not throw.
    const std::string clean = questionnaire->cleanComment(comment);
    for (const char c : clean) {
      const auto u = static_cast<unsigned char>(c);
      check(u >= 0x20 || c == '\n' || c == '\t', "a cleaned comment has no control characters");
      check(u != 0x7f, "a cleaned comment has no DEL");
    }
    check(!utf8 || isUtf8(clean), "cleaning keeps UTF-8 text UTF-8");
  } catch (const experience::AnswerError& error) {
    // The message is shown on the form and sent in JSON answers.
    // (formData, which shows it, is left out: it costs 100 times what validate does.)
    check(!utf8 || isUtf8(error.what()), "an answer error from UTF-8 input is UTF-8");
  }
  return 0;
}
