// Calls back whenever an entry of one directory is created, written and closed, or moved in:
// what Kubernetes does when it rotates a mounted Secret, ConfigMap or projected token (it writes a
// new timestamped folder and renames a `..data` symlink over the old one, so the file named by
// its key changes without ever being written in place).
//
// Threads: the watch is in place when the constructor returns (no change after it is missed); one
// owned watch thread (inotify on the directory, plus a pipe to stop it) calls `changed`. A
// directory that does not exist yet, or is removed, is watched again once it exists (checked
// every kRetryInterval), and its appearance counts as a change.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace dataflow::mqtt {

class DirectoryWatch {
 public:
  static constexpr std::chrono::milliseconds kRetryInterval{1000};

  // Starts watching at once. `changed` runs on the watch thread and must not block for long.
  // Throws std::system_error when no inotify instance or pipe can be created.
  DirectoryWatch(std::string directory, std::function<void()> changed);
  ~DirectoryWatch();  // stops and joins the watch thread
  DirectoryWatch(const DirectoryWatch&) = delete;
  DirectoryWatch& operator=(const DirectoryWatch&) = delete;

 private:
  void run();
  // Waits for events on the watch of `directory_` or the stop pipe; false when stopping, true
  // when the directory went away.
  bool watchUntilGone();
  bool addWatch();

  const std::string directory_;
  const std::function<void()> changed_;
  int stop_pipe_[2] = {-1, -1};
  int inotify_fd_ = -1;
  bool watching_ = false;  // set by the constructor, then watch thread only
  std::thread thread_;
};

}  // namespace dataflow::mqtt
