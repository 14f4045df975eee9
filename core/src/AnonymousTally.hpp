#pragma once
// What the logs may say about anonymous routes (DESIGN §5): per UTC day, how many requests each
// route answered with each status, and which errors it raised how often. Never a line per
// request: a line written as a request is answered sits, in file order, between the timestamped
// lines of identified requests (token issuance among them), and that order alone names the
// sender. So requests are only counted here, and a day's counts are written after the day has
// ended (or when the server stops), sorted by key, never in order of arrival.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace belonging {

class AnonymousTally {
public:
  /** Today's UTC date as YYYY-MM-DD (isoDate); injected so that tests can move to the next day. */
  using Today = std::function<std::string()>;
  /** Receives one batch of lines (JSON text, no newline) to write together, in this order. */
  using Sink = std::function<void(const std::vector<std::string>& lines)>;

  /** Longest error message kept, in bytes: enough to recognise a failure, not to hold a body. */
  static constexpr std::size_t kMessageBytes = 200;
  /** Distinct messages kept per route and method a day; the rest count as kOtherMessages. */
  static constexpr std::size_t kMessagesPerRoute = 50;
  static constexpr const char* kOtherMessages = "(other messages)";

  /**
   * With a non-zero `checkEvery`, a thread looks that often for days that have ended and writes
   * them: the moment of writing then depends on the clock alone, never on a request (writing
   * when the first anonymous request of a new day arrives would mark that request's place in
   * the file). Tests pass zero and call writeFinishedDays() themselves.
   */
  AnonymousTally(Sink sink, Today today, std::chrono::milliseconds checkEvery = std::chrono::milliseconds{0});
  /** Stops the checking thread and writes every day still held, today's included. */
  ~AnonymousTally();
  AnonymousTally(const AnonymousTally&) = delete;
  AnonymousTally& operator=(const AnonymousTally&) = delete;

  /** Counts one response of an anonymous route (its pattern, not the path, which holds parameters). */
  void count(std::string_view route, std::string_view method, int status);
  /** Counts one error raised on an anonymous route; the message is cut to kMessageBytes. */
  void error(std::string_view route, std::string_view method, std::string_view message);
  /** Writes and forgets every day before today. */
  void writeFinishedDays();
  /** Writes and forgets every day held, today's partial day too (the server is stopping). */
  void writeAll();

private:
  using CountKey = std::tuple<std::string, std::string, int>;        // route, method, status
  using ErrorKey = std::tuple<std::string, std::string>;             // route, method
  struct Day {
    std::map<CountKey, std::uint64_t> counts;
    std::map<ErrorKey, std::map<std::string, std::uint64_t>> errors;
  };

  /** Takes the days before `before` (all days when empty) out of the tally, to write unlocked. */
  std::map<std::string, Day> takeDays(const std::string& before);
  void write(const std::map<std::string, Day>& days) const;
  void check(std::chrono::milliseconds every);

  Sink sink_;
  Today today_;
  std::mutex mutex_;
  std::map<std::string, Day> days_; ///< By date, so a request is always counted on its own day.
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread checker_;
};

} // namespace belonging
