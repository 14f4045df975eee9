#pragma once
// Small wrappers over OpenSSL 3 used by sessions, CSRF, tokens and passwords.

#include <cstddef>
#include <string>
#include <string_view>

namespace belonging::crypto {

/** `count` bytes from the OpenSSL CSPRNG; throws if it fails. */
std::string randomBytes(std::size_t count);
/** A random token of `count` bytes, base64url without padding (for cookies and API tokens). */
std::string randomToken(std::size_t count = 32);
/** SHA-256 as lower-case hex. */
std::string sha256Hex(std::string_view data);
/** HMAC-SHA256 as lower-case hex. */
std::string hmacSha256Hex(std::string_view key, std::string_view data);
std::string base64UrlEncode(std::string_view data);
/** Decodes base64url (padding optional); throws std::invalid_argument on bad input. */
std::string base64UrlDecode(std::string_view text);
/** Compares in time independent of where the inputs differ. */
bool constantTimeEquals(std::string_view left, std::string_view right);

/** Hashes a password with scrypt (N=2^15, r=8, p=1, 16-byte salt) into a self-describing string. */
std::string hashPassword(std::string_view password);
/** Checks a password against hashPassword's output; false for malformed hashes. */
bool verifyPassword(std::string_view password, std::string_view encoded);

} // namespace belonging::crypto
