#include "engine/spool/spool.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/core/backoff.h"
#include "engine/core/thread_name.h"
#include "engine/spool/spool_record.h"

namespace dataflow::spool {

namespace {

constexpr auto kTick = std::chrono::milliseconds(50);
constexpr auto kWarningInterval = std::chrono::seconds(30);
constexpr int64_t kAgeResolutionMs = 100;
constexpr size_t kReadBatch = 256;
constexpr uint64_t kMaxSegmentBytes = uint64_t{64} << 20;
constexpr uint64_t kMinSegmentBytes = uint64_t{64} << 10;

// What a Message held in the outbox costs in memory, roughly: its strings and the object itself
// (with its properties' strings), so that the outbox's bound holds for small messages too.
size_t memoryOf(const Message& m) {
  size_t bytes = sizeof(Message) + m.payload.size() + m.topic.size();
  for (const Property& p : m.properties) bytes += sizeof(Property) + p.name.size() + p.value.size();
  return bytes;
}

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

std::string spoolDirectory(const std::string& root, const std::string& dataflow,
                           uint32_t instance_id) {
  return root + "/" + dataflow + "/" + std::to_string(instance_id);
}

Spool::Spool(SpoolOptions options, const Clock& clock, std::shared_ptr<spdlog::logger> logger,
             Committed committed)
    : options_(std::move(options)),
      clock_(clock),
      logger_(std::move(logger)),
      committed_(std::move(committed)) {}

Result<std::unique_ptr<Spool>> Spool::open(const SpoolOptions& options, const Clock& clock,
                                           std::shared_ptr<spdlog::logger> logger,
                                           Committed committed) {
  std::unique_ptr<Spool> spool(new Spool(options, clock, std::move(logger), std::move(committed)));
  const std::string& dir = options.directory;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return Status::fatal("cannot create the spool folder " + dir + ": " + error.message());
  }
  ::chmod(dir.c_str(), 0700);
  const std::string lock_path = dir + "/lock";
  spool->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (spool->lock_fd_ < 0) {
    return Status::fatal("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(spool->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    const ssize_t n = ::pread(spool->lock_fd_, holder, sizeof holder - 1, 0);
    std::string who = n > 0 ? std::string(holder, static_cast<size_t>(n)) : std::string();
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    return Status::fatal("the spool folder " + dir + " is in use by " +
                         (who.empty() ? std::string("another spool") : "process " + who) +
                         " (two engines, or two instances with the same --instance-id, cannot "
                         "share a spool)");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(spool->lock_fd_, 0) != 0 ||
      ::pwrite(spool->lock_fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    spool->logger_->warn("cannot write the process id into {}: {}", lock_path,
                         std::strerror(errno));
  }

  SegmentLogOptions log_options;
  log_options.directory = dir;
  log_options.segment_bytes =
      options.segment_bytes != 0
          ? options.segment_bytes
          : std::clamp(options.max_bytes / 8, kMinSegmentBytes, kMaxSegmentBytes);
  auto log = SegmentLog::open(log_options, &spool->recovery_);
  if (!log.isOk()) return Status::fatal("cannot open the spool: " + log.status().message());
  spool->log_ = std::move(log).value();
  for (const std::string& problem : spool->recovery_.problems) {
    spool->logger_->warn("spool recovery: {}", problem);
  }
  spool->ack_base_ = spool->log_->firstUnacknowledged();
  spool->persisted_cursor_ = spool->ack_base_;
  const uint64_t committed_sequence = spool->log_->committedSequence();
  const uint64_t waiting =
      committed_sequence >= spool->ack_base_ ? committed_sequence - spool->ack_base_ + 1 : 0;
  spool->replayed_ = waiting;
  if (waiting > 0) {
    spool->logger_->info("spool {}: {} message{} from before the restart to send again ({})", dir,
                         waiting, waiting == 1 ? "" : "s", mib(spool->log_->bytes()));
  }
  // Reading starts from the log: records from before the restart come first.
  spool->refill_wanted_ = true;
  spool->updateLimits();
  spool->thread_ = std::thread([s = spool.get()] {
    nameThisThread("df-spool");
    s->run();
  });
  return spool;
}

Spool::~Spool() { close(); }

bool Spool::mustWaitLocked() const {
  return full_ || inbox_bytes_ >= 2 * options_.commit_bytes;
}

Status Spool::put(Message&& message) {
  std::string record;
  encodeRecord(message, clock_, record);
  if (record.size() > SegmentLogOptions().max_record_bytes) {
    return Status::fatal("the message is too large for the spool (" +
                         std::to_string(record.size()) + " bytes)");
  }
  std::unique_lock lock(mutex_);
  put_cv_.wait(lock, [&] { return closing_ || !mustWaitLocked(); });
  if (closing_) return Status::retriable("the spool is closing");
  inbox_bytes_ += record.size();
  const AckToken source = message.ack;
  inbox_.push_back({std::move(record), std::move(message), source});
  if (inbox_.size() == 1) work_cv_.notify_one();
  return Status::ok();
}

std::optional<Message> Spool::take() {
  std::unique_lock lock(mutex_);
  take_cv_.wait(lock, [&] { return !taking_ || !outbox_.empty(); });
  if (!taking_) return std::nullopt;
  Message message = std::move(outbox_.front());
  outbox_.pop_front();
  outbox_bytes_ -= memoryOf(message);
  if (!memory_mode_ && !refill_wanted_ && outbox_bytes_ < options_.memory_bytes / 2) {
    refill_wanted_ = true;
    work_cv_.notify_one();
  }
  return message;
}

void Spool::acknowledge(uint64_t sequence) {
  std::lock_guard lock(mutex_);
  acks_.push_back(sequence);
}

void Spool::stopTaking() {
  std::lock_guard lock(mutex_);
  taking_ = false;
  take_cv_.notify_all();
}

void Spool::close() {
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    taking_ = false;
  }
  put_cv_.notify_all();
  take_cv_.notify_all();
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  log_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  lock_fd_ = -1;
}

void Spool::run() {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::seconds(5));
  std::vector<Pending> batch;  // appended to the log, not yet durable
  uint64_t batch_first = 0;
  auto retry_at = std::chrono::steady_clock::time_point::min();
  auto next_commit_at = std::chrono::steady_clock::time_point::min();
  int close_attempts = 0;
  for (;;) {
    std::vector<uint64_t> acks;
    bool closing = false;
    bool fresh = false;
    {
      std::unique_lock lock(mutex_);
      auto wake = std::chrono::steady_clock::now() + kTick;
      if (!batch.empty()) wake = std::min(wake, retry_at);
      work_cv_.wait_until(lock, wake, [&] {
        return closing_ || (refill_wanted_ && taking_) || (batch.empty() && !inbox_.empty());
      });
      // Group commit: at most one commit per commit_interval, unless a full one is waiting, so
      // that a steady flow makes batches rather than one fdatasync per message or two.
      if (batch.empty() && !inbox_.empty() && !closing_) {
        work_cv_.wait_until(lock, next_commit_at, [&] {
          return closing_ || inbox_bytes_ >= options_.commit_bytes;
        });
      }
      closing = closing_;
      if (batch.empty() && !inbox_.empty()) {
        batch.swap(inbox_);
        inbox_bytes_ = 0;
        settled_ = false;
        fresh = true;
        put_cv_.notify_all();
      }
      acks.swap(acks_);
    }
    if (fresh) {
      next_commit_at = std::chrono::steady_clock::now() + options_.commit_interval;
      batch_first = log_->nextSequence();
      for (const Pending& p : batch) (void)log_->append(p.record);  // sizes checked by put()
    }
    if (!batch.empty() &&
        (fresh || closing || std::chrono::steady_clock::now() >= retry_at)) {
      if (commitBatch(batch, batch_first)) {
        backoff.reset();
      } else {
        retry_at = std::chrono::steady_clock::now() + backoff.next();
        if (closing && ++close_attempts >= 3) {
          logger_->error(
              "spool {}: closing with {} message{} not written (the disk keeps failing); they "
              "stay unacknowledged at the source, whose broker sends them again",
              options_.directory, batch.size(), batch.size() == 1 ? "" : "s");
          batch.clear();
        }
      }
    }
    applyAcknowledgements(acks, closing);
    bool refill = false;
    {
      std::lock_guard lock(mutex_);
      // Asked for by take(), or on every tick while the reader reads the log and is short (after
      // a read error, say).
      refill = !memory_mode_ && taking_ &&
               (refill_wanted_ || outbox_bytes_ < options_.memory_bytes / 2);
    }
    if (refill) refillFromLog();
    updateLimits();
    if (closing && batch.empty()) {
      std::lock_guard lock(mutex_);
      if (inbox_.empty() && acks_.empty()) break;
    }
  }
  std::vector<uint64_t> none;
  applyAcknowledgements(none, true);
}

bool Spool::commitBatch(std::vector<Pending>& batch, uint64_t first_sequence) {
  const auto started = std::chrono::steady_clock::now();
  const Status status = log_->commit();
  const auto now = std::chrono::steady_clock::now();
  if (!status.isOk()) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    const bool first = !disk_failing_;
    disk_failing_ = true;
    {
      std::lock_guard lock(mutex_);
      problem_ = status.message();
    }
    if (first || now - last_full_warning_ >= kWarningInterval) {
      last_full_warning_ = now;
      logger_->error(
          "spool {}: {}; {} message{} wait in memory and the source is not acknowledged until "
          "the spool can write again (retrying)",
          options_.directory, status.message(), batch.size(), batch.size() == 1 ? "" : "s");
    }
    return false;
  }
  if (disk_failing_) {
    disk_failing_ = false;
    logger_->info("spool {}: writing again", options_.directory);
  }
  const uint64_t us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - started).count());
  size_t bucket = 0;
  while (bucket < kFsyncBoundsUs.size() && us > kFsyncBoundsUs[bucket]) ++bucket;
  fsync_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  fsync_us_sum_.fetch_add(us, std::memory_order_relaxed);
  commits_.fetch_add(1, std::memory_order_relaxed);
  committed_records_.fetch_add(batch.size(), std::memory_order_relaxed);
  size_t batch_bytes = 0;
  size_t message_bytes = 0;
  for (const Pending& p : batch) {
    batch_bytes += p.record.size();
    message_bytes += memoryOf(p.message);
  }
  committed_bytes_.fetch_add(batch_bytes, std::memory_order_relaxed);
  const int64_t wall = clock_.wallNowMs();
  if (ages_.empty() || wall - ages_.back().second >= kAgeResolutionMs) {
    ages_.emplace_back(first_sequence, wall);
  }
  // Durable: the source may acknowledge them now.
  if (committed_) {
    for (const Pending& p : batch) committed_(p.source);
  }
  {
    std::lock_guard lock(mutex_);
    if (memory_mode_ && taking_ && outbox_bytes_ + message_bytes <= options_.memory_bytes) {
      uint64_t sequence = first_sequence;
      for (Pending& p : batch) {
        p.message.ack = AckToken();
        p.message.ack.sequence = sequence++;
        outbox_.push_back(std::move(p.message));
      }
      outbox_bytes_ += message_bytes;
      take_cv_.notify_one();
    } else if (memory_mode_) {
      // The reader is behind: from this batch on it reads the log.
      memory_mode_ = false;
      log_->skipTo(first_sequence);
    }
  }
  batch.clear();
  return true;
}

