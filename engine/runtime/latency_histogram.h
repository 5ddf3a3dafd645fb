// A latency histogram with fixed bounds, recorded on the per-message path without a lock or an
// allocation (relaxed atomics), read at any time by the metrics code.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace dataflow::runtime {

// Upper bounds of the buckets in milliseconds (AIO does not publish its own); +Inf is implied.
inline constexpr std::array<double, 15> kLatencyBoundsMs = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};

struct LatencySnapshot {
  // cumulative[i]: observations <= kLatencyBoundsMs[i]; count covers +Inf.
  std::array<uint64_t, kLatencyBoundsMs.size()> cumulative{};
  uint64_t count = 0;
  double sum_ms = 0;

  LatencySnapshot& operator+=(const LatencySnapshot& other);
};

// AIO's per-stage latencies of a dataflow, each split by outcome (AIO's `success` label):
//   transformation: receive -> ready to send (ok), or -> dropped by the pipeline (failed);
//   upload: handed to the destination -> its acknowledgement (ok) or refusal (failed).
struct StageLatencies {
  LatencySnapshot transformation_ok;
  LatencySnapshot transformation_failed;
  LatencySnapshot upload_ok;
  LatencySnapshot upload_failed;

  StageLatencies& operator+=(const StageLatencies& other);
};

class LatencyHistogram {
 public:
  void record(std::chrono::steady_clock::duration latency) {
    const int64_t signed_us =
        std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
    const uint64_t us = signed_us < 0 ? 0 : static_cast<uint64_t>(signed_us);
    size_t bucket = 0;
    while (bucket < kBoundsUs.size() && us > kBoundsUs[bucket]) ++bucket;
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(us, std::memory_order_relaxed);
  }
  LatencySnapshot snapshot() const;

 private:
  // kLatencyBoundsMs in whole microseconds: the per-message path compares integers.
  static constexpr std::array<uint64_t, kLatencyBoundsMs.size()> kBoundsUs = [] {
    std::array<uint64_t, kLatencyBoundsMs.size()> us{};
    for (size_t i = 0; i < us.size(); ++i) us[i] = static_cast<uint64_t>(kLatencyBoundsMs[i] * 1000);
    return us;
  }();

  // buckets_[i] for i < size: (bounds[i-1], bounds[i]]; the last one: above every bound.
  std::array<std::atomic<uint64_t>, kLatencyBoundsMs.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
};

}  // namespace dataflow::runtime
