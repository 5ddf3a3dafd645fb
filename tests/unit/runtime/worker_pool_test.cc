// WorkerPool (engine/core/worker_pool.h): tasks share a fixed set of threads, take turns, and a
// blocked task gets the others a lent thread, which ends once it has been idle long enough.
#include "engine/core/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/wait.h"

namespace dataflow {
namespace {

using namespace std::chrono_literals;
using testing::waitFor;

constexpr auto kDeadline = 10s;

// Runs `batches` batches, one per runSome(), recording each in a shared log.
class CountingTask final : public WorkerPool::Task {
 public:
  CountingTask(char name, int batches, std::mutex& log_mutex, std::string& log)
      : name_(name), left_(batches), log_mutex_(log_mutex), log_(log) {}
  bool runSome() noexcept override {
    {
      std::lock_guard lock(log_mutex_);
      log_ += name_;
    }
    return --left_ > 0;
  }
  bool done() const { return left_.load() == 0; }

 private:
  const char name_;
  std::atomic<int> left_;
  std::mutex& log_mutex_;
  std::string& log_;
};

// Blocks inside runSome() until released.
class BlockingTask final : public WorkerPool::Task {
 public:
  bool runSome() noexcept override {
    std::unique_lock lock(mutex_);
    entered_ = true;
    changed_.wait(lock, [&] { return released_; });
    ran_ = true;
    return false;
  }
  bool entered() {
    std::lock_guard lock(mutex_);
    return entered_;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    changed_.notify_all();
  }
  bool ran() {
    std::lock_guard lock(mutex_);
    return ran_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false;
  bool released_ = false;
  bool ran_ = false;
};

TEST(WorkerPool, TasksWithMoreWorkGoToTheBackSoOthersTakeTurns) {
  std::mutex log_mutex;
  std::string log;
  WorkerPool pool(1);
  BlockingTask gate;  // holds the only thread until every task is queued
  CountingTask a('a', 3, log_mutex, log), b('b', 3, log_mutex, log);
  pool.post(&gate);
  ASSERT_TRUE(waitFor([&] { return gate.entered(); }, kDeadline));
  pool.post(&a);
  pool.post(&b);
  gate.release();
  ASSERT_TRUE(waitFor([&] { return a.done() && b.done(); }, kDeadline));
  std::lock_guard lock(log_mutex);
  EXPECT_EQ(log, "ababab");
}

TEST(WorkerPool, ABlockedTaskGetsTheOthersALentThreadThatEndsWhenIdle) {
  std::mutex log_mutex;
  std::string log;
  WorkerPool pool(1, /*stuck_after=*/20ms, /*idle_exit=*/100ms);
  EXPECT_EQ(pool.threadCount(), 1u);
  BlockingTask blocked;
  pool.post(&blocked);
  ASSERT_TRUE(waitFor([&] { return blocked.entered(); }, kDeadline));
  CountingTask other('o', 5, log_mutex, log);
  pool.post(&other);
  // The only thread is blocked: the watcher lends another, which runs `other` to the end.
  ASSERT_TRUE(waitFor([&] { return other.done(); }, kDeadline));
  EXPECT_GE(pool.lentCount(), 1u);
  EXPECT_GE(pool.threadCount(), 2u);
  blocked.release();
  ASSERT_TRUE(waitFor([&] { return blocked.ran(); }, kDeadline));
  // Idle for idle_exit, the lent thread ends: back to the minimum.
  EXPECT_TRUE(waitFor([&] { return pool.threadCount() == 1; }, kDeadline));
}

TEST(WorkerPool, ManyTasksAllRunToTheEnd) {
  std::mutex log_mutex;
  std::string log;
  WorkerPool pool(2);
  std::vector<std::unique_ptr<CountingTask>> tasks;
  for (int i = 0; i < 100; ++i) {
    tasks.push_back(std::make_unique<CountingTask>('x', 10, log_mutex, log));
    pool.post(tasks.back().get());
  }
  ASSERT_TRUE(waitFor(
      [&] {
        for (const auto& t : tasks) {
          if (!t->done()) return false;
        }
        return true;
      },
      kDeadline));
  std::lock_guard lock(log_mutex);
  EXPECT_EQ(log.size(), 1000u);
}

}  // namespace
}  // namespace dataflow