void Spool::applyAcknowledgements(std::vector<uint64_t>& acks, bool force_cursor) {
  for (const uint64_t sequence : acks) {
    if (sequence < ack_base_) continue;
    const uint64_t index = sequence - ack_base_;
    if (index >= acked_.size()) acked_.resize(index + 1, false);
    acked_[index] = true;
  }
  while (!acked_.empty() && acked_.front()) {
    acked_.pop_front();
    ++ack_base_;
  }
  while (ages_.size() > 1 && ages_[1].first <= ack_base_) ages_.pop_front();
  if (ack_base_ > log_->committedSequence()) ages_.clear();  // nothing waits
  const auto now = std::chrono::steady_clock::now();
  if (ack_base_ == persisted_cursor_) return;
  if (!force_cursor && now - cursor_written_ < options_.cursor_interval) return;
  const Status status = log_->acknowledge(ack_base_ - 1);
  if (!status.isOk()) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    if (now - last_full_warning_ >= kWarningInterval) {
      last_full_warning_ = now;
      logger_->error("spool {}: {} (retrying; a crash now sends acknowledged messages again)",
                     options_.directory, status.message());
    }
    return;
  }
  persisted_cursor_ = ack_base_;
  cursor_written_ = now;
}

void Spool::refillFromLog() {
  std::vector<Message> read;
  size_t read_bytes = 0;
  bool at_end = false;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (!read.empty() && (read.size() >= kReadBatch ||
                            outbox_bytes_ + read_bytes >= options_.memory_bytes)) {
        for (Message& m : read) outbox_.push_back(std::move(m));
        outbox_bytes_ += read_bytes;
        read.clear();
        read_bytes = 0;
        take_cv_.notify_one();
      }
      if (at_end) {
        for (Message& m : read) outbox_.push_back(std::move(m));
        outbox_bytes_ += read_bytes;
        if (!read.empty()) take_cv_.notify_one();
        memory_mode_ = true;  // caught up: new commits go to the outbox directly
        refill_wanted_ = false;
        return;
      }
      if (!taking_ || outbox_bytes_ + read_bytes >= options_.memory_bytes) {
        for (Message& m : read) outbox_.push_back(std::move(m));
        outbox_bytes_ += read_bytes;
        if (!read.empty()) take_cv_.notify_one();
        refill_wanted_ = false;
        return;
      }
    }
    auto next = log_->next();
    if (!next.isOk()) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      const auto now = std::chrono::steady_clock::now();
      if (now - last_full_warning_ >= kWarningInterval) {
        last_full_warning_ = now;
        logger_->error("spool {}: {} (retrying)", options_.directory, next.status().message());
      }
      std::lock_guard lock(mutex_);
      for (Message& m : read) outbox_.push_back(std::move(m));
      outbox_bytes_ += read_bytes;
      if (!read.empty()) take_cv_.notify_one();
      refill_wanted_ = false;  // the next tick tries again
      return;
    }
    if (!next.value()) {
      at_end = true;
      continue;
    }
    Record& record = *next.value();
    auto message = decodeRecord(record.payload, clock_);
    if (!message.isOk()) {
      undecodable_.fetch_add(1, std::memory_order_relaxed);
      logger_->error("spool {}: record {} is not a message ({}); skipped and acknowledged",
                     options_.directory, record.sequence, message.status().message());
      std::vector<uint64_t> one{record.sequence};
      applyAcknowledgements(one, false);
      continue;
    }
    Message m = std::move(message).value();
    if (ages_.empty() || (record.sequence > ages_.back().first &&
                          m.timestamp_ms - ages_.back().second >= kAgeResolutionMs)) {
      ages_.emplace_back(record.sequence, m.timestamp_ms);
    }
    m.ack = AckToken();
    m.ack.sequence = record.sequence;
    read_bytes += memoryOf(m);
    read.push_back(std::move(m));
  }
}

