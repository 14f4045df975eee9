#pragma once
// A transaction that will write. Use it instead of soci::transaction wherever a transaction
// reads and then writes:
//   soci::session sql(database.pool());
//   belonging::WriteTransaction transaction(sql, database.dialect());
//   ...
//   transaction.commit();
//
// Why: SQLite's plain BEGIN is deferred. Two such transactions that both read and then write
// deadlock on the upgrade to a write lock, and SQLite resolves it by failing one at once with
// "database is locked": busy_timeout does not wait for it. BEGIN IMMEDIATE takes the write
// lock first, so concurrent writers queue (under busy_timeout) instead of failing. PostgreSQL
// locks rows, so there it is a plain BEGIN.
// Header-only: it adds nothing to the plugin ABI.

#include <belonging/Host.hpp>

#include <soci/soci.h>

namespace belonging {

class WriteTransaction {
public:
  WriteTransaction(soci::session& sql, Dialect dialect) : sql_(sql), sqlite_(dialect == Dialect::Sqlite) {
    if (sqlite_) {
      sql_ << "BEGIN IMMEDIATE";
    } else {
      sql_.begin();
    }
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  /** Rolls back unless committed; a failed rollback is ignored, as the connection is reset. */
  ~WriteTransaction() {
    if (!finished_) {
      try {
        rollback();
      } catch (...) {
      }
    }
  }

  void commit() {
    if (sqlite_) {
      sql_ << "COMMIT";
    } else {
      sql_.commit();
    }
    finished_ = true; // Only now: a failed COMMIT is rolled back by the destructor.
  }

  void rollback() {
    finished_ = true;
    if (sqlite_) {
      sql_ << "ROLLBACK";
    } else {
      sql_.rollback();
    }
  }

private:
  soci::session& sql_;
  bool sqlite_;
  bool finished_ = false;
};

} // namespace belonging
