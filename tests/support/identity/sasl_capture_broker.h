// A Kafka listener on 127.0.0.1 (port 0) that speaks just enough of the protocol for a client to
// authenticate with SASL/OAUTHBEARER and records what it sent: ApiVersions (v0..v3, advertising
// SaslHandshake 0..1 and SaslAuthenticate 0..1), SaslHandshake (OAUTHBEARER only), then
// SaslAuthenticate, whose auth_bytes (RFC 7628's client initial response) are captured and
// accepted. Anything after that is not answered: the connection is closed. For tests that prove
// a token reaches the wire; not a broker.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dataflow::testing {

class SaslCaptureBroker {
 public:
  SaslCaptureBroker();
  ~SaslCaptureBroker();
  SaslCaptureBroker(const SaslCaptureBroker&) = delete;
  SaslCaptureBroker& operator=(const SaslCaptureBroker&) = delete;

  std::string bootstrap() const;  // 127.0.0.1:<port>

  // Waits until `count` SaslAuthenticate requests have arrived (or `timeout`); returns the
  // auth_bytes captured so far, in arrival order.
  std::vector<std::string> waitForAuthentications(size_t count, std::chrono::milliseconds timeout);
  // The mechanisms clients asked for in SaslHandshake.
  std::vector<std::string> mechanisms() const;

 private:
  void acceptLoop();
  void serve(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> auth_bytes_;  // guarded by mutex_
  std::vector<std::string> mechanisms_;  // guarded by mutex_
};

}  // namespace dataflow::testing
