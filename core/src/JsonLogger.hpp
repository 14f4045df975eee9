#pragma once
// Application log and access log, one JSON object per line so that log shippers parse them
// without guessing. Anonymous routes get no line of their own: AnonymousTally writes their
// daily counts here.

#include <belonging/Host.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace belonging {

/**
 * While one is alive on a thread, the application log's lines from that thread go to it instead
 * of standard error. The core opens one around each anonymous request: a timed line would date
 * the request (DESIGN §5), so whatever a plugin or the core logs there is counted, not written.
 */
class DivertedLogScope {
public:
  using Divert = std::function<void(std::string_view level, std::string_view message)>;
  explicit DivertedLogScope(Divert divert);
  ~DivertedLogScope();
  DivertedLogScope(const DivertedLogScope&) = delete;
  DivertedLogScope& operator=(const DivertedLogScope&) = delete;
  /** The innermost scope's diversion on this thread, or null. */
  static const Divert* current();

private:
  Divert divert_;
  const Divert* previous_;
};

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
  /** Writes already-serialised JSON lines together, none interleaved with another thread's. */
  void writeLines(const std::vector<std::string>& lines);
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
