// Why a TLS connection to a broker fails, in words an operator can act on. Paho reports a failed
// handshake only as "TCP/TLS connect failure"; this repeats the handshake with OpenSSL, with the
// same trust store, client certificate and host name check, and names the cause: an untrusted
// (wrong) CA, an expired certificate, a host-name mismatch, or a client certificate the broker
// refused. Called only when a failure is about to be logged (rate-limited), never per attempt.
#pragma once

#include <chrono>
#include <string>

#include "connectors/mqtt/mqtt_settings.h"

namespace dataflow::mqtt {

// `host` and `port` from the server URI. Returns one clause such as "the broker's certificate has
// expired (notAfter ...)"; an empty string when the probe's handshake succeeds (the failure was
// elsewhere) or it could not reach the broker. Blocks up to about 2 * `timeout`.
std::string diagnoseTls(const std::string& host, int port, const TlsFiles& tls,
                        std::chrono::milliseconds timeout);

// Splits "ssl://host:port/path" (or wss://, and [v6]:port) into host and port; false when the
// URI has no TLS scheme or no port.
bool tlsHostPort(const std::string& server_uri, std::string& host, int& port);

}  // namespace dataflow::mqtt
