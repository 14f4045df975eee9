// RFC 9474 blind RSA for the experience plugin: every published test vector (RFC 9474 Appendix
// A, all four RSABSSA-SHA384 variants), then the wave-key life cycle and the rejections the
// HTTP API relies on. The vectors use a 4096-bit key; our waves use 2048-bit keys.

#include "../BlindRsa.hpp"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace belonging::experience;

namespace {

constexpr char kKekHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kOtherKekHex[] = "f0e0d0c0b0a090807060504030201000f0e0d0c0b0a090807060504030201000";
constexpr char kDecryptFailure[] = "cannot decrypt the wave's private key: wrong key-encryption key or damaged data";

/** Hex with or without 0x (the vector file uses both) to bytes. */
Bytes fromHex(std::string hex) {
  if (hex.starts_with("0x")) hex.erase(0, 2);
  REQUIRE(hex.size() % 2 == 0);
  Bytes bytes;
  for (std::size_t i = 0; i < hex.size(); i += 2) bytes.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

/** Lower-case hex, so that a failed comparison prints something readable. */
std::string toHex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (const auto byte : bytes) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 15];
  }
  return hex;
}

Bytes bytesOf(std::string_view text) { return Bytes(text.begin(), text.end()); }

Bytes flipBit(Bytes bytes, std::size_t index, int bit = 0) {
  bytes.at(index) = static_cast<std::uint8_t>(bytes.at(index) ^ (1u << bit));
  return bytes;
}

/** One entry of rfc9474-test-vectors.json. */
struct Vector {
  std::string name;
  Bytes n, e, d, p, q;
  Bytes msg, msgPrefix, inputMsg, salt;
  std::optional<Bytes> encodedMsg; ///< Absent from the first (PSS-Randomized) vector.
  int saltLength = 0;
  bool randomized = false;
  Bytes inv, blindedMsg, blindSig, sig;
};

const std::vector<Vector>& vectors() {
  static const std::vector<Vector> loaded = [] {
    std::ifstream file(std::string(BELONGING_EXPERIENCE_TEST_DATA) + "/rfc9474-test-vectors.json");
    REQUIRE(file.good());
    const auto json = nlohmann::json::parse(file);
    std::vector<Vector> out;
    for (const auto& entry : json) {
      Vector v;
      v.name = entry.at("name").get<std::string>();
      auto field = [&entry](const char* key) { return fromHex(entry.at(key).get<std::string>()); };
      v.n = field("n");
      v.e = field("e");
      v.d = field("d");
      v.p = field("p");
      v.q = field("q");
      v.msg = field("msg");
      v.msgPrefix = field("msg_prefix");
      v.inputMsg = field("input_msg");
      v.salt = field("salt");
      if (entry.contains("encoded_msg")) v.encodedMsg = field("encoded_msg");
      const Bytes saltLength = field("sLen");
      REQUIRE(saltLength.size() == 1);
      v.saltLength = saltLength[0];
      const Bytes randomized = field("is_randomized");
      REQUIRE(randomized.size() == 1);
      v.randomized = randomized[0] == 1;
      v.inv = field("inv");
      v.blindedMsg = field("blinded_msg");
      v.blindSig = field("blind_sig");
      v.sig = field("sig");
      out.push_back(std::move(v));
    }
    return out;
  }();
  return loaded;
}

BlindSigner signerOf(const Vector& v) { return BlindSigner::fromComponents(v.n, v.e, v.d, v.p, v.q); }

BlindVerifier verifierOf(const Vector& v) { return BlindVerifier::fromComponents(v.n, v.e); }

KeyEncryptionKey kek() { return KeyEncryptionKey::fromHex(kKekHex); }

/** Generated once: a 2048-bit key takes a noticeable time under the sanitizers. */
const WaveKey& waveKey() {
  static const WaveKey key = generateWaveKey(kek());
  return key;
}

