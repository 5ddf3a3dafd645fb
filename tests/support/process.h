// Temporary folders, child processes and free ports for the integration and e2e tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace dataflow::testing {

// A fresh folder (mkdtemp under $TMPDIR or /tmp), removed with its content by the destructor
// unless the environment variable DATAFLOW_KEEP_TEST_DIRS is set (then its path is printed).
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "dataflow-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string file(const std::string& name) const;

 private:
  std::string path_;
};

// A child process started with posix_spawnp (argv[0] is looked up in PATH). Its stdout and stderr
// are both appended to `log_path`. `extra_env` entries ("NAME=value") are added to (and override)
// the test's environment, which also gets DATAFLOW_METRICS_ADDRESS=127.0.0.1 and
// DATAFLOW_METRICS_PORT=0 unless `extra_env` sets them (a `dataflow run` child then serves its
// metrics on a free loopback port). Throws std::runtime_error when the process cannot be started. Not
// thread-safe: one test thread drives it.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::string log_path,
               std::vector<std::string> extra_env = {});
  ~ChildProcess();  // SIGKILL and reap if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` if the process is still running.
  void signal(int sig);
  // The exit code, or 128 + signal number when killed by a signal; nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  // Everything the process wrote to stdout and stderr so far.
  std::string log() const;
  const std::string& logPath() const { return log_path_; }

 private:
  bool reap(bool block);

  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// A process's CPU time and memory, read from /proc (Linux), for the e2e tests and the benchmark.
// User + system CPU seconds used so far; -1 when unreadable (the process is gone).
double cpuSeconds(pid_t pid);
// Resident set size now (VmRSS) and its peak since the process started (VmHWM), in KiB; -1 when
// unreadable.
long residentKiB(pid_t pid);
long peakResidentKiB(pid_t pid);
// The number of threads of process `pid` (/proc/PID/status Threads), or -1.
long threadCount(pid_t pid);

// A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0, read back, closed).
int freeTcpPort();

// Whether something accepts TCP connections on 127.0.0.1:`port` now.
bool acceptsTcp(int port);

}  // namespace dataflow::testing
