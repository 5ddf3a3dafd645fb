// Capped exponential backoff with full jitter, for reconnect loops. Not thread-safe: one per loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace dataflow {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
      : initial_(initial), cap_(cap), ceiling_(initial), random_(std::random_device{}()) {}

  // The next wait: uniformly random in [ceiling/2, ceiling], then the ceiling doubles up to the
  // cap. Half the ceiling is kept as a floor so a retry storm never degenerates into spinning.
  std::chrono::milliseconds next() {
    const int64_t high = ceiling_.count();
    std::uniform_int_distribution<int64_t> pick(high / 2, high);
    ceiling_ = std::min(cap_, ceiling_ * 2);
    return std::chrono::milliseconds(pick(random_));
  }
  // After a success: the next failure waits `initial` again.
  void reset() { ceiling_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds ceiling_;
  std::mt19937_64 random_;
};

}  // namespace dataflow
