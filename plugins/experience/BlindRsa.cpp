#include "BlindRsa.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <climits>
#include <initializer_list>

namespace belonging::experience {
namespace {

// --- OpenSSL ownership -------------------------------------------------------------------

/** Calls an OpenSSL free function; one type per function keeps unique_ptr zero-size. */
template <auto Free>
struct Deleter {
  /** Frees the object. */
  template <typename T>
  void operator()(T* object) const noexcept {
    Free(object);
  }
};

/** Frees memory OpenSSL allocated for an output buffer (OPENSSL_free is a macro). */
void freeOpenSslBuffer(unsigned char* buffer) noexcept { OPENSSL_free(buffer); }

// BN_clear_free for every number: most of them are keys, blinding factors or key material.
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX_free>>;
using MontPtr = std::unique_ptr<BN_MONT_CTX, Deleter<BN_MONT_CTX_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using ParamBuildPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;
using EncoderCtxPtr = std::unique_ptr<OSSL_ENCODER_CTX, Deleter<OSSL_ENCODER_CTX_free>>;
using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, Deleter<OSSL_DECODER_CTX_free>>;
using OpenSslBufferPtr = std::unique_ptr<unsigned char, Deleter<freeOpenSslBuffer>>;

/** A byte buffer that is wiped when it goes, for decrypted private keys. */
struct SecretBytes {
  Bytes data;
  /** Wipes the bytes before the vector frees them. */
  ~SecretBytes() { OPENSSL_cleanse(data.data(), data.size()); }
};

// --- Constants ---------------------------------------------------------------------------

constexpr std::size_t kSha384Bytes = 48;
constexpr std::size_t kPrefixBytes = 32; // RFC 9474 §4.1: 32 random bytes before the message.
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::uint8_t kWaveKeyFormat = 1;
constexpr std::string_view kWaveKeyAssociatedData = "belonging/experience/wave-key/v1";
constexpr unsigned long kPublicExponent = 65537;
// Generating a larger key takes minutes and nothing needs it; the cap stops a typo doing that.
constexpr int kMaximumModulusBits = 8192;
// r has a common factor with n only if it reveals a factor of n, so one retry is already
// astronomically unlikely; the bound stops a broken random generator looping for ever.
constexpr int kBlindingAttempts = 8;
constexpr char kBase64UrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// --- Errors ------------------------------------------------------------------------------

/** Throws `what`, with OpenSSL's first queued reason appended, and empties the queue. */
[[noreturn]] void fail(const std::string& what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) throw BlindRsaError(what);
  char reason[256];
  ERR_error_string_n(code, reason, sizeof reason);
  throw BlindRsaError(what + " (" + reason + ")");
}

/** Length for OpenSSL functions that take int, refusing what would not fit. */
int intLength(std::size_t length, const char* what) {
  if (length > static_cast<std::size_t>(INT_MAX)) {
    throw BlindRsaError(std::string(what) + " is too long (" + std::to_string(length) + " bytes)");
  }
  return static_cast<int>(length);
}

// --- Bytes and numbers -------------------------------------------------------------------

Bytes randomBytes(std::size_t count) {
  Bytes bytes(count);
  if (count > 0 && RAND_bytes(bytes.data(), intLength(count, "random request")) != 1) {
    fail("the random number generator failed");
  }
  return bytes;
}

BnPtr newBn() {
  BnPtr number(BN_new());
  if (!number) fail("out of memory for a big number");
  return number;
}

/** Big-endian bytes to a number (RFC 8017 OS2IP). */
BnPtr toBn(std::span<const std::uint8_t> bytes, const char* what) {
  BnPtr number(BN_bin2bn(bytes.data(), intLength(bytes.size(), what), nullptr));
  if (!number) fail(std::string("cannot read ") + what);
  return number;
}

/** A number to exactly `length` big-endian bytes (RFC 8017 I2OSP). */
Bytes toBytes(const BIGNUM* number, std::size_t length) {
  Bytes bytes(length);
  if (BN_bn2binpad(number, bytes.data(), intLength(length, "number")) < 0) {
    throw BlindRsaError("a " + std::to_string(BN_num_bytes(number)) + "-byte number does not fit in " +
                        std::to_string(length) + " bytes");
  }
  return bytes;
}

BnCtxPtr newBnCtx() {
  BnCtxPtr context(BN_CTX_new());
  if (!context) fail("out of memory for a big-number context");
  return context;
}

/** One SHA-384 over the concatenation of the parts. */
Bytes sha384(std::initializer_list<std::span<const std::uint8_t>> parts) {
  MdCtxPtr context(EVP_MD_CTX_new());
  if (!context || EVP_DigestInit_ex2(context.get(), EVP_sha384(), nullptr) != 1) fail("cannot start SHA-384");
  for (const auto part : parts) {
    if (EVP_DigestUpdate(context.get(), part.data(), part.size()) != 1) fail("SHA-384 failed");
  }
  Bytes digest(kSha384Bytes);
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest.data(), &length) != 1 || length != kSha384Bytes) {
    fail("SHA-384 failed");
  }
  return digest;
}

