// Fuzzes `belonging suppress` (core/src/SuppressCommand.cpp): its RFC 4180 CSV reader, the
// table checks and the disclosure engine behind them (Disclosure.cpp, DisclosureTable.cpp).
// It is the tree's only CSV parser. Input: one byte of options, then the CSV file. The
// command must answer 0 or 2 (bad input, with a message), never crash or throw, and, without
// rounding, must never print a count of 1..threshold-1 people.

#include "FuzzSupport.hpp"
#include "SuppressCommand.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>

using belonging::fuzz::check;

namespace {
std::unique_ptr<belonging::fuzz::ScratchDirectory> scratch;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  scratch = std::make_unique<belonging::fuzz::ScratchDirectory>("belonging-fuzz-suppress");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  belonging::SuppressOptions options;
  options.input = scratch->write("input.csv", std::string_view(reinterpret_cast<const char*>(data + 1), size - 1)).string();
  options.output = (scratch->path() / "output").string();
  static constexpr int kThresholds[] = {5, 11, 4, 20}; // 4 is refused (below the floor).
  static constexpr int kRounding[] = {0, 5, 10, 7};    // 7 is refused.
  options.threshold = kThresholds[flags & 3];
  options.round = kRounding[(flags >> 2) & 3];
  options.hideZeros = (flags >> 4) & 1;
  options.format = (flags >> 5) & 1 ? "json" : "csv";
  options.totals = (flags >> 6) & 1 ? "none" : "auto";
  if ((flags >> 7) & 1) options.format = "xml"; // Refused.

  std::ostringstream err;
  const int status = belonging::runSuppress(options, err);
  check(status == 0 || status == 2, "exit status is 0 or 2");
  check(!err.str().empty(), "a message or a summary goes to stderr");
  if (status != 0 || options.format != "json") return 0;

  std::ifstream written(options.output, std::ios::binary);
  const auto document = nlohmann::json::parse(written);
  for (const auto& row : document.at("rows")) {
    for (const auto& cell : row.at("cells")) {
      const auto& value = cell.at("value");
      if (value.is_null() || options.round != 0) continue;
      const auto count = value.get<std::int64_t>();
      check(count == 0 || count >= options.threshold, "no released count is 1..threshold-1");
    }
  }
  return 0;
}
