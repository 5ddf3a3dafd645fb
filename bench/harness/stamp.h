// The load generator's payload: a sequence number and a send time in the first 16 bytes, the rest
// filler. CLOCK_MONOTONIC is one clock for every process on the machine, so a receiver in another
// process or thread can subtract the send time from its own reading.
#pragma once

#include <time.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dataflow::bench {

constexpr size_t kStampBytes = 16;

inline uint64_t nowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// `buffer` becomes a payload of max(size, kStampBytes) bytes. Reusing one buffer keeps the hot
// path free of allocation: only the stamp is rewritten once the size is right.
inline void stampPayload(std::string& buffer, size_t size, uint64_t sequence, uint64_t sent_ns) {
  if (size < kStampBytes) size = kStampBytes;
  if (buffer.size() != size) buffer.assign(size, 'x');
  std::memcpy(buffer.data(), &sequence, sizeof sequence);
  std::memcpy(buffer.data() + sizeof sequence, &sent_ns, sizeof sent_ns);
}

// A readiness probe (load.h, waitReady) is stamped like a message of the same size, with
// kProbeSequence as its sequence number and the probe's own number in place of the send time: it
// travels the measured path exactly as a message would, and a receiver tells it apart.
constexpr uint64_t kProbeSequence = ~uint64_t{0};

inline void stampProbe(std::string& buffer, size_t size, uint64_t probe_number) {
  stampPayload(buffer, size, kProbeSequence, probe_number);
}

// False when the payload is too short to carry a stamp (not one of ours).
inline bool readStamp(std::string_view payload, uint64_t& sequence, uint64_t& sent_ns) {
  if (payload.size() < kStampBytes) return false;
  std::memcpy(&sequence, payload.data(), sizeof sequence);
  std::memcpy(&sent_ns, payload.data() + sizeof sequence, sizeof sent_ns);
  return true;
}

}  // namespace dataflow::bench
