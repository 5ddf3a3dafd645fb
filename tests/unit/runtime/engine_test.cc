#include "engine/runtime/engine.h"

#include <gtest/gtest.h>

#include <thread>

#include "engine/runtime/pipeline_options.h"
#include "fakes.h"
#include "test_util.h"

namespace dataflow::runtime {
namespace {

using config::testing::loadAndValidate;

// Records what the engine asked for and hands out fakes (or a configured error).
class FakeFactory final : public ConnectorFactory {
 public:
  Result<std::unique_ptr<Source>> createSource(const SourceSpec& spec) const override {
    sources.push_back(spec);
    if (!source_error.empty()) return Status::fatal(source_error);
    auto source = std::make_unique<testing::FakeSource>();
    made_sources.push_back(source.get());
    return std::unique_ptr<Source>(std::move(source));
  }
  Result<std::unique_ptr<Destination>> createDestination(
      const DestinationSpec& spec) const override {
    destinations.push_back(spec);
    return std::unique_ptr<Destination>(std::make_unique<testing::FakeDestination>());
  }
  mutable std::vector<SourceSpec> sources;
  mutable std::vector<DestinationSpec> destinations;
  mutable std::vector<testing::FakeSource*> made_sources;  // owned by the engine's runners
  std::string source_error;
};

const std::string kProfile = R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowProfile
metadata:
  name: default
spec:
  instanceCount: 3
)";

std::string mqttEndpoint(const std::string& extra = "") {
  return std::string(config::testing::kMqttEndpoint) + extra;
}

std::string kafkaEndpoint(const std::string& extra) {
  return std::string(config::testing::kKafkaEndpoint) + extra;
}

TEST(Engine, BuildsOneRunnerPerEnabledDataflowWithSharedSubscriptionsAndStableClientIds) {
  auto loaded =
      loadAndValidate(kProfile + "---\n" + mqttEndpoint("    clientIdPrefix: edge\n") + "---\n" +
                      kafkaEndpoint("") + "---\n" +
                      config::testing::dataflow("local-mqtt", "[a/+, $share/g/b]", "kafka", "out"));
  ASSERT_FALSE(loaded.diagnostics.hasErrors()) << loaded.lines()[0];
  FakeFactory factory;
  config::MountedFiles files;
  SystemClock clock;
  std::vector<std::string> errors;
  EngineOptions options;
  options.instance_id = 2;
  auto engine = Engine::build(loaded.plan, options, factory, files, clock, errors);
  ASSERT_TRUE(engine) << errors.at(0);
  ASSERT_EQ(engine->runners().size(), 1u);
  ASSERT_EQ(factory.sources.size(), 1u);
  EXPECT_EQ(factory.sources[0].topics, (std::vector<std::string>{"$share/flow/a/+", "$share/g/b"}));
  EXPECT_EQ(factory.sources[0].context.client_id, "edge-flow-2");
  EXPECT_EQ(factory.sources[0].context.instance_count, 3u);
  EXPECT_EQ(factory.destinations[0].context.client_id, "dataflow-flow-2-out");
  EXPECT_EQ(factory.destinations[0].context.endpoint->metadata.name, "kafka");
  EXPECT_EQ(engine->start(), 1u);
  EXPECT_EQ(engine->stop(std::chrono::milliseconds(0)), 0u);
}

std::string twoDataflows() {
  auto named = [](std::string yaml, const std::string& name) {
    const std::string from = "  name: flow\n";
    return yaml.replace(yaml.find(from), from.size(), "  name: " + name + "\n");
  };
  return kProfile + "---\n" + mqttEndpoint() + "---\n" + kafkaEndpoint("") + "---\n" +
         named(config::testing::dataflow("local-mqtt", "[a]", "kafka", "out"), "one") + "---\n" +
         named(config::testing::dataflow("local-mqtt", "[b]", "kafka", "out"), "two");
}

// An engine of two MQTT -> Kafka dataflows on fakes.
struct TwoDataflows {
  TwoDataflows() {
    EXPECT_FALSE(loaded.diagnostics.hasErrors()) << loaded.lines()[0];
    engine = Engine::build(loaded.plan, EngineOptions(), factory, files, clock, errors);
  }
  config::testing::Loaded loaded = loadAndValidate(twoDataflows());
  FakeFactory factory;
  config::MountedFiles files;
  SystemClock clock;
  std::vector<std::string> errors;
  std::unique_ptr<Engine> engine;
};

TEST(Engine, AFailedDataflowIsStoppedAndTheOthersRunOn) {
  TwoDataflows two;
  FakeFactory& factory = two.factory;
  Engine* engine = two.engine.get();
  ASSERT_TRUE(engine) << two.errors.at(0);
  ASSERT_EQ(engine->start(), 2u);
  Engine::Outcome outcome = Engine::Outcome::AllFailed;
  std::thread supervisor([&] { outcome = engine->supervise(); });
  factory.made_sources[0]->fail("worker thread died");
  EXPECT_EQ(engine->runners()[0]->state(), RunnerState::Failed);
  EXPECT_EQ(engine->runners()[0]->failureReason(), "worker thread died");
  EXPECT_EQ(engine->runners()[1]->state(), RunnerState::Running);
  engine->requestStop();
  supervisor.join();
  EXPECT_EQ(outcome, Engine::Outcome::StopRequested);
  EXPECT_EQ(engine->failedCount(), 1u);
  engine->stop(std::chrono::milliseconds(0));
  EXPECT_TRUE(factory.made_sources[0]->closed);
  EXPECT_EQ(engine->runners()[1]->state(), RunnerState::Stopped);
}

TEST(Engine, SupervisionEndsWhenEveryDataflowHasFailed) {
  TwoDataflows two;
  FakeFactory& factory = two.factory;
  Engine* engine = two.engine.get();
  ASSERT_TRUE(engine) << two.errors.at(0);
  ASSERT_EQ(engine->start(), 2u);
  Engine::Outcome outcome = Engine::Outcome::StopRequested;
  std::thread supervisor([&] { outcome = engine->supervise(); });
  factory.made_sources[0]->fail("one died");
  factory.made_sources[1]->fail("two died");
  supervisor.join();  // returns by itself: nothing is left running
  EXPECT_EQ(outcome, Engine::Outcome::AllFailed);
  EXPECT_EQ(engine->failedCount(), 2u);
  EXPECT_TRUE(factory.made_sources[0]->closed);
  EXPECT_TRUE(factory.made_sources[1]->closed);
}

TEST(Engine, ADataflowThatFailsToStartCountsAsFailed) {
  TwoDataflows two;
  FakeFactory& factory = two.factory;
  Engine* engine = two.engine.get();
  ASSERT_TRUE(engine) << two.errors.at(0);
  factory.made_sources[0]->start_status = Status::fatal("cannot subscribe");
  EXPECT_EQ(engine->start(), 1u);
  EXPECT_EQ(engine->runners()[0]->state(), RunnerState::Failed);
  EXPECT_EQ(engine->failedCount(), 1u);
}

TEST(Engine, SingleInstanceSubscribesFiltersUnchanged) {
  auto loaded = loadAndValidate(mqttEndpoint() + "---\n" + kafkaEndpoint("") + "---\n" +
                                config::testing::dataflow("local-mqtt", "[a/+]", "kafka", "out"));
  ASSERT_EQ(loaded.plan.dataflows.size(), 1u);
  EXPECT_EQ(subscriptionTopics(loaded.plan.dataflows[0], 1), std::vector<std::string>{"a/+"});
}

// A reload that changes a dataflow's MQTT filters: the ones the new source no longer subscribes
// are unsubscribed from the persistent session they share (same broker, same client id).
TEST(Engine, AReloadRetiresTheFiltersTheDataflowNoLongerSubscribes) {
  const std::string endpoints = mqttEndpoint() + "---\n" + kafkaEndpoint("") + "---\n";
  auto one = loadAndValidate(endpoints +
                             config::testing::dataflow("local-mqtt", "[a/+, b]", "kafka", "out"));
  auto three = loadAndValidate(kProfile + "---\n" + endpoints +
                               config::testing::dataflow("local-mqtt", "[a/+, c]", "kafka", "out"));
  auto other_client = loadAndValidate(
      kProfile + "---\n" + mqttEndpoint("    clientIdPrefix: edge\n") + "---\n" +
      kafkaEndpoint("") + "---\n" + config::testing::dataflow("local-mqtt", "[d]", "kafka", "out"));
  auto from_kafka =
      loadAndValidate(endpoints + config::testing::dataflow("kafka", "[t]", "local-mqtt", "out"));
  for (auto* loaded : {&one, &three, &other_client, &from_kafka}) {
    ASSERT_FALSE(loaded->diagnostics.hasErrors()) << loaded->lines()[0];
    ASSERT_EQ(loaded->plan.dataflows.size(), 1u);
  }
  const config::PlannedDataflow& p1 = one.plan.dataflows[0];
  const config::PlannedDataflow& p3 = three.plan.dataflows[0];
  // instanceCount 1 -> 3: a/+ became $share/flow/a/+; b was dropped.
  EXPECT_EQ(retiredTopics(p1, p3, 0), (std::vector<std::string>{"a/+", "b"}));
  EXPECT_EQ(retiredTopics(p3, p1, 0),
            (std::vector<std::string>{"$share/flow/a/+", "$share/flow/c"}));
  EXPECT_TRUE(retiredTopics(p3, p3, 0).empty());
  // Another client id is another session; a Kafka source has none.
  EXPECT_TRUE(retiredTopics(p3, other_client.plan.dataflows[0], 0).empty());
  EXPECT_TRUE(retiredTopics(p1, from_kafka.plan.dataflows[0], 0).empty());
  EXPECT_TRUE(retiredTopics(from_kafka.plan.dataflows[0], p1, 0).empty());
}

TEST(Engine, EveryProblemIsReportedAndNothingIsBuilt) {
  auto loaded =
      loadAndValidate(kProfile + "---\n" + mqttEndpoint() + "---\n" + kafkaEndpoint("") + "---\n" +
                      config::testing::dataflow("local-mqtt", "[a]", "kafka", "out"));
  FakeFactory factory;
  factory.source_error = "authentication method X is not supported";
  config::MountedFiles files;
  SystemClock clock;
  std::vector<std::string> errors;
  EngineOptions options;
  options.instance_id = 3;
  EXPECT_FALSE(Engine::build(loaded.plan, options, factory, files, clock, errors));
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "--instance-id 3 is out of range: profile default has instanceCount 3 "
                        "(instances 0 to 2)",
                        "dataflow flow: authentication method X is not supported"}));
}

