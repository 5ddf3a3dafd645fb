// kafkaSettings -> librdkafka consumer properties: the connection part shared with the producer
// (TLS, CA, SASL, X.509, refusals), the group and offset policy, and no producer-only setting.
#include "connectors/kafka/rdkafka_handles.h"
#include "tests/unit/connectors/kafka/kafka_settings_fixture.h"

namespace dataflow::kafka::settings_test {
namespace {

constexpr const char* kGroup = "    consumerGroupId: group-a\n";

class KafkaConsumerSettingsTest : public KafkaSettingsTest {
 protected:
  Result<ConsumerConfig> mapConsumer(const config::KafkaSettings& settings) const {
    return consumerConfig(settings, files(), "dataflow-flow-0");
  }
  ConsumerConfig mapConsumerOk(const config::KafkaSettings& settings) const {
    Result<ConsumerConfig> config = mapConsumer(settings);
    EXPECT_TRUE(config.isOk()) << config.status().message();
    return config.isOk() ? config.value() : ConsumerConfig{};
  }
  std::string consumerFatal(const config::KafkaSettings& settings) const {
    Result<ConsumerConfig> config = mapConsumer(settings);
    EXPECT_FALSE(config.isOk());
    EXPECT_TRUE(config.status().isFatal());
    return config.status().message();
  }
};

// The producer's list up to its first producer-only property: the shared connection part.
ClientConfig connectionPart(const ProducerConfig& producer) {
  ClientConfig out;
  for (const ConfigProperty& property : producer) {
    if (property.name == "acks") break;
    out.push_back(property);
  }
  return out;
}

TEST_F(KafkaConsumerSettingsTest, SchemaDefaultsGiveTheWholeListInOrder) {
  const ConsumerConfig expected = {
      {"client.id", "dataflow-flow-0"},
      {"bootstrap.servers", "broker-1:9093,broker-2:9093"},
      {"security.protocol", "SSL"},
      {"ssl.ca.location", "probe"},
      {"group.id", "group-a"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"statistics.interval.ms", "5000"},
      {"partition.assignment.strategy", "roundrobin"},
      {"session.timeout.ms", "10000"},
      {"queued.max.messages.kbytes", "16384"},
      {"queued.min.messages", "25000"},
      {"fetch.wait.max.ms", "100"},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "10000"},
  };
  EXPECT_EQ(mapConsumerOk(load(kAnonymous, kGroup)), expected);
}

TEST_F(KafkaConsumerSettingsTest, MissingConsumerGroupIdIsFatalAndNamed) {
  EXPECT_THAT(consumerFatal(load()), HasSubstr("kafkaSettings.consumerGroupId"));
  config::KafkaSettings settings = load(kAnonymous, kGroup);
  settings.consumer_group_id = "";
  EXPECT_THAT(consumerFatal(settings), HasSubstr("consumerGroupId"));
}

TEST_F(KafkaConsumerSettingsTest, ProducerOnlySettingsAreNotApplied) {
  const ConsumerConfig config = mapConsumerOk(load(
      kAnonymous, std::string(kGroup) +
                      "    kafkaAcks: One\n    compression: Gzip\n    partitionStrategy: Topic\n"
                      "    batching:\n      latencyMs: 1000\n      maxMessages: 100\n"));
  for (const char* name :
       {"acks", "enable.idempotence", "compression.codec", "linger.ms", "batch.num.messages",
        "batch.size", "partitioner", "message.max.bytes", "queue.buffering.max.messages",
        "queue.buffering.max.kbytes", "message.timeout.ms", "message.send.max.retries"}) {
    EXPECT_EQ(get(config, name), "<unset>") << name;
  }
}

TEST_F(KafkaConsumerSettingsTest, ConnectionPartIsTheProducersForEveryAuthentication) {
  write("secrets/sasl/username", "alice");
  write("secrets/sasl/password", "pw");
  write("secrets/eh/token", kEventHubsConnectionString);
  write("secrets/client/client_cert.pem", "CERT");
  write("secrets/client/client_key.pem", "KEY");
  write("configmaps/ca/ca.crt", "A");
  const std::string group = kGroup;
  const std::vector<config::KafkaSettings> variants = {
      load(kAnonymous, group),
      load(kAnonymous, group + "    tls:\n      mode: Disabled\n"),
      load(sasl("Plain"), group),
      load(sasl("ScramSha256"), group + "    tls:\n      mode: Disabled\n"),
      load(sasl("ScramSha512", "eh"), group),
      load(x509(), group + "    tls:\n      trustedCaCertificateConfigMapRef: ca\n"),
  };
  for (const config::KafkaSettings& settings : variants) {
    const ClientConfig shared = connectionPart(mapOk(settings));
    const ConsumerConfig consumer = mapConsumerOk(settings);
    ASSERT_GE(consumer.size(), shared.size());
    EXPECT_EQ(ClientConfig(consumer.begin(), consumer.begin() + shared.size()), shared)
        << describe(consumer);
    EXPECT_EQ(consumer[shared.size()].name, "group.id");
  }
}

TEST_F(KafkaConsumerSettingsTest, SaslCredentialsAndMechanism) {
  write("secrets/sasl/username", "alice");
  write("secrets/sasl/password", "pw");
  const ConsumerConfig config = mapConsumerOk(load(sasl("ScramSha512"), kGroup));
  EXPECT_EQ(get(config, "security.protocol"), "SASL_SSL");
  EXPECT_EQ(get(config, "sasl.mechanisms"), "SCRAM-SHA-512");
  EXPECT_EQ(get(config, "sasl.username"), "alice");
  EXPECT_EQ(get(config, "sasl.password"), "pw");
  EXPECT_THAT(describe(config), HasSubstr("sasl.password=[redacted]"));
  EXPECT_THAT(describe(config), Not(HasSubstr("=pw")));
}

TEST_F(KafkaConsumerSettingsTest, X509IsMutualTlsFromTheSecretFiles) {
  write("secrets/client/client_cert.pem", "CERT");
  write("secrets/client/client_key.pem", "KEY");
  const ConsumerConfig config = mapConsumerOk(load(x509(), kGroup));
  EXPECT_EQ(get(config, "ssl.certificate.location"), path("secrets/client/client_cert.pem"));
  EXPECT_EQ(get(config, "ssl.key.location"), path("secrets/client/client_key.pem"));
}

TEST_F(KafkaConsumerSettingsTest, RefusalsAreTheProducers) {
  EXPECT_THAT(consumerFatal(load(x509(), std::string(kGroup) + "    tls:\n      mode: Disabled\n")),
              HasSubstr("needs tls.mode Enabled"));
  EXPECT_THAT(consumerFatal(load(sasl("Plain", "absent"), kGroup)), HasSubstr("absent"));
  config::KafkaSettings token = load(kAnonymous, kGroup);
  token.authentication.method = config::AuthMethod::ServiceAccountToken;
  EXPECT_EQ(
      consumerFatal(token),
      "authentication method ServiceAccountToken is for MQTT endpoints (the AIO broker's K8S-SAT); "
      "a Kafka endpoint does not accept it");
  EXPECT_THAT(consumerFatal(load(kAnonymous, std::string(kGroup) +
                                                 "    tls:\n      trustedCaCertificateConfigMapRef:"
                                                 " nowhere\n")),
              HasSubstr("nowhere"));
}

TEST_F(KafkaConsumerSettingsTest, LibrdkafkaAcceptsEveryGeneratedConsumerConfiguration) {
  write("secrets/sasl/username", "alice");
  write("secrets/sasl/password", "pw");
  write("secrets/client/client_cert.pem", "CERT");
  write("secrets/client/client_key.pem", "KEY");
  const std::string group = kGroup;
  for (const config::KafkaSettings& settings :
       {load(kAnonymous, group), load(sasl("Plain"), group + "    tls:\n      mode: Disabled\n"),
        load(x509(), group)}) {
    const ConsumerConfig config = mapConsumerOk(settings);
    Result<ConfHandle> conf = makeConf(config);
    EXPECT_TRUE(conf.isOk()) << conf.status().message() << "\n" << describe(config);
  }
}

}  // namespace
}  // namespace dataflow::kafka::settings_test
