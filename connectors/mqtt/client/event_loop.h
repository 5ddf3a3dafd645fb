// The I/O threads of the process's MQTT clients: a small fixed number of epoll loops, whatever the
// number of dataflows, plus a small pool for the blocking steps of a connect (DNS, reading TLS
// files, fetching a credential) so that nothing blocks a loop thread.
//
// Each connection lives on one loop thread for its whole life (LoopThread): its socket events,
// timers and posted tasks all run there, one at a time, so a client's state needs no lock of its
// own beyond what other threads hand it.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace dataflow::mqtt {

class LoopThread {
 public:
  using Task = std::function<void()>;
  // Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP) of a watched fd.
  using IoCallback = std::function<void(uint32_t events)>;
  using TimerId = uint64_t;

  LoopThread();
  ~LoopThread();  // stops and joins; tasks still queued are dropped
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  // Any thread: runs `task` on this thread, in post order, soon.
  void post(Task task);
  // Loop thread only: watches `fd` for `events` (EPOLLIN/EPOLLOUT); modify() changes them;
  // unwatch() before closing the fd. No callback for an fd after unwatch() returns.
  void watch(int fd, uint32_t events, IoCallback callback);
  void modify(int fd, uint32_t events);
  void unwatch(int fd);
  // Loop thread only: runs `task` once at `when` unless cancelled.
  TimerId addTimer(std::chrono::steady_clock::time_point when, Task task);
  void cancelTimer(TimerId id);
  bool inLoop() const { return std::this_thread::get_id() == thread_id_.load(); }

 private:
  void run();
  void runDueTimers();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<std::thread::id> thread_id_{};
  std::mutex mutex_;
  std::vector<Task> posted_;  // guarded by mutex_
  // Loop thread only.
  std::unordered_map<int, std::shared_ptr<IoCallback>> watched_;
  std::multimap<std::chrono::steady_clock::time_point, TimerId> timer_order_;
  std::unordered_map<TimerId, std::pair<std::chrono::steady_clock::time_point, Task>> timers_;
  TimerId next_timer_ = 1;
  std::thread thread_;
};

// A fixed pool of threads for work that may block (seconds, for a token endpoint). FIFO.
class BlockingPool {
 public:
  explicit BlockingPool(size_t threads);
  ~BlockingPool();  // runs no more tasks, joins
  void submit(std::function<void()> task);

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

class EventLoop {
 public:
  // The process-wide loops: kSharedThreads loop threads and kSharedBlockingThreads pool threads,
  // created at first use, lasting until exit.
  static constexpr size_t kSharedThreads = 2;
  static constexpr size_t kSharedBlockingThreads = 2;
  static EventLoop& shared();

  EventLoop(size_t threads, size_t blocking_threads);
  // The loop thread a new connection lives on: the one with the fewest connections placed so far.
  // Pair each pick() with a release() when that connection is gone.
  LoopThread& pick();
  void release(LoopThread& thread);
  BlockingPool& blocking() { return blocking_; }
  size_t threadCount() const { return threads_.size(); }

 private:
  std::vector<std::unique_ptr<LoopThread>> threads_;
  std::mutex mutex_;
  std::vector<size_t> placed_;  // guarded by mutex_
  BlockingPool blocking_;
};

}  // namespace dataflow::mqtt
