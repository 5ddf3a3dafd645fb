// What a source or destination says about its connection, for the metrics and /readyz: whether
// it is up, why not when it is not, and how often it connected, lost its connection, sent
// messages again or re-created its client. Pure data; no client library header here.
#pragma once

#include <cstdint>
#include <string>

namespace dataflow {

enum class ConnectionState : uint8_t {
  Connecting,            // not up yet or lost: retrying with backoff (`problem` says why, if known)
  Connected,             // up
  AuthenticationFailed,  // the broker refused our credentials or certificate; retrying
};
const char* toString(ConnectionState state);  // "connecting", "connected", "authentication_failed"

struct ConnectionHealth {
  ConnectionState state = ConnectionState::Connecting;
  // The latest connection failure, one sentence for an operator, never a secret. Empty when
  // unknown; meaningless while Connected.
  std::string problem;

  // Counters since the connector was created (the runtime sums them across rebuilds).
  uint64_t connection_attempts = 0;  // connects tried, successful or not (Kafka: per broker)
  uint64_t disconnects = 0;          // connections that were up and went down unasked
  uint64_t messages_resent = 0;      // destinations: messages sent again after a failed attempt
  uint64_t request_retries = 0;      // Kafka: requests librdkafka sent again (its txretries)
  uint64_t client_restarts = 0;      // the client library's instance re-created after a fatal error

  // Adds the counters of `other` (the state and problem stay this one's).
  ConnectionHealth& addCounters(const ConnectionHealth& other) {
    connection_attempts += other.connection_attempts;
    disconnects += other.disconnects;
    messages_resent += other.messages_resent;
    request_retries += other.request_retries;
    client_restarts += other.client_restarts;
    return *this;
  }
};

inline const char* toString(ConnectionState state) {
  switch (state) {
    case ConnectionState::Connecting:
      return "connecting";
    case ConnectionState::Connected:
      return "connected";
    case ConnectionState::AuthenticationFailed:
      return "authentication_failed";
  }
  return "unknown";
}

// The health of a connector that is up, or else is retrying after `problem` (an authentication
// failure or any other). Counters left at zero.
inline ConnectionHealth healthOf(bool connected, bool authentication_failed = false,
                                 std::string problem = {}) {
  ConnectionHealth h;
  if (connected) {
    h.state = ConnectionState::Connected;
  } else {
    h.state = authentication_failed ? ConnectionState::AuthenticationFailed
                                    : ConnectionState::Connecting;
    h.problem = std::move(problem);
  }
  return h;
}

}  // namespace dataflow
