// The certificates the MQTT security tests use, issued once per test by the shared TestPki
// (tests/support/test_pki.h): a root CA with an intermediate, and an unrelated CA as "another CA".
#pragma once

#include <string>

#include "tests/support/process.h"
#include "tests/support/test_pki.h"

namespace dataflow::testing {

struct CertificateFiles {
  std::string certificate;  // PEM certificate path (a server's: its chain)
  std::string key;          // PEM private key path
};

class MqttPki {
 public:
  MqttPki()
      : dir_("mqtt-pki"),
        root_(dir_.path(), "mqtt"),
        other_(dir_.path(), "other"),
        server_(chainOf(root_.server())),
        server_wrong_host_(chainOf(root_.wrongHostServer())),
        server_expired_(chainOf(root_.expiredServer())),
        server_other_ca_(chainOf(other_.server())),
        client_(leafOf(root_.client())),
        client_other_ca_(leafOf(other_.client())),
        client_intermediate_(leafOf(root_.issue(
            "client-intermediate",
            TestPki::Leaf{"test-client", {}, {}, TestPki::Usage::Client, false, true}))) {}

  const std::string& dir() const { return dir_.path(); }
  std::string caCertificate() const { return root_.caCert(); }
  std::string otherCaCertificate() const { return other_.caCert(); }
  // The intermediate CA under the root, which a client must send along with its leaf.
  std::string intermediateCertificate() const { return root_.intermediateCert(); }

  // For localhost and 127.0.0.1 by the root CA; for wrong-host.invalid only; expired; by the
  // other CA.
  const CertificateFiles& server() const { return server_; }
  const CertificateFiles& serverWrongHost() const { return server_wrong_host_; }
  const CertificateFiles& serverExpired() const { return server_expired_; }
  const CertificateFiles& serverFromOtherCa() const { return server_other_ca_; }
  // Client certificates (leaf alone): by the root, by the other CA, by the intermediate.
  const CertificateFiles& client() const { return client_; }
  const CertificateFiles& clientFromOtherCa() const { return client_other_ca_; }
  const CertificateFiles& clientFromIntermediate() const { return client_intermediate_; }

 private:
  static CertificateFiles chainOf(const TestCertificate& c) { return {c.chain, c.key}; }
  static CertificateFiles leafOf(const TestCertificate& c) { return {c.cert, c.key}; }

  TempDir dir_;
  TestPki root_;
  TestPki other_;
  CertificateFiles server_, server_wrong_host_, server_expired_, server_other_ca_;
  CertificateFiles client_, client_other_ca_, client_intermediate_;
};

}  // namespace dataflow::testing
