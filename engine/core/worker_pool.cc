#include "engine/core/worker_pool.h"

#include <algorithm>

#include "engine/core/thread_name.h"

namespace dataflow {

namespace {

using std::chrono::steady_clock;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             steady_clock::now().time_since_epoch())
      .count();
}

// How often the watcher looks while work waits or a thread is inside a task; otherwise it
// sleeps this long at most (a thread that gets stuck is noticed within it plus stuck_after).
constexpr auto kWatchBusy = std::chrono::milliseconds(10);
constexpr auto kWatchIdle = std::chrono::milliseconds(500);

}  // namespace

WorkerPool& WorkerPool::shared() {
  static WorkerPool pool(std::max<size_t>(2, std::thread::hardware_concurrency()));
  return pool;
}

WorkerPool::WorkerPool(size_t min_threads, std::chrono::milliseconds stuck_after,
                       std::chrono::milliseconds idle_exit)
    : min_threads_(std::max<size_t>(1, min_threads)),
      stuck_after_(stuck_after),
      idle_exit_(idle_exit) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < min_threads_; ++i) spawn(false);
  watcher_thread_ = std::thread([this] {
    nameThisThread("df-pool-watch");
    watch();
  });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_ready_.notify_all();
  watcher_.notify_all();
  watcher_thread_.join();
  // No thread is spawned after stop_: the list is final.
  for (Worker& worker : workers_) {
    if (worker.thread.joinable()) worker.thread.join();
  }
}

void WorkerPool::spawn(bool extra) {
  Worker& worker = workers_.emplace_back();
  worker.extra = extra;
  worker.thread = std::thread([this, &worker] {
    nameThisThread(worker.extra ? "df-worker+" : "df-worker");
    work(worker);
  });
}

void WorkerPool::post(Task* task) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(task);
    wake = idle_ > 0;
  }
  if (wake) work_ready_.notify_one();
}

size_t WorkerPool::threadCount() const {
  std::lock_guard lock(mutex_);
  size_t count = 0;
  for (const Worker& worker : workers_) count += worker.done ? 0 : 1;
  return count;
}

void WorkerPool::work(Worker& self) {
  std::unique_lock lock(mutex_);
  while (true) {
    ++idle_;
    bool idle_too_long = false;
    if (self.extra) {
      idle_too_long = !work_ready_.wait_for(lock, idle_exit_,
                                            [&] { return stop_ || !queue_.empty(); });
    } else {
      work_ready_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    }
    --idle_;
    if (stop_ || idle_too_long) break;
    Task* task = queue_.front();
    queue_.pop_front();
    self.busy_since_ns.store(nowNs(), std::memory_order_relaxed);
    lock.unlock();
    const bool more = task->runSome();
    lock.lock();
    self.busy_since_ns.store(0, std::memory_order_relaxed);
    if (more) queue_.push_back(task);  // to the back: the others get their turn first
  }
  self.done = true;
}

void WorkerPool::watch() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    bool busy = !queue_.empty();
    for (const Worker& worker : workers_) {
      busy = busy || worker.busy_since_ns.load(std::memory_order_relaxed) != 0;
    }
    watcher_.wait_for(lock, busy ? kWatchBusy : kWatchIdle);
    if (stop_) break;
    // Join the threads that ended (lent ones after their idle time).
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->done) {
        it->thread.join();
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    if (queue_.empty() || idle_ > 0) continue;
    const int64_t now = nowNs();
    const int64_t stuck_ns = std::chrono::nanoseconds(stuck_after_).count();
    bool progressing = false;
    for (const Worker& worker : workers_) {
      const int64_t since = worker.busy_since_ns.load(std::memory_order_relaxed);
      progressing = progressing || since == 0 || now - since < stuck_ns;
    }
    if (!progressing) {
      spawn(true);
      lent_.fetch_add(1);
    }
  }
}

}  // namespace dataflow
