#include "tests/support/scripted_mqtt_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dataflow::testing {

using std::chrono::steady_clock;

ScriptedMqttBroker::ScriptedMqttBroker() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 8) != 0) {
    throw std::runtime_error(std::string("scripted broker: ") + std::strerror(errno));
  }
  socklen_t length = sizeof address;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
}

ScriptedMqttBroker::~ScriptedMqttBroker() {
  drop();
  ::close(listen_fd_);
}

bool ScriptedMqttBroker::accept() {
  drop();
  pollfd p{listen_fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(kWait.count())) <= 0) {
    error_ = "no connection within the wait";
    return false;
  }
  fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  return fd_ >= 0;
}

std::optional<wire::Packet> ScriptedMqttBroker::read(std::chrono::milliseconds wait) {
  const steady_clock::time_point deadline = steady_clock::now() + wait;
  while (true) {
    const wire::Frame frame = wire::frameAt(buffer_, wire::kMaxRemainingLength + 5);
    if (frame.state == wire::Frame::State::Error) {
      error_ = frame.error.what;
      return std::nullopt;
    }
    if (frame.state == wire::Frame::State::Complete) {
      wire::Decoded decoded =
          wire::decode(std::string_view(buffer_).substr(0, frame.size), wire::Direction::FromClient);
      buffer_.erase(0, frame.size);
      if (!decoded.packet) {
        error_ = decoded.error.what;
        return std::nullopt;
      }
      return std::move(decoded.packet);
    }
    if (fd_ < 0) {
      error_ = "no connection";
      return std::nullopt;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) {
      error_ = "nothing from the client within the wait";
      return std::nullopt;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      error_ = "the client closed the connection";
      ::close(fd_);
      fd_ = -1;
      return std::nullopt;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

std::optional<wire::Connect> ScriptedMqttBroker::acceptAndConnect(const wire::Connack& connack) {
  if (!accept()) return std::nullopt;
  std::optional<wire::Connect> connect = readAs<wire::Connect>();
  if (connect) send(connack);
  return connect;
}

bool ScriptedMqttBroker::grantSubscribe() {
  std::optional<wire::Subscribe> subscribe = readAs<wire::Subscribe>();
  if (!subscribe) return false;
  wire::Suback ack;
  ack.packet_id = subscribe->packet_id;
  for (const wire::Subscription& s : subscribe->subscriptions) ack.reason_codes.push_back(s.qos);
  send(ack);
  return true;
}

void ScriptedMqttBroker::send(const wire::Packet& packet) {
  std::string bytes;
  wire::encode(packet, bytes);
  sendRaw(bytes);
}

void ScriptedMqttBroker::sendRaw(const std::string& bytes) {
  size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

void ScriptedMqttBroker::drop() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

bool ScriptedMqttBroker::awaitClose() {
  const steady_clock::time_point deadline = steady_clock::now() + kWait;
  while (fd_ >= 0 && steady_clock::now() < deadline) {
    std::optional<wire::Packet> p = read(std::chrono::milliseconds(200));
    if (!p && fd_ < 0) return true;
  }
  return fd_ < 0;
}

}  // namespace dataflow::testing
