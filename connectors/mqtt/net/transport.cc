// connectTransport of transport.h: one socket, the non-blocking connect started, the layers the
// target needs stacked on it.
#include "connectors/mqtt/net/transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "connectors/mqtt/net/transport_stack.h"

namespace dataflow::mqtt::net {

std::string errnoText(int error) {
  std::string text = std::strerror(error);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

Result<std::unique_ptr<Transport>> connectTransport(const Target& target, const Address& address,
                                                    std::shared_ptr<TlsContext> tls) {
  if (target.tls && !tls) {
    return Status::fatal("connecting to " + target.authority() + " needs a TLS context");
  }
  const int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Status::retriable("cannot make a socket for " + address.text + ": " + errnoText(errno));
  }
  // MQTT packets are small and latency matters more than segment count.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int connect_errno = 0;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0 &&
      errno != EINPROGRESS && errno != EINTR) {
    connect_errno = errno;  // reported by handshake(), like a connect that fails later
  }
  auto tcp = std::make_unique<TcpTransport>(fd, address.text, connect_errno);
  std::unique_ptr<Transport> stack =
      target.tls ? makeTlsTransport(std::move(tcp), target, std::move(tls)) : std::move(tcp);
  if (target.websockets) stack = makeWebSocketTransport(std::move(stack), target, address.text);
  return stack;
}

}  // namespace dataflow::mqtt::net
