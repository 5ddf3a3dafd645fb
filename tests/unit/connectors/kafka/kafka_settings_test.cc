// kafkaSettings -> librdkafka: acks, compression, batching, the flight limits, delivery
// retries, redaction, and librdkafka's acceptance of every generated list.
#include "connectors/kafka/rdkafka_handles.h"
#include "tests/unit/connectors/kafka/kafka_settings_fixture.h"

namespace dataflow::kafka::settings_test {
namespace {

TEST_F(KafkaSettingsTest, AcksAndIdempotence) {
  struct Case {
    const char* manifest;
    const char* acks;
    const char* idempotence;
  };
  for (const Case& c : {Case{"Zero", "0", "false"}, Case{"None", "0", "false"},
                        Case{"One", "1", "false"}, Case{"All", "all", "true"}}) {
    const ProducerConfig config =
        mapOk(load(kAnonymous, std::string("    kafkaAcks: ") + c.manifest + "\n"));
    EXPECT_EQ(get(config, "acks"), c.acks) << c.manifest;
    EXPECT_EQ(get(config, "enable.idempotence"), c.idempotence) << c.manifest;
  }
}

TEST_F(KafkaSettingsTest, CompressionCodecs) {
  for (auto [manifest, codec] :
       {std::pair{"None", "none"}, std::pair{"Gzip", "gzip"}, std::pair{"Snappy", "snappy"},
        std::pair{"Lz4", "lz4"}, std::pair{"Zstd", "zstd"}}) {
    const ProducerConfig config =
        mapOk(load(kAnonymous, std::string("    compression: ") + manifest + "\n"));
    EXPECT_EQ(get(config, "compression.codec"), codec) << manifest;
  }
}

TEST_F(KafkaSettingsTest, BatchingEnabledMapsEachLimit) {
  const ProducerConfig config = mapOk(
      load(kAnonymous,
           "    batching:\n      latencyMs: 1000\n      maxMessages: 100\n      maxBytes: 1024\n"));
  EXPECT_EQ(get(config, "linger.ms"), "1000");
  EXPECT_EQ(get(config, "batch.num.messages"), "100");
  EXPECT_EQ(get(config, "batch.size"), "1024");
}

TEST_F(KafkaSettingsTest, BatchingLimitsAreClampedToLibrdkafkaRanges) {
  ProducerConfig config = mapOk(load(
      kAnonymous, "    batching:\n      latencyMs: 0\n      maxMessages: 0\n      maxBytes: 0\n"));
  EXPECT_EQ(get(config, "linger.ms"), "0");
  EXPECT_EQ(get(config, "batch.num.messages"), "1");
  EXPECT_EQ(get(config, "batch.size"), "1");
  config = mapOk(load(kAnonymous,
                      "    batching:\n      latencyMs: 65535\n      maxMessages: 4294967295\n"
                      "      maxBytes: 4294967295\n"));
  EXPECT_EQ(get(config, "linger.ms"), "65535");
  EXPECT_EQ(get(config, "batch.num.messages"), "1000000");
  EXPECT_EQ(get(config, "batch.size"), "2147483647");
}

TEST_F(KafkaSettingsTest, BatchingDisabledSendsOneMessagePerBatch) {
  const ProducerConfig config =
      mapOk(load(kAnonymous, "    batching:\n      mode: Disabled\n      maxMessages: 500\n"));
  EXPECT_EQ(get(config, "linger.ms"), "0");
  EXPECT_EQ(get(config, "batch.num.messages"), "1");
  EXPECT_EQ(get(config, "batch.size"), "<unset>");
}

TEST_F(KafkaSettingsTest, PartitionerIsJavaCompatibleMurmur2) {
  EXPECT_EQ(get(mapOk(load()), "partitioner"), "murmur2_random");
}

TEST_F(KafkaSettingsTest, FlightLimitsBoundTheProducerQueue) {
  ProducerConfig config = mapOk(load(), {.max_messages = 500, .max_bytes = 4u << 20});
  EXPECT_EQ(get(config, "queue.buffering.max.messages"), "500");
  EXPECT_EQ(get(config, "queue.buffering.max.kbytes"), "4096");
  config = mapOk(load(), {.max_messages = 1, .max_bytes = (2u << 20) + 1});
  EXPECT_EQ(get(config, "queue.buffering.max.messages"), "1");
  EXPECT_EQ(get(config, "queue.buffering.max.kbytes"), "2049");  // rounded up
}

TEST_F(KafkaSettingsTest, FlightLimitsAreClampedSoTheQueueAlwaysWorks) {
  // 0 would mean "no limit" to librdkafka; a queue smaller than one message.max.bytes message
  // could never take such a message.
  const ProducerConfig config = mapOk(load(), {.max_messages = 0, .max_bytes = 10});
  EXPECT_EQ(get(config, "queue.buffering.max.messages"), "1");
  EXPECT_EQ(get(config, "queue.buffering.max.kbytes"), "977");
  EXPECT_EQ(get(config, "message.max.bytes"), "1000000");
}

TEST_F(KafkaSettingsTest, DeliveryRetriesUntilDeliveredWithJitteredReconnects) {
  const ProducerConfig config = mapOk(load());
  EXPECT_EQ(get(config, "message.timeout.ms"), "0");  // infinite in librdkafka 2.0.2
  EXPECT_EQ(get(config, "message.send.max.retries"), "2147483647");
  EXPECT_EQ(get(config, "reconnect.backoff.ms"), "100");
  EXPECT_EQ(get(config, "reconnect.backoff.max.ms"), "10000");
}

TEST_F(KafkaSettingsTest, RedactedHidesEverySecretAndKeepsTheRest) {
  const ProducerConfig config = {{"sasl.username", "alice"},
                                 {"sasl.password", "pw"},
                                 {"ssl.key.password", "kp"},
                                 {"ssl.key.pem", "KEY"},
                                 {"ssl.keystore.password", "ks"},
                                 {"sasl.oauthbearer.client.secret", "cs"},
                                 {"sasl.oauthbearer.config", "principal=x"},
                                 {"acks", "all"}};
  const ProducerConfig hidden = redacted(config);
  ASSERT_EQ(hidden.size(), config.size());
  EXPECT_EQ(hidden[0].value, "alice");
  for (size_t i = 1; i + 1 < hidden.size(); ++i) {
    EXPECT_EQ(hidden[i].value, "[redacted]") << hidden[i].name;
  }
  EXPECT_EQ(hidden.back().value, "all");
}

TEST_F(KafkaSettingsTest, DescribeNeverShowsThePassword) {
  write("secrets/eh/token", kEventHubsConnectionString);
  const std::string text = describe(mapOk(load(sasl("Plain", "eh"))));
  EXPECT_THAT(text, HasSubstr("sasl.password=[redacted]"));
  EXPECT_THAT(text, HasSubstr("sasl.username=$ConnectionString"));
  EXPECT_THAT(text, Not(HasSubstr("SharedAccessKey")));
  EXPECT_THAT(describe({{"ssl.ca.pem", std::string(200, 'x')}}), "ssl.ca.pem=<200 bytes>");
}

// librdkafka itself (configuration only, nothing connects) accepts every list the mapping makes.
TEST_F(KafkaSettingsTest, LibrdkafkaAcceptsEveryGeneratedConfiguration) {
  write("secrets/sasl/username", "alice");
  write("secrets/sasl/password", "pw");
  write("secrets/client/client_cert.pem", "CERT");
  write("secrets/client/client_key.pem", "KEY");
  write("configmaps/ca/ca.crt", "A");
  const std::vector<config::KafkaSettings> variants = {
      load(),
      load(kAnonymous, "    tls:\n      mode: Disabled\n    kafkaAcks: Zero\n"),
      load(sasl("ScramSha256"), "    compression: Zstd\n    batching:\n      mode: Disabled\n"),
      load(x509(), "    tls:\n      trustedCaCertificateConfigMapRef: ca\n    kafkaAcks: One\n"),
      load(sasl("Plain"), "    compression: Lz4\n    batching:\n      maxBytes: 4294967295\n"),
  };
  for (const config::KafkaSettings& settings : variants) {
    const ProducerConfig config = mapOk(settings, {.max_messages = 0, .max_bytes = 0});
    Result<ConfHandle> conf = makeConf(config);
    EXPECT_TRUE(conf.isOk()) << conf.status().message() << "\n" << describe(config);
  }
}

}  // namespace
}  // namespace dataflow::kafka::settings_test
