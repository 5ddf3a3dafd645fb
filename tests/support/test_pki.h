// A throw-away PKI for TLS tests, generated with the OpenSSL API into a temporary folder: a root
// CA, a second unrelated CA, an intermediate CA under the root, and leaf certificates (PEM
// certificate + unencrypted PEM P-256 key each) for every case a TLS test needs. Generated once
// per object; each file is 0600 like a mounted secret.
#pragma once

#include <string>

#include "tests/support/process.h"

namespace dataflow::testing {

struct CertificateFiles {
  std::string certificate;  // PEM certificate path
  std::string key;          // PEM private key path
};

class TestPki {
 public:
  // Throws std::runtime_error when OpenSSL fails.
  TestPki();

  const std::string& dir() const { return dir_.path(); }
  std::string caCertificate() const { return dir_.file("ca.crt"); }
  std::string otherCaCertificate() const { return dir_.file("other-ca.crt"); }
  // The intermediate CA's certificate (signed by the root), for a client chain.
  std::string intermediateCertificate() const { return dir_.file("intermediate.crt"); }

  // Signed by the root CA for DNS:localhost and IP:127.0.0.1, valid now.
  CertificateFiles server() const { return files("server"); }
  // Signed by the root CA, valid now, but only for DNS:wrong-host.invalid.
  CertificateFiles serverWrongHost() const { return files("server-wrong-host"); }
  // Signed by the root CA for localhost and 127.0.0.1, expired a day ago.
  CertificateFiles serverExpired() const { return files("server-expired"); }
  // For localhost and 127.0.0.1, valid, but signed by the other CA.
  CertificateFiles serverFromOtherCa() const { return files("server-other-ca"); }
  // Client certificates (extendedKeyUsage clientAuth): by the root CA, by the other CA, and by
  // the intermediate CA (verifiable only when the intermediate is sent along).
  CertificateFiles client() const { return files("client"); }
  CertificateFiles clientFromOtherCa() const { return files("client-other-ca"); }
  CertificateFiles clientFromIntermediate() const { return files("client-intermediate"); }

 private:
  CertificateFiles files(const std::string& name) const {
    return {dir_.file(name + ".crt"), dir_.file(name + ".key")};
  }
  TempDir dir_;
};

}  // namespace dataflow::testing
