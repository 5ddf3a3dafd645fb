// The OpenSSL pieces of the TLS transport: the client context and the words a failure is named
// in: "untrusted CA: ...", "the broker's certificate has expired (...)", "host-name mismatch:
// the broker's certificate does not name HOST (...)", "the broker refused ... client certificate".
// Not part of the transport contract (transport.h); OpenSSL types appear here on purpose.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>

#include "connectors/mqtt/net/transport.h"
#include "engine/core/status.h"

namespace dataflow::mqtt::net {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// A client context: TLS 1.2 or later, SSL_VERIFY_PEER, the trust store (the CA bundle or the
// system's default paths), the client certificate chain, its key (checked against it) and the
// intermediate certificates added to the chain. Retriable naming the file that could not be used,
// never its content.
Result<SslCtxPtr> newClientContext(const TlsFiles& files);

// OpenSSL's queued error reasons of this thread as one line ("sslv3 alert bad certificate; ..."),
// the queue emptied.
std::string opensslErrors();

// Whether `reasons` (opensslErrors()) reports a TLS alert the peer sent.
bool isAlert(const std::string& reasons);

// An IPv4 or IPv6 literal (no SNI for those; the certificate must name the IP address).
bool isIpLiteral(const std::string& host);

// SNI (names only) and the name verification of `host` on `ssl`: a host name must appear in the
// certificate's DNS names, an IP literal in its IP addresses. False when OpenSSL refused either.
bool setPeerName(SSL* ssl, const std::string& host);

// "the CA bundle /path" or "the system trust store".
std::string trustStoreName(const std::optional<std::string>& trust_store);

// A failed certificate verification (SSL_get_verify_result) as the cause an operator looks for.
std::string verifyCause(long result, const std::string& host,
                        const std::optional<std::string>& trust_store);

// The broker answered the handshake with an alert: it refused us, almost always our client
// certificate (missing, or from a CA it does not trust).
std::string handshakeRefusedCause(const std::string& reasons, bool has_client_certificate);

// TLS 1.3: the broker checks the client certificate after the client's handshake is complete, so
// its refusal arrives as an alert at the first read.
std::string clientCertificateRefusedCause(const std::string& reasons, bool has_client_certificate);

}  // namespace dataflow::mqtt::net
