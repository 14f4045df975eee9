#include "TestServer.hpp"

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdio>

using namespace belonging::testing;

namespace {
/** Writes a throwaway self-signed certificate and key for 127.0.0.1. */
void writeSelfSignedCertificate(const std::string& certificatePath, const std::string& keyPath) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  X509* certificate = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 3600);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  X509_sign(certificate, key, EVP_sha256());
  FILE* out = std::fopen(certificatePath.c_str(), "w");
  PEM_write_X509(out, certificate);
  std::fclose(out);
  out = std::fopen(keyPath.c_str(), "w");
  PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(out);
  X509_free(certificate);
  EVP_PKEY_free(key);
}
} // namespace

TEST_CASE("served over TLS, cookies are Secure and HSTS is sent", "[integration][http][tls]") {
  TempDirectory keys;
  const std::string certificate = (keys / "tls.crt").string(), key = (keys / "tls.key").string();
  writeSelfSignedCertificate(certificate, key);
  ServerOptions options;
  options.serverConfig = "tls_certificate = \"" + certificate + "\"\ntls_private_key = \"" + key + "\"";
  TestServer server(options);

  httplib::SSLClient client("127.0.0.1", server.port());
  client.enable_server_certificate_verification(false);
  auto page = client.Get("/signin");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Set-Cookie").find("; Secure") != std::string::npos);
  CHECK(page->get_header_value("Strict-Transport-Security") == "max-age=31536000");

  // Plain HTTP to the TLS port gets nothing useful.
  httplib::Client plain("127.0.0.1", server.port());
  plain.set_read_timeout(2, 0);
  auto refused = plain.Get("/signin");
  CHECK((!refused || refused->status != 200));
}
