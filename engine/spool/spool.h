// The durable spool of one dataflow instance (issue 17): the point of safety between an MQTT
// source and its destination. A message put() here is acknowledged to its source once it is
// durably in the log (group-committed, fdatasync); the destination side take()s messages in
// order and acknowledge()s each once its destination has it (or it was dropped on purpose), which
// moves the persisted cursor; fully acknowledged segments are deleted. After a crash, whatever was
// committed and not acknowledged is taken again (at least once, in order).
//
//   source thread     put() ─► inbox ─┐
//   spool thread      append + commit (fdatasync) ─► committed(source token) ─► Source::ack
//                     committed messages ─► outbox (kept in memory while the reader keeps up;
//                     otherwise read back from the log)
//   sender thread     take() ◄─ outbox
//   delivery threads  acknowledge(sequence) ─► cursor (persisted every cursor_interval)
//
// Limits: when the log holds max_bytes, or its oldest unacknowledged record is older than
// max_age, put() waits (the source stops being acknowledged: backpressure to its broker), with a
// warning; nothing is dropped. A disk error (ENOSPC, EIO) keeps everything that was not committed
// in memory (bounded: put() waits), is logged, retried with backoff, and shows in stats().
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/clock.h"
#include "engine/core/message.h"
#include "engine/core/status.h"
#include "engine/spool/segment_log.h"

namespace spdlog {
class logger;
}

namespace dataflow::spool {

struct SpoolOptions {
  std::string directory;  // this dataflow instance's folder (created 0700)
  // The log's bytes on disk (segment files) at which put() waits.
  uint64_t max_bytes = uint64_t{1} << 30;
  // The age of the oldest unacknowledged record at which put() waits; zero: no age limit.
  std::chrono::seconds max_age{0};
  // The most bytes one commit writes; the inbox holds at most twice this before put() waits.
  size_t commit_bytes = 4u << 20;
  // Commits start at most this often (sooner when commit_bytes are waiting): what arrives
  // meanwhile joins the next one. Each commit is a write and an fdatasync; fewer, larger ones
  // cost less CPU and disk, at up to this much added latency.
  std::chrono::microseconds commit_interval{2000};
  // Committed messages kept in memory for the reader (their size in memory, objects included);
  // beyond, the reader reads the log.
  size_t memory_bytes = 8u << 20;
  // How often the cursor is persisted while acknowledgements arrive (and at close). A crash
  // replays what was acknowledged since: duplicates, never a loss.
  std::chrono::milliseconds cursor_interval{50};
  // Segment size; 0: max_bytes / 8 capped to 64 MiB, so that a full log frees space in steps.
  uint64_t segment_bytes = 0;
};

// Upper bounds of the fsync latency buckets, in microseconds; +Inf implied.
inline constexpr std::array<uint64_t, 12> kFsyncBoundsUs = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};

struct SpoolStats {
  uint64_t bytes = 0;               // the log's bytes on disk
  uint64_t records = 0;             // committed and not yet acknowledged
  double oldest_age_seconds = 0;    // of the oldest unacknowledged record (0: none)
  uint64_t commits = 0;             // successful group commits
  uint64_t committed_records = 0;   // records they made durable
  uint64_t committed_bytes = 0;
  std::array<uint64_t, kFsyncBoundsUs.size()> fsync_cumulative{};  // commits <= bound
  double fsync_seconds_sum = 0;
  uint64_t truncations = 0;         // damaged tails cut at open
  uint64_t truncated_bytes = 0;
  uint64_t replayed = 0;            // records found unacknowledged at open
  uint64_t write_errors = 0;        // failed commits or cursor writes
  uint64_t undecodable = 0;         // records with a good checksum but no message (acknowledged)
  uint64_t full_waits = 0;          // times a limit was reached (put() began to wait)
  bool full = false;                // put() waits for a limit now
  std::string problem;              // the limit or disk error in force now, one sentence

  // Adds `other`'s counters (not its gauges: bytes, records, age, full, problem), for totals that
  // go on across the spools a dataflow has had.
  void addCounters(const SpoolStats& other);
};

class Spool {
 public:
  // Called from the spool thread for every message once it is durable, in put() order, with the
  // AckToken the message carried into put(): the source acknowledges it to its broker.
  using Committed = std::function<void(const AckToken& source_token)>;

