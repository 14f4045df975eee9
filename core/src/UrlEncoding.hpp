#pragma once
// Decoding of query strings and application/x-www-form-urlencoded bodies.

#include <map>
#include <string>
#include <string_view>

namespace belonging::url {

/** Percent-decodes; "+" becomes a space (form encoding). Invalid escapes are kept as text. */
inline std::string decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

/** Percent-encodes everything but unreserved characters. */
inline std::string encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char raw : text) {
    const auto c = static_cast<unsigned char>(raw);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

/** Parses "a=1&b=2" into a multimap. */
inline std::multimap<std::string, std::string, std::less<>> parseQuery(std::string_view text) {
  std::multimap<std::string, std::string, std::less<>> values;
  while (!text.empty()) {
    const auto end = std::min(text.find('&'), text.size());
    const std::string_view pair = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (pair.empty()) continue;
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos) {
      values.emplace(decode(pair), std::string());
    } else {
      values.emplace(decode(pair.substr(0, equals)), decode(pair.substr(equals + 1)));
    }
  }
  return values;
}

} // namespace belonging::url
