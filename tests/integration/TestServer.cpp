#include "TestServer.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace belonging::testing {
namespace {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream stream(path);
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

std::atomic<int> databaseCounter{0};

/** Spawns the binary with stdin/stdout/stderr redirected to files; returns the pid. */
int spawn(const std::vector<std::string>& args, const std::string& inPath, const std::string& outPath,
          const std::string& errPath, const std::string& workingDirectory) {
  std::vector<std::string> full{BELONGING_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : full) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, inPath.empty() ? "/dev/null" : inPath.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!workingDirectory.empty()) posix_spawn_file_actions_addchdir_np(&actions, workingDirectory.c_str());
  pid_t pid = -1;
  const int error = posix_spawn(&pid, full[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("cannot start " + full[0]);
  return pid;
}

} // namespace

TestDatabase::TestDatabase(const TempDirectory& directory) {
  const char* admin = std::getenv("BELONGING_TEST_DATABASE");
  if (!admin || !*admin) {
    url_ = "sqlite:" + (directory / "belonging.db").string();
    anonymousUrl_ = "sqlite:" + (directory / "belonging-anonymous.db").string();
    return;
  }
  admin_ = admin;
  name_ = "belonging_test_" + std::to_string(getpid()) + "_" + std::to_string(databaseCounter++);
  soci::session sql(soci::postgresql, admin_);
  // Names are generated here, never user input. The server creates the anonymous store's
  // database itself (its own, never a schema of this one), named after this one.
  for (const std::string& name : {name_, name_ + "_anonymous"}) sql << "DROP DATABASE IF EXISTS " + name;
  sql << "CREATE DATABASE " + name_;
  url_ = std::regex_replace(admin_, std::regex("dbname=\\S+"), "dbname=" + name_);
  anonymousUrl_ = std::regex_replace(admin_, std::regex("dbname=\\S+"), "dbname=" + name_ + "_anonymous");
}

TestDatabase::~TestDatabase() {
  if (name_.empty()) return;
  try {
    soci::session sql(soci::postgresql, admin_);
    for (const std::string& name : {name_, name_ + "_anonymous"}) {
      sql << "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)";
    }
  } catch (const std::exception&) {
    // The server is throwaway; a leftover database does no harm.
  }
}

CommandResult runBelonging(const std::vector<std::string>& args, const std::string& input,
                           const std::string& workingDirectory) {
  TempDirectory io;
  const std::string in = (io / "in").string(), out = (io / "out").string(), err = (io / "err").string();
  std::ofstream(in) << input;
  const int pid = spawn(args, in, out, err, workingDirectory);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), readFile(out), readFile(err)};
}

TestServer::TestServer(ServerOptions options)
    : directory_(std::make_shared<TempDirectory>()),
      database_(std::make_shared<TestDatabase>(*directory_)) {
  // One plugin directory holding the product's plugins and the test fixtures.
  const auto plugins = *directory_ / "plugins";
  std::filesystem::create_directories(plugins);
  for (const char* source : {BELONGING_PLUGIN_DIR, BELONGING_TEST_PLUGIN_DIR}) {
    for (const auto& entry : std::filesystem::directory_iterator(source)) {
      if (entry.path().extension() == ".so") std::filesystem::create_symlink(entry.path(), plugins / entry.path().filename());
    }
  }
  std::string enabled;
  for (const auto& name : options.plugins) enabled += (enabled.empty() ? "\"" : ", \"") + name + "\"";
  configPath_ = (*directory_ / "belonging.toml").string();
  std::ofstream(configPath_) << "[server]\nlisten = \"127.0.0.1:0\"\nthreads = " << options.threads
                             << "\nstatic_dir = \"" << BELONGING_SOURCE_DIR << "/web/static\"\n"
                             << options.serverConfig << "\n"
                             << "[database]\nurl = \"" << database_->url() << "\"\npool_size = 4\n"
                             << options.databaseConfig << "\n"
                             << "[log]\naccess_log = \"" << (*directory_ / "access.log").string() << "\"\n"
                             << "[plugins]\nenabled = [" << enabled << "]\nrequired = []\ndirectory = \""
                             << plugins.string() << "\"\n"
                             << options.extraConfig << "\n";
  outPath_ = (*directory_ / "serve.out").string();
  errPath_ = (*directory_ / "serve.err").string();
  if (options.seedDemo) {
    const auto result = cli({"demo"});
    if (result.exitCode != 0) throw std::runtime_error("demo failed: " + result.err);
  }
  start();
}

