#include "SuppressCommand.hpp"

#include <belonging/Csv.hpp>
#include <belonging/Disclosure.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace belonging {
namespace {

using Row = std::vector<std::string>;

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. */
std::vector<Row> parseCsv(const std::string& text) {
  std::vector<Row> rows;
  Row row;
  std::string field;
  bool quoted = false, fieldStarted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = fieldStarted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      fieldStarted = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      fieldStarted = false;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (fieldStarted || !field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  // Blank lines carry nothing.
  std::erase_if(rows, [](const Row& r) { return r.size() == 1 && r[0].find_first_not_of(" \t") == std::string::npos; });
  return rows;
}

/** Trimmed and lower-cased (ASCII), so "  Grand TOTAL " matches "grand total". */
std::string normalisedLabel(std::string label) {
  label.erase(0, label.find_first_not_of(" \t"));
  label.erase(label.find_last_not_of(" \t") + 1);
  std::transform(label.begin(), label.end(), label.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return label;
}

} // namespace

int runSuppress(const SuppressOptions& options, std::ostream& err) {
  auto fail = [&err](const std::string& message) {
    err << "belonging suppress: " << message << "\n";
    return 2;
  };
  if (options.threshold < 5) return fail("--threshold must be at least 5 (DESIGN §6), not " + std::to_string(options.threshold));
  if (options.round != 0 && options.round != 5 && options.round != 10) return fail("--round takes 5 or 10 (round released counts to the nearest 5 or 10) or is left out");
  if (options.format != "csv" && options.format != "json") return fail("--format takes csv or json, not \"" + options.format + "\"");
  if (options.totals != "auto" && options.totals != "none") return fail("--totals takes auto or none, not \"" + options.totals + "\"");

  std::ifstream input(options.input, std::ios::binary);
  if (!input) return fail("cannot read " + options.input);
  std::stringstream buffer;
  buffer << input.rdbuf();
  const std::vector<Row> rows = parseCsv(buffer.str());
  if (rows.empty()) return fail(options.input + " is empty: expected a header row of column labels and rows of counts");
  const std::size_t width = rows[0].size();
  if (width < 2) return fail(options.input + " line 1: expected a label column and at least one column of counts");
  if (rows.size() < 2) return fail(options.input + " has a header row but no rows of counts");
  for (std::size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].size() != width) {
      return fail(options.input + " row " + std::to_string(r + 1) + " (" + rows[r][0] + ") has " +
                  std::to_string(rows[r].size()) + " fields but the header has " + std::to_string(width));
    }
  }

