#include "Crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <stdexcept>
#include <vector>

namespace belonging::crypto {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// scrypt cost: about 110 ms on this class of machine (stack-notes), which with sign-in
// throttling makes offline guessing from a stolen database slow and online guessing pointless.
constexpr std::uint64_t kScryptLogN = 15;
constexpr std::uint64_t kScryptR = 8;
constexpr std::uint64_t kScryptP = 1;
// OpenSSL caps scrypt at 32 MiB unless told otherwise, and N=2^15, r=8 needs 32 MiB plus.
constexpr std::uint64_t kScryptMaxMemory = 64ULL * 1024 * 1024;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

std::string toHex(const unsigned char* data, std::size_t length) {
  std::string hex(length * 2, '0');
  for (std::size_t i = 0; i < length; ++i) {
    hex[2 * i] = kHexDigits[data[i] >> 4];
    hex[2 * i + 1] = kHexDigits[data[i] & 0x0f];
  }
  return hex;
}

std::string scrypt(std::string_view password, std::string_view salt, std::uint64_t logN,
                   std::uint64_t r, std::uint64_t p) {
  std::string out(kHashBytes, '\0');
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(),
                     std::uint64_t{1} << logN, r, p, kScryptMaxMemory,
                     reinterpret_cast<unsigned char*>(out.data()), out.size()) != 1) {
    throw std::runtime_error("scrypt failed");
  }
  return out;
}

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

} // namespace

std::string randomBytes(std::size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    throw std::runtime_error("the random number generator failed");
  }
  return bytes;
}

std::string randomToken(std::size_t count) { return base64UrlEncode(randomBytes(count)); }

std::string sha256Hex(std::string_view data) {
  // Hashed on every signed-in request (the session cookie): a per-thread context with the
  // algorithm fetched once avoids OpenSSL 3's per-call fetch in SHA256().
  struct DigestContext {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    ~DigestContext() {
      EVP_MD_CTX_free(context);
      EVP_MD_free(md);
    }
  };
  thread_local DigestContext cached;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (!cached.md || !cached.context || EVP_DigestInit_ex(cached.context, cached.md, nullptr) != 1 ||
      EVP_DigestUpdate(cached.context, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(cached.context, digest.data(), &length) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return toHex(digest.data(), length);
}

std::string hmacSha256Hex(std::string_view key, std::string_view data) {
  // Every request computes a CSRF token with the same key: keeping a keyed context per thread
  // avoids OpenSSL 3's per-call algorithm fetch (about 5x faster, stack-notes).
  struct KeyedContext {
    std::string key;
    EVP_MAC_CTX* context = nullptr;
    ~KeyedContext() { EVP_MAC_CTX_free(context); }
  };
  thread_local KeyedContext cached;
  if (!cached.context || cached.key != key) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX_free(cached.context);
    cached.context = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    char digestName[] = "SHA256";
    const OSSL_PARAM parameters[] = {OSSL_PARAM_construct_utf8_string("digest", digestName, 0),
                                     OSSL_PARAM_construct_end()};
    if (!cached.context ||
        EVP_MAC_init(cached.context, reinterpret_cast<const unsigned char*>(key.data()), key.size(), parameters) != 1) {
      throw std::runtime_error("HMAC initialisation failed");
    }
    cached.key = std::string(key);
  } else if (EVP_MAC_init(cached.context, nullptr, 0, nullptr) != 1) {
    throw std::runtime_error("HMAC reset failed");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  std::size_t length = 0;
  if (EVP_MAC_update(cached.context, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(cached.context, digest.data(), &length, digest.size()) != 1) {
    throw std::runtime_error("HMAC failed");
  }
  return toHex(digest.data(), length);
}

std::string base64UrlEncode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const auto chunk = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    out += kBase64Url[(chunk >> 18) & 63];
    out += kBase64Url[(chunk >> 12) & 63];
    out += kBase64Url[(chunk >> 6) & 63];
    out += kBase64Url[chunk & 63];
  }
  if (i + 1 == data.size()) {
    const auto chunk = static_cast<unsigned char>(data[i]) << 16;
    out += kBase64Url[(chunk >> 18) & 63];
    out += kBase64Url[(chunk >> 12) & 63];
  } else if (i + 2 == data.size()) {
    const auto chunk = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kBase64Url[(chunk >> 18) & 63];
    out += kBase64Url[(chunk >> 12) & 63];
    out += kBase64Url[(chunk >> 6) & 63];
  }
  return out;
}

std::string base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned int buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int value = base64Value(c);
    if (value < 0) throw std::invalid_argument("not base64url");
    buffer = (buffer << 6) | static_cast<unsigned int>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

bool constantTimeEquals(std::string_view left, std::string_view right) {
  return left.size() == right.size() && CRYPTO_memcmp(left.data(), right.data(), left.size()) == 0;
}

std::string hashPassword(std::string_view password) {
  const std::string salt = randomBytes(kSaltBytes);
  const std::string hash = scrypt(password, salt, kScryptLogN, kScryptR, kScryptP);
  return "$scrypt$ln=" + std::to_string(kScryptLogN) + ",r=" + std::to_string(kScryptR) +
         ",p=" + std::to_string(kScryptP) + "$" + base64UrlEncode(salt) + "$" +
         base64UrlEncode(hash);
}

bool verifyPassword(std::string_view password, std::string_view encoded) {
  // Format: $scrypt$ln=15,r=8,p=1$<salt>$<hash>; parameters are read back so that raising
  // the cost later keeps old hashes valid.
  constexpr std::string_view kPrefix = "$scrypt$ln=";
  if (!encoded.starts_with(kPrefix)) return false;
  std::string_view rest = encoded.substr(kPrefix.size());
  auto readNumber = [&rest](std::string_view terminator, std::uint64_t& value) {
    auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (error != std::errc() || !std::string_view(end, rest.data() + rest.size()).starts_with(terminator)) {
      return false;
    }
    rest = rest.substr(static_cast<std::size_t>(end - rest.data()) + terminator.size());
    return true;
  };
  std::uint64_t logN = 0, r = 0, p = 0;
  if (!readNumber(",r=", logN) || !readNumber(",p=", r) || !readNumber("$", p)) return false;
  if (logN < 10 || logN > 20 || r == 0 || r > 32 || p == 0 || p > 16) return false;
  const auto split = rest.find('$');
  if (split == std::string_view::npos) return false;
  try {
    const std::string salt = base64UrlDecode(rest.substr(0, split));
    const std::string expected = base64UrlDecode(rest.substr(split + 1));
    if (expected.size() != kHashBytes) return false;
    return constantTimeEquals(scrypt(password, salt, logN, r, p), expected);
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace belonging::crypto
