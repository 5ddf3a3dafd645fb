// The layers connectTransport() stacks (transport.h): TCP at the bottom, TLS over it, WebSockets
// over either. Internal to dataflow_mqtt_net.
#pragma once

#include <memory>
#include <string>

#include "connectors/mqtt/net/transport.h"

namespace dataflow::mqtt::net {

// A non-blocking TCP stream whose connect was started (or failed at once: `connect_errno`).
class TcpTransport final : public Transport {
 public:
  TcpTransport(int fd, std::string address, int connect_errno);
  ~TcpTransport() override;
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  int fd() const override { return fd_; }
  IoResult handshake() override;
  IoResult read(char* data, size_t size) override;
  IoResult write(std::string_view data) override;
  bool hasPendingOutput() const override { return false; }
  void shutdown() override;
  const char* kind() const override { return "TCP"; }

  const std::string& address() const { return address_; }

 private:
  int fd_;
  std::string address_;  // Address::text, for error messages
  int connect_errno_;
  bool connected_ = false;
};

// TLS over `tcp`: SNI and name verification for target.host, errors naming `tcp`'s address.
std::unique_ptr<Transport> makeTlsTransport(std::unique_ptr<TcpTransport> tcp, const Target& target,
                                            std::shared_ptr<TlsContext> context);

// WebSockets (subprotocol "mqtt") over `inner`, upgrading with GET target.path.
std::unique_ptr<Transport> makeWebSocketTransport(std::unique_ptr<Transport> inner,
                                                  const Target& target, std::string address);

// "connection refused" from errno: strerror with a lower-case first letter, to sit mid-sentence.
std::string errnoText(int error);

}  // namespace dataflow::mqtt::net
