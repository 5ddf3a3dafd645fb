// Shared pieces of the Kafka source integration tests: the mock cluster, a source built from
// kafkaSettings the way the factory builds it (with group timings shortened for tests), and a
// MessageHandler that acknowledges from its own thread after a delay, like a real destination.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "connectors/kafka/kafka_settings.h"
#include "connectors/kafka/kafka_source.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/kafka/kafka_test_support.h"
#include "tests/support/random_name.h"
#include "tests/support/wait.h"

namespace dataflow::testing {

using namespace std::chrono_literals;

inline constexpr auto kSourceDeadline = 60s;

// Records every message and acknowledges it from a separate thread after `ack_delay`. With
// `reorder_batch` > 1 it takes up to that many pending acknowledgements at once and gives them in
// reverse order. `should_ack` (default: all) picks the messages to acknowledge at all. block()
// makes onMessage wait until release(), like a destination applying backpressure.
class AckingHandler final : public MessageHandler {
 public:
  struct Options {
    std::chrono::milliseconds ack_delay{2};
    size_t reorder_batch = 1;
    std::function<bool(const Message&)> should_ack;
  };

  explicit AckingHandler(Options options) : options_(std::move(options)) {
    thread_ = std::thread([this] { ackLoop(); });
  }
  AckingHandler() : AckingHandler(Options()) {}
  ~AckingHandler() override { stopAcking(); }

  void setSource(Source* source) {
    std::lock_guard lock(mutex_);
    source_ = source;
  }

  void onMessage(Message&& message) override {
    std::unique_lock lock(mutex_);
    in_handler_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !blocked_; });
    received_.push_back(message);
    if (!options_.should_ack || options_.should_ack(message)) pending_.push_back(message.ack);
    in_handler_ = false;
    changed_.notify_all();
  }
  void onFailure(const Status& reason) override {
    ADD_FAILURE() << "the Kafka source failed: " << reason.message();
  }

  void block() {
    std::lock_guard lock(mutex_);
    blocked_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      blocked_ = false;
    }
    changed_.notify_all();
  }
  bool waitUntilInHandler(std::chrono::milliseconds timeout = kSourceDeadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return in_handler_; });
  }

  bool waitForCount(size_t count, std::chrono::milliseconds timeout = kSourceDeadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return received_.size() >= count; });
  }
  // Until every acknowledgement taken so far has been given to the source.
  bool waitAcksGiven(std::chrono::milliseconds timeout = kSourceDeadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pending_.empty() && !acking_; });
  }
  std::vector<Message> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::vector<AckToken> acked() const {
    std::lock_guard lock(mutex_);
    return acked_;
  }

  // Ends the acknowledging thread; pending acknowledgements are dropped, as a destination's are at
  // close. Must precede the source's close(), like destination.close() does in the runtime.
  void stopAcking() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void ackLoop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return stopping_ || (!pending_.empty() && source_); });
      if (stopping_) return;
      acking_ = true;
      lock.unlock();
      std::this_thread::sleep_for(options_.ack_delay);  // a destination's delivery latency
      lock.lock();
      std::vector<AckToken> batch;
      while (!pending_.empty() && batch.size() < std::max<size_t>(options_.reorder_batch, 1)) {
        batch.push_back(pending_.front());
        pending_.pop_front();
      }
      std::reverse(batch.begin(), batch.end());
      Source* source = source_;
      lock.unlock();
      for (const AckToken& token : batch) source->ack(token);
      lock.lock();
      acked_.insert(acked_.end(), batch.begin(), batch.end());
      acking_ = false;
      changed_.notify_all();
    }
  }

  const Options options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Source* source_ = nullptr;
  std::vector<Message> received_;
  std::deque<AckToken> pending_;
  std::vector<AckToken> acked_;
  bool blocked_ = false;
  bool in_handler_ = false;
  bool acking_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// (topic, partition, offset) of a message, for set arithmetic.
using RecordId = std::tuple<std::string, int32_t, int64_t>;
inline RecordId idOf(const Message& m) { return {m.topic, m.partition.value_or(-1), m.ack.offset}; }
inline RecordId idOf(const KafkaRecord& r) { return {r.topic, r.partition, r.offset}; }

class KafkaSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<CapturingSink>();
    logger_ = std::make_shared<spdlog::logger>("kafka-source-test", sink_);
    logger_->set_level(spdlog::level::debug);
    topic_ = randomName("src-");
    group_ = randomName("group-");
  }
  void TearDown() override {
    if (!HasFailure() && !std::getenv("KAFKA_TEST_LOG")) return;
    for (const std::string& line : sink_->lines()) std::cerr << "  log: " << line << "\n";
  }

  // A source of `topics` in `group`, mapped like the factory does, plus `overrides` and group
  // timings short enough for tests. librdkafka 2.0.2's mock coordinator elects a leader 3 s
  // after the first JoinGroup (session.timeout.ms - 1 s after a later one), and a 1 s timer
  // expires members whose last request is older than session.timeout.ms; an expired member's
  // pending JoinGroup response is discarded without closing the connection. With
  // session.timeout.ms 3000 the two deadlines coincide, so a stall of the mock's thread across
  // the election (a loaded machine; reproduced by SIGSTOP/SIGCONT cycles: 2 of 16 joins
  // stranded) left the client waiting max.poll.interval.ms + 3 s = 303 s for the answer.
  // 6000 leaves 3 s for a first join; max.poll.interval.ms 20000 bounds what is left (a join
  // that follows another member's) to 23 s, inside kSourceDeadline.
  std::unique_ptr<kafka::KafkaSource> makeSource(std::vector<std::string> topics,
                                                 const std::string& group,
                                                 kafka::ConsumerConfig overrides = {}) {
    config::KafkaSettings s;
    s.host = kafka_.bootstrapServers();
    s.authentication.method = config::AuthMethod::Anonymous;
    s.tls.mode = config::OperationalMode::Disabled;
    s.consumer_group_id = group;
    Result<kafka::ConsumerConfig> config =
        kafka::consumerConfig(s, config::MountedFiles(), randomName("kafka-source-test-"));
    EXPECT_TRUE(config.isOk()) << config.status().message();
    kafka::ConsumerConfig list = config.isOk() ? config.value() : kafka::ConsumerConfig{};
    list.push_back({"session.timeout.ms", "6000"});
    list.push_back({"max.poll.interval.ms", "20000"});
    list.push_back({"heartbeat.interval.ms", "300"});
    list.push_back({"topic.metadata.refresh.interval.ms", "1000"});
    list.insert(list.end(), overrides.begin(), overrides.end());
    kafka::KafkaSource::Options options;
    options.config = std::move(list);
    options.topics = std::move(topics);
    options.logger = logger_;
    options.clock = &clock_;
    options.commit_interval = 200ms;
    options.revoke_ack_wait = 3s;
    return std::make_unique<kafka::KafkaSource>(std::move(options));
  }

  // Starts `source` with `handler` acknowledging to it.
  void start(kafka::KafkaSource& source, AckingHandler& handler) {
    handler.setSource(&source);
    Status started = source.start(handler);
    ASSERT_TRUE(started.isOk()) << started.message();
  }

  // The runtime's stop sequence, with the handler's acknowledgements in place of a destination.
  void stop(kafka::KafkaSource& source, AckingHandler& handler) {
    source.stopReceiving();
    EXPECT_EQ(source.drainReceived(std::chrono::steady_clock::now() + 5s), 0u);
    handler.waitAcksGiven();
    handler.stopAcking();
    source.close();
  }

  std::vector<KafkaRecord> writeValues(const std::string& topic, int count, int32_t partition = -1,
                                       const std::string& prefix = "v") {
    std::vector<KafkaRecord> records;
    for (int i = 0; i < count; ++i) {
      KafkaRecord r;
      r.topic = topic;
      r.partition = partition;
      r.key = "k" + std::to_string(i);
      r.value = prefix + std::to_string(i);
      records.push_back(std::move(r));
    }
    return writer_.write(std::move(records));
  }

  size_t logLinesContaining(const std::string& text) { return sink_->countContaining(text); }

  MockKafka kafka_{3};
  KafkaWriter writer_{kafka_.bootstrapServers()};
  SystemClock clock_;
  std::shared_ptr<CapturingSink> sink_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string topic_;
  std::string group_;
};

}  // namespace dataflow::testing
