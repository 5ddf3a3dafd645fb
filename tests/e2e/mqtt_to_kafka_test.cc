// MQTT -> Kafka through the built binary: mosquitto_pub publishes, a separate Kafka reader checks
// what the records carry (headers, key, partition, timestamp, payload).
#include <gmock/gmock.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#include "engine/core/murmur2.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/load_publisher.h"

namespace dataflow::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

int64_t wallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class MqttToKafka : public EngineE2E {};

TEST_F(MqttToKafka, EveryPropertyTranslationRow) {
  writeManifests(FlowSpec());
  startEngine();
  const int64_t before = wallNowMs();
  const std::string correlation = "\xff\x01binary\x7f";  // not UTF-8: bytes must survive
  publish("plant/m1/data", "payload \x01\xfe bytes",
          {"-D",         "publish", "payload-format-indicator",
           "1",  //
           "-D",         "publish", "content-type",
           "text/plain",  //
           "-D",         "publish", "response-topic",
           "reply/here",  //
           "-D",         "publish", "correlation-data",
           correlation,  //
           "-D",         "publish", "message-expiry-interval",
           "3600",  //
           "-D",         "publish", "user-property",
           "a",          "1",  //
           "-D",         "publish", "user-property",
           "b",          "2",  //
           "-D",         "publish", "user-property",
           "a",          "3"});
  auto records = readRecords(1);
  ASSERT_EQ(records.size(), 1u);
  const KafkaRecord& r = records[0];
  EXPECT_EQ(r.value, "payload \x01\xfe bytes");
  EXPECT_FALSE(r.key.has_value()) << "Default strategy: null key";
  // Built-ins first in the table's order, then user properties in order with the duplicate.
  const std::vector<std::string> headers = headerList(r);
  ASSERT_EQ(headers.size(), 8u) << ::testing::PrintToString(headers);
  EXPECT_EQ(headers[0], "Payload Format Indicator=1");
  EXPECT_EQ(headers[1], "Response Topic=reply/here");
  EXPECT_THAT(headers[2],
              ::testing::AnyOf("Message Expiry Interval=3600", "Message Expiry Interval=3599"));
  EXPECT_EQ(headers[3], "Correlation Data=" + correlation);
  EXPECT_EQ(headers[4], "Content Type=text/plain");
  EXPECT_THAT(std::vector(headers.begin() + 5, headers.end()), ElementsAre("a=1", "b=2", "a=3"));
  EXPECT_EQ(r.timestamp_type, 1) << "CreateTime";
  EXPECT_GE(r.timestamp_ms, before);
  EXPECT_LE(r.timestamp_ms, wallNowMs());
}

TEST_F(MqttToKafka, CopyMqttPropertiesDisabledSendsNoHeaders) {
  writeManifests(FlowSpec().kafka("    copyMqttProperties: Disabled\n"));
  startEngine();
  publish(
      "plant/m1/data", "x",
      {"-D", "publish", "content-type", "text/plain", "-D", "publish", "user-property", "a", "1"});
  auto records = readRecords(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].headers.empty()) << ::testing::PrintToString(headerList(records[0]));
}

TEST_F(MqttToKafka, TopicTemplateAndHeaderActions) {
  writeManifests(FlowSpec()
                     .to(topic() + "-${inputTopic.2}")
                     .destinationYaml("      headers:\n"
                                      "      - actionType: AddIfNotPresent\n"
                                      "        key: site\n        value: north\n"
                                      "      - actionType: Remove\n        key: debug\n"));
  startEngine();
  publish("plant/m7/data", "x", {"-D", "publish", "user-property", "debug", "1"});
  KafkaReader reader(kafka_->bootstrapServers(), topic() + "-m7");
  auto records = reader.readAtLeast(1, kDeadline);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_THAT(headerList(records[0]), ElementsAre("site=north"));
}