/** RFC 8017 §B.2.1 MGF1 with SHA-384. */
Bytes mgf1Sha384(std::span<const std::uint8_t> seed, std::size_t length) {
  Bytes mask;
  mask.reserve(length + kSha384Bytes);
  for (std::uint32_t counter = 0; mask.size() < length; ++counter) {
    const std::uint8_t counterBytes[4] = {static_cast<std::uint8_t>(counter >> 24), static_cast<std::uint8_t>(counter >> 16),
                                          static_cast<std::uint8_t>(counter >> 8), static_cast<std::uint8_t>(counter)};
    const Bytes block = sha384({seed, counterBytes});
    mask.insert(mask.end(), block.begin(), block.end());
  }
  mask.resize(length);
  return mask;
}

} // namespace

// --- Key state ---------------------------------------------------------------------------

namespace detail {

/** A validated RSA public key, with what the raw arithmetic needs ready-made. */
struct PublicKeyState {
  PkeyPtr key; ///< Public half only.
  BnPtr n;
  BnPtr e;
  // Built once: BN_mod_exp_mont only reads it, which is how OpenSSL's own RSA code shares its
  // cached Montgomery context between threads.
  MontPtr montgomery;
  std::size_t bits = 0;
  std::size_t bytes = 0;
};

/** A private key and its public half. */
struct PrivateKeyState {
  PkeyPtr key; ///< Key pair; used only for the raw private operation.
  BlindVerifier publicKey;
};

/** Builds and reads the classes whose state lives in this file. */
struct Access {
  /** The verifier's state. */
  static const PublicKeyState& of(const BlindVerifier& verifier) { return *verifier.state_; }
  /** The signer's state. */
  static const PrivateKeyState& of(const BlindSigner& signer) { return *signer.state_; }
  /** Wraps public key state. */
  static BlindVerifier verifier(std::shared_ptr<const PublicKeyState> state) { return BlindVerifier(std::move(state)); }
  /** Wraps private key state. */
  static BlindSigner signer(std::shared_ptr<const PrivateKeyState> state) { return BlindSigner(std::move(state)); }
};

} // namespace detail

namespace {

using detail::Access;
using detail::PrivateKeyState;
using detail::PublicKeyState;

/** n or e of an RSA key. */
BnPtr keyNumber(const EVP_PKEY* key, const char* name) {
  BIGNUM* number = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &number) != 1) fail(std::string("the RSA key has no ") + name);
  return BnPtr(number);
}

/** An EVP_PKEY from OSSL_PARAMs already pushed to `build`. */
PkeyPtr keyFromParams(OSSL_PARAM_BLD* build, int selection) {
  const ParamsPtr params(OSSL_PARAM_BLD_to_param(build));
  const PkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &key, selection, params.get()) != 1) {
    fail("cannot build an RSA key from its components");
  }
  return PkeyPtr(key);
}

PkeyPtr publicKeyFromNumbers(const BIGNUM* n, const BIGNUM* e) {
  const ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!build || OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, e) != 1) {
    fail("cannot build an RSA public key");
  }
  return keyFromParams(build.get(), EVP_PKEY_PUBLIC_KEY);
}

/**
 * Checks an RSA key's public numbers and builds the public state. Rebuilding the key from n and
 * e (rather than keeping a parsed or private key) means a verifier never holds private material.
 */
