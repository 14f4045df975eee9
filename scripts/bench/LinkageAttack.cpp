// The linkage harness's client (scripts/linkage, issue 13 "Proof"): plays an insider trying to
// tell which stored answers came from which named colleague, against a running server whose
// ground truth only this program knows (each scripted colleague sends distinct answers).
//
//   belonging_linkage wave ...     one survey wave: N colleagues (accounts made beforehand, in
//                                  random order) open the page (blind token) and submit at
//                                  Poisson arrival times, the token either early (a random
//                                  while before submitting, as the page now does) or late (just
//                                  before). Meanwhile an insider polls both stores, and copies
//                                  the anonymous store's files (SQLite db + WAL) or reads its
//                                  tables and pg_wal (PostgreSQL) at random moments; then the
//                                  wave is closed and copied once more. Each attacker position
//                                  orders the answer rows by what it saw and the colleagues by
//                                  what the insider knows (token order from the access log) and
//                                  matches rank to rank; scores go to a results file.
//   belonging_linkage nminus1 ...  the (n-1) attack: in a fresh quiet wave per trial a target
//                                  submits, then the insider's own helper accounts submit, and
//                                  the insider watches which rows appear (until the close).
//   belonging_linkage report ...   reads the results files, applies the pass rule and prints
//                                  the table; exits 1 on any FAIL.
//
// Scores. A position shows each answer row with a "bucket" (which copy, poll, transaction or
// batch it was first seen in) and a finer key within it (file offset, ctid, WAL position).
// The attacker's strategies: exact rank matching (rows by bucket then key against colleagues
// by token order), and batch-aware guessing (colleague k gets a uniform guess within the
// bucket holding rank k: its expected accuracy is counted). Each strategy is one test.
//
// Pass rule (printed with the table): a test fails when its accuracy beats chance (1/B for
// positions an insider holds while the wave is open, 1/n after close) beyond a one-sided exact
// binomial bound at 99%, Bonferroni-corrected over every test in the report, so a clean run
// fails by noise with probability below 1%.

#include "BenchAnswers.hpp"
#include "BenchClient.hpp"
#include "BlindRsa.hpp"

#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using belonging::experience::BlindVerifier;
using belonging::experience::Bytes;
using belonging::experience::base64UrlDecode;
using belonging::experience::base64UrlEncode;
namespace client = belonging::experience::client;
using bench::Browser;
using bench::Clock;
using bench::fail;
using bench::Options;
using bench::secondsSince;
using bench::sha256Hex;
using bench::StoreReader;
using nlohmann::json;
namespace fs = std::filesystem;

// --- people and their answers --------------------------------------------------------------

/** Answer set k, distinct for every k below 1250: answersFor is distinct below 250, "valued" varies above. */
json answerSet(std::size_t k) {
  static const char* const valued[] = {"satisfied", "very-satisfied", "neither", "dissatisfied", "very-dissatisfied"};
  json answers = answersFor(k % 250);
  answers["valued"] = valued[(k / 250) % 5];
  return answers;
}

/** The form the server stores answers in (a JSON object with sorted keys), for matching rows to people. */
std::string canonical(const std::string& jsonText) {
  const json parsed = json::parse(jsonText, nullptr, false);
  return parsed.is_discarded() ? jsonText : parsed.dump();
}

/** A scripted colleague: who they are, what they answer, and when they act. */
struct Person {
  std::string username;
  json answers;
  std::string stored; ///< canonical(answers).
  double issueAt = 0, submitAt = 0;
  std::string token, signature, spentHash;
  std::atomic<int> state{0}; ///< 0 waiting, 1 holds a token, -1 failed.
  double submittedAt = -1;   ///< When the 202 came back (seconds from the start).
};

/** Signs in through the proxy, opens the wave's page and gets a blind token, as the page's script does. */
std::string takeToken(int port, const std::string& secret, long wave, Person& person, bench::WaveKey& waveKey) {
  Browser browser(port);
  const std::string path = "/experience/waves/" + std::to_string(wave);
  auto page = browser.get(path, {{"X-Remote-User", person.username}, {"X-Proxy-Secret", secret}});
  if (!page || page->status != 200) return "wave page: " + bench::describe(page);
  const std::string csrf = bench::attribute(page->body, "data-csrf"), key = bench::attribute(page->body, "data-public-key");
  if (csrf.empty() || key.empty()) return "the wave page has no data-csrf or data-public-key";
  const BlindVerifier& verifier = waveKey.verifier(key);
  Bytes message(32);
  RAND_bytes(message.data(), static_cast<int>(message.size()));
  const Bytes prepared = client::prepare(message);
  const auto blinded = client::blind(verifier, prepared);
  auto issued = browser.post(path + "/token", json{{"blindedMessage", base64UrlEncode(blinded.blindedMessage)}}.dump(),
                             "application/json", {{"X-CSRF-Token", csrf}, {"Accept", "application/json"}});
  if (!issued || issued->status != 200) return "token: " + bench::describe(issued);
  const auto blindSignature = json::parse(issued->body).at("blindSignature").get<std::string>();
  person.token = base64UrlEncode(prepared);
  person.signature = base64UrlEncode(client::finalize(verifier, base64UrlDecode(blindSignature), blinded.inverse, prepared));
  // What the anonymous store's spent set holds for this token (AnonymousStore's credentialHash).
  person.spentHash = sha256Hex("token:" + std::to_string(wave) + ":" + person.token);
  browser.drop();
  return {};
}

/** Sends the answers with no cookie on a fresh connection; the empty string on 202. */
std::string submitAnswers(int port, long wave, const Person& person) {
  Browser browser(port);
  const std::string body = json{{"wave", wave}, {"token", person.token}, {"signature", person.signature}, {"answers", person.answers},
                                {"comment", ""}}
                               .dump();
  auto result = browser.postBare("/experience/submit", body, "application/json", {{"Accept", "application/json"}});
  browser.drop();
  return result && result->status == 202 ? std::string() : "submit: " + bench::describe(result);
}

