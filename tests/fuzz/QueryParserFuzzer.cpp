// Fuzzes the decoder of query strings and form bodies (core/src/UrlEncoding.hpp), which every
// request's parameters pass through before a handler sees them.

#include "FuzzSupport.hpp"
#include "UrlEncoding.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using belonging::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const std::string decoded = belonging::url::decode(text);
  check(decoded.size() <= text.size(), "decoding never makes text longer");
  // Whatever bytes a form posts, encoding and decoding gives them back unchanged.
  check(belonging::url::decode(belonging::url::encode(text)) == text, "decode(encode(x)) == x");

  const auto values = belonging::url::parseQuery(text);
  std::size_t total = 0;
  for (const auto& [key, value] : values) total += key.size() + value.size();
  check(total <= text.size(), "parsed names and values are no longer than the text they came from");
  check(values.size() <= text.size() / 2 + 1, "each parameter takes at least one character and a separator");
  return 0;
}
