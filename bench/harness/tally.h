// What a receiver saw: how many stamped messages, which sequence numbers (duplicates and gaps),
// and each message's end-to-end latency, for percentiles over a measurement window.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string_view>
#include <vector>

namespace dataflow::bench {

struct LatencySummary {
  uint64_t samples = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
  double max_ms = 0;
};

// Written by one receiving thread (record), read by the load loop (received) and, after the
// receiver stopped or went quiet, by the reporter (the rest).
class Tally {
 public:
  // Called for every message received; payloads without a stamp count as foreign. A readiness
  // probe (stamp.h) is only remembered by its number: it counts as no message at all.
  void record(std::string_view payload);
  // Whether the readiness probe `probe_number` arrived (any thread).
  bool probeArrived(uint64_t probe_number) const;

  uint64_t received() const { return received_.load(std::memory_order_acquire); }
  uint64_t unique() const;
  uint64_t duplicates() const;
  uint64_t foreign() const;
  // Sequence numbers below `sent` never seen.
  uint64_t missing(uint64_t sent) const;
  // Latency of the messages sent in [from_ns, to_ns).
  LatencySummary latency(uint64_t from_ns, uint64_t to_ns) const;

 private:
  struct Sample {
    uint64_t sent_ns;
    uint64_t latency_ns;
  };
  mutable std::mutex mutex_;
  std::vector<uint8_t> seen_;    // guarded by mutex_; by sequence number
  std::vector<Sample> samples_;  // guarded by mutex_
  uint64_t unique_ = 0;          // guarded by mutex_
  uint64_t duplicates_ = 0;      // guarded by mutex_
  uint64_t foreign_ = 0;         // guarded by mutex_
  std::set<uint64_t> probes_;    // guarded by mutex_: the numbers of the probes that arrived
  std::atomic<uint64_t> received_{0};
};

}  // namespace dataflow::bench
