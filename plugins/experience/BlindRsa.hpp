#pragma once
// RSA blind signatures (RFC 9474, RSABSSA-SHA384-PSS-Randomized) for the experience plugin.
// A signed-in colleague's browser blinds a random token, the server signs it without seeing it
// (blindSign), and the browser unblinds the result; later the token and its signature are
// redeemed anonymously, and nothing the server kept can link the two. The server side is
// blindSign and verify; the client namespace exists so that C++ tests and benchmarks can act
// as browsers.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace belonging::experience {

/** Raw bytes: keys, messages, signatures. */
using Bytes = std::vector<std::uint8_t>;

namespace detail {
struct PublicKeyState;  // Defined in BlindRsa.cpp, so that this header needs no OpenSSL.
struct PrivateKeyState; // Defined in BlindRsa.cpp.
struct Access;          // Lets BlindRsa.cpp build and read the classes below.
} // namespace detail

/** Anything wrong with keys or inputs; the message names what was wrong. */
class BlindRsaError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/** Salt length of our waves' signatures: the digest length, as RFC 9474 recommends. */
inline constexpr int kWaveSaltLength = 48;
/** Smallest modulus we generate or load: below it the signatures are forgeable in practice. */
inline constexpr int kMinimumModulusBits = 2048;

/** 32-byte key-encryption key that protects wave private keys at rest. */
class KeyEncryptionKey {
public:
  /** Parses exactly 64 hex digits (either case); anything else is a BlindRsaError. */
  static KeyEncryptionKey fromHex(std::string_view hex);

  /** Wipes the key, so that freed memory does not keep it. */
  ~KeyEncryptionKey();
  /** Copies the key. */
  KeyEncryptionKey(const KeyEncryptionKey&) = default;
  /** Copies the key. */
  KeyEncryptionKey& operator=(const KeyEncryptionKey&) = default;

  /** The raw key, for the cipher. */
  std::span<const std::uint8_t, 32> bytes() const noexcept { return key_; }

private:
  KeyEncryptionKey() = default;
  std::array<std::uint8_t, 32> key_{};
};

/** A wave's key pair as stored: the public key in clear, the private key encrypted. */
struct WaveKey {
  Bytes publicKeySpki;       ///< DER SubjectPublicKeyInfo (rsaEncryption).
  Bytes encryptedPrivateKey; ///< See generateWaveKey for the format.
};

/**
 * New RSA key pair (e = 65537). The private key is PKCS#8 DER encrypted with AES-256-GCM:
 * 1 version byte (1) || 12-byte random nonce || ciphertext || 16-byte tag, with associated data
 * "belonging/experience/wave-key/v1". Throws BlindRsaError for bits outside 2048..8192.
 */
WaveKey generateWaveKey(const KeyEncryptionKey& kek, int bits = 2048);

class BlindVerifier;

/**
 * Holds a decrypted private key. Immutable once built: copies share the key, and blindSign may
 * be called from many threads at once.
 */
class BlindSigner {
public:
  /**
   * Decrypts generateWaveKey's encryptedPrivateKey. Wrong key or tampered data throws
   * BlindRsaError("cannot decrypt the wave's private key: wrong key-encryption key or damaged data").
   */
  static BlindSigner fromEncrypted(const Bytes& encrypted, const KeyEncryptionKey& kek);
  /**
   * Builds a key from big-endian components (the RFC's test vectors). Checks n = p·q but not d:
   * a d that does not match e is caught by blindSign's own check.
   */
  static BlindSigner fromComponents(const Bytes& n, const Bytes& e, const Bytes& d, const Bytes& p,
                                    const Bytes& q);

  /** Length in bytes of the modulus, blinded messages and signatures. */
  std::size_t modulusBytes() const;

  /**
   * RFC 9474 §4.3 BlindSign: the raw RSA private operation s = m^d mod n on a modulus-length
   * big-endian input. Rejects a wrong length or m >= n, and checks s^e mod n == m before
   * returning (the RFC's fault-attack check); every failure is a BlindRsaError.
   */
  Bytes blindSign(std::span<const std::uint8_t> blindedMessage) const;

  /** DER SubjectPublicKeyInfo of the public half. */
  Bytes publicKeySpki() const;
  /** A verifier (and client public key) for this key's public half. */
  BlindVerifier verifier() const;

private:
  friend struct detail::Access;
  explicit BlindSigner(std::shared_ptr<const detail::PrivateKeyState> state) : state_(std::move(state)) {}
  std::shared_ptr<const detail::PrivateKeyState> state_;
};

