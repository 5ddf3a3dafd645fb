// MQTT over WebSockets (protocol: WebSockets), plain (ws://) and over TLS (wss://, the broker
// verified with the CA of a trust ConfigMap), through ws_proxy.py in front of mosquitto.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/mqtt/security_fixture.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/protocol_fronts.h"

namespace dataflow::mqtt::testing {
namespace {

using dataflow::testing::MqttTestClient;
using dataflow::testing::WebSocketProxy;

class MqttWebSocketsTest : public MqttSecurityTest {
 protected:
  // An endpoint for `address` with protocol WebSockets; TLS with the CA ConfigMap when `tls`.
  config::DataflowEndpoint& wsEndpoint(const std::string& address, bool tls) {
    config::DataflowEndpoint& endpoint = addEndpoint("broker", address, 1, 100);
    endpoint.spec.mqtt->protocol = config::MqttProtocol::WebSockets;
    if (tls) {
      trustConfigMap("ca", pki_.caCertificate());
      enableTls(endpoint, "ca");
    }
    return endpoint;
  }

  // A source and a destination on `endpoint`: what the destination publishes to topic/out comes
  // back through the source subscribed to it, and what a plain client publishes arrives too.
  void expectBothDirections(const config::DataflowEndpoint& endpoint) {
    RecordingHandler handler;
    std::unique_ptr<Source> source = sourceFor(endpoint, randomName("src-"), {topic_ + "/#"});
    ASSERT_NE(source, nullptr);
    startAndWait(*source, handler);
    std::unique_ptr<Destination> destination = destinationFor(endpoint, randomName("dst-"));
    ASSERT_NE(destination, nullptr);
    RecordingDelivery delivery;
    ASSERT_TRUE(destination->start(delivery).isOk());
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(destination->send(message(topic_ + "/out", std::to_string(i), i)).isOk());
    }
    MqttTestClient publisher(broker_.address(), randomName("pub-"));
    publisher.publish(topic_ + "/in", "from a tcp client", 1);
    EXPECT_TRUE(waitFor([&] { return handler.count() == 51; }, kWait)) << handler.count();
    EXPECT_TRUE(waitFor([&] { return delivery.ok() == 50; }, kWait));
    EXPECT_TRUE(sink_->contains(
        endpoint.spec.mqtt->tls.mode == config::OperationalMode::Enabled ? "wss://" : "ws://"));
    destination->close();
    source->close();
  }

  MqttPki pki_;
  Mosquitto broker_;
};

TEST_F(MqttWebSocketsTest, SourceAndDestinationWorkOverPlainWebSockets) {
  WebSocketProxy proxy(broker_.port());
  expectBothDirections(wsEndpoint(proxy.address(), /*tls=*/false));
}

TEST_F(MqttWebSocketsTest, SourceAndDestinationWorkOverWebSocketsWithTls) {
  WebSocketProxy proxy(broker_.port(), pki_.server().certificate, pki_.server().key);
  expectBothDirections(wsEndpoint(proxy.address(), /*tls=*/true));
}

TEST_F(MqttWebSocketsTest, APathInTheHostIsTheWebSocketPath) {
  WebSocketProxy proxy(broker_.port());
  expectBothDirections(wsEndpoint(proxy.address() + "/custom/mqtt", /*tls=*/false));
  EXPECT_THAT(proxy.log(), ::testing::HasSubstr("request path /custom/mqtt"));
}

}  // namespace
}  // namespace dataflow::mqtt::testing
