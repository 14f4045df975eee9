// Load generator for scripts/soak and scripts/crash (issue 12). Acts as many browsers at once.
//
//   belonging_soak soak ...         mixed traffic for a fixed time: password sign-in (once per
//                                   virtual user, then a trickle of fresh sign-ins), signed-in
//                                   pages, the JSON API (cookie and bearer token), joins and
//                                   leaves with the page's CSRF token, and the survey (a token
//                                   per person signed in through the trusted proxy, answers
//                                   submitted with no cookie). Reports per-kind counts, errors
//                                   and latency, and the server's RSS every few seconds; exits
//                                   1 on any error or on RSS growth of 10% or more after warm-up.
//   belonging_soak crash-load ...   prepares people (proxy sign-in, blind token, finalise), then
//                                   submits their answers on many connections and SIGKILLs the
//                                   server part-way; writes every submission and whether it was
//                                   acknowledged (202: spent, answers pooled) to a state file.
//   belonging_soak crash-check ...  after the server is restarted on the same databases, acts
//                                   as each person's page does: asks /experience/receipt where
//                                   its submission is and re-sends it while the answer is
//                                   "lost" (pooled by the killed server) or "unknown" (never
//                                   arrived); then closes the wave (--close-command, which must
//                                   write every pool) and checks that every submission is
//                                   stored exactly once, every token spent once and released,
//                                   and SQLite's integrity_check is ok.
//
// An error is any 5xx, any connection error and any status the step does not expect.
// Run with no arguments for the options.

#include "BenchAnswers.hpp"
#include "BenchClient.hpp"
#include "BlindRsa.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using belonging::experience::BlindVerifier;
using belonging::experience::Bytes;
using belonging::experience::base64UrlDecode;
using belonging::experience::base64UrlEncode;
namespace client = belonging::experience::client;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

using bench::attribute;
using bench::Browser;
using bench::describe;
using bench::fail;
using bench::formEncode;
using bench::inputValue;
using bench::Options;
using bench::randomHex;
using bench::secondsSince;
using bench::sha256Hex;
using bench::StoreReader;
using bench::WaveKey;

