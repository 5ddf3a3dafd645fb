// MQTT over TLS against a mosquitto TLS listener and a throw-away PKI: the broker verified with
// the CA of a trust ConfigMap; each way verification can fail named in one rate-limited log line
// (endpoint and cause) while the connection keeps retrying; mutual TLS with an X509Certificate
// secret, its intermediate certificates sent in the chain.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/mqtt/security_fixture.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/process.h"

namespace dataflow::mqtt::testing {
namespace {

using dataflow::testing::ChildProcess;
using dataflow::testing::MqttTestClient;
using ::testing::HasSubstr;

class MqttTlsTest : public MqttSecurityTest {
 protected:
  // A broker whose TLS listener presents `server`; client certificates are checked against the
  // root CA (and required when `require_certificate`).
  std::unique_ptr<Mosquitto> tlsBroker(const CertificateFiles& server,
                                       bool require_certificate = false) {
    Mosquitto::Options options;
    options.tls =
        MosquittoTls{pki_.caCertificate(), server.certificate, server.key, require_certificate};
    return std::make_unique<Mosquitto>(options);
  }

  // An endpoint "broker" for 127.0.0.1:<tls port> with TLS and the CA ConfigMap "ca".
  config::DataflowEndpoint& tlsEndpoint(const Mosquitto& broker) {
    trustConfigMap("ca", pki_.caCertificate());
    config::DataflowEndpoint& endpoint =
        addEndpoint("broker", "127.0.0.1:" + std::to_string(broker.tlsPort()), 1, 100);
    enableTls(endpoint, "ca");
    return endpoint;
  }

  // Starts a source on `endpoint`, proves it connects, and that a message published on the
  // broker's plain listener arrives through it.
  void expectMessagesFlow(const config::DataflowEndpoint& endpoint, const Mosquitto& broker) {
    RecordingHandler handler;
    std::unique_ptr<Source> source = sourceFor(endpoint, randomName("src-"), {topic_});
    ASSERT_NE(source, nullptr);
    startAndWait(*source, handler);
    MqttTestClient publisher(broker.address(), randomName("pub-"));
    publisher.publish(topic_, "over tls", 1);
    EXPECT_TRUE(waitFor([&] { return handler.count() == 1; }, kWait));
    source->close();
  }

  // Starts a source on `endpoint` that must not connect; waits until the broker has seen at least
  // three TCP connections (the first attempt and two retries) and returns the one warning
  // that names the failure. The process is alive, the source not connected.
  std::string expectOneFailureLine(const config::DataflowEndpoint& endpoint,
                                   const Mosquitto& broker, const std::string& cause) {
    RecordingHandler handler;
    std::unique_ptr<Source> source = sourceFor(endpoint, randomName("src-"), {topic_});
    EXPECT_NE(source, nullptr);
    if (source == nullptr) return "";
    EXPECT_TRUE(source->start(handler).isOk());
    EXPECT_TRUE(waitFor([&] { return sink_->contains(cause); }, kWait))
        << "no log line with: " << cause;
    // mosquitto logs a TLS connection as "New connection from" once its handshake is done, or
    // as "Client connection from ... failed" when the handshake fails first.
    auto connections = [&] {
      size_t n = 0;
      const std::string log = broker.log();
      for (const char* line : {"New connection from", "Client connection from"}) {
        for (size_t at = 0; (at = log.find(line, at)) != std::string::npos; ++at) ++n;
      }
      return n;
    };
    EXPECT_TRUE(waitFor([&] { return connections() >= 3; }, kWait)) << broker.log();
    EXPECT_FALSE(source->connected());
    EXPECT_EQ(sink_->countContaining(cause), 1u);  // rate-limited: one line per minute
    std::string line;
    for (const std::string& l : sink_->lines()) {
      if (l.find(cause) != std::string::npos) line = l;
    }
    EXPECT_THAT(line, HasSubstr("endpoint \"broker\""));
    EXPECT_THAT(line, HasSubstr("retrying with backoff"));
    source->close();
    return line;
  }

  MqttPki pki_;
};

TEST_F(MqttTlsTest, TheBrokerIsVerifiedWithTheCaOfTheTrustConfigMap) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server());
  expectMessagesFlow(tlsEndpoint(*broker), *broker);
}

TEST_F(MqttTlsTest, ACertificateFromAnotherCaIsNamedAsUntrusted) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.serverFromOtherCa());
  const std::string line = expectOneFailureLine(tlsEndpoint(*broker), *broker, "untrusted CA");
  EXPECT_THAT(line, HasSubstr("configmaps/ca/ca.crt"));
}

