#pragma once
// UTF-8 validation for input at the boundary: text that is not UTF-8 would be stored, then break
// every JSON encoder and page that shows it, for everyone.

#include <string_view>

namespace belonging::utf8 {

/**
 * Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF) holding no NUL and no C0 control other than tab, line feed and carriage return.
 */
inline bool isValidText(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      if (lead < 0x20 && lead != '\t' && lead != '\n' && lead != '\r') return false;
      if (lead == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned int lowest = 0, codePoint = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2, lowest = 0x80, codePoint = lead & 0x1fu;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3, lowest = 0x800, codePoint = lead & 0x0fu;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4, lowest = 0x10000, codePoint = lead & 0x07u;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0u) != 0x80u) return false;
      codePoint = (codePoint << 6) | (next & 0x3fu);
    }
    if (codePoint < lowest || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

} // namespace belonging::utf8
