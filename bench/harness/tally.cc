#include "bench/harness/tally.h"

#include <algorithm>

#include "bench/harness/stamp.h"

namespace dataflow::bench {

void Tally::record(std::string_view payload) {
  const uint64_t now = nowNs();
  uint64_t sequence = 0;
  uint64_t sent_ns = 0;
  {
    // Uncontended: one receiving thread; the reporter reads after the run.
    std::lock_guard lock(mutex_);
    if (!readStamp(payload, sequence, sent_ns)) {
      ++foreign_;
    } else if (sequence == kProbeSequence) {
      probes_.insert(sent_ns);  // the probe's number; not a message: received_ stays
      return;
    } else {
      if (sequence >= seen_.size())
        seen_.resize(std::max<uint64_t>(sequence + 1, seen_.size() * 2));
      if (seen_[sequence] != 0) {
        ++duplicates_;
      } else {
        seen_[sequence] = 1;
        ++unique_;
        samples_.push_back(Sample{sent_ns, now > sent_ns ? now - sent_ns : 0});
      }
    }
  }
  received_.fetch_add(1, std::memory_order_release);
}

bool Tally::probeArrived(uint64_t probe_number) const {
  std::lock_guard lock(mutex_);
  return probes_.count(probe_number) != 0;
}

uint64_t Tally::unique() const {
  std::lock_guard lock(mutex_);
  return unique_;
}

uint64_t Tally::duplicates() const {
  std::lock_guard lock(mutex_);
  return duplicates_;
}

uint64_t Tally::foreign() const {
  std::lock_guard lock(mutex_);
  return foreign_;
}

uint64_t Tally::missing(uint64_t sent) const {
  std::lock_guard lock(mutex_);
  uint64_t seen = 0;
  for (uint64_t i = 0; i < std::min<uint64_t>(sent, seen_.size()); ++i) seen += seen_[i];
  return sent - seen;
}

LatencySummary Tally::latency(uint64_t from_ns, uint64_t to_ns) const {
  std::vector<uint64_t> values;
  {
    std::lock_guard lock(mutex_);
    for (const Sample& s : samples_) {
      if (s.sent_ns >= from_ns && s.sent_ns < to_ns) values.push_back(s.latency_ns);
    }
  }
  LatencySummary out;
  out.samples = values.size();
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    const size_t index = std::min(values.size() - 1, static_cast<size_t>(q * values.size()));
    return static_cast<double>(values[index]) / 1e6;
  };
  out.p50_ms = at(0.50);
  out.p99_ms = at(0.99);
  out.p999_ms = at(0.999);
  out.max_ms = static_cast<double>(values.back()) / 1e6;
  return out;
}

}  // namespace dataflow::bench
