// A scripted MQTT v5 broker for the tests of our client: what mosquitto cannot be made to do on
// demand (CONNACK and PUBACK reason codes, AUTH exchanges, malformed packets, oversize packets,
// withholding PUBACKs, Session Present as the test says). The test drives it step by step from its
// own thread: accept a connection, read the next packet the client sent (decoded by the codec,
// FromClient), send a packet or raw bytes. Blocking sockets on 127.0.0.1 and a port picked by the
// kernel; every wait has a deadline and fails the read instead of hanging.
//
// Packets it sends are encoded by the codec under test, which its own tests check byte for byte
// against hand-written packets and python3-paho-mqtt's encoder; raw bytes cover what the codec
// would refuse to produce.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "connectors/mqtt/wire/codec.h"

namespace dataflow::testing {

namespace wire = dataflow::mqtt::wire;

class ScriptedMqttBroker {
 public:
  static constexpr std::chrono::milliseconds kWait{10'000};

  ScriptedMqttBroker();  // listens on 127.0.0.1:0
  ~ScriptedMqttBroker();
  ScriptedMqttBroker(const ScriptedMqttBroker&) = delete;
  ScriptedMqttBroker& operator=(const ScriptedMqttBroker&) = delete;

  uint16_t port() const { return port_; }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

  // Waits for the next connection (closing the current one). False after kWait.
  bool accept();
  // The next whole packet the client sent on the current connection; nullopt when the client
  // closed it, on a decode error (`error()` says which), or after `wait`.
  std::optional<wire::Packet> read(std::chrono::milliseconds wait = kWait);
  // read(), expecting a packet of type T; nullopt otherwise (with `error()` set).
  template <class T>
  std::optional<T> readAs(std::chrono::milliseconds wait = kWait) {
    std::optional<wire::Packet> p = read(wait);
    if (!p) return std::nullopt;
    if (T* t = std::get_if<T>(&*p)) return std::move(*t);
    error_ = "another packet type than expected";
    return std::nullopt;
  }
  // Accepts a connection and reads its CONNECT; then sends `connack`.
  std::optional<wire::Connect> acceptAndConnect(const wire::Connack& connack = {});
  // Reads a SUBSCRIBE and grants every filter the QoS asked.
  bool grantSubscribe();

  void send(const wire::Packet& packet);
  void sendRaw(const std::string& bytes);
  // Closes the current connection (no DISCONNECT).
  void drop();
  // Waits until the client closed the current connection (read returns EOF). False after kWait.
  bool awaitClose();

  const std::string& error() const { return error_; }

 private:
  int listen_fd_ = -1;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string buffer_;
  std::string error_;
};

}  // namespace dataflow::testing
