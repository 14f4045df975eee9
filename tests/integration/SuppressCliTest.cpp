#include "TestServer.hpp"

#include <catch2/catch.hpp>

#include <fstream>

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
  CHECK(run.result.err.find("cells hidden: 4 (primary 1, secondary 3); people in hidden cells: 75") != std::string::npos);
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
  CHECK(suppressCsv("Band,White\nBand 5,40\n", {"--round", "10"}).result.exitCode == 2);
}
