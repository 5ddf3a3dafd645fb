#include "engine/spool/spool_inspect.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "engine/spool/segment_format.h"
#include "engine/spool/spool_record.h"

namespace dataflow::spool {

namespace {

namespace fs = std::filesystem;

Status readError(const std::string& path) {
  return Status::retriable("cannot read " + path + ": " + std::strerror(errno));
}

// The process holding a lock on `path`, read from /proc/locks, whose lines look like
// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (pid, then the device's major and minor in
// hex and the inode). Asking flock(2) instead would take the lock, if only for a moment, and an
// engine starting at that instant would fail.
std::optional<int64_t> lockHolder(const std::string& path) {
  struct stat file {};
  if (::stat(path.c_str(), &file) != 0) return std::nullopt;
  char device[64];
  std::snprintf(device, sizeof device, "%02x:%02x:%llu", major(file.st_dev), minor(file.st_dev),
                static_cast<unsigned long long>(file.st_ino));
  std::ifstream locks("/proc/locks");
  for (std::string line; std::getline(locks, line);) {
    std::istringstream fields(line);
    std::string index, type, mode, access, pid, id;
    fields >> index >> type;
    if (type == "->") continue;  // a process waiting for the lock, not holding it
    fields >> mode >> access >> pid >> id;
    if (id == device) return std::strtoll(pid.c_str(), nullptr, 10);
  }
  return std::nullopt;
}

// The log's segments, by first sequence.
Result<std::vector<std::pair<uint64_t, std::string>>> listSegments(const std::string& directory) {
  std::vector<std::pair<uint64_t, std::string>> segments;
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (std::optional<uint64_t> first = segmentFirstSequence(name)) {
      segments.emplace_back(*first, name);
    }
  }
  if (error) return Status::retriable("cannot list " + directory + ": " + error.message());
  std::sort(segments.begin(), segments.end());
  return segments;
}

bool isLogFolder(const fs::path& directory) {
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name == kCursorFile || segmentFirstSequence(name)) return true;
  }
  return false;
}

