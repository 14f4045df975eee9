#pragma once
// A throwaway database for the ledger tests, with the release ledger's tables.

#include "ReleaseLedger.hpp"
#include "SociDatabase.hpp"

#include "../TempDirectory.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>
#include <regex>
#include <string>
#include <unistd.h>

namespace belonging::testing {

/**
 * A fresh PostgreSQL database when BELONGING_TEST_DATABASE names an admin connection
 * (scripts/test's PostgreSQL pass), otherwise a SQLite file. Dropped when the test ends.
 */
class ScratchDatabase {
public:
  ScratchDatabase() {
    const char* admin = std::getenv("BELONGING_TEST_DATABASE");
    if (!admin || !*admin) {
      url_ = "sqlite:" + (directory_ / "ledger.db").string();
      return;
    }
    admin_ = admin;
    name_ = "belonging_ledger_" + std::to_string(getpid()) + "_" + std::to_string(counter()++);
    soci::session sql(soci::postgresql, admin_);
    sql << "DROP DATABASE IF EXISTS " + name_; // Names are generated here, never input.
    sql << "CREATE DATABASE " + name_;
    const std::regex databaseName("dbname=\\S+");
    url_ = std::regex_search(admin_, databaseName) ? std::regex_replace(admin_, databaseName, "dbname=" + name_)
                                                    : admin_ + " dbname=" + name_;
  }
  ~ScratchDatabase() {
    if (name_.empty()) return;
    try {
      soci::session sql(soci::postgresql, admin_);
      sql << "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)";
    } catch (const std::exception&) {
      // The server is throwaway; a leftover database does no harm.
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  /** A new instance's connection pool on this database, with the ledger's tables. */
  std::unique_ptr<SociDatabase> open(int poolSize = 2) const {
    auto database = std::make_unique<SociDatabase>(url_, poolSize);
    database->migrate("core-ledger-test", ReleaseLedger::migrations());
    return database;
  }

private:
  /** Distinguishes the databases of one test process. */
  static std::atomic<int>& counter() {
    static std::atomic<int> value{0};
    return value;
  }

  TempDirectory directory_;
  std::string admin_, name_, url_;
};

} // namespace belonging::testing
