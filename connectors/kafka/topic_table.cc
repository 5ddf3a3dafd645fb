#include "connectors/kafka/topic_table.h"

#include <utility>

namespace dataflow::kafka {

Result<TopicTable::Topic*> TopicTable::get(std::string_view name) {
  std::lock_guard lock(mutex_);
  if (auto it = topics_.find(name); it != topics_.end()) return it->second.get();
  std::string owned(name);
  TopicHandle handle(rd_kafka_topic_new(producer_, owned.c_str(), nullptr));
  if (!handle) {
    return Status::fatal("Kafka topic \"" + owned +
                         "\" cannot be used: " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  auto topic = std::unique_ptr<Topic>(new Topic(owned, std::move(handle)));
  Topic* result = topic.get();
  topics_.emplace(std::move(owned), std::move(topic));
  return result;
}

Result<int32_t> TopicTable::partitionCount(Topic& topic, bool refresh,
                                           std::chrono::milliseconds timeout) {
  const int32_t cached = topic.partition_count_.load(std::memory_order_acquire);
  if (!refresh && cached > 0 &&
      nowMs() - topic.counted_at_ms_.load(std::memory_order_relaxed) <
          kPartitionCountMaxAge.count()) {
    return cached;
  }
  Result<MetadataHandle> metadata =
      fetchMetadata(producer_, topic.handle(), static_cast<int>(timeout.count()));
  if (!metadata.isOk()) return metadata.status();
  const rd_kafka_metadata_t& md = *metadata.value();
  if (md.topic_cnt != 1) return Status::retriable("the cluster returned no metadata for it");
  const rd_kafka_metadata_topic_t& described = md.topics[0];
  if (described.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retriable(rd_kafka_err2str(described.err));
  }
  if (described.partition_cnt <= 0) return Status::retriable("the topic has no partitions yet");
  topic.counted_at_ms_.store(nowMs(), std::memory_order_relaxed);
  topic.partition_count_.store(described.partition_cnt, std::memory_order_release);
  return described.partition_cnt;
}

int64_t TopicTable::nowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             clock_.steadyNow().time_since_epoch())
      .count();
}

}  // namespace dataflow::kafka
