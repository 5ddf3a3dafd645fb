// Threads for work that may block, shared by every dataflow: a source's message handler runs the
// pipeline and hands the message to its destination, which waits while that destination is full.
//
// A fixed number of threads serve any number of tasks in steady state (a task is, e.g., one MQTT
// source's queue of received messages). So that one blocked task cannot hold back the others, a
// watcher lends one more thread whenever work waits and every thread has been inside the same
// runSome() for longer than `stuck_after` (blocked, not busy: a batch normally takes
// microseconds). Threads above the minimum end after `idle_exit` without work, so the count
// returns to the minimum once the blockage is over.
//
// Fairness: a task runs a bounded batch per runSome() and goes to the back of the queue when it
// has more.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

namespace dataflow {

class WorkerPool {
 public:
  class Task {
   public:
    virtual ~Task() = default;
    // Runs some of the task's work on a pool thread (a bounded batch); returns whether it has
    // more to do now, in which case it is queued again. Must not throw.
    virtual bool runSome() noexcept = 0;
  };

  // The process's pool: max(2, the CPU count) threads at least, created at first use.
  static WorkerPool& shared();

  explicit WorkerPool(size_t min_threads,
                      std::chrono::milliseconds stuck_after = std::chrono::milliseconds(20),
                      std::chrono::milliseconds idle_exit = std::chrono::seconds(30));
  ~WorkerPool();  // runs no more tasks; joins every thread
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Any thread: queues `task` to run soon. The caller queues a task at most once at a time (it
  // posts again only after runSome() returned false).
  void post(Task* task);

  // Threads now (the minimum plus those lent); how many were ever lent. Any thread.
  size_t threadCount() const;
  uint64_t lentCount() const { return lent_.load(); }

 private:
  struct Worker {
    std::thread thread;
    std::atomic<int64_t> busy_since_ns{0};  // inside runSome() since (steady clock), 0 = not
    bool extra = false;                     // lent: ends after idle_exit without work
    bool done = false;                      // ended; the watcher joins it
  };

  void spawn(bool extra);  // mutex_ held
  void work(Worker& self);
  void watch();

  const size_t min_threads_;
  const std::chrono::milliseconds stuck_after_;
  const std::chrono::milliseconds idle_exit_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;  // a task was queued, or stop
  std::condition_variable watcher_;     // stop
  std::deque<Task*> queue_;             // guarded by mutex_
  std::list<Worker> workers_;           // guarded by mutex_; a list keeps addresses stable
  size_t idle_ = 0;                     // guarded by mutex_: threads waiting for work
  bool stop_ = false;                   // guarded by mutex_
  std::atomic<uint64_t> lent_{0};
  std::thread watcher_thread_;
};

}  // namespace dataflow
