#pragma once
// Runs the real `belonging` binary against a real database for integration tests: SQLite in a
// temp directory, or a fresh PostgreSQL database when BELONGING_TEST_DATABASE is set.

#include "../TempDirectory.hpp"

#include <httplib.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace belonging::testing {

/** A database for one test: a SQLite file, or a PostgreSQL database created and dropped. */
class TestDatabase {
public:
  explicit TestDatabase(const TempDirectory& directory);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  const std::string& url() const { return url_; }
  /** Where the server keeps the anonymous store by default: a file beside, or `<name>_anonymous`. */
  const std::string& anonymousUrl() const { return anonymousUrl_; }
  bool isPostgresql() const { return !name_.empty(); }

private:
  std::string url_;
  std::string anonymousUrl_;
  std::string name_;
  std::string admin_;
};

struct CommandResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

struct ServerOptions {
  std::vector<std::string> plugins{"admin", "fixture_good"};
  std::string extraConfig; ///< Appended TOML sections other than [server], [database], [log], [plugins].
  std::string serverConfig; ///< Extra lines inside [server].
  std::string databaseConfig; ///< Extra lines inside [database], e.g. anonymous_url.
  bool seedDemo = true;
  int threads = 8;
};

/** Writes a config, migrates, seeds and serves; stops the server in the destructor. */
class TestServer {
public:
  explicit TestServer(ServerOptions options = {});
  /** A second server on the same config and database as `first` (multi-instance tests). */
  explicit TestServer(const TestServer& first, bool sameDatabase);
  ~TestServer();
  TestServer& operator=(const TestServer&) = delete;

  int port() const { return port_; }
  const std::string& configPath() const { return configPath_; }
  const std::string& databaseUrl() const { return database_->url(); }
  /** The anonymous store's URL unless the options set database.anonymous_url. */
  const std::string& anonymousDatabaseUrl() const { return database_->anonymousUrl(); }
  bool isPostgresql() const { return database_->isPostgresql(); }
  std::string accessLog() const;
  std::string errorLog() const;
  /** Runs `belonging --config <this config> ARGS…`. */
  CommandResult cli(const std::vector<std::string>& args, const std::string& input = "") const;
  void start();
  void stop();
  /** kill -9: no destructor, no flush, no clean close. */
  void crash();

private:
  std::shared_ptr<TempDirectory> directory_;
  std::shared_ptr<TestDatabase> database_;
  std::string configPath_;
  std::string outPath_;
  std::string errPath_;
  int pid_ = -1;
  int port_ = 0;
};

/** Runs the binary with arbitrary arguments. */
CommandResult runBelonging(const std::vector<std::string>& args, const std::string& input = "",
                           const std::string& workingDirectory = "");

/** A cookie-keeping HTTP client, like a browser without JavaScript. */
class Browser {
public:
  explicit Browser(int port) : client_("127.0.0.1", port) { client_.set_read_timeout(30, 0); }
  httplib::Result get(const std::string& path, httplib::Headers headers = {});
  httplib::Result post(const std::string& path, const std::map<std::string, std::string>& form,
                       httplib::Headers headers = {});
  /** Posts a form, adding the _csrf token from the last page fetched. */
  httplib::Result submit(const std::string& path, std::map<std::string, std::string> form);
  /** Signs in through the form; returns the POST's status (303 on success). */
  int signIn(const std::string& username, const std::string& password = "belonging-demo");
  std::string cookie(const std::string& name) const;
  void setCookie(const std::string& name, const std::string& value) { cookies_[name] = value; }
  const std::string& csrf() const { return csrf_; }
  httplib::Client& client() { return client_; }

private:
  void remember(const httplib::Result& result);
  httplib::Headers withCookies(httplib::Headers headers) const;
  httplib::Client client_;
  std::map<std::string, std::string> cookies_;
  std::string csrf_;
};

/** Header navigation labels in a page. */
std::vector<std::string> navigationLabels(const std::string& html);

} // namespace belonging::testing
