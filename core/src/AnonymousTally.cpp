#include "AnonymousTally.hpp"

#include <nlohmann/json.hpp>

namespace belonging {
namespace {

/** The message cut to at most `limit` bytes, never inside a UTF-8 character. */
std::string shortened(std::string_view message, std::size_t limit) {
  if (message.size() <= limit) return std::string(message);
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(message[end]) & 0xC0) == 0x80) --end;
  return std::string(message.substr(0, end)) + "\u2026";
}

std::string lineText(const nlohmann::ordered_json& line) {
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

AnonymousTally::AnonymousTally(Sink sink, Today today, std::chrono::milliseconds checkEvery)
    : sink_(std::move(sink)), today_(std::move(today)) {
  if (checkEvery.count() > 0) checker_ = std::thread([this, checkEvery] { check(checkEvery); });
}

AnonymousTally::~AnonymousTally() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (checker_.joinable()) checker_.join();
  try {
    writeAll();
  } catch (const std::exception&) {
    // Nowhere left to report it: the access log itself is what failed.
  }
}

void AnonymousTally::count(std::string_view route, std::string_view method, int status) {
  CountKey key(route, method, status); // Built before locking: 48 workers share the lock.
  std::string date = today_();
  std::lock_guard lock(mutex_);
  ++days_[std::move(date)].counts[std::move(key)];
}

void AnonymousTally::error(std::string_view route, std::string_view method, std::string_view message) {
  std::string date = today_();
  std::string text = shortened(message, kMessageBytes);
  std::lock_guard lock(mutex_);
  auto& messages = days_[std::move(date)].errors[ErrorKey(route, method)];
  // A message may quote its input: bound how many distinct ones a client can make us keep.
  if (messages.size() >= kMessagesPerRoute && !messages.contains(text)) text = kOtherMessages;
  ++messages[std::move(text)];
}

std::map<std::string, AnonymousTally::Day> AnonymousTally::takeDays(const std::string& before) {
  std::lock_guard lock(mutex_);
  std::map<std::string, Day> taken;
  // ISO dates sort as the days they name.
  const auto end = before.empty() ? days_.end() : days_.lower_bound(before);
  taken.insert(std::make_move_iterator(days_.begin()), std::make_move_iterator(end));
  days_.erase(days_.begin(), end);
  return taken;
}

void AnonymousTally::writeFinishedDays() {
  const std::string today = today_();
  write(takeDays(today));
}

void AnonymousTally::writeAll() { write(takeDays("")); }

void AnonymousTally::write(const std::map<std::string, Day>& days) const {
  for (const auto& [date, day] : days) {
    std::vector<std::string> lines;
    // Sorted by route, method and status (the maps' order): nothing of the order of arrival.
    for (const auto& [key, count] : day.counts) {
      const auto& [route, method, status] = key;
      lines.push_back(lineText(
          {{"date", date}, {"route", route}, {"method", method}, {"status", status}, {"count", count}}));
    }
    for (const auto& [key, messages] : day.errors) {
      const auto& [route, method] = key;
      nlohmann::ordered_json errors = nlohmann::ordered_json::object();
      for (const auto& [message, count] : messages) errors[message] = count;
      lines.push_back(lineText({{"date", date}, {"route", route}, {"method", method}, {"errors", std::move(errors)}}));
    }
    if (!lines.empty()) sink_(lines);
  }
}

void AnonymousTally::check(std::chrono::milliseconds every) {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, every, [this] { return stopping_; })) {
    lock.unlock();
    try {
      writeFinishedDays();
    } catch (const std::exception&) {
      // Losing a day's counts must not stop the server; the access log has no one to tell.
    }
    lock.lock();
  }
}

} // namespace belonging