TestServer::TestServer(const TestServer& first, bool sameDatabase)
    : directory_(first.directory_), database_(first.database_), configPath_(first.configPath_) {
  if (!sameDatabase) throw std::logic_error("only same-database copies are supported");
  outPath_ = (*directory_ / ("serve-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".out")).string();
  errPath_ = outPath_ + ".err";
  start();
}

void TestServer::start() {
  pid_ = spawn({"--config", configPath_, "serve"}, "", outPath_, errPath_, "");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const std::regex ready("ready at https?://127\\.0\\.0\\.1:(\\d+)");
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    const std::string out = readFile(outPath_);
    if (std::regex_search(out, match, ready)) {
      port_ = std::stoi(match[1]);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("the server exited at start: " + readFile(errPath_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("the server did not become ready: " + readFile(errPath_));
}

void TestServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // A sanitizer report or crash at shutdown is a test failure too.
    throw std::runtime_error("the server did not exit cleanly: " + readFile(errPath_));
  }
}

void TestServer::crash() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

TestServer::~TestServer() {
  try {
    stop();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    std::abort();
  }
}

std::string TestServer::accessLog() const { return readFile(*directory_ / "access.log"); }
std::string TestServer::errorLog() const { return readFile(errPath_); }

CommandResult TestServer::cli(const std::vector<std::string>& args, const std::string& input) const {
  std::vector<std::string> full{"--config", configPath_};
  full.insert(full.end(), args.begin(), args.end());
  return runBelonging(full, input);
}

httplib::Headers Browser::withCookies(httplib::Headers headers) const {
  std::string cookie;
  for (const auto& [name, value] : cookies_) cookie += (cookie.empty() ? "" : "; ") + name + "=" + value;
  if (!cookie.empty()) headers.emplace("Cookie", cookie);
  return headers;
}

void Browser::remember(const httplib::Result& result) {
  if (!result) return;
  for (const auto& [name, value] : result->headers) {
    if (name != "Set-Cookie") continue;
    const auto equals = value.find('=');
    const auto semicolon = value.find(';');
    const std::string cookieName = value.substr(0, equals);
    const std::string cookieValue = value.substr(equals + 1, semicolon - equals - 1);
    if (cookieValue.empty() || value.find("Max-Age=0") != std::string::npos) {
      cookies_.erase(cookieName);
    } else {
      cookies_[cookieName] = cookieValue;
    }
  }
  std::smatch match;
  static const std::regex token("name=\"_csrf\" value=\"([0-9a-f]+)\"");
  if (std::regex_search(result->body, match, token)) csrf_ = match[1];
}

httplib::Result Browser::get(const std::string& path, httplib::Headers headers) {
  auto result = client_.Get(path, withCookies(std::move(headers)));
  remember(result);
  return result;
}

httplib::Result Browser::post(const std::string& path, const std::map<std::string, std::string>& form,
                              httplib::Headers headers) {
  httplib::Params params(form.begin(), form.end());
  auto result = client_.Post(path, withCookies(std::move(headers)), params);
  remember(result);
  return result;
}

httplib::Result Browser::submit(const std::string& path, std::map<std::string, std::string> form) {
  form["_csrf"] = csrf_;
  return post(path, form);
}

int Browser::signIn(const std::string& username, const std::string& password) {
  get("/signin");
  auto result = submit("/signin", {{"username", username}, {"password", password}, {"next", "/"}});
  return result ? result->status : -1;
}

std::string Browser::cookie(const std::string& name) const {
  const auto found = cookies_.find(name);
  return found == cookies_.end() ? std::string() : found->second;
}

std::vector<std::string> navigationLabels(const std::string& html) {
  std::vector<std::string> labels;
  static const std::regex link("class=\"nhsuk-header__navigation-link\" href=\"[^\"]*\"[^>]*>\\s*([^<]+?)\\s*<");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), link); it != std::sregex_iterator(); ++it) {
    labels.push_back((*it)[1]);
  }
  return labels;
}

} // namespace belonging::testing
