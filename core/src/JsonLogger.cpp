#include "JsonLogger.hpp"

#include <chrono>
#include <ctime>
#include <stdexcept>

namespace belonging {
namespace {
thread_local const DivertedLogScope::Divert* divertedLog = nullptr;
} // namespace

DivertedLogScope::DivertedLogScope(Divert divert) : divert_(std::move(divert)), previous_(divertedLog) {
  divertedLog = &divert_;
}

DivertedLogScope::~DivertedLogScope() { divertedLog = previous_; }

const DivertedLogScope::Divert* DivertedLogScope::current() { return divertedLog; }

std::string isoTimestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &parts);
  char result[40];
  std::snprintf(result, sizeof(result), "%s.%03dZ", buffer, static_cast<int>(millis));
  return result;
}

std::string isoDate() {
  const std::time_t seconds = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d", &parts);
  return buffer;
}

void JsonLogger::write(const char* level, std::string_view message) {
  if (const auto* divert = DivertedLogScope::current()) {
    (*divert)(level, message);
    return;
  }
  if (quiet_ && std::string_view(level) == "info") return;
  const std::string line =
      nlohmann::json{{"time", isoTimestamp()}, {"level", level}, {"message", message}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

AccessLog::AccessLog(const std::string& target) {
  if (target == "off") return;
  if (target == "-" || target.empty()) {
    file_ = stdout;
    return;
  }
  file_ = std::fopen(target.c_str(), "a");
  if (!file_) throw std::runtime_error("cannot open the access log " + target + " for writing");
  owned_ = true;
}

AccessLog::~AccessLog() {
  if (owned_) std::fclose(file_);
}

void AccessLog::write(const nlohmann::json& line) {
  if (!file_) return;
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mutex_);
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

void AccessLog::writeLines(const std::vector<std::string>& lines) {
  if (!file_ || lines.empty()) return;
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  std::lock_guard lock(mutex_);
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

} // namespace belonging
