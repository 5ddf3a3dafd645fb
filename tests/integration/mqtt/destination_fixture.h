// Shared pieces of the MqttDestination integration tests: a delivery handler that records every
// report, and a fixture that builds destinations through the real factory (plus sources, from
// MqttSourceTest) against mosquitto brokers started on free loopback ports.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "connectors/mqtt/mqtt_destination.h"
#include "tests/integration/mqtt/source_fixture.h"
#include "tests/support/mqtt_client.h"

namespace dataflow::mqtt::testing {

// Records each report by token sequence. onDelivery runs on paho's thread or the destination's
// publisher thread; the rest on the test thread.
class RecordingDelivery final : public DeliveryHandler {
 public:
  void onDelivery(const AckToken& token, const Status& status) override {
    std::lock_guard lock(mutex_);
    ++reports_[token.sequence];
    (status.isOk() ? ok_ : refused_) += 1;
    if (!status.isOk()) refusals_.push_back(status.message());
  }
  void onExpired(const AckToken& token) override {
    std::lock_guard lock(mutex_);
    ++reports_[token.sequence];
    ++expired_;
  }
  void onFailure(const Status& reason) override {
    std::lock_guard lock(mutex_);
    failures_.push_back(reason.message());
  }
  size_t expired() {
    std::lock_guard lock(mutex_);
    return expired_;
  }
  std::vector<std::string> failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  size_t ok() {
    std::lock_guard lock(mutex_);
    return ok_;
  }
  size_t refused() {
    std::lock_guard lock(mutex_);
    return refused_;
  }
  std::vector<std::string> refusals() {
    std::lock_guard lock(mutex_);
    return refusals_;
  }
  // Tokens reported more than once (must stay empty: each message is reported exactly once).
  size_t reportedTwice() {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& [sequence, count] : reports_) n += count > 1 ? 1 : 0;
    return n;
  }

 private:
  std::mutex mutex_;
  std::map<uint64_t, size_t> reports_;  // guarded by mutex_
  size_t ok_ = 0;                       // guarded by mutex_
  size_t refused_ = 0;                  // guarded by mutex_
  std::vector<std::string> refusals_;   // guarded by mutex_
  size_t expired_ = 0;                  // guarded by mutex_
  std::vector<std::string> failures_;   // guarded by mutex_
};

// A message with only what a destination needs.
inline Message message(const std::string& topic, const std::string& payload,
                       uint64_t sequence = 0) {
  Message m;
  m.topic = topic;
  m.payload = payload;
  m.ack.sequence = sequence;
  return m;
}

struct DestinationOptions {
  int qos = 1;
  int max_inflight = 100;
  size_t max_messages = 10'000;
  size_t max_bytes = 16u << 20;
};

class MqttDestinationTest : public MqttSourceTest {
 protected:
  // A destination through the real factory (Anonymous, TLS off, session expiry 600 s).
  std::unique_ptr<MqttDestination> makeDestination(const std::string& address,
                                                   const std::string& client_id,
                                                   DestinationOptions options = {}) {
    runtime::DestinationSpec spec;
    spec.context =
        contextFor(addEndpoint("target", address, options.qos, options.max_inflight), client_id);
    spec.limits.max_messages = options.max_messages;
    spec.limits.max_bytes = options.max_bytes;
    Result<std::unique_ptr<Destination>> destination = createDestination(spec);
    EXPECT_TRUE(destination.isOk()) << destination.status().message();
    if (!destination.isOk()) return nullptr;
    return std::unique_ptr<MqttDestination>(
        dynamic_cast<MqttDestination*>(std::move(destination).value().release()));
  }
};

// Receives from `client` until `expected` distinct payloads arrived or `timeout`; returns every
// payload received, duplicates included, in arrival order.
inline std::vector<std::string> receiveDistinct(dataflow::testing::MqttTestClient& client,
                                                size_t expected,
                                                std::chrono::milliseconds timeout) {
  std::vector<std::string> all;
  std::set<std::string> distinct;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (distinct.size() < expected && std::chrono::steady_clock::now() < deadline) {
    for (const ::mqtt::const_message_ptr& m :
         client.receive(expected - distinct.size(), std::chrono::milliseconds(200))) {
      all.push_back(m->get_payload());
      distinct.insert(m->get_payload());
    }
  }
  return all;
}

}  // namespace dataflow::mqtt::testing
