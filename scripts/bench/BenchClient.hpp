#pragma once
// What the harness clients in scripts/bench share (the soak and crash client, the linkage
// attack): command-line options, a browser with a cookie jar, the proxy sign-on's page
// scraping, the wave's public key, and direct reads of a store (SQLite or PostgreSQL).
// Header-only and not installed: each client is one translation unit plus this.

#include "BlindRsa.hpp"

#include <httplib.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

/** The name fail() prints; each client sets it first thing in main. */
inline std::string programName = "belonging_bench";

[[noreturn]] inline void fail(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", programName.c_str(), message.c_str());
  std::exit(2);
}

inline double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/** `--name value` pairs; every option must be asked for, so a typo never leaves a default in force. */
class Options {
public:
  Options(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      const std::string name = argv[i];
      if (name.rfind("--", 0) != 0 || i + 1 >= argc) fail("expected --name value, got " + name);
      values_[name.substr(2)] = argv[++i];
    }
  }
  std::string text(const std::string& name, std::optional<std::string> fallback = std::nullopt) {
    used_.insert(name);
    if (auto found = values_.find(name); found != values_.end()) return found->second;
    if (!fallback) fail("--" + name + " is required");
    return *fallback;
  }
  double number(const std::string& name, std::optional<double> fallback = std::nullopt) {
    const std::string value = text(name, fallback ? std::optional<std::string>(std::to_string(*fallback)) : std::nullopt);
    try {
      std::size_t end = 0;
      const double parsed = std::stod(value, &end);
      if (end != value.size()) throw std::invalid_argument(value);
      return parsed;
    } catch (const std::logic_error&) {
      fail("--" + name + " is not a number: " + value);
    }
  }
  long integer(const std::string& name, std::optional<long> fallback = std::nullopt) {
    const double value = number(name, fallback ? std::optional<double>(static_cast<double>(*fallback)) : std::nullopt);
    if (value != std::floor(value)) fail("--" + name + " must be a whole number");
    return static_cast<long>(value);
  }
  void checkAllUsed() const {
    for (const auto& [name, value] : values_) {
      if (!used_.contains(name)) fail("unknown option --" + name);
    }
  }

private:
  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
};

/** One keep-alive connection and a cookie jar. */
class Browser {
public:
  explicit Browser(int port) : port_(port) { reconnect(); }

  httplib::Result get(const std::string& path, httplib::Headers headers = {}) {
    addCookies(headers);
    auto result = client_->Get(path.c_str(), headers);
    absorb(result);
    return result;
  }
  httplib::Result post(const std::string& path, const std::string& body, const std::string& contentType,
                       httplib::Headers headers = {}) {
    addCookies(headers);
    auto result = client_->Post(path.c_str(), headers, body, contentType.c_str());
    absorb(result);
    return result;
  }
  /** A request with no cookies, as the page's script sends anonymous submissions. */
  httplib::Result postBare(const std::string& path, const std::string& body, const std::string& contentType,
                           const httplib::Headers& headers = {}) {
    return client_->Post(path.c_str(), headers, body, contentType.c_str());
  }

  bool has(const std::string& cookie) const { return jar_.contains(cookie); }
  void forget(const std::string& cookie) { jar_.erase(cookie); }
  void forgetAll() { jar_.clear(); }
  /**
   * Closes the connection; the next request opens a new one. Used before anything that may
   * wait longer than the server's keep-alive, and so that an idle client holds no server thread.
   */
  void drop() { client_->stop(); }
  void reconnect() {
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_tcp_nodelay(true);
    client_->set_keep_alive(true);
    client_->set_connection_timeout(10, 0);
    client_->set_read_timeout(60, 0);
    client_->set_write_timeout(60, 0);
  }

private:
  void addCookies(httplib::Headers& headers) const {
    if (jar_.empty()) return;
    std::string header;
    for (const auto& [name, value] : jar_) header += (header.empty() ? "" : "; ") + name + "=" + value;
    headers.emplace("Cookie", header);
  }
  void absorb(const httplib::Result& result) {
    if (!result) return;
    const auto [begin, end] = result->headers.equal_range("Set-Cookie");
    for (auto header = begin; header != end; ++header) {
      const std::string& line = header->second;
      const auto equals = line.find('=');
      if (equals == std::string::npos) continue;
      const std::string name = line.substr(0, equals);
      const auto semicolon = line.find(';');
      const std::string value = line.substr(equals + 1, semicolon == std::string::npos ? std::string::npos : semicolon - equals - 1);
      if (value.empty() || line.find("Max-Age=0") != std::string::npos) jar_.erase(name);
      else jar_[name] = value;
    }
  }

  int port_;
  std::unique_ptr<httplib::Client> client_;
  std::map<std::string, std::string> jar_;
};

/** The value of the first `name="value"` attribute in the page. */
inline std::string attribute(const std::string& html, const std::string& name) {
  const std::regex pattern(name + "=\"([^\"]*)\"");
  std::smatch match;
  if (!std::regex_search(html, match, pattern)) return {};
  return match[1];
}

/** The value of the hidden input called `name`, e.g. the `_csrf` of a form. */
inline std::string inputValue(const std::string& html, const std::string& name) {
  const std::regex pattern("name=\"" + name + "\"[^>]*value=\"([^\"]*)\"");
  std::smatch match;
  if (!std::regex_search(html, match, pattern)) return {};
  return match[1];
}

