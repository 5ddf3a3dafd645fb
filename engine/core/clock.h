// Time sources, injectable so that expiry and timestamps are tested without sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace dataflow {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point steadyNow() const = 0;
  // Wall-clock time in milliseconds since the Unix epoch.
  virtual int64_t wallNowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steadyNow() const override {
    return std::chrono::steady_clock::now();
  }
  int64_t wallNowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to. Tests only.
class ManualClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steadyNow() const override { return steady_; }
  int64_t wallNowMs() const override { return wall_ms_; }
  void advance(std::chrono::milliseconds d) {
    steady_ += d;
    wall_ms_ += d.count();
  }
  void setWallMs(int64_t ms) { wall_ms_ = ms; }

 private:
  std::chrono::steady_clock::time_point steady_{std::chrono::hours(1000)};
  int64_t wall_ms_ = 1'700'000'000'000;
};

}  // namespace dataflow
