#pragma once
// Application log and access log, one JSON object per line so that log shippers parse them
// without guessing. The access log has a reduced form for anonymous routes.

#include <belonging/Host.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <mutex>
#include <string>

namespace belonging {

/** Application log on standard error. */
class JsonLogger final : public Logger {
public:
  void info(std::string_view message) override { write("info", message); }
  void warning(std::string_view message) override { write("warning", message); }
  void error(std::string_view message) override { write("error", message); }
  /** Silences info lines (CLI commands whose output is for people). */
  void setQuiet(bool quiet) { quiet_ = quiet; }

private:
  void write(const char* level, std::string_view message);
  std::mutex mutex_;
  bool quiet_ = false;
};

/** The access log: "-" for standard output, "off", or a file appended to. */
class AccessLog {
public:
  explicit AccessLog(const std::string& target);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;
  void write(const nlohmann::json& line);
  bool enabled() const { return file_ != nullptr; }

private:
  std::FILE* file_ = nullptr;
  bool owned_ = false;
  std::mutex mutex_;
};

/** The current UTC time as ISO 8601 with milliseconds. */
std::string isoTimestamp();
/** Today's UTC date, YYYY-MM-DD: all the time an anonymous route's log line may carry. */
std::string isoDate();

} // namespace belonging
