// What a Kafka client's statistics say, from the JSON document librdkafka emits every
// statistics.interval.ms (served by the client's poll):
//   - consumers: the lag per partition. For each partition the consumer was assigned
//     ("desired"): the partition's end (high watermark, or last stable offset under
//     read_committed) minus the committed offset; before the group's first commit, the end minus
//     the partition's start (auto.offset.reset=earliest: everything retained is still to
//     deliver). Partitions whose end is not known yet are left out.
//   - every client: connection attempts, disconnects and request retries, summed over the
//     brokers the client knows (librdkafka's per-broker `connects`, `disconnects`, `txretries`).
// librdkafka's counters start from zero with every client instance: clientReplaced() keeps what
// the replaced instance counted, so the sums never go backwards.
#pragma once

#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "engine/core/connection_health.h"
#include "engine/core/source.h"

namespace dataflow::kafka {

class ClientStatistics {
 public:
  // Replaces the reading with the one in `statistics` (librdkafka's JSON). A document that does
  // not parse leaves the last reading. Any thread.
  void update(std::string_view statistics);
  // The client instance was destroyed and a new one created: its counts are kept. Any thread.
  void clientReplaced();

  // The last reading, in topic and partition order. Any thread.
  std::vector<PartitionLag> lag() const;
  // `connection_attempts`, `disconnects` and `request_retries` of every instance so far; the
  // other fields are left as they are in `into`. Any thread.
  void addCounters(ConnectionHealth& into) const;

 private:
  struct BrokerTotals {
    uint64_t connects = 0;
    uint64_t disconnects = 0;
    uint64_t retries = 0;
  };

  mutable std::mutex mutex_;
  std::vector<PartitionLag> lag_;  // guarded by mutex_
  BrokerTotals current_;           // guarded by mutex_: the live instance's last reading
  BrokerTotals replaced_;          // guarded by mutex_: the instances before it
};

}  // namespace dataflow::kafka
