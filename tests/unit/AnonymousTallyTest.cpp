// Anonymous routes leave daily counts, never a line per request (DESIGN §5): AnonymousTally.

#include "AnonymousTally.hpp"
#include "JsonLogger.hpp"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

using belonging::AnonymousTally;

namespace {

/** A clock the test moves, and a sink that keeps what was written, both safe across threads. */
struct Recorder {
  std::mutex mutex;
  std::string date = "2026-11-30";
  std::vector<std::vector<std::string>> batches;

  AnonymousTally::Today today() {
    return [this] {
      std::lock_guard lock(mutex);
      return date;
    };
  }
  AnonymousTally::Sink sink() {
    return [this](const std::vector<std::string>& lines) {
      std::lock_guard lock(mutex);
      batches.push_back(lines);
    };
  }
  void setDate(std::string next) {
    std::lock_guard lock(mutex);
    date = std::move(next);
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex);
    std::vector<std::string> all;
    for (const auto& batch : batches) all.insert(all.end(), batch.begin(), batch.end());
    return all;
  }
};

} // namespace

TEST_CASE("anonymous requests are counted per day and written sorted once the day is over", "[core][anonymous]") {
  Recorder recorder;
  AnonymousTally tally(recorder.sink(), recorder.today());
  // Arrival order deliberately unlike the sorted order.
  tally.count("/experience/submit", "POST", 409);
  tally.count("/experience/code", "POST", 200);
  tally.count("/experience/submit", "POST", 201);
  tally.count("/experience/code", "GET", 200);
  tally.count("/experience/submit", "POST", 201);
  tally.count("/experience/code/answers", "POST", 200);
  tally.count("/experience/submit", "POST", 201);

  tally.writeFinishedDays();
  CHECK(recorder.lines().empty()); // The day is not over: nothing yet.

  recorder.setDate("2026-12-01");
  tally.count("/experience/submit", "POST", 201); // Counted on the new day.
  tally.writeFinishedDays();
  const std::vector<std::string> expected{
      R"({"date":"2026-11-30","route":"/experience/code","method":"GET","status":200,"count":1})",
      R"({"date":"2026-11-30","route":"/experience/code","method":"POST","status":200,"count":1})",
      R"({"date":"2026-11-30","route":"/experience/code/answers","method":"POST","status":200,"count":1})",
      R"({"date":"2026-11-30","route":"/experience/submit","method":"POST","status":201,"count":3})",
      R"({"date":"2026-11-30","route":"/experience/submit","method":"POST","status":409,"count":1})"};
  CHECK(recorder.lines() == expected);
  CHECK(recorder.batches.size() == 1); // One day, written together.

  // Written days are forgotten; the new day's partial count is written when asked for all.
  tally.writeFinishedDays();
  CHECK(recorder.lines().size() == expected.size());
  tally.writeAll();
  REQUIRE(recorder.lines().size() == expected.size() + 1);
  CHECK(recorder.lines().back() ==
        R"({"date":"2026-12-01","route":"/experience/submit","method":"POST","status":201,"count":1})");
}

TEST_CASE("errors on anonymous routes are counted by message, cut short and bounded", "[core][anonymous]") {
  Recorder recorder;
  {
    AnonymousTally tally(recorder.sink(), recorder.today());
    tally.error("/experience/submit", "POST", "database is locked");
    tally.error("/experience/submit", "POST", "database is locked");
    tally.error("/experience/code", "POST", std::string(300, 'x'));
    // A multi-byte character straddling the cut is dropped whole, not split.
    tally.error("/experience/code", "POST", std::string(199, 'y') + "\u00e9 and the rest");
    for (int i = 0; i < 60; ++i) tally.error("/fixture/anonymous", "POST", "input " + std::to_string(i));
    tally.count("/experience/submit", "POST", 500);
    // Destroyed without writeAll: the destructor writes the partial day (a stopping server).
  }
  const auto lines = recorder.lines();
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == R"({"date":"2026-11-30","route":"/experience/submit","method":"POST","status":500,"count":1})");
  // Error lines: by route and method, messages sorted, counts only, no time.
  const auto code = nlohmann::json::parse(lines[1]);
  CHECK(code["route"] == "/experience/code");
  CHECK(code["date"] == "2026-11-30");
  CHECK(code.size() == 4);
  REQUIRE(code["errors"].size() == 2);
  CHECK(code["errors"].value(std::string(200, 'x') + "\u2026", 0) == 1);
  CHECK(code["errors"].value(std::string(199, 'y') + "\u2026", 0) == 1);
  CHECK(lines[2] == R"({"date":"2026-11-30","route":"/experience/submit","method":"POST","errors":{"database is locked":2}})");
  const auto fixture = nlohmann::json::parse(lines[3]);
  CHECK(fixture["route"] == "/fixture/anonymous");
  CHECK(fixture["errors"].size() == AnonymousTally::kMessagesPerRoute + 1);
  CHECK(fixture["errors"].value(AnonymousTally::kOtherMessages, 0) ==
        60 - static_cast<int>(AnonymousTally::kMessagesPerRoute));
}

TEST_CASE("the tally counts every request from many threads at once", "[core][anonymous]") {
  Recorder recorder;
  {
    AnonymousTally tally(recorder.sink(), recorder.today());
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&tally, t] {
        for (int i = 0; i < 1000; ++i) {
          tally.count("/experience/submit", "POST", i % 2 == 0 ? 201 : 409);
          if (i % 100 == 0) tally.error("/experience/submit", "POST", "thread " + std::to_string(t));
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  const auto lines = recorder.lines();
  REQUIRE(lines.size() == 3);
  CHECK(nlohmann::json::parse(lines[0])["count"] == 4000);
  CHECK(nlohmann::json::parse(lines[1])["count"] == 4000);
  const auto errors = nlohmann::json::parse(lines[2])["errors"];
  CHECK(errors.size() == 8);
  for (const auto& count : errors) CHECK(count == 10);
}

TEST_CASE("a finished day is written by the clock, not by the next request", "[core][anonymous]") {
  Recorder recorder;
  AnonymousTally tally(recorder.sink(), recorder.today(), std::chrono::milliseconds(10));
  tally.count("/experience/submit", "POST", 201);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(recorder.lines().empty());
  recorder.setDate("2026-12-01");
  // No further request arrives: the checking thread alone writes the day that ended.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (recorder.lines().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(recorder.lines() ==
        std::vector<std::string>{R"({"date":"2026-11-30","route":"/experience/submit","method":"POST","status":201,"count":1})"});
}

TEST_CASE("while an anonymous request is served, the thread's application-log lines are diverted", "[core][anonymous]") {
  belonging::JsonLogger logger;
  std::vector<std::string> diverted;
  {
    belonging::DivertedLogScope scope([&diverted](std::string_view level, std::string_view message) {
      diverted.push_back(std::string(level) + " " + std::string(message));
    });
    logger.error("from a handler");
    logger.warning("from a plugin");
    // Only this thread: another thread's lines (an identified request) are written as usual.
    bool otherThreadDiverted = true;
    std::thread([&otherThreadDiverted] { otherThreadDiverted = belonging::DivertedLogScope::current() != nullptr; }).join();
    CHECK_FALSE(otherThreadDiverted);
  }
  CHECK(belonging::DivertedLogScope::current() == nullptr);
  CHECK(diverted == std::vector<std::string>{"error from a handler", "warning from a plugin"});
}
