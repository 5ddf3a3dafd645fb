// The TLS layer of transport.h (OpenSSL 3) and the pieces it keeps in tls_support.h
//
// SIGPIPE: the engine does not ignore SIGPIPE (cli/main.cc leaves it alone, and a library must not
// change a process-wide disposition), and OpenSSL's socket BIO writes with write(2), which raises
// SIGPIPE when the broker has gone. So the SSL object does its I/O through a BIO of our own that
// calls send(MSG_NOSIGNAL) and recv() on the socket, as the TCP layer does.
//
// Writes: OpenSSL requires that a write that returned SSL_ERROR_WANT_WRITE be retried with the
// same bytes. The transport therefore takes the bytes of such a write as accepted (Done), keeps
// them (at most one record, kMaxWrite) and retries them itself from write(""), which
// hasPendingOutput() asks the loop to call.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "connectors/mqtt/net/tls_support.h"
#include "connectors/mqtt/net/transport_stack.h"

namespace dataflow::mqtt::net {

class TlsContext {
 public:
  TlsContext(SslCtxPtr ctx, const TlsFiles& files)
      : ctx_(std::move(ctx)),
        has_client_certificate_(files.client_certificate.has_value()),
        trust_store_(files.trust_store) {}
  SSL_CTX* get() const { return ctx_.get(); }
  bool hasClientCertificate() const { return has_client_certificate_; }
  const std::optional<std::string>& trustStore() const { return trust_store_; }

 private:
  SslCtxPtr ctx_;
  bool has_client_certificate_;
  std::optional<std::string> trust_store_;
};

// ---------------------------------------------------------------- tls_support.h

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

bool isAlert(const std::string& reasons) { return reasons.find("alert") != std::string::npos; }

bool isIpLiteral(const std::string& host) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

bool setPeerName(SSL* ssl, const std::string& host) {
  if (isIpLiteral(host)) {
    // RFC 6066: no SNI for IP addresses; the certificate must carry the address as an IP SAN.
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
}

std::string trustStoreName(const std::optional<std::string>& trust_store) {
  return trust_store ? "the CA bundle " + *trust_store : std::string("the system trust store");
}

std::string verifyCause(long result, const std::string& host,
                        const std::optional<std::string>& trust_store) {
  const std::string trust = trustStoreName(trust_store);
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

std::string handshakeRefusedCause(const std::string& reasons, bool has_client_certificate) {
  return "the broker refused the TLS handshake (" + reasons + "): is the client certificate " +
         (has_client_certificate ? "one it trusts?" : "missing?");
}

std::string clientCertificateRefusedCause(const std::string& reasons, bool has_client_certificate) {
  return "the broker refused the client certificate (" + reasons + ")" +
         (has_client_certificate ? "" : ": none was configured");
}

namespace {

// Every certificate of a PEM file, added to the chain the client presents after its own.
Status addIntermediates(SSL_CTX* ctx, const std::string& path) {
  std::unique_ptr<BIO, decltype(&::BIO_free)> file(BIO_new_file(path.c_str(), "r"), ::BIO_free);
  if (!file) {
    return Status::retriable("cannot read the intermediate certificates " + path + ": " +
                             opensslErrors());
  }
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(file.get(), nullptr, nullptr, nullptr)) {
    const int ok = SSL_CTX_add1_chain_cert(ctx, cert);
    X509_free(cert);
    if (ok != 1) {
      return Status::retriable("cannot use the intermediate certificates " + path + ": " +
                               opensslErrors());
    }
    ++added;
  }
  // The loop ends on "no start line" at the end of the file: expected once something was read.
  const unsigned long last = ERR_peek_last_error();
  if (added > 0 && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return Status::ok();
  }
  return Status::retriable("cannot use the intermediate certificates " + path +
                           (added == 0 ? ": no PEM certificate in it" : ": " + opensslErrors()));
}

}  // namespace

Result<SslCtxPtr> newClientContext(const TlsFiles& files) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Status::retriable("cannot make a TLS context: " + opensslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const int loaded = files.trust_store ? SSL_CTX_load_verify_locations(
                                             ctx.get(), files.trust_store->c_str(), nullptr)
                                       : SSL_CTX_set_default_verify_paths(ctx.get());
  if (loaded != 1) {
    return Status::retriable("cannot load " + trustStoreName(files.trust_store) + ": " +
                             opensslErrors());
  }
  if (files.client_certificate) {
    const std::string& cert = *files.client_certificate;
    // Without a separate key file, the key may sit in the certificate's PEM file.
    const std::string& key = files.client_key ? *files.client_key : cert;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1) {
      return Status::retriable("cannot use the client certificate " + cert + ": " +
                               opensslErrors());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return Status::retriable("cannot use the client key " + key + ": " + opensslErrors());
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      return Status::retriable("the client key " + key + " does not match the client certificate " +
                               cert + ": " + opensslErrors());
    }
    if (files.intermediate_certificates) {
      Status added = addIntermediates(ctx.get(), *files.intermediate_certificates);
      if (!added.isOk()) return added;
    }
  } else if (files.client_key || files.intermediate_certificates) {
    return Status::retriable(
        "a client key or intermediate certificates without a client "
        "certificate");
  }
  return ctx;
}

Result<std::shared_ptr<TlsContext>> makeTlsContext(const TlsFiles& files) {
  Result<SslCtxPtr> ctx = newClientContext(files);
  if (!ctx.isOk()) return ctx.status();
  SSL_CTX_set_mode(ctx.value().get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A broker that closes TCP without close_notify has still delivered every MQTT packet whole
  // (each carries its length): an end of stream, not an attack.
  SSL_CTX_set_options(ctx.value().get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  return std::make_shared<TlsContext>(std::move(ctx).value(), files);
}

// ---------------------------------------------------------------- the transport

namespace {

// The BIO: recv/send on the socket, send with MSG_NOSIGNAL.
int socketOf(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio))); }

int bioWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = ::send(socketOf(bio), data, static_cast<size_t>(size), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

int bioRead(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = ::recv(socketOf(bio), data, static_cast<size_t>(size), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(bio);
  return static_cast<int>(n);
}

long bioCtrl(BIO* bio, int command, long, void* pointer) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_C_GET_FD:
      if (pointer != nullptr) *static_cast<int*>(pointer) = socketOf(bio);
      return socketOf(bio);
    default:
      return 0;
  }
}

int bioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* socketMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "dataflow socket (MSG_NOSIGNAL)");
    BIO_meth_set_write(m, bioWrite);
    BIO_meth_set_read(m, bioRead);
    BIO_meth_set_ctrl(m, bioCtrl);
    BIO_meth_set_create(m, bioCreate);
    return m;
  }();
  return method;
}

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// Records are at most 16 KiB: one is the most kept for a retry.
constexpr size_t kMaxWrite = 16 * 1024;

