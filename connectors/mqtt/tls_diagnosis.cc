#include "connectors/mqtt/tls_diagnosis.h"

#include <netdb.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "connectors/mqtt/net/tls_support.h"

namespace dataflow::mqtt {

namespace {

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// A TCP socket connected to host:port with send and receive timeouts, or -1.
int connectTcp(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, ::freeaddrinfo);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) return fd;
    ::close(fd);
  }
  return -1;
}

// The settings' files as the transports take them: one client context for both.
net::TlsFiles netFiles(const TlsFiles& tls) {
  return net::TlsFiles{tls.trust_store, tls.client_certificate, tls.client_key,
                       tls.intermediate_certificates};
}

}  // namespace

bool tlsHostPort(const std::string& server_uri, std::string& host, int& port) {
  size_t start;
  if (server_uri.rfind("ssl://", 0) == 0) {
    start = 6;
  } else if (server_uri.rfind("wss://", 0) == 0) {
    start = 6;
  } else {
    return false;
  }
  const size_t end = server_uri.find('/', start);
  const std::string authority =
      server_uri.substr(start, end == std::string::npos ? end : end - start);
  const size_t colon = authority.rfind(':');
  if (colon == std::string::npos || colon + 1 == authority.size()) return false;
  host = authority.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  try {
    port = std::stoi(authority.substr(colon + 1));
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

std::string diagnoseTls(const std::string& host, int port, const TlsFiles& tls,
                        std::chrono::milliseconds timeout) {
  // The transports' context (the same files, TLS 1.2+), with verification recorded but not
  // enforced, so the handshake goes on to show what the broker thinks of us.
  Result<net::SslCtxPtr> made = net::newClientContext(netFiles(tls));
  if (!made.isOk()) return made.status().message();
  net::SslCtxPtr ctx = std::move(made).value();
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  FdCloser socket{connectTcp(host, port, timeout)};
  if (socket.fd < 0) return "";
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl) return "";
  SSL_set_fd(ssl.get(), socket.fd);
  net::setPeerName(ssl.get(), host);
  if (SSL_connect(ssl.get()) != 1) {
    const std::string reasons = net::opensslErrors();
    if (net::isAlert(reasons)) {
      return net::handshakeRefusedCause(reasons, tls.client_certificate.has_value());
    }
    return reasons.empty() ? "" : "TLS handshake failed: " + reasons;
  }
  const long verify = SSL_get_verify_result(ssl.get());
  if (verify != X509_V_OK) return net::verifyCause(verify, host, tls.trust_store);
  // TLS 1.3: a broker that refuses the client certificate says so after the handshake.
  char byte;
  if (SSL_read(ssl.get(), &byte, 1) <= 0) {
    const std::string reasons = net::opensslErrors();
    if (net::isAlert(reasons)) {
      return net::clientCertificateRefusedCause(reasons, tls.client_certificate.has_value());
    }
  }
  return "";
}

}  // namespace dataflow::mqtt
