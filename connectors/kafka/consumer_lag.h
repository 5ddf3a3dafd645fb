// The per-partition lag of a Kafka consumer, from the statistics librdkafka emits every
// statistics.interval.ms (served by the consumer's poll). For each partition the consumer was
// assigned ("desired"): the partition's end (high watermark, or last stable offset under
// read_committed) minus the committed offset; before the group's first commit, the end minus the
// partition's start (auto.offset.reset=earliest: everything retained is still to deliver).
// Partitions whose end is not known yet are left out.
#pragma once

#include <mutex>
#include <string_view>
#include <vector>

#include "engine/core/source.h"

namespace dataflow::kafka {

class ConsumerLag {
 public:
  // Replaces the reading with the one in `statistics` (librdkafka's JSON). A document that does
  // not parse leaves the last reading. Any thread.
  void update(std::string_view statistics);
  // The last reading, in topic and partition order. Any thread.
  std::vector<PartitionLag> read() const;

 private:
  mutable std::mutex mutex_;
  std::vector<PartitionLag> lag_;  // guarded by mutex_
};

}  // namespace dataflow::kafka