BlindVerifier makeVerifier(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA") != 1) throw BlindRsaError("the key is not an rsaEncryption RSA key");
  auto state = std::make_shared<PublicKeyState>();
  state->n = keyNumber(key, OSSL_PKEY_PARAM_RSA_N);
  state->e = keyNumber(key, OSSL_PKEY_PARAM_RSA_E);
  const int bits = BN_num_bits(state->n.get());
  if (bits < kMinimumModulusBits) {
    throw BlindRsaError("RSA modulus must have at least " + std::to_string(kMinimumModulusBits) + " bits, got " +
                        std::to_string(bits));
  }
  if (!BN_is_odd(state->n.get())) throw BlindRsaError("RSA modulus must be odd");
  // RFC 8017 §3.1: 3 <= e < n; an even e is not invertible modulo the totient.
  if (!BN_is_odd(state->e.get()) || BN_is_one(state->e.get()) || BN_cmp(state->e.get(), state->n.get()) >= 0) {
    throw BlindRsaError("RSA public exponent must be odd, at least 3 and less than the modulus");
  }
  state->bits = static_cast<std::size_t>(bits);
  state->bytes = (state->bits + 7) / 8;
  state->key = publicKeyFromNumbers(state->n.get(), state->e.get());
  const BnCtxPtr context = newBnCtx();
  state->montgomery.reset(BN_MONT_CTX_new());
  if (!state->montgomery || BN_MONT_CTX_set(state->montgomery.get(), state->n.get(), context.get()) != 1) {
    fail("cannot prepare arithmetic modulo the RSA modulus");
  }
  return Access::verifier(std::move(state));
}

BlindSigner makeSigner(PkeyPtr key) {
  if (EVP_PKEY_is_a(key.get(), "RSA") != 1) throw BlindRsaError("the private key is not an RSA key");
  auto state = std::make_shared<PrivateKeyState>(PrivateKeyState{nullptr, makeVerifier(key.get())});
  state->key = std::move(key);
  return Access::signer(std::move(state));
}

/** x^e mod n with the key's ready-made Montgomery context. */
BnPtr publicOperation(const PublicKeyState& key, const BIGNUM* x, BN_CTX* context) {
  BnPtr result = newBn();
  if (BN_mod_exp_mont(result.get(), x, key.e.get(), key.n.get(), context, key.montgomery.get()) != 1) {
    fail("the RSA public operation failed");
  }
  return result;
}

/** A number below n read from at most modulus-length bytes, for the client's inputs. */
BnPtr residue(const PublicKeyState& key, std::span<const std::uint8_t> bytes, const char* what) {
  if (bytes.size() > key.bytes) {
    throw BlindRsaError(std::string(what) + " must be at most " + std::to_string(key.bytes) + " bytes, got " +
                        std::to_string(bytes.size()));
  }
  BnPtr number = toBn(bytes, what);
  if (BN_cmp(number.get(), key.n.get()) >= 0) throw BlindRsaError(std::string(what) + " must be less than the modulus");
  return number;
}

/** a·b mod n. */
BnPtr multiplyModN(const PublicKeyState& key, const BIGNUM* a, const BIGNUM* b, BN_CTX* context) {
  BnPtr product = newBn();
  if (BN_mod_mul(product.get(), a, b, key.n.get(), context) != 1) fail("multiplication modulo n failed");
  return product;
}

Bytes encryptPrivateKey(std::span<const std::uint8_t> plaintext, const KeyEncryptionKey& kek) {
  const Bytes nonce = randomBytes(kNonceBytes);
  Bytes out;
  out.reserve(1 + kNonceBytes + plaintext.size() + kTagBytes);
  out.push_back(kWaveKeyFormat);
  out.insert(out.end(), nonce.begin(), nonce.end());
  out.resize(1 + kNonceBytes + plaintext.size());

  const CipherCtxPtr context(EVP_CIPHER_CTX_new());
  const auto* associated = reinterpret_cast<const unsigned char*>(kWaveKeyAssociatedData.data());
  int length = 0;
  int finalLength = 0;
  // GCM's default nonce length is the 12 bytes we store.
  if (!context || EVP_EncryptInit_ex2(context.get(), EVP_aes_256_gcm(), kek.bytes().data(), nonce.data(), nullptr) != 1 ||
      EVP_EncryptUpdate(context.get(), nullptr, &length, associated,
                        intLength(kWaveKeyAssociatedData.size(), "associated data")) != 1 ||
      EVP_EncryptUpdate(context.get(), out.data() + 1 + kNonceBytes, &length, plaintext.data(),
                        intLength(plaintext.size(), "private key")) != 1 ||
      EVP_EncryptFinal_ex(context.get(), out.data() + 1 + kNonceBytes + length, &finalLength) != 1 ||
      static_cast<std::size_t>(length) + static_cast<std::size_t>(finalLength) != plaintext.size()) {
    fail("cannot encrypt the wave's private key");
  }
  std::uint8_t tag[kTagBytes];
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kTagBytes), OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_get_params(context.get(), params) != 1) fail("cannot read the AES-GCM tag");
  out.insert(out.end(), tag, tag + kTagBytes);
  return out;
}