  // Which rows and columns are totals. A total that goes unrecognised would be published as a
  // category, unprotected, with the cells it gives away; a second one is a table we do not
  // understand. Either way, better to stop than to guess.
  std::vector<std::string> totalLabels{"total", "grand total", "all"};
  for (const auto& label : options.totalLabels) totalLabels.push_back(normalisedLabel(label));
  auto isTotal = [&](const std::string& label) {
    return std::find(totalLabels.begin(), totalLabels.end(), normalisedLabel(label)) != totalLabels.end();
  };
  std::vector<std::size_t> dataRows, dataCols;
  std::optional<std::size_t> totalRow, totalCol;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    if (!isTotal(rows[r][0])) {
      dataRows.push_back(r);
    } else if (totalRow) {
      return fail(options.input + " row " + std::to_string(r + 1) + " (" + rows[r][0] + ") is a second total row: row " +
                  std::to_string(*totalRow + 1) + " (" + rows[*totalRow][0] + ") is already the total; keep one");
    } else {
      totalRow = r;
    }
  }
  for (std::size_t c = 1; c < width; ++c) {
    if (!isTotal(rows[0][c])) {
      dataCols.push_back(c);
    } else if (totalCol) {
      return fail(options.input + " column " + std::to_string(c + 1) + " (" + rows[0][c] + ") is a second total column: column " +
                  std::to_string(*totalCol + 1) + " (" + rows[0][*totalCol] + ") is already the total; keep one");
    } else {
      totalCol = c;
    }
  }
  if (dataRows.empty() || dataCols.empty()) return fail(options.input + " has totals but no categories to count");

  std::vector<std::vector<std::int64_t>> counts(rows.size(), std::vector<std::int64_t>(width, 0));
  for (std::size_t r = 1; r < rows.size(); ++r) {
    for (std::size_t c = 1; c < width; ++c) {
      std::string text = rows[r][c];
      text.erase(0, text.find_first_not_of(" \t"));
      text.erase(text.find_last_not_of(" \t") + 1);
      std::int64_t value = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      const std::string where = options.input + " row " + std::to_string(r + 1) + " (" + rows[r][0] + "), column " +
                                std::to_string(c + 1) + " (" + rows[0][c] + ")";
      if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
        return fail(where + ": \"" + rows[r][c] + "\" is not a whole number of people");
      }
      if (value < 0) return fail(where + ": " + text + " is negative; counts of people cannot be");
      counts[r][c] = value;
    }
  }

  // 1-D when there is a single category row or column: a table with one column would otherwise
  // repeat each count as its own row total.
  const bool oneColumn = dataCols.size() == 1, oneRow = !oneColumn && dataRows.size() == 1;
  auto labels = [&](const std::vector<std::size_t>& list, bool column) {
    std::vector<std::string> result;
    for (std::size_t i : list) result.push_back(column ? rows[0][i] : rows[i][0]);
    return result;
  };
  std::vector<Dimension> dimensions;
  if (!oneRow) dimensions.push_back({rows[0][0].empty() ? "Row" : rows[0][0], labels(dataRows, false), {}, "Total"});
  if (!oneColumn) dimensions.push_back({"Column", labels(dataCols, true), {}, "Total"});
  std::optional<Table> built;
  try {
    built.emplace(dimensions);
    for (std::size_t i = 0; i < dataRows.size(); ++i) {
      for (std::size_t j = 0; j < dataCols.size(); ++j) {
        std::vector<std::string> cell;
        if (!oneRow) cell.push_back(rows[dataRows[i]][0]);
        if (!oneColumn) cell.push_back(rows[0][dataCols[j]]);
        built->add(cell, counts[dataRows[i]][dataCols[j]]);
      }
    }
  } catch (const DisclosureError& error) {
    return fail(options.input + ": " + error.what());
  }
  const Table& table = *built;
  // Positions of a row or column: its category, or the total (one past the categories).
  auto cellIndex = [&](std::optional<std::size_t> i, std::optional<std::size_t> j) {
    std::vector<std::size_t> position;
    if (!oneRow) position.push_back(i.value_or(dataRows.size()));
    if (!oneColumn) position.push_back(j.value_or(dataCols.size()));
    return position;
  };
  // Totals given in the input must be the sums of their parts, or the table is not what it seems.
  auto checkTotal = [&](std::size_t r, std::size_t c, std::int64_t expected) -> std::optional<std::string> {
    if (counts[r][c] == expected) return std::nullopt;
    return options.input + " row " + std::to_string(r + 1) + " (" + rows[r][0] + "), column " + std::to_string(c + 1) +
           " (" + rows[0][c] + "): the total is " + std::to_string(counts[r][c]) + " but the counts add up to " +
           std::to_string(expected);
  };
  if (totalCol) {
    for (std::size_t i = 0; i < dataRows.size(); ++i) {
      if (auto problem = checkTotal(dataRows[i], *totalCol, table.count(cellIndex(i, std::nullopt)))) return fail(*problem);
    }
  }
  if (totalRow) {
    for (std::size_t j = 0; j < dataCols.size(); ++j) {
      if (auto problem = checkTotal(*totalRow, dataCols[j], table.count(cellIndex(std::nullopt, j)))) return fail(*problem);
    }
    if (totalCol) {
      if (auto problem = checkTotal(*totalRow, *totalCol, table.count(cellIndex(std::nullopt, std::nullopt)))) return fail(*problem);
    }
  }

  // Any total in the input means margins are published: protect as if all were (more hidden,
  // never less), and print the ones the input had.
  DisclosurePolicy policy;
  policy.threshold = options.threshold;
  policy.roundTo = options.round;
  policy.showZeros = !options.hideZeros;
  policy.releaseTotals = options.totals == "auto" && (totalRow || totalCol);
  const ReleasedTable released = suppress(table, policy);

  auto position = [](const std::vector<std::size_t>& list, std::size_t value) -> std::optional<std::size_t> {
    const auto found = std::find(list.begin(), list.end(), value);
    if (found == list.end()) return std::nullopt;
    return static_cast<std::size_t>(found - list.begin());
  };
  auto figureAt = [&](std::size_t r, std::size_t c) { return released.figure(cellIndex(position(dataRows, r), position(dataCols, c))); };

  // How many cells are hidden, and no more: not why (three "primary" cells in a column of 30 are
  // 10 each) and not how many people they hold (a lone hidden cell would be that number).
  std::size_t hidden = 0, shownCells = 0;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    for (std::size_t c = 1; c < width; ++c, ++shownCells) hidden += figureAt(r, c).released() ? 0U : 1U;
  }

  std::ostringstream out;
  if (options.format == "json") {
    nlohmann::json document{{"threshold", policy.threshold}, {"round", policy.roundTo}, {"hidden", kHiddenExplanation},
                            {"columns", nlohmann::json::array()}, {"rows", nlohmann::json::array()}};
    for (std::size_t c = 1; c < width; ++c) document["columns"].push_back(rows[0][c]);
    for (std::size_t r = 1; r < rows.size(); ++r) {
      nlohmann::json cells = nlohmann::json::array();
      for (std::size_t c = 1; c < width; ++c) cells.push_back(toJson(figureAt(r, c)));
      document["rows"].push_back({{"label", rows[r][0]}, {"cells", std::move(cells)}});
    }
    try {
      out << document.dump(2) << "\n";
    } catch (const nlohmann::json::type_error&) {
      // JSON text is UTF-8; a spreadsheet saved in a legacy encoding (Excel's plain "CSV") is
      // not, and that is bad input (exit 2), not a failure (found by tests/fuzz/SuppressInputFuzzer).
      return fail(options.input + " is not UTF-8 text, which --format json needs: save it as \"CSV UTF-8\"");
    }
  } else {
    for (std::size_t r = 0; r < rows.size(); ++r) {
      for (std::size_t c = 0; c < width; ++c) {
        if (c > 0) out << ',';
        // Labels as the input had them (quoted only where needed), but defused: the output is
        // meant for publishing, and a label may have come from anywhere.
        out << (r == 0 || c == 0 ? csvField(rows[r][c], CsvQuoting::WhenNeeded) : csvText(figureAt(r, c)));
      }
      out << "\n";
    }
  }

  err << "cells hidden: " << hidden << " of " << shownCells << " (* = " << kHiddenExplanation << "); threshold " << options.threshold
      << (options.round ? "; released counts rounded to the nearest " + std::to_string(options.round) : std::string())
      << "\n";

  // Written only once everything succeeded, and atomically, so a failure never leaves half a file.
  if (options.output.empty()) {
    std::fputs(out.str().c_str(), stdout);
    return 0;
  }
  const std::string temporary = options.output + ".partial";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file << out.str();
    if (!file) return fail("cannot write " + options.output);
  }
  if (std::rename(temporary.c_str(), options.output.c_str()) != 0) return fail("cannot write " + options.output);
  return 0;
}

} // namespace belonging
