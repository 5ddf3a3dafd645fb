// Capped exponential backoff with full jitter, for reconnect loops. Not thread-safe: one per loop.
// Cheap to construct (no seeding until the first wait), so a hot path may keep one on the stack
// for the rare retry: seeding a std::mt19937_64 from std::random_device cost 15% of the engine's
// CPU when KafkaProducer::send made one per message.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace dataflow {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
      : initial_(initial), cap_(cap), ceiling_(initial) {}

  // The next wait: uniformly random in [ceiling/2, ceiling], then the ceiling doubles up to the
  // cap. Half the ceiling is kept as a floor so a retry storm never degenerates into spinning.
  std::chrono::milliseconds next() {
    const int64_t high = ceiling_.count();
    std::uniform_int_distribution<int64_t> pick(high / 2, high);
    ceiling_ = std::min(cap_, ceiling_ * 2);
    if (!random_) random_.emplace(std::random_device{}());
    return std::chrono::milliseconds(pick(*random_));
  }
  // After a success: the next failure waits `initial` again.
  void reset() { ceiling_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds ceiling_;
  std::optional<std::mt19937_64> random_;  // seeded by the first next()
};

}  // namespace dataflow
