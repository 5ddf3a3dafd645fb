#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/config/test_util.h"

namespace dataflow::config {
namespace {

using testing::dataflow;
using testing::kKafkaEndpoint;
using testing::kMqttEndpoint;
using testing::loadAndValidate;

std::string both() { return std::string(kMqttEndpoint) + "---\n" + kKafkaEndpoint + "---\n"; }

TEST(Validate, PlansEachDirectionWithTheImplicitDefaultProfile) {
  auto r = loadAndValidate(both() + dataflow("local-mqtt", "[a/+, $shared/g/b/#]", "kafka", "t1"));
  ASSERT_FALSE(r.diagnostics.hasErrors()) << r.lines()[0];
  ASSERT_EQ(r.plan.dataflows.size(), 1u);
  const PlannedDataflow& p = r.plan.dataflows[0];
  EXPECT_EQ(p.direction, Direction::MqttToKafka);
  EXPECT_EQ(p.profile->metadata.name, "default");
  EXPECT_EQ(p.profile->spec.instance_count, 1);
  EXPECT_EQ(p.source_topics, (std::vector<std::string>{"a/+", "$share/g/b/#"}));
  EXPECT_EQ(p.destination_topic.text(), "t1");

  auto back =
      loadAndValidate(both() + dataflow("kafka", "[t1]", "local-mqtt", "out/${inputTopic}"));
  ASSERT_EQ(back.plan.dataflows.size(), 1u);
  EXPECT_EQ(back.plan.dataflows[0].direction, Direction::KafkaToMqtt);
  auto bridge = loadAndValidate(both() + dataflow("local-mqtt", "[a]", "local-mqtt", "b"));
  ASSERT_EQ(bridge.plan.dataflows.size(), 1u);
  EXPECT_EQ(bridge.plan.dataflows[0].direction, Direction::MqttToMqtt);
}

TEST(Validate, KafkaSourceWithoutConsumerGroupGivesTheProductError) {
  std::string kafka = kKafkaEndpoint;
  kafka.erase(kafka.find("    consumerGroupId: group-1\n"), 29);
  auto r = loadAndValidate(std::string(kMqttEndpoint) + "---\n" + kafka + "---\n" +
                           dataflow("kafka", "[t1]", "local-mqtt", "x"));
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_EQ(r.lines()[0],
            "t.yaml:31:20: spec.operations[0].sourceSettings.endpointRef: Kafka type source "
            "endpoints must have a consumerGroupId defined");
}

TEST(Validate, KafkaToKafkaIsRefused) {
  auto r = loadAndValidate(both() + dataflow("kafka", "[t1]", "kafka", "t2"));
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_NE(r.lines()[0].find("Kafka to Kafka dataflows are not supported"), std::string::npos);
  EXPECT_TRUE(r.plan.dataflows.empty());
}

TEST(Validate, ReferencesResolveWithSuggestions) {
  auto r = loadAndValidate(both() + dataflow("local-mqt", "[a]", "kafka", "t"));
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_EQ(r.lines()[0],
            "t.yaml:32:20: spec.operations[0].sourceSettings.endpointRef: DataflowEndpoint "
            "\"local-mqt\" not found; did you mean \"local-mqtt\"?");
}

TEST(Validate, ReferencesToInvalidObjectsAreNotReportedTwice) {
  std::string broken = kMqttEndpoint;
  broken.replace(broken.find("localhost:1883"), 14, "no-port");
  auto r = loadAndValidate(broken + "---\n" + kKafkaEndpoint + "---\n" +
                           dataflow("local-mqtt", "[a]", "kafka", "t"));
  ASSERT_EQ(r.lines().size(), 1u) << ::testing::PrintToString(r.lines());
  EXPECT_NE(r.lines()[0].find("spec.mqttSettings.host"), std::string::npos);
}

TEST(Validate, DuplicateNamesPerKind) {
  auto r = loadAndValidate(both() + kKafkaEndpoint);
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_EQ(r.lines()[0],
            "t.yaml:27:9: metadata.name: duplicate DataflowEndpoint \"kafka\" (first defined at "
            "t.yaml:15)");
}

TEST(Validate, DisabledDataflowsArePlannedButNotEnabled) {
  std::string flow = dataflow("local-mqtt", "[a]", "kafka", "t");
  flow.insert(flow.find("  operations:"), "  mode: Disabled\n");
  auto r = loadAndValidate(both() + flow);
  ASSERT_EQ(r.plan.dataflows.size(), 1u);
  EXPECT_FALSE(r.plan.dataflows[0].enabled);
}

TEST(Validate, SecretsAndConfigMapsMustExistWhenFoldersAreGiven) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("dataflow-secrets-" + std::to_string(::getpid()));
  fs::create_directories(dir / "secrets" / "sasl");
  fs::create_directories(dir / "configmaps" / "ca");
  std::ofstream(dir / "secrets" / "sasl" / "token") << "t";
  std::ofstream(dir / "configmaps" / "ca" / "ca.crt") << "pem";
  const std::string endpoint = R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata: {name: kafka}
spec:
  endpointType: Kafka
  kafkaSettings:
    host: h:9093
    authentication: {method: Sasl, saslSettings: {saslType: Plain, secretRef: SECRET}}
    tls: {trustedCaCertificateConfigMapRef: CA}
)";
  ValidateOptions options{(dir / "secrets").string(), (dir / "configmaps").string()};
  auto with = [&](const std::string& secret, const std::string& ca) {
    std::string text = endpoint;
    text.replace(text.find("SECRET"), 6, secret);
    text.replace(text.find("CA}"), 2, ca);
    return loadAndValidate(text, "t.yaml", options).lines();
  };
  EXPECT_TRUE(with("sasl", "ca").empty());
  auto missing = with("nope", "other");
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0],
            "t.yaml:8:79: spec.kafkaSettings.authentication.saslSettings.secretRef: "
            "secret \"nope\" not found (no folder " +
                (dir / "secrets" / "nope").string() + ")");
  EXPECT_NE(missing[1].find("configmap \"other\" not found"), std::string::npos);
  fs::create_directories(dir / "secrets" / "partial");
  std::ofstream(dir / "secrets" / "partial" / "username") << "u";
  auto partial = with("partial", "ca");
  ASSERT_EQ(partial.size(), 1u);
  EXPECT_NE(partial[0].find("lacks the keys it needs: username and password, or token"),
            std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dataflow::config