class TlsTransport final : public Transport {
 public:
  TlsTransport(std::unique_ptr<TcpTransport> tcp, const Target& target,
               std::shared_ptr<TlsContext> context)
      : tcp_(std::move(tcp)), host_(target.host), context_(std::move(context)) {
    ERR_clear_error();
    ssl_.reset(SSL_new(context_->get()));
    BIO* bio = ssl_ ? BIO_new(socketMethod()) : nullptr;
    if (bio == nullptr) {
      setup_error_ = "cannot set up TLS: " + opensslErrors();
      return;
    }
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(tcp_->fd())));
    SSL_set_bio(ssl_.get(), bio, bio);
    if (!setPeerName(ssl_.get(), host_)) {
      setup_error_ = "cannot verify the name " + host_ + ": " + opensslErrors();
    }
  }

  int fd() const override { return tcp_->fd(); }
  const char* kind() const override { return "TLS"; }
  bool hasPendingOutput() const override { return !pending_.empty(); }

  IoResult handshake() override {
    if (!setup_error_.empty()) return error(setup_error_);
    if (handshake_done_) return {};
    IoResult connected = tcp_->handshake();
    if (connected.state != IoResult::State::Done) return connected;
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_connect(ssl_.get());
    if (rc == 1) {
      handshake_done_ = true;
      return {};
    }
    const int code = SSL_get_error(ssl_.get(), rc);
    if (code == SSL_ERROR_WANT_READ) return {IoResult::State::WantRead, 0, ""};
    if (code == SSL_ERROR_WANT_WRITE) return {IoResult::State::WantWrite, 0, ""};
    const int saved_errno = errno;
    const std::string reasons = opensslErrors();
    std::string cause;
    const long verify = SSL_get_verify_result(ssl_.get());
    if (verify != X509_V_OK) {
      cause = verifyCause(verify, host_, context_->trustStore());
    } else if (isAlert(reasons)) {
      cause = handshakeRefusedCause(reasons, context_->hasClientCertificate());
    } else if (!reasons.empty()) {
      cause = reasons;
    } else if (code == SSL_ERROR_SYSCALL && saved_errno != 0) {
      cause = errnoText(saved_errno);
    } else {
      cause = "the broker closed the connection";
    }
    return error("TLS handshake with " + tcp_->address() + " failed: " + cause);
  }

  IoResult read(char* data, size_t size) override {
    if (size == 0) return {};
    ERR_clear_error();
    errno = 0;
    const int n = SSL_read(ssl_.get(), data, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
    if (n > 0) {
      read_any_ = true;
      return {IoResult::State::Done, static_cast<size_t>(n), ""};
    }
    return unfinished(SSL_get_error(ssl_.get(), n), "read from");
  }

  IoResult write(std::string_view data) override {
    // A retried record first: nothing new is taken before it is out.
    while (!pending_.empty()) {
      IoResult r = writeSome(pending_);
      if (r.state != IoResult::State::Done) return r;
      pending_.erase(0, r.bytes);
    }
    if (data.empty()) return {};
    const std::string_view chunk = data.substr(0, kMaxWrite);
    IoResult r = writeSome(chunk);
    if (r.state == IoResult::State::WantWrite || r.state == IoResult::State::WantRead) {
      // OpenSSL has made a record of these bytes and must be given them again: they are ours now.
      pending_.assign(chunk);
      return {IoResult::State::Done, chunk.size(), ""};
    }
    return r;
  }

  void shutdown() override {
    if (handshake_done_ && !failed_ && !shut_down_) {
      shut_down_ = true;
      ERR_clear_error();
      SSL_shutdown(ssl_.get());  // sends close_notify if the socket takes it now; no waiting
      ERR_clear_error();
    }
    tcp_->shutdown();
  }

 private:
  IoResult error(std::string message) {
    failed_ = true;  // OpenSSL forbids SSL_shutdown after a fatal error
    return {IoResult::State::Error, 0, std::move(message)};
  }

  IoResult writeSome(std::string_view data) {
    ERR_clear_error();
    errno = 0;
    const int n = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
    if (n > 0) return {IoResult::State::Done, static_cast<size_t>(n), ""};
    return unfinished(SSL_get_error(ssl_.get(), n), "write to");
  }

  // What an SSL_read/SSL_write that did not complete means for the caller.
  IoResult unfinished(int code, const char* what) {
    switch (code) {
      case SSL_ERROR_WANT_READ:
        return {IoResult::State::WantRead, 0, ""};
      case SSL_ERROR_WANT_WRITE:
        return {IoResult::State::WantWrite, 0, ""};
      case SSL_ERROR_ZERO_RETURN:
        return {IoResult::State::Closed, 0, ""};
      default:
        return failure(what, code);
    }
  }

  IoResult failure(const char* what, int code) {
    const int saved_errno = errno;
    failed_ = true;
    std::string reasons = opensslErrors();
    if (!read_any_ && !isAlert(reasons) && std::string_view(what) == "write to") {
      // TLS 1.3: a broker refusing the client certificate sends an alert and closes after our
      // handshake is complete; writing the first packet may then fail with a reset before the
      // alert was read. The alert is still in the socket's receive queue: read it to say why.
      char byte;
      ERR_clear_error();
      if (SSL_read(ssl_.get(), &byte, 1) <= 0) {
        const std::string alert = opensslErrors();
        if (isAlert(alert)) reasons = alert;
      }
    }
    if (!read_any_ && isAlert(reasons)) {
      return error("TLS connection with " + tcp_->address() + " failed: " +
                   clientCertificateRefusedCause(reasons, context_->hasClientCertificate()));
    }
    if (code == SSL_ERROR_SYSCALL && reasons.empty()) {
      if (saved_errno == 0) return {IoResult::State::Closed, 0, ""};
      if (saved_errno == EPIPE) return {IoResult::State::Closed, 0, ""};
      return error("TLS " + std::string(what) + " " + tcp_->address() +
                   " failed: " + errnoText(saved_errno));
    }
    return error("TLS " + std::string(what) + " " + tcp_->address() +
                 " failed: " + (reasons.empty() ? std::string("unknown OpenSSL error") : reasons));
  }

  std::unique_ptr<TcpTransport> tcp_;
  std::string host_;
  std::shared_ptr<TlsContext> context_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::string setup_error_;
  bool handshake_done_ = false;
  bool read_any_ = false;
  bool shut_down_ = false;
  bool failed_ = false;
  std::string pending_;
};

}  // namespace

std::unique_ptr<Transport> makeTlsTransport(std::unique_ptr<TcpTransport> tcp, const Target& target,
                                            std::shared_ptr<TlsContext> context) {
  return std::make_unique<TlsTransport>(std::move(tcp), target, std::move(context));
}

}  // namespace dataflow::mqtt::net
