// Per-pipeline counters. Incremented by the stages on the thread that runs Pipeline::process
// (relaxed atomics: several threads may run one pipeline); read at any time by the metrics code.
#pragma once

#include <atomic>
#include <cstdint>

namespace dataflow::transform {

// A plain copy of the counters at one moment.
struct CounterSnapshot {
  uint64_t forwarded = 0;         // process() returned Outcome::Forward
  uint64_t expired = 0;           // dropped: Message Expiry Interval ran out (source acked)
  uint64_t unresolved_topic = 0;  // dropped: a topic template variable had no value
  uint64_t invalid_topic = 0;     // dropped: templated topic not a legal Kafka / MQTT topic name
  uint64_t properties_removed_invalid_utf8 = 0;  // Kafka -> MQTT: name or value not MQTT UTF-8
  uint64_t properties_removed_too_long = 0;      // Kafka -> MQTT: name or value > 65,535 bytes
  uint64_t properties_shadowed = 0;      // user property/header dropped: a built-in has its name
  uint64_t partition_key_fallbacks = 0;  // Property strategy, property absent -> Default
  uint64_t cloud_events_propagated = 0;  // had all required attributes; emitted in dest binding
  uint64_t cloud_events_created = 0;     // CreateOrRemap generated at least one required one
  uint64_t cloud_events_structured = 0;  // structured mode, passed through

  friend bool operator==(const CounterSnapshot&, const CounterSnapshot&) = default;
  // Adds `other` field by field (the totals of a dataflow across its runners).
  CounterSnapshot& operator+=(const CounterSnapshot& other);
};

class PipelineCounters {
 public:
  using Counter = std::atomic<uint64_t>;

  static void add(Counter& counter, uint64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  CounterSnapshot snapshot() const;

  Counter forwarded{0};
  Counter expired{0};
  Counter unresolved_topic{0};
  Counter invalid_topic{0};
  Counter properties_removed_invalid_utf8{0};
  Counter properties_removed_too_long{0};
  Counter properties_shadowed{0};
  Counter partition_key_fallbacks{0};
  Counter cloud_events_propagated{0};
  Counter cloud_events_created{0};
  Counter cloud_events_structured{0};
};

}  // namespace dataflow::transform
