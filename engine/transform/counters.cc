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

}  // namespace dataflow::transform
