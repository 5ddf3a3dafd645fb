#include "engine/runtime/ignored_settings.h"

#include <gmock/gmock.h>

#include <filesystem>

#include "test_util.h"

namespace dataflow::runtime {
namespace {

namespace fs = std::filesystem;
using config::testing::loadAndValidate;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kHeader = "apiVersion: connectivity.iotoperations.azure.com/v1\n";

std::string endpoint(const std::string& name, const std::string& type, const std::string& extra) {
  const bool kafka = type == "Kafka";
  return std::string(kHeader) + "kind: DataflowEndpoint\nmetadata:\n  name: " + name +
         "\nspec:\n  endpointType: " + type + "\n  " + (kafka ? "kafkaSettings" : "mqttSettings") +
         ":\n    host: localhost:" + (kafka ? "9092" : "1883") +
         "\n    authentication:\n      method: Anonymous\n" + extra + "---\n";
}

// `spec_extra` goes under spec, `source_extra` under sourceSettings.
std::string dataflow(const std::string& name, const std::string& source,
                     const std::string& destination, const std::string& spec_extra = "",
                     const std::string& source_extra = "") {
  return std::string(kHeader) + "kind: Dataflow\nmetadata:\n  name: " + name + "\nspec:\n" +
         spec_extra +
         "  operations:\n  - operationType: Destination\n    destinationSettings:\n"
         "      endpointRef: " +
         destination +
         "\n      dataDestination: out\n  - operationType: Source\n    sourceSettings:\n"
         "      endpointRef: " +
         source + "\n      dataSources: [in]\n" + source_extra + "---\n";
}

std::string mqtt(const std::string& extra = "") { return endpoint("mqtt", "Mqtt", extra); }
std::string kafka(const std::string& extra = "") { return endpoint("kafka", "Kafka", extra); }
// A Kafka source needs its consumer group.
std::string kafkaSource(const std::string& extra = "") {
  return kafka("    consumerGroupId: g\n" + extra);
}

std::vector<std::string> ignored(const std::string& text, const std::string& profile = "default") {
  auto loaded = loadAndValidate(text);
  EXPECT_FALSE(loaded.diagnostics.hasErrors()) << loaded.lines().at(0);
  return ignoredSettings(loaded.plan, profile);
}

TEST(IgnoredSettings, PrometheusPortActsNow) {
  const std::string profiles = std::string(kHeader) +
                               "kind: DataflowProfile\nmetadata:\n  name: default\nspec:\n"
                               "  diagnostics:\n    metrics:\n      prometheusPort: 9600\n---\n" +
                               kHeader +
                               "kind: DataflowProfile\nmetadata:\n  name: other\nspec:\n"
                               "  diagnostics:\n    metrics:\n      prometheusPort: 9601\n---\n";
  // `dataflow run` serves metrics and probes on it.
  EXPECT_THAT(ignored(profiles + mqtt() + kafka() + dataflow("flow", "mqtt", "kafka")), IsEmpty());
}

TEST(IgnoredSettings, TheImplicitDefaultProfileWritesNothing) {
  EXPECT_THAT(ignored(mqtt() + kafka() + dataflow("flow", "mqtt", "kafka")), IsEmpty());
}

// An MQTT source spools when it is Enabled; a Kafka source has its offsets instead.
TEST(IgnoredSettings, RequestDiskPersistenceEnabledOnAKafkaSourceOnly) {
  auto lines =
      ignored(mqtt() + kafkaSource("") +
              dataflow("spooled", "mqtt", "kafka", "  requestDiskPersistence: Enabled\n") +
              dataflow("in-memory", "mqtt", "kafka", "  requestDiskPersistence: Disabled\n") +
              dataflow("from-kafka", "kafka", "mqtt", "  requestDiskPersistence: Enabled\n"));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("dataflow from-kafka: spec.requestDiskPersistence is ignored: "
                                  "the source is Kafka: its committed consumer offsets"));
}

TEST(IgnoredSettings, SourceSerializationSchemaAndAssetAtTheSourceOperation) {
  auto lines = ignored(mqtt() + kafka() +
                       dataflow("flow", "mqtt", "kafka", "",
                                "      serializationFormat: Json\n      schemaRef: aio-sr://n/s:1\n"
                                "      assetRef: thermostat\n"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("dataflow flow: spec.operations[1].sourceSettings."
                                  "serializationFormat is ignored: payloads are forwarded"));
  EXPECT_THAT(lines[1], HasSubstr("spec.operations[1].sourceSettings.schemaRef is ignored"));
  EXPECT_THAT(lines[2], HasSubstr("spec.operations[1].sourceSettings.assetRef is ignored"));
}

TEST(IgnoredSettings, ProducerSettingsOfAKafkaSourceOnly) {
  const std::string producer =
      "    batching:\n      latencyMs: 10\n    compression: None\n    kafkaAcks: One\n"
      "    partitionStrategy: Property\n    partitionKeyProperty: device\n"
      "    copyMqttProperties: Disabled\n    cloudEventAttributes: Propagate\n";
  auto lines = ignored(mqtt() + kafkaSource(producer) + dataflow("commands", "kafka", "mqtt"));
  std::vector<std::string> fields;
  for (const std::string& line : lines) fields.push_back(line.substr(0, line.find(" is ignored")));
  EXPECT_THAT(fields, ElementsAre("endpoint kafka: spec.kafkaSettings.batching",
                                  "endpoint kafka: spec.kafkaSettings.compression",
                                  "endpoint kafka: spec.kafkaSettings.kafkaAcks",
                                  "endpoint kafka: spec.kafkaSettings.partitionStrategy",
                                  "endpoint kafka: spec.kafkaSettings.partitionKeyProperty",
                                  "endpoint kafka: spec.kafkaSettings.copyMqttProperties",
                                  "endpoint kafka: spec.kafkaSettings.cloudEventAttributes"));
  EXPECT_THAT(lines[1], HasSubstr("only a Kafka producer reads it, and this endpoint is only the "
                                  "source of dataflow commands"));
  // The same endpoint written to by another running dataflow: every producer setting acts.
  EXPECT_THAT(ignored(mqtt() + kafkaSource(producer) + dataflow("commands", "kafka", "mqtt") +
                      dataflow("telemetry", "mqtt", "kafka")),
              IsEmpty());
}

TEST(IgnoredSettings, ConsumerGroupIdOfADestinationOnly) {
  EXPECT_THAT(ignored(mqtt() + kafkaSource() + dataflow("flow", "mqtt", "kafka")),
              ElementsAre(HasSubstr("endpoint kafka: spec.kafkaSettings.consumerGroupId is "
                                    "ignored: only a Kafka source reads it, and this endpoint is "
                                    "only the destination of dataflow flow (MQTT->Kafka)")));
}

TEST(IgnoredSettings, RetainOutsideMqttToMqtt) {
  const std::string upstream = endpoint("upstream", "Mqtt", "    retain: Never\n");
  EXPECT_THAT(ignored(kafkaSource() + upstream + dataflow("commands", "kafka", "upstream")),
              ElementsAre(HasSubstr("endpoint upstream: spec.mqttSettings.retain is ignored: "
                                    "only the destination of an MQTT->MQTT dataflow reads it")));
  EXPECT_THAT(ignored(mqtt() + upstream + dataflow("downlink", "upstream", "mqtt")),
              ElementsAre(HasSubstr("this endpoint is the source of dataflow downlink")));
  EXPECT_THAT(ignored(mqtt() + upstream + dataflow("bridge", "mqtt", "upstream")), IsEmpty());
}

TEST(IgnoredSettings, CloudEventsOfAnMqttSourceOnly) {
  EXPECT_THAT(ignored(mqtt("    cloudEventAttributes: CreateOrRemap\n") +
                      endpoint("upstream", "Mqtt", "") + dataflow("bridge", "mqtt", "upstream")),
              ElementsAre(HasSubstr("endpoint mqtt: spec.mqttSettings.cloudEventAttributes is "
                                    "ignored: only a destination applies it")));
}

// hostType names the service type of AIO's metrics (source_service_type, target_service_type).
TEST(IgnoredSettings, HostTypeActs) {
  const std::string text = std::string(kHeader) +
                           "kind: DataflowEndpoint\nmetadata:\n  name: mqtt\nspec:\n"
                           "  endpointType: Mqtt\n  hostType: CustomMqtt\n  mqttSettings:\n"
                           "    host: localhost:1883\n    authentication:\n"
                           "      method: Anonymous\n---\n" +
                           endpoint("upstream", "Mqtt", "") +
                           dataflow("bridge", "mqtt", "upstream");
  EXPECT_THAT(ignored(text), IsEmpty());
}

TEST(IgnoredSettings, DisabledDataflowsAndOtherProfilesAreNotLookedAt) {
  const std::string text = mqtt() + kafkaSource("    compression: Gzip\n") +
                           dataflow("disabled", "kafka", "mqtt",
                                    "  mode: Disabled\n  requestDiskPersistence: Enabled\n") +
                           std::string(kHeader) +
                           "kind: DataflowProfile\nmetadata:\n  name: other\nspec: {}\n---\n" +
                           dataflow("elsewhere", "kafka", "mqtt",
                                    "  profileRef: other\n  requestDiskPersistence: Enabled\n");
  EXPECT_THAT(ignored(text), IsEmpty());
  EXPECT_EQ(ignored(text, "other").size(), 2u);  // requestDiskPersistence and compression
}

std::vector<std::string> ignoredInExample(const std::string& folder,
                                          const std::string& profile = "default") {
  config::testing::Loaded loaded;
  config::Manifests manifests;
  std::vector<std::string> paths;
  for (const auto& entry :
       fs::directory_iterator(fs::path(DATAFLOW_SOURCE_DIR) / "examples" / folder)) {
    if (entry.path().extension() == ".yaml") paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  config::loadPaths(paths, manifests, loaded.diagnostics);
  loaded.plan = config::validate(std::move(manifests), {}, loaded.diagnostics);
  EXPECT_FALSE(loaded.diagnostics.hasErrors()) << loaded.lines().at(0);
  EXPECT_FALSE(loaded.plan.dataflows.empty());
  return ignoredSettings(loaded.plan, profile);
}

TEST(IgnoredSettings, ExamplesThatSetOnlyWhatActsGiveNoWarning) {
  // local-kafka of the quickstart is a source (consumerGroupId) and a destination (partition
  // strategy, batching); kafka-advanced-settings writes every Kafka setting, used both ways.
  for (const char* folder :
       {"quickstart", "local-bridge", "kafka-advanced-settings", "mqtt-to-mqtt", "kafka-source"}) {
    EXPECT_THAT(ignoredInExample(folder), IsEmpty()) << folder;
  }
}

TEST(IgnoredSettings, TheStaticPartitionExampleSetsOnlyWhatActs) {
  EXPECT_THAT(ignoredInExample("partition-static", "kafka-static-partitions"), IsEmpty());
}

}  // namespace
}  // namespace dataflow::runtime
