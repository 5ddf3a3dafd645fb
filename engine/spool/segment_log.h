// The storage of the durable spool (issue 17): an append-only, segmented, checksummed log of
// records in one folder, with a persisted cursor. spool.h runs it for a dataflow; the format is
// spelled out in segment_format.h, which `dataflow spool inspect` (spool_inspect.h) reads too.
//
// Layout of the folder:
//   <first sequence, 20 digits>.seg   segments, each a run of records
//   cursor                            the first sequence not yet acknowledged (8 bytes, little
//                                     endian) and its CRC-32C (4 bytes), in two slots: created
//                                     whole (cursor.tmp, fsync, rename, fsync the folder), then
//                                     updated in place over the older slot (pwrite, fdatasync),
//                                     so a full disk cannot stop it and a torn update leaves the
//                                     other slot; the cursor is the larger good slot
// Recovery reads each segment whole (at most segment_bytes plus one commit) into memory.
// A record: length of the payload (u32 LE), CRC-32C of sequence and payload (u32 LE), sequence
// (u64 LE), payload. Sequences start at 1 and are consecutive across segments.
//
// Durability: append() only buffers; commit() writes what is buffered and fdatasyncs, so after
// commit() returns Ok every appended record survives a crash or a power loss. Appends are meant
// to be group-committed: many appends, one commit.
//
// Recovery (open()): every segment is read and every record checked (length within bounds, CRC,
// sequence the one expected). The first bad record of a segment ends it: the segment is truncated
// there (a torn tail after a crash mid-write, or corruption), and what was cut is counted in the
// RecoveryReport, never skipped silently. A gap in sequences (a segment removed) is reported too.
// A new spool writes its cursor at once, so a missing or unreadable cursor later is a lost one:
// every record is read again (duplicates, never a skip), and the report says so.
//
// Everything acknowledged: every segment is deleted, the one being written too (the next commit
// starts a new one), so that a full disk gets its space back; the cursor then says where the
// sequences go on.
//
// Not thread-safe: one owner (the dataflow's spool thread) calls everything.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"

namespace dataflow::spool {

// CRC-32C (Castagnoli), the checksum of every record and of the cursor.
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

struct SegmentLogOptions {
  std::string directory;  // created if missing (0700)
  // A new segment is started once the current one holds this many bytes.
  uint64_t segment_bytes = 64u << 20;
  // Records larger than this are refused by append() and treated as corruption by recovery.
  uint32_t max_record_bytes = 256u << 20;
};

// What open() found and repaired, for the log line and the metrics.
struct RecoveryReport {
  uint64_t segments = 0;            // segment files read
  uint64_t records = 0;             // good records kept, acknowledged or not
  uint64_t truncations = 0;         // segments cut at a bad record
  uint64_t truncated_bytes = 0;     // bytes cut off
  uint64_t missing_records = 0;     // sequences absent between segments (a segment removed)
  bool cursor_lost = false;         // no valid cursor: everything is read again
  std::vector<std::string> problems;  // one sentence per repair, naming the file and offset
};

struct Record {
  uint64_t sequence = 0;
  std::string payload;
};

class SegmentLog {
 public:
  // Opens (or creates) the log in options.directory, recovering it as described above. Fatal when
  // the folder cannot be created or read, Retriable on an I/O error.
  static Result<std::unique_ptr<SegmentLog>> open(const SegmentLogOptions& options,
                                                  RecoveryReport* report = nullptr);
  ~SegmentLog();
  SegmentLog(const SegmentLog&) = delete;
  SegmentLog& operator=(const SegmentLog&) = delete;

  // Buffers one record; returns its sequence. Fatal for a payload over max_record_bytes.
  Result<uint64_t> append(std::string_view payload);
  // Writes what append() buffered and makes it durable (fdatasync). Retriable on an I/O error
  // (ENOSPC, EIO): the records stay buffered, and a later commit() tries again.
  Status commit();

  // The next durable record not yet read by next() (reading starts at the cursor), or nullopt at
  // the end of what was committed. Retriable on an I/O error.
  Result<std::optional<Record>> next();

  // next() goes on at `sequence` (not before the cursor): records before it are not read,
  // records from it on are read (again). Cheap when `sequence` is the first record of the latest
  // commit (a reader that kept those records in memory and now needs the disk); elsewhere the
  // next next() reads its segment from the start to find the place.
  void skipTo(uint64_t sequence);

  // Every record up to and including `sequence` is acknowledged: the cursor moves past it
  // (persisted atomically) and segments holding only acknowledged records are deleted.
  Status acknowledge(uint64_t sequence);

  uint64_t firstUnacknowledged() const { return cursor_; }
  uint64_t nextSequence() const { return next_sequence_; }
  uint64_t committedSequence() const { return committed_; }  // last durable sequence, 0: none
  // Bytes of every segment file and of the records not yet committed.
  uint64_t bytes() const { return segment_bytes_total_ + pending_.size(); }
  size_t segmentCount() const { return segments_.size(); }

 private:
  struct Segment {
    uint64_t first = 0;  // first sequence (the file name)
    uint64_t last = 0;   // last durable sequence in it, first - 1 when empty
    uint64_t bytes = 0;
    std::string path;
  };

  explicit SegmentLog(SegmentLogOptions options);
  Status recover(RecoveryReport& report);
  Status readCursor(RecoveryReport& report);
  Status writeCursor(uint64_t cursor);
  Status startSegment(uint64_t first);
  Status openReader(size_t segment_index);

  const SegmentLogOptions options_;
  std::vector<Segment> segments_;  // by first sequence
  int write_fd_ = -1;              // the last segment, open for appending
  int cursor_fd_ = -1;             // the cursor file, once this log has written it whole
  int cursor_slot_ = 0;            // the slot written last
  std::string pending_;            // appended, not yet written
  uint64_t pending_first_ = 0;     // sequence of the first pending record
  uint64_t next_sequence_ = 1;
  uint64_t committed_ = 0;
  uint64_t cursor_ = 1;             // first unacknowledged sequence
  uint64_t segment_bytes_total_ = 0;
  struct CommitPlace {
    uint64_t segment_first = 0;   // the segment the latest commit wrote to
    uint64_t offset = 0;          // where in it the commit's first record starts
    uint64_t first_sequence = 0;  // that record's sequence (0: no commit yet)
  };
  CommitPlace last_commit_;
  // Reading.
  uint64_t read_next_ = 1;  // sequence next() returns next
  int read_fd_ = -1;
  size_t read_segment_ = 0;
  uint64_t read_offset_ = 0;
};

}  // namespace dataflow::spool