SecretBytes decryptPrivateKey(const Bytes& encrypted, const KeyEncryptionKey& kek) {
  if (encrypted.size() < 1 + kNonceBytes + kTagBytes) {
    throw BlindRsaError("encrypted wave key must be at least " + std::to_string(1 + kNonceBytes + kTagBytes) +
                        " bytes, got " + std::to_string(encrypted.size()));
  }
  if (encrypted[0] != kWaveKeyFormat) {
    throw BlindRsaError("encrypted wave key has unknown format version " + std::to_string(encrypted[0]));
  }
  const std::span<const std::uint8_t> all(encrypted);
  const auto nonce = all.subspan(1, kNonceBytes);
  const auto ciphertext = all.subspan(1 + kNonceBytes, encrypted.size() - 1 - kNonceBytes - kTagBytes);
  Bytes tag(all.end() - static_cast<std::ptrdiff_t>(kTagBytes), all.end());

  SecretBytes plaintext;
  plaintext.data.resize(ciphertext.size());
  const CipherCtxPtr context(EVP_CIPHER_CTX_new());
  const auto* associated = reinterpret_cast<const unsigned char*>(kWaveKeyAssociatedData.data());
  int length = 0;
  int finalLength = 0;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag.data(), kTagBytes),
                         OSSL_PARAM_construct_end()};
  if (!context || EVP_DecryptInit_ex2(context.get(), EVP_aes_256_gcm(), kek.bytes().data(), nonce.data(), nullptr) != 1 ||
      EVP_DecryptUpdate(context.get(), nullptr, &length, associated,
                        intLength(kWaveKeyAssociatedData.size(), "associated data")) != 1 ||
      EVP_DecryptUpdate(context.get(), plaintext.data.data(), &length, ciphertext.data(),
                        intLength(ciphertext.size(), "encrypted wave key")) != 1 ||
      EVP_CIPHER_CTX_set_params(context.get(), params) != 1) {
    fail("cannot set up decryption of the wave's private key");
  }
  // The only expected failure: the tag does not match, because the key or the data is wrong.
  if (EVP_DecryptFinal_ex(context.get(), plaintext.data.data() + length, &finalLength) != 1) {
    ERR_clear_error();
    throw BlindRsaError("cannot decrypt the wave's private key: wrong key-encryption key or damaged data");
  }
  return plaintext;
}

int base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

} // namespace

// --- KeyEncryptionKey --------------------------------------------------------------------

