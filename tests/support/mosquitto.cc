#include "tests/support/mosquitto.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>

#include "tests/support/wait.h"

namespace dataflow::testing {

namespace {

constexpr const char* kBinary = "/usr/sbin/mosquitto";
constexpr std::chrono::seconds kStartTimeout{10};
constexpr std::chrono::seconds kStopTimeout{10};
// Not 0: mosquitto 2.0.11's handle__publish ends its refused-PUBLISH path (ACL denied, oversize)
// with `if (context->out_packet_count >= max_queued_messages) rc = MQTT_RC_QUOTA_EXCEEDED;`, with
// no `> 0` guard (later releases added it), so with 0 every refused QoS 1 PUBLISH is answered
// with its PUBACK and then the connection is closed ("Bad socket read/write ... Unknown error").
constexpr int kMaxQueuedMessages = 1000000000;

// Mosquitto started as root switches to the user named here (default "mosquitto"), which could
// not write the test folder; naming the current user keeps it as is.
std::string currentUser() {
  const passwd* entry = ::getpwuid(::getuid());
  return entry != nullptr ? entry->pw_name : "root";
}

}  // namespace

Mosquitto::Mosquitto(Options options)
    : options_(std::move(options)),
      dir_("mosquitto"),
      port_(options_.port != 0 ? options_.port : freeTcpPort()) {
  if (options_.tls) {
    do {
      tls_port_ = freeTcpPort();
    } while (tls_port_ == port_);
  }
  writeConfig();
  start();
}

Mosquitto::~Mosquitto() = default;

std::string Mosquitto::address() const { return "127.0.0.1:" + std::to_string(port_); }

std::string Mosquitto::logPath() const { return dir_.file("mosquitto.log"); }

std::string Mosquitto::log() const {
  std::ifstream in(logPath());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool Mosquitto::running() const { return process_ != nullptr && process_->running(); }

pid_t Mosquitto::pid() const { return running() ? process_->pid() : -1; }

void Mosquitto::writeConfig() const {
  std::ofstream out(dir_.file("mosquitto.conf"));
  out << "listener " << port_ << " 127.0.0.1\n"
      << "allow_anonymous true\n"
      << "max_queued_messages " << options_.max_queued_messages.value_or(kMaxQueuedMessages)
      << "\n"
      << "user " << currentUser() << "\n"
      << "log_dest stderr\n"
      << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
      << "log_type subscribe\nlog_type unsubscribe\n"
      << "connection_messages true\n"
      << "log_timestamp_format %H:%M:%S\n";
  if (options_.persistence) {
    out << "persistence true\n"
        << "persistence_location " << dir_.path() << "/\n";
  }
  if (options_.tls) {
    out << "listener " << tls_port_ << " 127.0.0.1\n"
        << "cafile " << options_.tls->cafile << "\n"
        << "certfile " << options_.tls->certfile << "\n"
        << "keyfile " << options_.tls->keyfile << "\n"
        << "require_certificate " << (options_.tls->require_certificate ? "true" : "false") << "\n";
  }
  out << options_.extra_config << "\n";
  if (!out) throw std::runtime_error("cannot write " + dir_.file("mosquitto.conf"));
}

void Mosquitto::start() {
  if (running()) return;
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kBinary, "-c", dir_.file("mosquitto.conf")}, logPath());
  const bool up = waitFor(
      [&] {
        return (acceptsTcp(port_) && (tls_port_ == 0 || acceptsTcp(tls_port_))) ||
               !process_->running();
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(kStartTimeout));
  if (!up || !process_->running()) {
    throw std::runtime_error("mosquitto did not start on port " + std::to_string(port_) +
                             "; its log:\n" + log());
  }
}

void Mosquitto::signal(int sig) {
  if (running()) process_->signal(sig);
}

void Mosquitto::stop() {
  if (!running()) return;
  process_->signal(SIGTERM);
  if (!process_->wait(std::chrono::duration_cast<std::chrono::milliseconds>(kStopTimeout))) {
    kill();
  }
}

void Mosquitto::kill() {
  if (!running()) return;
  process_->signal(SIGKILL);
  process_->wait(std::chrono::duration_cast<std::chrono::milliseconds>(kStopTimeout));
}

std::unique_ptr<ChildProcess> publishLines(const Mosquitto& broker, const std::string& topic,
                                           int count, const TempDir& dir, int qos) {
  const std::string command = "seq 1 " + std::to_string(count) + " | mosquitto_pub -V 5 -q " +
                              std::to_string(qos) + " -l -h 127.0.0.1 -p " +
                              std::to_string(broker.port()) + " -t " + topic;
  return std::make_unique<ChildProcess>(std::vector<std::string>{"sh", "-c", command},
                                        dir.file("mosquitto_pub.log"));
}

std::vector<std::string> numbers(int count) {
  std::vector<std::string> out;
  for (int i = 1; i <= count; ++i) out.push_back(std::to_string(i));
  return out;
}

}  // namespace dataflow::testing
