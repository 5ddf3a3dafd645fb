// The byte streams an MQTT connection runs over: TCP, TLS over TCP (OpenSSL), and WebSockets
// (RFC 6455, subprotocol "mqtt", MQTT v5 chapter 6) over either. Non-blocking: every call returns
// at once, so that one event-loop thread can drive many connections (event_loop.h). No paho.
//
// Life of a transport: resolve() and makeTlsContext() run off the I/O threads (they block: DNS,
// file reads); connectTransport() starts a non-blocking TCP connect and returns the stack the
// target needs; the loop calls handshake() whenever fd() is ready for what the last call asked
// (WantRead/WantWrite) until Done; then read()/write() likewise; shutdown() once at the end.
//
// Errors are one sentence an operator can act on, naming the cause, e.g. "TLS handshake with
// 127.0.0.1:8883 failed: untrusted CA: the broker's certificate is not signed by a CA in the CA
// bundle /x/ca.crt (unable to get local issuer certificate)", "host-name mismatch: the broker's
// certificate does not name 127.0.0.1 (...)", "the broker's certificate has expired (...)",
// "the broker refused the TLS handshake (...): is the client certificate one it trusts?",
// "WebSocket upgrade refused: HTTP 404 Not Found", "connection refused". Never a secret.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"

namespace dataflow::mqtt::net {

// Where a server URI points: tcp://host:port, mqtt://host:port (TCP), ssl://, mqtts://, tls://
// (TLS), ws://host:port/path, wss://host:port/path (WebSockets; the path defaults to "/mqtt",
// as paho's). IPv6 literals in brackets ([::1]:1883). The port is required.
struct Target {
  std::string host;  // without brackets; also the TLS SNI and the name verified
  uint16_t port = 0;
  bool tls = false;
  bool websockets = false;
  std::string path = "/mqtt";  // WebSockets request path

  std::string authority() const;  // "host:port", "[v6]:port"
};
Result<Target> parseServerUri(std::string_view uri);

// Blocking DNS resolution (getaddrinfo, any family, TCP). Retriable naming the host on failure.
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string text;  // "127.0.0.1:1883", "[::1]:1883"
};
Result<std::vector<Address>> resolve(const std::string& host, uint16_t port);

// What TLS verifies with and presents. Paths to PEM files, read by makeTlsContext.
struct TlsFiles {
  std::optional<std::string> trust_store;         // CA bundle; absent = the system trust store
  std::optional<std::string> client_certificate;  // certificate (chain) for mutual TLS
  std::optional<std::string> client_key;          // its private key, not password protected
  std::optional<std::string> intermediate_certificates;  // sent after client_certificate
};

// An OpenSSL client context: TLS 1.2+, peer verification always on (never turned off), the
// trust store and client certificate/key/intermediates loaded. Reads the files now (blocking;
// off the I/O threads), so building one per connect picks up rotated files. Retriable with the
// file that could not be used (naming the path, never its content).
class TlsContext;
Result<std::shared_ptr<TlsContext>> makeTlsContext(const TlsFiles& files);

struct IoResult {
  enum class State {
    Done,       // handshake complete / `bytes` read or written (> 0)
    WantRead,   // nothing now: call again when fd() is readable
    WantWrite,  // nothing now: call again when fd() is writable
    Closed,     // the peer closed the stream (EOF, close_notify, WebSocket close)
    Error,      // the stream is broken: `error` says why
  };
  State state = State::Done;
  size_t bytes = 0;
  std::string error;
};

class Transport {
 public:
  virtual ~Transport() = default;  // closes the socket
  virtual int fd() const = 0;
  // Drives the TCP connect, the TLS handshake (SNI = target host, host name verified) and the
  // WebSocket upgrade (GET path, Sec-WebSocket-Protocol: mqtt, Sec-WebSocket-Accept checked).
  virtual IoResult handshake() = 0;
  // After handshake() was Done. MQTT bytes in, whatever framing is below. Call again until
  // WantRead before waiting on fd(): bytes may already sit above the socket (a decrypted TLS
  // record, the rest of a WebSocket frame), where poll() cannot see them.
  virtual IoResult read(char* data, size_t size) = 0;
  // Writes a prefix of `data` (Done with bytes > 0) or nothing. WebSockets: one or more masked
  // binary frames; bytes counts MQTT bytes accepted (the transport finishes a started frame
  // before taking more, keeping its own small buffer, so a partial write never splits a frame
  // in a way the caller sees).
  virtual IoResult write(std::string_view data) = 0;
  // True when the transport has buffered output of its own to flush (WebSocket frame remainder,
  // a TLS record): the loop should wait for writability and call write("") until false.
  virtual bool hasPendingOutput() const = 0;
  // Best effort, non-blocking: TLS close_notify, WebSocket close frame, then TCP FIN.
  virtual void shutdown() = 0;
  // "TCP", "TLS", "WebSockets", "WebSockets over TLS": for log lines.
  virtual const char* kind() const = 0;
};

// Starts a non-blocking TCP connect to `address` (TCP_NODELAY, close-on-exec) and stacks TLS
// (with `tls`, required when target.tls) and WebSockets as `target` says. Error only when no
// socket could be made; a refused or unreachable connect shows in handshake().
Result<std::unique_ptr<Transport>> connectTransport(const Target& target, const Address& address,
                                                    std::shared_ptr<TlsContext> tls);

}  // namespace dataflow::mqtt::net