  // Opens (or creates) the spool, recovering the log (segment_log.h), and starts its thread.
  // Fatal when the folder cannot be created, is in use by another spool (a lock file held with
  // flock: another process, or a dataflow that has not closed it), or cannot be recovered.
  static Result<std::unique_ptr<Spool>> open(const SpoolOptions& options, const Clock& clock,
                                             std::shared_ptr<spdlog::logger> logger,
                                             Committed committed);
  ~Spool();  // close()
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Takes the message into the spool; its source token is reported through `committed` once it is
  // durable. Waits while a limit is reached or the inbox is full (a disk error, a commit in
  // progress with a full inbox). Fatal: the message can never be spooled (over the record size
  // limit); it is not taken. Retriable: close() was called; it is not taken. Source thread.
  Status put(Message&& message);

  // The next message to send, in order, with ack.sequence set to its spool sequence (the rest of
  // its ack token is empty). Waits for one; nullopt once stopTaking() or close() was called.
  // One sender thread.
  std::optional<Message> take();

  // The message of `sequence` (from take()) has left the engine's responsibility. Any thread,
  // any order.
  void acknowledge(uint64_t sequence);

  // take() returns nullopt from now on (a waiting take() too). Messages taken and not
  // acknowledged stay in the log for the next open.
  void stopTaking();

  // Refuses further puts, commits what was put (reporting it through `committed`), persists the
  // cursor, stops the thread and releases the folder. Idempotent. No `committed` call after it.
  void close();

  // Nothing waits: every message put() is committed and acknowledged. Any thread.
  bool drained() const;

  SpoolStats stats() const;
  // What open() found and repaired.
  const RecoveryReport& recovery() const { return recovery_; }
  const std::string& directory() const { return options_.directory; }

 private:
  struct Pending {
    std::string record;
    Message message;
    AckToken source;
  };

  Spool(SpoolOptions options, const Clock& clock, std::shared_ptr<spdlog::logger> logger,
        Committed committed);
  void run();
  // One commit of `batch` (appended already). Returns false on a disk error.
  bool commitBatch(std::vector<Pending>& batch, uint64_t first_sequence);
  void applyAcknowledgements(std::vector<uint64_t>& acks, bool force_cursor);
  void refillFromLog();
  void updateLimits();
  // put() must wait (mutex_ held).
  bool mustWaitLocked() const;

  const SpoolOptions options_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> logger_;
  Committed committed_;
  RecoveryReport recovery_;
  int lock_fd_ = -1;

  mutable std::mutex mutex_;
  std::condition_variable put_cv_;
  std::condition_variable take_cv_;
  std::condition_variable work_cv_;
  std::vector<Pending> inbox_;  // guarded by mutex_
  size_t inbox_bytes_ = 0;      // guarded by mutex_
  std::deque<Message> outbox_;  // guarded by mutex_
  size_t outbox_bytes_ = 0;     // guarded by mutex_
  bool refill_wanted_ = false;  // guarded by mutex_: the reader reads the log and needs more
  std::vector<uint64_t> acks_;  // guarded by mutex_
  bool closing_ = false;        // guarded by mutex_
  bool taking_ = true;          // guarded by mutex_
  bool full_ = false;           // guarded by mutex_
  bool settled_ = true;         // guarded by mutex_: the spool thread found nothing waiting
  std::string problem_;         // guarded by mutex_
  bool memory_mode_ = false;    // guarded by mutex_: committed messages go to the outbox directly
  bool closed_ = false;         // close()'s caller
  uint64_t replayed_ = 0;       // fixed at open

  // The spool thread's own.
  std::unique_ptr<SegmentLog> log_;
  std::thread thread_;
  uint64_t ack_base_ = 1;     // first sequence not acknowledged
  std::deque<bool> acked_;    // acknowledged flags from ack_base_ on
  uint64_t persisted_cursor_ = 1;
  std::chrono::steady_clock::time_point cursor_written_{};
  // Sparse (sequence, wall-clock ms it entered the spool) for the oldest age: one entry per
  // 100 ms at most.
  std::deque<std::pair<uint64_t, int64_t>> ages_;
  bool disk_failing_ = false;
  std::chrono::steady_clock::time_point last_full_warning_{};

  // Stats written by the spool thread, read by stats().
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> records_{0};
  std::atomic<int64_t> oldest_wall_ms_{0};  // 0: none
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> committed_records_{0};
  std::atomic<uint64_t> committed_bytes_{0};
  std::array<std::atomic<uint64_t>, kFsyncBoundsUs.size() + 1> fsync_buckets_{};
  std::atomic<uint64_t> fsync_us_sum_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> undecodable_{0};
  std::atomic<uint64_t> full_waits_{0};
};

// This dataflow instance's spool folder under the root given with --spool-dir.
std::string spoolDirectory(const std::string& root, const std::string& dataflow,
                           uint32_t instance_id);

}  // namespace dataflow::spool
