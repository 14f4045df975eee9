#include "Results.hpp"

#include <belonging/Csv.hpp>
#include <belonging/Disclosure.hpp>

#include <cctype>
#include <cmath>
#include <optional>
#include <sstream>

namespace experience {
namespace {

using belonging::csvField;
using belonging::Figure;
using nlohmann::json;

constexpr const char* kNotStated = "Not stated";

/** The display label of each answer to a demographic question, "Not stated" for no answer or prefer-not. */
struct Breakdown {
  std::string key;   ///< "directorate"
  std::string name;  ///< "Directorate"
  std::vector<std::string> labels;
  std::map<std::string, std::size_t> index; ///< Answer value -> label index.

  std::size_t of(const StoredResponse& response) const {
    const auto answer = response.answers.find(key);
    if (answer == response.answers.end()) return labels.size() - 1;
    const auto found = index.find(answer->second);
    return found == index.end() ? labels.size() - 1 : found->second;
  }
};

Breakdown breakdownOf(const Questionnaire& asked, const std::string& key, const std::string& name) {
  Breakdown breakdown{key, name, {}, {}};
  if (const Question* question = asked.question(key)) {
    for (const auto& option : question->options) {
      if (option.value == "prefer-not") continue;
      breakdown.index[option.value] = breakdown.labels.size();
      breakdown.labels.push_back(option.label);
    }
  }
  breakdown.labels.push_back(kNotStated);
  return breakdown;
}

/** Where a response falls for an indicator, if it counts at all. */
struct Placement {
  std::size_t group = 0;
  bool positive = false;
  double score = 0; ///< Engagement: the respondent's mean item score.
};

std::optional<Placement> place(const Indicator& indicator, const Split& split, const StoredResponse& response) {
  Placement placement;
  const auto splitAnswer = response.answers.find(split.question);
  placement.group = split.groups.size(); // Not stated.
  for (std::size_t g = 0; g < split.groups.size(); ++g) {
    if (splitAnswer != response.answers.end() && splitAnswer->second == split.groups[g].first) placement.group = g;
  }
  if (!indicator.onlyGroup.empty()) {
    if (splitAnswer == response.answers.end() || splitAnswer->second != indicator.onlyGroup) return std::nullopt;
    placement.group = 0;
  }
  bool answered = false;
  double total = 0;
  int items = 0;
  for (const auto& question : indicator.questions) {
    const auto answer = response.answers.find(question);
    if (answer == response.answers.end()) continue;
    if (indicator.engagement) {
      if (const auto score = indicator.scores.find(answer->second); score != indicator.scores.end()) {
        total += score->second;
        ++items;
      }
    } else if (indicator.base.contains(answer->second)) {
      answered = true;
      placement.positive = placement.positive || indicator.positive.contains(answer->second);
    }
  }
  if (indicator.engagement) {
    if (items == 0) return std::nullopt;
    placement.score = total / items;
    return placement;
  }
  if (!answered) return std::nullopt;
  return placement;
}

std::string lowerCase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

} // namespace

namespace {

/** Releases every figure of a closed wave; run once per wave, by buildResults's publication. */
WaveResults computeResults(ExperienceService& service, const Wave& wave) {
  const Questionnaire& asked = service.questionnaire(wave.questionnaireVersion);
  const auto responses = service.anonymous.responses(wave.id);
  auto& disclosure = service.host.disclosure();
  const auto& policy = disclosure.policy();
  auto& renderer = service.host.renderer();
  const std::string period = "wave:" + std::to_string(wave.id);
  const std::string population = "respondents to " + wave.name;
  auto cell = [&](const Figure& figure) {
    return renderer.render("core/figure", belonging::templateData(figure, policy));
  };

  const std::vector<Breakdown> breakdowns{breakdownOf(asked, "directorate", "Directorate"),
                                          breakdownOf(asked, "band_cluster", "Pay band")};

  WaveResults results;
  std::ostringstream csv;
  csv << "wave,standard,indicator,title,breakdown,breakdown_value,group,numerator,denominator,value,status\r\n";
  json indicatorsJson = json::array();
  json indicatorsPage = json::array();

  // How many responded: one figure, released like every other.
  belonging::Table respondents({{"Wave", {wave.name}, {}}});
  for (const auto& response : responses) respondents.addRecord(response.sequence, {wave.name});
  const auto respondentRelease = disclosure.release(respondents, {"respondents", period, population});
  const Figure respondentCount = respondentRelease.figure({0});

  for (const auto& indicator : asked.indicators()) {
    const Split& split = asked.split(indicator.split);
    std::vector<std::string> groupLabels;
    if (indicator.onlyGroup.empty()) {
      for (const auto& [value, label] : split.groups) groupLabels.push_back(label);
      groupLabels.push_back(split.notStated);
    } else {
      for (const auto& [value, label] : split.groups) {
        if (value == indicator.onlyGroup) groupLabels.push_back(label);
      }
    }
    const std::size_t groups = groupLabels.size();
    // Percentages are released by the size of the group that answered (DESIGN §6); a mean's
    // table has no answer dimension: its cells are the group sizes, counted as people.
    const auto rule = indicator.engagement ? belonging::MeasureRule::PeopleCounts : belonging::MeasureRule::SurveyProportions;

    // Per breakdown: one table, and the released figures.
    struct Released {
      std::optional<belonging::ReleasedTable> table;
      std::map<std::pair<std::size_t, std::size_t>, double> scoreSums; // (group, category) -> sum, for means.
    };
    std::vector<Released> released(breakdowns.size());
    for (std::size_t b = 0; b < breakdowns.size(); ++b) {
      const Breakdown& breakdown = breakdowns[b];
      std::vector<belonging::Dimension> dimensions{{split.label, groupLabels, {}}, {breakdown.name, breakdown.labels, {}}};
      if (!indicator.engagement) dimensions.push_back({"Answer", {"Yes", "No"}, {}});
      belonging::Table table(dimensions);
      for (const auto& response : responses) {
        const auto placement = place(indicator, split, response);
        if (!placement) continue;
        const std::size_t category = breakdown.of(response);
        std::vector<std::string> labels{groupLabels[placement->group], breakdown.labels[category]};
        if (!indicator.engagement) labels.push_back(placement->positive ? "Yes" : "No");
        table.addRecord(response.sequence, labels);
        auto& sums = released[b].scoreSums;
        sums[{placement->group, category}] += placement->score;
        sums[{placement->group, breakdown.labels.size()}] += placement->score;
        sums[{groups, category}] += placement->score;
        sums[{groups, breakdown.labels.size()}] += placement->score;
      }
      released[b].table = disclosure.release(table, {indicator.id + "." + breakdown.key, period, population, rule});
    }

    // The headline, by group, is its own table. A breakdown table's by-group margins are the
    // same counts: it is shown only if it hides exactly what the headline hides there, since
    // otherwise one table would give away a cell the other hid.
    std::vector<belonging::Dimension> headlineDimensions{{split.label, groupLabels, {}}};
    if (!indicator.engagement) headlineDimensions.push_back({"Answer", {"Yes", "No"}, {}});
    belonging::Table headlineTable(headlineDimensions);
    for (const auto& response : responses) {
      const auto placement = place(indicator, split, response);
      if (!placement) continue;
      std::vector<std::string> labels{groupLabels[placement->group]};
      if (!indicator.engagement) labels.push_back(placement->positive ? "Yes" : "No");
      headlineTable.addRecord(response.sequence, labels);
    }
    const auto headline = disclosure.release(headlineTable, {indicator.id, period, population, rule});
    auto answerPositions = [&]() -> std::vector<std::optional<std::size_t>> {
      if (indicator.engagement) return {std::nullopt};
      return {0, 1, 2};
    };
    std::vector<bool> consistent(breakdowns.size(), true);
    for (std::size_t b = 0; b < breakdowns.size(); ++b) {
      for (std::size_t g = 0; g <= groups; ++g) {
        for (const auto answer : answerPositions()) {
          std::vector<std::size_t> top{g}, inTable{g, breakdowns[b].labels.size()};
          if (answer) {
            top.push_back(*answer);
            inTable.push_back(*answer);
          }
          if (headline.figure(top).released() != released[b].table->figure(inTable).released()) consistent[b] = false;
        }
      }
    }

    // A percentage or mean from a table, with the counts it is made of.
    struct Shown {
      Figure value, numerator, denominator;
    };
    auto shownFrom = [&](const belonging::ReleasedTable& table, std::vector<std::size_t> cellPosition, double scoreSum) {
      auto at = [&](std::optional<std::size_t> answer) {
        auto position = cellPosition;
        if (answer) position.push_back(*answer);
        return table.figure(position);
      };
      Shown result;
      if (indicator.engagement) {
        result.denominator = at(std::nullopt);
        const auto count = static_cast<double>(table.table().count(cellPosition));
        result.value = belonging::mean(count == 0 ? 0 : scoreSum / count, result.denominator);
        if (count == 0 && result.value.released()) {
          result.value.status = belonging::CellStatus::RateSuppressed; // A mean over no one has no value.
          result.value.value.reset();
          result.value.reason = belonging::kHiddenExplanation;
        }
      } else {
        result.numerator = at(0);
        result.denominator = at(2);
        result.value = belonging::percentage(result.numerator, result.denominator);
      }
      return result;
    };
    auto scoreSum = [&](std::size_t b, std::size_t group, std::size_t category) {
      const auto found = released[b].scoreSums.find({group, category});
      return found == released[b].scoreSums.end() ? 0.0 : found->second;
    };
    auto shownHeadline = [&](std::size_t group) {
      return shownFrom(headline, {group}, scoreSum(0, group, breakdowns[0].labels.size()));
    };
    auto shown = [&](std::size_t b, std::size_t group, std::size_t category) {
      return shownFrom(*released[b].table, {group, category}, scoreSum(b, group, category));
    };

    auto csvRow = [&](const std::string& breakdown, const std::string& category, const std::string& group,
                      const Shown& figure) {
      csv << csvField(wave.name) << ',' << csvField(indicator.standard) << ',' << csvField(indicator.number) << ','
          << csvField(indicator.title) << ',' << csvField(breakdown) << ',' << csvField(category) << ','
          << csvField(group) << ',' << (indicator.engagement ? "" : belonging::csvText(figure.numerator)) << ','
          << belonging::csvText(figure.denominator) << ',' << belonging::csvText(figure.value) << ','
          << belonging::publicStatusName(figure.value.status) << "\r\n";
    };
    auto csvNote = [&](const std::string& breakdown, const std::string& note) {
      csv << csvField(wave.name) << ',' << csvField(indicator.standard) << ',' << csvField(indicator.number) << ','
          << csvField(indicator.title) << ',' << csvField(breakdown) << ",,,,,," << csvField(note) << "\r\n";
    };
    auto jsonOf = [&](const Shown& figure) {
      json entry{{"value", belonging::toJson(figure.value)}, {"respondents", belonging::toJson(figure.denominator)}};
      if (!indicator.engagement) entry["yes"] = belonging::toJson(figure.numerator);
      return entry;
    };

    // Headline: by group, from the first breakdown's table (its total column).
    json rows = json::array(), bars = json::array(), headlineJson = json::array();
    std::vector<std::string> columnLabels = groupLabels;
    if (groups > 1) columnLabels.push_back("All respondents");
    const std::size_t columns = columnLabels.size();
    // Whether a figure shows someone: a released group that is not empty.
    auto showsSomeone = [](const Shown& figure) { return figure.denominator.released() && figure.denominator.value > 0.0; };
    // An indicator with no group to show (a wave with few answers) says so once, as below.
    bool anyShown = false;
    for (std::size_t g = 0; g < columns; ++g) anyShown = anyShown || showsSomeone(shownHeadline(g < groups ? g : groups));
    const std::string tooFew = "Too few people answered this question to show the results.";
    if (!anyShown) csvNote("All", tooFew);
    for (std::size_t g = 0; g < columns && anyShown; ++g) {
      const std::size_t group = g < groups ? g : groups;
      const Shown figure = shownHeadline(group);
      const double scale = indicator.engagement ? 10.0 : 100.0;
      const double width = figure.value.released() && figure.value.value ? *figure.value.value / scale * 300.0 : 0.0;
      rows.push_back({{"label", columnLabels[g]},
                      {"value", cell(figure.value)},
                      {"numerator", indicator.engagement ? std::string() : cell(figure.numerator)},
                      {"denominator", cell(figure.denominator)}});
      bars.push_back({{"label", columnLabels[g]},
                      {"y", 8 + 32 * g},
                      {"textY", 28 + 32 * g},
                      {"width", std::lround(width)},
                      {"labelX", 170 + std::lround(width) + 6},
                      {"text", belonging::displayText(figure.value, policy).text},
                      {"hidden", !figure.value.released()}});
      csvRow("All", "All", columnLabels[g], figure);
      json entry = jsonOf(figure);
      entry["group"] = columnLabels[g];
      headlineJson.push_back(entry);
    }

    // A breakdown is offered only where it shows something (DESIGN §6, issue 14 item 6): one
    // that would be all "*", or that would give away what the headline hides, is replaced by
    // one sentence, in the page, the CSV and the JSON alike. Whether it is shown depends only on
    // what is released, so saying so reveals nothing the stars would not.
    json breakdownPages = json::array(), breakdownJson = json::object();
    for (std::size_t b = 0; b < breakdowns.size() && anyShown; ++b) {
      bool offered = consistent[b];
      if (offered) {
        offered = false;
        for (std::size_t c = 0; c < breakdowns[b].labels.size() && !offered; ++c) {
          for (std::size_t g = 0; g < columns && !offered; ++g) offered = showsSomeone(shown(b, g < groups ? g : groups, c));
        }
      }
      if (!offered) {
        const std::string note = "Too few people answered in each " + lowerCase(breakdowns[b].name) + " to show this by " +
                                 lowerCase(breakdowns[b].name) + ".";
        breakdownPages.push_back({{"name", breakdowns[b].name}, {"offered", false}, {"note", note}});
        breakdownJson[breakdowns[b].key] = {{"shown", false}, {"note", note}};
        csvNote(breakdowns[b].name, note);
        continue;
      }
      json header = json::array(), bodyRows = json::array(), entries = json::array();
      for (const auto& label : columnLabels) header.push_back({{"label", label}});
      for (std::size_t c = 0; c < breakdowns[b].labels.size(); ++c) {
        json cells = json::array();
        for (std::size_t g = 0; g < columns; ++g) {
          const Shown figure = shown(b, g < groups ? g : groups, c);
          cells.push_back({{"figure", cell(figure.value)}});
          csvRow(breakdowns[b].name, breakdowns[b].labels[c], columnLabels[g], figure);
          json entry = jsonOf(figure);
          entry["group"] = columnLabels[g];
          entry[breakdowns[b].key] = breakdowns[b].labels[c];
          entries.push_back(entry);
        }
        bodyRows.push_back({{"label", breakdowns[b].labels[c]}, {"cells", cells}});
      }
      breakdownPages.push_back({{"name", breakdowns[b].name}, {"offered", true}, {"columns", header}, {"rows", bodyRows}});
      breakdownJson[breakdowns[b].key] = {{"shown", true}, {"cells", entries}};
    }

    indicatorsPage.push_back({{"id", indicator.id},
                              {"standard", indicator.standard},
                              {"number", indicator.number},
                              {"title", indicator.title},
                              {"engagement", indicator.engagement},
                              {"shown", anyShown},
                              {"note", anyShown ? std::string() : tooFew},
                              {"split", split.label},
                              {"rows", rows},
                              {"bars", bars},
                              {"chartHeight", 16 + 32 * columns},
                              {"breakdowns", breakdownPages}});
    json indicatorJson{{"id", indicator.id},
                       {"standard", indicator.standard},
                       {"number", indicator.number},
                       {"title", indicator.title},
                       {"kind", indicator.engagement ? "mean" : "percentage"},
                       {"shown", anyShown},
                       {"split", split.label},
                       {"groups", headlineJson},
                       {"breakdowns", breakdownJson}};
    if (!anyShown) indicatorJson["note"] = tooFew;
    indicatorsJson.push_back(std::move(indicatorJson));
  }

  auto sectionOf = [&](const std::string& standard) {
    json selected = json::array();
    for (const auto& entry : indicatorsPage) {
      if (entry["standard"] == standard) selected.push_back(entry);
    }
    return selected;
  };
  results.page = {{"wave", {{"id", wave.id}, {"name", wave.name}, {"opensOn", wave.opensOn}, {"closesOn", wave.closesOn}}},
                  {"respondents", cell(respondentCount)},
                  {"threshold", policy.threshold},
                  {"wres", sectionOf("WRES")},
                  {"wdes", sectionOf("WDES")}};
  results.json = {{"wave", {{"id", wave.id}, {"name", wave.name}, {"opensOn", wave.opensOn}, {"closesOn", wave.closesOn},
                            {"questionnaireVersion", wave.questionnaireVersion}}},
                  {"respondents", belonging::toJson(respondentCount)},
                  {"disclosure", {{"threshold", policy.threshold}, {"roundTo", policy.roundTo}, {"hidden", belonging::kHiddenExplanation}}},
                  {"indicators", indicatorsJson}};
  results.csv = csv.str();
  return results;
}

} // namespace

WaveResults buildResults(ExperienceService& service, const Wave& wave) {
  if (wave.status != WaveStatus::Closed) {
    throw ExperienceError(409, "Results are shown only after the wave closes, so nothing is released while people are "
                               "still answering.");
  }
  // A publication (DESIGN §6): computed and protected once, at the first request after the
  // close, then every page, CSV and JSON is served from the stored figures. Re-running the
  // release on each view is what made later views differ from the first.
  const auto published = service.host.disclosure().publish("results.wave:" + std::to_string(wave.id), [&] {
    WaveResults computed = computeResults(service, wave);
    return nlohmann::json{{"page", std::move(computed.page)}, {"json", std::move(computed.json)}, {"csv", std::move(computed.csv)}};
  });
  return {published.content.at("page"), published.content.at("json"), published.content.at("csv").get<std::string>()};
}

} // namespace experience