std::vector<fs::path> subfolders(const fs::path& directory) {
  std::vector<fs::path> out;
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    if (it->is_directory(error)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// An unacknowledged record: counted, decoded (to find records that are not spool records and
// the oldest receive time) and listed while the list is not full.
void takeUnacknowledged(uint64_t sequence, std::string_view payload, const InspectOptions& options,
                        LogInspection& log) {
  ++log.unacknowledged_records;
  log.unacknowledged_bytes += kHeaderBytes + payload.size();
  RecordSummary summary;
  summary.sequence = sequence;
  summary.bytes = payload.size();
  Result<StoredRecord> stored = decodeStoredRecord(payload);
  if (stored.isOk()) {
    const StoredRecord& record = stored.value();
    summary.topic = record.message.topic;
    summary.payload_bytes = record.message.payload.size();
    summary.qos = record.message.qos;
    summary.received_ms = record.received_ms;
    summary.expires_ms = record.expires_ms;
    if (log.unacknowledged_records == 1) log.oldest_received_ms = record.received_ms;
  } else {
    summary.error = stored.status().message();
    if (log.undecodable_records++ == 0) {
      log.problems.push_back("record " + std::to_string(sequence) + " is not a spool record (" +
                             summary.error + "): the engine could not send it");
    }
  }
  if (log.records.size() < options.list_records) log.records.push_back(std::move(summary));
}

// Reads one segment's records in the order recovery checks them (segment_log.cc), so that a bad
// tail is found at the offset where recovery would truncate. `expected` is the sequence the
// first record must carry, and is left after the last good one.
SegmentInspection inspectSegment(const std::string& name, uint64_t first, const std::string& data,
                                 const InspectOptions& options, LogInspection& log,
                                 uint64_t& expected) {
  SegmentInspection segment;
  segment.file = name;
  segment.first_sequence = first;
  segment.bytes = data.size();
  size_t offset = 0;
  std::string bad;
  while (offset < data.size()) {
    const CheckedRecord record = checkRecord(data, offset, expected, options.max_record_bytes);
    if (!record.bad.empty()) {
      bad = record.bad;
      break;
    }
    const uint64_t sequence = record.sequence;
    const std::string_view payload = record.payload;
    if (sequence >= log.first_unacknowledged) {
      takeUnacknowledged(sequence, payload, options, log);
    }
    offset += record.size;
    ++expected;
    ++segment.records;
  }
  segment.last_sequence = expected - 1;
  if (!bad.empty()) {
    segment.bad_tail = BadTail{offset, data.size() - offset, bad};
    log.problems.push_back(log.directory + "/" + name + ": bad tail at offset " +
                           std::to_string(offset) + " (" + std::to_string(data.size() - offset) +
                           " bytes the engine would cut off): " + bad);
  }
  return segment;
}

Status inspectCursor(const std::string& directory, CursorInspection& cursor) {
  const std::string path = directory + "/" + kCursorFile;
  std::string data;
  switch (readFile(path, data)) {
    case ReadOutcome::Missing:
      cursor.state = CursorInspection::State::Missing;
      return Status::ok();
    case ReadOutcome::Failed:
      return readError(path);
    case ReadOutcome::Read:
      break;
  }
  const std::optional<uint64_t> value = parseCursor(data);
  cursor.state = value ? CursorInspection::State::Valid : CursorInspection::State::Damaged;
  cursor.value = value.value_or(0);
  return Status::ok();
}

// The cursor's findings once every segment is read, as recovery would judge them.
void judgeCursor(uint64_t good_records, LogInspection& log) {
  const std::string path = log.directory + "/" + kCursorFile;
  if (log.cursor.state != CursorInspection::State::Valid) {
    // A spool writes its cursor when it is created: without one, nothing says which records
    // were delivered, and the engine sends them all again.
    if (good_records > 0) {
      log.problems.push_back(
          path +
          (log.cursor.state == CursorInspection::State::Missing ? " is missing" : " is damaged") +
          ": the engine would send every record in the spool again, from sequence " +
          std::to_string(log.first_unacknowledged));
    }
    return;
  }
  if (log.cursor.value > log.next_sequence) {
    log.problems.push_back(path + " points past the end of the spool (" +
                           std::to_string(log.cursor.value) + " > " +
                           std::to_string(log.next_sequence) + "): records were lost");
    log.first_unacknowledged = log.next_sequence;
  }
}

// Sequences at or after the cursor that no segment holds: acknowledge() deletes only segments
// wholly before the cursor, so something else removed them. Not judged when the running engine
// moved the cursor while the folder was read: the segments then listed may postdate the cursor.
void judgeFirstSegment(const CursorInspection& cursor_after, LogInspection& log) {
  if (log.cursor.state != CursorInspection::State::Valid || log.segments.empty()) return;
  if (cursor_after.state != log.cursor.state || cursor_after.value != log.cursor.value) {
    log.notes.push_back("the running engine acknowledged records while the spool was read");
    return;
  }
  const SegmentInspection& first = log.segments.front();
  if (log.cursor.value >= first.first_sequence) return;
  log.gaps.insert(log.gaps.begin(),
                  SequenceGap{log.cursor.value, first.first_sequence - 1, first.file});
  log.problems.insert(log.problems.begin(),
                      "records " + std::to_string(log.cursor.value) + " to " +
                          std::to_string(first.first_sequence - 1) +
                          " are not acknowledged but no segment holds them (removed) before " +
                          log.directory + "/" + first.file);
}

Status inspectLog(const std::string& directory, const InspectOptions& options, LogInspection& log) {
  log.directory = directory;
  log.lock_holder_pid = lockHolder(directory + "/" + kLockFile);
  // The cursor before the segments: the engine persists a new cursor before it deletes the
  // segments it acknowledges, so this order never misses records the cursor says are pending.
  if (Status cursor = inspectCursor(directory, log.cursor); !cursor.isOk()) return cursor;
  Result<std::vector<std::pair<uint64_t, std::string>>> listed = listSegments(directory);
  if (!listed.isOk()) return listed.status();
  const std::vector<std::pair<uint64_t, std::string>>& segments = listed.value();

  const uint64_t oldest = segments.empty() ? 1 : segments.front().first;
  log.first_unacknowledged = log.cursor.state == CursorInspection::State::Valid
                                 ? std::max(log.cursor.value, oldest)
                                 : oldest;
  uint64_t expected = oldest;
  uint64_t good_records = 0;
  std::string data;
  for (const auto& [first, name] : segments) {
    const std::string path = directory + "/" + name;
    switch (readFile(path, data)) {
      case ReadOutcome::Missing:
        log.notes.push_back(path +
                            " was deleted while the spool was read (acknowledged by the "
                            "running engine)");
        continue;
      case ReadOutcome::Failed:
        return readError(path);
      case ReadOutcome::Read:
        break;
    }
    if (log.segments.empty()) {
      expected = first;  // the first segment read: nothing before it to compare with
    } else if (first > expected) {
      log.gaps.push_back(SequenceGap{expected, first - 1, name});
      // After a bad tail they went with it; otherwise a whole segment file went.
      const bool cut = log.segments.back().bad_tail.has_value();
      log.problems.push_back("records " + std::to_string(expected) + " to " +
                             std::to_string(first - 1) + " are missing before " + path +
                             (cut ? " (after the bad tail of " + log.segments.back().file + ")"
                                  : " (a segment file was removed)"));
    } else if (first < expected) {
      log.problems.push_back(path + " starts at sequence " + std::to_string(first) +
                             " but the segment before it ends at " + std::to_string(expected - 1) +
                             ": the engine would send records " + std::to_string(first) + " to " +
                             std::to_string(expected - 1) + " twice");
    }
    expected = first;
    log.segments.push_back(inspectSegment(name, first, data, options, log, expected));
    good_records += log.segments.back().records;
  }
  log.next_sequence = log.segments.empty() ? 1 : expected;
  CursorInspection cursor_after;
  if (Status cursor = inspectCursor(directory, cursor_after); !cursor.isOk()) return cursor;
  judgeFirstSegment(cursor_after, log);
  judgeCursor(good_records, log);
  return Status::ok();
}

}  // namespace

Result<SpoolInspection> inspectSpool(const std::string& directory, const InspectOptions& options) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    return Status::fatal(directory + " is not a folder" +
                         (error ? ": " + error.message() : std::string()));
  }
  SpoolInspection inspection;
  inspection.directory = directory;
  if (isLogFolder(directory)) {
    LogInspection& log = inspection.logs.emplace_back();
    if (Status inspected = inspectLog(directory, options, log); !inspected.isOk()) {
      return inspected;
    }
    return inspection;
  }
  inspection.root = true;
  for (const fs::path& dataflow : subfolders(directory)) {
    for (const fs::path& instance : subfolders(dataflow)) {
      if (!isLogFolder(instance) && !fs::exists(instance / kLockFile, error)) continue;
      LogInspection& log = inspection.logs.emplace_back();
      if (Status inspected = inspectLog(instance.string(), options, log); !inspected.isOk()) {
        return inspected;
      }
    }
  }
  return inspection;
}

}  // namespace dataflow::spool
