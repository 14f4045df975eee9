// Fuzzes what an anonymous survey submission carries (plugins/experience): the token and its
// blind signature as base64url text, decoded and verified exactly as
// ExperienceService::submitWithToken does, against a fixed public key (RFC 9474's test vector,
// whose valid token and signature are in the seed corpus). Input: token text, a newline, then
// signature text.

#include "FuzzSupport.hpp"
#include "experience/BlindRsa.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

using belonging::fuzz::check;
using namespace belonging::experience;

namespace {

std::unique_ptr<BlindVerifier> verifier;
Bytes knownToken, knownSignature; // The one pair the vector's private key signed.

Bytes fromHex(std::string hex) {
  if (hex.starts_with("0x")) hex.erase(0, 2);
  Bytes bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

/** Decodes as the service does; false for text it refuses (a 400, not a crash). */
bool decode(std::string_view text, Bytes& out) {
  try {
    out = base64UrlDecode(text);
  } catch (const BlindRsaError& error) {
    check(belonging::fuzz::isUtf8(error.what()), "a decoding error is UTF-8, so the JSON error response can hold it");
    return false;
  }
  // Strict decoding: each byte string has one text form, so "abc" and "abc=" are one token.
  std::string_view unpadded = text;
  while (unpadded.ends_with('=')) unpadded.remove_suffix(1);
  check(base64UrlEncode(out) == unpadded, "base64url text is the canonical form of what it decodes to");
  return true;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::ifstream file(BELONGING_EXPERIENCE_TEST_DATA "/rfc9474-test-vectors.json");
  const auto vectors = nlohmann::json::parse(file);
  for (const auto& vector : vectors) {
    if (vector.at("name") != "RSABSSA-SHA384-PSS-Randomized") continue; // Our waves' variant.
    verifier = std::make_unique<BlindVerifier>(
        BlindVerifier::fromComponents(fromHex(vector.at("n")), fromHex(vector.at("e"))));
    knownToken = fromHex(vector.at("input_msg"));
    knownSignature = fromHex(vector.at("sig"));
  }
  check(verifier && verifier->verify(knownToken, knownSignature, kWaveSaltLength), "the test vector verifies");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view tokenText = input.substr(0, newline);
  const std::string_view signatureText = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  Bytes token, signature;
  if (!decode(tokenText, token) || !decode(signatureText, signature)) return 0;
  if (token.size() < 32 || token.size() > 512) return 0; // The service's bounds.
  // verify never throws for attacker input, and only the signer could have made a valid pair.
  const bool valid = verifier->verify(token, signature, kWaveSaltLength);
  check(!valid || (token == knownToken && signature == knownSignature), "no signature verifies but the signed one");
  return 0;
}
