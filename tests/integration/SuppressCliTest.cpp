#include "TestServer.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

using namespace belonging::testing;

namespace {
struct SuppressRun {
  CommandResult result;
  bool wroteOutput = false;
  std::string output;
};

SuppressRun suppressCsv(const std::string& csv, std::vector<std::string> extra = {}) {
  TempDirectory directory;
  const std::string in = (directory / "in.csv").string(), out = (directory / "out.csv").string();
  std::ofstream(in) << csv;
  std::vector<std::string> args{"suppress", in, "-o", out};
  args.insert(args.end(), extra.begin(), extra.end());
  SuppressRun run{runBelonging(args), std::filesystem::exists(out), ""};
  if (run.wroteOutput) {
    std::ifstream file(out);
    run.output.assign(std::istreambuf_iterator<char>(file), {});
  }
  return run;
}
} // namespace

TEST_CASE("suppress hides small counts and what would reveal them", "[integration][cli][disclosure]") {
  const auto run = suppressCsv("Band,White,BME,Total\nBand 5,40,3,43\nBand 6,30,25,55\nBand 7,20,12,32\nTotal,90,40,130\n");
  REQUIRE(run.result.exitCode == 0);
  CHECK(run.output == "Band,White,BME,Total\nBand 5,*,*,43\nBand 6,30,25,55\nBand 7,*,*,32\nTotal,90,40,130\n");
  CHECK(run.result.err.find("cells hidden: 4 of 12") != std::string::npos);
}

TEST_CASE("suppress prints its summary on stderr only, and never how many people are hidden or why",
          "[integration][cli][disclosure]") {
  // A lone hidden cell is the number of people hidden; "primary 1" says which cell is small.
  TempDirectory directory;
  const std::string in = (directory / "in.csv").string();
  std::ofstream(in) << "Band,White,BME,Total\nBand 5,40,3,43\nBand 6,30,25,55\nBand 7,20,12,32\nTotal,90,40,130\n";
  for (const std::string format : {"csv", "json"}) {
    INFO(format);
    const auto run = runBelonging({"suppress", in, "--format", format});
    REQUIRE(run.exitCode == 0);
    if (format == "csv") CHECK(run.out == "Band,White,BME,Total\nBand 5,*,*,43\nBand 6,30,25,55\nBand 7,*,*,32\nTotal,90,40,130\n");
    if (format == "json") CHECK_NOTHROW(nlohmann::json::parse(run.out));
    CHECK(run.out.find("cells hidden") == std::string::npos);
    CHECK(run.err.find("cells hidden: 4 of 12") != std::string::npos);
    for (const auto& output : {run.out, run.err}) {
      for (const char* leak : {"75", "people", "primary", "secondary", "withheld", "ewer than"}) {
        INFO(leak);
        CHECK(output.find(leak) == std::string::npos);
      }
    }
  }
}

TEST_CASE("suppress recognises Total, Grand Total, All and --total-label rows and columns", "[integration][cli][disclosure]") {
  // "Grand Total" read as a category was published unprotected, with the cells it gives away.
  const std::string expected = "Band,White,BME,{c}\nBand 5,*,*,43\nBand 6,30,25,55\nBand 7,*,*,32\n{r},90,40,130\n";
  auto table = [](const std::string& column, const std::string& row) {
    return "Band,White,BME," + column + "\nBand 5,40,3,43\nBand 6,30,25,55\nBand 7,20,12,32\n" + row + ",90,40,130\n";
  };
  for (const auto& [column, row] : std::vector<std::pair<std::string, std::string>>{
           {"Grand Total", "Grand Total"}, {"GRAND TOTAL", " grand total "}, {"All", "all"}, {"Total", "Grand total"}}) {
    INFO(column << " / " << row);
    const auto run = suppressCsv(table(column, row));
    REQUIRE(run.result.exitCode == 0);
    std::string want = expected;
    want.replace(want.find("{c}"), 3, column);
    want.replace(want.find("{r}"), 3, row);
    CHECK(run.output == want);
  }
  // A label of the user's own, in any case, as often as needed.
  const auto own = suppressCsv(table("Sum", "Trust-wide"), {"--total-label", "sum", "--total-label", "TRUST-WIDE"});
  REQUIRE(own.result.exitCode == 0);
  CHECK(own.output == "Band,White,BME,Sum\nBand 5,*,*,43\nBand 6,30,25,55\nBand 7,*,*,32\nTrust-wide,90,40,130\n");
}

TEST_CASE("suppress refuses inconsistent totals with exit 2, naming the row or column", "[integration][cli][disclosure]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"Band,White,BME,Total\nBand 5,40,3,43\nBand 6,30,25,55\nTotal,70,28,98\nTotal,71,28,99\n",
       "row 5 (Total) is a second total row: row 4 (Total) is already the total"},
      {"Band,White,BME\nBand 5,40,3\nBand 6,30,25\nGrand Total,70,28\nTotal,70,28\n",
       "row 5 (Total) is a second total row: row 4 (Grand Total) is already the total"},
      {"Band,White,Total,BME,All\nBand 5,40,43,3,43\n", "column 5 (All) is a second total column: column 3 (Total)"},
      {"Band,White,BME\nBand 5,40,3\nBand 6,30,25\nGrand Total,70,29\n",
       "row 4 (Grand Total), column 3 (BME): the total is 29 but the counts add up to 28"},
      {"Band,White,BME,All\nBand 5,40,3,42\n", "row 2 (Band 5), column 4 (All): the total is 42 but the counts add up to 43"}};
  for (const auto& [csv, message] : cases) {
    INFO(csv);
    const auto run = suppressCsv(csv);
    CHECK(run.result.exitCode == 2);
    CHECK(run.result.err.find(message) != std::string::npos);
    CHECK_FALSE(run.wroteOutput);
  }
}

