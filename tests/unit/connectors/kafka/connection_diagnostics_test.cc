// classifyConnectionFailure and ConnectionDiagnostics on the exact texts librdkafka 2.0.2 (with
// OpenSSL 3.0) reports, captured from kcat and the engine against the TLS/SASL front
// (tests/support/kafka_security_front.py); the integration tests check the same against the
// live handshake.
#include "connectors/kafka/connection_diagnostics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <openssl/x509_vfy.h>

#include <string>
#include <vector>

namespace dataflow::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kVerifyFailed =
    "ssl://127.0.0.1:44933/bootstrap: SSL handshake failed: error:0A000086:SSL "
    "routines::certificate verify failed: broker certificate could not be verified, verify that "
    "ssl.ca.location is correctly configured or root CA certificates are installed (install "
    "ca-certificates package) (after 27ms in state SSL_HANDSHAKE)";
constexpr const char* kCertificateRequired =
    "ssl://127.0.0.1:41339/bootstrap: Receive failed: error:0A00045C:SSL routines::tlsv13 alert "
    "certificate required: SSL alert number 116 (after 3ms in state APIVERSION_QUERY)";
constexpr const char* kUnknownCa =
    "ssl://127.0.0.1:43941/bootstrap: Receive failed: error:0A000418:SSL routines::tlsv1 alert "
    "unknown ca: SSL alert number 48 (after 0ms in state APIVERSION_QUERY)";
constexpr const char* kSaslRefused =
    "sasl_ssl://127.0.0.1:36915/bootstrap: SASL authentication error: Authentication failed "
    "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256 (after "
    "75ms in state AUTH_REQ)";

ConnectionFailure classify(int error, const char* reason, int x509_error = 0,
                           const char* mechanism = "") {
  std::optional<ConnectionFailure> failure =
      classifyConnectionFailure(error, reason, x509_error, mechanism);
  EXPECT_TRUE(failure.has_value()) << reason;
  return failure.value_or(ConnectionFailure{});
}

TEST(ConnectionFailure, ServerCertificateCasesComeFromTheRecordedX509Error) {
  ConnectionFailure expired =
      classify(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed, X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(expired.kind, ConnectionFailureKind::ServerCertificateExpired);
  EXPECT_EQ(expired.broker, "127.0.0.1:44933");
  EXPECT_EQ(expired.text, "TLS: the server's certificate has expired");

  ConnectionFailure host =
      classify(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed, X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(host.kind, ConnectionFailureKind::ServerHostNameMismatch);
  EXPECT_THAT(host.text, HasSubstr("host name mismatch"));
  EXPECT_THAT(host.text, HasSubstr("does not name 127.0.0.1"));

  for (int untrusted :
       {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
        X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN}) {
    ConnectionFailure other_ca = classify(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed, untrusted);
    EXPECT_EQ(other_ca.kind, ConnectionFailureKind::ServerCertificateUntrusted);
    EXPECT_THAT(other_ca.text, HasSubstr("not signed by a trusted CA"));
  }
  // No verification callback result (it always runs with TLS, but the text alone must still
  // say what failed).
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed).kind,
            ConnectionFailureKind::ServerCertificateRefused);
}

TEST(ConnectionFailure, TlsAlertsRefusingTheClientCertificate) {
  ConnectionFailure none = classify(RD_KAFKA_RESP_ERR__TRANSPORT, kCertificateRequired);
  EXPECT_EQ(none.kind, ConnectionFailureKind::ClientCertificateRefused);
  EXPECT_EQ(none.text,
            "TLS: the server refused this client's certificate (tlsv13 alert certificate "
            "required)");
  ConnectionFailure other_ca = classify(RD_KAFKA_RESP_ERR__TRANSPORT, kUnknownCa);
  EXPECT_EQ(other_ca.kind, ConnectionFailureKind::ClientCertificateRefused);
  EXPECT_THAT(other_ca.text, HasSubstr("tlsv1 alert unknown ca"));
}

