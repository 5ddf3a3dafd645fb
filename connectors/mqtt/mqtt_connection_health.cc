// MqttConnection's account of itself for metrics and /readyz (mqtt_connection.h).
#include "connectors/mqtt/mqtt_connection.h"

namespace dataflow::mqtt {

void MqttConnection::recordFailure(const std::string& problem, bool authentication) {
  std::lock_guard lock(health_mutex_);
  problem_ = problem;
  authentication_failed_ = authentication;
}

void MqttConnection::recordConnected() {
  std::lock_guard lock(health_mutex_);
  problem_.clear();
  authentication_failed_ = false;
}

ConnectionHealth MqttConnection::health() const {
  ConnectionHealth h;
  if (connected_.load()) {
    h = healthOf(true);
  } else {
    std::lock_guard lock(health_mutex_);
    h = healthOf(false, authentication_failed_, problem_);
  }
  h.connection_attempts = connection_attempts_.load(std::memory_order_relaxed);
  h.disconnects = disconnects_.load(std::memory_order_relaxed);
  return h;
}

}  // namespace dataflow::mqtt
