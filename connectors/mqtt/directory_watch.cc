#include "connectors/mqtt/directory_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace dataflow::mqtt {

namespace {

constexpr uint32_t kEvents =
    IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;

}  // namespace

DirectoryWatch::DirectoryWatch(std::string directory, std::function<void()> changed)
    : directory_(std::move(directory)), changed_(std::move(changed)) {
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2 for a directory watch");
  }
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    const int error = errno;
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
    throw std::system_error(error, std::generic_category(), "inotify_init1");
  }
  watching_ = addWatch();
  thread_ = std::thread([this] { run(); });
}

DirectoryWatch::~DirectoryWatch() {
  const char stop = 's';
  [[maybe_unused]] ssize_t written = ::write(stop_pipe_[1], &stop, 1);
  if (thread_.joinable()) thread_.join();
  ::close(inotify_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

bool DirectoryWatch::addWatch() {
  return ::inotify_add_watch(inotify_fd_, directory_.c_str(), kEvents) >= 0;
}

void DirectoryWatch::run() {
  while (true) {
    if (watching_) {
      if (!watchUntilGone()) return;
      watching_ = false;
      continue;
    }
    pollfd stop{stop_pipe_[0], POLLIN, 0};
    if (::poll(&stop, 1, static_cast<int>(kRetryInterval.count())) > 0) return;
    if (addWatch()) {
      watching_ = true;
      changed_();  // the directory (re)appeared, perhaps with a new file in it
    }
  }
}

bool DirectoryWatch::watchUntilGone() {
  alignas(inotify_event) char buffer[4096];
  while (true) {
    pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[0].revents != 0) return false;
    bool gone = false;
    bool any = false;
    ssize_t n;
    while ((n = ::read(inotify_fd_, buffer, sizeof buffer)) > 0) {
      for (char* p = buffer; p < buffer + n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(p);
        if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) gone = true;
        if (event->mask & (IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO)) any = true;
        p += sizeof(inotify_event) + event->len;
      }
    }
    if (any) changed_();
    if (gone) return true;
  }
}

}  // namespace dataflow::mqtt