TEST(ConnectionFailure, SaslRefusalNamesTheMechanismAndTheServersWords) {
  ConnectionFailure refused =
      classify(RD_KAFKA_RESP_ERR__AUTHENTICATION, kSaslRefused, 0, "SCRAM-SHA-256");
  EXPECT_EQ(refused.kind, ConnectionFailureKind::SaslLoginRefused);
  EXPECT_EQ(refused.text,
            "SASL SCRAM-SHA-256 login refused (the server said: Authentication failed during "
            "authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256)");
}

TEST(ConnectionFailure, MechanismTheServerDoesNotOffer) {
  ConnectionFailure refused = classify(
      RD_KAFKA_RESP_ERR__AUTHENTICATION,
      "sasl_plaintext://127.0.0.1:39695/bootstrap: SASL SCRAM-SHA-256 mechanism handshake failed: "
      "Broker: Unsupported SASL mechanism: broker's supported mechanisms: PLAIN (after 0ms in "
      "state AUTH_HANDSHAKE)",
      0, "SCRAM-SHA-256");
  EXPECT_EQ(refused.kind, ConnectionFailureKind::SaslMechanismRefused);
  EXPECT_EQ(refused.text, "SASL SCRAM-SHA-256 is not offered by the server (it offers: PLAIN)");
}

TEST(ConnectionFailure, TlsToAPlaintextListener) {
  ConnectionFailure plaintext =
      classify(RD_KAFKA_RESP_ERR__SSL,
               "ssl://127.0.0.1:39695/bootstrap: SSL handshake failed: error:0A000126:SSL "
               "routines::unexpected eof while reading (after 5ms in state SSL_HANDSHAKE)");
  EXPECT_EQ(plaintext.kind, ConnectionFailureKind::NotTls);
  EXPECT_THAT(plaintext.text, HasSubstr("plaintext listener"));
}

TEST(ConnectionFailure, OtherFailuresAreNotClassified) {
  EXPECT_FALSE(classifyConnectionFailure(
      RD_KAFKA_RESP_ERR__TRANSPORT,
      "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms "
      "in state CONNECT)",
      0, ""));
  // A certificate error recorded for an earlier handshake does not make a later refused TCP
  // connection a certificate problem.
  EXPECT_FALSE(classifyConnectionFailure(
      RD_KAFKA_RESP_ERR__TRANSPORT,
      "ssl://127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused",
      X509_V_ERR_CERT_HAS_EXPIRED, ""));
  EXPECT_FALSE(classifyConnectionFailure(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
                                         "1/1 brokers are down", 0, ""));
}

TEST(ConnectionDiagnostics, OneLinePerKindNamingEndpointAndBrokerWithoutTheSecret) {
  SystemClock clock;
  std::vector<std::string> lines;
  const ClientConfig config = {{"bootstrap.servers", "127.0.0.1:36915"},
                               {"sasl.mechanisms", "SCRAM-SHA-256"},
                               {"sasl.username", "bob"},
                               {"sasl.password", "hunter2-secret"}};
  ConnectionDiagnostics diagnostics("eventhub", config, clock,
                                    [&](std::string_view line) { lines.emplace_back(line); });
  // A server that echoes the password must not make the line carry it.
  const std::string echoed =
      "sasl_ssl://127.0.0.1:36915/bootstrap: SASL authentication error: wrong password "
      "hunter2-secret (after 75ms in state AUTH_REQ)";
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(diagnostics.report(RD_KAFKA_RESP_ERR__AUTHENTICATION, echoed));
  }
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("Kafka endpoint \"eventhub\" broker 127.0.0.1:36915: SASL "
                                  "SCRAM-SHA-256 login refused"));
  EXPECT_THAT(lines[0], HasSubstr("retrying with backoff"));
  EXPECT_THAT(lines[0], Not(HasSubstr("hunter2-secret")));
  EXPECT_EQ(diagnostics.scrub("a hunter2-secret b"), "a [redacted] b");
}

