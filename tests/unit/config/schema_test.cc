#include "engine/config/schema.h"

#include <gtest/gtest.h>

#include "engine/config/manifest_schema.h"

namespace dataflow::config {
namespace {

ScalarKind kindOf(const std::string& yaml) { return classify(YAML::Load("v: " + yaml)["v"]); }

TEST(Classify, FollowsYaml11LikeKubernetes) {
  EXPECT_EQ(kindOf("5"), ScalarKind::Int);
  EXPECT_EQ(kindOf("-5"), ScalarKind::Int);
  EXPECT_EQ(kindOf("0x1F"), ScalarKind::Int);
  EXPECT_EQ(kindOf("\"5\""), ScalarKind::String);
  EXPECT_EQ(kindOf("'5'"), ScalarKind::String);
  EXPECT_EQ(kindOf("1.5"), ScalarKind::Float);
  EXPECT_EQ(kindOf(".inf"), ScalarKind::Float);
  EXPECT_EQ(kindOf("yes"), ScalarKind::Bool);
  EXPECT_EQ(kindOf("Off"), ScalarKind::Bool);
  EXPECT_EQ(kindOf("~"), ScalarKind::Null);
  EXPECT_EQ(kindOf(""), ScalarKind::Null);
  EXPECT_EQ(kindOf("Enabled"), ScalarKind::String);
  EXPECT_EQ(kindOf("localhost:9092"), ScalarKind::String);
  EXPECT_EQ(kindOf("[1]"), ScalarKind::Sequence);
  EXPECT_EQ(kindOf("{a: 1}"), ScalarKind::Map);
  EXPECT_EQ(kindOf("!!str 5"), ScalarKind::String);
}

struct Parsed {
  bool ok;
  int64_t value;
  std::vector<std::string> messages;
};

Parsed parseInteger(const std::string& yaml, int64_t min, int64_t max) {
  Diagnostics diagnostics;
  ParseContext ctx(diagnostics, "f.yaml");
  YAML::Node root = YAML::Load("v: " + yaml);
  Site at{root["v"], root["v"].Mark(), "v"};
  int64_t value = -1;
  bool ok = integer(min, max).parse(at, ctx, value);
  Parsed out{ok, value, {}};
  for (const auto& d : diagnostics.items()) out.messages.push_back(d.format());
  return out;
}

TEST(Integer, AcceptsRangeBoundsAndRejectsOutside) {
  EXPECT_EQ(parseInteger("0", 0, 65535).value, 0);
  EXPECT_EQ(parseInteger("65535", 0, 65535).value, 65535);
  EXPECT_EQ(parseInteger("0x10", 0, 65535).value, 16);
  EXPECT_EQ(parseInteger("1_000", 0, 65535).value, 1000);
  Parsed over = parseInteger("65536", 0, 65535);
  EXPECT_FALSE(over.ok);
  ASSERT_EQ(over.messages.size(), 1u);
  EXPECT_EQ(over.messages[0],
            "f.yaml:1:4: v: 65536 is out of range; expected an integer from 0 to 65535");
  EXPECT_FALSE(parseInteger("99999999999999999999999", 0, 10).ok);
  EXPECT_FALSE(parseInteger("-1", 0, 10).ok);
}

TEST(Integer, RejectsOtherTypesNamingThem) {
  EXPECT_EQ(parseInteger("\"5\"", 0, 9).messages.at(0),
            "f.yaml:1:4: v: expected an integer from 0 to 9, got string \"5\"");
  EXPECT_EQ(parseInteger("1.5", 0, 9).messages.at(0),
            "f.yaml:1:4: v: expected an integer from 0 to 9, got number 1.5");
  EXPECT_EQ(parseInteger("[1]", 0, 9).messages.at(0),
            "f.yaml:1:4: v: expected an integer from 0 to 9, got a list");
}

TEST(Nearest, SuggestsCloseNamesOnly) {
  EXPECT_EQ(nearest("latencyMS", {"mode", "latencyMs", "maxBytes"}), "latencyMs");
  EXPECT_EQ(nearest("hots", {"host", "tls"}), "host");
  EXPECT_EQ(nearest("completelyDifferent", {"host", "tls"}), "");
}

TEST(Defaults, EndpointDefaultsMatchTheApiReference) {
  KafkaSettings k;
  Diagnostics diagnostics;
  ParseContext ctx(diagnostics, "f.yaml");
  YAML::Node root = YAML::Load(
      "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
      "metadata: {name: kafka}\nspec:\n  endpointType: Kafka\n  kafkaSettings:\n"
      "    host: h:1\n    authentication: {method: Anonymous}\n");
  DataflowEndpoint parsed;
  ASSERT_TRUE(endpointSchema().parse(Site{root, root.Mark(), ""}, ctx, parsed));
  k = *parsed.spec.kafka;
  EXPECT_EQ(k.batching.mode, OperationalMode::Enabled);
  EXPECT_EQ(k.batching.latency_ms, 5);
  EXPECT_EQ(k.batching.max_bytes, 1000000);
  EXPECT_EQ(k.batching.max_messages, 100000);
  EXPECT_EQ(k.copy_mqtt_properties, OperationalMode::Enabled);
  EXPECT_EQ(k.compression, Compression::None);
  EXPECT_EQ(k.kafka_acks, KafkaAcks::All);
  EXPECT_EQ(k.partition_strategy, PartitionStrategy::Default);
  EXPECT_EQ(k.tls.mode, OperationalMode::Enabled);
  EXPECT_FALSE(k.cloud_event_attributes.has_value());
  EXPECT_FALSE(k.consumer_group_id.has_value());
}

TEST(Defaults, MqttAndProfileDefaultsMatchTheApiReference) {
  Diagnostics diagnostics;
  ParseContext ctx(diagnostics, "f.yaml");
  YAML::Node root = YAML::Load(
      "apiVersion: connectivity.iotoperations.azure.com/v1beta1\nkind: DataflowEndpoint\n"
      "metadata: {name: mqtt}\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
      "    authentication: {method: ServiceAccountToken, serviceAccountTokenSettings: "
      "{audience: aio-internal}}\n");
  DataflowEndpoint parsed;
  ASSERT_TRUE(endpointSchema().parse(Site{root, root.Mark(), ""}, ctx, parsed));
  const MqttSettings& m = *parsed.spec.mqtt;
  EXPECT_EQ(m.host, "aio-broker:18883");
  EXPECT_EQ(m.protocol, MqttProtocol::Mqtt);
  EXPECT_EQ(m.keep_alive_seconds, 60);
  EXPECT_EQ(m.retain, MqttRetain::Keep);
  EXPECT_EQ(m.max_inflight_messages, 100);
  EXPECT_EQ(m.qos, 1);
  EXPECT_EQ(m.session_expiry_seconds, 600);
  EXPECT_EQ(m.authentication.service_account_token->audience, "aio-internal");

  YAML::Node profile = YAML::Load(
      "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowProfile\n"
      "metadata: {name: default}\nspec: {}\n");
  DataflowProfile parsed_profile;
  ASSERT_TRUE(profileSchema().parse(Site{profile, profile.Mark(), ""}, ctx, parsed_profile));
  EXPECT_EQ(parsed_profile.spec.instance_count, 1);
  EXPECT_EQ(parsed_profile.spec.diagnostics.logs.level, "info");
  EXPECT_EQ(parsed_profile.spec.diagnostics.metrics.prometheus_port, 9600);
  EXPECT_FALSE(diagnostics.hasErrors());
}

TEST(CrdSchema, CarriesEnumsDefaultsRangesAndRequired) {
  nlohmann::json crd = customResourceDefinition("DataflowEndpoint");
  const auto& spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
  const auto& kafka = spec["properties"]["kafkaSettings"];
  EXPECT_EQ(kafka["required"], nlohmann::json({"host", "authentication"}));
  EXPECT_EQ(kafka["properties"]["compression"]["enum"],
            nlohmann::json({"None", "Gzip", "Snappy", "Lz4", "Zstd"}));
  EXPECT_EQ(kafka["properties"]["compression"]["default"], "None");
  const auto& latency = kafka["properties"]["batching"]["properties"]["latencyMs"];
  EXPECT_EQ(latency["minimum"], 0);
  EXPECT_EQ(latency["maximum"], 65535);
  EXPECT_EQ(latency["default"], 5);
  EXPECT_EQ(spec["properties"]["endpointType"]["enum"], nlohmann::json({"Kafka", "Mqtt"}));
  EXPECT_EQ(crd["spec"]["versions"][0]["name"], "v1");
  EXPECT_EQ(crd["spec"]["versions"][1]["name"], "v1beta1");
  EXPECT_TRUE(crd["spec"]["versions"][0]["storage"].get<bool>());
  EXPECT_FALSE(crd["spec"]["versions"][1]["storage"].get<bool>());
}

}  // namespace
}  // namespace dataflow::config
