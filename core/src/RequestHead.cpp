#include "RequestHead.hpp"

#include <optional>

namespace belonging {
namespace {

bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

RequestHead malformed(std::string why) {
  RequestHead head;
  head.state = RequestHead::State::Malformed;
  head.error = std::move(why);
  return head;
}

} // namespace

RequestHead scanRequestHead(std::string_view bytes, std::size_t maxHeadBytes) {
  RequestHead head;
  const std::size_t end = bytes.substr(0, maxHeadBytes + 4).find("\r\n\r\n");
  if (end == std::string_view::npos || end + 4 > maxHeadBytes) {
    head.state = bytes.size() >= maxHeadBytes ? RequestHead::State::TooLarge : RequestHead::State::Incomplete;
    return head;
  }
  head.headBytes = end + 4;
  std::string_view rest = bytes.substr(0, end + 2); // Every line, each ending in CRLF.
  std::optional<std::uint64_t> length;
  bool first = true;
  while (!rest.empty()) {
    const std::size_t lineEnd = rest.find("\r\n");
    const std::string_view line = rest.substr(0, lineEnd);
    rest.remove_prefix(lineEnd + 2);
    for (const char c : line) {
      if (c == '\r' || c == '\n' || c == '\0') return malformed("a bare CR, LF or NUL in the request head");
    }
    if (first) {
      first = false;
      if (line.empty() || line.front() == ' ') return malformed("an empty or indented request line");
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') return malformed("obsolete header line folding");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return malformed("a header line without a name");
    const std::string_view name = line.substr(0, colon);
    for (const char c : name) {
      if (!isTokenChar(c)) return malformed("a header name with a space or other invalid character");
    }
    const std::string_view value = trimmed(line.substr(colon + 1));
    if (equalsIgnoringCase(name, "content-length")) {
      if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string_view::npos) {
        return malformed("Content-Length is not a number");
      }
      std::uint64_t parsed = 0;
      for (const char digit : value) parsed = parsed * 10 + static_cast<std::uint64_t>(digit - '0');
      if (length && *length != parsed) return malformed("two different Content-Length headers");
      length = parsed;
    } else if (equalsIgnoringCase(name, "transfer-encoding")) {
      if (!equalsIgnoringCase(value, "chunked") || head.chunked) {
        return malformed("a Transfer-Encoding other than a single chunked");
      }
      head.chunked = true;
    } else if (equalsIgnoringCase(name, "expect")) {
      head.expectContinue = equalsIgnoringCase(value, "100-continue");
    }
  }
  if (length && head.chunked) return malformed("both Content-Length and Transfer-Encoding");
  head.contentLength = length.value_or(0);
  head.state = RequestHead::State::Complete;
  return head;
}

} // namespace belonging
