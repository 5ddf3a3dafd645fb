// A small synchronous MQTT v5 client for tests, on paho.mqtt.cpp.
//
// It shares paho's process-wide threads and lock with any paho client under test in the same
// process. MqttSource never blocks paho's thread (its handler runs on a worker thread), so this
// client keeps working while a source's handler is blocked; a test that must publish many
// messages fast still uses a child process (mosquitto_pub), which pipelines them.
#pragma once

#include <mqtt/async_client.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dataflow::testing {

class MqttTestClient {
 public:
  // Connects to `address` ("127.0.0.1:PORT") and waits for the CONNACK. Throws mqtt::exception
  // or std::runtime_error on failure or after 10 s.
  MqttTestClient(std::string address, std::string client_id, bool clean_start = true,
                 uint32_t session_expiry = 0);
  ~MqttTestClient();  // disconnects
  MqttTestClient(const MqttTestClient&) = delete;
  MqttTestClient& operator=(const MqttTestClient&) = delete;

  // Publishes and, for QoS 1, waits for the PUBACK. Throws on failure or after 10 s.
  void publish(const std::string& topic, const std::string& payload, int qos,
               const ::mqtt::properties& props = {}, bool retain = false);
  // Subscribes and waits for the SUBACK; throws if refused.
  void subscribe(const std::string& filter, int qos);
  // Waits until `count` messages arrived since the last call (or `timeout` passed) and returns
  // them in arrival order: fewer than `count` on timeout.
  std::vector<::mqtt::const_message_ptr> receive(size_t count, std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<::mqtt::async_client> client_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<::mqtt::const_message_ptr> messages_;  // guarded by mutex_
};

}  // namespace dataflow::testing