const WaveKey& otherWaveKey() {
  static const WaveKey key = generateWaveKey(kek());
  return key;
}

/** What a browser does for one token: prepare, blind, send, finalize. */
Bytes issue(const BlindSigner& signer, const BlindVerifier& publicKey, const Bytes& prepared) {
  const auto blinded = client::blind(publicKey, prepared);
  const Bytes blindSignature = signer.blindSign(blinded.blindedMessage);
  return client::finalize(publicKey, blindSignature, blinded.inverse, prepared);
}

} // namespace

TEST_CASE("The vector file holds the four RSABSSA-SHA384 variants as we read them", "[experience][blindrsa]") {
  const auto& all = vectors();
  std::set<std::string> names;
  for (const auto& v : all) names.insert(v.name);
  CHECK(names == std::set<std::string>{"RSABSSA-SHA384-PSS-Randomized", "RSABSSA-SHA384-PSSZERO-Randomized",
                                       "RSABSSA-SHA384-PSS-Deterministic", "RSABSSA-SHA384-PSSZERO-Deterministic"});
  for (const auto& v : all) {
    INFO(v.name);
    CHECK(v.inputMsg == [&v] {
      Bytes joined = v.msgPrefix;
      joined.insert(joined.end(), v.msg.begin(), v.msg.end());
      return joined;
    }());
    CHECK(v.msgPrefix.size() == (v.randomized ? 32u : 0u));
    CHECK(v.salt.size() == static_cast<std::size_t>(v.saltLength));
    CHECK(v.saltLength == (v.name.find("PSSZERO") != std::string::npos ? 0 : 48));
    CHECK(signerOf(v).modulusBytes() == 512);
    CHECK(verifierOf(v).modulusBits() == 4096);
  }
}

TEST_CASE("RFC 9474 vectors: BlindSign gives blind_sig", "[experience][blindrsa]") {
  for (const auto& v : vectors()) {
    INFO(v.name);
    CHECK(toHex(signerOf(v).blindSign(v.blindedMsg)) == toHex(v.blindSig));
  }
}

TEST_CASE("RFC 9474 vectors: EMSA-PSS encoding and Blind give blinded_msg", "[experience][blindrsa]") {
  for (const auto& v : vectors()) {
    INFO(v.name);
    const auto publicKey = verifierOf(v);
    const Bytes encoded = client::emsaPssEncode(v.inputMsg, v.salt, publicKey.modulusBits());
    CHECK(encoded.size() == 512);
    if (v.encodedMsg) CHECK(toHex(encoded) == toHex(*v.encodedMsg));
    // The first vector publishes no encoded_msg, so only our encoder links its salt to blinded_msg.
    CHECK(toHex(client::blindWithEncoded(publicKey, encoded, v.inv)) == toHex(v.blindedMsg));
    if (v.encodedMsg) CHECK(toHex(client::blindWithEncoded(publicKey, *v.encodedMsg, v.inv)) == toHex(v.blindedMsg));
  }
}

TEST_CASE("RFC 9474 vectors: Finalize gives sig", "[experience][blindrsa]") {
  for (const auto& v : vectors()) {
    INFO(v.name);
    CHECK(toHex(client::finalize(verifierOf(v), v.blindSig, v.inv, v.inputMsg, v.saltLength)) == toHex(v.sig));
    // A blind signature that is not the server's answer must not unblind to anything.
    CHECK_THROWS_AS(client::finalize(verifierOf(v), flipBit(v.blindSig, 100), v.inv, v.inputMsg, v.saltLength),
                    BlindRsaError);
  }
}