TEST_F(MqttToKafka, CloudEventsPropagate) {
  writeManifests(FlowSpec().kafka("    cloudEventAttributes: Propagate\n"));
  startEngine();
  publish("plant/m1/data", "{}",
          {"-D", "publish", "user-property", "specversion", "1.0",
           "-D", "publish", "user-property", "type",        "com.example.reading",
           "-D", "publish", "user-property", "source",      "urn:plant",
           "-D", "publish", "user-property", "id",          "event-1"});
  auto records = readRecords(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(header(records[0], "ce_specversion"), "1.0");
  EXPECT_EQ(header(records[0], "ce_type"), "com.example.reading");
  EXPECT_EQ(header(records[0], "ce_source"), "urn:plant");
  EXPECT_EQ(header(records[0], "ce_id"), "event-1");
}

TEST_F(MqttToKafka, CloudEventsCreateOrRemap) {
  writeManifests(FlowSpec().kafka("    cloudEventAttributes: CreateOrRemap\n"));
  startEngine();
  publish("plant/m1/data", "{}");
  publish("plant/m1/data", "{}");
  auto records = readRecords(2);
  ASSERT_EQ(records.size(), 2u);
  for (const KafkaRecord& r : records) {
    EXPECT_EQ(header(r, "ce_specversion"), "1.0");
    EXPECT_EQ(header(r, "ce_type"), "ms.aio-dataflow.telemetry");
    EXPECT_EQ(header(r, "ce_source"), "aio://kafka");
    EXPECT_TRUE(header(r, "ce_time").has_value());
  }
  ASSERT_TRUE(header(records[0], "ce_id") && header(records[1], "ce_id"));
  EXPECT_NE(*header(records[0], "ce_id"), *header(records[1], "ce_id"));
}

TEST_F(MqttToKafka, ADataflowWhoseBrokerIsDownDoesNotHoldBackTheOthers) {
  writeManifests(FlowSpec());
  std::ofstream(dir_->path() + "/manifests.yaml", std::ios::app)
      << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
         "metadata:\n  name: unreachable\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
         "    host: 127.0.0.1:"
      << freeTcpPort()
      << "\n    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n"
         "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
         "metadata:\n  name: stuck\nspec:\n  operations:\n"
         "  - operationType: Source\n    sourceSettings:\n      endpointRef: unreachable\n"
         "      dataSources: [a/b]\n"
         "  - operationType: Destination\n    destinationSettings:\n"
         "      endpointRef: kafka\n      dataDestination: unused\n";
  startEngine();
  publish("plant/m1/data", "still flowing");
  auto records = readRecords(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "still flowing");
  EXPECT_THAT(engineLog(), ::testing::ContainsRegex("\\[stuck\\] MQTT source: .*retrying"));
  EXPECT_EQ(stopEngine(), 0);
}

// Sources hand messages over on a pool shared by every dataflow (engine/core/worker_pool.h): a
// source whose destination is full blocks a pool thread. Here more dataflows than the pool has
// threads fill their in-flight bound against an unreachable Kafka while `flow` must keep moving.
TEST_F(MqttToKafka, DataflowsHeldBackByTheirDestinationDoNotStallTheOthers) {
  writeManifests(FlowSpec());
  const unsigned stuck = std::max(2u, std::thread::hardware_concurrency()) + 1;
  {
    std::ofstream out(dir_->path() + "/manifests.yaml", std::ios::app);
    out << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
           "metadata:\n  name: unreachable-kafka\nspec:\n  endpointType: Kafka\n"
           "  kafkaSettings:\n    host: 127.0.0.1:"
        << freeTcpPort()
        << "\n    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n";
    for (unsigned i = 0; i < stuck; ++i) {
      out << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
             "metadata:\n  name: stuck-"
          << i
          << "\nspec:\n  operations:\n"
             "  - operationType: Source\n    sourceSettings:\n      endpointRef: mqtt\n"
             "      dataSources: [stuck/"
          << i
          << "/data]\n  - operationType: Destination\n    destinationSettings:\n"
             "      endpointRef: unreachable-kafka\n      dataDestination: nowhere\n";
    }
  }
  startEngine({"--max-in-flight-messages", "5"});
  for (unsigned i = 0; i < stuck; ++i) {
    LoadPublisher held_back(mosquitto_->address(), "stuck/" + std::to_string(i) + "/data", "held",
                            200, std::chrono::microseconds(0));
    held_back.join();
    ASSERT_EQ(held_back.acknowledged(), 200u);
  }
  publish("plant/m1/data", "still flowing");
  auto records = readRecords(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "still flowing");
  EXPECT_EQ(stopEngine(), 0);
}

// Dataflows that write through the same Kafka endpoint share one producer (one set of librdkafka
// threads and connections): the engine starts one, and every dataflow's messages arrive.
TEST_F(MqttToKafka, DataflowsWritingThroughOneKafkaEndpointShareOneProducer) {
  writeManifests(FlowSpec());
  {
    std::ofstream out(dir_->path() + "/manifests.yaml", std::ios::app);
    for (const char* name : {"second", "third"}) {
      out << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
             "metadata:\n  name: "
          << name
          << "\nspec:\n  operations:\n"
             "  - operationType: Source\n    sourceSettings:\n      endpointRef: mqtt\n"
             "      dataSources: ["
          << name
          << "/data]\n  - operationType: Destination\n    destinationSettings:\n"
             "      endpointRef: kafka\n      dataDestination: "
          << topic() << "\n";
    }
  }
  startEngine();
  publish("plant/m1/data", "from flow");
  publish("second/data", "from second");
  publish("third/data", "from third");
  std::set<std::string> values;
  for (const KafkaRecord& r : readRecords(3)) values.insert(r.value);
  EXPECT_EQ(values, (std::set<std::string>{"from flow", "from second", "from third"}));
  EXPECT_EQ(stopEngine(), 0);
  const std::string log = engineLog();
  size_t started = 0;
  for (size_t at = log.find("Kafka producer started"); at != std::string::npos;
       at = log.find("Kafka producer started", at + 1)) {
    ++started;
  }
  EXPECT_EQ(started, 1u) << log;
}

class Partitioning : public EngineE2E {
 protected:
  static constexpr int kPartitions = 4;
};

TEST_F(Partitioning, TopicStrategyKeysByMqttTopic) {
  createTopic(kPartitions);
  writeManifests(FlowSpec().kafka("    partitionStrategy: Topic\n"));
  startEngine();
  for (const char* machine : {"m1", "m2", "m3", "m4", "m5"}) {
    publish(std::string("plant/") + machine + "/data", machine);
  }
  auto records = readRecords(5);
  for (const KafkaRecord& r : records) {
    const std::string mqtt_topic = "plant/" + r.value + "/data";
    EXPECT_EQ(r.key, mqtt_topic);
    EXPECT_EQ(r.partition, partitionForKey(mqtt_topic, kPartitions)) << mqtt_topic;
  }
}

TEST_F(Partitioning, PropertyStrategyKeysByThePropertyAndFallsBackWhenAbsent) {
  createTopic(kPartitions);
  writeManifests(
      FlowSpec().kafka("    partitionStrategy: Property\n    partitionKeyProperty: device\n"));
  startEngine();
  for (const char* device : {"d-1", "d-2", "d-3", "d-4"}) {
    publish("plant/m1/data", device, {"-D", "publish", "user-property", "device", device});
  }
  publish("plant/m1/data", "no-device");
  auto records = readRecords(5);
  for (const KafkaRecord& r : records) {
    if (r.value == "no-device") {
      EXPECT_FALSE(r.key.has_value());
      continue;
    }
    EXPECT_EQ(r.key, r.value);
    EXPECT_EQ(r.partition, partitionForKey(r.value, kPartitions)) << r.value;
  }
}

TEST_F(Partitioning, StaticStrategyUsesTheInstanceOrdinal) {
  createTopic(kPartitions);
  writeManifests(FlowSpec().kafka("    partitionStrategy: Static\n").instances(3));
  startEngine({"--instance-id", "2"});
  for (int i = 0; i < 5; ++i) publish("plant/m1/data", std::to_string(i));
  for (const KafkaRecord& r : readRecords(5)) {
    EXPECT_EQ(r.partition, staticPartition(2, kPartitions));
    EXPECT_FALSE(r.key.has_value());
  }
}

TEST_F(Partitioning, DefaultStrategyHasNoKeyAndAnyPartition) {
  createTopic(kPartitions);
  writeManifests(FlowSpec());
  startEngine();
  for (int i = 0; i < 5; ++i) publish("plant/m1/data", std::to_string(i));
  for (const KafkaRecord& r : readRecords(5)) {
    EXPECT_FALSE(r.key.has_value());
    EXPECT_GE(r.partition, 0);
    EXPECT_LT(r.partition, kPartitions);
  }
}

// Every producer setting reaches librdkafka: the engine logs the producer's effective
// configuration (read back from librdkafka) at debug level, and messages still flow.
struct ProducerCase {
  const char* name;
  const char* kafka_settings;
  std::vector<const char*> expected;  // key=value pairs in the producer configuration
};

class ProducerSettings : public EngineE2E, public ::testing::WithParamInterface<ProducerCase> {};

TEST_P(ProducerSettings, ReachTheProducerAndMessagesFlow) {
  writeManifests(FlowSpec().kafka(GetParam().kafka_settings));
  startEngine({"--log-level", "debug"});
  for (int i = 0; i < 3; ++i) publish("plant/m1/data", "message " + std::to_string(i));
  EXPECT_EQ(readRecords(3).size(), 3u);
  const std::string log = engineLog();
  for (const char* expected : GetParam().expected) EXPECT_THAT(log, HasSubstr(expected));
}

INSTANTIATE_TEST_SUITE_P(
    E2E, ProducerSettings,
    ::testing::Values(
        ProducerCase{"CompressionNone", "    compression: None\n", {"compression.codec=none"}},
        ProducerCase{"Gzip", "    compression: Gzip\n", {"compression.codec=gzip"}},
        ProducerCase{"Snappy", "    compression: Snappy\n", {"compression.codec=snappy"}},
        ProducerCase{"Lz4", "    compression: Lz4\n", {"compression.codec=lz4"}},
        ProducerCase{"Zstd", "    compression: Zstd\n", {"compression.codec=zstd"}},
        ProducerCase{"BatchingEnabled",
                     "    batching:\n      mode: Enabled\n      latencyMs: 40\n"
                     "      maxMessages: 7\n      maxBytes: 5000\n",
                     {"linger.ms=40", "batch.num.messages=7", "batch.size=5000"}},
        ProducerCase{"BatchingDisabled",
                     "    batching:\n      mode: Disabled\n",
                     {"linger.ms=0", "batch.num.messages=1"}},
        ProducerCase{"AcksAll", "    kafkaAcks: All\n", {"acks=-1", "enable.idempotence=true"}},
        ProducerCase{"AcksOne", "    kafkaAcks: One\n", {"acks=1", "enable.idempotence=false"}},
        ProducerCase{"AcksZero", "    kafkaAcks: Zero\n", {"acks=0"}}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dataflow::testing