/** The server's resident set in KiB, from /proc/PID/status; 0 if it cannot be read. */
long residentKiB(long pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// --- survey: one person, signed in by the trusted proxy, gets a token -------------------------

/** What a person's browser keeps until its answers are acknowledged. */
struct Token {
  std::string token;     ///< base64url of the prepared message.
  std::string signature; ///< base64url of the finalised signature.
};

// --- soak ---------------------------------------------------------------------------------

enum Kind {
  kSignin, kSignout, kHome, kNetworks, kNetwork, kMine, kAccount, kExperience, kApiList, kApiNetwork,
  kJoinPage, kJoin, kLeave, kSurveyPage, kSurveyToken, kSurveySubmit, kKinds
};
const char* const kKindNames[kKinds] = {"sign-in", "sign-out", "home", "networks", "network", "my networks",
                                         "account", "experience", "api list", "api network", "join page", "join",
                                         "leave", "survey page", "survey token", "survey submit"};

struct Tally {
  long count[kKinds] = {};
  long errors[kKinds] = {};
  std::vector<float> latencyMs[kKinds];
};

struct SoakShared {
  int port = 0;
  long wave = 0;
  std::string secret;
  std::string password;
  std::string bearer;
  std::string run;
  int surveyWeight = 8; ///< Of 85 for the other steps together.
  std::vector<std::string> accounts;
  std::map<std::string, std::unique_ptr<std::mutex>> signinLocks;
  std::vector<std::string> slugs;         ///< Every network the API lists.
  std::vector<std::string> joinableSlugs; ///< Those whose join page is open.
  WaveKey waveKey;
  std::atomic<long> requests{0};
  std::atomic<long> errors{0};
  std::atomic<long> people{0};
  std::atomic<bool> stop{false};
  std::mutex errorMutex;
  int errorsShown = 0;
};

class VirtualUser {
public:
  VirtualUser(SoakShared& shared, int index)
      : shared_(shared), browser_(shared.port), random_(std::random_device{}() + static_cast<unsigned>(index)),
        account_(shared.accounts[static_cast<std::size_t>(index) % shared.accounts.size()]) {
    for (auto& latencies : tally_.latencyMs) latencies.reserve(1 << 14);
  }

  const Tally& tally() const { return tally_; }

  /** Counts one request; false (and an error) unless the status is one of `expected`. */
  bool record(Kind kind, const std::string& path, const httplib::Result& result, Clock::time_point start,
              std::initializer_list<int> expected) {
    const double ms = secondsSince(start) * 1000.0;
    ++tally_.count[kind];
    tally_.latencyMs[kind].push_back(static_cast<float>(ms));
    ++shared_.requests;
    const bool ok = result && std::find(expected.begin(), expected.end(), result->status) != expected.end();
    if (!ok) {
      ++tally_.errors[kind];
      ++shared_.errors;
      std::lock_guard lock(shared_.errorMutex);
      if (shared_.errorsShown++ < 25) {
        std::fprintf(stderr, "error: %s %s (as %s): %s\n", kKindNames[kind], path.c_str(), account_.c_str(),
                     describe(result).c_str());
      }
    }
    return ok;
  }

  httplib::Result get(Kind kind, const std::string& path, std::initializer_list<int> expected = {200},
                      httplib::Headers headers = {}) {
    const auto start = Clock::now();
    auto result = browser_.get(path, std::move(headers));
    record(kind, path, result, start, expected);
    return result;
  }

  /** Password sign-in as this user's demo account, one sign-in per account at a time. */
  bool signIn() {
    std::mutex& lock = *shared_.signinLocks.at(account_);
    std::unique_lock held(lock, std::try_to_lock);
    if (!held.owns_lock()) {
      browser_.drop(); // The wait may outlast the server's keep-alive.
      held.lock();
    }
    browser_.forget("belonging_session");
    auto page = get(kSignin, "/signin");
    if (!page || page->status != 200) return false;
    const std::string csrf = inputValue(page->body, "_csrf");
    const auto start = Clock::now();
    auto result = browser_.post("/signin",
                                formEncode({{"_csrf", csrf}, {"next", "/"}, {"username", account_}, {"password", shared_.password}}),
                                "application/x-www-form-urlencoded");
    if (!record(kSignin, "/signin (POST)", result, start, {303})) return false;
    if (!browser_.has("belonging_session")) {
      record(kSignin, "/signin (no session cookie)", httplib::Result{nullptr, httplib::Error::Unknown}, start, {303});
      return false;
    }
    return refreshCsrf();
  }

  /** Reads the session's CSRF token from a signed-in page. */
  bool refreshCsrf() {
    auto page = get(kHome, "/");
    if (!page || page->status != 200) return false;
    csrf_ = inputValue(page->body, "_csrf");
    return !csrf_.empty();
  }

  void signOutAndIn() {
    const auto start = Clock::now();
    auto result = browser_.post("/signout", formEncode({{"_csrf", csrf_}}), "application/x-www-form-urlencoded");
    record(kSignout, "/signout", result, start, {303});
    signIn();
  }

  const std::string& pick(const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(random_)];
  }

  void join() {
    const std::string slug = pick(shared_.joinableSlugs);
    auto page = get(kJoinPage, "/networks/" + slug + "/join");
    if (!page || page->status != 200) return;
    const std::string consent = inputValue(page->body, "consent_version");
    const std::string csrf = inputValue(page->body, "_csrf");
    const std::string path = "/networks/" + slug + "/join";
    const auto start = Clock::now();
    auto result = browser_.post(path, formEncode({{"_csrf", csrf}, {"kind", "member"}, {"consent_version", consent}, {"visible", "yes"}}),
                                "application/x-www-form-urlencoded");
    record(kJoin, path, result, start, {303});
  }

  void leave() {
    const std::string path = "/networks/" + pick(shared_.joinableSlugs) + "/leave";
    const auto start = Clock::now();
    auto result = browser_.post(path, formEncode({{"_csrf", csrf_}}), "application/x-www-form-urlencoded");
    record(kLeave, path, result, start, {303});
  }

  void api(Kind kind, const std::string& path) {
    if (!shared_.bearer.empty() && random_() % 2 == 0) {
      // The bearer token's request carries no cookie.
      Browser& bare = bareBrowser();
      const auto start = Clock::now();
      auto result = bare.get(path, {{"Authorization", "Bearer " + shared_.bearer}, {"Accept", "application/json"}});
      record(kind, path + " (bearer)", result, start, {200});
      return;
    }
    get(kind, path, {200}, {{"Accept", "application/json"}});
  }

  /** A new colleague, signed in by the proxy, takes the survey: page, token, submission. */
  void survey() {
    Browser& person = surveyBrowser();
    person.forgetAll();
    const std::string username = "soak-" + shared_.run + "-" + std::to_string(shared_.people++);
    const std::string wavePath = "/experience/waves/" + std::to_string(shared_.wave);
    auto start = Clock::now();
    auto page = person.get(wavePath, {{"X-Remote-User", username}, {"X-Proxy-Secret", shared_.secret}});
    if (!record(kSurveyPage, wavePath, page, start, {200})) return;
    const std::string csrf = attribute(page->body, "data-csrf");
    const std::string key = attribute(page->body, "data-public-key");
    if (csrf.empty() || key.empty()) {
      record(kSurveyPage, wavePath + " (no data-csrf or data-public-key)", httplib::Result{nullptr, httplib::Error::Unknown}, start, {200});
      return;
    }
    const BlindVerifier& verifier = shared_.waveKey.verifier(key);
    Bytes message(32);
    RAND_bytes(message.data(), static_cast<int>(message.size()));
    const Bytes prepared = client::prepare(message);
    const auto blinded = client::blind(verifier, prepared);
    const std::string tokenPath = wavePath + "/token";
    start = Clock::now();
    auto issued = person.post(tokenPath, json{{"blindedMessage", base64UrlEncode(blinded.blindedMessage)}}.dump(), "application/json",
                              {{"X-CSRF-Token", csrf}, {"Accept", "application/json"}});
    if (!record(kSurveyToken, tokenPath, issued, start, {200})) return;
    Bytes signature;
    try {
      const auto blindSignature = json::parse(issued->body).at("blindSignature").get<std::string>();
      signature = client::finalize(verifier, base64UrlDecode(blindSignature), blinded.inverse, prepared);
    } catch (const std::exception& error) {
      record(kSurveyToken, tokenPath + " (bad blind signature: " + error.what() + ")", httplib::Result{nullptr, httplib::Error::Unknown},
             start, {200});
      return;
    }
    const std::size_t i = static_cast<std::size_t>(random_() % 1000);
    const std::string body = json{{"wave", shared_.wave},
                                  {"token", base64UrlEncode(prepared)},
                                  {"signature", base64UrlEncode(signature)},
                                  {"answers", answersFor(i)},
                                  {"comment", i % 10 == 0 ? "Soak test comment: the rota changes at short notice." : ""}}
                                 .dump();
    start = Clock::now();
    auto submitted = person.postBare("/experience/submit", body, "application/json", {{"Accept", "application/json"}});
    record(kSurveySubmit, "/experience/submit", submitted, start, {202});
  }

  /** The load itself, after signIn(); until `stop`. A failed sign-in has counted its error already. */
  void run() {
    // Weights of each step in the mix.
    const std::vector<std::pair<int, int>> kMix = {
        {0, 10}, {1, 10}, {2, 12}, {3, 5}, {4, 5}, {5, 5}, {6, 10}, {7, 10}, {8, 5}, {9, 5}, {10, shared_.surveyWeight}};
    int total = 0;
    for (const auto& [step, weight] : kMix) total += weight;
    while (!shared_.stop.load(std::memory_order_relaxed)) {
      // A trickle of fresh sign-ins: about one step in 2000 signs out and in again (a password
      // check costs about 0.1 s of CPU and 32 MiB, by design).
      if (random_() % 2000 == 0) {
        signOutAndIn();
        continue;
      }
      int roll = static_cast<int>(random_() % static_cast<unsigned>(total));
      int step = 0;
      for (const auto& [candidate, weight] : kMix) {
        if (roll < weight) {
          step = candidate;
          break;
        }
        roll -= weight;
      }
      switch (step) {
      case 0: get(kHome, "/"); break;
      case 1: get(kNetworks, "/networks"); break;
      case 2: get(kNetwork, "/networks/" + pick(shared_.slugs)); break;
      case 3: get(kMine, "/networks/mine"); break;
      case 4: get(kAccount, "/account"); break;
      case 5: get(kExperience, "/experience"); break;
      case 6: api(kApiList, "/api/v1/networks"); break;
      case 7: api(kApiNetwork, "/api/v1/networks/" + pick(shared_.slugs)); break;
      case 8: join(); break;
      case 9: leave(); break;
      default: survey(); break;
      }
    }
  }

private:
  Browser& bareBrowser() {
    if (!bare_) bare_ = std::make_unique<Browser>(shared_.port);
    return *bare_;
  }
  Browser& surveyBrowser() {
    if (!survey_) survey_ = std::make_unique<Browser>(shared_.port);
    return *survey_;
  }

  SoakShared& shared_;
  Browser browser_;
  std::unique_ptr<Browser> bare_, survey_;
  std::mt19937_64 random_;
  std::string account_;
  std::string csrf_;
  Tally tally_;
};

