// A throw-away PKI for TLS tests of both connectors, made at test time with the `openssl` command
// (P-256 keys, PEM files, no passwords) in a folder the caller owns: a root CA, optionally an
// intermediate CA, and leaf certificates for servers and clients, valid or deliberately broken
// (expired, naming another host, issued by another CA). Failures throw std::runtime_error: a test
// cannot go on without its certificates.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace dataflow::testing {

// The files of one issued certificate.
struct TestCertificate {
  std::string cert;   // the leaf alone
  std::string key;    // its private key (PKCS#8, unencrypted)
  std::string chain;  // the leaf followed by the intermediate CA that issued it, if any: what a
                      // server or client presents
};

class TestPki {
 public:
  enum class Usage { Server, Client };
  struct Leaf {
    std::string common_name;
    std::vector<std::string> dns_names;     // subjectAltName DNS entries
    std::vector<std::string> ip_addresses;  // subjectAltName IP entries
    Usage usage = Usage::Server;
    bool expired = false;           // notAfter before now
    bool via_intermediate = false;  // issued by the intermediate CA rather than the root
  };

  // A root CA "<name> Root CA" (and an intermediate "<name> Intermediate CA" it signed) with
  // their files in `dir`, named after `name`. Two TestPki of different names never trust each
  // other: one is "another CA" for the other.
  TestPki(std::string dir, std::string name = "test");

  // The root CA certificate, PEM: the trust anchor to configure.
  const std::string& caCert() const { return ca_.cert; }
  const std::string& intermediateCert() const { return intermediate_.cert; }

  // Issues a leaf; its files are `dir`/<name>-<stem>.{pem,key,chain.pem}.
  TestCertificate issue(const std::string& stem, const Leaf& leaf) const;

  // The usual cases. Server certificates name localhost and 127.0.0.1.
  TestCertificate server() const;
  TestCertificate serverViaIntermediate() const;
  TestCertificate expiredServer() const;
  TestCertificate wrongHostServer() const;  // names only wrong-host.invalid
  TestCertificate client(const std::string& common_name = "test-client") const;

 private:
  std::string path(const std::string& file) const;
  void openssl(std::vector<std::string> arguments) const;

  std::string dir_;
  std::string name_;
  TestCertificate ca_;
  TestCertificate intermediate_;
};

}  // namespace dataflow::testing