void Spool::updateLimits() {
  const uint64_t bytes = log_->bytes();
  const uint64_t committed = log_->committedSequence();
  const uint64_t records = committed >= ack_base_ ? committed - ack_base_ + 1 : 0;
  const int64_t oldest = records > 0 && !ages_.empty() ? ages_.front().second : 0;
  bytes_.store(bytes, std::memory_order_relaxed);
  records_.store(records, std::memory_order_relaxed);
  oldest_wall_ms_.store(oldest, std::memory_order_relaxed);

  std::string reason;
  if (bytes >= options_.max_bytes) {
    reason = "the spool holds " + mib(bytes) + ", its limit is " + mib(options_.max_bytes);
  } else if (options_.max_age.count() > 0 && oldest != 0 &&
             clock_.wallNowMs() - oldest >= options_.max_age.count() * 1000) {
    reason = "its oldest message has waited " +
             std::to_string((clock_.wallNowMs() - oldest) / 1000) + " s, the limit is " +
             std::to_string(options_.max_age.count()) + " s";
  }
  const auto now = std::chrono::steady_clock::now();
  bool became_full = false;
  bool became_free = false;
  {
    std::lock_guard lock(mutex_);
    became_full = !full_ && !reason.empty();
    became_free = full_ && reason.empty();
    full_ = !reason.empty();
    settled_ = records == 0 && !disk_failing_;
    if (!disk_failing_) problem_ = reason;
    if (became_free) put_cv_.notify_all();
  }
  if (became_full) full_waits_.fetch_add(1, std::memory_order_relaxed);
  if (became_full || (full_ && now - last_full_warning_ >= kWarningInterval)) {
    last_full_warning_ = now;
    logger_->warn(
        "spool {} is full: {}; the source is not acknowledged (its broker keeps the messages) "
        "until the destination catches up",
        options_.directory, reason);
  } else if (became_free) {
    logger_->info("spool {} has room again; taking messages", options_.directory);
  }
}

