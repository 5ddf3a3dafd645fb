// A QoS 1 publisher on its own thread for the reliability tests: publishes "<prefix>-<i>" for
// i in [0, count), each one retried (on a fresh connection) until the broker acknowledged it, so
// every message it reports as published is the broker's responsibility. Paced by `interval`
// between messages (zero: as fast as acknowledgements come back).
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace dataflow::testing {

class LoadPublisher {
 public:
  LoadPublisher(std::string address, std::string topic, std::string prefix, size_t count,
                std::chrono::microseconds interval);
  ~LoadPublisher();  // joins

  size_t acknowledged() const { return acknowledged_.load(); }
  size_t retries() const { return retries_.load(); }
  bool finished() const { return finished_.load(); }
  void join();

 private:
  void run();

  std::string address_;
  std::string topic_;
  std::string prefix_;
  size_t count_;
  std::chrono::microseconds interval_;
  std::atomic<size_t> acknowledged_{0};
  std::atomic<size_t> retries_{0};
  std::atomic<bool> finished_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace dataflow::testing
