// The e2e fixture: a real mosquitto on a free loopback port, librdkafka's mock cluster in the test
// process, and the built `dataflow` binary run as a subprocess on manifests written per test.
// Everything is observed from outside, with the same clients an operator would use.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/support/kafka/kafka_test_support.h"
#include "tests/support/mosquitto.h"
#include "tests/support/process.h"

namespace dataflow::testing {

// One dataflow named `flow`, built fluently: FlowSpec().kafka("    compression: Gzip\n").
// Endpoints: `mqtt` (the fixture's mosquitto), `mqtt2` (a second mosquitto, started when a flow
// uses it) and `kafka` (the mock cluster; consumer group `flow-group`). Default: MQTT -> Kafka
// from plant/+/data to the test's random topic.
struct FlowSpec {
  std::string source_endpoint = "mqtt";
  std::string source_filter;  // default: plant/+/data, or topic() for a Kafka source
  std::string destination_endpoint = "kafka";
  std::string destination;           // default: topic() for Kafka, out/${inputTopic} for MQTT
  std::string kafka_settings;        // extra YAML under kafkaSettings, indented by 4
  std::string mqtt_settings;         // extra YAML under mqttSettings of `mqtt`, indented by 4
  std::string mqtt2_settings;        // extra YAML under mqttSettings of `mqtt2`, indented by 4
  std::string destination_settings;  // extra YAML under destinationSettings, indented by 6
  int instance_count = 1;

  FlowSpec& from(std::string endpoint, std::string filter = {}) {
    source_endpoint = std::move(endpoint);
    source_filter = std::move(filter);
    return *this;
  }
  FlowSpec& into(std::string endpoint, std::string topic = {}) {
    destination_endpoint = std::move(endpoint);
    destination = std::move(topic);
    return *this;
  }
  FlowSpec& mqtt2(std::string yaml) {
    mqtt2_settings = std::move(yaml);
    return *this;
  }
  FlowSpec& to(std::string topic) {
    destination = std::move(topic);
    return *this;
  }
  FlowSpec& kafka(std::string yaml) {
    kafka_settings = std::move(yaml);
    return *this;
  }
  FlowSpec& mqtt(std::string yaml) {
    mqtt_settings = std::move(yaml);
    return *this;
  }
  FlowSpec& destinationYaml(std::string yaml) {
    destination_settings = std::move(yaml);
    return *this;
  }
  FlowSpec& instances(int n) {
    instance_count = n;
    return *this;
  }
};

class EngineE2E : public ::testing::Test {
 protected:
  static constexpr auto kDeadline = std::chrono::seconds(30);

  void SetUp() override;
  void TearDown() override;

  // A Kafka topic name unique to this test run.
  const std::string& topic() const { return topic_; }
  // Creates the Kafka topic with `partitions` partitions.
  void createTopic(int partitions);
  // Writes the manifests of the dataflow `flow` (starts the second mosquitto if it uses mqtt2).
  void writeManifests(const FlowSpec& spec);
  // Starts `dataflow run` on the manifests and waits until it is ready: its MQTT source has
  // subscribed, or (Kafka source) its MQTT destination has connected.
  void startEngine(std::vector<std::string> extra_args = {});
  // Another `dataflow run` on the same manifests (e.g. a second instance), ready as above.
  std::unique_ptr<ChildProcess> startAnotherEngine(std::vector<std::string> extra_args);
  // Sends `signal` and returns the exit code (fails the test on a timeout).
  int stopEngine(int signal = SIGTERM);
  std::string engineLog() const;
  // The mosquitto behind endpoint `mqtt` or `mqtt2`.
  Mosquitto& broker(const std::string& endpoint);

  // Produces one record per value to topic() with kcat; `kcat_args` add e.g. {"-H", "a=1"} or
  // {"-k", "key"} to every record. Values must not contain a newline.
  void produce(const std::vector<std::string>& values, std::vector<std::string> kcat_args = {});

  // mosquitto_pub -V 5 -q 1 with extra arguments (e.g. {"-D", "publish", "content-type", "x"}).
  void publish(const std::string& topic, const std::string& payload,
               std::vector<std::string> extra = {});
  // During a destination outage: publishes "short" (Message Expiry Interval 2 s), "long" (3600 s)
  // and "plain" (none) to plant/m1/data, then lets `outage` pass (time passing is the scenario).
  // Returns when they were published.
  std::chrono::steady_clock::time_point publishExpiringThroughOutage(
      std::chrono::seconds outage);
  // Reads at least `count` records of topic() (fails the test when they do not arrive).
  std::vector<KafkaRecord> readRecords(size_t count);

  // Numbered records, as LoadPublisher publishes them: reads records of topic() until every
  // "<prefix>-<i>" for i < count has arrived or `deadline` passes; returns the numbers missing.
  // Records of every prefix are kept, so several prefixes can be checked one after the other.
  std::vector<size_t> missing(const std::string& prefix, size_t count,
                              std::chrono::milliseconds deadline);
  // Records of `prefix` that arrived more than once so far.
  size_t duplicates(const std::string& prefix) const;

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Mosquitto> mosquitto_;
  std::unique_ptr<Mosquitto> mosquitto2_;  // endpoint mqtt2, when a flow uses it
  std::unique_ptr<MockKafka> kafka_;
  std::unique_ptr<ChildProcess> engine_;
  std::unique_ptr<KafkaReader> reader_;
  std::string topic_;
  std::string ready_text_ = "subscribed";  // what startEngine() waits for in the engine log
  int engine_runs_ = 0;
  int produce_runs_ = 0;
  std::map<std::string, std::set<size_t>> numbered_seen_;  // by prefix
  std::map<std::string, size_t> numbered_records_;         // by prefix, duplicates included
};

// The value of the first header named `name`, if any.
std::optional<std::string> header(const KafkaRecord& record, const std::string& name);
// Every header as name=value (value "<null>" for a null header), in order.
std::vector<std::string> headerList(const KafkaRecord& record);

}  // namespace dataflow::testing
