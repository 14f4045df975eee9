// Fuzzes the Cookie header parser (core/src/Cookies.hpp): it runs on every request, signed in
// or not, and picks the session, pre-session and flash cookies out of whatever the client sent.

#include "Cookies.hpp"
#include "FuzzSupport.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using belonging::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  const auto cookies = belonging::cookies::parse(header);

  std::string rebuilt;
  for (const auto& [name, value] : cookies) {
    check(name.find_first_of(";=") == std::string::npos, "a cookie name holds no ';' or '='");
    check(value.find(';') == std::string::npos, "a cookie value holds no ';'");
    check(name.empty() || name.front() != ' ', "leading spaces are not part of a name");
    rebuilt += (rebuilt.empty() ? "" : "; ") + name + "=" + value;
  }
  // What the parser found, written back as a header, parses to the same cookies.
  check(belonging::cookies::parse(rebuilt) == cookies, "parse(format(parse(x))) == parse(x)");

  // A cookie we set comes back as the same name and value (cookie values we issue are tokens,
  // but the flash cookie's value is text: anything without ';' must survive).
  for (const auto& [name, value] : cookies) {
    if (name.empty()) continue;
    const auto echoed = belonging::cookies::parse(belonging::cookies::setCookie(name, value, true, 60));
    const auto found = echoed.find(name);
    check(found != echoed.end() && found->second == value, "a Set-Cookie value reads back as set");
    break;
  }
  return 0;
}
