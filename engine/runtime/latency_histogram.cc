#include "engine/runtime/latency_histogram.h"

namespace dataflow::runtime {

LatencySnapshot& LatencySnapshot::operator+=(const LatencySnapshot& other) {
  for (size_t i = 0; i < cumulative.size(); ++i) cumulative[i] += other.cumulative[i];
  count += other.count;
  sum_ms += other.sum_ms;
  return *this;
}

StageLatencies& StageLatencies::operator+=(const StageLatencies& other) {
  transformation_ok += other.transformation_ok;
  transformation_failed += other.transformation_failed;
  upload_ok += other.upload_ok;
  upload_failed += other.upload_failed;
  return *this;
}

LatencySnapshot LatencyHistogram::snapshot() const {
  LatencySnapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i < kLatencyBoundsMs.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running + buckets_.back().load(std::memory_order_relaxed);
  s.sum_ms = static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1000.0;
  return s;
}

}  // namespace dataflow::runtime
