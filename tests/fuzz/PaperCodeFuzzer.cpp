// Fuzzes paper-code normalisation (plugins/experience/PaperCodes.cpp), which reads what a
// colleague types from a paper slip on the anonymous code page, before any code is looked up.

#include "FuzzSupport.hpp"
#include "experience/PaperCodes.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using belonging::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view typed(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto code = experience::normalisePaperCode(typed, error);
  if (!code) {
    check(!error.empty(), "a refused code says why");
    // The message goes back in the page and in JSON answers; from UTF-8 input it must be
    // UTF-8 too, or the JSON encoder throws and the colleague gets a 500.
    check(!belonging::fuzz::isUtf8(typed) || belonging::fuzz::isUtf8(error), "the error message is UTF-8");
    return 0;
  }
  check(code->size() == experience::kCodeSymbols + 1, "a code has 18 symbols and a check symbol");
  check(code->find_first_not_of(experience::kCodeAlphabet) == std::string::npos, "a code uses only its alphabet");
  std::string again;
  check(experience::normalisePaperCode(*code, again) == code, "normalising is idempotent");
  return 0;
}
