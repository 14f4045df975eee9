#pragma once
// What a handler fills in. The core adds security headers, cookies and the access-log line.

#include <belonging/Request.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace belonging {

/** The response a handler builds. Status defaults to 200 with an HTML body. */
struct Response {
  int status = 200;
  std::string contentType = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /** Messages to show on the next page the browser loads (typically after a redirect). */
  std::vector<Flash> flash;

  /** Redirect after a form post (303 See Other makes the browser GET the target). */
  void redirect(std::string location, int redirectStatus = 303) {
    status = redirectStatus;
    headers.emplace_back("Location", std::move(location));
  }
  /** A JSON body. */
  void json(const nlohmann::json& value, int jsonStatus = 200) {
    status = jsonStatus;
    contentType = "application/json";
    body = value.dump();
  }
  /** A JSON error body: {"error": message}. */
  void jsonError(int errorStatus, std::string_view message) {
    json(nlohmann::json{{"error", message}}, errorStatus);
  }
  /** A file for download, e.g. a CSV export. */
  void attachment(std::string filename, std::string type, std::string content) {
    contentType = std::move(type);
    body = std::move(content);
    headers.emplace_back("Content-Disposition", "attachment; filename=\"" + filename + "\"");
  }
};

} // namespace belonging