double percentile(std::vector<float>& values, double p) {
  if (values.empty()) return 0;
  const auto at = static_cast<std::size_t>(std::min<double>(static_cast<double>(values.size() - 1),
                                                            std::floor(p * static_cast<double>(values.size()))));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(at), values.end());
  return values[at];
}

int soak(Options& options) {
  SoakShared shared;
  shared.port = static_cast<int>(options.integer("port"));
  shared.wave = options.integer("wave");
  shared.secret = options.text("secret");
  shared.password = options.text("password", std::string("belonging-demo"));
  shared.bearer = options.text("bearer", std::string());
  const long serverPid = options.integer("server-pid");
  const double seconds = options.number("seconds", 600.0);
  const int connections = static_cast<int>(options.integer("connections", 64));
  const double sampleSeconds = options.number("sample-seconds", std::min(10.0, std::max(1.0, seconds / 10)));
  const double warmup = options.number("warmup", std::min(60.0, seconds / 10));
  const double rssLimit = options.number("rss-limit", 0.10);
  shared.surveyWeight = static_cast<int>(options.integer("survey-weight", 8));
  std::string accounts = options.text("accounts", std::string("staff,chair,champion,guardian,analyst,admin,sponsor"));
  options.checkAllUsed();
  for (std::size_t at = 0; at != std::string::npos;) {
    const auto comma = accounts.find(',', at);
    shared.accounts.push_back(accounts.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    at = comma == std::string::npos ? comma : comma + 1;
  }
  for (const auto& account : shared.accounts) shared.signinLocks[account] = std::make_unique<std::mutex>();
  shared.run = randomHex(4);
  if (connections < 1 || seconds <= 0) fail("--connections and --seconds must be positive");

  // The networks to visit, join and leave: what the API lists, and which of them take members.
  {
    Browser browser(shared.port);
    const httplib::Headers proxy{{"X-Remote-User", "soak-" + shared.run + "-discovery"}, {"X-Proxy-Secret", shared.secret},
                                 {"Accept", "application/json"}};
    auto list = browser.get("/api/v1/networks", proxy);
    if (!list || list->status != 200) fail("GET /api/v1/networks: " + describe(list));
    const json parsed = json::parse(list->body, nullptr, false);
    const json& networks = parsed.is_object() && parsed.contains("networks") ? parsed["networks"] : parsed;
    if (!networks.is_array()) fail("GET /api/v1/networks did not give a list: " + list->body.substr(0, 200));
    for (const auto& network : networks) {
      if (network.contains("slug") && network["slug"].is_string()) shared.slugs.push_back(network["slug"].get<std::string>());
    }
    for (const auto& slug : shared.slugs) {
      auto page = browser.get("/networks/" + slug + "/join", proxy);
      if (page && page->status == 200) shared.joinableSlugs.push_back(slug);
    }
    if (shared.slugs.empty() || shared.joinableSlugs.empty()) fail("the demo data has no networks to join");
  }
  std::printf("soak: %d connections for %.0f s; accounts %s; %zu networks (%zu take members); wave %ld; RSS every %.0f s, "
              "warm-up %.0f s\n",
              connections, seconds, accounts.c_str(), shared.slugs.size(), shared.joinableSlugs.size(), shared.wave,
              sampleSeconds, warmup);
  std::fflush(stdout);

  // Every virtual user signs in with its password first (counted, but before the clock starts:
  // 64 password checks at once are a burst of memory that the RSS baseline should not include).
  std::vector<std::unique_ptr<VirtualUser>> users;
  for (int i = 0; i < connections; ++i) users.push_back(std::make_unique<VirtualUser>(shared, i));
  std::latch signedIn(connections), go(1);
  const auto signinStart = Clock::now();
  std::vector<std::thread> threads;
  for (auto& user : users) {
    threads.emplace_back([&user, &signedIn, &go] {
      user->signIn();
      signedIn.count_down();
      go.wait();
      user->run();
    });
  }
  signedIn.wait();
  std::printf("soak: %d virtual users signed in (%.1f s, %ld errors)\n", connections, secondsSince(signinStart), shared.errors.load());
  const auto start = Clock::now();
  go.count_down();

  // RSS samples, with a progress line for each.
  std::vector<std::pair<double, long>> samples;
  auto sample = [&] {
    const double at = secondsSince(start);
    const long rss = residentKiB(serverPid);
    samples.emplace_back(at, rss);
    std::printf("soak: %6.0f s  %9ld requests  %5ld errors  %7ld survey people  RSS %7.1f MiB\n", at, shared.requests.load(),
                shared.errors.load(), shared.people.load(), static_cast<double>(rss) / 1024.0);
    std::fflush(stdout);
    return rss;
  };
  sample();
  for (double next = sampleSeconds;; next += sampleSeconds) {
    const double wait = std::min(next, seconds) - secondsSince(start);
    if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    if (secondsSince(start) >= seconds) break;
    if (sample() == 0) {
      std::fprintf(stderr, "error: the server (pid %ld) is gone\n", serverPid);
      ++shared.errors;
      break;
    }
  }
  shared.stop = true;
  for (auto& thread : threads) thread.join();
  const double elapsed = secondsSince(start);
  const long finalRss = sample();

  // Per kind, and all together.
  Tally all;
  std::printf("\n%-14s %10s %8s %10s %10s %10s\n", "kind", "requests", "errors", "p50 ms", "p99 ms", "max ms");
  long requests = 0, errors = 0;
  std::vector<float> everything;
  for (int kind = 0; kind < kKinds; ++kind) {
    std::vector<float> latencies;
    long count = 0, kindErrors = 0;
    for (const auto& user : users) {
      count += user->tally().count[kind];
      kindErrors += user->tally().errors[kind];
      const auto& mine = user->tally().latencyMs[kind];
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    }
    everything.insert(everything.end(), latencies.begin(), latencies.end());
    requests += count;
    errors += kindErrors;
    const double maxMs = latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
    std::printf("%-14s %10ld %8ld %10.1f %10.1f %10.1f\n", kKindNames[kind], count, kindErrors, percentile(latencies, 0.5),
                percentile(latencies, 0.99), maxMs);
  }
  errors = std::max(errors, shared.errors.load()); // Includes a vanished server.
  const double p50 = percentile(everything, 0.5), p99 = percentile(everything, 0.99);
  std::printf("%-14s %10ld %8ld %10.1f %10.1f\n\n", "all", requests, errors, p50, p99);

  // RSS growth after warm-up. The last sample is taken with the load stopped; each password
  // check holds 32 MiB for a moment, so a sample taken during one reads high, and the baseline
  // is the lowest of the first three samples after the warm-up.
  long baseRss = 0;
  double baseAt = 0;
  int considered = 0;
  for (const auto& [at, rss] : samples) {
    if (at + 1e-6 < warmup || rss <= 0 || &rss == &samples.back().second || considered == 3) continue;
    ++considered;
    if (baseRss == 0 || rss < baseRss) {
      baseRss = rss;
      baseAt = at;
    }
  }
  long peakRss = 0;
  for (const auto& [at, rss] : samples) peakRss = std::max(peakRss, rss);
  const double growth = baseRss > 0 && finalRss > 0 ? static_cast<double>(finalRss - baseRss) / static_cast<double>(baseRss) : 1.0;
  const bool pass = errors == 0 && growth < rssLimit;
  std::printf("soak: %s  %.0f s at %d connections: %ld requests (%.0f/s), %ld errors, p50 %.1f ms, p99 %.1f ms; "
              "RSS %.1f MiB at %.0f s -> %.1f MiB at end (%+.1f%%, limit %.0f%%), peak %.1f MiB; %ld survey submissions\n",
              pass ? "PASS" : "FAIL", elapsed, connections, requests, static_cast<double>(requests) / elapsed, errors, p50, p99,
              static_cast<double>(baseRss) / 1024.0, baseAt, static_cast<double>(finalRss) / 1024.0, growth * 100, rssLimit * 100,
              static_cast<double>(peakRss) / 1024.0, shared.people.load());
  return pass ? 0 : 1;
}

// --- the anonymous store, read directly for the crash check ---------------------------------

std::string integrityCheck(const std::string& path) {
  StoreReader reader("sqlite:" + path);
  const auto rows = reader.column("PRAGMA integrity_check");
  std::string joined;
  for (const auto& row : rows) joined += (joined.empty() ? "" : "; ") + row;
  return joined;
}

struct StoreCounts {
  long spent = 0, responses = 0, comments = 0;
};

StoreCounts storeCounts(StoreReader& store, long wave) {
  return {store.count("SELECT COUNT(*) FROM experience_spent WHERE wave_id = $1", wave),
          store.count("SELECT COUNT(*) FROM experience_responses WHERE wave_id = $1", wave),
          store.count("SELECT COUNT(*) FROM experience_comments WHERE wave_id = $1", wave)};
}

std::string nonceOf(const std::string& run, std::size_t i) { return "crash-nonce-" + run + "-" + std::to_string(i); }

// --- crash-load ---------------------------------------------------------------------------

/**
 * Runs `work(browser, index)` for every index in [0, count) on `connections` threads, each with
 * its own browser, until done or `stop` is set.
 */
void forEach(int port, int connections, std::size_t count, const std::atomic<bool>& stop,
             const std::function<void(Browser&, std::size_t)>& work) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&] {
      Browser browser(port);
      for (std::size_t i = next++; i < count && !stop.load(); i = next++) work(browser, i);
    });
  }
  for (auto& thread : threads) thread.join();
}

