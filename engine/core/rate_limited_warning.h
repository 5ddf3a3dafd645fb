// A warning that is written at its first occurrence and then at most once per interval, carrying
// the number of occurrences that were not written. The logging library is not chosen yet, so the
// text goes to a callback.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/clock.h"

namespace dataflow {

// Receives one finished warning line. Called on the thread that runs Pipeline::process, possibly
// from several threads at once; must not call back into the pipeline.
using WarningSink = std::function<void(std::string_view line)>;

namespace detail {
// The suppressed count of the report whose sink runs on this thread; -1 outside a report.
inline thread_local int64_t t_suppressed_in_report = -1;
}  // namespace detail

class RateLimitedWarning {
 public:
  // `clock` and `sink` (may be empty: warnings are then only counted) outlive this object.
  RateLimitedWarning(const Clock& clock, const WarningSink& sink,
                     std::chrono::milliseconds interval)
      : clock_(clock), sink_(sink), interval_ms_(interval.count()) {}

  // While a sink runs on this thread: the count the line reports as "N more since the last
  // report" (0 for none), so a structured log format can carry it as a field. Outside a sink:
  // nullopt.
  static std::optional<uint64_t> suppressedInReport() {
    if (detail::t_suppressed_in_report < 0) return std::nullopt;
    return static_cast<uint64_t>(detail::t_suppressed_in_report);
  }

  // Records one occurrence. `compose` builds the text and is called only when a line is written,
  // so a suppressed occurrence costs two atomic operations and no allocation. Thread-safe.
  template <class Compose>
  void report(Compose&& compose) {
    const int64_t now = nowMs();
    int64_t next = next_allowed_ms_.load(std::memory_order_relaxed);
    if (now < next || !next_allowed_ms_.compare_exchange_strong(next, now + interval_ms_,
                                                                std::memory_order_relaxed)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const uint64_t suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    if (!sink_) return;
    std::string line = compose();
    if (suppressed > 0) {
      line += " (";
      line += std::to_string(suppressed);
      line += " more since the last report)";
    }
    struct InReport {  // reset even when the sink throws
      explicit InReport(uint64_t n) { detail::t_suppressed_in_report = static_cast<int64_t>(n); }
      ~InReport() { detail::t_suppressed_in_report = -1; }
    } in_report(suppressed);
    sink_(line);
  }

 private:
  int64_t nowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock_.steadyNow().time_since_epoch())
        .count();
  }

  const Clock& clock_;
  const WarningSink& sink_;
  const int64_t interval_ms_;
  std::atomic<int64_t> next_allowed_ms_{INT64_MIN};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace dataflow
