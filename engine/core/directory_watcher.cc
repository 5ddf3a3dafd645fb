#include "engine/core/directory_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

namespace dataflow {

namespace {

// Events on a watched folder that may change what reading it gives: an entry created, removed,
// renamed in or out (Kubernetes' `..data` swap), a file written and closed, attributes changed
// (a symlink retargeted in place); and the folder itself removed or renamed.
constexpr uint32_t kFolderEvents = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
                                   IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
// Events on a folder's parent that create, replace or remove the folder.
constexpr uint32_t kParentEvents = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM;

std::string parentOf(const std::string& folder) {
  std::filesystem::path parent = std::filesystem::path(folder).lexically_normal().parent_path();
  return parent.empty() ? "." : parent.string();
}

std::string nameOf(const std::string& folder) {
  std::filesystem::path path = std::filesystem::path(folder).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // a trailing slash
  return path.filename().string();
}

}  // namespace

struct DirectoryWatcher::State {
  struct Watch {
    size_t folder;   // index into folders
    bool is_parent;  // a watch on the folder's parent, for the folder's own name
  };

  std::vector<std::string> folders;
  Callback on_change;
  std::chrono::milliseconds settle;
  int inotify_fd = -1;
  int stop_fd = -1;
  std::map<int, std::vector<Watch>> watches;  // watcher thread only (and start, before it runs)
  std::thread thread;

  ~State() {
    if (inotify_fd >= 0) close(inotify_fd);
    if (stop_fd >= 0) close(stop_fd);
  }

  // Adds a watch on `path` for `watch`; false when the path does not exist (or is not a folder).
  bool add(const std::string& path, uint32_t mask, Watch watch) {
    const int wd = inotify_add_watch(inotify_fd, path.c_str(), mask | IN_ONLYDIR);
    if (wd < 0) return false;
    std::vector<Watch>& list = watches[wd];
    for (const Watch& w : list) {
      if (w.folder == watch.folder && w.is_parent == watch.is_parent) return true;
    }
    list.push_back(watch);
    return true;
  }

  // Handles one event; adds the folders it concerns to `changed`.
  void handle(const inotify_event& event, std::set<size_t>& changed) {
    auto found = watches.find(event.wd);
    if (found == watches.end()) return;
    const std::vector<Watch> list = found->second;
    if (event.mask & IN_IGNORED) watches.erase(event.wd);  // the watched folder is gone
    const std::string name = event.len > 0 ? std::string(event.name) : std::string();
    for (const Watch& w : list) {
      if (!w.is_parent) {
        changed.insert(w.folder);
        continue;
      }
      if (name != nameOf(folders[w.folder])) continue;
      changed.insert(w.folder);
      // The folder (re)appeared: watch it. A failure means it is gone again; the parent watch
      // reports its next appearance.
      add(folders[w.folder], kFolderEvents, Watch{w.folder, false});
    }
  }

  void run() {
    std::set<size_t> changed;
    alignas(inotify_event) char buffer[16 * 1024];
    for (;;) {
      pollfd fds[2] = {{inotify_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
      const int timeout = changed.empty() ? -1 : static_cast<int>(settle.count());
      const int ready = poll(fds, 2, timeout);
      if (ready < 0 && errno == EINTR) continue;
      if (fds[1].revents != 0) return;
      if (ready == 0) {  // settled: report the burst once
        std::vector<std::string> report;
        for (size_t i : changed) report.push_back(folders[i]);
        changed.clear();
        on_change(report);
        continue;
      }
      const ssize_t n = read(inotify_fd, buffer, sizeof buffer);
      if (n <= 0) continue;
      for (ssize_t offset = 0; offset < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
        handle(*event, changed);
        offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
  }
};

Result<std::unique_ptr<DirectoryWatcher>> DirectoryWatcher::start(
    std::vector<std::string> folders, Callback on_change, std::chrono::milliseconds settle) {
  auto state = std::make_unique<State>();
  std::sort(folders.begin(), folders.end());  // each folder watched and reported once
  folders.erase(std::unique(folders.begin(), folders.end()), folders.end());
  state->folders = std::move(folders);
  state->on_change = std::move(on_change);
  state->settle = settle;
  state->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (state->inotify_fd < 0) {
    return Status::fatal(std::string("cannot watch folders for changes: inotify: ") +
                         std::strerror(errno));
  }
  state->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (state->stop_fd < 0) {
    return Status::fatal(std::string("cannot watch folders for changes: eventfd: ") +
                         std::strerror(errno));
  }
  for (size_t i = 0; i < state->folders.size(); ++i) {
    const std::string& folder = state->folders[i];
    const bool parent = state->add(parentOf(folder), kParentEvents, State::Watch{i, true});
    const bool self = state->add(folder, kFolderEvents, State::Watch{i, false});
    if (!parent && !self) {
      return Status::fatal("cannot watch folder " + folder +
                           " for changes: neither it nor its parent folder exists");
    }
  }
  State* raw = state.get();
  state->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<DirectoryWatcher>(new DirectoryWatcher(std::move(state)));
}

DirectoryWatcher::DirectoryWatcher(std::unique_ptr<State> state) : state_(std::move(state)) {}

DirectoryWatcher::~DirectoryWatcher() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(state_->stop_fd, &one, sizeof one);
  if (state_->thread.joinable()) state_->thread.join();
}

}  // namespace dataflow