int crashLoad(Options& options) {
  const int port = static_cast<int>(options.integer("port"));
  const long wave = options.integer("wave");
  const std::string secret = options.text("secret");
  const int connections = static_cast<int>(options.integer("connections", 64));
  const auto people = static_cast<std::size_t>(options.integer("people", 8000));
  const long killPid = options.integer("kill-pid");
  const double killAfter = options.number("kill-after", 2.5);
  const double killFraction = options.number("kill-fraction", 0.75);
  const std::string statePath = options.text("state");
  const std::string storeUrl = options.text("anonymous-db");
  options.checkAllUsed();
  const std::string run = randomHex(4);
  const std::string waveText = std::to_string(wave);

  // 1. Every person signs in through the proxy, opens the survey and gets a token (untimed).
  std::vector<Token> tokens(people);
  WaveKey waveKey;
  std::atomic<bool> never{false};
  std::mutex failureMutex;
  std::string failure;
  const auto prepareStart = Clock::now();
  forEach(port, connections, people, never, [&](Browser& browser, std::size_t i) {
    browser.forgetAll();
    auto page = browser.get("/experience/waves/" + waveText,
                            {{"X-Remote-User", "crash-" + run + "-" + std::to_string(i)}, {"X-Proxy-Secret", secret}});
    std::string problem;
    if (!page || page->status != 200) problem = "wave page: " + describe(page);
    const std::string csrf = page ? attribute(page->body, "data-csrf") : "";
    const std::string key = page ? attribute(page->body, "data-public-key") : "";
    if (problem.empty() && (csrf.empty() || key.empty())) problem = "the wave page has no data-csrf or data-public-key";
    if (problem.empty()) {
      const BlindVerifier& verifier = waveKey.verifier(key);
      Bytes message(32);
      RAND_bytes(message.data(), static_cast<int>(message.size()));
      const Bytes prepared = client::prepare(message);
      const auto blinded = client::blind(verifier, prepared);
      auto issued = browser.post("/experience/waves/" + waveText + "/token",
                                 json{{"blindedMessage", base64UrlEncode(blinded.blindedMessage)}}.dump(), "application/json",
                                 {{"X-CSRF-Token", csrf}, {"Accept", "application/json"}});
      if (!issued || issued->status != 200) {
        problem = "token: " + describe(issued);
      } else {
        const auto blindSignature = json::parse(issued->body).at("blindSignature").get<std::string>();
        tokens[i] = {base64UrlEncode(prepared),
                     base64UrlEncode(client::finalize(verifier, base64UrlDecode(blindSignature), blinded.inverse, prepared))};
      }
    }
    if (!problem.empty()) {
      std::lock_guard lock(failureMutex);
      if (failure.empty()) failure = "person " + std::to_string(i) + ": " + problem;
    }
  });
  if (!failure.empty()) fail("preparing people failed: " + failure);
  std::printf("crash: %zu people signed in and hold finalised tokens (%.1f s)\n", people, secondsSince(prepareStart));

  std::vector<std::string> bodies(people);
  for (std::size_t i = 0; i < people; ++i) {
    bodies[i] = json{{"wave", wave},
                     {"token", tokens[i].token},
                     {"signature", tokens[i].signature},
                     {"answers", answersFor(i)},
                     {"comment", "Crash test " + nonceOf(run, i) + ": more notice of rota changes would help."}}
                    .dump();
  }
  StoreCounts baseline;
  {
    StoreReader store(storeUrl);
    baseline = storeCounts(store, wave);
  }

  // 2. Submit on every connection; SIGKILL the server part-way.
  enum State { kUnsent = 0, kInFlight = 1, kAcknowledged = 2 };
  std::vector<std::atomic<int>> states(people);
  for (auto& state : states) state = kUnsent;
  std::atomic<std::size_t> acknowledged{0};
  std::atomic<long> unexpected{0};
  std::atomic<bool> killed{false};
  std::mutex killMutex;
  std::condition_variable killWake;
  const auto submitStart = Clock::now();
  double killedAt = 0;
  std::string killReason;
  std::thread killer([&] {
    std::unique_lock lock(killMutex);
    killWake.wait_for(lock, std::chrono::duration<double>(killAfter), [&] {
      return static_cast<double>(acknowledged.load()) >= killFraction * static_cast<double>(people);
    });
    killReason = secondsSince(submitStart) >= killAfter ? "time" : "fraction acknowledged";
    if (::kill(static_cast<pid_t>(killPid), SIGKILL) != 0) fail("cannot kill pid " + std::to_string(killPid));
    killedAt = secondsSince(submitStart);
    killed = true;
  });
  forEach(port, connections, people, killed, [&](Browser& browser, std::size_t i) {
    states[i] = kInFlight;
    auto result = browser.postBare("/experience/submit", bodies[i], "application/json", {{"Accept", "application/json"}});
    if (result && result->status == 202) {
      states[i] = kAcknowledged;
      if (static_cast<double>(++acknowledged) >= killFraction * static_cast<double>(people)) killWake.notify_all();
    } else if (result && !killed.load()) {
      // The server answered, and not with 202, before it was killed: a real error.
      if (unexpected++ < 10) std::fprintf(stderr, "error: submission %zu before the kill: %s\n", i, describe(result).c_str());
    }
  });
  killWake.notify_all();
  killer.join();
  if (acknowledged.load() == people) {
    fail("every submission was acknowledged before the kill: raise --people or lower --kill-after");
  }

  std::size_t inFlight = 0, unsent = 0;
  std::ofstream state(statePath);
  state << json{{"run", run},
                {"wave", wave},
                {"people", people},
                {"baseline", {{"spent", baseline.spent}, {"responses", baseline.responses}, {"comments", baseline.comments}}},
                {"unexpected", unexpected.load()},
                {"killedAt", killedAt}}
               .dump()
        << "\n";
  for (std::size_t i = 0; i < people; ++i) {
    const int s = states[i].load();
    if (s == kInFlight) ++inFlight;
    if (s == kUnsent) ++unsent;
    state << json{{"i", i},
                  {"state", s == kAcknowledged ? "acknowledged" : s == kInFlight ? "in-flight" : "unsent"},
                  {"hash", sha256Hex("token:" + std::to_string(wave) + ":" + tokens[i].token)},
                  {"body", bodies[i]}}
                 .dump()
          << "\n";
  }
  state.close();
  if (!state) fail("cannot write " + statePath);
  std::printf("crash: killed the server %.2f s into the submissions (%s): %zu acknowledged, %zu in flight, %zu not yet sent, "
              "%ld unexpected answers before the kill\n",
              killedAt, killReason.c_str(), acknowledged.load(), inFlight, unsent, unexpected.load());
  return 0;
}

