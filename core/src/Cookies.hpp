#pragma once
// Cookie names and attributes in one place, so every cookie gets HttpOnly and SameSite.

#include <map>
#include <string>
#include <string_view>

namespace belonging::cookies {

inline constexpr const char* kSession = "belonging_session";
inline constexpr const char* kPresession = "belonging_presession";
inline constexpr const char* kFlash = "belonging_flash";
/** Names the account this browser last signed in to (SigninThrottle::deviceCookie). */
inline constexpr const char* kDevice = "belonging_device";

/** A Set-Cookie value; an empty value with maxAge 0 deletes the cookie. */
inline std::string setCookie(std::string_view name, std::string_view value, bool secure,
                             int maxAgeSeconds = -1) {
  std::string header = std::string(name) + "=" + std::string(value) + "; Path=/; HttpOnly; SameSite=Lax";
  if (maxAgeSeconds >= 0) header += "; Max-Age=" + std::to_string(maxAgeSeconds);
  if (secure) header += "; Secure";
  return header;
}

/** Parses a Cookie header into name → value (first occurrence wins). */
inline std::map<std::string, std::string, std::less<>> parse(std::string_view header) {
  std::map<std::string, std::string, std::less<>> values;
  while (!header.empty()) {
    const auto end = std::min(header.find(';'), header.size());
    std::string_view pair = header.substr(0, end);
    header.remove_prefix(std::min(end + 1, header.size()));
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    values.emplace(std::string(pair.substr(0, equals)), std::string(pair.substr(equals + 1)));
  }
  return values;
}

} // namespace belonging::cookies
