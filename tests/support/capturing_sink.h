// An spdlog sink that keeps every formatted log line, so a test can wait for or count what an
// operator would read.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>
#include <vector>

namespace dataflow::testing {

class CapturingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  size_t countContaining(const std::string& text) {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const std::string& line : lines_) n += line.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
  bool contains(const std::string& text) { return countContaining(text) > 0; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.begin(), msg.payload.end());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;  // guarded by mutex_ (base_sink's)
};

}  // namespace dataflow::testing
