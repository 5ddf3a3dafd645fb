// An independent MQTT v5 observer for the e2e tests: `mosquitto_sub -V 5 -d` as a child process,
// printing one tab-separated line per message with the retain flag, QoS, topic, every PUBLISH
// property and the payload. With a client id it keeps a persistent session (Clean Start 0, no
// expiry) and, being mosquitto_sub, reconnects by itself after a broker restart.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/process.h"

namespace dataflow::testing {

struct ObservedMessage {
  bool retain = false;
  int qos = 0;
  std::string topic;
  std::optional<uint32_t> expiry;  // Message Expiry Interval
  std::string content_type;
  std::string response_topic;
  std::string correlation_data;
  std::string payload_format;
  // mosquitto_sub prints user properties as "name:value" separated by spaces, in order.
  std::vector<std::pair<std::string, std::string>> user_properties;
  std::string payload;

  // The value of the first user property named `name`, if any.
  std::optional<std::string> property(const std::string& name) const;
  // Every user property as "name=value", in order.
  std::vector<std::string> propertyList() const;
};

class MqttWatcher {
 public:
  // Subscribes to `filter` at QoS 1 on 127.0.0.1:`port` and returns once the SUBACK arrived.
  // An empty `client_id` gives a clean, non-persistent session. Output goes to `log_path`.
  MqttWatcher(int port, std::string filter, std::string log_path, std::string client_id = {});
  ~MqttWatcher();

  // Every message received so far, in arrival order.
  std::vector<ObservedMessage> messages() const;
  // Waits until at least `count` messages arrived or `timeout` passed; returns them all.
  std::vector<ObservedMessage> waitFor(size_t count, std::chrono::milliseconds timeout) const;
  std::string log() const { return process_->log(); }

 private:
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace dataflow::testing
