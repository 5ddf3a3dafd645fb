// The producer's topic handles by name, created on first use, and each topic's partition count
// from cluster metadata for the Static partition strategy. Thread-safe: used by every thread
// that calls KafkaDestination::send.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "connectors/kafka/rdkafka_handles.h"
#include "engine/core/clock.h"
#include "engine/core/status.h"

namespace dataflow::kafka {

class TopicTable {
 public:
  // A topic of the table. Lives as long as the table.
  class Topic {
   public:
    const std::string& name() const { return name_; }
    rd_kafka_topic_t* handle() const { return handle_.get(); }

   private:
    friend class TopicTable;
    Topic(std::string name, TopicHandle handle)
        : name_(std::move(name)), handle_(std::move(handle)) {}

    std::string name_;
    TopicHandle handle_;
    std::atomic<int32_t> partition_count_{0};  // 0: not known yet
    std::atomic<int64_t> counted_at_ms_{0};    // steady clock, when partition_count_ was read
  };

  // `producer` and `clock` outlive the table. The table must be destroyed before the producer.
  TopicTable(rd_kafka_t* producer, const Clock& clock) : producer_(producer), clock_(clock) {}

  // The topic named `name`, its handle created on first use (no allocation afterwards). Fatal
  // when librdkafka refuses the name.
  Result<Topic*> get(std::string_view name);

  // The partition count of `topic` (> 0). Served from the cache unless `refresh` is set or the
  // count is older than kPartitionCountMaxAge (partitions may be added to a topic); otherwise a
  // metadata request waits up to `timeout`. Retriable when the cluster cannot tell (brokers
  // down, topic not created yet, no leader): the caller waits and asks again.
  Result<int32_t> partitionCount(Topic& topic, bool refresh, std::chrono::milliseconds timeout);

  // librdkafka's own periodic metadata refresh (topic.metadata.refresh.interval.ms default).
  static constexpr std::chrono::milliseconds kPartitionCountMaxAge = std::chrono::minutes(5);

 private:
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };

  int64_t nowMs() const;

  rd_kafka_t* producer_;
  const Clock& clock_;
  std::mutex mutex_;
  // guarded by mutex_; a node is never erased, so Topic pointers stay valid.
  std::unordered_map<std::string, std::unique_ptr<Topic>, NameHash, std::equal_to<>> topics_;
};

}  // namespace dataflow::kafka