TEST_CASE("RFC 9474 vectors: Verify accepts sig and nothing altered", "[experience][blindrsa]") {
  for (const auto& v : vectors()) {
    INFO(v.name);
    const auto publicKey = verifierOf(v);
    CHECK(publicKey.verify(v.inputMsg, v.sig, v.saltLength));
    CHECK(BlindVerifier::fromSpki(signerOf(v).publicKeySpki()).verify(v.inputMsg, v.sig, v.saltLength));

    CHECK_FALSE(publicKey.verify(v.inputMsg, flipBit(v.sig, 0, 7), v.saltLength));
    CHECK_FALSE(publicKey.verify(v.inputMsg, flipBit(v.sig, 255, 3), v.saltLength));
    CHECK_FALSE(publicKey.verify(v.inputMsg, flipBit(v.sig, v.sig.size() - 1), v.saltLength));
    CHECK_FALSE(publicKey.verify(flipBit(v.inputMsg, 0), v.sig, v.saltLength));
    CHECK_FALSE(publicKey.verify(flipBit(v.inputMsg, v.inputMsg.size() - 1, 6), v.sig, v.saltLength));
    // PSS pins the salt length: a signature made with one does not verify with the other.
    CHECK_FALSE(publicKey.verify(v.inputMsg, v.sig, v.saltLength == 0 ? 48 : 0));
    if (v.randomized) CHECK_FALSE(publicKey.verify(v.msg, v.sig, v.saltLength));
  }
}

TEST_CASE("Wave keys: generate, decrypt, and issue a token end to end", "[experience][blindrsa]") {
  const WaveKey& wave = waveKey();
  // 1 version byte, 12-byte nonce, PKCS#8 of a 2048-bit key (over 1000 bytes), 16-byte tag.
  REQUIRE(wave.encryptedPrivateKey.size() > 1 + 12 + 1000 + 16);
  CHECK(wave.encryptedPrivateKey[0] == 1);

  const auto signer = BlindSigner::fromEncrypted(wave.encryptedPrivateKey, kek());
  CHECK(signer.modulusBytes() == 256);
  CHECK(signer.publicKeySpki() == wave.publicKeySpki);
  const auto publicKey = BlindVerifier::fromSpki(wave.publicKeySpki);
  CHECK(publicKey.modulusBits() == 2048);
  CHECK(publicKey.publicKeySpki() == wave.publicKeySpki);

  const Bytes message = bytesOf("wave 42: I have taken part");
  const Bytes prepared = client::prepare(message);
  REQUIRE(prepared.size() == 32 + message.size());
  CHECK(std::equal(message.begin(), message.end(), prepared.begin() + 32));
  CHECK(client::prepare(message) != prepared);

  const auto blinded = client::blind(publicKey, prepared);
  CHECK(blinded.blindedMessage.size() == 256);
  CHECK(blinded.inverse.size() == 256);
  // Blinding is randomized, so the server sees unrelated values for the same token.
  CHECK(client::blind(publicKey, prepared).blindedMessage != blinded.blindedMessage);

  const Bytes blindSignature = signer.blindSign(blinded.blindedMessage);
  CHECK(blindSignature.size() == 256);
  const Bytes signature = client::finalize(publicKey, blindSignature, blinded.inverse, prepared);
  CHECK(signature.size() == 256);
  CHECK(signature != blindSignature);
  CHECK(publicKey.verify(prepared, signature));
  CHECK(signer.verifier().verify(prepared, signature));
  CHECK_FALSE(publicKey.verify(message, signature));
  CHECK_FALSE(publicKey.verify(prepared, signature, 0));

  SECTION("a token from another wave does not verify") {
    const auto otherPublicKey = BlindVerifier::fromSpki(otherWaveKey().publicKeySpki);
    CHECK(otherWaveKey().publicKeySpki != wave.publicKeySpki);
    CHECK_FALSE(otherPublicKey.verify(prepared, signature));
    // Nor does another wave's signer's answer finalize against this wave's key.
    const auto otherSigner = BlindSigner::fromEncrypted(otherWaveKey().encryptedPrivateKey, kek());
    const auto otherBlinded = client::blind(publicKey, prepared);
    CHECK_THROWS_AS(client::finalize(publicKey, otherSigner.blindSign(otherBlinded.blindedMessage), otherBlinded.inverse,
                                     prepared),
                    BlindRsaError);
  }
}

