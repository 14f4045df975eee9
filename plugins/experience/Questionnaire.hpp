#pragma once
// A versioned questionnaire, read from a data file shipped with the plugin
// (questionnaires/v<N>.json). A wave names the version it uses, so changing the questions
// for next year never changes how last year's answers are read.

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace experience {

/** An answer that is not allowed; `field` names the question (the form field) at fault. */
class AnswerError : public std::invalid_argument {
public:
  AnswerError(std::string field, const std::string& message) : std::invalid_argument(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

private:
  std::string field_;
};

struct Option {
  std::string value;
  std::string label;
  std::string group; ///< For a detailed category: the coarse value it collapses into.
};

struct Question {
  std::string id;
  std::string text;
  std::string hint;
  std::vector<Option> options;
  bool demographic = false;
  bool select = false;           ///< Shown as a drop-down (a long optional list).
  std::string collapsesInto;     ///< Detailed answer replaced by its option's group in this question.
  std::string onlyIfQuestion;    ///< Kept only when that question has `onlyIfValue`.
  std::string onlyIfValue;
  const Option* option(const std::string& value) const;
};

struct Section {
  std::string heading;
  std::string description;
  std::vector<Question> questions;
};

/** A WRES indicator or WDES metric computed from answers. */
struct Indicator {
  std::string id;       ///< "wres5"
  std::string standard; ///< "WRES" or "WDES"
  std::string number;   ///< "5", "4a(i)"
  std::string title;
  std::string split;    ///< "ethnicity" or "disability"
  std::string onlyGroup; ///< Only respondents in this group of the split (WDES 8: Disabled).
  bool engagement = false; ///< A mean score rather than a percentage.
  std::vector<std::string> questions;
  std::set<std::string> positive;
  std::set<std::string> base;
  std::map<std::string, double> scores;
};

/** How respondents are split for an indicator: the groups compared, and the rest. */
struct Split {
  std::string question; ///< "ethnicity"
  std::string label;    ///< "Ethnicity"
  std::vector<std::pair<std::string, std::string>> groups; ///< (value, label): White, BME.
  std::string notStated;
};

class Questionnaire {
public:
  /**
   * Reads a questionnaire file. Questions with "fromSetting": "directorates" get one option
   * per directorate (plus "Prefer not to say"). Throws std::invalid_argument naming the fault.
   */
  static Questionnaire parse(const nlohmann::json& file, const std::vector<std::string>& directorates);

  int version() const { return version_; }
  const std::string& title() const { return title_; }
  const std::vector<Section>& sections() const { return sections_; }
  const std::vector<Indicator>& indicators() const { return indicators_; }
  const Split& split(const std::string& name) const { return splits_.at(name); }
  const Question* question(const std::string& id) const;
  std::size_t commentMaxLength() const { return commentMaxLength_; }

  /**
   * Checks answers (question id -> option value) and returns what is stored: unknown
   * questions and values refused with AnswerError naming the question; detailed categories
   * collapsed into their coarse group (the detail is never stored); conditional questions
   * dropped when their condition does not hold. Every question is optional.
   */
  std::map<std::string, std::string> validate(const std::map<std::string, std::string>& answers) const;
  /** Cleans free text: control characters other than line breaks removed, length checked. */
  std::string cleanComment(const std::string& comment) const;

  /** Template data for the form, with `selected` answers checked and `errorField` marked. */
  nlohmann::json formData(const std::map<std::string, std::string>& selected, const std::string& errorField = {},
                          const std::string& errorMessage = {}) const;

private:
  int version_ = 0;
  std::string title_;
  std::string introduction_;
  std::vector<Section> sections_;
  std::vector<Indicator> indicators_;
  std::map<std::string, Split> splits_;
  std::map<std::string, std::pair<std::size_t, std::size_t>> byId_; // Indices, so copies stay valid.
  std::string commentId_ = "comment";
  std::string commentText_;
  std::string commentHint_;
  std::size_t commentMaxLength_ = 2000;
};

/** The questionnaire versions shipped with the plugin, parsed for these directorates. */
std::map<int, Questionnaire> shippedQuestionnaires(const std::vector<std::string>& directorates);

/** "Finance and performance" -> "finance-and-performance": a form value for a label. */
std::string slugOf(const std::string& label);

} // namespace experience