TEST_CASE("suppress without totals hides only the small counts", "[integration][cli][disclosure]") {
  const auto none = suppressCsv("Band,White,BME\nBand 5,40,3\nBand 6,30,25\n");
  REQUIRE(none.result.exitCode == 0);
  CHECK(none.output == "Band,White,BME\nBand 5,40,*\nBand 6,30,25\n");
  const auto withheld = suppressCsv("Band,White,BME,Total\nBand 5,40,3,43\nBand 6,30,25,55\n", {"--totals", "none"});
  CHECK(withheld.output == "Band,White,BME,Total\nBand 5,40,*,*\nBand 6,30,25,*\n");
}

TEST_CASE("suppress rounds released counts to 5 and handles one-column tables", "[integration][cli][disclosure]") {
  const auto rounded = suppressCsv("Group,Count,Total\nA,42,42\nB,27,27\n", {"--round", "5"});
  REQUIRE(rounded.result.exitCode == 0);
  CHECK(rounded.output == "Group,Count,Total\nA,40,40\nB,25,25\n");
  const auto column = suppressCsv("Group,Count\nA,42\nB,4\nC,30\nTotal,76\n");
  REQUIRE(column.result.exitCode == 0);
  CHECK(column.output == "Group,Count\nA,42\nB,*\nC,*\nTotal,76\n");
}

TEST_CASE("suppress refuses bad input naming the row and column, writing nothing", "[integration][cli][disclosure]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "is empty"},
      {"Band,White\n", "has a header row but no rows of counts"},
      {"Band,White,BME\nBand 5,40\n", "row 2 (Band 5) has 2 fields but the header has 3"},
      {"Band,White,BME\nBand 5,40,x\n", "row 2 (Band 5), column 3 (BME): \"x\" is not a whole number of people"},
      {"Band,White,BME\nBand 5,40,2.5\n", "column 3 (BME): \"2.5\" is not a whole number"},
      {"Band,White,BME\nBand 5,40,-1\n", "row 2 (Band 5), column 3 (BME): -1 is negative"},
      {"Band,White,BME,Total\nBand 5,40,3,44\n", "row 2 (Band 5), column 4 (Total): the total is 44 but the counts add up to 43"},
      {"Band,White,BME\nBand 5,40,3\nTotal,41,3\n", "row 3 (Total), column 2 (White): the total is 41 but the counts add up to 40"}};
  for (const auto& [csv, message] : cases) {
    INFO(csv);
    const auto run = suppressCsv(csv);
    CHECK(run.result.exitCode == 2);
    CHECK(run.result.err.find(message) != std::string::npos);
    CHECK_FALSE(run.wroteOutput);
  }
  const auto low = suppressCsv("Band,White\nBand 5,40\n", {"--threshold", "3"});
  CHECK(low.result.exitCode == 2);
  CHECK(low.result.err.find("--threshold must be at least 5") != std::string::npos);
  const auto badRound = suppressCsv("Band,White\nBand 5,40\n", {"--round", "7"});
  CHECK(badRound.result.exitCode == 2);
  CHECK(badRound.result.err.find("--round takes 5 or 10") != std::string::npos);
  const auto badFormat = suppressCsv("Band,White\nBand 5,40\n", {"--format", "xml"});
  CHECK(badFormat.result.err.find("--format takes csv or json, not \"xml\"") != std::string::npos);
  const auto twice = suppressCsv("Band,White,BME\nBand 5,40,3\nBand 5,30,25\n");
  CHECK(twice.result.exitCode == 2);
  CHECK(twice.result.err.find("lists a category twice") != std::string::npos);
  CHECK_FALSE(twice.wroteOutput);
}

TEST_CASE("suppress --format json gives every hidden cell the same null, whatever hid it", "[integration][cli][disclosure]") {
  const auto run = suppressCsv("Band,White,BME,Total\nBand 5,40,3,43\nBand 6,30,25,55\nBand 7,20,12,32\nTotal,90,40,130\n",
                               {"--format", "json"});
  REQUIRE(run.result.exitCode == 0);
  const auto document = nlohmann::json::parse(run.output);
  CHECK(document["threshold"] == 11);
  CHECK(document["columns"] == nlohmann::json({"White", "BME", "Total"}));
  const auto& band5 = document["rows"][0];
  CHECK(band5["label"] == "Band 5");
  // The small cell (3) and the one hidden to protect it (40) cannot be told apart.
  CHECK(band5["cells"][1] == nlohmann::json({{"value", nullptr}, {"status", "hidden"}}));
  CHECK(band5["cells"][0] == band5["cells"][1]);
  CHECK(band5["cells"][2] == nlohmann::json({{"value", 43}, {"status", "released"}}));
  CHECK(document["hidden"] == "hidden to protect small groups");
  CHECK_FALSE(document.contains("summary")); // people_hidden gave away a lone hidden cell.
}

TEST_CASE("suppress rounds in the engine and can hide zeros", "[integration][cli][disclosure]") {
  const auto run = suppressCsv("Group,Count\nA,42\nB,0\nC,33\n", {"--round", "5", "--hide-zeros", "--format", "json"});
  REQUIRE(run.result.exitCode == 0);
  const auto document = nlohmann::json::parse(run.output);
  CHECK(document["rows"][0]["cells"][0] == nlohmann::json({{"value", 40}, {"status", "rounded"}}));
  // A hidden zero looks like every other hidden cell.
  CHECK(document["rows"][1]["cells"][0] == nlohmann::json({{"value", nullptr}, {"status", "hidden"}}));
  CHECK(document["rows"][2]["cells"][0]["value"] == 35);
}
