#include "PaperCodes.hpp"

#include <openssl/rand.h>

#include <cctype>
#include <stdexcept>

namespace experience {
namespace {

constexpr std::size_t kBase = kCodeAlphabet.size(); // 29, a prime: see checkSymbol.

// Weighted sum modulo a prime with weights 1..n (all non-zero, neighbours differing by 1):
// a single changed symbol changes the sum by weight x difference, never 0 mod 29; swapping
// neighbours a,b changes it by (a - b), never 0 unless a == b.
char checkSymbol(std::string_view symbols) {
  std::size_t sum = 0;
  for (std::size_t i = 0; i < symbols.size(); ++i) sum += (i + 1) * kCodeAlphabet.find(symbols[i]);
  return kCodeAlphabet[sum % kBase];
}

} // namespace

std::string generatePaperCode() {
  std::string symbols;
  while (symbols.size() < kCodeSymbols) {
    unsigned char byte = 0;
    if (RAND_bytes(&byte, 1) != 1) throw std::runtime_error("the system random number generator failed");
    // Rejection sampling keeps every symbol equally likely (256 is not a multiple of 29).
    if (byte >= 256 - 256 % kBase) continue;
    symbols += kCodeAlphabet[byte % kBase];
  }
  symbols += checkSymbol(symbols);
  std::string grouped;
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    if (i > 0 && i % 4 == 0) grouped += '-';
    grouped += symbols[i];
  }
  return grouped;
}

std::optional<std::string> normalisePaperCode(std::string_view typed, std::string& error) {
  std::string symbols;
  for (std::size_t i = 0; i < typed.size(); ++i) {
    const char c = typed[i];
    if (c == '-' || c == ' ' || c == '\t') continue;
    const char upper = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (kCodeAlphabet.find(upper) == std::string_view::npos) {
      // Quote the whole character typed: the first byte alone of "é" is not UTF-8, which the
      // page shows as garbage and the JSON encoder refuses (found by tests/fuzz/PaperCodeFuzzer).
      const auto lead = static_cast<unsigned char>(c);
      const std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
      error = "Codes do not use the character \"" + std::string(typed.substr(i, length)) +
              "\": check for 0 (zero) or O, 1 or I or L, U or V, which codes leave out";
      return std::nullopt;
    }
    symbols += upper;
  }
  if (symbols.empty()) {
    error = "Enter the code from your paper slip";
    return std::nullopt;
  }
  if (symbols.size() != kCodeSymbols + 1) {
    error = "A code has " + std::to_string(kCodeSymbols + 1) + " letters and numbers; you entered " +
            std::to_string(symbols.size());
    return std::nullopt;
  }
  if (checkSymbol(std::string_view(symbols).substr(0, kCodeSymbols)) != symbols.back()) {
    error = "That code has a typing mistake: check each letter and number against your slip";
    return std::nullopt;
  }
  return symbols;
}

} // namespace experience
