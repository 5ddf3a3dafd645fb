// The TCP layer of transport.h: a non-blocking connect completed in handshake(), recv/send with
// MSG_NOSIGNAL (a peer that went away must not kill the process with SIGPIPE).
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "connectors/mqtt/net/transport_stack.h"

namespace dataflow::mqtt::net {

TcpTransport::TcpTransport(int fd, std::string address, int connect_errno)
    : fd_(fd), address_(std::move(address)), connect_errno_(connect_errno) {}

TcpTransport::~TcpTransport() {
  if (fd_ >= 0) ::close(fd_);
}

IoResult TcpTransport::handshake() {
  if (connected_) return {};
  int error = connect_errno_;
  if (error == 0) {
    socklen_t length = sizeof error;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  }
  if (error != 0) {
    connect_errno_ = error;  // SO_ERROR is cleared by reading it: keep the answer
    return {IoResult::State::Error, 0,
            "TCP connect to " + address_ + " failed: " + errnoText(error)};
  }
  // SO_ERROR is 0 both while the connect is in progress and once it succeeded; only a connected
  // socket has a peer.
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
    connected_ = true;
    return {};
  }
  if (errno == ENOTCONN) return {IoResult::State::WantWrite, 0, ""};
  return {IoResult::State::Error, 0, "TCP connect to " + address_ + " failed: " + errnoText(errno)};
}

IoResult TcpTransport::read(char* data, size_t size) {
  for (;;) {
    const ssize_t n = ::recv(fd_, data, size, 0);
    if (n > 0) return {IoResult::State::Done, static_cast<size_t>(n), ""};
    if (n == 0) return {IoResult::State::Closed, 0, ""};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoResult::State::WantRead, 0, ""};
    return {IoResult::State::Error, 0,
            "TCP read from " + address_ + " failed: " + errnoText(errno)};
  }
}

IoResult TcpTransport::write(std::string_view data) {
  if (data.empty()) return {};
  for (;;) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) return {IoResult::State::Done, static_cast<size_t>(n), ""};
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return {IoResult::State::WantWrite, 0, ""};
    }
    if (n < 0 && errno == EPIPE) return {IoResult::State::Closed, 0, ""};
    return {IoResult::State::Error, 0,
            "TCP write to " + address_ + " failed: " + errnoText(n < 0 ? errno : EIO)};
  }
}

void TcpTransport::shutdown() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

}  // namespace dataflow::mqtt::net