KeyEncryptionKey KeyEncryptionKey::fromHex(std::string_view hex) {
  // The message never echoes the text: it is meant to be a secret.
  if (hex.size() != 64) {
    throw BlindRsaError("key-encryption key must be 64 hex digits, got " + std::to_string(hex.size()) + " characters");
  }
  auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  KeyEncryptionKey kek;
  for (std::size_t i = 0; i < kek.key_.size(); ++i) {
    const int high = digit(hex[2 * i]);
    const int low = digit(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      throw BlindRsaError("key-encryption key must be 64 hex digits; character " +
                          std::to_string(high < 0 ? 2 * i + 1 : 2 * i + 2) + " is not one");
    }
    kek.key_[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return kek;
}

KeyEncryptionKey::~KeyEncryptionKey() { OPENSSL_cleanse(key_.data(), key_.size()); }

// --- Key generation ----------------------------------------------------------------------

WaveKey generateWaveKey(const KeyEncryptionKey& kek, int bits) {
  if (bits < kMinimumModulusBits || bits > kMaximumModulusBits) {
    throw BlindRsaError("wave keys must have " + std::to_string(kMinimumModulusBits) + " to " +
                        std::to_string(kMaximumModulusBits) + " bits, asked for " + std::to_string(bits));
  }
  const PkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  const BnPtr exponent = newBn();
  EVP_PKEY* generated = nullptr;
  if (!context || BN_set_word(exponent.get(), kPublicExponent) != 1 || EVP_PKEY_keygen_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(context.get(), bits) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(context.get(), exponent.get()) != 1 ||
      EVP_PKEY_generate(context.get(), &generated) != 1) {
    fail("cannot generate an RSA key pair");
  }
  const PkeyPtr key(generated);

  const EncoderCtxPtr encoder(
      OSSL_ENCODER_CTX_new_for_pkey(key.get(), EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", nullptr));
  unsigned char* der = nullptr;
  std::size_t derLength = 0;
  if (!encoder || OSSL_ENCODER_CTX_get_num_encoders(encoder.get()) == 0 ||
      OSSL_ENCODER_to_data(encoder.get(), &der, &derLength) != 1) {
    fail("cannot encode the private key as PKCS#8");
  }
  SecretBytes pkcs8;
  pkcs8.data.assign(der, der + derLength);
  OPENSSL_clear_free(der, derLength);

  WaveKey wave;
  wave.publicKeySpki = makeVerifier(key.get()).publicKeySpki();
  wave.encryptedPrivateKey = encryptPrivateKey(pkcs8.data, kek);
  return wave;
}

// --- BlindSigner -------------------------------------------------------------------------

BlindSigner BlindSigner::fromEncrypted(const Bytes& encrypted, const KeyEncryptionKey& kek) {
  const SecretBytes pkcs8 = decryptPrivateKey(encrypted, kek);
  EVP_PKEY* decoded = nullptr;
  const DecoderCtxPtr decoder(OSSL_DECODER_CTX_new_for_pkey(&decoded, "DER", "PrivateKeyInfo", "RSA",
                                                            EVP_PKEY_KEYPAIR, nullptr, nullptr));
  const unsigned char* data = pkcs8.data.data();
  std::size_t remaining = pkcs8.data.size();
  if (!decoder || OSSL_DECODER_from_data(decoder.get(), &data, &remaining) != 1 || decoded == nullptr) {
    EVP_PKEY_free(decoded);
    fail("the wave's decrypted private key is not an RSA PKCS#8 key");
  }
  PkeyPtr key(decoded);
  if (remaining != 0) throw BlindRsaError("the wave's decrypted private key has trailing bytes");
  return makeSigner(std::move(key));
}

BlindSigner BlindSigner::fromComponents(const Bytes& n, const Bytes& e, const Bytes& d, const Bytes& p,
                                        const Bytes& q) {
  const BnPtr nBn = toBn(n, "n");
  const BnPtr eBn = toBn(e, "e");
  const BnPtr dBn = toBn(d, "d");
  const BnPtr pBn = toBn(p, "p");
  const BnPtr qBn = toBn(q, "q");
  for (BIGNUM* secret : {dBn.get(), pBn.get(), qBn.get()}) BN_set_flags(secret, BN_FLG_CONSTTIME);
  const BnCtxPtr context = newBnCtx();

  const BnPtr product = newBn();
  if (BN_mul(product.get(), pBn.get(), qBn.get(), context.get()) != 1) fail("cannot multiply p and q");
  if (BN_cmp(product.get(), nBn.get()) != 0) throw BlindRsaError("RSA components do not fit: n is not p times q");
  if (BN_is_zero(dBn.get()) || BN_cmp(dBn.get(), nBn.get()) >= 0) throw BlindRsaError("RSA private exponent must be in 1..n-1");

  // OpenSSL 3.0 uses CRT only when given every CRT number, and will not derive them itself.
  const BnPtr pMinusOne(BN_dup(pBn.get()));
  const BnPtr qMinusOne(BN_dup(qBn.get()));
  const BnPtr dP = newBn();
  const BnPtr dQ = newBn();
  const BnPtr qInverse = newBn();
  if (!pMinusOne || !qMinusOne || BN_sub_word(pMinusOne.get(), 1) != 1 || BN_sub_word(qMinusOne.get(), 1) != 1 ||
      BN_mod(dP.get(), dBn.get(), pMinusOne.get(), context.get()) != 1 ||
      BN_mod(dQ.get(), dBn.get(), qMinusOne.get(), context.get()) != 1 ||
      BN_mod_inverse(qInverse.get(), qBn.get(), pBn.get(), context.get()) == nullptr) {
    fail("cannot derive the RSA CRT components");
  }

  const ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!build || OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, nBn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, eBn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_D, dBn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, pBn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, qBn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dP.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dQ.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qInverse.get()) != 1) {
    fail("cannot build an RSA private key");
  }
  return makeSigner(keyFromParams(build.get(), EVP_PKEY_KEYPAIR));
}

std::size_t BlindSigner::modulusBytes() const { return state_->publicKey.modulusBytes(); }

Bytes BlindSigner::blindSign(std::span<const std::uint8_t> blindedMessage) const {
  const PublicKeyState& pub = Access::of(state_->publicKey);
  if (blindedMessage.size() != pub.bytes) {
    throw BlindRsaError("blinded message must be " + std::to_string(pub.bytes) + " bytes, got " +
                        std::to_string(blindedMessage.size()));
  }
  const BnPtr m = toBn(blindedMessage, "blinded message");
  if (BN_cmp(m.get(), pub.n.get()) >= 0) throw BlindRsaError("blinded message must be less than the modulus");

  // A context per call: EVP_PKEY_CTX is not thread-safe, the EVP_PKEY it reads is. OpenSSL's
  // RSA blinding (on by default) keeps the private operation constant-time in d.
  const PkeyCtxPtr context(EVP_PKEY_CTX_new_from_pkey(nullptr, state_->key.get(), nullptr));
  if (!context || EVP_PKEY_sign_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(context.get(), RSA_NO_PADDING) != 1) {
    fail("cannot set up the RSA private operation");
  }
  Bytes signature(pub.bytes);
  std::size_t length = signature.size();
  if (EVP_PKEY_sign(context.get(), signature.data(), &length, blindedMessage.data(), blindedMessage.size()) != 1 ||
      length != pub.bytes) {
    fail("the RSA private operation failed");
  }

  // RFC 9474 §4.3 steps 3-4: a fault in the CRT computation would make the output reveal a
  // factor of n, so nothing leaves unless it verifies.
  const BnCtxPtr bnContext = newBnCtx();
  const BnPtr s = toBn(signature, "signature");
  const BnPtr recovered = publicOperation(pub, s.get(), bnContext.get());
  if (BN_cmp(recovered.get(), m.get()) != 0) {
    throw BlindRsaError("signing failure: the blind signature does not verify against the blinded message");
  }
  return signature;
}

Bytes BlindSigner::publicKeySpki() const { return state_->publicKey.publicKeySpki(); }

BlindVerifier BlindSigner::verifier() const { return state_->publicKey; }

// --- BlindVerifier -----------------------------------------------------------------------

BlindVerifier BlindVerifier::fromSpki(const Bytes& der) {
  const unsigned char* data = der.data();
  const PkeyPtr key(d2i_PUBKEY(nullptr, &data, static_cast<long>(intLength(der.size(), "public key"))));
  if (!key) fail("the public key is not DER SubjectPublicKeyInfo");
  if (data != der.data() + der.size()) throw BlindRsaError("the public key has trailing bytes after its DER");
  return makeVerifier(key.get());
}

BlindVerifier BlindVerifier::fromComponents(const Bytes& n, const Bytes& e) {
  const BnPtr nBn = toBn(n, "n");
  const BnPtr eBn = toBn(e, "e");
  const PkeyPtr key = publicKeyFromNumbers(nBn.get(), eBn.get());
  return makeVerifier(key.get());
}

std::size_t BlindVerifier::modulusBytes() const { return state_->bytes; }

std::size_t BlindVerifier::modulusBits() const { return state_->bits; }

bool BlindVerifier::verify(std::span<const std::uint8_t> preparedMessage, std::span<const std::uint8_t> signature,
                           int saltLength) const {
  if (saltLength < 0) throw BlindRsaError("salt length must not be negative, got " + std::to_string(saltLength));
  // RFC 8017 §8.1.2 step 1. OpenSSL accepts shorter signatures as if left-padded with zeros,
  // which would give one signature several byte strings (and a redeemed token a second life
  // if anything ever keyed on the signature bytes).
  if (signature.size() != state_->bytes) return false;
  const MdCtxPtr context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* keyContext = nullptr; // Owned by `context`.
  const bool valid =
      context &&
      EVP_DigestVerifyInit_ex(context.get(), &keyContext, "SHA384", nullptr, nullptr, state_->key.get(), nullptr) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1 &&
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(keyContext, "SHA384", nullptr) == 1 &&
      EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, saltLength) == 1 &&
      EVP_DigestVerify(context.get(), signature.data(), signature.size(), preparedMessage.data(),
                       preparedMessage.size()) == 1;
  // A bad signature leaves reasons on this thread's queue; the next caller must not see them.
  ERR_clear_error();
  return valid;
}

Bytes BlindVerifier::publicKeySpki() const {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(state_->key.get(), &der);
  const OpenSslBufferPtr owned(der);
  if (length <= 0) fail("cannot encode the public key");
  return Bytes(der, der + length);
}

// --- Client ------------------------------------------------------------------------------

namespace client {

Bytes prepare(std::span<const std::uint8_t> message) {
  Bytes prepared = randomBytes(kPrefixBytes);
  prepared.insert(prepared.end(), message.begin(), message.end());
  return prepared;
}

Bytes emsaPssEncode(std::span<const std::uint8_t> message, std::span<const std::uint8_t> salt,
                    std::size_t modulusBits) {
  // RSASSA-PSS signs with emBits = modBits - 1 (RFC 8017 §8.1.1), which keeps EM below n.
  if (modulusBits < 2) throw BlindRsaError("modulus of " + std::to_string(modulusBits) + " bits is too small");
  const std::size_t emBits = modulusBits - 1;
  const std::size_t emLength = (emBits + 7) / 8;
  if (emLength < kSha384Bytes + salt.size() + 2) {
    throw BlindRsaError("salt of " + std::to_string(salt.size()) + " bytes is too long for a " +
                        std::to_string(modulusBits) + "-bit modulus");
  }
  const Bytes messageHash = sha384({message});
  const std::uint8_t zeros[8] = {};
  const Bytes h = sha384({zeros, messageHash, salt});

  const std::size_t dbLength = emLength - kSha384Bytes - 1;
  Bytes encoded(dbLength - salt.size() - 1, 0); // PS
  encoded.reserve(emLength);
  encoded.push_back(0x01);
  encoded.insert(encoded.end(), salt.begin(), salt.end());
  const Bytes mask = mgf1Sha384(h, dbLength);
  for (std::size_t i = 0; i < dbLength; ++i) encoded[i] ^= mask[i];
  encoded[0] &= static_cast<std::uint8_t>(0xff >> (8 * emLength - emBits));
  encoded.insert(encoded.end(), h.begin(), h.end());
  encoded.push_back(0xbc);
  return encoded;
}

Blinded blind(const BlindVerifier& publicKey, std::span<const std::uint8_t> prepared, int saltLength) {
  const PublicKeyState& key = Access::of(publicKey);
  if (saltLength < 0) throw BlindRsaError("salt length must not be negative, got " + std::to_string(saltLength));
  if (static_cast<std::size_t>(saltLength) > key.bytes) {
    // Before drawing the salt, so that a silly length fails fast; emsaPssEncode has the exact bound.
    throw BlindRsaError("salt of " + std::to_string(saltLength) + " bytes is too long for a " +
                        std::to_string(key.bits) + "-bit modulus");
  }
  const Bytes salt = randomBytes(static_cast<std::size_t>(saltLength));
  const Bytes encoded = emsaPssEncode(prepared, salt, key.bits);
  const BnCtxPtr context = newBnCtx();
  const BnPtr m = residue(key, encoded, "encoded message");

  // RFC 9474 §4.2 steps 4-5: otherwise m shares a factor with n.
  const BnPtr divisor = newBn();
  if (BN_gcd(divisor.get(), m.get(), key.n.get(), context.get()) != 1) fail("gcd failed");
  if (!BN_is_one(divisor.get())) throw BlindRsaError("invalid input: the encoded message is not coprime with n");

  const BnPtr r = newBn();
  const BnPtr inverse = newBn();
  BN_set_flags(r.get(), BN_FLG_CONSTTIME);
  bool found = false;
  for (int attempt = 0; attempt < kBlindingAttempts && !found; ++attempt) {
    if (BN_priv_rand_range(r.get(), key.n.get()) != 1) fail("the random number generator failed");
    found = !BN_is_zero(r.get()) && BN_mod_inverse(inverse.get(), r.get(), key.n.get(), context.get()) != nullptr;
    ERR_clear_error();
  }
  if (!found) throw BlindRsaError("blinding error: no invertible blinding factor found");

  const BnPtr x = publicOperation(key, r.get(), context.get());
  const BnPtr z = multiplyModN(key, m.get(), x.get(), context.get());
  return Blinded{toBytes(z.get(), key.bytes), toBytes(inverse.get(), key.bytes)};
}

Bytes blindWithEncoded(const BlindVerifier& publicKey, std::span<const std::uint8_t> encodedMessage,
                       std::span<const std::uint8_t> inverse) {
  const PublicKeyState& key = Access::of(publicKey);
  const BnCtxPtr context = newBnCtx();
  const BnPtr m = residue(key, encodedMessage, "encoded message");
  const BnPtr inv = residue(key, inverse, "inverse");
  const BnPtr r = newBn();
  if (BN_mod_inverse(r.get(), inv.get(), key.n.get(), context.get()) == nullptr) {
    ERR_clear_error();
    throw BlindRsaError("the inverse has no inverse modulo n");
  }
  const BnPtr x = publicOperation(key, r.get(), context.get());
  const BnPtr z = multiplyModN(key, m.get(), x.get(), context.get());
  return toBytes(z.get(), key.bytes);
}

Bytes finalize(const BlindVerifier& publicKey, std::span<const std::uint8_t> blindSignature,
               std::span<const std::uint8_t> inverse, std::span<const std::uint8_t> prepared, int saltLength) {
  const PublicKeyState& key = Access::of(publicKey);
  if (blindSignature.size() != key.bytes) {
    throw BlindRsaError("blind signature must be " + std::to_string(key.bytes) + " bytes, got " +
                        std::to_string(blindSignature.size()));
  }
  const BnCtxPtr context = newBnCtx();
  const BnPtr z = residue(key, blindSignature, "blind signature");
  const BnPtr inv = residue(key, inverse, "inverse");
  const BnPtr s = multiplyModN(key, z.get(), inv.get(), context.get());
  Bytes signature = toBytes(s.get(), key.bytes);
  if (!publicKey.verify(prepared, signature, saltLength)) {
    throw BlindRsaError("invalid signature: the blind signature does not unblind to a valid signature");
  }
  return signature;
}

} // namespace client

// --- Encodings ---------------------------------------------------------------------------

std::string base64UrlEncode(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t chunk = std::uint32_t{data[i]} << 16 | std::uint32_t{data[i + 1]} << 8 | data[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kBase64UrlAlphabet[(chunk >> shift) & 63];
  }
  const std::size_t left = data.size() - i;
  if (left > 0) {
    const std::uint32_t chunk = std::uint32_t{data[i]} << 16 | (left == 2 ? std::uint32_t{data[i + 1]} << 8 : 0);
    out += kBase64UrlAlphabet[(chunk >> 18) & 63];
    out += kBase64UrlAlphabet[(chunk >> 12) & 63];
    if (left == 2) out += kBase64UrlAlphabet[(chunk >> 6) & 63];
  }
  return out;
}

Bytes base64UrlDecode(std::string_view text) {
  std::size_t padding = 0;
  while (padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  const std::string_view body = text.substr(0, text.size() - padding);
  if (padding > 0 && (text.size() % 4 != 0 || padding != (4 - body.size() % 4) % 4)) {
    throw BlindRsaError("base64url text has " + std::to_string(padding) + " '=' where " +
                        std::to_string((4 - body.size() % 4) % 4) + " belong");
  }
  Bytes out;
  out.reserve(body.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const int value = base64UrlValue(body[i]);
    if (value < 0) {
      const auto c = static_cast<unsigned char>(body[i]);
      throw BlindRsaError("base64url text has a character that is not allowed at position " + std::to_string(i + 1) +
                          (c >= 0x20 && c < 0x7f ? std::string(": '") + body[i] + "'" : std::string()));
    }
    buffer = (buffer << 6 | static_cast<std::uint32_t>(value)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
    }
  }
  if (body.size() % 4 == 1) {
    throw BlindRsaError("base64url text has an impossible length of " + std::to_string(body.size()) + " characters");
  }
  // Leftover bits must be zero, or two texts would decode to the same bytes.
  if ((buffer & ((1u << bits) - 1)) != 0) throw BlindRsaError("base64url text has non-zero bits after its last byte");
  return out;
}

Bytes sha256(std::span<const std::uint8_t> data) {
  Bytes digest(32);
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 || length != 32) {
    fail("SHA-256 failed");
  }
  return digest;
}

std::string keyFingerprint(std::span<const std::uint8_t> spki) {
  static constexpr char kHex[] = "0123456789abcdef";
  const Bytes digest = sha256(spki);
  std::string text;
  for (std::size_t i = 0; i < 10; ++i) {
    if (i > 0 && i % 2 == 0) text += ' ';
    text += kHex[digest[i] >> 4];
    text += kHex[digest[i] & 0x0f];
  }
  return text;
}

} // namespace belonging::experience