void SpoolStats::addCounters(const SpoolStats& o) {
  commits += o.commits;
  committed_records += o.committed_records;
  committed_bytes += o.committed_bytes;
  for (size_t i = 0; i < fsync_cumulative.size(); ++i) fsync_cumulative[i] += o.fsync_cumulative[i];
  fsync_seconds_sum += o.fsync_seconds_sum;
  truncations += o.truncations;
  truncated_bytes += o.truncated_bytes;
  replayed += o.replayed;
  write_errors += o.write_errors;
  undecodable += o.undecodable;
  full_waits += o.full_waits;
}

bool Spool::drained() const {
  std::lock_guard lock(mutex_);
  return settled_ && inbox_.empty() && acks_.empty();
}

SpoolStats Spool::stats() const {
  SpoolStats s;
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.records = records_.load(std::memory_order_relaxed);
  const int64_t oldest = oldest_wall_ms_.load(std::memory_order_relaxed);
  if (oldest != 0) {
    s.oldest_age_seconds = std::max<double>(0, (clock_.wallNowMs() - oldest) / 1000.0);
  }
  s.commits = commits_.load(std::memory_order_relaxed);
  s.committed_records = committed_records_.load(std::memory_order_relaxed);
  s.committed_bytes = committed_bytes_.load(std::memory_order_relaxed);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kFsyncBoundsUs.size(); ++i) {
    cumulative += fsync_buckets_[i].load(std::memory_order_relaxed);
    s.fsync_cumulative[i] = cumulative;
  }
  s.fsync_seconds_sum = fsync_us_sum_.load(std::memory_order_relaxed) / 1e6;
  s.truncations = recovery_.truncations;
  s.truncated_bytes = recovery_.truncated_bytes;
  s.replayed = replayed_;
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  s.undecodable = undecodable_.load(std::memory_order_relaxed);
  s.full_waits = full_waits_.load(std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  s.full = full_;
  s.problem = problem_;
  return s;
}

}  // namespace dataflow::spool