/** Makes the accounts, in the order given, so user ids say nothing about who submits when. */
void provision(int port, const std::string& secret, const std::vector<std::string>& usernames) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Browser browser(port);
      for (std::size_t i = next++; i < usernames.size(); i = next++) {
        browser.forgetAll();
        auto page = browser.get("/", {{"X-Remote-User", usernames[i]}, {"X-Proxy-Secret", secret}});
        if (!page || page->status != 200) fail("signing in " + usernames[i] + ": " + bench::describe(page));
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

// --- reading what an insider can read ------------------------------------------------------

/**
 * Where each text first occurs in `data` (npos if nowhere). Every answer set is a JSON object,
 * so only offsets where `{"` starts are tried, for each distinct text length.
 */
std::vector<std::size_t> firstOffsets(const std::string& data, const std::vector<std::string>& texts) {
  std::unordered_map<std::string_view, std::size_t> index;
  std::set<std::size_t> lengths;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    index.emplace(texts[i], i);
    lengths.insert(texts[i].size());
  }
  std::vector<std::size_t> found(texts.size(), std::string::npos);
  std::size_t remaining = texts.size();
  for (std::size_t at = data.find("{\""); at != std::string::npos && remaining > 0; at = data.find("{\"", at + 1)) {
    for (const auto length : lengths) {
      if (at + length > data.size()) break;
      const auto hit = index.find(std::string_view(data.data() + at, length));
      if (hit != index.end() && found[hit->second] == std::string::npos) {
        found[hit->second] = at;
        --remaining;
      }
    }
  }
  return found;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

/**
 * The number of the transaction each byte of a SQLite WAL file belongs to: frames are
 * (24-byte header, page), and a frame whose header's bytes 4-7 are non-zero commits. Counted
 * in file order, old generations left behind a WAL reset included, as a reader would.
 */
std::uint32_t bigEndian32(const std::string& data, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(data[at + i]);
  return value;
}

/** The WAL's page size (its header's bytes 8-11; 1 means 65536), 0 if it has no header. */
std::size_t walPageSize(const std::string& wal) {
  if (wal.size() < 32) return 0;
  const std::uint32_t size = bigEndian32(wal, 8);
  return size == 1 ? 65536 : size;
}

std::vector<long> walTransactions(const std::string& wal) {
  std::vector<long> byFrame;
  const std::size_t pageSize = walPageSize(wal);
  if (pageSize < 512) return byFrame;
  long transaction = 0;
  for (std::size_t at = 32; at + 24 + pageSize <= wal.size(); at += 24 + pageSize) {
    byFrame.push_back(transaction);
    if (bigEndian32(wal, at + 4) != 0) ++transaction;
  }
  return byFrame;
}

/** Frame index of a byte offset in a SQLite WAL file. */
std::size_t walFrame(const std::string& wal, std::size_t offset) {
  const std::size_t pageSize = walPageSize(wal);
  return offset < 32 || pageSize == 0 ? 0 : (offset - 32) / (24 + pageSize);
}

/** pg_wal read as one stream, and where each 8 KiB WAL page of it starts in the server's LSN space. */
struct PgWal {
  std::string stream;
  std::vector<std::pair<std::size_t, std::uint64_t>> pages; ///< (offset in stream, LSN of that byte).
  std::string firstSegment, lastSegment;

  std::uint64_t lsnAt(std::size_t offset) const {
    auto page = std::upper_bound(pages.begin(), pages.end(), std::make_pair(offset, std::numeric_limits<std::uint64_t>::max()));
    if (page == pages.begin()) return 0;
    --page;
    return page->second + (offset - page->first);
  }
};

/**
 * pg_wal as one stream in write order: segments by name, each 8 KiB WAL page without its
 * header (40 bytes on a segment's first page, 24 on the others), so a record that spans a
 * page boundary reads whole, as the server's own reader reassembles it.
 */
PgWal readPgWal(const fs::path& directory) {
  std::vector<fs::path> segments;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 24 && name.find_first_not_of("0123456789ABCDEF") == std::string::npos) segments.push_back(entry.path());
  }
  std::sort(segments.begin(), segments.end());
  PgWal wal;
  for (const auto& segment : segments) {
    const std::string data = readFile(segment);
    const std::string name = segment.filename().string();
    // Timeline, then the high and low parts of the segment number: LSN = high * 2^32 + low * size.
    const std::uint64_t start = std::stoull(name.substr(8, 8), nullptr, 16) * (std::uint64_t{1} << 32) +
                                std::stoull(name.substr(16, 8), nullptr, 16) * data.size();
    if (wal.firstSegment.empty()) wal.firstSegment = name;
    wal.lastSegment = name;
    for (std::size_t page = 0; page * 8192 < data.size(); ++page) {
      const std::size_t header = page == 0 ? 40 : 24;
      const std::size_t begin = page * 8192 + header, end = std::min(data.size(), (page + 1) * 8192);
      if (begin >= end) continue;
      wal.pages.emplace_back(wal.stream.size(), start + begin);
      wal.stream.append(data, begin, end - begin);
    }
  }
  return wal;
}

/**
 * Each WAL record's start LSN and transaction, from pg_waldump (the PostgreSQL server
 * package's own reader); empty if it is not there. It stops with an error at the end of the
 * written WAL, which is expected.
 */
std::vector<std::pair<std::uint64_t, double>> walRecords(const std::string& waldump, const std::string& directory, const PgWal& wal) {
  std::vector<std::pair<std::uint64_t, double>> records;
  if (waldump.empty() || wal.firstSegment.empty()) return records;
  const std::string command = waldump + " -p '" + directory + "' " + wal.firstSegment + " " + wal.lastSegment + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return records;
  const std::regex pattern("tx: *([0-9]+), lsn: ([0-9A-F]+)/([0-9A-F]+)");
  char line[4096];
  while (std::fgets(line, sizeof(line), pipe)) {
    std::cmatch match;
    if (!std::regex_search(line, match, pattern)) continue;
    const std::uint64_t lsn = (std::stoull(match[2].str(), nullptr, 16) << 32) + std::stoull(match[3].str(), nullptr, 16);
    records.emplace_back(lsn, std::stod(match[1].str()));
  }
  pclose(pipe);
  std::sort(records.begin(), records.end());
  return records;
}

/** The transaction of the record holding `lsn`: the last record starting at or before it. */
double transactionAt(const std::vector<std::pair<std::uint64_t, double>>& records, std::uint64_t lsn) {
  auto record = std::upper_bound(records.begin(), records.end(), std::make_pair(lsn, std::numeric_limits<double>::max()));
  return record == records.begin() ? -1 : std::prev(record)->second;
}

/** "(page,offset)" as one sortable number. */
double ctidNumber(const std::string& ctid) {
  long page = 0, offset = 0;
  if (std::sscanf(ctid.c_str(), "(%ld,%ld)", &page, &offset) != 2) return 0;
  return static_cast<double>(page) * 65536.0 + static_cast<double>(offset);
}

// --- scoring -------------------------------------------------------------------------------

/** What one position shows of one answer row. */
struct RowView {
  std::size_t owner = 0; ///< The person whose row it is (ground truth, never shown to the attacker).
  double bucket = 0;     ///< First copy / poll / transaction it was seen in; equal buckets are indistinguishable.
  double key = 0;        ///< Order within the bucket, if the position shows one.
};

struct Scores {
  double exact = 0;      ///< Rank-to-rank accuracy.
  double batchAware = 0; ///< Expected accuracy of a uniform guess within the bucket at the person's rank.
  std::size_t smallestBucket = 0;
  std::size_t buckets = 0;
};

