#pragma once
// One-time paper codes for staff without intranet access. A code is 18 random symbols from
// an alphabet without look-alikes (no 0/O, 1/I/L, U/V) plus a check symbol that catches any
// single mistyped symbol and any swap of neighbours, so a typo is reported as a typo rather
// than looking like an unknown code. 18 symbols of 29 give about 87 bits: guessing a valid
// code is hopeless even with every code of a large wave printed.

#include <optional>
#include <string>
#include <string_view>

namespace experience {

inline constexpr std::string_view kCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTWXYZ"; // 29 symbols
inline constexpr std::size_t kCodeSymbols = 18;                                      // plus one check symbol

/** A new random code, grouped for reading aloud: "ABCD-EFGH-JKMN-PQRS-TWX". */
std::string generatePaperCode();

/**
 * The canonical form (upper case, no spaces or hyphens) of a typed code, or std::nullopt with
 * `error` saying what is wrong in words a person can act on.
 */
std::optional<std::string> normalisePaperCode(std::string_view typed, std::string& error);

} // namespace experience
