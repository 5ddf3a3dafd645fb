// `dataflow spool inspect`: what a spool folder holds, read without changing anything. No file is
// written, truncated or removed and no lock is taken (who holds the engine's lock is read from
// /proc/locks), so it is safe beside a running engine; but a live spool may change while it is read
// (records appended, acknowledged segments deleted), so its answer is a snapshot that may already
// be stale, and a torn record at the very end of the last segment may be a commit in progress.
//
// It checks a log folder as SegmentLog::open() would recover it (segment_log.h), with the same
// format (segment_format.h), and reports what recovery would repair instead of repairing it: a bad
// tail (where recovery would truncate a segment), sequences missing between segments or before
// the first one, a cursor missing, damaged or past the end; and records that do not decode as
// spool records (spool_record.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/spool/segment_log.h"

namespace dataflow::spool {

struct InspectOptions {
  // How many unacknowledged records to list (the first ones, in sequence order).
  uint64_t list_records = 0;
  // Records longer than this are corruption, as for recovery: the engine's own limit.
  uint32_t max_record_bytes = SegmentLogOptions().max_record_bytes;
};

struct CursorInspection {
  enum class State { Valid, Missing, Damaged };
  State state = State::Missing;
  uint64_t value = 0;  // when Valid: the first sequence not yet acknowledged, as stored
};

// Where a segment stops holding good records: recovery would truncate it at `offset`.
struct BadTail {
  uint64_t offset = 0;
  uint64_t bytes = 0;  // from offset to the end of the file
  // "torn record: ...", "impossible record length L ...", "sequence N where M expected",
  // "checksum mismatch in record N"
  std::string reason;
};

struct SegmentInspection {
  std::string file;             // the name in the log folder
  uint64_t first_sequence = 0;  // from the name
  uint64_t last_sequence = 0;   // of the last good record; first_sequence - 1 when none
  uint64_t records = 0;         // good records
  uint64_t bytes = 0;           // the file's size
  std::optional<BadTail> bad_tail;
};

// Sequences first..last that no segment holds, although a later segment (or the cursor) says
// they were written and not all acknowledged.
struct SequenceGap {
  uint64_t first = 0;
  uint64_t last = 0;
  std::string before_file;  // the segment after the gap
};

struct RecordSummary {
  uint64_t sequence = 0;
  uint64_t bytes = 0;  // the record's payload in the log (the encoded message)
  std::string error;   // not empty: the payload is not a spool record; the fields below unset
  std::string topic;
  uint64_t payload_bytes = 0;  // the message's payload
  int qos = 0;
  int64_t received_ms = 0;            // wall clock, ms since the Unix epoch
  std::optional<int64_t> expires_ms;  // wall clock; absent: no expiry
};

// One log folder.
struct LogInspection {
  std::string directory;
  // The process holding the folder's lock file (the running engine), as /proc/locks shows it,
  // found without taking the lock; absent when nothing holds it (or /proc is not there).
  std::optional<int64_t> lock_holder_pid;
  CursorInspection cursor;
  std::vector<SegmentInspection> segments;  // by first sequence
  std::vector<SequenceGap> gaps;
  // Where the engine would resume: the stored cursor, or the oldest record when the cursor is
  // missing, damaged or older than every segment.
  uint64_t first_unacknowledged = 1;
  uint64_t next_sequence = 1;  // after the last good record
  uint64_t unacknowledged_records = 0;
  uint64_t unacknowledged_bytes = 0;  // on disk, record headers included
  // When the first unacknowledged record decodes: when it was received (wall clock, ms).
  std::optional<int64_t> oldest_received_ms;
  uint64_t undecodable_records = 0;    // unacknowledged records that are not spool records
  std::vector<RecordSummary> records;  // the first list_records unacknowledged ones
  // One sentence per inconsistency, naming the file and offset; empty: consistent.
  std::vector<std::string> problems;
  // Things worth knowing that are not damage (a segment deleted while it was being read).
  std::vector<std::string> notes;
};

struct SpoolInspection {
  std::string directory;
  bool root = false;  // `directory` was a spool root: logs found in <dataflow>/<instance>/
  std::vector<LogInspection> logs;

  bool consistent() const {
    for (const LogInspection& log : logs) {
      if (!log.problems.empty()) return false;
    }
    return true;
  }
};

// Inspects `directory`: one log folder (it holds segments or a cursor), or else a spool root
// whose logs are the folders <dataflow>/<instance>/ under it that hold segments, a cursor or a
// lock. Fatal when `directory` is not a readable folder; Retriable when a file cannot be read
// (a damaged file is a finding, not an error).
Result<SpoolInspection> inspectSpool(const std::string& directory,
                                     const InspectOptions& options = {});

}  // namespace dataflow::spool
