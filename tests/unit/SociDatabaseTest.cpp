#include "PostgresConnectionString.hpp"
#include "SociDatabase.hpp"
#include "StoreSeparation.hpp"

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

TEST_CASE("the anonymous store's default is a file beside, or a database named after, the identified one",
          "[core][database][stores]") {
  CHECK(anonymousStoreUrl("sqlite:/srv/data/belonging.db") == "sqlite:/srv/data/belonging-anonymous.db");
  CHECK(anonymousStoreUrl("sqlite:/srv/data/portal") == "sqlite:/srv/data/portal-anonymous.db");

  // Keyword form: the same server, role and options; only the database differs.
  const PostgresConnectionString keywords(anonymousStoreUrl("host=/run/postgresql port=5433 dbname=belonging user=portal"));
  CHECK(keywords.value("dbname") == "belonging_anonymous");
  CHECK(keywords.value("host") == "/run/postgresql");
  CHECK(keywords.value("port") == "5433");
  CHECK(keywords.value("user") == "portal");
  CHECK(PostgresConnectionString(anonymousStoreUrl("postgresql:host=/run/postgresql dbname=belonging")).value("dbname") ==
        "belonging_anonymous");

  // URI form, with escapes, a password and options.
  const PostgresConnectionString uri(
      anonymousStoreUrl("postgresql://portal:s%40cret@db.internal:5433/belonging?sslmode=require&application_name=portal"));
  CHECK(uri.value("dbname") == "belonging_anonymous");
  CHECK(uri.value("host") == "db.internal");
  CHECK(uri.value("port") == "5433");
  CHECK(uri.value("user") == "portal");
  CHECK(uri.value("password") == "s@cret");
  CHECK(uri.value("sslmode") == "require");
  CHECK(uri.describe() == "database \"belonging_anonymous\" on db.internal:5433");
  CHECK(PostgresConnectionString(anonymousStoreUrl("postgres://db.internal/belonging")).value("dbname") ==
        "belonging_anonymous");

  // Values that need quoting survive the round trip.
  const PostgresConnectionString quoted(anonymousStoreUrl("host='/var/run/my pg' dbname='it\\'s' password='a\\\\b c'"));
  CHECK(quoted.value("host") == "/var/run/my pg");
  CHECK(quoted.value("dbname") == "it's_anonymous");
  CHECK(quoted.value("password") == "a\\b c");

  // No dbname in the URL: the name the server reports.
  CHECK(PostgresConnectionString(anonymousStoreUrl("host=db.internal", "portal")).value("dbname") == "portal_anonymous");
  CHECK_THROWS_WITH(anonymousStoreUrl("host=db.internal dbname=" + std::string(60, 'x')),
                    Catch::Contains("longer than PostgreSQL's 63 bytes") && Catch::Contains("anonymous_url"));
  CHECK_THROWS_WITH(anonymousStoreUrl("host=db.internal dbname"), Catch::Contains("could not be read"));
}

TEST_CASE("an anonymous URL naming the identified database is refused in any spelling", "[core][database][stores]") {
  const std::string url = "host=/run/postgresql port=5432 dbname=belonging user=portal";
  for (const std::string& same : {url, std::string("postgresql://portal@/belonging?host=/run/postgresql"),
                                 std::string("host=/run/postgresql/ dbname=belonging"),
                                 std::string("postgresql:host=/run/postgresql port=5432 dbname=belonging user=other")}) {
    INFO(same);
    CHECK_THROWS_WITH(refuseSameDatabase(url, same), Catch::Contains("names the same database as database.url"));
  }
  for (const std::string& other : {anonymousStoreUrl(url), std::string("host=/run/postgresql port=5433 dbname=belonging"),
                                  std::string("postgresql://anon-db.internal/belonging"),
                                  std::string("sqlite:/srv/data/belonging-anonymous.db")}) {
    INFO(other);
    CHECK_NOTHROW(refuseSameDatabase(url, other));
  }
  testing::TempDirectory directory;
  const std::string file = "sqlite:" + (directory / "belonging.db").string();
  CHECK_THROWS_WITH(refuseSameDatabase(file, "sqlite:" + (directory / "." / "belonging.db").string()),
                    Catch::Contains("the file"));
  CHECK_NOTHROW(refuseSameDatabase(file, anonymousStoreUrl(file)));
  CHECK_NOTHROW(refuseSameDatabase(file, url));
}

TEST_CASE("names going into CREATE DATABASE are validated and quoted", "[core][database][stores]") {
  CHECK(quoteIdentifier("belonging_anonymous") == "\"belonging_anonymous\"");
  CHECK(quoteIdentifier("a\"; DROP DATABASE x; --") == "\"a\"\"; DROP DATABASE x; --\"");
  CHECK_THROWS(quoteIdentifier(std::string("a\0b", 3)));
  CHECK(isCreatableDatabaseName("belonging_anonymous"));
  CHECK(isCreatableDatabaseName("trust-42.anonymous"));
  CHECK_FALSE(isCreatableDatabaseName(""));
  CHECK_FALSE(isCreatableDatabaseName(std::string(64, 'x')));
  CHECK_FALSE(isCreatableDatabaseName("a\"b"));
  CHECK_FALSE(isCreatableDatabaseName("a b"));
  CHECK_FALSE(isCreatableDatabaseName("ä"));
}
