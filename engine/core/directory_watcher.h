// Tells when the content of a folder may have changed: for folders laid out as Kubernetes mounts a
// Secret, a ConfigMap or a projected service account token. Kubernetes updates such a folder
// atomically: it writes a new hidden timestamped folder, points a `..data_tmp` symlink at it and
// renames that over `..data`; the visible `<key>` entries are symlinks through `..data`. So the
// folder is watched (inotify), never a file: a watch on a file follows the symlink to the old inode
// and goes deaf after the first update. A plain folder written in place (`--secrets-dir` on a
// laptop) is covered by the same events.
//
// A folder that does not exist yet is covered through its parent: once it appears it is watched
// too, and its appearance counts as a change. A burst of events (one Kubernetes update is five or
// six) is reported once, after `settle` has passed without a further event.
//
// Threads: the callback runs on the watcher's own thread, never concurrently with itself; the
// destructor stops that thread and returns after any running callback has returned.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/status.h"

namespace dataflow {

class DirectoryWatcher {
 public:
  // Called with the folders (as given to start) whose content may have changed, each once.
  using Callback = std::function<void(const std::vector<std::string>& folders)>;

  // Watches every folder of `folders` (absolute or relative paths; a duplicate counts once). Fatal
  // when inotify is unavailable or the watching thread cannot start; a folder that cannot be
  // watched at all (neither it nor its parent exists) is fatal too, naming it.
  static Result<std::unique_ptr<DirectoryWatcher>> start(
      std::vector<std::string> folders, Callback on_change,
      std::chrono::milliseconds settle = std::chrono::milliseconds(200));

  ~DirectoryWatcher();
  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;

 private:
  struct State;
  explicit DirectoryWatcher(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace dataflow
