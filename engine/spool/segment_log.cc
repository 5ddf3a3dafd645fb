#include "engine/spool/segment_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/spool/segment_format.h"

namespace dataflow::spool {

namespace {

std::array<uint32_t, 256> makeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

std::string errnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

Status syncDirectory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::retriable(errnoText("cannot open the spool folder", directory));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::retriable(errnoText("cannot sync the spool folder", directory));
  return Status::ok();
}

bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool preadAll(int fd, char* data, size_t size, uint64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

ReadOutcome readFile(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? ReadOutcome::Missing : ReadOutcome::Failed;
  out.clear();
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      errno = error;
      return ReadOutcome::Failed;
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return ReadOutcome::Read;
}

uint32_t crc32c(std::string_view data, uint32_t crc) {
  static const std::array<uint32_t, 256> table = makeCrcTable();
  crc = ~crc;
  for (const char ch : data) {
    crc = table[(crc ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (crc >> 8);
  }
  return ~crc;
}

SegmentLog::SegmentLog(SegmentLogOptions options) : options_(std::move(options)) {}

SegmentLog::~SegmentLog() {
  if (write_fd_ >= 0) ::close(write_fd_);
  if (read_fd_ >= 0) ::close(read_fd_);
  if (cursor_fd_ >= 0) ::close(cursor_fd_);
}

Result<std::unique_ptr<SegmentLog>> SegmentLog::open(const SegmentLogOptions& options,
                                                     RecoveryReport* report) {
  std::error_code error;
  std::filesystem::create_directories(options.directory, error);
  if (error) {
    return Status::fatal("cannot create the spool folder " + options.directory + ": " +
                         error.message());
  }
  ::chmod(options.directory.c_str(), 0700);
  std::unique_ptr<SegmentLog> log(new SegmentLog(options));
  RecoveryReport local;
  RecoveryReport& out = report != nullptr ? *report : local;
  out = RecoveryReport();
  if (Status recovered = log->recover(out); !recovered.isOk()) return recovered;
  return log;
}

Status SegmentLog::recover(RecoveryReport& report) {
  DIR* dir = ::opendir(options_.directory.c_str());
  if (dir == nullptr) {
    return Status::fatal(errnoText("cannot read the spool folder", options_.directory));
  }
  while (dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    const std::optional<uint64_t> first = segmentFirstSequence(name);
    if (!first) continue;  // not a segment of this log
    Segment segment;
    segment.first = *first;
    segment.path = options_.directory + "/" + name;
    segments_.push_back(std::move(segment));
  }
  ::closedir(dir);
  std::sort(segments_.begin(), segments_.end(),
            [](const Segment& a, const Segment& b) { return a.first < b.first; });

  uint64_t expected = segments_.empty() ? 1 : segments_.front().first;
  std::string data;
  for (Segment& segment : segments_) {
    ++report.segments;
    if (segment.first > expected) {
      report.missing_records += segment.first - expected;
      report.problems.push_back("records " + std::to_string(expected) + " to " +
                                std::to_string(segment.first - 1) +
                                " are missing (a segment file was removed) before " +
                                segment.path);
    }
    expected = segment.first;
    if (readFile(segment.path, data) != ReadOutcome::Read) {
      return Status::retriable(errnoText("cannot read the spool segment", segment.path));
    }
    size_t offset = 0;
    std::string bad;
    while (offset < data.size()) {
      const CheckedRecord record =
          checkRecord(data, offset, expected, options_.max_record_bytes);
      if (!record.bad.empty()) {
        bad = record.bad;
        break;
      }
      offset += record.size;
      ++expected;
      ++report.records;
    }
    if (!bad.empty()) {
      const int fd = ::open(segment.path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(offset)) != 0 || ::fsync(fd) != 0) {
        if (fd >= 0) ::close(fd);
        return Status::retriable(errnoText("cannot truncate the spool segment", segment.path));
      }
      ::close(fd);
      ++report.truncations;
      report.truncated_bytes += data.size() - offset;
      report.problems.push_back(segment.path + " truncated at offset " + std::to_string(offset) +
                                " (" + std::to_string(data.size() - offset) +
                                " bytes cut): " + bad);
    }
    segment.bytes = offset;
    segment.last = expected - 1;
    segment_bytes_total_ += offset;
  }
  // Empty segments before the last hold nothing: removed.
  for (size_t i = 0; i + 1 < segments_.size();) {
    if (segments_[i].last < segments_[i].first) {
      ::unlink(segments_[i].path.c_str());
      segments_.erase(segments_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  next_sequence_ = expected;
  committed_ = next_sequence_ - 1;
  if (Status cursor = readCursor(report); !cursor.isOk()) return cursor;
  read_next_ = cursor_;
  if (!segments_.empty()) {
    write_fd_ = ::open(segments_.back().path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (write_fd_ < 0) {
      return Status::retriable(errnoText("cannot open the spool segment", segments_.back().path));
    }
  }
  return Status::ok();
}

Status SegmentLog::readCursor(RecoveryReport& report) {
  const std::string path = options_.directory + "/" + kCursorFile;
  const uint64_t oldest = segments_.empty() ? next_sequence_ : segments_.front().first;
  std::string data;
  if (segments_.empty() && !std::filesystem::exists(path)) {
    // A new spool: its cursor is written now, so that a cursor missing later means a lost one.
    cursor_ = next_sequence_;
    return writeCursor(cursor_);
  }
  const std::optional<uint64_t> stored =
      readFile(path, data) == ReadOutcome::Read ? parseCursor(data) : std::optional<uint64_t>();
  if (!stored) {
    cursor_ = oldest;
    if (report.records > 0) {
      report.cursor_lost = true;
      report.problems.push_back(path + " is missing or damaged: every record in the spool is "
                                "sent again");
    }
    return Status::ok();
  }
  // Updates go on in place, over the slot that does not hold the cursor in force.
  cursor_fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  cursor_slot_ = data.compare(0, kCursorSlotBytes, cursorSlot(*stored)) == 0 ? 0 : 1;
  if (segments_.empty()) {
    // Every segment was deleted once everything was acknowledged: sequences go on from the
    // cursor.
    next_sequence_ = std::max<uint64_t>(*stored, 1);
    cursor_ = next_sequence_;
    committed_ = next_sequence_ - 1;
    return Status::ok();
  }
  cursor_ = std::max(*stored, oldest);
  if (cursor_ > next_sequence_) {
    report.problems.push_back(path + " points past the end of the spool (" +
                              std::to_string(cursor_) + " > " + std::to_string(next_sequence_) +
                              "): its records were lost");
    cursor_ = next_sequence_;
  }
  return Status::ok();
}

Status SegmentLog::writeCursor(uint64_t cursor) {
  const std::string path = options_.directory + "/" + kCursorFile;
  if (cursor_fd_ >= 0) {
    // In place, over the older slot: no new block is needed, so a full disk does not stop the
    // cursor (and with it the deletion of acknowledged segments, which frees the disk).
    cursor_slot_ ^= 1;
    const std::string slot = cursorSlot(cursor);
    const off_t at = static_cast<off_t>(cursor_slot_ * kCursorSlotBytes);
    if (::pwrite(cursor_fd_, slot.data(), slot.size(), at) != static_cast<ssize_t>(slot.size()) ||
        ::fdatasync(cursor_fd_) != 0) {
      return Status::retriable(errnoText("cannot write the spool cursor", path));
    }
    return Status::ok();
  }
  // A new (or lost) cursor file: written whole and renamed into place.
  const std::string data = cursorSlot(cursor) + cursorSlot(cursor);
  const std::string temp = options_.directory + "/" + kCursorTemp;
  const int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::retriable(errnoText("cannot write the spool cursor", temp));
  if (!writeAll(fd, data) || ::fdatasync(fd) != 0) {
    const Status failed = Status::retriable(errnoText("cannot write the spool cursor", temp));
    ::close(fd);
    return failed;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    ::close(fd);
    return Status::retriable(errnoText("cannot replace the spool cursor", path));
  }
  if (Status synced = syncDirectory(options_.directory); !synced.isOk()) {
    ::close(fd);
    return synced;
  }
  cursor_fd_ = fd;
  cursor_slot_ = 0;
  return Status::ok();
}

Status SegmentLog::startSegment(uint64_t first) {
  char name[32];
  std::snprintf(name, sizeof name, "%020" PRIu64 "%s", first, kSegmentSuffix);
  Segment segment;
  segment.first = first;
  segment.last = first - 1;
  segment.path = options_.directory + "/" + name;
  const int fd = ::open(segment.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::retriable(errnoText("cannot create the spool segment", segment.path));
  if (Status synced = syncDirectory(options_.directory); !synced.isOk()) {
    ::close(fd);
    return synced;
  }
  if (write_fd_ >= 0) ::close(write_fd_);
  write_fd_ = fd;
  segments_.push_back(std::move(segment));
  return Status::ok();
}

Result<uint64_t> SegmentLog::append(std::string_view payload) {
  if (payload.size() > options_.max_record_bytes) {
    return Status::fatal("a spool record of " + std::to_string(payload.size()) +
                         " bytes exceeds the limit of " +
                         std::to_string(options_.max_record_bytes));
  }
  const uint64_t sequence = next_sequence_++;
  if (pending_.empty()) pending_first_ = sequence;
  putU32(pending_, static_cast<uint32_t>(payload.size()));
  putU32(pending_, recordCrc(sequence, payload));
  putU64(pending_, sequence);
  pending_.append(payload);
  return sequence;
}

Status SegmentLog::commit() {
  if (pending_.empty()) return Status::ok();
  if (segments_.empty() || segments_.back().bytes >= options_.segment_bytes) {
    if (Status started = startSegment(pending_first_); !started.isOk()) return started;
  }
  Segment& segment = segments_.back();
  if (!writeAll(write_fd_, pending_) || ::fdatasync(write_fd_) != 0) {
    const std::string why = errnoText("cannot write the spool segment", segment.path);
    // Back to the last durable size, so that a retry does not append after a partial record
    // (recovery would cut the log there, losing the retried records after it).
    if (::ftruncate(write_fd_, static_cast<off_t>(segment.bytes)) != 0) {
      return Status::retriable(why + "; and cannot roll it back: " + std::strerror(errno));
    }
    return Status::retriable(why);
  }
  last_commit_ = {segment.first, segment.bytes, pending_first_};
  segment.bytes += pending_.size();
  segment_bytes_total_ += pending_.size();
  segment.last = next_sequence_ - 1;
  committed_ = segment.last;
  pending_.clear();
  return Status::ok();
}

Status SegmentLog::openReader(size_t segment_index) {
  if (read_fd_ >= 0) ::close(read_fd_);
  read_fd_ = ::open(segments_[segment_index].path.c_str(), O_RDONLY | O_CLOEXEC);
  if (read_fd_ < 0) {
    return Status::retriable(
        errnoText("cannot open the spool segment", segments_[segment_index].path));
  }
  read_segment_ = segment_index;
  read_offset_ = 0;
  return Status::ok();
}

Result<std::optional<Record>> SegmentLog::next() {
  while (read_next_ <= committed_) {
    if (read_fd_ < 0 || read_segment_ >= segments_.size() ||
        segments_[read_segment_].last < read_next_ ||
        segments_[read_segment_].first > read_next_) {
      size_t index = 0;
      while (index < segments_.size() && segments_[index].last < read_next_) ++index;
      if (index == segments_.size()) return std::optional<Record>();
      // A gap (a removed segment): reading goes on from the next record that exists.
      read_next_ = std::max(read_next_, segments_[index].first);
      if (Status opened = openReader(index); !opened.isOk()) return opened;
    }
    char header[kHeaderBytes];
    const Segment& segment = segments_[read_segment_];
    if (!preadAll(read_fd_, header, kHeaderBytes, read_offset_)) {
      return Status::retriable(errnoText("cannot read the spool segment", segment.path));
    }
    const uint32_t length = getU32(header);
    const uint64_t sequence = getU64(header + 8);
    Record record;
    record.sequence = sequence;
    record.payload.resize(length);
    if (!preadAll(read_fd_, record.payload.data(), length, read_offset_ + kHeaderBytes) ||
        recordCrc(sequence, record.payload) != getU32(header + 4)) {
      return Status::retriable("the spool segment " + segment.path +
                               " changed under the reader at offset " +
                               std::to_string(read_offset_));
    }
    read_offset_ += kHeaderBytes + length;
    if (sequence < read_next_) continue;  // before the cursor: acknowledged already
    read_next_ = sequence + 1;
    return std::optional<Record>(std::move(record));
  }
  return std::optional<Record>();
}

void SegmentLog::skipTo(uint64_t sequence) {
  read_next_ = std::max(sequence, cursor_);
  if (read_next_ == last_commit_.first_sequence) {
    for (size_t i = 0; i < segments_.size(); ++i) {
      if (segments_[i].first != last_commit_.segment_first) continue;
      if (read_fd_ < 0 || read_segment_ != i) {
        if (!openReader(i).isOk()) break;  // next() opens it again and says why
      }
      read_offset_ = last_commit_.offset;
      return;
    }
  }
  // Elsewhere: next() finds the place by reading its segment from the start.
  if (read_fd_ >= 0) ::close(read_fd_);
  read_fd_ = -1;
}

Status SegmentLog::acknowledge(uint64_t sequence) {
  sequence = std::min(sequence, committed_);
  if (sequence < cursor_) return Status::ok();
  if (Status written = writeCursor(sequence + 1); !written.isOk()) return written;
  cursor_ = sequence + 1;
  // Segments wholly acknowledged are deleted. The one being written goes too once everything
  // committed is acknowledged (the next commit starts a new one), so that a full disk gets its
  // space back as soon as the destination has caught up, whatever the segment size.
  const bool all = cursor_ > committed_;
  if (all && write_fd_ >= 0) {
    ::close(write_fd_);
    write_fd_ = -1;
  }
  size_t removed = 0;
  while ((segments_.size() > 1 || (all && !segments_.empty())) &&
         segments_.front().last < cursor_) {
    ::unlink(segments_.front().path.c_str());
    segment_bytes_total_ -= segments_.front().bytes;
    segments_.erase(segments_.begin());
    ++removed;
  }
  if (read_segment_ < removed) {  // the reader's segment is gone: next() finds its place again
    if (read_fd_ >= 0) ::close(read_fd_);
    read_fd_ = -1;
    read_segment_ = 0;
  } else {
    read_segment_ -= removed;
  }
  return Status::ok();
}

}  // namespace dataflow::spool