TEST_CASE("Wave keys: the private key opens only with its key-encryption key, untouched", "[experience][blindrsa]") {
  const Bytes& encrypted = waveKey().encryptedPrivateKey;
  CHECK(encrypted != otherWaveKey().encryptedPrivateKey);
  CHECK_THROWS_WITH(BlindSigner::fromEncrypted(encrypted, KeyEncryptionKey::fromHex(kOtherKekHex)), kDecryptFailure);
  // Nonce, ciphertext (first, middle) and tag: GCM covers every one.
  for (const std::size_t index : {std::size_t{1}, std::size_t{13}, encrypted.size() / 2, encrypted.size() - 1}) {
    INFO("flipped byte " << index);
    CHECK_THROWS_WITH(BlindSigner::fromEncrypted(flipBit(encrypted, index), kek()), kDecryptFailure);
  }
  Bytes truncated(encrypted.begin(), encrypted.end() - 1);
  CHECK_THROWS_WITH(BlindSigner::fromEncrypted(truncated, kek()), kDecryptFailure);
  CHECK_THROWS_WITH(BlindSigner::fromEncrypted(flipBit(encrypted, 0, 1), kek()),
                    "encrypted wave key has unknown format version 3");
  CHECK_THROWS_WITH(BlindSigner::fromEncrypted(Bytes(20, 1), kek()), "encrypted wave key must be at least 29 bytes, got 20");
  CHECK_THROWS_AS(BlindSigner::fromEncrypted(Bytes{}, kek()), BlindRsaError);
}

TEST_CASE("Wave keys: key-encryption keys and sizes are checked", "[experience][blindrsa]") {
  std::string upper = kKekHex;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
  const auto lowerKey = kek();
  const auto upperKey = KeyEncryptionKey::fromHex(upper);
  CHECK(std::equal(lowerKey.bytes().begin(), lowerKey.bytes().end(), upperKey.bytes().begin()));
  CHECK(lowerKey.bytes()[0] == 0x00);
  CHECK(lowerKey.bytes()[31] == 0x1f);

  CHECK_THROWS_WITH(KeyEncryptionKey::fromHex(std::string(kKekHex).substr(1)),
                    "key-encryption key must be 64 hex digits, got 63 characters");
  CHECK_THROWS_WITH(KeyEncryptionKey::fromHex(std::string(kKekHex) + "0"),
                    "key-encryption key must be 64 hex digits, got 65 characters");
  std::string bad = kKekHex;
  bad[10] = 'g';
  CHECK_THROWS_WITH(KeyEncryptionKey::fromHex(bad), "key-encryption key must be 64 hex digits; character 11 is not one");
  CHECK_THROWS_AS(KeyEncryptionKey::fromHex(""), BlindRsaError);

  CHECK_THROWS_WITH(generateWaveKey(kek(), 1024), "wave keys must have 2048 to 8192 bits, asked for 1024");
}

TEST_CASE("BlindSign rejects inputs that are not a blinded message", "[experience][blindrsa]") {
  const auto signer = BlindSigner::fromEncrypted(waveKey().encryptedPrivateKey, kek());
  CHECK_THROWS_WITH(signer.blindSign(Bytes(12, 7)), "blinded message must be 256 bytes, got 12");
  CHECK_THROWS_WITH(signer.blindSign(Bytes{}), "blinded message must be 256 bytes, got 0");
  CHECK_THROWS_WITH(signer.blindSign(Bytes(257, 1)), "blinded message must be 256 bytes, got 257");
  CHECK_THROWS_WITH(signer.blindSign(Bytes(256, 0xff)), "blinded message must be less than the modulus");

  const Vector& v = vectors().front();
  const auto vectorSigner = signerOf(v);
  CHECK_THROWS_WITH(vectorSigner.blindSign(v.n), "blinded message must be less than the modulus");
  Bytes nPlusOne = v.n;
  ++nPlusOne.back(); // n is odd, so this does not carry.
  CHECK_THROWS_WITH(vectorSigner.blindSign(nPlusOne), "blinded message must be less than the modulus");
  Bytes nMinusOne = v.n;
  --nMinusOne.back();
  CHECK(vectorSigner.blindSign(nMinusOne).size() == 512); // The largest acceptable input.
}

