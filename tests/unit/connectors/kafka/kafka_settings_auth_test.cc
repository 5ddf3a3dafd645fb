// kafkaSettings -> librdkafka: bootstrap servers, TLS and the CA, and every authentication method,
// with secrets read from a temporary mounted-secrets folder.
#include <fstream>
#include <sstream>

#include "tests/unit/connectors/kafka/kafka_settings_fixture.h"

namespace dataflow::kafka::settings_test {
namespace {

TEST_F(KafkaSettingsTest, SchemaDefaultsGiveTheWholeListInOrder) {
  const ProducerConfig expected = {
      {"client.id", "dataflow-flow-0"},
      {"bootstrap.servers", "broker-1:9093,broker-2:9093"},
      {"security.protocol", "SSL"},
      {"ssl.ca.location", "probe"},
      {"acks", "all"},
      {"enable.idempotence", "true"},
      {"compression.codec", "none"},
      {"linger.ms", "5"},
      {"batch.num.messages", "100000"},
      {"batch.size", "1000000"},
      {"partitioner", "murmur2_random"},
      {"message.max.bytes", "1000000"},
      {"queue.buffering.max.messages", "10000"},
      {"queue.buffering.max.kbytes", "16384"},
      {"message.timeout.ms", "0"},
      {"message.send.max.retries", "2147483647"},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "10000"},
      {"statistics.interval.ms", "5000"},
  };
  EXPECT_EQ(mapOk(load()), expected);
}

TEST_F(KafkaSettingsTest, HostBecomesBootstrapServersAndClientIdIsGiven) {
  Result<ProducerConfig> config = producerConfig(load(), files(), {}, "my-client");
  ASSERT_TRUE(config.isOk());
  EXPECT_EQ(get(config.value(), "bootstrap.servers"), "broker-1:9093,broker-2:9093");
  EXPECT_EQ(get(config.value(), "client.id"), "my-client");
}

TEST_F(KafkaSettingsTest, TlsDisabledIsPlaintextWithoutAnySslProperty) {
  const ProducerConfig config = mapOk(load(kAnonymous, "    tls:\n      mode: Disabled\n"));
  EXPECT_EQ(get(config, "security.protocol"), "PLAINTEXT");
  for (const ConfigProperty& p : config) EXPECT_THAT(p.name, Not(HasSubstr("ssl")));
}

TEST_F(KafkaSettingsTest, TlsDisabledIgnoresTheCaReference) {
  const ProducerConfig config = mapOk(load(
      kAnonymous, "    tls:\n      mode: Disabled\n      trustedCaCertificateConfigMapRef: ca\n"));
  EXPECT_EQ(get(config, "ssl.ca.location"), "<unset>");
  EXPECT_EQ(get(config, "ssl.ca.pem"), "<unset>");
}

TEST_F(KafkaSettingsTest, TlsWithoutCaProbesTheSystemStore) {
  const ProducerConfig config = mapOk(load());
  EXPECT_EQ(get(config, "security.protocol"), "SSL");
  EXPECT_EQ(get(config, "ssl.ca.location"), "probe");
}

TEST_F(KafkaSettingsTest, CaConfigMapWithOneKeyIsPassedByPath) {
  write("configmaps/ca/root_ca.crt", "-----BEGIN CERTIFICATE-----\nA\n");
  const ProducerConfig config =
      mapOk(load(kAnonymous, "    tls:\n      trustedCaCertificateConfigMapRef: ca\n"));
  EXPECT_EQ(get(config, "ssl.ca.location"), path("configmaps/ca/root_ca.crt"));
  EXPECT_EQ(get(config, "ssl.ca.pem"), "<unset>");
}

TEST_F(KafkaSettingsTest, CaConfigMapWithSeveralKeysUsesCaCrtLikeMqtt) {
  write("configmaps/ca/b.crt", "B-PEM");
  write("configmaps/ca/ca.crt", "BUNDLE-PEM\n");
  write("configmaps/ca/..data/ignored", "X");
  const ProducerConfig config =
      mapOk(load(kAnonymous, "    tls:\n      trustedCaCertificateConfigMapRef: ca\n"));
  EXPECT_EQ(get(config, "ssl.ca.location"), path("configmaps/ca/ca.crt"));
  EXPECT_EQ(get(config, "ssl.ca.pem"), "<unset>");
}

TEST_F(KafkaSettingsTest, CaConfigMapWithSeveralKeysAndNoCaCrtIsFatal) {
  write("configmaps/ca/a.crt", "A");
  write("configmaps/ca/b.crt", "B");
  EXPECT_THAT(fatal(load(kAnonymous, "    tls:\n      trustedCaCertificateConfigMapRef: ca\n")),
              HasSubstr("has several keys (a.crt, b.crt) and none named ca.crt"));
}

TEST_F(KafkaSettingsTest, MissingCaConfigMapIsFatalAndNamed) {
  EXPECT_THAT(fatal(load(kAnonymous, "    tls:\n      trustedCaCertificateConfigMapRef: nope\n")),
              HasSubstr("configmap \"nope\""));
}

struct SaslCase {
  const char* type;
  const char* mechanism;
};

class SaslMechanism : public KafkaSettingsTest, public ::testing::WithParamInterface<SaslCase> {};

TEST_P(SaslMechanism, UsernameAndPasswordFromTheSecret) {
  write("secrets/sasl/username", "alice\n");
  write("secrets/sasl/password", "s3cret\n");
  const ProducerConfig config = mapOk(load(sasl(GetParam().type)));
  EXPECT_EQ(get(config, "security.protocol"), "SASL_SSL");
  EXPECT_EQ(get(config, "sasl.mechanisms"), GetParam().mechanism);
  EXPECT_EQ(get(config, "sasl.username"), "alice");
  EXPECT_EQ(get(config, "sasl.password"), "s3cret");
}

INSTANTIATE_TEST_SUITE_P(Types, SaslMechanism,
                         ::testing::Values(SaslCase{"Plain", "PLAIN"},
                                           SaslCase{"ScramSha256", "SCRAM-SHA-256"},
                                           SaslCase{"ScramSha512", "SCRAM-SHA-512"}),
                         [](const auto& info) { return std::string(info.param.type); });

TEST_F(KafkaSettingsTest, SaslWithTlsDisabledIsSaslPlaintext) {
  write("secrets/sasl/username", "alice");
  write("secrets/sasl/password", "pw");
  const ProducerConfig config = mapOk(load(sasl("Plain"), "    tls:\n      mode: Disabled\n"));
  EXPECT_EQ(get(config, "security.protocol"), "SASL_PLAINTEXT");
}

TEST_F(KafkaSettingsTest, EventHubsConnectionStringAsUsernameAndPassword) {
  write("secrets/eh/username", "$ConnectionString");
  write("secrets/eh/password", kEventHubsConnectionString);
  const ProducerConfig config = mapOk(load(sasl("Plain", "eh")));
  EXPECT_EQ(get(config, "sasl.username"), "$ConnectionString");
  EXPECT_EQ(get(config, "sasl.password"), kEventHubsConnectionString);
}

TEST_F(KafkaSettingsTest, TokenKeyHoldingAConnectionStringGetsTheEventHubsUsername) {
  write("secrets/eh/token", std::string(kEventHubsConnectionString) + "\n");
  const ProducerConfig config = mapOk(load(sasl("Plain", "eh")));
  EXPECT_EQ(get(config, "sasl.mechanisms"), "PLAIN");
  EXPECT_EQ(get(config, "sasl.username"), "$ConnectionString");
  EXPECT_EQ(get(config, "sasl.password"), kEventHubsConnectionString);
}

TEST_F(KafkaSettingsTest, TokenKeyThatIsNotAConnectionStringIsFatal) {
  write("secrets/tok/token", "opaque-token");
  const std::string message = fatal(load(sasl("ScramSha512", "tok")));
  EXPECT_THAT(message, HasSubstr("secret \"tok\": key token is not an Event Hubs connection"));
  EXPECT_THAT(message, Not(HasSubstr("opaque-token")));
}

TEST_F(KafkaSettingsTest, MissingPasswordKeyIsFatalAndNamesTheKey) {
  write("secrets/sasl/username", "alice");
  const std::string message = fatal(load(sasl("Plain")));
  EXPECT_THAT(message, HasSubstr("secret \"sasl\" has no key \"password\""));
}

TEST_F(KafkaSettingsTest, SecretWithoutUsableKeysIsFatal) {
  write("secrets/sasl/other", "x");
  EXPECT_THAT(fatal(load(sasl("Plain"))),
              HasSubstr("secret \"sasl\" needs keys username and password"));
}

TEST_F(KafkaSettingsTest, SaslWithoutASecretsFolderIsFatal) {
  Result<ProducerConfig> config =
      producerConfig(load(sasl("Plain")), config::MountedFiles(), {}, "id");
  ASSERT_FALSE(config.isOk());
  EXPECT_THAT(config.status().message(), HasSubstr("no --secrets-dir was given"));
}

TEST_F(KafkaSettingsTest, X509CertificateIsMutualTlsFromTheSecretFiles) {
  write("secrets/client/client_cert.pem", "CERT");
  write("secrets/client/client_key.pem", "KEY");
  const ProducerConfig config = mapOk(load(x509()));
  EXPECT_EQ(get(config, "security.protocol"), "SSL");
  EXPECT_EQ(get(config, "ssl.certificate.location"), path("secrets/client/client_cert.pem"));
  EXPECT_EQ(get(config, "ssl.key.location"), path("secrets/client/client_key.pem"));
  EXPECT_EQ(get(config, "sasl.mechanisms"), "<unset>");
}

TEST_F(KafkaSettingsTest, X509MissingKeyFileIsFatal) {
  write("secrets/client/client_cert.pem", "CERT");
  EXPECT_THAT(fatal(load(x509())), HasSubstr("has no key \"client_key.pem\""));
}

TEST_F(KafkaSettingsTest, X509WithTlsDisabledIsFatal) {
  write("secrets/client/client_cert.pem", "CERT");
  write("secrets/client/client_key.pem", "KEY");
  EXPECT_THAT(fatal(load(x509(), "    tls:\n      mode: Disabled\n")),
              HasSubstr("X509Certificate authentication needs tls.mode Enabled"));
}

TEST_F(KafkaSettingsTest, X509SeparateIntermediatesAreSentInAChainFileWithTheCertificate) {
  write("secrets/client/client_cert.pem", "CERT\n");
  write("secrets/client/client_key.pem", "KEY");
  write("secrets/client/client_intermediate_certs.pem", "INTERMEDIATE\n");
  auto chainOf = [](const ProducerConfig& config) {
    std::ifstream in(get(config, "ssl.certificate.location"));
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
  };
  const ProducerConfig config = mapOk(load(x509()));
  EXPECT_EQ(chainOf(config), "CERT\nINTERMEDIATE\n");
  EXPECT_NE(get(config, "ssl.certificate.location").find("dataflow-chain-"), std::string::npos);
  EXPECT_EQ(get(config, "ssl.key.location"), path("secrets/client/client_key.pem"));
  // A rotated secret is in the next client's chain.
  write("secrets/client/client_intermediate_certs.pem", "ROTATED\n");
  EXPECT_EQ(chainOf(mapOk(load(x509()))), "CERT\nROTATED\n");
}

TEST_F(KafkaSettingsTest, ServiceAccountTokenIsNotSupportedForKafka) {
  config::KafkaSettings settings = load();
  settings.authentication.method = config::AuthMethod::ServiceAccountToken;
  EXPECT_EQ(
      fatal(settings),
      "authentication method ServiceAccountToken is for MQTT endpoints (the AIO broker's K8S-SAT); "
      "a Kafka endpoint does not accept it");
}

// The token itself comes from the refresh callback (oauthbearer.h, kafka_oauthbearer_test).
TEST_F(KafkaSettingsTest, ManagedIdentitiesUseSaslOAuthBearer) {
  config::KafkaSettings settings = load();
  for (auto method : {config::AuthMethod::SystemAssignedManagedIdentity,
                      config::AuthMethod::UserAssignedManagedIdentity}) {
    settings.authentication.method = method;
    Result<ProducerConfig> config = producerConfig(settings, {}, {}, "client");
    ASSERT_TRUE(config.isOk()) << config.status().message();
    EXPECT_EQ(*findProperty(config.value(), "security.protocol"), "SASL_SSL");
    EXPECT_EQ(*findProperty(config.value(), "sasl.mechanisms"), "OAUTHBEARER");
    EXPECT_EQ(findProperty(config.value(), "sasl.username"), nullptr);
  }
}

}  // namespace
}  // namespace dataflow::kafka::settings_test
