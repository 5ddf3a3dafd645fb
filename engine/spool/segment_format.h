// The on-disk format of a segment log's folder (described in segment_log.h), in one place for the
// two that read it: SegmentLog, which writes and recovers it, and `dataflow spool inspect`
// (spool_inspect.h), which only looks. A change here changes both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/spool/segment_log.h"

namespace dataflow::spool {

constexpr size_t kHeaderBytes = 16;  // a record's header: length u32, crc u32, sequence u64
constexpr const char* kCursorFile = "cursor";
constexpr const char* kCursorTemp = "cursor.tmp";
constexpr const char* kSegmentSuffix = ".seg";
// Not SegmentLog's: the file the running engine holds with flock(2) while it owns the folder.
constexpr const char* kLockFile = "lock";
constexpr size_t kSegmentNameDigits = 20;  // the first sequence, zero-padded
// The cursor file: two slots, each the cursor u64 then the CRC-32C of those 8 bytes. Updates
// overwrite the older slot in place (no new block, so a full disk cannot stop them), and a torn
// slot write leaves the other slot good: the cursor is the larger of the good slots.
constexpr size_t kCursorSlotBytes = 12;
constexpr size_t kCursorBytes = 2 * kCursorSlotBytes;

// Reads a whole file of the folder, read-only. Missing when it does not exist (a segment the
// running engine deleted after the folder was listed); Failed on any other error, errno set.
enum class ReadOutcome { Read, Missing, Failed };
ReadOutcome readFile(const std::string& path, std::string& out);

// Little-endian integers, as every field of the format is stored.
inline void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
inline void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
inline uint32_t getU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline uint64_t getU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// The CRC of a record covers its sequence and payload, so a record copied to another place in
// the log (or a stale one) does not pass for the one expected there.
inline uint32_t recordCrc(uint64_t sequence, std::string_view payload) {
  std::string sequence_bytes;
  putU64(sequence_bytes, sequence);
  return crc32c(payload, crc32c(sequence_bytes));
}

// One record read from a segment's bytes at `offset`, checked the way recovery checks it: a whole
// header, a length within `max_record_bytes` and within the bytes there, the sequence expected
// there, and a matching CRC. `bad` says why it is not a good record (empty when it is).
struct CheckedRecord {
  uint64_t sequence = 0;
  std::string_view payload;
  size_t size = 0;  // header and payload
  std::string bad;
};

inline CheckedRecord checkRecord(std::string_view data, size_t offset, uint64_t expected,
                                 uint32_t max_record_bytes) {
  CheckedRecord r;
  const size_t left = data.size() - offset;
  if (left < kHeaderBytes) {
    r.bad = "torn record: a header of " + std::to_string(left) + " of " +
            std::to_string(kHeaderBytes) + " bytes";
    return r;
  }
  const uint32_t length = getU32(data.data() + offset);
  const uint32_t crc = getU32(data.data() + offset + 4);
  r.sequence = getU64(data.data() + offset + 8);
  if (length > max_record_bytes) {
    r.bad = "impossible record length " + std::to_string(length) + " (the limit is " +
            std::to_string(max_record_bytes) + ")";
    return r;
  }
  if (left - kHeaderBytes < length) {
    r.bad = "torn record: " + std::to_string(left - kHeaderBytes) + " of " +
            std::to_string(length) + " payload bytes";
    return r;
  }
  r.payload = data.substr(offset + kHeaderBytes, length);
  if (r.sequence != expected) {
    r.bad = "sequence " + std::to_string(r.sequence) + " where " + std::to_string(expected) +
            " expected";
    return r;
  }
  if (recordCrc(r.sequence, r.payload) != crc) {
    r.bad = "checksum mismatch in record " + std::to_string(r.sequence);
    return r;
  }
  r.size = kHeaderBytes + length;
  return r;
}

// The first sequence a segment file's name stands for, or nullopt when `name` is not a segment's
// (20 digits then ".seg"): other files in the folder are not the log's.
inline std::optional<uint64_t> segmentFirstSequence(std::string_view name) {
  const std::string_view suffix = kSegmentSuffix;
  if (name.size() != kSegmentNameDigits + suffix.size() || !name.ends_with(suffix)) {
    return std::nullopt;
  }
  const std::string_view digits = name.substr(0, kSegmentNameDigits);
  uint64_t first = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    first = first * 10 + static_cast<uint64_t>(c - '0');
  }
  // Twenty digits can say more than 2^64 - 1: such a name is no segment of this log.
  if (digits > "18446744073709551615") return std::nullopt;
  return first;
}

// One slot of the cursor file.
inline std::string cursorSlot(uint64_t cursor) {
  std::string slot;
  putU64(slot, cursor);
  putU32(slot, crc32c(slot));
  return slot;
}

// The cursor's value (the larger of the good slots), or nullopt when `data` is not a cursor file
// or neither slot's checksum matches.
inline std::optional<uint64_t> parseCursor(std::string_view data) {
  if (data.size() != kCursorBytes) return std::nullopt;
  std::optional<uint64_t> best;
  for (size_t at = 0; at < kCursorBytes; at += kCursorSlotBytes) {
    const std::string_view slot = data.substr(at, kCursorSlotBytes);
    if (crc32c(slot.substr(0, 8)) != getU32(slot.data() + 8)) continue;
    const uint64_t value = getU64(slot.data());
    if (!best || value > *best) best = value;
  }
  return best;
}

}  // namespace dataflow::spool
