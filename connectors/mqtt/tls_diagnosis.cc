#include "connectors/mqtt/tls_diagnosis.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

namespace dataflow::mqtt {

namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
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

// OpenSSL's queued errors as one line ("sslv3 alert bad certificate"), the queue emptied.
std::string opensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    if (reason == nullptr) continue;
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out;
}

bool isIpAddress(const std::string& host) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// The verification result as the cause an operator looks for.
std::string verifyCause(long result, const std::string& host, const TlsFiles& tls) {
  const std::string trust =
      tls.trust_store ? "the CA bundle " + *tls.trust_store : std::string("the system trust store");
  const std::string detail = X509_verify_cert_error_string(result);
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "the broker's certificate has expired (" + detail + ")";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "the broker's certificate is not valid yet (" + detail + ")";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "host-name mismatch: the broker's certificate does not name " + host + " (" + detail +
             ")";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "untrusted CA: the broker's certificate is not signed by a CA in " + trust + " (" +
             detail + ")";
    default:
      return "the broker's certificate failed verification against " + trust + " (" + detail + ")";
  }
}

// The client-side context: trust store, client certificate and key, verification recorded but
// not enforced, so the handshake goes on to show what the broker thinks of us.
std::unique_ptr<SSL_CTX, SslCtxFree> clientContext(const TlsFiles& tls, std::string& error) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return nullptr;
  const int loaded =
      tls.trust_store ? SSL_CTX_load_verify_locations(ctx.get(), tls.trust_store->c_str(), nullptr)
                      : SSL_CTX_set_default_verify_paths(ctx.get());
  if (loaded != 1) {
    error = "cannot load " +
            (tls.trust_store ? "the CA bundle " + *tls.trust_store
                             : std::string("the system trust store")) +
            ": " + opensslErrors();
    return nullptr;
  }
  if (tls.client_certificate &&
      (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.client_certificate->c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx.get(), tls.client_key.value_or("").c_str(),
                                   SSL_FILETYPE_PEM) != 1)) {
    error = "cannot use the client certificate " + *tls.client_certificate +
            " and its key: " + opensslErrors();
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
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
  ERR_clear_error();
  std::string error;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx = clientContext(tls, error);
  if (!ctx) return error;
  FdCloser socket{connectTcp(host, port, timeout)};
  if (socket.fd < 0) return "";
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl) return "";
  SSL_set_fd(ssl.get(), socket.fd);
  if (!isIpAddress(host)) SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (isIpAddress(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
  if (SSL_connect(ssl.get()) != 1) {
    const std::string reasons = opensslErrors();
    if (reasons.find("alert") != std::string::npos) {
      return "the broker refused the TLS handshake (" + reasons + "): is the client certificate " +
             std::string(tls.client_certificate ? "one it trusts?" : "missing?");
    }
    return reasons.empty() ? "" : "TLS handshake failed: " + reasons;
  }
  const long verify = SSL_get_verify_result(ssl.get());
  if (verify != X509_V_OK) return verifyCause(verify, host, tls);
  // TLS 1.3: a broker that refuses the client certificate says so after the handshake.
  char byte;
  if (SSL_read(ssl.get(), &byte, 1) <= 0) {
    const std::string reasons = opensslErrors();
    if (reasons.find("alert") != std::string::npos) {
      return "the broker refused the client certificate (" + reasons + ")" +
             (tls.client_certificate ? "" : ": none was configured");
    }
  }
  return "";
}

}  // namespace dataflow::mqtt