TEST_CASE("BlindSign refuses to release a signature that does not verify", "[experience][blindrsa]") {
  // A private exponent that does not match e stands in for a computation fault: the output is
  // wrong, and RFC 9474's check must stop it (OpenSSL returns it without complaint).
  const Vector& v = vectors().front();
  const auto faulty = BlindSigner::fromComponents(v.n, v.e, flipBit(v.d, v.d.size() - 1, 1), v.p, v.q);
  CHECK_THROWS_WITH(faulty.blindSign(v.blindedMsg),
                    "signing failure: the blind signature does not verify against the blinded message");
  Bytes wrongN = v.n;
  wrongN.back() = static_cast<std::uint8_t>(wrongN.back() ^ 2);
  CHECK_THROWS_WITH(BlindSigner::fromComponents(wrongN, v.e, v.d, v.p, v.q), "RSA components do not fit: n is not p times q");
}

TEST_CASE("Verify returns false for malformed signatures, without throwing", "[experience][blindrsa]") {
  const auto signer = BlindSigner::fromEncrypted(waveKey().encryptedPrivateKey, kek());
  const auto publicKey = signer.verifier();
  const Bytes prepared = client::prepare(bytesOf("token"));
  const Bytes signature = issue(signer, publicKey, prepared);
  REQUIRE(publicKey.verify(prepared, signature));

  CHECK_FALSE(publicKey.verify(prepared, Bytes{}));
  CHECK_FALSE(publicKey.verify(prepared, Bytes(12, 0x5a)));
  CHECK_FALSE(publicKey.verify(prepared, Bytes(256, 0)));
  CHECK_FALSE(publicKey.verify(prepared, Bytes(256, 0xff))); // Not below n.
  CHECK_FALSE(publicKey.verify(prepared, Bytes(signature.begin(), signature.end() - 1)));
  Bytes longer = signature;
  longer.insert(longer.begin(), 0);
  CHECK_FALSE(publicKey.verify(prepared, longer));
  longer = signature;
  longer.push_back(0);
  CHECK_FALSE(publicKey.verify(prepared, longer));
  CHECK_FALSE(publicKey.verify(Bytes{}, signature));
  CHECK_THROWS_AS(publicKey.verify(prepared, signature, -1), BlindRsaError);
}

TEST_CASE("Verify wants exactly modulus-length signatures, leading zero bytes included", "[experience][blindrsa]") {
  // About 1 signature in 128-256 starts with a zero byte; OpenSSL alone would also accept it
  // without that byte, giving one token two spellings.
  const auto signer = BlindSigner::fromEncrypted(waveKey().encryptedPrivateKey, kek());
  const auto publicKey = signer.verifier();
  std::optional<std::pair<Bytes, Bytes>> found; // prepared, signature
  for (int attempt = 0; attempt < 4000 && !found; ++attempt) {
    const Bytes prepared = client::prepare(bytesOf("leading zero"));
    const Bytes signature = issue(signer, publicKey, prepared);
    if (signature[0] == 0) found.emplace(prepared, signature);
  }
  REQUIRE(found);
  const auto& [prepared, signature] = *found;
  CHECK(publicKey.verify(prepared, signature));
  CHECK_FALSE(publicKey.verify(prepared, Bytes(signature.begin() + 1, signature.end())));
}

