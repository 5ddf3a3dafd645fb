// createSource / createDestination: what they refuse and what they build. No network: a source
// that is never started never connects.
#include "connectors/mqtt/mqtt_factory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dataflow::mqtt {
namespace {

using ::testing::HasSubstr;

class MqttFactoryTest : public ::testing::Test {
 protected:
  MqttFactoryTest() {
    endpoint_.metadata.name = "broker";
    endpoint_.spec.endpoint_type = config::EndpointType::Mqtt;
    config::MqttSettings mqtt;
    mqtt.host = "127.0.0.1:1";
    mqtt.authentication.method = config::AuthMethod::Anonymous;
    mqtt.keep_alive_seconds = 60;
    mqtt.max_inflight_messages = 100;
    mqtt.qos = 1;
    mqtt.session_expiry_seconds = 600;
    mqtt.tls.mode = config::OperationalMode::Disabled;
    endpoint_.spec.mqtt = mqtt;
    spec_.context.endpoint = &endpoint_;
    spec_.context.files = &files_;
    spec_.context.clock = &clock_;
    spec_.context.client_id = "dataflow-flow-0";
    spec_.topics = {"sensors/#"};
  }

  config::DataflowEndpoint endpoint_;
  config::MountedFiles files_;
  ManualClock clock_;
  runtime::SourceSpec spec_;
};

TEST_F(MqttFactoryTest, BuildsAnUnconnectedDestination) {
  runtime::DestinationSpec spec;
  spec.context = spec_.context;
  spec.context.client_id = "dataflow-flow-0-out";
  Result<std::unique_ptr<Destination>> destination = createDestination(spec);
  ASSERT_TRUE(destination.isOk()) << destination.status().message();
  EXPECT_FALSE(destination.value()->connected());
  EXPECT_EQ(destination.value()->flush(std::chrono::milliseconds(0)), 0u);
  destination.value()->close();
}

TEST_F(MqttFactoryTest, DestinationRefusesWhatTheSourceRefuses) {
  runtime::DestinationSpec spec;
  spec.context = spec_.context;
  endpoint_.spec.mqtt->authentication.method = config::AuthMethod::UserAssignedManagedIdentity;
  Result<std::unique_ptr<Destination>> destination = createDestination(spec);
  ASSERT_FALSE(destination.isOk());
  EXPECT_TRUE(destination.status().isFatal());
  EXPECT_THAT(destination.status().message(),
              HasSubstr("endpoint \"broker\": UserAssignedManagedIdentity needs "
                        "userAssignedManagedIdentitySettings"));
  EXPECT_THAT(createDestination(runtime::DestinationSpec{}).status().message(),
              HasSubstr("not an MQTT endpoint"));
}

TEST_F(MqttFactoryTest, BuildsAnUnconnectedSource) {
  Result<std::unique_ptr<Source>> source = createSource(spec_);
  ASSERT_TRUE(source.isOk()) << source.status().message();
  EXPECT_FALSE(source.value()->connected());
  source.value()->close();
}

TEST_F(MqttFactoryTest, RefusedSettingsNameTheEndpoint) {
  endpoint_.spec.mqtt->authentication.method = config::AuthMethod::UserAssignedManagedIdentity;
  Result<std::unique_ptr<Source>> source = createSource(spec_);
  ASSERT_FALSE(source.isOk());
  EXPECT_TRUE(source.status().isFatal());
  EXPECT_THAT(source.status().message(),
              HasSubstr("endpoint \"broker\": UserAssignedManagedIdentity needs "
                        "userAssignedManagedIdentitySettings with clientId and tenantId"));
}

TEST_F(MqttFactoryTest, NoTopicsOrNoMqttSettingsAreRefused) {
  spec_.topics.clear();
  EXPECT_THAT(createSource(spec_).status().message(), HasSubstr("at least one topic"));
  spec_.topics = {"t"};
  endpoint_.spec.mqtt.reset();
  EXPECT_THAT(createSource(spec_).status().message(), HasSubstr("not an MQTT endpoint"));
}

}  // namespace
}  // namespace dataflow::mqtt
