#include "SociDatabase.hpp"

#include "../TempDirectory.hpp"

#include <catch2/catch.hpp>
#include <soci/soci.h>

using namespace belonging;

TEST_CASE("migrations apply once each, in id order, and are recorded", "[core][database]") {
  testing::TempDirectory directory;
  SociDatabase database("sqlite:" + (directory / "m.db").string(), 2);
  const std::vector<Migration> migrations{
      {"0002_rows", "INSERT INTO things (name) VALUES ('a');\nINSERT INTO things (name) VALUES ('b');", std::nullopt},
      {"0001_table", "CREATE TABLE things (id ${AUTO_ID}, name TEXT NOT NULL, data ${BLOB});", std::nullopt}};
  CHECK(database.migrate("demo", migrations) == std::vector<std::string>{"0001_table", "0002_rows"});
  CHECK(database.migrate("demo", migrations).empty());
  soci::session sql(database.pool());
  int rows = 0, recorded = 0;
  sql << "SELECT COUNT(*) FROM things", soci::into(rows);
  sql << "SELECT COUNT(*) FROM belonging_migrations WHERE plugin = 'demo'", soci::into(recorded);
  CHECK(rows == 2);
  CHECK(recorded == 2);
}

TEST_CASE("a failing migration rolls back whole and names itself", "[core][database]") {
  testing::TempDirectory directory;
  SociDatabase database("sqlite:" + (directory / "m.db").string(), 1);
  const std::vector<Migration> broken{
      {"0001_half", "CREATE TABLE half (id INTEGER);\nINSERT INTO nowhere VALUES (1);", std::nullopt}};
  CHECK_THROWS_WITH(database.migrate("demo", broken), Catch::StartsWith("migration demo/0001_half failed: "));
  soci::session sql(database.pool());
  int tables = 0;
  sql << "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'", soci::into(tables);
  CHECK(tables == 0);
}

TEST_CASE("placeholders become each dialect's types", "[core][database]") {
  testing::TempDirectory directory;
  SociDatabase database("sqlite:" + (directory / "m.db").string(), 1);
  const Migration migration{"x", "CREATE TABLE t (id ${AUTO_ID}, b ${BLOB});", "CREATE TABLE pg_only (id ${AUTO_ID});"};
  CHECK(database.portableSql(migration) == "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB);");
  CHECK(database.dialectName() == "sqlite");
}

TEST_CASE("database URLs that are not understood are refused clearly", "[core][database]") {
  CHECK_THROWS_WITH(SociDatabase("sqlite:", 1), Catch::Contains("needs a file path"));
  CHECK_THROWS_WITH(SociDatabase("mysql://db/x", 1), Catch::Contains("is not understood"));
}