TEST_CASE("BlindSign is safe to call from several threads at once", "[experience][blindrsa]") {
  const auto signer = BlindSigner::fromEncrypted(waveKey().encryptedPrivateKey, kek());
  const auto publicKey = BlindVerifier::fromSpki(waveKey().publicKeySpki);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 8;
  std::vector<int> verified(kThreads, 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const Bytes prepared = client::prepare(bytesOf("thread " + std::to_string(t)));
          try {
            if (publicKey.verify(prepared, issue(signer, publicKey, prepared))) ++verified[static_cast<std::size_t>(t)];
          } catch (const BlindRsaError&) {
            // Counted as not verified; Catch2 assertions are not thread-safe.
          }
        }
      });
    }
  }
  CHECK(verified == std::vector<int>(kThreads, kPerThread));
}

TEST_CASE("Client inputs are checked", "[experience][blindrsa]") {
  const Vector& v = vectors().front();
  const auto publicKey = verifierOf(v);
  CHECK_THROWS_WITH(client::finalize(publicKey, Bytes(10, 1), v.inv, v.inputMsg, v.saltLength),
                    "blind signature must be 512 bytes, got 10");
  CHECK_THROWS_WITH(client::blindWithEncoded(publicKey, v.n, v.inv), "encoded message must be less than the modulus");
  CHECK_THROWS_WITH(client::blindWithEncoded(publicKey, Bytes(513, 0), v.inv), "encoded message must be at most 512 bytes, got 513");
  CHECK_THROWS_WITH(client::blindWithEncoded(publicKey, *vectors()[1].encodedMsg, Bytes{0}), "the inverse has no inverse modulo n");
  // 2048-bit modulus: emLen 256 leaves 256 - 48 - 2 = 206 bytes for the salt.
  CHECK(client::emsaPssEncode(v.msg, Bytes(206, 0), 2048).size() == 256);
  CHECK_THROWS_WITH(client::emsaPssEncode(v.msg, Bytes(207, 0), 2048), "salt of 207 bytes is too long for a 2048-bit modulus");
  // A modulus one bit over a byte boundary: EM is one byte shorter than the modulus.
  CHECK(client::emsaPssEncode(v.msg, v.salt, 2049).size() == 256);
  const Bytes onBoundary = client::emsaPssEncode(v.msg, v.salt, 2048);
  CHECK(onBoundary.front() < 0x80); // The top bit is masked, so EM < 2^2047 <= n.
  CHECK(onBoundary.back() == 0xbc);
}

TEST_CASE("Public keys are checked", "[experience][blindrsa]") {
  const Bytes spki = waveKey().publicKeySpki;
  CHECK_THROWS_AS(BlindVerifier::fromSpki(Bytes{}), BlindRsaError);
  CHECK_THROWS_AS(BlindVerifier::fromSpki(Bytes(spki.begin(), spki.end() - 1)), BlindRsaError);
  Bytes trailing = spki;
  trailing.push_back(0);
  CHECK_THROWS_WITH(BlindVerifier::fromSpki(trailing), "the public key has trailing bytes after its DER");
  CHECK_THROWS_AS(BlindVerifier::fromSpki(bytesOf("not a key")), BlindRsaError);

  const Vector& v = vectors().front();
  Bytes small(v.n.begin() + 384, v.n.end()); // Odd, like a modulus.
  small[0] |= 0x80;                           // Exactly 1024 bits.
  CHECK_THROWS_WITH(BlindVerifier::fromComponents(small, v.e), "RSA modulus must have at least 2048 bits, got 1024");
  CHECK_THROWS_WITH(BlindVerifier::fromComponents(v.n, Bytes{1}),
                    "RSA public exponent must be odd, at least 3 and less than the modulus");
  CHECK_THROWS_WITH(BlindVerifier::fromComponents(v.n, Bytes{1, 0, 0}),
                    "RSA public exponent must be odd, at least 3 and less than the modulus");
}

