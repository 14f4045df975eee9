#pragma once
// CSV for exports that people open in spreadsheets, written once for every plugin (DESIGN §2).
// Fields are quoted as RFC 4180 says, and text that a spreadsheet would run as a formula is
// defused as the OWASP CSV-injection guidance says: a network called =HYPERLINK(...) must
// reach the People team's Excel as text, not as a live link or command.
// Header-only: it adds nothing to the plugin ABI.

#include <initializer_list>
#include <string>
#include <string_view>

namespace belonging {

/** Whether csvField quotes every field, or only those that need it (RFC 4180 §2.6). */
enum class CsvQuoting { Always, WhenNeeded };

/**
 * One CSV text field: a field starting with = + - @ TAB or CR gets a leading ' so a
 * spreadsheet shows it as text; double quotes are doubled inside quotes. For labels and
 * names, not numbers: "-5" comes out as text.
 */
inline std::string csvField(std::string_view text, CsvQuoting quoting = CsvQuoting::Always) {
  std::string field;
  field.reserve(text.size() + 3);
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos) field += '\'';
  field += text;
  if (quoting == CsvQuoting::WhenNeeded && field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (const char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

/**
 * One CSV record ending in CRLF (RFC 4180 §2.1). The cells are used as given, so pass text
 * through csvField and numbers (or "*" for a hidden figure) as they are.
 */
inline std::string csvRow(std::initializer_list<std::string_view> cells) {
  std::string row;
  bool first = true;
  for (const auto cell : cells) {
    if (!first) row += ',';
    first = false;
    row += cell;
  }
  return row + "\r\n";
}

} // namespace belonging
