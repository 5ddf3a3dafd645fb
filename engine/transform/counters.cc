#include "engine/transform/counters.h"

namespace dataflow::transform {

CounterSnapshot PipelineCounters::snapshot() const {
  auto get = [](const Counter& c) { return c.load(std::memory_order_relaxed); };
  CounterSnapshot s;
  s.forwarded = get(forwarded);
  s.expired = get(expired);
  s.unresolved_topic = get(unresolved_topic);
  s.invalid_topic = get(invalid_topic);
  s.properties_removed_invalid_utf8 = get(properties_removed_invalid_utf8);
  s.properties_removed_too_long = get(properties_removed_too_long);
  s.properties_shadowed = get(properties_shadowed);
  s.partition_key_fallbacks = get(partition_key_fallbacks);
  s.cloud_events_propagated = get(cloud_events_propagated);
  s.cloud_events_created = get(cloud_events_created);
  s.cloud_events_structured = get(cloud_events_structured);
  return s;
}

CounterSnapshot& CounterSnapshot::operator+=(const CounterSnapshot& other) {
  forwarded += other.forwarded;
  expired += other.expired;
  unresolved_topic += other.unresolved_topic;
  invalid_topic += other.invalid_topic;
  properties_removed_invalid_utf8 += other.properties_removed_invalid_utf8;
  properties_removed_too_long += other.properties_removed_too_long;
  properties_shadowed += other.properties_shadowed;
  partition_key_fallbacks += other.partition_key_fallbacks;
  cloud_events_propagated += other.cloud_events_propagated;
  cloud_events_created += other.cloud_events_created;
  cloud_events_structured += other.cloud_events_structured;
  return *this;
}

}  // namespace dataflow::transform