TEST_CASE("base64url encodes without padding and decodes strictly", "[experience][blindrsa]") {
  // RFC 4648 §10, without padding.
  CHECK(base64UrlEncode(bytesOf("")).empty());
  CHECK(base64UrlEncode(bytesOf("f")) == "Zg");
  CHECK(base64UrlEncode(bytesOf("fo")) == "Zm8");
  CHECK(base64UrlEncode(bytesOf("foo")) == "Zm9v");
  CHECK(base64UrlEncode(bytesOf("foob")) == "Zm9vYg");
  CHECK(base64UrlEncode(bytesOf("fooba")) == "Zm9vYmE");
  CHECK(base64UrlEncode(bytesOf("foobar")) == "Zm9vYmFy");
  CHECK(base64UrlEncode(Bytes{0xfb, 0xff}) == "-_8"); // "+/8" in plain base64.

  CHECK(base64UrlDecode("Zm9vYmE") == bytesOf("fooba"));
  CHECK(base64UrlDecode("Zm9vYmE=") == bytesOf("fooba"));
  CHECK(base64UrlDecode("Zg==") == bytesOf("f"));
  CHECK(base64UrlDecode("Zg") == bytesOf("f"));
  CHECK(base64UrlDecode("").empty());
  CHECK(base64UrlDecode("-_8") == Bytes{0xfb, 0xff});

  Bytes all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
  for (std::size_t length = 0; length <= all.size(); length += 1) {
    const Bytes part(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(length));
    const std::string text = base64UrlEncode(part);
    CHECK(text.find('=') == std::string::npos);
    CHECK(base64UrlDecode(text) == part);
  }

  CHECK_THROWS_WITH(base64UrlDecode("Zm9v+g"), "base64url text has a character that is not allowed at position 5: '+'");
  CHECK_THROWS_WITH(base64UrlDecode("Zm9v/w"), "base64url text has a character that is not allowed at position 5: '/'");
  CHECK_THROWS_WITH(base64UrlDecode("Zm 9v"), "base64url text has a character that is not allowed at position 3: ' '");
  CHECK_THROWS_WITH(base64UrlDecode("Zm9v\n"), "base64url text has a character that is not allowed at position 5");
  CHECK_THROWS_WITH(base64UrlDecode("Zm9vY"), "base64url text has an impossible length of 5 characters");
  CHECK_THROWS_WITH(base64UrlDecode("Zg="), "base64url text has 1 '=' where 2 belong");
  CHECK_THROWS_WITH(base64UrlDecode("Zg==="), "base64url text has 3 '=' where 2 belong");
  CHECK_THROWS_WITH(base64UrlDecode("Zm9v===="), "base64url text has 4 '=' where 0 belong");
  CHECK_THROWS_AS(base64UrlDecode("Zg==Zg=="), BlindRsaError);
  CHECK_THROWS_AS(base64UrlDecode("="), BlindRsaError);
  // "Zh" would also decode to "f" if the unused bits were ignored.
  CHECK_THROWS_WITH(base64UrlDecode("Zh"), "base64url text has non-zero bits after its last byte");
  CHECK_THROWS_WITH(base64UrlDecode("Zm9"), "base64url text has non-zero bits after its last byte");
}

TEST_CASE("sha256 matches FIPS 180-2", "[experience][blindrsa]") {
  CHECK(toHex(sha256(bytesOf("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(toHex(sha256(Bytes{})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("A key fingerprint is the first 80 bits of SHA-256, in groups of four hex digits", "[experience][blindrsa]") {
  // SHA-256 of nothing is e3b0c44298fc1c149afbf4c8996fb924…; of "abc", ba7816bf8f01cfea4141….
  CHECK(keyFingerprint({}) == "e3b0 c442 98fc 1c14 9afb");
  const std::string abc = "abc";
  CHECK(keyFingerprint({reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()}) == "ba78 16bf 8f01 cfea 4141");
}