/**
 * An RSA public key that verifies final signatures: RSASSA-PSS, SHA-384, MGF1-SHA-384. Also the
 * public key the client functions blind against. Immutable; safe to share between threads.
 */
class BlindVerifier {
public:
  /** Parses DER SubjectPublicKeyInfo of an rsaEncryption key; anything else is a BlindRsaError. */
  static BlindVerifier fromSpki(const Bytes& der);
  /** Builds a public key from big-endian n and e. */
  static BlindVerifier fromComponents(const Bytes& n, const Bytes& e);

  /** Length in bytes of the modulus and of signatures. */
  std::size_t modulusBytes() const;
  /** Length in bits of the modulus (EMSA-PSS encodes to one bit fewer). */
  std::size_t modulusBits() const;

  /**
   * RFC 9474 §4.5 Verify of a signature over the prepared message with the given salt length
   * (48 for our waves; the RFC's vectors also use 0). False for any bad signature, including one
   * that is not exactly modulusBytes() long; never throws for attacker input. Throws
   * BlindRsaError only for a negative salt length, which is a programming error.
   */
  bool verify(std::span<const std::uint8_t> preparedMessage, std::span<const std::uint8_t> signature,
              int saltLength = kWaveSaltLength) const;

  /** DER SubjectPublicKeyInfo. */
  Bytes publicKeySpki() const;

private:
  friend struct detail::Access;
  explicit BlindVerifier(std::shared_ptr<const detail::PublicKeyState> state) : state_(std::move(state)) {}
  std::shared_ptr<const detail::PublicKeyState> state_;
};

/**
 * The browser's side (RFC 9474 §4.1 Prepare, §4.2 Blind, §4.4 Finalize), so that C++ tests and
 * benchmarks can act as browsers. Not for the server: the blinding arithmetic here is not
 * hardened against timing, which only matters where the blinding factor is secret, in the browser.
 */
namespace client {

/** RFC 9474 §4.1 Prepare (randomized): 32 random bytes || message. */
Bytes prepare(std::span<const std::uint8_t> message);

/** Blind's output: what to send to the server, and what to keep for finalize. */
struct Blinded {
  Bytes blindedMessage; ///< modulusBytes() long.
  Bytes inverse;        ///< r^-1 mod n, modulusBytes() long; secret until finalize.
};

/**
 * EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-384 and MGF1-SHA-384, emBits = modulusBits - 1.
 * Exposed so that tests can check the encoding against the RFC's vectors.
 */
Bytes emsaPssEncode(std::span<const std::uint8_t> message, std::span<const std::uint8_t> salt,
                    std::size_t modulusBits);

/**
 * RFC 9474 §4.2 Blind: EMSA-PSS-ENCODE with a random salt, random r coprime to n,
 * blindedMessage = encoded · r^e mod n, inverse = r^-1 mod n.
 */
Blinded blind(const BlindVerifier& publicKey, std::span<const std::uint8_t> prepared,
              int saltLength = kWaveSaltLength);

/** Blind with a given encoded message and inverse, deterministic for the vectors: encoded · (inverse^-1)^e mod n. */
Bytes blindWithEncoded(const BlindVerifier& publicKey, std::span<const std::uint8_t> encodedMessage,
                       std::span<const std::uint8_t> inverse);

/**
 * RFC 9474 §4.4 Finalize: s = blindSignature · inverse mod n, then verifies s over the prepared
 * message; throws BlindRsaError if the server's answer does not give a valid signature.
 */
Bytes finalize(const BlindVerifier& publicKey, std::span<const std::uint8_t> blindSignature,
               std::span<const std::uint8_t> inverse, std::span<const std::uint8_t> prepared,
               int saltLength = kWaveSaltLength);

} // namespace client

/** base64url without padding, as the HTTP API carries blinded messages and signatures. */
std::string base64UrlEncode(std::span<const std::uint8_t> data);
/**
 * Decodes base64url with or without '=' padding. Strict, so that each byte string has one
 * text form: other characters (including '+' and '/'), wrong padding, an impossible length
 * or non-zero unused bits are a BlindRsaError.
 */
Bytes base64UrlDecode(std::string_view text);

/** SHA-256 of the data. */
Bytes sha256(std::span<const std::uint8_t> data);

/**
 * A wave key's fingerprint for people to compare: the first 80 bits of SHA-256 of the DER
 * SubjectPublicKeyInfo, as five groups of four lower-case hex digits ("e3b0 c442 98fc 1c14
 * 9afb"). The page script computes the same from the key it actually uses.
 */
std::string keyFingerprint(std::span<const std::uint8_t> spki);

} // namespace belonging::experience
