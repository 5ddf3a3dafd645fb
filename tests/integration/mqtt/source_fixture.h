// Shared pieces of the MqttSource integration tests: a handler that records and can block, a log
// sink the tests can wait on, and a fixture that builds sources through the real factory against
// a mosquitto started on a free loopback port.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "connectors/mqtt/mqtt_factory.h"
#include "connectors/mqtt/mqtt_source.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/mosquitto.h"
#include "tests/support/random_name.h"
#include "tests/support/wait.h"

namespace dataflow::mqtt::testing {

using dataflow::testing::CapturingSink;
using dataflow::testing::randomName;
using dataflow::testing::waitFor;
using namespace std::chrono_literals;

inline constexpr std::chrono::milliseconds kWait = 15s;

// Records every message and acknowledges it to the source, as the runtime does once the
// destination has it; while blocked, onMessage waits (like a destination at its bound).
// onMessage runs on the source's worker thread; the rest on the test thread.
class RecordingHandler final : public MessageHandler {
 public:
  // The source whose messages this handler acknowledges (startAndWait sets it).
  void ackTo(Source& source) { source_ = &source; }
  void onMessage(Message&& message) override {
    const AckToken token = message.ack;
    {
      std::unique_lock lock(mutex_);
      ++entered_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return !blocked_; });
      capacities_.push_back(message.properties.capacity());
      messages_.push_back(std::move(message));
    }
    if (source_ != nullptr) source_->ack(token);
  }
  void onFailure(const Status& reason) override {
    std::lock_guard lock(mutex_);
    failures_.push_back(reason.message());
  }
  std::vector<std::string> failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  void block() {
    std::lock_guard lock(mutex_);
    blocked_ = true;
  }
  void unblock() {
    {
      std::lock_guard lock(mutex_);
      blocked_ = false;
    }
    changed_.notify_all();
  }
  size_t entered() {
    std::lock_guard lock(mutex_);
    return entered_;
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }
  std::vector<Message> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  // Message::properties.capacity() of each message as the source handed it over.
  std::vector<size_t> capacities() {
    std::lock_guard lock(mutex_);
    return capacities_;
  }
  std::vector<std::string> payloads() {
    std::vector<std::string> out;
    for (const Message& m : messages()) out.push_back(m.payload);
    return out;
  }

 private:
  Source* source_ = nullptr;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool blocked_ = false;            // guarded by mutex_
  size_t entered_ = 0;              // guarded by mutex_
  std::vector<Message> messages_;   // guarded by mutex_
  std::vector<size_t> capacities_;  // guarded by mutex_
  std::vector<std::string> failures_;  // guarded by mutex_
};

class MqttSourceTest : public ::testing::Test {
 protected:
  MqttSourceTest()
      : sink_(std::make_shared<CapturingSink>()),
        logger_(std::make_shared<spdlog::logger>(
            "mqtt-source-test",
            spdlog::sinks_init_list{sink_, std::make_shared<spdlog::sinks::stderr_sink_mt>()})),
        topic_(randomName("test/")) {}

  // An MQTT endpoint the fixture keeps alive: Anonymous, TLS off, keep alive 60 s, session
  // expiry 600 s, for the broker at `address`.
  config::DataflowEndpoint& addEndpoint(const std::string& name, const std::string& address,
                                              int64_t qos, int64_t max_inflight) {
    auto endpoint = std::make_unique<config::DataflowEndpoint>();
    endpoint->metadata.name = name;
    endpoint->spec.endpoint_type = config::EndpointType::Mqtt;
    config::MqttSettings& mqtt = endpoint->spec.mqtt.emplace();
    mqtt.host = address;
    mqtt.authentication.method = config::AuthMethod::Anonymous;
    mqtt.keep_alive_seconds = 60;
    mqtt.max_inflight_messages = max_inflight;
    mqtt.qos = qos;
    mqtt.session_expiry_seconds = 600;
    mqtt.tls.mode = config::OperationalMode::Disabled;
    endpoints_.push_back(std::move(endpoint));
    return *endpoints_.back();
  }

  // What the runtime would give a connector for `endpoint`, with the fixture's files, clock and
  // capturing logger.
  runtime::ConnectorContext contextFor(const config::DataflowEndpoint& endpoint,
                                       const std::string& client_id) {
    runtime::ConnectorContext context;
    context.endpoint = &endpoint;
    context.files = &files_;
    context.clock = &clock_;
    context.logger = logger_;
    context.client_id = client_id;
    return context;
  }

  // A source for `topics` through the real factory (QoS 1, maxInflightMessages 100), for the
  // broker at `address`.
  std::unique_ptr<Source> makeSource(const std::string& address, const std::string& client_id,
                                     std::vector<std::string> topics) {
    runtime::SourceSpec spec;
    spec.context = contextFor(addEndpoint("broker", address, 1, 100), client_id);
    spec.topics = std::move(topics);
    Result<std::unique_ptr<Source>> source = createSource(spec);
    EXPECT_TRUE(source.isOk()) << source.status().message();
    return source.isOk() ? std::move(source).value() : nullptr;
  }

  // An MqttSource for `topic_` made directly (not through the factory), with `limits` as its
  // hand-off queue's watermarks.
  std::unique_ptr<MqttSource> watermarkedSource(const ClientSettings& settings,
                                                QueueLimits limits) {
    Result<std::unique_ptr<MqttSource>> created =
        MqttSource::create(settings, {topic_}, clock_, logger_, limits);
    EXPECT_TRUE(created.isOk()) << created.status().message();
    return created.isOk() ? std::move(created).value() : nullptr;
  }

  // Starts `source` with `handler` and waits until it is connected and subscribed.
  void startAndWait(Source& source, MessageHandler& handler) {
    if (auto* recording = dynamic_cast<RecordingHandler*>(&handler)) recording->ackTo(source);
    ASSERT_TRUE(source.start(handler).isOk());
    ASSERT_TRUE(waitFor([&] { return source.connected(); }, kWait)) << "never connected";
  }

  std::shared_ptr<CapturingSink> sink_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string topic_;
  config::MountedFiles files_;
  SystemClock clock_;
  std::vector<std::unique_ptr<config::DataflowEndpoint>> endpoints_;
};

}  // namespace dataflow::mqtt::testing
