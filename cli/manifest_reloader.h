// Reload from files: watches the folders of `run -f` paths (a folder given, with its subfolders;
// the folder of a file given, since editors and Kubernetes replace a file rather than write it),
// and on a change or a request (SIGHUP) loads and validates the manifests again. A valid result
// goes to Engine::requestApply; an invalid one is refused: every problem is logged as `validate`
// prints it (file:line:column: path: message), the refusal is counted, and the engine keeps
// running what it runs.
//
// Threads: one worker thread of its own does the loading, so neither the watcher's thread nor the
// signal thread waits on it. requestReload() from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/manifest_sources.h"
#include "engine/core/directory_watcher.h"
#include "engine/runtime/engine.h"

namespace dataflow::cli {

// A digest of the names and bytes of every manifest file `paths` load (as config::loadPaths
// lists them). Equal digests: nothing a load would read has changed.
uint64_t manifestDigest(const std::vector<std::string>& paths);

class ManifestReloader {
 public:
  // `sources` and `engine` outlive the reloader. `loaded` is manifestDigest() of the paths taken
  // just before the engine's plan was loaded: a change made since then is reloaded at once.
  // Watching starts at once; a folder that cannot be watched is logged (SIGHUP still reloads).
  // `on_loaded` (optional) sees every load, worker thread: the plan (null when the manifests
  // have errors; then the engine keeps what it runs) just before the engine is asked to apply
  // it, and the load's diagnostics. For what the engine does not own: the profile's log levels,
  // the status written back to Kubernetes.
  using OnLoaded = std::function<void(const config::Plan* plan, const config::Diagnostics&)>;
  ManifestReloader(const ManifestSources& sources, runtime::Engine& engine, uint64_t loaded,
                   OnLoaded on_loaded = nullptr);
  ~ManifestReloader();  // stops watching; waits for a reload in progress
  ManifestReloader(const ManifestReloader&) = delete;
  ManifestReloader& operator=(const ManifestReloader&) = delete;

  // Loads the manifests again, whether or not they changed. Any thread; returns at once.
  void requestReload(std::string trigger);

 private:
  void run();
  // Loads and validates; hands a valid plan to the engine. Worker thread.
  void reload(const std::string& trigger);
  // (Re)starts watching the folders the paths cover now (a subfolder may have appeared).
  void watch();

  const ManifestSources& sources_;
  runtime::Engine& engine_;
  const OnLoaded on_loaded_;
  std::unique_ptr<DirectoryWatcher> watcher_;  // worker thread (and the constructor)
  std::vector<std::string> watched_;           // the folders watcher_ watches
  uint64_t loaded_digest_;                     // worker thread: manifestDigest() last loaded
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<std::string> pending_;  // guarded by mutex_: the trigger of the next reload
  bool forced_ = false;                 // guarded by mutex_: reload even if no byte changed
  bool stop_ = false;                   // guarded by mutex_
  std::thread worker_;
};

}  // namespace dataflow::cli
