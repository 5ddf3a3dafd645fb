// A real mosquitto broker on a free loopback port, started by the test.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace dataflow::testing {

// A second listener that speaks TLS, on 127.0.0.1 too.
struct MosquittoTls {
  std::string cafile;    // CA bundle for client certificates (required by mosquitto)
  std::string certfile;  // the broker's certificate (chain)
  std::string keyfile;
  bool require_certificate = false;  // refuse clients without a certificate from cafile
};

struct MosquittoOptions {
  // The port to listen on; 0 picks a free one (freeTcpPort()).
  int port = 0;
  // Keep sessions and queued messages in a database in the broker's own folder; written on
  // stop() (SIGTERM), not on kill(), and read by the next start().
  bool persistence = false;
  // Mosquitto's own queue limit for each session (its default, 1000, when a test is about
  // what that limit does to a backlog); absent: in effect no cap (see below).
  std::optional<int> max_queued_messages;
  // Appended to the generated mosquitto.conf.
  std::string extra_config;
  // Absent: plaintext only.
  std::optional<MosquittoTls> tls;
};

// The generated configuration: `listener PORT 127.0.0.1` (and a TLS listener when asked),
// `allow_anonymous true`, `max_queued_messages 1000000000` (in effect no cap on the QoS 1 messages
// queued for an offline or backpressured session: mosquitto's default of 1000 would silently drop
// the rest, and a test must not lose messages to that by accident; not 0, which mosquitto 2.0.11
// reads as "no cap" when queueing but, after refusing a PUBLISH, compares `out_packet_count >= 0`
// and disconnects the client with 0x97 Quota exceeded: see kMaxQueuedMessages), persistence when
// asked, the broker's log to
// logPath(). Runs /usr/sbin/mosquitto as the current user. Not thread-safe: one test thread drives
// it.
class Mosquitto {
 public:
  using Options = MosquittoOptions;

  // Starts the broker and waits until it accepts TCP. Throws std::runtime_error if it cannot.
  explicit Mosquitto(Options options = {});
  ~Mosquitto();  // SIGKILL if still running; removes the folder
  Mosquitto(const Mosquitto&) = delete;
  Mosquitto& operator=(const Mosquitto&) = delete;

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  // The TLS listener's port (Options::tls), 0 without one.
  int tlsPort() const { return tls_port_; }
  // SIGTERM and wait for the exit (persistence writes its database).
  void stop();
  // SIGKILL and wait for the exit.
  void kill();
  // (Re)starts on the same port and configuration; returns when it accepts TCP.
  void start();
  bool running() const;
  // The broker's process id while it runs, -1 otherwise (for CPU and memory readings).
  pid_t pid() const;
  // Sends `sig` to the broker if it runs (e.g. SIGSTOP / SIGCONT to freeze it with its sockets
  // open).
  void signal(int sig);
  std::string logPath() const;
  std::string log() const;

 private:
  void writeConfig() const;

  Options options_;
  TempDir dir_;
  int port_;
  int tls_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// Publishes the lines "1" .. "count" as `count` messages at `qos` to `topic` from a separate
// mosquitto_pub process (pipelined: much faster than one synchronous publish after another).
// Its output goes to dir/mosquitto_pub.log.
std::unique_ptr<ChildProcess> publishLines(const Mosquitto& broker, const std::string& topic,
                                           int count, const TempDir& dir, int qos = 1);

// "1" .. "count": the payloads publishLines() sends, in order.
std::vector<std::string> numbers(int count);

}  // namespace dataflow::testing
