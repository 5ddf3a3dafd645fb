// Kafka TLS, mutual TLS and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) through the engine's own
// mapping and the real destination and source, against the TLS/SASL front before the mock
// cluster: what works is delivered and consumed; what is wrong (CA, expiry, host name, client
// certificate, password) gives one clear rate-limited line naming the endpoint and the failure,
// retries with backoff, never fails the client for good, and never logs a secret (TearDown).
#include "tests/integration/kafka/kafka_security_fixture.h"

namespace dataflow::testing {
namespace {

using config::AuthMethod;
using config::SaslType;

constexpr const char* kBroker = "Kafka endpoint \"secure-kafka\" broker 127.0.0.1:";

TEST_F(KafkaSecurityTest, TlsWithTheCaFromAConfigMap) {
  startFront(tlsFront(frontTls(pki_->server())));
  expectRoundTrip(settings(true, AuthMethod::Anonymous));
}

TEST_F(KafkaSecurityTest, TlsServerChainThroughAnIntermediateCa) {
  startFront(tlsFront(frontTls(pki_->serverViaIntermediate())));
  expectRoundTrip(settings(true, AuthMethod::Anonymous));
}

TEST_F(KafkaSecurityTest, MutualTlsWithAClientCertificateTheServerRequires) {
  KafkaFrontOptions::Tls tls = frontTls(pki_->server());
  tls.client_ca = pki_->caCert();
  startFront(tlsFront(tls));
  writeClientCertSecret(pki_->client());
  expectRoundTrip(settings(true, AuthMethod::X509Certificate));
}

// The secret keeps the intermediate CA under client_intermediate_certs.pem, apart from the leaf;
// the front trusts only the root, so the handshake succeeds only if the chain is sent.
TEST_F(KafkaSecurityTest, MutualTlsSendsTheIntermediatesOfTheirOwnSecretKey) {
  KafkaFrontOptions::Tls tls = frontTls(pki_->server());
  tls.client_ca = pki_->caCert();
  startFront(tlsFront(tls));
  const TestCertificate client =
      pki_->issue("client-via-intermediate",
                  TestPki::Leaf{"test-client", {}, {}, TestPki::Usage::Client, false, true});
  writeSecret(kClientCertSecret, "client_cert.pem", readWholeFile(client.cert));
  writeSecret(kClientCertSecret, "client_intermediate_certs.pem",
              readWholeFile(pki_->intermediateCert()));
  writeSecret(kClientCertSecret, "client_key.pem", readWholeFile(client.key));
  expectRoundTrip(settings(true, AuthMethod::X509Certificate));
}

struct SaslCase {
  const char* name;
  SaslType type;
  const char* mechanism;
  bool tls;
};

// Names the case in ctest's test names instead of its bytes.
void PrintTo(const SaslCase& c, std::ostream* out) { *out << c.name; }

class KafkaSaslTest : public KafkaSecurityTest, public ::testing::WithParamInterface<SaslCase> {};

TEST_P(KafkaSaslTest, UsernameAndPasswordLogIn) {
  const SaslCase& c = GetParam();
  KafkaFrontOptions options;
  if (c.tls) options.tls = frontTls(pki_->server());
  options.sasl_mechanisms = {c.mechanism};
  options.plain_users = {{"alice", "alice-password-1"}};
  options.scram_users = {{"alice", "alice-password-1"}};
  startFront(options);
  writeSaslSecret("alice", "alice-password-1");
  expectRoundTrip(settings(c.tls, AuthMethod::Sasl, c.type));
  const std::vector<nlohmann::json> logins = front_->events("authenticated");
  ASSERT_FALSE(logins.empty());
  for (const nlohmann::json& login : logins) {
    EXPECT_EQ(login.at("mechanism"), c.mechanism);
    EXPECT_EQ(login.at("user"), "alice");
  }
  // The effective configuration (read back from librdkafka, logged at debug) names the password
  // property, redacted; TearDown checks that the value itself is in no line.
  size_t effective = 0;
  for (const std::string& line : sink_->lines()) {
    if (line.find("effective configuration") == std::string::npos) continue;
    ++effective;
    EXPECT_THAT(line, ::testing::HasSubstr("sasl.password=[redacted]"));
  }
  EXPECT_EQ(effective, 2u);  // the producer's and the consumer's
}

INSTANTIATE_TEST_SUITE_P(
    Mechanisms, KafkaSaslTest,
    ::testing::Values(SaslCase{"PlainOverTls", SaslType::Plain, "PLAIN", true},
                      SaslCase{"Plain", SaslType::Plain, "PLAIN", false},
                      SaslCase{"ScramSha256OverTls", SaslType::ScramSha256, "SCRAM-SHA-256", true},
                      SaslCase{"ScramSha256", SaslType::ScramSha256, "SCRAM-SHA-256", false},
                      SaslCase{"ScramSha512OverTls", SaslType::ScramSha512, "SCRAM-SHA-512", true},
                      SaslCase{"ScramSha512", SaslType::ScramSha512, "SCRAM-SHA-512", false}),
    [](const ::testing::TestParamInfo<SaslCase>& info) { return std::string(info.param.name); });

// AIO's generic SASL secret layout: one key `token` holding an Event Hubs connection string,
// sent as PLAIN with username $ConnectionString.
TEST_F(KafkaSecurityTest, SaslPlainWithAnEventHubsConnectionStringToken) {
  const std::string connection_string =
      "Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=send;"
      "SharedAccessKey=c2VjcmV0LWtleS1ub3QtcmVhbA==";
  KafkaFrontOptions options = tlsFront(frontTls(pki_->server()));
  options.sasl_mechanisms = {"PLAIN"};
  options.plain_users = {{"$ConnectionString", connection_string}};
  startFront(options);
  writeSecret(kSaslSecret, "token", connection_string);
  rememberSecret(connection_string);
  rememberSecret("c2VjcmV0LWtleS1ub3QtcmVhbA==");
  expectRoundTrip(settings(true, AuthMethod::Sasl, SaslType::Plain));
  ASSERT_FALSE(front_->events("authenticated").empty());
  EXPECT_EQ(front_->events("authenticated").front().at("user"), "$ConnectionString");
}

TEST_F(KafkaSecurityTest, ServerCertificateFromAnotherCa) {
  startFront(tlsFront(frontTls(other_pki_->server())));
  auto destination = startDestination(settings(true, AuthMethod::Anonymous));
  expectOneClearLine(std::string(kBroker), "tls_failed");
  EXPECT_TRUE(sink_->contains("TLS: the server's certificate is not signed by a trusted CA"));
}

TEST_F(KafkaSecurityTest, ExpiredServerCertificate) {
  startFront(tlsFront(frontTls(pki_->expiredServer())));
  auto destination = startDestination(settings(true, AuthMethod::Anonymous));
  expectOneClearLine("TLS: the server's certificate has expired", "tls_failed");
  EXPECT_TRUE(sink_->contains(kBroker));
}

TEST_F(KafkaSecurityTest, ServerCertificateForAnotherHost) {
  startFront(tlsFront(frontTls(pki_->wrongHostServer())));
  auto destination = startDestination(settings(true, AuthMethod::Anonymous));
  expectOneClearLine("TLS: host name mismatch: the server's certificate does not name 127.0.0.1",
                     "tls_failed");
}

TEST_F(KafkaSecurityTest, ClientCertificateFromAnotherCaIsRefused) {
  KafkaFrontOptions::Tls tls = frontTls(pki_->server());
  tls.client_ca = pki_->caCert();
  startFront(tlsFront(tls));
  writeClientCertSecret(other_pki_->client());
  auto destination = startDestination(settings(true, AuthMethod::X509Certificate));
  expectOneClearLine("TLS: the server refused this client's certificate (tlsv1 alert unknown ca)",
                     "tls_failed");
}

TEST_F(KafkaSecurityTest, MissingClientCertificateIsRefused) {
  KafkaFrontOptions::Tls tls = frontTls(pki_->server());
  tls.client_ca = pki_->caCert();
  startFront(tlsFront(tls));
  auto destination = startDestination(settings(true, AuthMethod::Anonymous));
  expectOneClearLine(
      "TLS: the server refused this client's certificate (tlsv13 alert certificate "
      "required)",
      "tls_failed");
}

TEST_F(KafkaSecurityTest, WrongPasswordIsOneLineNamingTheMechanismNeverThePassword) {
  KafkaFrontOptions options = tlsFront(frontTls(pki_->server()));
  options.sasl_mechanisms = {"SCRAM-SHA-512"};
  options.scram_users = {{"alice", "the-right-password"}};
  startFront(options);
  writeSaslSecret("alice", "a-wrong-password");
  rememberSecret("the-right-password");
  auto destination = startDestination(settings(true, AuthMethod::Sasl, SaslType::ScramSha512));
  expectOneClearLine("SASL SCRAM-SHA-512 login refused", "auth_failed");
  EXPECT_TRUE(sink_->contains(std::string(kBroker)));
}

TEST_F(KafkaSecurityTest, MechanismTheServerDoesNotOffer) {
  KafkaFrontOptions options;
  options.sasl_mechanisms = {"PLAIN"};
  options.plain_users = {{"alice", "alice-password-1"}};
  startFront(options);
  writeSaslSecret("alice", "alice-password-1");
  auto destination = startDestination(settings(false, AuthMethod::Sasl, SaslType::ScramSha256));
  expectOneClearLine("SASL SCRAM-SHA-256 is not offered by the server (it offers: PLAIN)",
                     "auth_failed");
}

TEST_F(KafkaSecurityTest, TlsToAPlaintextListener) {
  startFront(KafkaFrontOptions{});
  auto destination = startDestination(settings(true, AuthMethod::Anonymous));
  expectOneClearLine("TLS: the server closed the connection during the TLS handshake",
                     "protocol_error");
}

TEST_F(KafkaSecurityTest, WrongPasswordOfASourceIsOneClearLineToo) {
  KafkaFrontOptions options;
  options.sasl_mechanisms = {"PLAIN"};
  options.plain_users = {{"alice", "the-right-password"}};
  startFront(options);
  writeSaslSecret("alice", "a-wrong-password");
  AckingHandler handler;
  auto source = startSource(settings(false, AuthMethod::Sasl, SaslType::Plain), handler);
  expectOneClearLine("SASL PLAIN login refused", "auth_failed");
  handler.stopAcking();
  source->close();
}

}  // namespace
}  // namespace dataflow::testing