TEST(Engine, UnknownProfileIsAnErrorAProfileWithoutDataflowIsNot) {
  auto loaded = loadAndValidate(mqttEndpoint());
  FakeFactory factory;
  config::MountedFiles files;
  SystemClock clock;
  std::vector<std::string> errors;
  EngineOptions options;
  auto waiting = Engine::build(loaded.plan, options, factory, files, clock, errors);
  ASSERT_TRUE(waiting);  // it waits for a reload to bring a dataflow
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(waiting->runners().size(), 0u);
  EXPECT_EQ(waiting->start(), 0u);
  options.profile = "fast";
  EXPECT_FALSE(Engine::build(loaded.plan, options, factory, files, clock, errors));
  EXPECT_EQ(errors, std::vector<std::string>{"no DataflowProfile named \"fast\""});
}

TEST(PipelineOptionsFromManifest, KafkaDestinationSettingsReachTheTransform) {
  auto loaded = loadAndValidate(
      mqttEndpoint() + "---\n" +
      kafkaEndpoint("    copyMqttProperties: Disabled\n    partitionStrategy: Property\n"
                    "    partitionKeyProperty: device\n    cloudEventAttributes: CreateOrRemap\n") +
      "---\n" + config::testing::dataflow("local-mqtt", "[a/+]", "kafka", "t-${inputTopic.2}") +
      "      headers:\n      - actionType: AddOrReplace\n        key: site\n"
      "        value: north\n");
  ASSERT_FALSE(loaded.diagnostics.hasErrors()) << loaded.lines()[0];
  transform::PipelineOptions o = pipelineOptions(loaded.plan.dataflows.at(0), 5);
  EXPECT_EQ(o.direction, transform::Direction::MqttToKafka);
  EXPECT_FALSE(o.copy_mqtt_properties);
  EXPECT_EQ(o.partition_strategy, transform::PartitionStrategy::Property);
  EXPECT_EQ(o.partition_key_property, "device");
  EXPECT_EQ(o.instance_ordinal, 5u);
  EXPECT_EQ(o.cloud_events, transform::CloudEventsMode::CreateOrRemap);
  EXPECT_EQ(o.destination_endpoint_name, "kafka");
  EXPECT_EQ(o.destination_topic.text(), "t-${inputTopic.2}");
  ASSERT_EQ(o.header_actions.size(), 1u);
  EXPECT_EQ(o.header_actions[0].type, transform::HeaderActionType::AddOrReplace);
  EXPECT_EQ(o.header_actions[0].key, "site");
  EXPECT_EQ(o.header_actions[0].value, "north");
}

TEST(PipelineOptionsFromManifest, MqttDestinationRetainNever) {
  auto loaded = loadAndValidate(mqttEndpoint() + "---\n" +
                                R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: cloud
spec:
  endpointType: Mqtt
  mqttSettings:
    host: cloud:8883
    retain: Never
    authentication:
      method: Anonymous
---
)" + config::testing::dataflow("local-mqtt", "[a/+]", "cloud", "b"));
  ASSERT_FALSE(loaded.diagnostics.hasErrors()) << loaded.lines()[0];
  transform::PipelineOptions o = pipelineOptions(loaded.plan.dataflows.at(0), 0);
  EXPECT_EQ(o.direction, transform::Direction::MqttToMqtt);
  EXPECT_EQ(o.retain, transform::RetainPolicy::Never);
  EXPECT_FALSE(o.cloud_events.has_value());
}

}  // namespace
}  // namespace dataflow::runtime
