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

TEST_CASE("suppress --format json gives null and a status for every hidden cell", "[integration][cli][disclosure]") {
  const auto run = suppressCsv("Band,White,BME,Total\nBand 5,40,3,43\nBand 6,30,25,55\nBand 7,20,12,32\nTotal,90,40,130\n",
                               {"--format", "json"});
  REQUIRE(run.result.exitCode == 0);
  const auto document = nlohmann::json::parse(run.output);
  CHECK(document["threshold"] == 11);
  CHECK(document["columns"] == nlohmann::json({"White", "BME", "Total"}));
  const auto& band5 = document["rows"][0];
  CHECK(band5["label"] == "Band 5");
  CHECK(band5["cells"][1] == nlohmann::json({{"value", nullptr}, {"status", "primary"}, {"reason", "fewer than 11 people"}}));
  CHECK(band5["cells"][0]["value"].is_null());
  CHECK(band5["cells"][0]["status"] == "secondary");
  CHECK(band5["cells"][2] == nlohmann::json({{"value", 43}, {"status", "released"}}));
  CHECK(document["summary"]["people_hidden"] == 75);
}

TEST_CASE("suppress rounds in the engine and can hide zeros", "[integration][cli][disclosure]") {
  const auto run = suppressCsv("Group,Count\nA,42\nB,0\nC,33\n", {"--round", "5", "--hide-zeros", "--format", "json"});
  REQUIRE(run.result.exitCode == 0);
  const auto document = nlohmann::json::parse(run.output);
  CHECK(document["rows"][0]["cells"][0] == nlohmann::json({{"value", 40}, {"status", "rounded"}}));
  CHECK(document["rows"][1]["cells"][0]["status"] == "withheld");
  CHECK(document["rows"][2]["cells"][0]["value"] == 35);
}
