#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tests/support/wait.h"

extern char** environ;

namespace dataflow::testing {

namespace {

std::runtime_error systemError(const std::string& what, int error) {
  return std::runtime_error(what + ": " + std::strerror(error));
}

// Every child `dataflow run` serves its metrics and probes on a free loopback port: tests stay on
// loopback and never compete for the default 9600. A test's own flags or extra_env win.
const std::vector<std::string> kTestDefaults = {"DATAFLOW_METRICS_ADDRESS=127.0.0.1",
                                                "DATAFLOW_METRICS_PORT=0"};

// The test's environment with `extra` added; an extra NAME=... replaces an inherited NAME.
std::vector<std::string> mergedEnvironment(std::vector<std::string> extra) {
  for (const std::string& d : kTestDefaults) {
    const std::string name = d.substr(0, d.find('=') + 1);
    bool given = false;
    for (const std::string& x : extra) given = given || x.starts_with(name);
    if (!given) extra.push_back(d);
  }
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const size_t equals = entry.find('=');
    if (equals == std::string::npos) continue;  // not a NAME=value entry
    const std::string name = entry.substr(0, equals + 1);
    bool overridden = false;
    for (const std::string& x : extra) overridden = overridden || x.starts_with(name);
    if (!overridden) out.push_back(entry);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// RAII for the spawn attribute objects on the line they appear.
struct FileActions {
  FileActions() { posix_spawn_file_actions_init(&actions); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
  posix_spawn_file_actions_t actions;
};

class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw systemError("socket", errno);
  }
  ~Socket() { ::close(fd_); }
  int fd() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw systemError("mkdtemp " + pattern, errno);
  path_ = pattern;
}

TempDir::~TempDir() {
  if (std::getenv("DATAFLOW_KEEP_TEST_DIRS") != nullptr) {
    std::cerr << "keeping test folder " << path_ << "\n";
    return;
  }
  std::error_code ignored;  // best effort: a test folder left behind is not a test failure
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::file(const std::string& name) const { return path_ + "/" + name; }

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string log_path,
                           std::vector<std::string> extra_env)
    : log_path_(std::move(log_path)) {
  if (argv.empty()) throw std::invalid_argument("ChildProcess needs a program");
  FileActions files;
  posix_spawn_file_actions_addopen(&files.actions, STDOUT_FILENO, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files.actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&files.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> env = mergedEnvironment(extra_env);
  std::vector<char*> argv_pointers = pointers(argv);
  std::vector<char*> env_pointers = pointers(env);
  const int rc = ::posix_spawnp(&pid_, argv[0].c_str(), &files.actions, nullptr,
                                argv_pointers.data(), env_pointers.data());
  if (rc != 0) {
    pid_ = -1;
    throw systemError("cannot start " + argv[0], rc);
  }
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

bool ChildProcess::reap(bool block) {
  if (exit_code_) return true;
  if (pid_ < 0) return false;
  int status = 0;
  pid_t rc;
  do {
    rc = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc != pid_) return false;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

bool ChildProcess::running() { return pid_ >= 0 && !reap(false); }

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (!waitFor([this] { return reap(false); }, timeout)) return std::nullopt;
  return exit_code_;
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

int freeTcpPort() {
  Socket socket;
  sockaddr_in address = loopback(0);
  if (::bind(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    throw systemError("bind 127.0.0.1:0", errno);
  }
  socklen_t length = sizeof(address);
  if (::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw systemError("getsockname", errno);
  }
  return ntohs(address.sin_port);
}

bool acceptsTcp(int port) {
  Socket socket;
  sockaddr_in address = loopback(port);
  return ::connect(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

namespace {

long statusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

}  // namespace

double cpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the
  // last ')'. utime and stime are fields 14 and 15, so the 12th and 13th after it.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int i = 1; i <= 13 && fields >> field; ++i) {
    if (i == 12) utime = std::stoull(field);
    if (i == 13) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

long residentKiB(pid_t pid) { return statusField(pid, "VmRSS"); }

long peakResidentKiB(pid_t pid) { return statusField(pid, "VmHWM"); }

long threadCount(pid_t pid) { return statusField(pid, "Threads"); }

}  // namespace dataflow::testing
