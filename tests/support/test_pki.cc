#include "tests/support/test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace dataflow::testing {

namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

constexpr long kDay = 24 * 3600;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

KeyPtr newKey() {
  KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  check(key != nullptr, "EVP_EC_gen");
  return key;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

struct Spec {
  std::string common_name;
  bool ca = false;
  std::string san;           // e.g. "DNS:localhost,IP:127.0.0.1"; empty: none
  bool client_auth = false;  // extendedKeyUsage clientAuth instead of serverAuth
  long not_before = -kDay;   // seconds from now
  long not_after = 30 * kDay;
};

// A certificate for `key` per `spec`, signed by `issuer_key` (self-signed when issuer is null).
CertPtr makeCertificate(const Spec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  CertPtr cert(X509_new(), X509_free);
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  addExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) addExtension(cert.get(), signer, NID_authority_key_identifier, "keyid");
  if (spec.ca) {
    addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    addExtension(cert.get(), signer, NID_ext_key_usage,
                 spec.client_auth ? "clientAuth" : "serverAuth");
  }
  if (!spec.san.empty()) addExtension(cert.get(), signer, NID_subject_alt_name, spec.san);
  check(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void writePem(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, "fopen");
  const bool ok = PEM_write_X509(f, cert) == 1;
  std::fclose(f);
  ::chmod(path.c_str(), 0600);
  check(ok, "PEM_write_X509");
}

void writeKey(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, "fopen");
  const bool ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  ::chmod(path.c_str(), 0600);
  check(ok, "PEM_write_PrivateKey");
}

struct Authority {
  KeyPtr key;
  CertPtr cert;
};

Authority makeCa(const std::string& name, const Authority* parent) {
  KeyPtr key = newKey();
  Spec spec;
  spec.common_name = name;
  spec.ca = true;
  spec.not_after = 365 * kDay;
  CertPtr cert = makeCertificate(spec, key.get(), parent ? parent->cert.get() : nullptr,
                                 parent ? parent->key.get() : key.get());
  return {std::move(key), std::move(cert)};
}

Spec leaf(const std::string& common_name, const std::string& san, bool client_auth = false) {
  Spec spec;
  spec.common_name = common_name;
  spec.san = san;
  spec.client_auth = client_auth;
  return spec;
}

Spec expired(Spec spec) {
  spec.not_before = -30 * kDay;
  spec.not_after = -kDay;
  return spec;
}

void issue(const TempDir& dir, const std::string& name, const Spec& spec, const Authority& ca) {
  KeyPtr key = newKey();
  CertPtr cert = makeCertificate(spec, key.get(), ca.cert.get(), ca.key.get());
  writePem(dir.file(name + ".crt"), cert.get());
  writeKey(dir.file(name + ".key"), key.get());
}

}  // namespace

TestPki::TestPki() : dir_("test-pki") {
  const Authority root = makeCa("dataflow test root CA", nullptr);
  const Authority other = makeCa("dataflow test other CA", nullptr);
  const Authority intermediate = makeCa("dataflow test intermediate CA", &root);
  writePem(caCertificate(), root.cert.get());
  writePem(otherCaCertificate(), other.cert.get());
  writePem(intermediateCertificate(), intermediate.cert.get());

  const std::string loopback = "DNS:localhost,IP:127.0.0.1";
  issue(dir_, "server", leaf("localhost", loopback), root);
  issue(dir_, "server-wrong-host", leaf("wrong-host.invalid", "DNS:wrong-host.invalid"), root);
  issue(dir_, "server-expired", expired(leaf("localhost", loopback)), root);
  issue(dir_, "server-other-ca", leaf("localhost", loopback), other);
  issue(dir_, "client", leaf("dataflow-client", "", /*client_auth=*/true), root);
  issue(dir_, "client-other-ca", leaf("dataflow-client", "", true), other);
  issue(dir_, "client-intermediate", leaf("dataflow-client", "", true), intermediate);
}

}  // namespace dataflow::testing