// --- crash-check --------------------------------------------------------------------------

int crashCheck(Options& options) {
  const int port = static_cast<int>(options.integer("port"));
  const int connections = static_cast<int>(options.integer("connections", 64));
  const std::string statePath = options.text("state");
  const std::string storeUrl = options.text("anonymous-db");
  const std::string identifiedPath = options.text("identified-sqlite", std::string());
  const std::string label = options.text("label", std::string("crash"));
  const std::string closeCommand = options.text("close-command", std::string());
  const auto leaseWait = options.integer("lease-wait", 3);
  options.checkAllUsed();

  std::ifstream stateFile(statePath);
  std::string line;
  if (!std::getline(stateFile, line)) fail("cannot read " + statePath);
  const json header = json::parse(line);
  const auto run = header.at("run").get<std::string>();
  const auto wave = header.at("wave").get<long>();
  const auto people = header.at("people").get<std::size_t>();
  const json& counted = header.at("baseline");
  const StoreCounts baseline{counted.at("spent").get<long>(), counted.at("responses").get<long>(), counted.at("comments").get<long>()};
  struct Person {
    std::string state, hash, body;
  };
  std::vector<Person> persons;
  while (std::getline(stateFile, line)) {
    const json entry = json::parse(line);
    persons.push_back({entry.at("state").get<std::string>(), entry.at("hash").get<std::string>(), entry.at("body").get<std::string>()});
  }
  if (persons.size() != people) fail(statePath + " holds " + std::to_string(persons.size()) + " people, not " + std::to_string(people));

  // 1. As each person's page does: wait for the killed server's lease to lapse, then ask where
  //    the submission is and re-send it while it is "lost" (pooled by the killed server) or
  //    "unknown" (never arrived). A "pending" one is pooled by the new server.
  std::size_t acknowledgedBefore = 0, inFlight = 0, unsent = 0;
  for (const auto& person : persons) {
    acknowledgedBefore += person.state == "acknowledged";
    inFlight += person.state == "in-flight";
    unsent += person.state == "unsent";
  }
  std::this_thread::sleep_for(std::chrono::seconds(leaseWait));
  std::vector<std::string> receipts(people);
  std::atomic<bool> never{false};
  std::mutex errorMutex;
  long resendErrors = 0;
  std::size_t resent202 = 0, resent409 = 0, unsent409 = 0, rounds = 0;
  auto receiptOf = [&](Browser& browser, std::size_t i) {
    const json body = json::parse(persons[i].body);
    auto result = browser.postBare("/experience/receipt", json{{"wave", body.at("wave")}, {"token", body.at("token")}}.dump(),
                                   "application/json", {{"Accept", "application/json"}});
    if (!result || result->status != 200) return std::string("error");
    return json::parse(result->body).at("status").get<std::string>();
  };
  for (; rounds < 5; ++rounds) {
    std::atomic<std::size_t> sent{0};
    forEach(port, connections, people, never, [&](Browser& browser, std::size_t i) {
      receipts[i] = receiptOf(browser, i);
      if (receipts[i] != "lost" && receipts[i] != "unknown") return;
      ++sent;
      auto result = browser.postBare("/experience/submit", persons[i].body, "application/json", {{"Accept", "application/json"}});
      std::lock_guard lock(errorMutex);
      if (result && result->status == 202) {
        ++resent202;
      } else if (result && result->status == 409) {
        ++resent409;
        if (persons[i].state == "unsent") ++unsent409;
      } else if (resendErrors++ < 10) {
        std::fprintf(stderr, "error: re-sending submission %zu: %s\n", i, describe(result).c_str());
      }
    });
    if (sent == 0) break;
  }

  // 2. Close the wave: every pool is written and the store shuffled.
  if (!closeCommand.empty() && std::system(closeCommand.c_str()) != 0) fail("the close command failed: " + closeCommand);
  std::size_t storedReceipts = 0;
  forEach(port, connections, people, never, [&](Browser& browser, std::size_t i) { receipts[i] = receiptOf(browser, i); });
  for (const auto& receipt : receipts) storedReceipts += receipt == "stored";

  // 3. What the anonymous store holds now.
  std::vector<std::string> problems;
  StoreReader store(storeUrl);
  const StoreCounts now = storeCounts(store, wave);
  const long spent = now.spent - baseline.spent, responses = now.responses - baseline.responses;
  const auto expected = static_cast<long>(people);
  if (spent != expected) problems.push_back("spent tokens " + std::to_string(spent) + " != people " + std::to_string(expected));
  if (responses != expected) problems.push_back("stored responses " + std::to_string(responses) + " != people " + std::to_string(expected));
  if (storedReceipts != people) problems.push_back(std::to_string(people - storedReceipts) + " receipts do not say stored after the close");
  if (unsent409 > 0) problems.push_back(std::to_string(unsent409) + " submissions never sent before the crash got 409");
  if (resendErrors > 0) problems.push_back(std::to_string(resendErrors) + " re-sends failed");
  if (header.at("unexpected").get<long>() > 0) problems.push_back(std::to_string(header.at("unexpected").get<long>()) + " unexpected answers before the kill");

  // Each comment nonce exactly once: every person's answers are there, none twice.
  std::map<std::string, int> seen;
  const std::regex noncePattern("crash-nonce-" + run + "-[0-9]+");
  for (const auto& body : store.column("SELECT body FROM experience_comments WHERE wave_id = $1", wave)) {
    for (auto match = std::sregex_iterator(body.begin(), body.end(), noncePattern); match != std::sregex_iterator(); ++match) {
      ++seen[match->str()];
    }
  }
  std::size_t missingAcknowledged = 0, missingOther = 0, duplicated = 0;
  for (std::size_t i = 0; i < people; ++i) {
    const auto found = seen.find(nonceOf(run, i));
    const int times = found == seen.end() ? 0 : found->second;
    if (times == 0) (persons[i].state == "acknowledged" ? missingAcknowledged : missingOther) += 1;
    if (times > 1) ++duplicated;
  }
  if (missingAcknowledged > 0) problems.push_back(std::to_string(missingAcknowledged) + " submissions acknowledged before the crash are missing");
  if (missingOther > 0) problems.push_back(std::to_string(missingOther) + " re-sent submissions are missing");
  if (duplicated > 0) problems.push_back(std::to_string(duplicated) + " submissions are stored more than once");
  if (seen.size() != people) problems.push_back(std::to_string(seen.size()) + " distinct nonces stored for " + std::to_string(people) + " people");

  // Spent tokens: exactly our tokens, each once (the store's key is the hash, so twice is impossible
  // by construction; the count above catches a spend without a token of ours).
  std::set<std::string> ourHashes;
  for (const auto& person : persons) ourHashes.insert(person.hash);
  std::size_t ourSpent = 0;
  for (const auto& hash : store.column("SELECT credential_hash FROM experience_spent WHERE wave_id = $1", wave)) {
    if (ourHashes.contains(hash)) ++ourSpent;
  }
  std::string hashNote;
  if (ourSpent == 0) {
    hashNote = " (the spent-token hash is not SHA-256(\"token:wave:token\") any more: checked by count only)";
  } else if (ourSpent != people) {
    problems.push_back(std::to_string(ourSpent) + " of " + std::to_string(people) + " tokens are recorded as spent");
  }

  // 3. SQLite's own check of both files.
  std::string integrity = "n/a (PostgreSQL)";
  if (store.isSqlite()) {
    const std::string anonymous = integrityCheck(storeUrl.substr(7));
    integrity = "anonymous " + anonymous;
    if (anonymous != "ok") problems.push_back("integrity_check of the anonymous store: " + anonymous);
    if (!identifiedPath.empty()) {
      const std::string identified = integrityCheck(identifiedPath);
      integrity += ", identified " + identified;
      if (identified != "ok") problems.push_back("integrity_check of the identified store: " + identified);
    }
  }

  std::printf("%s: %s  people %zu: acknowledged before the crash %zu, in flight %zu, unsent %zu; re-sent 202 %zu, re-sent 409 %zu "
              "in %zu rounds; "
              "stored responses %ld, spent tokens %ld, comment nonces %zu (duplicated %zu); integrity_check %s%s\n",
              label.c_str(), problems.empty() ? "PASS" : "FAIL", people, acknowledgedBefore, inFlight, unsent, resent202, resent409, rounds + 1,
              responses, spent, seen.size(), duplicated, integrity.c_str(), hashNote.c_str());
  for (const auto& problem : problems) std::printf("%s: problem: %s\n", label.c_str(), problem.c_str());
  return problems.empty() ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  bench::programName = "belonging_soak";
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: belonging_soak soak --port P --wave W --secret S --server-pid PID [--seconds 600] [--connections 64]\n"
                 "                      [--bearer TOKEN] [--accounts a,b,...] [--password P] [--sample-seconds 10] [--warmup 60]\n"
                 "                      [--rss-limit 0.10] [--survey-weight 8]\n"
                 "       belonging_soak crash-load --port P --wave W --secret S --kill-pid PID --state FILE\n"
                 "                      --anonymous-db sqlite:PATH|pg:CONNINFO [--people 8000] [--connections 64]\n"
                 "                      [--kill-after 2.5] [--kill-fraction 0.75]\n"
                 "       belonging_soak crash-check --port P --state FILE --anonymous-db sqlite:PATH|pg:CONNINFO\n"
                 "                      [--identified-sqlite PATH] [--connections 64] [--label NAME] [--close-command CMD]\n"
                 "                      [--lease-wait SECONDS]\n");
    return 2;
  }
  const std::string mode = argv[1];
  Options options(argc, argv, 2);
  try {
    if (mode == "soak") return soak(options);
    if (mode == "crash-load") return crashLoad(options);
    if (mode == "crash-check") return crashCheck(options);
  } catch (const std::exception& error) {
    fail(mode + ": " + error.what());
  }
  fail("unknown mode " + mode + " (soak, crash-load or crash-check)");
}
