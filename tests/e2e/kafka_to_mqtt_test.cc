// Kafka -> MQTT through the built binary: kcat produces records with keys and arbitrary headers,
// an independent mosquitto_sub (tests/e2e/mqtt_watcher.h) checks what the MQTT messages carry.
#include <gmock/gmock.h>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/mqtt_watcher.h"

namespace dataflow::testing {
namespace {

using ::testing::ElementsAre;

int64_t wallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class KafkaToMqtt : public EngineE2E {
 protected:
  void SetUp() override {
    EngineE2E::SetUp();
    createTopic(1);
  }
  std::unique_ptr<MqttWatcher> watch(const std::string& filter = "out/#") {
    return std::make_unique<MqttWatcher>(mosquitto_->port(), filter, dir_->file("watch.log"));
  }
};

TEST_F(KafkaToMqtt, EveryPropertyTranslationRowAndTheUtf8And64KbRules) {
  writeManifests(FlowSpec().from("kafka").into("mqtt", "out/${inputTopic}"));
  auto watcher = watch();
  startEngine();
  const int64_t before = wallNowMs();
  produce({"payload one"}, {"-k", "machine-7",                                  //
                            "-H", "a=1",                                        //
                            "-H", "b=2",                                        //
                            "-H", "a=3",                                        //
                            "-H", "binary=\xff\xfe not UTF-8",                  //
                            "-H", "big=" + std::string(70'000, 'x'),            //
                            "-H", "exactly-limit=" + std::string(65'535, 'y'),  //
                            "-H", "c=4"});
  auto messages = watcher->waitFor(1, kDeadline);
  ASSERT_EQ(messages.size(), 1u) << watcher->log();
  const ObservedMessage& m = messages[0];
  EXPECT_EQ(m.topic, "out/" + topic()) << "${inputTopic} is the Kafka topic";
  EXPECT_EQ(m.payload, "payload one");
  EXPECT_EQ(m.qos, 1);
  EXPECT_FALSE(m.retain);
  const std::vector<std::string> properties = m.propertyList();
  ASSERT_EQ(properties.size(), 7u) << ::testing::PrintToString(properties);
  // Key and Timestamp first (the seed's table), then the headers in order with the duplicate;
  // the non-UTF-8 and the >= 64 KB header are removed, the rest forwarded.
  EXPECT_EQ(properties[0], "Key=machine-7");
  ASSERT_TRUE(properties[1].starts_with("Timestamp="));
  const int64_t timestamp = std::stoll(properties[1].substr(10));
  EXPECT_GE(timestamp, before - 1000);
  EXPECT_LE(timestamp, wallNowMs());
  EXPECT_THAT(std::vector(properties.begin() + 2, properties.end()),
              ElementsAre("a=1", "b=2", "a=3", "exactly-limit=" + std::string(65'535, 'y'), "c=4"));
  EXPECT_EQ(stopEngine(), 0);
  EXPECT_THAT(engineLog(), ::testing::HasSubstr("removed"));
}

TEST_F(KafkaToMqtt, ARecordWithoutKeyHasNoKeyProperty) {
  writeManifests(FlowSpec().from("kafka").into("mqtt", "out/fixed"));
  auto watcher = watch();
  startEngine();
  produce({"no key"});
  auto messages = watcher->waitFor(1, kDeadline);
  ASSERT_EQ(messages.size(), 1u) << watcher->log();
  EXPECT_EQ(messages[0].topic, "out/fixed");
  EXPECT_FALSE(messages[0].property("Key").has_value());
  EXPECT_TRUE(messages[0].property("Timestamp").has_value());
}

TEST_F(KafkaToMqtt, CloudEventsPropagateMovesTheKafkaBindingToTheMqttBinding) {
  writeManifests(FlowSpec()
                     .from("kafka")
                     .into("mqtt", "out/events")
                     .mqtt("    cloudEventAttributes: Propagate\n"));
  auto watcher = watch();
  startEngine();
  produce({"{}"},
          {"-H", "ce_specversion=1.0", "-H", "ce_type=com.example.reading", "-H",
           "ce_source=urn:plant", "-H", "ce_id=event-1", "-H", "content-type=application/json"});
  auto messages = watcher->waitFor(1, kDeadline);
  ASSERT_EQ(messages.size(), 1u) << watcher->log();
  const ObservedMessage& m = messages[0];
  EXPECT_EQ(m.property("specversion"), "1.0");
  EXPECT_EQ(m.property("type"), "com.example.reading");
  EXPECT_EQ(m.property("source"), "urn:plant");
  EXPECT_EQ(m.property("id"), "event-1");
  EXPECT_EQ(m.content_type, "application/json");
  EXPECT_FALSE(m.property("ce_id").has_value());
}

TEST_F(KafkaToMqtt, CloudEventsCreateOrRemapGeneratesTheMissingAttributes) {
  writeManifests(FlowSpec()
                     .from("kafka")
                     .into("mqtt", "out/events")
                     .mqtt("    cloudEventAttributes: CreateOrRemap\n"));
  auto watcher = watch();
  startEngine();
  produce({"{}", "{}"});
  auto messages = watcher->waitFor(2, kDeadline);
  ASSERT_EQ(messages.size(), 2u) << watcher->log();
  for (const ObservedMessage& m : messages) {
    EXPECT_EQ(m.property("specversion"), "1.0");
    EXPECT_EQ(m.property("type"), "ms.aio-dataflow.telemetry");
    EXPECT_EQ(m.property("source"), "aio://mqtt");
    EXPECT_EQ(m.property("subject"), "out/events");
    EXPECT_TRUE(m.property("time").has_value());
  }
  ASSERT_TRUE(messages[0].property("id") && messages[1].property("id"));
  EXPECT_NE(*messages[0].property("id"), *messages[1].property("id"));
}

TEST_F(KafkaToMqtt, ALargerRecordThanTheBrokerAcceptsIsDroppedAndTheRestFlow) {
  mosquitto_->stop();
  // Rewrite the broker's configuration with a packet size limit: a new broker on a new port.
  Mosquitto::Options options;
  options.extra_config = "max_packet_size 2000\n";
  mosquitto_ = std::make_unique<Mosquitto>(options);
  writeManifests(FlowSpec().from("kafka").into("mqtt", "out/sized"));
  auto watcher = watch();
  startEngine();
  produce({"small-1", std::string(5000, 'L'), "small-2"});
  auto messages = watcher->waitFor(2, kDeadline);
  ASSERT_EQ(messages.size(), 2u) << watcher->log();
  EXPECT_EQ(messages[0].payload, "small-1");
  EXPECT_EQ(messages[1].payload, "small-2");
  EXPECT_EQ(stopEngine(), 0);
  EXPECT_THAT(engineLog(), ::testing::HasSubstr("Maximum Packet Size"));
  EXPECT_THAT(engineLog(), ::testing::Not(::testing::HasSubstr("connection to")))
      << "the oversized record must not cost the connection";
}

}  // namespace
}  // namespace dataflow::testing