TEST(ConnectionDiagnostics, HealthSaysAuthenticationFailedUntilABrokerIsReached) {
  SystemClock clock;
  const ClientConfig config = {{"bootstrap.servers", "127.0.0.1:36915"},
                               {"sasl.mechanisms", "SCRAM-SHA-256"},
                               {"sasl.username", "bob"},
                               {"sasl.password", "hunter2-secret"}};
  ConnectionDiagnostics diagnostics("eventhub", config, clock, [](std::string_view) {});
  EXPECT_EQ(diagnostics.health(false).state, ConnectionState::Connecting);
  EXPECT_EQ(diagnostics.health(false).problem, "");
  // An unclassified error is the latest problem until a TLS or SASL failure comes.
  EXPECT_FALSE(diagnostics.report(
      RD_KAFKA_RESP_ERR__TRANSPORT,
      "127.0.0.1:36915/bootstrap: Connect to ipv4#127.0.0.1:36915 failed: Connection refused"));
  EXPECT_THAT(diagnostics.health(false).problem, HasSubstr("Connection refused"));
  EXPECT_TRUE(diagnostics.report(
      RD_KAFKA_RESP_ERR__AUTHENTICATION,
      "sasl_ssl://127.0.0.1:36915/bootstrap: SASL authentication error: wrong password "
      "hunter2-secret (after 75ms in state AUTH_REQ)"));
  // librdkafka's "all brokers down" that follows does not hide why.
  EXPECT_FALSE(diagnostics.report(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down"));
  ConnectionHealth refused = diagnostics.health(false);
  EXPECT_EQ(refused.state, ConnectionState::AuthenticationFailed);
  EXPECT_THAT(refused.problem, HasSubstr("SASL SCRAM-SHA-256 login refused"));
  EXPECT_THAT(refused.problem, Not(HasSubstr("hunter2-secret")));
  EXPECT_EQ(diagnostics.health(true).state, ConnectionState::Connected);
  diagnostics.clearProblem();
  EXPECT_EQ(diagnostics.health(false).state, ConnectionState::Connecting);
  EXPECT_EQ(diagnostics.health(false).problem, "");
}

TEST(ConnectionDiagnostics, VerificationCallbackKeepsOpenSslsVerdictAndFeedsTheReport) {
  SystemClock clock;
  std::vector<std::string> lines;
  ConnectionDiagnostics diagnostics("", {{"bootstrap.servers", "127.0.0.1:44933"}}, clock,
                                    [&](std::string_view line) { lines.emplace_back(line); });
  char errstr[128] = "";
  EXPECT_TRUE(diagnostics.verifyCertificate("127.0.0.1:44933", 0, errstr, sizeof errstr));
  EXPECT_FALSE(diagnostics.verifyCertificate("127.0.0.1:44933", X509_V_ERR_CERT_HAS_EXPIRED, errstr,
                                             sizeof errstr));
  EXPECT_STREQ(errstr, "certificate has expired");
  // Reports are served after later handshakes may have happened: each still finds the reason.
  EXPECT_TRUE(diagnostics.report(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed));
  EXPECT_TRUE(diagnostics.report(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "Kafka at 127.0.0.1:44933 broker 127.0.0.1:44933: TLS: the server's certificate has "
            "expired; retrying with backoff");
  EXPECT_TRUE(diagnostics.repeatsReport("FAIL", kVerifyFailed));
  EXPECT_TRUE(diagnostics.repeatsReport("SSLCERTVRFY", "Certificate ... verification failed"));
  EXPECT_FALSE(diagnostics.repeatsReport("FAIL", "Connect to ipv4#127.0.0.1:1 failed"));
}

}  // namespace
}  // namespace dataflow::kafka
