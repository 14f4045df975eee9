#include "PostgresConnectionString.hpp"

#include "SociDatabase.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <pwd.h>
#include <unistd.h>

namespace belonging {
namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// libpq's default role is the operating-system user running the process.
std::string processUserName() {
  struct passwd entry{};
  struct passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  if (getpwuid_r(geteuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found) return found->pw_name;
  return "";
}

std::string quoteValue(const std::string& value) {
  // Bare when it can be: SOCI splits the string on blanks and glues the pieces back with
  // single spaces before libpq sees it, so the fewer quotes the fewer surprises.
  if (!value.empty() && value.find_first_of(" \t\r\n\f\v'\\\"") == std::string::npos) return value;
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

} // namespace

PostgresConnectionString::PostgresConnectionString(const std::string& text) {
  std::string conninfo = text;
  // "postgresql:host=… dbname=…" is accepted by SociDatabase as a keyword string with a prefix.
  if (conninfo.starts_with("postgresql:") && !conninfo.starts_with("postgresql://")) conninfo = conninfo.substr(11);
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(conninfo.c_str(), &error),
                                                                       &PQconninfoFree);
  if (!options) {
    std::string reason = error ? error : "out of memory";
    if (error) PQfreemem(error);
    while (!reason.empty() && std::isspace(static_cast<unsigned char>(reason.back()))) reason.pop_back();
    throw DatabaseError("a PostgreSQL connection string could not be read (" + reason + ")");
  }
  for (const PQconninfoOption* option = options.get(); option->keyword; ++option) {
    if (option->val) options_.emplace_back(option->keyword, option->val);
  }
}

std::string PostgresConnectionString::value(std::string_view keyword) const {
  for (const auto& [key, value] : options_) {
    if (key == keyword) return value;
  }
  return "";
}

PostgresConnectionString PostgresConnectionString::withDatabase(const std::string& name) const {
  PostgresConnectionString copy;
  bool replaced = false;
  for (const auto& [key, value] : options_) {
    if (key == "dbname") {
      copy.options_.emplace_back(key, name);
      replaced = true;
    } else {
      copy.options_.emplace_back(key, value);
    }
  }
  if (!replaced) copy.options_.emplace_back("dbname", name);
  return copy;
}

std::string PostgresConnectionString::toString() const {
  std::string text;
  for (const auto& [key, value] : options_) {
    if (!text.empty()) text += ' ';
    text += key + "=" + quoteValue(value);
  }
  return text;
}

std::string PostgresConnectionString::serverKey() const {
  std::string host = value("host");
  if (host.empty()) host = value("hostaddr");
  if (host.empty()) host = environment("PGHOST");
  if (host.empty()) {
    host = "(default socket)";
  } else if (host.front() == '/') {
    // "/run/postgresql/" and "/run/postgresql" are one socket directory.
    host = std::filesystem::path(host).lexically_normal().string();
    if (host.size() > 1 && host.back() == '/') host.pop_back();
  } else {
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  std::string port = value("port");
  if (port.empty()) port = environment("PGPORT");
  if (port.empty()) port = "5432";
  return host + ":" + port;
}

std::string PostgresConnectionString::databaseName() const {
  for (const std::string& candidate : {value("dbname"), environment("PGDATABASE"), value("user"), environment("PGUSER")}) {
    if (!candidate.empty()) return candidate;
  }
  return processUserName();
}

std::string PostgresConnectionString::describe() const {
  return "database \"" + databaseName() + "\" on " + serverKey();
}

std::string quoteIdentifier(std::string_view name) {
  if (name.find('\0') != std::string_view::npos) throw DatabaseError("an SQL name cannot hold a NUL byte");
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

bool isCreatableDatabaseName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
}

} // namespace belonging