TEST_F(MqttTlsTest, AnExpiredCertificateIsNamed) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.serverExpired());
  expectOneFailureLine(tlsEndpoint(*broker), *broker, "certificate has expired");
}

TEST_F(MqttTlsTest, AHostNameMismatchIsNamed) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.serverWrongHost());
  const std::string line =
      expectOneFailureLine(tlsEndpoint(*broker), *broker, "host-name mismatch");
  EXPECT_THAT(line, HasSubstr("does not name 127.0.0.1"));
}

TEST_F(MqttTlsTest, AMissingClientCertificateIsNamed) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server(), /*require_certificate=*/true);
  expectOneFailureLine(tlsEndpoint(*broker), *broker, "client certificate");
}

TEST_F(MqttTlsTest, AClientCertificateTheBrokerDoesNotTrustIsNamed) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server(), /*require_certificate=*/true);
  config::DataflowEndpoint& endpoint = tlsEndpoint(*broker);
  x509Secret("client", pki_.clientFromOtherCa());
  useX509(endpoint, "client");
  expectOneFailureLine(endpoint, *broker, "client certificate");
  expectNotLogged(dataflow::testing::readWholeFile(pki_.clientFromOtherCa().key));
}

TEST_F(MqttTlsTest, MutualTlsWithAnX509CertificateSecret) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server(), /*require_certificate=*/true);
  config::DataflowEndpoint& endpoint = tlsEndpoint(*broker);
  x509Secret("client", pki_.client());
  useX509(endpoint, "client");
  expectMessagesFlow(endpoint, *broker);
  expectNotLogged(dataflow::testing::readWholeFile(pki_.client().key));
}

// The broker trusts only the root CA, so the client certificate (signed by the intermediate)
// verifies only if the intermediate is sent along: first without it (refused), then with the
// secret's client_intermediate_certs.pem (accepted). The chain goes to OpenSSL in memory: no file.
TEST_F(MqttTlsTest, IntermediateCertificatesFromTheSecretAreSentInTheChain) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server(), /*require_certificate=*/true);
  config::DataflowEndpoint& without = tlsEndpoint(*broker);
  x509Secret("leaf-only", pki_.clientFromIntermediate());
  useX509(without, "leaf-only");
  expectOneFailureLine(without, *broker, "client certificate");

  TempDir tmp("chain-tmp");
  ::setenv("TMPDIR", tmp.path().c_str(), 1);
  config::DataflowEndpoint& with = addEndpoint("broker", without.spec.mqtt->host, 1, 100);
  enableTls(with, "ca");
  x509Secret("chain", pki_.clientFromIntermediate(), pki_.intermediateCertificate());
  useX509(with, "chain");
  {
    RecordingHandler handler;
    std::unique_ptr<Source> source = sourceFor(with, randomName("src-"), {topic_});
    ASSERT_NE(source, nullptr);
    startAndWait(*source, handler);
    size_t private_files = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(tmp.path())) {
      if (!entry.is_regular_file()) continue;
      ++private_files;
      EXPECT_EQ(entry.status().permissions() & std::filesystem::perms::all,
                std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    }
    EXPECT_EQ(private_files, 0u);  // the chain is loaded into OpenSSL, no file is written
    source->close();
  }
  ::unsetenv("TMPDIR");
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));
  expectNotLogged(dataflow::testing::readWholeFile(pki_.clientFromIntermediate().key));
}

// The test broker set-up checked by an independent client: mosquitto_pub with the same files is
// accepted with the client certificate and refused without it.
TEST_F(MqttTlsTest, TheTlsBrokerSetUpAgreesWithMosquittoPub) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server(), /*require_certificate=*/true);
  TempDir dir("mosquitto-pub");
  auto publish = [&](bool with_certificate) {
    std::vector<std::string> argv{"mosquitto_pub",
                                  "-V",
                                  "5",
                                  "-h",
                                  "127.0.0.1",
                                  "-p",
                                  std::to_string(broker->tlsPort()),
                                  "--cafile",
                                  pki_.caCertificate(),
                                  "-t",
                                  topic_,
                                  "-m",
                                  "x",
                                  "-q",
                                  "1"};
    if (with_certificate) {
      argv.insert(argv.end(), {"--cert", pki_.client().certificate, "--key", pki_.client().key});
    }
    ChildProcess process(argv, dir.file("pub.log"));
    return process.wait(kWait);
  };
  EXPECT_EQ(publish(true), 0);
  EXPECT_NE(publish(false), 0);
}

}  // namespace
}  // namespace dataflow::mqtt::testing