/** `rank[p]` is person p's place in the insider's order (0 first). */
Scores score(const std::vector<std::size_t>& rank, std::vector<RowView> rows, std::mt19937_64& random) {
  Scores scores;
  if (rows.empty()) return scores;
  std::vector<std::size_t> personAt(rank.size());
  for (std::size_t p = 0; p < rank.size(); ++p) personAt[rank[p]] = p;
  std::shuffle(rows.begin(), rows.end(), random); // Ties fall at random.
  std::stable_sort(rows.begin(), rows.end(), [](const RowView& a, const RowView& b) {
    return a.bucket != b.bucket ? a.bucket < b.bucket : a.key < b.key;
  });
  const std::size_t n = std::min(rows.size(), rank.size());
  std::size_t exact = 0;
  for (std::size_t k = 0; k < n; ++k) exact += rows[k].owner == personAt[k];
  scores.exact = static_cast<double>(exact) / static_cast<double>(n);
  // Buckets as rank ranges.
  std::vector<std::size_t> bucketOf(rows.size()), bucketSize;
  std::map<std::size_t, std::size_t> ownerBucket;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (k == 0 || rows[k].bucket != rows[k - 1].bucket) bucketSize.push_back(0);
    bucketOf[k] = bucketSize.size() - 1;
    ++bucketSize.back();
    ownerBucket[rows[k].owner] = bucketOf[k];
  }
  double expected = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const auto found = ownerBucket.find(personAt[k]);
    if (found != ownerBucket.end() && found->second == bucketOf[k]) expected += 1.0 / static_cast<double>(bucketSize[bucketOf[k]]);
  }
  scores.batchAware = expected / static_cast<double>(n);
  scores.buckets = bucketSize.size();
  scores.smallestBucket = *std::min_element(bucketSize.begin(), bucketSize.end());
  return scores;
}

/** One line of the results file: a test (chance > 0) or a note (chance 0). */
struct Result {
  std::string database, rate, token, position, strategy;
  std::size_t n = 0;
  double accuracy = 0, chance = 0;
  std::string note;
};

void writeResult(std::ofstream& out, const Result& r) {
  out << json{{"database", r.database}, {"rate", r.rate}, {"token", r.token}, {"position", r.position}, {"strategy", r.strategy},
              {"n", r.n}, {"accuracy", r.accuracy}, {"chance", r.chance}, {"note", r.note}}
             .dump()
      << "\n";
  out.flush();
  std::printf("  %-34s %-26s n=%-4zu accuracy %.4f (chance %.4f) %s\n", r.position.c_str(), r.strategy.c_str(), r.n, r.accuracy,
              r.chance, r.note.c_str());
  std::fflush(stdout);
}

// --- the insider's live view ---------------------------------------------------------------

/** First-seen poll of every issuance (by user id), spent hash and stored answer set. */
struct LiveView {
  std::map<std::string, long> issuance, spent, responses;
  std::vector<double> pollTimes;
};

void pollOnce(const std::string& identifiedUrl, const std::string& anonymousUrl, long wave, LiveView& view, double at) {
  // A fresh connection each time: a reader left open would hold SQLite's WAL and make the
  // close's truncating checkpoint fail (the close says so and refuses to report success).
  const long poll = static_cast<long>(view.pollTimes.size());
  view.pollTimes.push_back(at);
  {
    StoreReader identified(identifiedUrl);
    for (const auto& user : identified.column("SELECT user_id FROM experience_issuances WHERE wave_id = $1", wave)) {
      view.issuance.emplace(user, poll);
    }
  }
  StoreReader anonymous(anonymousUrl);
  for (const auto& hash : anonymous.column("SELECT credential_hash FROM experience_spent WHERE wave_id = $1", wave)) {
    view.spent.emplace(hash, poll);
  }
  for (const auto& answers : anonymous.column("SELECT answers FROM experience_responses WHERE wave_id = $1", wave)) {
    view.responses.emplace(canonical(answers), poll);
  }
}

/** What one in-wave copy of the anonymous store showed, per answer set (canonical form). */
struct Copy {
  double at = 0;
  // SQLite: offsets in the db file and the WAL; transaction of the WAL frame.
  std::map<std::string, double> dbOffset, walOffset, walTransaction;
  // PostgreSQL: ctid and xmin from the table, position in pg_wal.
  std::map<std::string, double> ctid, xmin, pgWal, pgWalTransaction;
  std::size_t walBytes = 0;
};

/** Reads a SQLite copy: which stored texts are where. `texts` are the raw stored strings to look for. */
void analyseSqliteCopy(const fs::path& db, const fs::path& wal, const std::vector<std::string>& texts, Copy& copy) {
  const std::string dbData = readFile(db), walData = readFile(wal);
  copy.walBytes = walData.size();
  const auto inDb = firstOffsets(dbData, texts), inWal = firstOffsets(walData, texts);
  const auto transactions = walTransactions(walData);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string stored = canonical(texts[i]);
    if (inDb[i] != std::string::npos) copy.dbOffset[stored] = static_cast<double>(inDb[i]);
    if (inWal[i] != std::string::npos) {
      copy.walOffset[stored] = static_cast<double>(inWal[i]);
      const std::size_t frame = walFrame(walData, inWal[i]);
      copy.walTransaction[stored] = frame < transactions.size() ? static_cast<double>(transactions[frame]) : -1;
    }
  }
}

void analysePostgresCopy(const std::string& anonymousUrl, const std::string& pgWal, const std::string& waldump, long wave,
                         Copy& copy) {
  std::vector<std::string> texts;
  {
    StoreReader store(anonymousUrl);
    for (const auto& row : store.rows("SELECT ctid::text, xmin::text, answers FROM experience_responses WHERE wave_id = $1", wave)) {
      const std::string stored = canonical(row[2]);
      copy.ctid[stored] = ctidNumber(row[0]);
      copy.xmin[stored] = std::stod(row[1]);
      texts.push_back(row[2]);
    }
  }
  if (pgWal.empty()) return;
  const PgWal wal = readPgWal(pgWal);
  copy.walBytes = wal.stream.size();
  const auto offsets = firstOffsets(wal.stream, texts);
  const auto records = walRecords(waldump, pgWal, wal);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (offsets[i] == std::string::npos) continue;
    copy.pgWal[canonical(texts[i])] = static_cast<double>(offsets[i]);
    if (!records.empty()) copy.pgWalTransaction[canonical(texts[i])] = transactionAt(records, wal.lsnAt(offsets[i]));
  }
}

// --- wave ----------------------------------------------------------------------------------

