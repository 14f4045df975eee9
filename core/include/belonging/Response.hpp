#pragma once
// What a handler fills in. The core adds security headers, cookies and the access-log line.

#include <belonging/Request.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace belonging {

/**
 * Whether `target` is a path on this site that is safe to send a browser to. Browsers drop tabs
 * and newlines from URLs and read a backslash as a slash, so "/\t/evil.example" or "/\\evil"
 * would leave the site: only printable ASCII is accepted (percent-encode the rest), and never
 * "//" or "/\" at the start. CR and LF would also split the Location header.
 */
inline bool isSafeLocalPath(std::string_view target) {
  if (target.empty() || target.size() > 2048 || target[0] != '/') return false;
  if (target.size() > 1 && (target[1] == '/' || target[1] == '\\')) return false;
  for (const char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f || c == '\\') return false;
  }
  return true;
}

/** The one safe-redirect rule: `wanted` if it is a safe local path, otherwise `fallback`. */
inline std::string safeLocalPath(std::string_view wanted, std::string fallback = "/") {
  return isSafeLocalPath(wanted) ? std::string(wanted) : std::move(fallback);
}

/**
 * JSON text that cannot throw: stored text from before input was checked as UTF-8 may hold
 * invalid bytes, and one bad row must not take a page down for everyone (U+FFFD instead).
 */
inline std::string jsonText(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

/** The response a handler builds. Status defaults to 200 with an HTML body. */
struct Response {
  int status = 200;
  std::string contentType = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /** Messages to show on the next page the browser loads (typically after a redirect). */
  std::vector<Flash> flash;

  /**
   * Redirect after a form post (303 See Other makes the browser GET the target). Only local
   * paths: anything else (another site, a header-splitting CR/LF) goes to the home page.
   */
  void redirect(std::string_view location, int redirectStatus = 303) {
    status = redirectStatus;
    headers.emplace_back("Location", safeLocalPath(location));
  }
  /** A JSON body. */
  void json(const nlohmann::json& value, int jsonStatus = 200) {
    status = jsonStatus;
    contentType = "application/json";
    body = jsonText(value);
  }
  /** A JSON error body: {"error": message}. */
  void jsonError(int errorStatus, std::string_view message) {
    json(nlohmann::json{{"error", message}}, errorStatus);
  }
  /** A file for download, e.g. a CSV export. The name keeps only [A-Za-z0-9._-]. */
  void attachment(std::string filename, std::string type, std::string content) {
    for (char& c : filename) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                         c == '_' || c == '-';
      if (!plain) c = '_';
    }
    contentType = std::move(type);
    body = std::move(content);
    headers.emplace_back("Content-Disposition", "attachment; filename=\"" + filename + "\"");
  }
};

} // namespace belonging
