// Shared pieces of the Kafka integration tests: the mock cluster, a destination built from
// kafkaSettings the way the factory builds it, a recording DeliveryHandler and captured log lines.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_destination.h"
#include "connectors/kafka/kafka_settings.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/kafka/kafka_test_support.h"
#include "tests/support/random_name.h"
#include "tests/support/wait.h"

namespace dataflow::testing {

using namespace std::chrono_literals;

inline constexpr auto kDeadline = 30s;

struct Delivery {
  AckToken token;
  Status status;
};

// Records every onDelivery call; tests wait on it with a deadline.
class Recorder final : public DeliveryHandler {
 public:
  void onDelivery(const AckToken& token, const Status& status) override {
    std::lock_guard lock(mutex_);
    deliveries_.push_back({token, status});
    changed_.notify_all();
  }
  void onExpired(const AckToken& token) override {
    std::lock_guard lock(mutex_);
    expired_.push_back(token);
    changed_.notify_all();
  }
  void onFailure(const Status& reason) override {
    std::lock_guard lock(mutex_);
    failures_.push_back(reason.message());
  }
  // Waits until `count` messages are reported, delivered, refused or expired.
  bool waitForReports(size_t count, std::chrono::milliseconds timeout = kDeadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(
        lock, timeout, [&] { return deliveries_.size() + expired_.size() >= count; });
  }
  std::vector<AckToken> expired() const {
    std::lock_guard lock(mutex_);
    return expired_;
  }
  std::vector<std::string> failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  bool waitFor(size_t count, std::chrono::milliseconds timeout = kDeadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return deliveries_.size() >= count; });
  }
  std::vector<Delivery> deliveries() const {
    std::lock_guard lock(mutex_);
    return deliveries_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Delivery> deliveries_;
  std::vector<AckToken> expired_;
  std::vector<std::string> failures_;
};

class KafkaDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<CapturingSink>();
    logger_ = std::make_shared<spdlog::logger>("kafka-test", sink_);
    logger_->set_level(spdlog::level::debug);
    topic_ = randomName("it-");
  }
  void TearDown() override {
    if (!HasFailure() && !std::getenv("KAFKA_TEST_LOG")) return;
    for (const std::string& line : sink_->lines()) std::cerr << "  log: " << line << "\n";
  }

  // kafkaSettings of a plaintext, anonymous endpoint on the mock, with the schema's defaults.
  config::KafkaSettings settings() const {
    config::KafkaSettings s;
    s.host = kafka_.bootstrapServers();
    s.authentication.method = config::AuthMethod::Anonymous;
    s.batching = {config::OperationalMode::Enabled, 5, 1'000'000, 100'000};
    s.copy_mqtt_properties = config::OperationalMode::Enabled;
    s.compression = config::Compression::None;
    s.kafka_acks = config::KafkaAcks::All;
    s.tls.mode = config::OperationalMode::Disabled;
    return s;
  }

  std::unique_ptr<kafka::KafkaDestination> makeDestination(const config::KafkaSettings& s,
                                                           runtime::FlightLimits limits = {},
                                                           const Clock* clock = nullptr) {
    Result<kafka::ProducerConfig> config =
        kafka::producerConfig(s, config::MountedFiles(), limits, "kafka-destination-test");
    EXPECT_TRUE(config.isOk()) << config.status().message();
    return std::make_unique<kafka::KafkaDestination>(kafka::KafkaDestination::Options{
        std::move(config).value(), logger_, clock ? clock : &clock_, "kafka-test", nullptr});
  }
  std::unique_ptr<kafka::KafkaDestination> startDestination(runtime::FlightLimits limits = {}) {
    auto destination = makeDestination(settings(), limits);
    Status started = destination->start(recorder_);
    EXPECT_TRUE(started.isOk()) << started.message();
    return destination;
  }

  Message message(std::string payload, uint64_t sequence) const {
    Message m;
    m.topic = topic_;
    m.payload = std::move(payload);
    m.timestamp_ms = 1'700'000'000'000 + static_cast<int64_t>(sequence);
    m.ack.sequence = sequence;
    return m;
  }

  size_t logLinesContaining(const std::string& text) { return sink_->countContaining(text); }

  MockKafka kafka_{3};
  SystemClock clock_;
  Recorder recorder_;
  std::shared_ptr<CapturingSink> sink_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string topic_;
};

}  // namespace dataflow::testing
