#include "connectors/mqtt/client/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "engine/core/thread_name.h"

namespace dataflow::mqtt {

using std::chrono::steady_clock;

LoopThread::LoopThread() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    throw std::runtime_error(std::string("cannot create the MQTT event loop: ") +
                             std::strerror(errno));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event);
  thread_ = std::thread([this] {
    nameThisThread("df-mqtt-io");
    thread_id_.store(std::this_thread::get_id());
    run();
  });
}

LoopThread::~LoopThread() {
  stop_.store(true);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void LoopThread::post(Task task) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    wake = posted_.empty();
    posted_.push_back(std::move(task));
  }
  if (wake) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
}

void LoopThread::watch(int fd, uint32_t events, IoCallback callback) {
  watched_[fd] = std::make_shared<IoCallback>(std::move(callback));
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
}

void LoopThread::modify(int fd, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
}

void LoopThread::unwatch(int fd) {
  if (watched_.erase(fd) == 0) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

LoopThread::TimerId LoopThread::addTimer(steady_clock::time_point when, Task task) {
  const TimerId id = next_timer_++;
  timers_.emplace(id, std::make_pair(when, std::move(task)));
  timer_order_.emplace(when, id);
  return id;
}

void LoopThread::cancelTimer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  auto [first, last] = timer_order_.equal_range(it->second.first);
  for (auto o = first; o != last; ++o) {
    if (o->second == id) {
      timer_order_.erase(o);
      break;
    }
  }
  timers_.erase(it);
}

void LoopThread::runDueTimers() {
  const steady_clock::time_point now = steady_clock::now();
  while (!timer_order_.empty() && timer_order_.begin()->first <= now) {
    const TimerId id = timer_order_.begin()->second;
    timer_order_.erase(timer_order_.begin());
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;
    Task task = std::move(it->second.second);
    timers_.erase(it);
    task();
  }
}

void LoopThread::run() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  std::vector<Task> tasks;
  while (!stop_.load()) {
    int timeout_ms = -1;
    if (!timer_order_.empty()) {
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(timer_order_.begin()->first -
                                                                     steady_clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(wait.count(), 60'000)));
    }
    const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("MQTT event loop: epoll_wait: ") + std::strerror(errno));
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t count = 0;
        [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
        continue;
      }
      auto it = watched_.find(fd);
      if (it == watched_.end()) continue;  // unwatched by an earlier callback of this round
      const std::shared_ptr<IoCallback> callback = it->second;
      (*callback)(events[i].events);
    }
    {
      std::lock_guard lock(mutex_);
      tasks.swap(posted_);
    }
    for (Task& task : tasks) task();
    tasks.clear();
    runDueTimers();
  }
}

BlockingPool::BlockingPool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      nameThisThread("df-mqtt-block");
      while (true) {
        std::function<void()> task;
        {
          std::unique_lock lock(mutex_);
          changed_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
          if (stop_) return;
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    });
  }
}

BlockingPool::~BlockingPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void BlockingPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  changed_.notify_one();
}

EventLoop& EventLoop::shared() {
  // Never destroyed: clients may still post to it while static destructors run at exit.
  static EventLoop* loop = new EventLoop(kSharedThreads, kSharedBlockingThreads);
  return *loop;
}

EventLoop::EventLoop(size_t threads, size_t blocking_threads) : blocking_(blocking_threads) {
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i) {
    threads_.push_back(std::make_unique<LoopThread>());
  }
  placed_.assign(threads_.size(), 0);
}

LoopThread& EventLoop::pick() {
  std::lock_guard lock(mutex_);
  size_t best = 0;
  for (size_t i = 1; i < placed_.size(); ++i) {
    if (placed_[i] < placed_[best]) best = i;
  }
  ++placed_[best];
  return *threads_[best];
}

void EventLoop::release(LoopThread& thread) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (threads_[i].get() == &thread && placed_[i] > 0) --placed_[i];
  }
}

}  // namespace dataflow::mqtt