int waveRun(Options& options) {
  const int port = static_cast<int>(options.integer("port"));
  const long wave = options.integer("wave");
  const std::string secret = options.text("secret");
  const auto people = static_cast<std::size_t>(options.integer("people", 200));
  const double gap = options.number("gap", 0.05);
  const std::string tokenMode = options.text("token", std::string("early"));
  const double earlyMin = options.number("early-min", 0.5), earlyMax = options.number("early-max", 6.0);
  const double lateLead = options.number("late-lead", 0.02);
  const double pollEvery = options.number("poll", 0.2);
  const auto copies = static_cast<std::size_t>(options.integer("copies", 4));
  const auto batch = static_cast<std::size_t>(options.integer("batch", 20));
  const std::string identifiedUrl = options.text("identified"), anonymousUrl = options.text("anonymous");
  const std::string pgWal = options.text("pg-wal", std::string());
  const std::string waldump = options.text("pg-waldump", std::string());
  const std::string accessLog = options.text("access-log");
  const std::string closeCommand = options.text("close-command");
  const std::string copyDir = options.text("copy-dir");
  const std::string database = options.text("database"), rate = options.text("rate");
  const std::string resultsPath = options.text("results");
  options.checkAllUsed();
  if (tokenMode != "early" && tokenMode != "late") fail("--token must be early or late");
  if (people < 2 || people > 1250) fail("--people must be between 2 and 1250");
  const bool sqlite = anonymousUrl.rfind("sqlite:", 0) == 0;
  const std::string run = bench::randomHex(4);
  std::mt19937_64 random(std::random_device{}());
  std::ofstream results(resultsPath, std::ios::app);
  if (!results) fail("cannot write " + resultsPath);

  // 1. People, their answers (a random one of the distinct sets each) and their times.
  std::vector<std::size_t> sets(people);
  for (std::size_t i = 0; i < people; ++i) sets[i] = i;
  std::shuffle(sets.begin(), sets.end(), random);
  std::vector<Person> persons(people);
  std::exponential_distribution<double> arrival(1.0 / gap);
  std::uniform_real_distribution<double> lead(earlyMin, earlyMax);
  double timeline = tokenMode == "early" ? earlyMax : lateLead; // The first token is issued at 0 s or later.
  std::map<std::string, std::size_t> ownerOf, ownerOfUser;
  for (std::size_t i = 0; i < people; ++i) {
    Person& person = persons[i];
    person.username = "linkage-" + run + "-" + std::to_string(i);
    person.answers = answerSet(sets[i]);
    person.stored = person.answers.dump();
    ownerOf[person.stored] = i;
    timeline += arrival(random);
    person.submitAt = timeline;
    person.issueAt = timeline - (tokenMode == "early" ? lead(random) : lateLead);
  }
  std::vector<std::string> usernames;
  for (const auto& person : persons) usernames.push_back(person.username);
  std::shuffle(usernames.begin(), usernames.end(), random);
  provision(port, secret, usernames);
  {
    StoreReader identified(identifiedUrl);
    for (const auto& row : identified.rows("SELECT id, username FROM users WHERE username LIKE 'linkage-%'")) {
      for (std::size_t i = 0; i < people; ++i) {
        if (persons[i].username == row[1]) ownerOfUser[row[0]] = i;
      }
    }
  }
  std::printf("%s %s %s: %zu people, mean gap %.3f s, tokens %s, last submission at %.1f s\n", database.c_str(), rate.c_str(),
              tokenMode.c_str(), people, gap, tokenMode.c_str(), timeline);
  std::fflush(stdout);

  // 2. Run the schedule: every token and submission at its time, on a few threads.
  struct Event {
    double at;
    bool submit;
    std::size_t person;
  };
  std::vector<Event> events;
  for (std::size_t i = 0; i < people; ++i) {
    events.push_back({persons[i].issueAt, false, i});
    events.push_back({persons[i].submitAt, true, i});
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.at < b.at; });
  bench::WaveKey waveKey;
  LiveView live;
  pollOnce(identifiedUrl, anonymousUrl, wave, live, 0);
  std::set<std::string> before; // Rows of the wave from before the run: the insider knows they are not ours.
  for (const auto& [stored, poll] : live.responses) before.insert(stored);
  const auto start = Clock::now();
  std::atomic<std::size_t> next{0};
  std::atomic<long> errors{0};
  std::mutex errorMutex;
  std::vector<std::thread> workers;
  for (int t = 0; t < 12; ++t) {
    workers.emplace_back([&] {
      for (std::size_t e = next++; e < events.size(); e = next++) {
        const Event& event = events[e];
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(event.at)));
        Person& person = persons[event.person];
        std::string problem;
        if (!event.submit) {
          problem = takeToken(port, secret, wave, person, waveKey);
          person.state = problem.empty() ? 1 : -1;
        } else {
          while (person.state.load() == 0 && secondsSince(start) < event.at + 30) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          problem = person.state.load() == 1 ? submitAnswers(port, wave, person) : "no token";
          if (problem.empty()) person.submittedAt = secondsSince(start);
        }
        if (!problem.empty()) {
          std::lock_guard lock(errorMutex);
          if (errors++ < 10) std::fprintf(stderr, "error: %s: %s\n", person.username.c_str(), problem.c_str());
        }
      }
    });
  }
  // The insider: polls, and copies at random moments of the submissions.
  std::vector<double> copyTimes;
  std::uniform_real_distribution<double> copyAt(persons.front().submitAt, timeline);
  for (std::size_t c = 0; c < copies; ++c) copyTimes.push_back(copyAt(random));
  std::sort(copyTimes.begin(), copyTimes.end());
  std::vector<Copy> taken;
  std::vector<std::string> knownTexts; // Raw stored strings seen so far (the attacker reads them in the copy).
  std::atomic<bool> done{false};
  std::thread insider([&] {
    std::size_t nextCopy = 0;
    double nextPoll = pollEvery;
    while (!done.load()) {
      const double now = secondsSince(start);
      if (now >= nextPoll) {
        pollOnce(identifiedUrl, anonymousUrl, wave, live, now);
        nextPoll += pollEvery;
      }
      if (nextCopy < copyTimes.size() && now >= copyTimes[nextCopy]) {
        Copy copy;
        copy.at = now;
        if (sqlite) {
          const fs::path dir = fs::path(copyDir) / ("copy-" + std::to_string(nextCopy));
          fs::create_directories(dir);
          const fs::path db = anonymousUrl.substr(7);
          std::error_code ignored;
          fs::copy_file(db, dir / "anonymous.db", fs::copy_options::overwrite_existing, ignored);
          fs::copy_file(db.string() + "-wal", dir / "anonymous.db-wal", fs::copy_options::overwrite_existing, ignored);
        } else {
          analysePostgresCopy(anonymousUrl, pgWal, std::string(), wave, copy);
        }
        taken.push_back(std::move(copy));
        ++nextCopy;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (auto& worker : workers) worker.join();
  // Let the mix's timer pass a few times: what it would write with no more arrivals, it writes.
  std::this_thread::sleep_for(std::chrono::duration<double>(std::max(1.0, 5 * pollEvery)));
  done = true;
  insider.join();
  pollOnce(identifiedUrl, anonymousUrl, wave, live, secondsSince(start));
  const std::size_t beforeClose = live.responses.size();
  const double waveSeconds = secondsSince(start);

  // 3. Close: the remainder is written and the store rewritten in random order.
  if (std::system(closeCommand.c_str()) != 0) fail("the close command failed: " + closeCommand);
  pollOnce(identifiedUrl, anonymousUrl, wave, live, secondsSince(start));

  // Every stored row of the run, raw and canonical; the ground truth.
  std::vector<std::string> rawTexts;
  {
    StoreReader store(anonymousUrl);
    for (const auto& answers : store.column("SELECT answers FROM experience_responses WHERE wave_id = $1", wave)) {
      if (!before.contains(canonical(answers)) && ownerOf.contains(canonical(answers))) rawTexts.push_back(answers);
    }
  }
  std::size_t submitted = 0;
  for (const auto& person : persons) submitted += person.submittedAt >= 0;
  if (rawTexts.size() != submitted || submitted != people) {
    std::fprintf(stderr, "error: %zu of %zu submissions acknowledged, %zu of our rows stored after the close\n", submitted, people,
                 rawTexts.size());
    return 2;
  }
  // The SQLite copies are read now that every text is known (a copy holds the row or not).
  if (sqlite) {
    for (std::size_t c = 0; c < taken.size(); ++c) {
      const fs::path dir = fs::path(copyDir) / ("copy-" + std::to_string(c));
      analyseSqliteCopy(dir / "anonymous.db", dir / "anonymous.db-wal", rawTexts, taken[c]);
    }
  }
  Copy after;
  after.at = secondsSince(start);
  if (sqlite) {
    const fs::path db = anonymousUrl.substr(7);
    analyseSqliteCopy(db, db.string() + "-wal", rawTexts, after);
  } else {
    analysePostgresCopy(anonymousUrl, pgWal, waldump, wave, after);
  }

  // 4. What the insider knows of the colleagues: the order of the token lines in the access log.
  std::vector<std::size_t> rank(people, people);
  std::size_t tokenLines = 0, anonymousSubmitLines = 0, tallyLines = 0;
  std::vector<long> anonymousLinePositions;
  {
    std::ifstream log(accessLog);
    std::string line;
    const std::string tokenPath = "/experience/waves/" + std::to_string(wave) + "/token";
    long lineNumber = 0;
    while (std::getline(log, line)) {
      ++lineNumber;
      const json entry = json::parse(line, nullptr, false);
      if (!entry.is_object()) continue;
      const std::string path = entry.value("path", std::string()), route = entry.value("route", std::string());
      if (path == tokenPath && entry.value("status", 0) == 200 && entry.contains("user_id")) {
        const std::string user = entry["user_id"].is_string() ? entry["user_id"].get<std::string>() : entry["user_id"].dump();
        const auto owner = ownerOfUser.find(user);
        if (owner != ownerOfUser.end() && rank[owner->second] == people) rank[owner->second] = tokenLines++;
      } else if ((path == "/experience/submit" || route == "/experience/submit") && entry.value("status", 0) == 202) {
        if (entry.contains("count")) {
          ++tallyLines;
        } else {
          ++anonymousSubmitLines;
          anonymousLinePositions.push_back(lineNumber);
        }
      } else if (line.find("/experience/submit") != std::string::npos) {
        ++tallyLines;
      }
    }
  }
  std::string personOrderSource = "token lines in the access log";
  if (tokenLines < people) {
    // No (or too few) timed token lines: the insider falls back on the issuance poll.
    personOrderSource = "issuance rows' first poll (the access log had " + std::to_string(tokenLines) + " token lines)";
    std::vector<std::pair<double, std::size_t>> order;
    for (const auto& [user, poll] : live.issuance) {
      const auto owner = ownerOfUser.find(user);
      if (owner != ownerOfUser.end()) order.emplace_back(static_cast<double>(poll) + std::uniform_real_distribution<double>(0, 0.5)(random), owner->second);
    }
    std::sort(order.begin(), order.end());
    std::fill(rank.begin(), rank.end(), people);
    for (std::size_t k = 0; k < order.size(); ++k) rank[order[k].second] = k;
  }
  for (std::size_t p = 0, extra = 0; p < people; ++p) {
    if (rank[p] == people) rank[p] = people - 1 - extra++; // Never seen: last, as the insider would guess.
  }

  // 5. Score every position.
  const double inWave = 1.0 / static_cast<double>(batch), afterClose = 1.0 / static_cast<double>(people);
  auto emit = [&](const std::string& position, const std::string& strategy, double accuracy, double chance, const std::string& note) {
    writeResult(results, {database, rate, tokenMode, position, strategy, people, accuracy, chance, note});
  };
  auto rowsFrom = [&](const std::function<bool(const std::string&, RowView&)>& view) {
    std::vector<RowView> rows;
    for (const auto& raw : rawTexts) {
      const std::string stored = canonical(raw);
      RowView row;
      row.owner = ownerOf.at(stored);
      if (!view(stored, row)) {
        row.bucket = 1e18; // Not seen by this position: after everything it saw.
        row.key = 0;
      }
      rows.push_back(row);
    }
    return rows;
  };
  auto both = [&](const std::string& position, const std::vector<RowView>& rows, double chance, const std::string& keyName,
                  const std::string& extraNote = std::string()) {
    const Scores s = score(rank, rows, random);
    const std::string note = std::to_string(s.buckets) + " buckets, smallest " + std::to_string(s.smallestBucket) +
                             (extraNote.empty() ? "" : "; " + extraNote);
    emit(position, "rank by " + keyName, s.exact, chance, note);
    if (s.buckets > 1) emit(position, "uniform within bucket", s.batchAware, chance, note);
  };
  // Position 1: copies of the store's files during the wave, and after the close.
  auto firstCopy = [&](const std::string& stored, const std::function<const std::map<std::string, double>*(const Copy&)>& part,
                       RowView& row, bool withTransaction) {
    for (std::size_t c = 0; c < taken.size(); ++c) {
      const auto* values = part(taken[c]);
      const auto found = values->find(stored);
      if (found == values->end()) continue;
      row.bucket = static_cast<double>(c);
      row.key = found->second;
      if (withTransaction) {
        const auto tx = taken[c].walTransaction.find(stored);
        row.bucket = static_cast<double>(c) * 1e6 + (tx == taken[c].walTransaction.end() ? -1 : tx->second);
      }
      return true;
    }
    return false;
  };
  if (sqlite) {
    // The db file's own order (rows in it were checkpointed from earlier batches), then the WAL's.
    both("1 store files, in-wave: db pages", rowsFrom([&](const std::string& s, RowView& r) {
           for (std::size_t c = 0; c < taken.size(); ++c) {
             const auto inDb = taken[c].dbOffset.find(s), inWal = taken[c].walOffset.find(s);
             if (inDb == taken[c].dbOffset.end() && inWal == taken[c].walOffset.end()) continue;
             r.bucket = static_cast<double>(c);
             // Checkpointed rows (in the db file) are older than those still in the WAL.
             r.key = inDb != taken[c].dbOffset.end() ? inDb->second : 1e15 + inWal->second;
             return true;
           }
           return false;
         }),
         inWave, "first copy, file offset");
    both("1 store files, in-wave: WAL frames", rowsFrom([&](const std::string& s, RowView& r) {
           return firstCopy(s, [](const Copy& c) { return &c.walOffset; }, r, true);
         }),
         inWave, "WAL offset", "bucket = copy and WAL transaction");
    std::size_t walAfter = after.walBytes;
    both("1 store files, after close: db pages",
         rowsFrom([&](const std::string& s, RowView& r) {
           const auto found = after.dbOffset.find(s);
           if (found == after.dbOffset.end()) return false;
           r.key = found->second;
           return true;
         }),
         afterClose, "file offset", "WAL after close " + std::to_string(walAfter) + " bytes");
    if (walAfter > 0) {
      both("1 store files, after close: WAL", rowsFrom([&](const std::string& s, RowView& r) {
             const auto found = after.walOffset.find(s);
             if (found == after.walOffset.end()) return false;
             r.key = found->second;
             return true;
           }),
           afterClose, "WAL offset");
    }
  } else {
    both("1 store, in-wave: ctid order", rowsFrom([&](const std::string& s, RowView& r) {
           return firstCopy(s, [](const Copy& c) { return &c.ctid; }, r, false);
         }),
         inWave, "first copy, ctid");
    both("1 store, in-wave: xmin", rowsFrom([&](const std::string& s, RowView& r) {
           for (std::size_t c = 0; c < taken.size(); ++c) {
             const auto found = taken[c].xmin.find(s);
             if (found == taken[c].xmin.end()) continue;
             r.bucket = found->second; // The transaction: exactly the batch.
             r.key = taken[c].ctid.at(s);
             return true;
           }
           return false;
         }),
         inWave, "xmin then ctid");
    if (!pgWal.empty()) {
      both("1 store, in-wave: pg_wal", rowsFrom([&](const std::string& s, RowView& r) {
             return firstCopy(s, [](const Copy& c) { return &c.pgWal; }, r, false);
           }),
           inWave, "first copy, WAL position");
    }
    both("1 store, after close: ctid order", rowsFrom([&](const std::string& s, RowView& r) {
           const auto found = after.ctid.find(s);
           if (found == after.ctid.end()) return false;
           r.key = found->second;
           return true;
         }),
         afterClose, "ctid");
    both("1 store, after close: xmin", rowsFrom([&](const std::string& s, RowView& r) {
           const auto found = after.xmin.find(s);
           if (found == after.xmin.end()) return false;
           r.bucket = found->second;
           r.key = after.ctid.at(s);
           return true;
         }),
         afterClose, "xmin then ctid");
    if (!pgWal.empty()) {
      both("1 store, after close: pg_wal", rowsFrom([&](const std::string& s, RowView& r) {
             const auto found = after.pgWal.find(s);
             if (found == after.pgWal.end()) return false;
             r.key = found->second;
             // With pg_waldump the transaction of the record: the batch it was written in.
             const auto tx = after.pgWalTransaction.find(s);
             if (tx != after.pgWalTransaction.end()) r.bucket = tx->second;
             return true;
           }),
           afterClose, "WAL position (first occurrence)",
           std::to_string(after.pgWal.size()) + " of " + std::to_string(rawTexts.size()) + " rows found in " +
               std::to_string(after.walBytes / 1024) + " KiB of pg_wal" +
               (waldump.empty() ? "; no pg_waldump: no transactions" : "; buckets = pg_waldump transactions"));
    } else {
      emit("1 store, after close: pg_wal", "skipped", 0, 0, "pg_wal not readable here (no --pg-wal)");
    }
  }
  // Position 2: the live poll of both stores.
  const auto polled = rowsFrom([&](const std::string& s, RowView& r) {
    const auto found = live.responses.find(s);
    if (found == live.responses.end()) return false;
    r.bucket = static_cast<double>(found->second);
    return true;
  });
  both("2 live poll: answer rows", polled, inWave, "first poll",
       "polled every " + std::to_string(static_cast<long>(pollEvery * 1000)) + " ms; " + std::to_string(beforeClose) +
           " rows before close");
  {
    // The accuracy above is an average over everyone; the worst-off colleague is the one in the
    // smallest group the poller saw written together, usually the remainder the close writes.
    const Scores s = score(rank, polled, random);
    emit("2 live poll: smallest group seen", "1 / smallest group", 1.0 / static_cast<double>(std::max<std::size_t>(s.smallestBucket, 1)), 0,
         "informational: " + std::to_string(s.smallestBucket) + " rows appeared together" +
             (s.smallestBucket < batch ? " (fewer than B = " + std::to_string(batch) + "; the close writes the pool's remainder " +
                                             std::to_string(rawTexts.size() - beforeClose) + " rows at once)"
                                       : ""));
  }
  {
    // Who submitted when (not what): spent hashes appear as people submit. Informational: the
    // spent set carries no answers, so this links a person to a moment, not to a row.
    std::vector<RowView> spentRows;
    for (std::size_t p = 0; p < people; ++p) {
      RowView row;
      row.owner = p;
      const auto found = live.spent.find(persons[p].spentHash);
      row.bucket = found == live.spent.end() ? 1e18 : static_cast<double>(found->second);
      spentRows.push_back(row);
    }
    const Scores s = score(rank, spentRows, random);
    emit("2 live poll: spent hashes (when, not what)", "uniform within poll", s.batchAware, 0,
         "informational: no answers in the spent set; " + std::to_string(s.buckets) + " polls with arrivals");
  }
  // Position 3: the access log. Its anonymous lines (if any) hold no answers, so rows can be
  // ranked only as one bucket; what it can tell is who submitted when.
  both("3 access log: answer rows", rowsFrom([](const std::string&, RowView& r) {
         r.bucket = 0;
         return true;
       }),
       inWave, "nothing (no answers in the log)",
       std::to_string(tokenLines) + " token lines, " + std::to_string(anonymousSubmitLines) + " per-request submit lines, " +
           std::to_string(tallyLines) + " count lines");
  if (anonymousSubmitLines > 0) {
    // The k-th anonymous line is the k-th submission the server answered: match it to the k-th token.
    std::vector<std::pair<double, std::size_t>> bySubmit;
    for (std::size_t p = 0; p < people; ++p) bySubmit.emplace_back(persons[p].submittedAt, p);
    std::sort(bySubmit.begin(), bySubmit.end());
    std::vector<RowView> lines;
    for (std::size_t k = 0; k < bySubmit.size(); ++k) lines.push_back({bySubmit[k].second, static_cast<double>(k), 0});
    const Scores s = score(rank, lines, random);
    emit("3 access log: submit lines (when, not what)", "rank by line order", s.exact, 0,
         "informational: " + std::to_string(anonymousSubmitLines) + " lines dated by the timed lines around them");
  }
  std::printf("%s %s %s: wave ran %.1f s; person order from %s; %ld errors\n", database.c_str(), rate.c_str(), tokenMode.c_str(),
              waveSeconds, personOrderSource.c_str(), errors.load());
  return errors.load() == 0 ? 0 : 2;
}

// --- nminus1 -------------------------------------------------------------------------------

std::string isoDay(int offsetDays) {
  const std::time_t now = std::time(nullptr) + static_cast<std::time_t>(offsetDays) * 86400;
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[16];
  std::strftime(text, sizeof(text), "%Y-%m-%d", &parts);
  return text;
}

/** Output of a shell command. */
std::string capture(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) fail("cannot run " + command);
  char buffer[4096];
  while (std::size_t got = std::fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, got);
  if (pclose(pipe) != 0) fail("failed: " + command);
  return output;
}

/** A new wave, created and opened by the analyst through the pages, as an insider would ask for one. */
long openFreshWave(int port, const std::string& secret, const std::string& cli, const std::string& name) {
  Browser analyst(port);
  const httplib::Headers proxy{{"X-Remote-User", "analyst"}, {"X-Proxy-Secret", secret}};
  auto page = analyst.get("/experience/manage", proxy);
  if (!page || page->status != 200) fail("GET /experience/manage as analyst: " + bench::describe(page));
  auto created = analyst.post("/experience/manage",
                              bench::formEncode({{"_csrf", bench::inputValue(page->body, "_csrf")}, {"name", name},
                                                 {"opensOn", isoDay(-1)}, {"closesOn", isoDay(30)}}),
                              "application/x-www-form-urlencoded", proxy);
  if (!created || created->status != 303) fail("creating wave " + name + ": " + bench::describe(created));
  long id = 0;
  std::istringstream list(capture(cli + " experience waves"));
  for (std::string line; std::getline(list, line);) {
    if (line.size() > name.size() && line.substr(line.size() - name.size()) == name) id = std::stol(line);
  }
  if (id == 0) fail("wave " + name + " is not in `experience waves`");
  page = analyst.get("/experience/manage", proxy);
  auto opened = analyst.post("/experience/manage/" + std::to_string(id) + "/open",
                             bench::formEncode({{"_csrf", bench::inputValue(page->body, "_csrf")}}), "application/x-www-form-urlencoded", proxy);
  if (!opened || opened->status != 303) fail("opening wave " + name + ": " + bench::describe(opened));
  return id;
}

int nMinusOne(Options& options) {
  const int port = static_cast<int>(options.integer("port"));
  const std::string secret = options.text("secret");
  const auto trials = static_cast<std::size_t>(options.integer("trials", 20));
  const auto helpers = static_cast<std::size_t>(options.integer("helpers"));
  const auto batch = static_cast<std::size_t>(options.integer("batch", 20));
  const double watch = options.number("watch", 2.0);
  const std::string anonymousUrl = options.text("anonymous");
  const std::string cli = options.text("cli");
  const std::string database = options.text("database"), resultsPath = options.text("results");
  options.checkAllUsed();
  std::ofstream results(resultsPath, std::ios::app);
  if (!results) fail("cannot write " + resultsPath);
  const std::string run = bench::randomHex(4);
  std::vector<std::string> helperNames;
  for (std::size_t h = 0; h < helpers; ++h) helperNames.push_back("helper-" + run + "-" + std::to_string(h));
  provision(port, secret, helperNames);

  double inWave = 0, byClose = 0;
  std::size_t flushedWithTarget = 0, flushes = 0;
  for (std::size_t trial = 0; trial < trials; ++trial) {
    const long wave = openFreshWave(port, secret, cli, "Linkage n-1 " + run + " trial " + std::to_string(trial));
    bench::WaveKey waveKey;
    // The helpers' answer sets are the attacker's own: known rows. The target's is one more.
    std::vector<Person> persons(helpers + 1);
    std::map<std::string, std::size_t> ownerOf;
    for (std::size_t i = 0; i <= helpers; ++i) {
      persons[i].username = i == 0 ? "target-" + run + "-" + std::to_string(trial) : helperNames[i - 1];
      persons[i].answers = answerSet(i);
      persons[i].stored = persons[i].answers.dump();
      ownerOf[persons[i].stored] = i;
    }
    // Tokens first (the page opens early), then the target submits, then every helper.
    for (auto& person : persons) {
      const std::string problem = takeToken(port, secret, wave, person, waveKey);
      if (!problem.empty()) fail(person.username + ": " + problem);
    }
    for (auto& person : persons) {
      const std::string problem = submitAnswers(port, wave, person);
      if (!problem.empty()) fail(person.username + ": " + problem);
    }
    // Watch the store: rows that appear and are not the helpers' are the target's candidates.
    const auto start = Clock::now();
    std::set<std::string> seen;
    while (secondsSince(start) < watch) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      StoreReader store(anonymousUrl);
      for (const auto& answers : store.column("SELECT answers FROM experience_responses WHERE wave_id = $1", wave)) {
        seen.insert(canonical(answers));
      }
    }
    const bool targetSeen = seen.contains(persons[0].stored);
    flushes += !seen.empty();
    flushedWithTarget += targetSeen;
    // Every row not the helpers' is a candidate; here only the target's can be.
    std::size_t candidates = 0;
    for (const auto& stored : seen) candidates += ownerOf.at(stored) == 0;
    inWave += targetSeen ? 1.0 / static_cast<double>(candidates) : 0.0;
    const std::string close = cli + " experience close --wave " + std::to_string(wave) + " >/dev/null";
    if (std::system(close.c_str()) != 0) fail("the close failed: " + close);
    std::size_t closeCandidates = 0;
    bool targetStored = false;
    {
      StoreReader store(anonymousUrl);
      for (const auto& answers : store.column("SELECT answers FROM experience_responses WHERE wave_id = $1", wave)) {
        const auto owner = ownerOf.find(canonical(answers));
        if (owner == ownerOf.end() || owner->second == 0) ++closeCandidates;
        targetStored = targetStored || (owner != ownerOf.end() && owner->second == 0);
      }
    }
    byClose += targetStored && closeCandidates > 0 ? 1.0 / static_cast<double>(closeCandidates) : 0.0;
    std::printf("  trial %zu: wave %ld, %zu rows in-wave (target %s), %zu candidate(s) after close\n", trial + 1, wave, seen.size(),
                targetSeen ? "among them" : "still pooled", closeCandidates);
    std::fflush(stdout);
  }
  const std::string position = "4 (n-1) attack, " + std::to_string(helpers) + " helpers";
  const std::string note = std::to_string(flushes) + " of " + std::to_string(trials) + " trials saw a batch in-wave, " +
                           std::to_string(flushedWithTarget) + " with the target";
  writeResult(results, {database, "quiet", "early", position, "single out in-wave", trials, inWave / static_cast<double>(trials),
                        1.0 / static_cast<double>(batch), note});
  // Each trial's wave has no respondent but the target and the helpers, so after close the one
  // row not the helpers' is the target's under any scheme that publishes answers: the (n-1) of
  // the whole wave. Informational; in a real wave the other colleagues are the cover then.
  writeResult(results, {database, "quiet", "early", position, "single out by close", trials, byClose / static_cast<double>(trials),
                        0, "informational: a wave of the target and helpers only: after close the one row not the helpers'"});
  return 0;
}

// --- report --------------------------------------------------------------------------------

/** P(X >= c) for X ~ Binomial(n, p). */
double upperTail(std::size_t n, double p, std::size_t c) {
  if (c == 0) return 1;
  double total = 0;
  for (std::size_t k = c; k <= n; ++k) {
    const double kd = static_cast<double>(k), nd = static_cast<double>(n);
    total += std::exp(std::lgamma(nd + 1) - std::lgamma(kd + 1) - std::lgamma(nd - kd + 1) + kd * std::log(p) + (nd - kd) * std::log1p(-p));
  }
  return total;
}

/** The least count c with P(X >= c) <= alpha: a count at or above it beats chance. */
std::size_t criticalCount(std::size_t n, double p, double alpha) {
  for (std::size_t c = 0; c <= n; ++c) {
    if (upperTail(n, p, c) <= alpha) return c;
  }
  return n + 1;
}

int report(Options& options) {
  const std::string files = options.text("results");
  const double confidence = options.number("confidence", 0.99);
  // Positions whose failure is already reported and not yet fixed: printed as KNOWN, not failed.
  const std::string knownText = options.text("known", std::string());
  options.checkAllUsed();
  std::vector<std::string> known;
  std::istringstream knownList(knownText);
  for (std::string item; std::getline(knownList, item, ';');) {
    if (!item.empty()) known.push_back(item);
  }
  auto isKnown = [&](const std::string& position) {
    return std::any_of(known.begin(), known.end(), [&](const std::string& item) { return position.find(item) != std::string::npos; });
  };
  std::vector<Result> all;
  std::istringstream paths(files);
  for (std::string path; std::getline(paths, path, ',');) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      const json r = json::parse(line);
      all.push_back({r.at("database"), r.at("rate"), r.at("token"), r.at("position"), r.at("strategy"), r.at("n"), r.at("accuracy"),
                     r.at("chance"), r.at("note")});
    }
  }
  // Each position again with its cells pooled over arrival rates and token timings (same chance,
  // same strategy): n times more trials, so a leak a few times chance that a single cell of 200
  // cannot tell from noise still shows. These are tests too.
  std::map<std::tuple<std::string, std::string, std::string>, Result> pooled;
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> pooledCells;
  for (const auto& r : all) {
    if (r.chance <= 0) continue;
    const auto key = std::make_tuple(r.database, r.position, r.strategy);
    auto [entry, fresh] = pooled.try_emplace(key, Result{r.database, "all", "all", r.position, r.strategy, 0, 0, r.chance, ""});
    if (!fresh && entry->second.chance != r.chance) entry->second.chance = -1; // Different chances: not pooled.
    entry->second.accuracy += r.accuracy * static_cast<double>(r.n);
    entry->second.n += r.n;
    ++pooledCells[key];
  }
  std::vector<Result> pooledTests;
  for (auto& [key, r] : pooled) {
    if (pooledCells[key] < 2 || r.chance <= 0) continue;
    r.accuracy /= static_cast<double>(r.n);
    r.note = std::to_string(pooledCells[key]) + " cells pooled";
    pooledTests.push_back(r);
  }
  std::size_t tests = pooledTests.size();
  for (const auto& r : all) tests += r.chance > 0;
  const double alpha = (1 - confidence) / static_cast<double>(std::max<std::size_t>(tests, 1));
  std::printf("\nPass rule: a position FAILS when its attacker's accuracy (best strategy) beats chance beyond a one-sided\n"
              "exact binomial bound: accuracy x n >= c, where P(Binomial(n, chance) >= c) <= %.0f%% / %zu tests = %.2g\n"
              "(Bonferroni), so a run with no leak fails by noise with probability under %.0f%%. Chance is 1/B for what an\n"
              "insider holds while the wave is open (copies, polls, logs, helpers) and 1/n after the close.\n"
              "'bound' is c / n. Rows marked INFO say who submitted when (no answers), and are not tested.\n\n",
              (1 - confidence) * 100, tests, alpha, (1 - confidence) * 100);
  std::printf("%-10s %-6s %-6s %-44s %5s %8s %8s %8s  %-7s %s\n", "database", "rate", "token", "position", "n", "accuracy", "chance",
              "bound", "verdict", "best strategy; what the attacker saw");
  // One line per cell: the best strategy; every strategy was tested.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::vector<const Result*>> cells;
  std::vector<std::tuple<std::string, std::string, std::string, std::string>> order;
  std::vector<const Result*> lines;
  for (const auto& r : all) lines.push_back(&r);
  for (const auto& r : pooledTests) lines.push_back(&r);
  for (const Result* line : lines) {
    const Result& r = *line;
    const auto key = std::make_tuple(r.database, r.rate, r.token, r.position);
    if (!cells.contains(key)) order.push_back(key);
    cells[key].push_back(&r);
  }
  bool failed = false;
  std::size_t knownFailures = 0;
  for (const auto& key : order) {
    const auto& strategies = cells[key];
    const Result* best = strategies.front();
    bool cellFailed = false;
    // The line shows the best tested strategy; informational ones (chance 0) only beside it.
    for (const Result* r : strategies) {
      if ((r->chance > 0) > (best->chance > 0) || ((r->chance > 0) == (best->chance > 0) && r->accuracy > best->accuracy)) best = r;
      if (r->chance > 0) {
        const std::size_t c = criticalCount(r->n, r->chance, alpha);
        if (r->accuracy * static_cast<double>(r->n) >= static_cast<double>(c) - 1e-9) cellFailed = true;
      }
    }
    const bool knownFailure = cellFailed && isKnown(best->position);
    knownFailures += knownFailure;
    failed = failed || (cellFailed && !knownFailure);
    const bool tested = best->chance > 0;
    const double bound = tested ? static_cast<double>(criticalCount(best->n, best->chance, alpha)) / static_cast<double>(best->n) : 0;
    if (best->rate == "all" && key == *std::find_if(order.begin(), order.end(), [](const auto& k) { return std::get<1>(k) == "all"; })) {
      std::printf("\nThe same positions, every cell of each pooled (all arrival rates and token timings):\n");
    }
    std::string others;
    for (const Result* r : strategies) {
      if (r != best) others += "; also " + r->strategy + " " + std::to_string(r->accuracy).substr(0, 6) + (r->chance > 0 ? "" : " (informational)");
    }
    std::printf("%-10s %-6s %-6s %-44s %5zu %8.4f %8s %8s  %-7s %s; %s%s\n", best->database.c_str(), best->rate.c_str(), best->token.c_str(),
                best->position.c_str(), best->n, best->accuracy, tested ? std::to_string(best->chance).substr(0, 6).c_str() : "-",
                tested ? std::to_string(bound).substr(0, 6).c_str() : "-",
                !tested ? (best->strategy == "skipped" ? "SKIP" : "INFO") : knownFailure ? "KNOWN" : cellFailed ? "FAIL" : "PASS",
                best->strategy.c_str(),
                best->note.c_str(), others.c_str());
  }
  std::printf("\nlinkage: %s (%zu tests", failed ? "FAIL" : "PASS", tests);
  if (knownFailures > 0) std::printf("; %zu KNOWN: failing positions already reported, listed in --known: %s", knownFailures, knownText.c_str());
  std::printf(")\n");
  return failed ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  bench::programName = "belonging_linkage";
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: belonging_linkage wave --port P --wave W --secret S --identified URL --anonymous URL --access-log FILE\n"
                 "                          --close-command CMD --copy-dir DIR --database NAME --rate NAME --results FILE\n"
                 "                          [--people 200] [--gap 0.05] [--token early|late] [--early-min 0.5] [--early-max 6]\n"
                 "                          [--late-lead 0.02] [--poll 0.2] [--copies 4] [--batch 20] [--pg-wal DIR]\n"
                 "                          [--pg-waldump PATH]\n"
                 "       belonging_linkage nminus1 --port P --secret S --helpers H --anonymous URL --cli 'BIN --config CFG'\n"
                 "                          --database NAME --results FILE [--trials 20] [--batch 20] [--watch 2]\n"
                 "       belonging_linkage report --results FILE[,FILE...] [--confidence 0.99] [--known 'POSITION;...']\n"
                 "URLs: sqlite:PATH or pg:CONNINFO.\n");
    return 2;
  }
  const std::string mode = argv[1];
  Options options(argc, argv, 2);
  try {
    if (mode == "wave") return waveRun(options);
    if (mode == "nminus1") return nMinusOne(options);
    if (mode == "report") return report(options);
  } catch (const std::exception& error) {
    fail(mode + ": " + error.what());
  }
  fail("unknown mode " + mode + " (wave, nminus1 or report)");
}
