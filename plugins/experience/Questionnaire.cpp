#include "Questionnaire.hpp"

#include <belonging/EmbeddedFile.hpp>

#include <algorithm>
#include <cctype>

extern const belonging::EmbeddedFile experienceQuestionnaires[];

namespace experience {
namespace {

using nlohmann::json;

std::string text(const json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::set<std::string> stringSet(const json& object, const char* key) {
  std::set<std::string> values;
  if (const auto found = object.find(key); found != object.end()) {
    for (const auto& value : *found) values.insert(value.get<std::string>());
  }
  return values;
}

const char* kPreferNot = "prefer-not";

} // namespace

const Option* Question::option(const std::string& value) const {
  for (const auto& candidate : options) {
    if (candidate.value == value) return &candidate;
  }
  return nullptr;
}

std::string slugOf(const std::string& label) {
  std::string slug;
  for (const char c : label) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      slug += static_cast<char>(std::tolower(u));
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug;
}

Questionnaire Questionnaire::parse(const json& file, const std::vector<std::string>& directorates) {
  Questionnaire result;
  result.version_ = file.at("version").get<int>();
  result.title_ = text(file, "title");
  result.introduction_ = text(file, "introduction");
  for (const auto& sectionJson : file.at("sections")) {
    Section section{text(sectionJson, "heading"), text(sectionJson, "description"), {}};
    for (const auto& questionJson : sectionJson.at("questions")) {
      Question question;
      question.id = text(questionJson, "id");
      question.text = text(questionJson, "text");
      question.hint = text(questionJson, "hint");
      question.demographic = questionJson.value("demographic", false);
      question.select = questionJson.value("select", false);
      question.collapsesInto = text(questionJson, "collapsesInto");
      if (const auto onlyIf = questionJson.find("onlyIf"); onlyIf != questionJson.end()) {
        question.onlyIfQuestion = text(*onlyIf, "question");
        question.onlyIfValue = text(*onlyIf, "value");
      }
      if (text(questionJson, "fromSetting") == "directorates") {
        for (const auto& directorate : directorates) question.options.push_back({slugOf(directorate), directorate, {}});
        question.options.push_back({kPreferNot, "Prefer not to say", {}});
      } else {
        for (const auto& optionJson : questionJson.at("options")) {
          question.options.push_back({text(optionJson, "value"), text(optionJson, "label"), text(optionJson, "group")});
        }
      }
      if (question.id.empty() || question.options.empty()) {
        throw std::invalid_argument("questionnaire " + std::to_string(result.version_) +
                                    ": every question needs an id and options (" + question.id + ")");
      }
      section.questions.push_back(std::move(question));
    }
    result.sections_.push_back(std::move(section));
  }
  for (std::size_t s = 0; s < result.sections_.size(); ++s) {
    for (std::size_t q = 0; q < result.sections_[s].questions.size(); ++q) {
      const auto [at, added] = result.byId_.emplace(result.sections_[s].questions[q].id, std::make_pair(s, q));
      if (!added) throw std::invalid_argument("questionnaire: question " + at->first + " appears twice");
    }
  }
  const auto& comment = file.at("comment");
  result.commentId_ = text(comment, "id");
  result.commentText_ = text(comment, "text");
  result.commentHint_ = text(comment, "hint");
  result.commentMaxLength_ = comment.value("maxLength", std::size_t{2000});
  for (const auto& [name, splitJson] : file.at("splits").items()) {
    Split split{name, text(splitJson, "label"), {}, text(splitJson, "notStated")};
    for (const auto& group : splitJson.at("groups")) split.groups.emplace_back(text(group, "value"), text(group, "label"));
    result.splits_.emplace(name, std::move(split));
  }
  for (const auto& indicatorJson : file.at("indicators")) {
    Indicator indicator;
    indicator.id = text(indicatorJson, "id");
    indicator.standard = text(indicatorJson, "standard");
    indicator.number = text(indicatorJson, "number");
    indicator.title = text(indicatorJson, "title");
    indicator.split = text(indicatorJson, "split");
    indicator.onlyGroup = text(indicatorJson, "onlyGroup");
    indicator.engagement = text(indicatorJson, "kind") == "engagement";
    for (const auto& question : indicatorJson.at("questions")) indicator.questions.push_back(question.get<std::string>());
    indicator.positive = stringSet(indicatorJson, "positive");
    indicator.base = stringSet(indicatorJson, "base");
    if (const auto scores = indicatorJson.find("scores"); scores != indicatorJson.end()) {
      for (const auto& [value, score] : scores->items()) indicator.scores[value] = score.get<double>();
    }
    if (!result.splits_.contains(indicator.split)) {
      throw std::invalid_argument("indicator " + indicator.id + " splits by unknown \"" + indicator.split + "\"");
    }
    for (const auto& question : indicator.questions) {
      if (!result.byId_.contains(question)) {
        throw std::invalid_argument("indicator " + indicator.id + " uses unknown question " + question);
      }
    }
    result.indicators_.push_back(std::move(indicator));
  }
  return result;
}

const Question* Questionnaire::question(const std::string& id) const {
  const auto found = byId_.find(id);
  return found == byId_.end() ? nullptr : &sections_[found->second.first].questions[found->second.second];
}

std::map<std::string, std::string> Questionnaire::validate(const std::map<std::string, std::string>& answers) const {
  std::map<std::string, std::string> stored;
  for (const auto& [id, value] : answers) {
    if (value.empty()) continue; // Every question is optional; an empty answer is no answer.
    const Question* asked = question(id);
    if (!asked) throw AnswerError(id, "\"" + id + "\" is not a question in this questionnaire");
    if (!asked->option(value)) {
      throw AnswerError(id, "\"" + value + "\" is not one of the answers to \"" + asked->text + "\"");
    }
    stored[id] = value;
  }
  // Collapse detailed categories: the coarse group is what is analysed, and keeping the
  // detail would make a rare combination of answers easier to recognise.
  for (const auto& section : sections_) {
    for (const auto& asked : section.questions) {
      if (asked.collapsesInto.empty()) continue;
      const auto detail = stored.find(asked.id);
      if (detail == stored.end()) continue;
      const std::string group = asked.option(detail->second)->group;
      const auto coarse = stored.find(asked.collapsesInto);
      if (coarse == stored.end()) {
        stored[asked.collapsesInto] = group;
      } else if (coarse->second != group) {
        const Question* coarseQuestion = question(asked.collapsesInto);
        throw AnswerError(asked.id, "Your answer here does not match your answer to \"" +
                                        (coarseQuestion ? coarseQuestion->text : asked.collapsesInto) +
                                        "\": change one of them, or leave this one blank");
      }
      stored.erase(asked.id);
    }
  }
  for (const auto& section : sections_) {
    for (const auto& asked : section.questions) {
      if (asked.onlyIfQuestion.empty()) continue;
      const auto condition = stored.find(asked.onlyIfQuestion);
      if (condition == stored.end() || condition->second != asked.onlyIfValue) stored.erase(asked.id);
    }
  }
  return stored;
}

std::string Questionnaire::cleanComment(const std::string& comment) const {
  std::string clean;
  clean.reserve(comment.size());
  for (const char c : comment) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\n' && c != '\t') continue;
    if (u == 0x7f) continue;
    clean += c;
  }
  const auto first = clean.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  clean = clean.substr(first, clean.find_last_not_of(" \t\r\n") - first + 1);
  // Count characters, not bytes: the limit is stated to people in characters.
  std::size_t characters = 0;
  for (const char c : clean) characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  if (characters > commentMaxLength_) {
    throw AnswerError(commentId_, "Your comment is " + std::to_string(characters) + " characters; the most is " +
                                      std::to_string(commentMaxLength_));
  }
  return clean;
}

json Questionnaire::formData(const std::map<std::string, std::string>& selected, const std::string& errorField,
                             const std::string& errorMessage) const {
  json sections = json::array();
  int questionNumber = 0;
  for (const auto& section : sections_) {
    json questions = json::array();
    for (const auto& asked : section.questions) {
      ++questionNumber;
      const auto chosen = selected.find(asked.id);
      json options = json::array();
      int optionNumber = 0;
      for (const auto& option : asked.options) {
        ++optionNumber;
        const bool checked = chosen != selected.end() && chosen->second == option.value;
        options.push_back({{"value", option.value},
                           {"label", option.label},
                           {"inputId", asked.id + "-" + std::to_string(optionNumber)},
                           {"checked", checked}});
      }
      json question{{"id", asked.id},   {"text", asked.text},     {"hint", asked.hint},
                    {"options", options}, {"select", asked.select}, {"number", questionNumber}};
      if (asked.id == errorField) question["error"] = errorMessage;
      questions.push_back(std::move(question));
    }
    sections.push_back({{"heading", section.heading}, {"description", section.description}, {"questions", questions}});
  }
  json comment{{"id", commentId_}, {"text", commentText_}, {"hint", commentHint_}, {"maxLength", commentMaxLength_}};
  if (const auto found = selected.find(commentId_); found != selected.end()) comment["value"] = found->second;
  if (errorField == commentId_) comment["error"] = errorMessage;
  return {{"title", title_}, {"introduction", introduction_}, {"sections", sections}, {"comment", comment}};
}

std::map<int, Questionnaire> shippedQuestionnaires(const std::vector<std::string>& directorates) {
  std::map<int, Questionnaire> shipped;
  for (const auto* file = experienceQuestionnaires; file->name; ++file) {
    auto questionnaire = Questionnaire::parse(json::parse(file->text), directorates);
    const int version = questionnaire.version();
    shipped.emplace(version, std::move(questionnaire));
  }
  return shipped;
}

} // namespace experience
