#include <belonging/Csv.hpp>

#include <catch2/catch.hpp>

using belonging::csvField;
using belonging::csvRow;
using belonging::CsvQuoting;

TEST_CASE("CSV fields are quoted as RFC 4180 says and formulas are defused", "[core][csv]") {
  CHECK(csvField("LGBTQ+ Network") == "\"LGBTQ+ Network\"");
  CHECK(csvField("Say \"hi\"") == "\"Say \"\"hi\"\"\"");
  CHECK(csvField("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"");
  for (const char* formula : {"=1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"}) {
    INFO(formula);
    CHECK(csvField(formula) == "\"'" + std::string(formula) + "\"");
  }
  CHECK(csvField("a=1") == "\"a=1\"");
  CHECK(csvField("") == "\"\"");
  CHECK(csvField("Band 5", CsvQuoting::WhenNeeded) == "Band 5");
  CHECK(csvField("a,b", CsvQuoting::WhenNeeded) == "\"a,b\"");
  CHECK(csvField("line\nbreak", CsvQuoting::WhenNeeded) == "\"line\nbreak\"");
  CHECK(csvField("=1", CsvQuoting::WhenNeeded) == "'=1");
  CHECK(csvRow({"a", "b", ""}) == "a,b,\r\n");
  CHECK(csvRow({}) == "\r\n");
}
