// The Python protocol fronts of tests/support started as child processes on a free loopback port
// in front of a mosquitto: a WebSocket-to-TCP proxy (ws_proxy.py) and an MQTT v5 enhanced
// authentication front (mqtt_auth_front.py). Each constructor returns once the front accepts TCP;
// it throws std::runtime_error (with the front's output) if it does not within 10 s.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace dataflow::testing {

class WebSocketProxy {
 public:
  // wss:// when `certificate` and `key` are given, else ws://.
  WebSocketProxy(int upstream_port, const std::string& certificate = "",
                 const std::string& key = "");
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The proxy's output: a line "request path /PATH" per WebSocket connection.
  std::string log() const { return process_->log(); }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// One decision of the auth front, from its record file.
struct AuthEvent {
  std::string event;  // "accepted", "bad_method", "not_authorized", "expired"
  std::string client_id;
  std::string label;  // the accepted token's label (never the token)
};

class MqttAuthFront {
 public:
  MqttAuthFront(int upstream_port, const std::string& method);
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Replaces the accepted tokens: each {label, token, expires_unix_seconds or 0 for never}.
  struct Token {
    std::string label;
    std::string token;
    double expires = 0;
  };
  void setTokens(const std::vector<Token>& tokens);
  std::vector<AuthEvent> events() const;
  size_t count(const std::string& event, const std::string& label = "") const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace dataflow::testing