inline std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body += '&';
    body += httplib::detail::encode_query_param(name) + "=" + httplib::detail::encode_query_param(value);
  }
  return body;
}

inline std::string describe(const httplib::Result& result) {
  if (!result) return "no response (" + httplib::to_string(result.error()) + ")";
  std::string body = result->body.substr(0, 200);
  for (auto& c : body) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return std::to_string(result->status) + " " + body;
}

inline std::string randomHex(std::size_t bytes) {
  belonging::experience::Bytes data(bytes);
  RAND_bytes(data.data(), static_cast<int>(data.size()));
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (const auto byte : data) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 15];
  }
  return hex;
}

/** Hex SHA-256, as the anonymous store hashes a spent token ("token:WAVE:TOKEN"). */
inline std::string sha256Hex(const std::string& input) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr) != 1) fail("SHA-256 failed");
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

/** The wave's public key, shared by every thread once the first page has shown it. */
class WaveKey {
public:
  const belonging::experience::BlindVerifier& verifier(const std::string& spkiText) {
    std::lock_guard lock(mutex_);
    if (!verifier_) {
      text_ = spkiText;
      verifier_ = belonging::experience::BlindVerifier::fromSpki(belonging::experience::base64UrlDecode(spkiText));
    } else if (text_ != spkiText) {
      fail("the wave's public key changed between requests");
    }
    return *verifier_;
  }

private:
  std::mutex mutex_;
  std::string text_;
  std::optional<belonging::experience::BlindVerifier> verifier_;
};

/**
 * Runs queries on a store: `sqlite:PATH` (read-only), or `pg:CONNINFO`. `sql` holds only
 * constant text and table names; the one value a query needs (a wave id) is bound as $1.
 */
class StoreReader {
public:
  explicit StoreReader(const std::string& url) {
    if (url.rfind("sqlite:", 0) == 0) {
      if (sqlite3_open_v2(url.substr(7).c_str(), &sqlite_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        fail("cannot open " + url);
      }
      sqlite3_busy_timeout(sqlite_, 10000);
    } else if (url.rfind("pg:", 0) == 0) {
      pg_ = PQconnectdb(url.substr(3).c_str());
      if (PQstatus(pg_) != CONNECTION_OK) fail("cannot connect to " + url.substr(3) + ": " + PQerrorMessage(pg_));
    } else {
      fail("the store URL must be sqlite:PATH or pg:CONNINFO, not " + url);
    }
  }
  ~StoreReader() {
    if (sqlite_) sqlite3_close(sqlite_);
    if (pg_) PQfinish(pg_);
  }
  StoreReader(const StoreReader&) = delete;
  StoreReader& operator=(const StoreReader&) = delete;

  bool isSqlite() const { return sqlite_ != nullptr; }

  /** Every row, each column as text (NULL as empty). */
  std::vector<std::vector<std::string>> rows(const std::string& sql, std::optional<long> parameter = std::nullopt) {
    std::vector<std::vector<std::string>> values;
    if (sqlite_) {
      sqlite3_stmt* statement = nullptr;
      if (sqlite3_prepare_v2(sqlite_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
        fail("sqlite: " + sql + ": " + sqlite3_errmsg(sqlite_));
      }
      if (parameter) sqlite3_bind_int64(statement, 1, *parameter);
      int step = 0;
      while ((step = sqlite3_step(statement)) == SQLITE_ROW) {
        std::vector<std::string> row;
        for (int c = 0; c < sqlite3_column_count(statement); ++c) {
          const auto* text = sqlite3_column_text(statement, c);
          row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
        }
        values.push_back(std::move(row));
      }
      if (step != SQLITE_DONE) fail("sqlite: " + sql + ": " + sqlite3_errmsg(sqlite_));
      sqlite3_finalize(statement);
      return values;
    }
    const std::string text = parameter ? std::to_string(*parameter) : std::string();
    const char* parameterValues[] = {text.c_str()};
    PGresult* result = PQexecParams(pg_, sql.c_str(), parameter ? 1 : 0, nullptr, parameter ? parameterValues : nullptr,
                                    nullptr, nullptr, 0);
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
      const std::string error = PQerrorMessage(pg_);
      PQclear(result);
      fail("postgresql: " + sql + ": " + error);
    }
    for (int r = 0; r < PQntuples(result); ++r) {
      std::vector<std::string> row;
      for (int c = 0; c < PQnfields(result); ++c) row.emplace_back(PQgetvalue(result, r, c));
      values.push_back(std::move(row));
    }
    PQclear(result);
    return values;
  }
  /** Every row's first column. */
  std::vector<std::string> column(const std::string& sql, std::optional<long> parameter = std::nullopt) {
    std::vector<std::string> values;
    for (auto& row : rows(sql, parameter)) values.push_back(row.empty() ? std::string() : std::move(row.front()));
    return values;
  }
  long count(const std::string& sql, std::optional<long> parameter = std::nullopt) {
    const auto values = column(sql, parameter);
    return values.empty() ? 0 : std::stol(values.front());
  }

private:
  sqlite3* sqlite_ = nullptr;
  PGconn* pg_ = nullptr;
};

} // namespace bench
