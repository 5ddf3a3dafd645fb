// Waiting on a condition with a deadline: the only polling the tests allow.
#pragma once

#include <chrono>
#include <thread>

namespace dataflow::testing {

// Evaluates `p` until it returns true or `timeout` has passed; returns its last value. `p` is
// evaluated once more after the deadline so that a condition met during the last sleep counts.
template <class Predicate>
bool waitFor(Predicate p, std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll_every = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (p()) return true;
    std::this_thread::sleep_for(poll_every);
  }
  return p();
}

}  // namespace dataflow::testing
