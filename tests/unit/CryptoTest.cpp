#include "Crypto.hpp"

#include <catch2/catch.hpp>

using namespace belonging;

TEST_CASE("base64url round-trips every length", "[core][crypto]") {
  for (std::size_t length = 0; length < 40; ++length) {
    const std::string bytes = crypto::randomBytes(length);
    const std::string encoded = crypto::base64UrlEncode(bytes);
    CHECK(encoded.find_first_of("+/=") == std::string::npos);
    CHECK(crypto::base64UrlDecode(encoded) == bytes);
  }
  CHECK_THROWS_AS(crypto::base64UrlDecode("ab$d"), std::invalid_argument);
}

TEST_CASE("SHA-256 and HMAC match published values", "[core][crypto]") {
  CHECK(crypto::sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  CHECK(crypto::hmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("passwords are hashed with scrypt and a fresh salt", "[core][crypto]") {
  const std::string hash = crypto::hashPassword("correct horse battery");
  CHECK(hash.starts_with("$scrypt$ln=15,r=8,p=1$"));
  CHECK(hash != crypto::hashPassword("correct horse battery"));
  CHECK(crypto::verifyPassword("correct horse battery", hash));
  CHECK_FALSE(crypto::verifyPassword("correct horse battery!", hash));
  CHECK_FALSE(crypto::verifyPassword("x", "plaintext"));
  CHECK_FALSE(crypto::verifyPassword("x", "$scrypt$ln=15,r=8,p=1$notbase64!$abc"));
  CHECK_FALSE(crypto::verifyPassword("x", "$scrypt$ln=40,r=8,p=1$AAAA$AAAA"));
}

TEST_CASE("constant-time comparison", "[core][crypto]") {
  CHECK(crypto::constantTimeEquals("abc", "abc"));
  CHECK_FALSE(crypto::constantTimeEquals("abc", "abd"));
  CHECK_FALSE(crypto::constantTimeEquals("abc", "abcd"));
}
