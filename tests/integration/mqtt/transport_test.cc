// The non-blocking transports (connectors/mqtt/net/transport.h) driven by a small poll() loop:
// a hand-written MQTT v5 CONNECT answered by a CONNACK over TCP, TLS (mosquitto's TLS listener,
// each way verification fails named), WebSockets and WebSockets over TLS (ws_proxy.py in front
// of mosquitto), and the WebSocket framing checked against a scripted server in the test.
#include "connectors/mqtt/net/transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/integration/mqtt/mqtt_pki.h"
#include "tests/support/files.h"
#include "tests/support/mosquitto.h"
#include "tests/support/process.h"
#include "tests/support/protocol_fronts.h"

namespace dataflow::mqtt::net {
namespace {

using dataflow::testing::CertificateFiles;
using dataflow::testing::Mosquitto;
using dataflow::testing::MosquittoTls;
using dataflow::testing::MqttPki;
using dataflow::testing::WebSocketProxy;
using ::testing::HasSubstr;
using State = IoResult::State;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kWait(10);

// ------------------------------------------------------------------ the poll() loop

// Waits until `fd` is ready for what `state` asks; false at the deadline.
bool waitReady(int fd, State state, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, static_cast<short>(state == State::WantRead ? POLLIN : POLLOUT), 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

IoResult timedOut(const char* what) {
  return {State::Error, 0, std::string("test: timed out ") + what};
}

IoResult handshake(Transport& t, Clock::time_point deadline) {
  for (;;) {
    IoResult r = t.handshake();
    if (r.state != State::WantRead && r.state != State::WantWrite) return r;
    if (!waitReady(t.fd(), r.state, deadline)) return timedOut("in the handshake");
  }
}

// Writes all of `data` and flushes the transport's own buffer.
IoResult writeAll(Transport& t, std::string_view data, Clock::time_point deadline) {
  while (!data.empty() || t.hasPendingOutput()) {
    IoResult r = t.write(data);
    if (r.state == State::Done) {
      data.remove_prefix(r.bytes);
      continue;
    }
    if (r.state != State::WantRead && r.state != State::WantWrite) return r;
    if (!waitReady(t.fd(), r.state, deadline)) return timedOut("writing");
  }
  return {};
}

// Reads until `out` holds `n` bytes (Done), or the stream ends or fails (that state).
IoResult readN(Transport& t, std::string& out, size_t n, Clock::time_point deadline) {
  char buffer[4096];
  while (out.size() < n) {
    IoResult r = t.read(buffer, std::min(sizeof buffer, n - out.size()));
    if (r.state == State::Done) {
      out.append(buffer, r.bytes);
      continue;
    }
    if (r.state != State::WantRead && r.state != State::WantWrite) return r;
    if (!waitReady(t.fd(), r.state, deadline)) return timedOut("reading");
  }
  return {};
}

// A hand-written MQTT v5 CONNECT: clean start, keep alive 60 s, no properties, client id.
std::string connectPacket(const std::string& client_id) {
  std::string variable("\x00\x04MQTT\x05\x02\x00\x3c\x00", 11);
  variable += static_cast<char>(client_id.size() >> 8);
  variable += static_cast<char>(client_id.size() & 0xFF);
  variable += client_id;
  return std::string(1, '\x10') + static_cast<char>(variable.size()) + variable;
}

// Connects to `uri`, sends CONNECT and reads the CONNACK: "CONNACK <reason code>", or the first
// error on the way (the state and message).
std::string mqttConnect(const std::string& uri, const std::optional<TlsFiles>& files = {},
                        std::string* kind = nullptr) {
  const Clock::time_point deadline = Clock::now() + kWait;
  Result<Target> target = parseServerUri(uri);
  if (!target.isOk()) return target.status().message();
  Result<std::vector<Address>> addresses = resolve(target.value().host, target.value().port);
  if (!addresses.isOk()) return addresses.status().message();
  std::shared_ptr<TlsContext> context;
  if (files) {
    Result<std::shared_ptr<TlsContext>> made = makeTlsContext(*files);
    if (!made.isOk()) return made.status().message();
    context = made.value();
  }
  Result<std::unique_ptr<Transport>> made =
      connectTransport(target.value(), addresses.value().front(), context);
  if (!made.isOk()) return made.status().message();
  Transport& t = *made.value();
  if (kind != nullptr) *kind = t.kind();
  auto describe = [](const char* step, const IoResult& r) {
    return std::string(step) + (r.state == State::Closed ? " closed" : " error: ") + r.error;
  };
  IoResult r = handshake(t, deadline);
  if (r.state != State::Done) return describe("handshake", r);
  r = writeAll(t, connectPacket("transport-test"), deadline);
  if (r.state != State::Done) return describe("write", r);
  std::string connack;
  r = readN(t, connack, 2, deadline);
  if (r.state != State::Done) return describe("read", r);
  if (connack[0] != '\x20' || (connack[1] & 0x80) != 0) return "not a CONNACK";
  r = readN(t, connack, 2 + static_cast<size_t>(connack[1]), deadline);
  if (r.state != State::Done) return describe("read", r);
  t.shutdown();
  return "CONNACK " + std::to_string(static_cast<unsigned char>(connack[3]));
}

// ------------------------------------------------------------------ TCP

TEST(TcpTransport, ConnectGetsAConnackFromMosquitto) {
  Mosquitto broker;
  std::string kind;
  EXPECT_EQ(mqttConnect("tcp://" + broker.address(), {}, &kind), "CONNACK 0");
  EXPECT_EQ(kind, "TCP");
  EXPECT_EQ(mqttConnect("mqtt://localhost:" + std::to_string(broker.port())), "CONNACK 0");
}

TEST(TcpTransport, ARefusedConnectionNamesTheAddress) {
  const std::string address = "127.0.0.1:" + std::to_string(dataflow::testing::freeTcpPort());
  const std::string result = mqttConnect("tcp://" + address);
  EXPECT_THAT(result, HasSubstr("handshake error: "));
  EXPECT_THAT(result, HasSubstr("connection refused"));
  EXPECT_THAT(result, HasSubstr(address));
}

TEST(TcpTransport, TheBrokerClosingShowsAsClosed) {
  Mosquitto broker;
  const Clock::time_point deadline = Clock::now() + kWait;
  Result<std::vector<Address>> addresses = resolve("127.0.0.1", broker.port());
  ASSERT_TRUE(addresses.isOk());
  Result<std::unique_ptr<Transport>> made = connectTransport(
      parseServerUri("tcp://" + broker.address()).value(), addresses.value().front(), nullptr);
  ASSERT_TRUE(made.isOk());
  Transport& t = *made.value();
  ASSERT_EQ(handshake(t, deadline).state, State::Done);
  // CONNECT and DISCONNECT at once: mosquitto answers the first and closes after the second.
  ASSERT_EQ(writeAll(t, connectPacket("closing") + std::string("\xe0\x00", 2), deadline).state,
            State::Done);
  std::string connack;
  ASSERT_EQ(readN(t, connack, 2, deadline).state, State::Done);
  EXPECT_EQ(connack[0], '\x20');
  std::string rest;
  EXPECT_EQ(readN(t, rest, static_cast<size_t>(connack[1]) + 1, deadline).state, State::Closed);
  EXPECT_EQ(rest.size(), static_cast<size_t>(connack[1]));
}

// ------------------------------------------------------------------ TLS

class TlsTransportTest : public ::testing::Test {
 protected:
  std::unique_ptr<Mosquitto> tlsBroker(const CertificateFiles& server,
                                       bool require_certificate = false) {
    Mosquitto::Options options;
    options.tls =
        MosquittoTls{pki_.caCertificate(), server.certificate, server.key, require_certificate};
    return std::make_unique<Mosquitto>(options);
  }
  TlsFiles trustingTheCa() const {
    TlsFiles files;
    files.trust_store = pki_.caCertificate();
    return files;
  }
  static std::string uri(const Mosquitto& broker) {
    return "ssl://127.0.0.1:" + std::to_string(broker.tlsPort());
  }

  MqttPki pki_;
};

TEST_F(TlsTransportTest, ConnectGetsAConnackOverTls) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server());
  std::string kind;
  EXPECT_EQ(mqttConnect(uri(*broker), trustingTheCa(), &kind), "CONNACK 0");
  EXPECT_EQ(kind, "TLS");
  // A host name: SNI and DNS-name verification ("localhost" is in the certificate).
  EXPECT_EQ(mqttConnect("mqtts://localhost:" + std::to_string(broker->tlsPort()), trustingTheCa()),
            "CONNACK 0");
}

TEST_F(TlsTransportTest, ACertificateFromAnotherCaIsNamedAsUntrusted) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.serverFromOtherCa());
  const std::string result = mqttConnect(uri(*broker), trustingTheCa());
  EXPECT_THAT(result, HasSubstr("TLS handshake with 127.0.0.1:"));
  EXPECT_THAT(result, HasSubstr("untrusted CA"));
  EXPECT_THAT(result, HasSubstr("the CA bundle " + pki_.caCertificate()));
}

TEST_F(TlsTransportTest, AnExpiredCertificateIsNamed) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.serverExpired());
  EXPECT_THAT(mqttConnect(uri(*broker), trustingTheCa()), HasSubstr("certificate has expired"));
}

TEST_F(TlsTransportTest, AHostNameMismatchIsNamed) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.serverWrongHost());
  const std::string result = mqttConnect(uri(*broker), trustingTheCa());
  EXPECT_THAT(result, HasSubstr("host-name mismatch"));
  EXPECT_THAT(result, HasSubstr("does not name 127.0.0.1"));
  EXPECT_THAT(mqttConnect("ssl://localhost:" + std::to_string(broker->tlsPort()), trustingTheCa()),
              HasSubstr("does not name localhost"));
}

TEST_F(TlsTransportTest, AMissingClientCertificateIsNamed) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server(), /*require_certificate=*/true);
  EXPECT_THAT(mqttConnect(uri(*broker), trustingTheCa()), HasSubstr("client certificate"));
}

TEST_F(TlsTransportTest, AClientCertificateFromAnotherCaIsNamed) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server(), /*require_certificate=*/true);
  TlsFiles files = trustingTheCa();
  files.client_certificate = pki_.clientFromOtherCa().certificate;
  files.client_key = pki_.clientFromOtherCa().key;
  EXPECT_THAT(mqttConnect(uri(*broker), files), HasSubstr("client certificate"));
}

TEST_F(TlsTransportTest, MutualTls) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server(), /*require_certificate=*/true);
  TlsFiles files = trustingTheCa();
  files.client_certificate = pki_.client().certificate;
  files.client_key = pki_.client().key;
  EXPECT_EQ(mqttConnect(uri(*broker), files), "CONNACK 0");
}

// The broker trusts only the root; the client's leaf is signed by the intermediate, which only the
// intermediates file carries: refused without it, accepted with it.
TEST_F(TlsTransportTest, IntermediateCertificatesAreSentInTheChain) {
  std::unique_ptr<Mosquitto> broker = tlsBroker(pki_.server(), /*require_certificate=*/true);
  TlsFiles files = trustingTheCa();
  files.client_certificate = pki_.clientFromIntermediate().certificate;
  files.client_key = pki_.clientFromIntermediate().key;
  EXPECT_THAT(mqttConnect(uri(*broker), files), HasSubstr("client certificate"));
  files.intermediate_certificates = pki_.intermediateCertificate();
  EXPECT_EQ(mqttConnect(uri(*broker), files), "CONNACK 0");
}

TEST_F(TlsTransportTest, UnusableFilesAreNamedNotShown) {
  TlsFiles files;
  files.trust_store = "/nonexistent/ca.crt";
  Result<std::shared_ptr<TlsContext>> made = makeTlsContext(files);
  ASSERT_FALSE(made.isOk());
  EXPECT_TRUE(made.status().isRetriable());
  EXPECT_THAT(made.status().message(), HasSubstr("cannot load the CA bundle /nonexistent/ca.crt"));

  files = trustingTheCa();
  files.client_certificate = pki_.client().certificate;
  files.client_key = pki_.clientFromOtherCa().key;  // not this certificate's key
  made = makeTlsContext(files);
  ASSERT_FALSE(made.isOk());
  EXPECT_THAT(made.status().message(), HasSubstr(pki_.clientFromOtherCa().key));
  const std::string key = dataflow::testing::readWholeFile(pki_.clientFromOtherCa().key);
  EXPECT_EQ(made.status().message().find(key.substr(30, 40)), std::string::npos);

  files = trustingTheCa();
  files.client_certificate = pki_.client().certificate;
  files.client_key = pki_.client().key;
  files.intermediate_certificates = pki_.client().key;  // no certificate in it
  made = makeTlsContext(files);
  ASSERT_FALSE(made.isOk());
  EXPECT_THAT(made.status().message(),
              HasSubstr("cannot use the intermediate certificates " + pki_.client().key));
}

// ------------------------------------------------------------------ WebSockets via ws_proxy.py

TEST(WebSocketTransport, ConnectGetsAConnackOverWebSockets) {
  Mosquitto broker;
  WebSocketProxy proxy(broker.port());
  std::string kind;
  EXPECT_EQ(mqttConnect("ws://" + proxy.address(), {}, &kind), "CONNACK 0");
  EXPECT_EQ(kind, "WebSockets");
  EXPECT_EQ(mqttConnect("ws://" + proxy.address() + "/other/path"), "CONNACK 0");
  EXPECT_THAT(proxy.log(), HasSubstr("request path /mqtt\n"));
  EXPECT_THAT(proxy.log(), HasSubstr("request path /other/path\n"));
}

TEST(WebSocketTransport, ConnectGetsAConnackOverWebSocketsOverTls) {
  MqttPki pki;
  Mosquitto broker;
  WebSocketProxy proxy(broker.port(), pki.server().certificate, pki.server().key);
  TlsFiles files;
  files.trust_store = pki.caCertificate();
  std::string kind;
  EXPECT_EQ(mqttConnect("wss://" + proxy.address() + "/mqtt", files, &kind), "CONNACK 0");
  EXPECT_EQ(kind, "WebSockets over TLS");
}

// ------------------------------------------------------------------ large packets both ways

// MQTT's variable byte integer.
std::string remainingLength(size_t n) {
  std::string out;
  do {
    char byte = static_cast<char>(n % 128);
    n /= 128;
    if (n > 0) byte = static_cast<char>(byte | 0x80);
    out += byte;
  } while (n > 0);
  return out;
}

std::string packet(char type, const std::string& body) {
  return std::string(1, type) + remainingLength(body.size()) + body;
}

std::string mqttString(const std::string& text) {
  return std::string(1, static_cast<char>(text.size() >> 8)) +
         static_cast<char>(text.size() & 0xFF) + text;
}

// One whole packet from the stream; empty on a failure (in `r`).
std::string readPacket(Transport& t, IoResult& r, Clock::time_point deadline) {
  std::string whole;
  r = readN(t, whole, 1, deadline);  // the type byte
  if (r.state != State::Done) return "";
  size_t length = 0;
  for (int shift = 0; shift <= 21; shift += 7) {
    r = readN(t, whole, whole.size() + 1, deadline);
    if (r.state != State::Done) return "";
    length |= static_cast<size_t>(whole.back() & 0x7F) << shift;
    if ((whole.back() & 0x80) == 0) {
      r = readN(t, whole, whole.size() + length, deadline);
      return r.state == State::Done ? whole : "";
    }
  }
  r = {State::Error, 0, "test: a malformed remaining length"};
  return "";
}

// A 3 MiB PUBLISH to a topic the connection subscribed to comes back whole: writes that fill the
// socket (TLS records retried from the transport's own buffer, WebSocket frames finished before
// the next) and reads of large frames and records.
class LargePacketTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LargePacketTest, ALargePublishComesBackWhole) {
  MqttPki pki;
  Mosquitto::Options options;
  options.tls = MosquittoTls{pki.caCertificate(), pki.server().certificate, pki.server().key};
  Mosquitto broker(options);
  std::unique_ptr<WebSocketProxy> proxy;
  const std::string scheme = GetParam();
  int port = broker.port();
  if (scheme == "ssl") port = broker.tlsPort();
  if (scheme == "ws") proxy = std::make_unique<WebSocketProxy>(broker.port());
  if (scheme == "wss") {
    proxy =
        std::make_unique<WebSocketProxy>(broker.port(), pki.server().certificate, pki.server().key);
  }
  if (proxy) port = proxy->port();
  const Target target = parseServerUri(scheme + "://127.0.0.1:" + std::to_string(port)).value();
  std::shared_ptr<TlsContext> context;
  if (target.tls) {
    TlsFiles files;
    files.trust_store = pki.caCertificate();
    context = makeTlsContext(files).value();
  }
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  Result<std::vector<Address>> addresses = resolve(target.host, target.port);
  ASSERT_TRUE(addresses.isOk());
  std::unique_ptr<Transport> t =
      std::move(connectTransport(target, addresses.value().front(), context)).value();
  // A small send buffer, so that writes meet a full socket (WantWrite in the middle of a TLS
  // record or a WebSocket frame). (A small receive buffer set after the connect stalls the
  // transfer: the window scale was agreed for the default one.)
  const int small = 8192;
  ::setsockopt(t->fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  IoResult r = handshake(*t, deadline);
  ASSERT_EQ(r.state, State::Done) << r.error;

  const std::string topic = "transport/large";
  // SUBSCRIBE: packet id 1, no properties, QoS 0.
  const std::string subscribe =
      packet('\x82', std::string("\x00\x01\x00", 3) + mqttString(topic) + std::string(1, '\0'));
  std::string payload(3 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + i / 251);
  const std::string publish = packet('\x30', mqttString(topic) + std::string(1, '\0') + payload);
  ASSERT_EQ(writeAll(*t, connectPacket("large-" + scheme) + subscribe, deadline).state,
            State::Done);
  std::string got = readPacket(*t, r, deadline);
  ASSERT_EQ(r.state, State::Done) << r.error;
  EXPECT_EQ(got[0], '\x20');
  got = readPacket(*t, r, deadline);
  ASSERT_EQ(r.state, State::Done) << r.error;
  EXPECT_EQ(got[0], '\x90');  // SUBACK
  r = writeAll(*t, publish, deadline);
  ASSERT_EQ(r.state, State::Done) << r.error;
  got = readPacket(*t, r, deadline);
  ASSERT_EQ(r.state, State::Done) << r.error;
  EXPECT_TRUE(got == publish) << "a different packet of " << got.size() << " bytes";
  ASSERT_EQ(writeAll(*t, std::string("\xe0\x00", 2), deadline).state, State::Done);
  t->shutdown();
}

INSTANTIATE_TEST_SUITE_P(AllTransports, LargePacketTest,
                         ::testing::Values("tcp", "ssl", "ws", "wss"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// ------------------------------------------------------------------ a scripted WebSocket server

// One connection on a free loopback port, served by `script` on its own thread with blocking I/O
// (receive timeouts keep a broken test from hanging). The script's failures are collected and
// checked by the test thread.
class ScriptedServer {
 public:
  using Script = std::function<void(ScriptedServer&, int fd)>;

  explicit ScriptedServer(Script script) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 10'000) != 1) return fail("no connection");
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return fail("accept failed");
      timeval tv{10, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      script(*this, fd);
      ::close(fd);
    });
  }
  ~ScriptedServer() {
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }

  std::string uri(const std::string& path = "/mqtt") const {
    return "ws://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Joins the script; its failures, empty when it did all it meant to.
  std::string failures() {
    if (thread_.joinable()) thread_.join();
    return failures_;
  }

  void fail(const std::string& what) { failures_ += what + "; "; }

  // Reads the HTTP request (up to its blank line).
  std::string readRequest(int fd) {
    std::string request;
    char c;
    while (request.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) {
      request += c;
    }
    return request;
  }
  static std::string header(const std::string& request, const std::string& name) {
    const size_t at = request.find("\r\n" + name + ": ");
    if (at == std::string::npos) return "";
    const size_t start = at + name.size() + 4;
    return request.substr(start, request.find("\r\n", start) - start);
  }
  static void send(int fd, const std::string& bytes) {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  // Reads exactly `n` bytes; false on timeout or EOF.
  static bool readExactly(int fd, std::string& out, size_t n) {
    out.resize(n);
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  // One client frame: its opcode and unmasked payload; false when it was not masked.
  bool readClientFrame(int fd, int& opcode, std::string& payload) {
    std::string head;
    if (!readExactly(fd, head, 2)) return false;
    opcode = head[0] & 0x0F;
    if ((head[1] & 0x80) == 0) {
      fail("a client frame without a mask");
      return false;
    }
    uint64_t length = head[1] & 0x7F;
    std::string ext;
    if (length == 126) {
      if (!readExactly(fd, ext, 2)) return false;
      length = static_cast<uint64_t>(static_cast<unsigned char>(ext[0])) << 8 |
               static_cast<unsigned char>(ext[1]);
    } else if (length == 127) {
      if (!readExactly(fd, ext, 8)) return false;
      length = 0;
      for (char b : ext) length = length << 8 | static_cast<unsigned char>(b);
    }
    std::string mask;
    if (!readExactly(fd, mask, 4) || !readExactly(fd, payload, length)) return false;
    for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= mask[i % 4];
    return true;
  }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string failures_;
};

// What a server sends: one frame, unmasked, with the shortest length that fits unless `wide`
// (64-bit length).
std::string serverFrame(int opcode, const std::string& payload, bool fin = true,
                        bool wide = false) {
  std::string f(1, static_cast<char>((fin ? 0x80 : 0) | opcode));
  const uint64_t n = payload.size();
  if (n < 126 && !wide) {
    f += static_cast<char>(n);
  } else if (n <= 0xFFFF && !wide) {
    f += static_cast<char>(126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  } else {
    f += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) f += static_cast<char>((n >> shift) & 0xFF);
  }
  return f + payload;
}

// The RFC 6455 accept value for a key, computed here independently of the transport (SHA-1 and
// OpenSSL's base64).
std::string acceptFor(const std::string& key) {
  const std::string input = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[64];
  const int n = EVP_EncodeBlock(encoded, digest, sizeof digest);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

TEST(WebSocketFraming, TheTestsAcceptValueIsTheRfcs) {
  EXPECT_EQ(acceptFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

std::string switchingProtocols(const std::string& request, const std::string& protocol = "mqtt") {
  std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      acceptFor(ScriptedServer::header(request, "Sec-WebSocket-Key")) + "\r\n";
  if (!protocol.empty()) response += "Sec-WebSocket-Protocol: " + protocol + "\r\n";
  return response + "\r\n";
}

// Opens a transport to the scripted server and runs the upgrade.
struct Client {
  explicit Client(const std::string& uri) : deadline(Clock::now() + kWait) {
    Target target = parseServerUri(uri).value();
    Result<std::vector<Address>> addresses = resolve(target.host, target.port);
    transport = std::move(connectTransport(target, addresses.value().front(), nullptr)).value();
  }
  Clock::time_point deadline;
  std::unique_ptr<Transport> transport;
};

TEST(WebSocketFraming, TheUpgradeRequestAndStreamedReads) {
  // Packets as a broker might frame them: two in one frame, one across two frames (with 16-bit
  // and 64-bit lengths), a ping in between; then a close.
  const std::string connack("\x20\x03\x00\x00\x00", 5);
  const std::string pingresp("\xd0\x00", 2);
  std::string publish("\x30\xcb\x01\x00\x01t", 6);  // remaining length 203
  publish += std::string(200, 'p');
  const std::string big(70'000, 'b');
  ScriptedServer server([&](ScriptedServer& s, int fd) {
    const std::string request = s.readRequest(fd);
    if (request.rfind("GET /the/path HTTP/1.1\r\n", 0) != 0) s.fail("request line: " + request);
    if (ScriptedServer::header(request, "Sec-WebSocket-Protocol") != "mqtt") s.fail("protocol");
    if (ScriptedServer::header(request, "Sec-WebSocket-Version") != "13") s.fail("version");
    if (ScriptedServer::header(request, "Upgrade") != "websocket") s.fail("upgrade");
    if (ScriptedServer::header(request, "Host").rfind("127.0.0.1:", 0) != 0) s.fail("host");
    // The response and the first frames in one segment: the transport must keep what follows
    // the headers.
    ScriptedServer::send(fd, switchingProtocols(request) + serverFrame(2, connack + pingresp));
    ScriptedServer::send(fd, serverFrame(9, "hi"));
    ScriptedServer::send(fd, serverFrame(2, publish.substr(0, 100), /*fin=*/false) +
                                 serverFrame(0, publish.substr(100)));
    ScriptedServer::send(fd, serverFrame(2, big, true, /*wide=*/true));
    int opcode = 0;
    std::string payload;
    if (!s.readClientFrame(fd, opcode, payload) || opcode != 0xA || payload != "hi") {
      s.fail("no pong echoing the ping: opcode " + std::to_string(opcode));
    }
    // What the client writes arrives as masked binary frames, whatever their sizes.
    std::string written;
    while (written.size() < 40'000) {
      if (!s.readClientFrame(fd, opcode, payload) || opcode != 2) return s.fail("binary frame");
      written += payload;
    }
    if (written != std::string(40'000, 'w')) s.fail("written bytes differ");
    ScriptedServer::send(fd, serverFrame(8, std::string("\x03\xe8", 2)));
    if (!s.readClientFrame(fd, opcode, payload) || opcode != 8 || payload != "\x03\xe8") {
      s.fail("no close reply");
    }
  });
  Client client(server.uri("/the/path"));
  Transport& t = *client.transport;
  ASSERT_EQ(handshake(t, client.deadline).state, State::Done);
  std::string got;
  ASSERT_EQ(
      readN(t, got, connack.size() + pingresp.size() + publish.size() + big.size(), client.deadline)
          .state,
      State::Done);
  EXPECT_EQ(got, connack + pingresp + publish + big);
  ASSERT_EQ(writeAll(t, std::string(40'000, 'w'), client.deadline).state, State::Done);
  std::string more;
  IoResult end = readN(t, more, 1, client.deadline);
  EXPECT_EQ(end.state, State::Closed) << end.error;
  // The close reply may still sit in the transport's buffer.
  EXPECT_EQ(writeAll(t, "", client.deadline).state, State::Done);
  EXPECT_EQ(server.failures(), "");
}

// The handshake's error for a server answering `response` (built from the request).
std::string upgradeError(std::function<std::string(const std::string& request)> response) {
  ScriptedServer server(
      [&](ScriptedServer& s, int fd) { ScriptedServer::send(fd, response(s.readRequest(fd))); });
  Client client(server.uri());
  IoResult r = handshake(*client.transport, client.deadline);
  EXPECT_EQ(server.failures(), "");
  EXPECT_EQ(r.state, State::Error);
  return r.error;
}

TEST(WebSocketFraming, ARefusedUpgradeNamesTheStatus) {
  EXPECT_THAT(upgradeError([](const std::string&) {
                return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
              }),
              HasSubstr("WebSocket upgrade refused: HTTP 404 Not Found"));
  EXPECT_THAT(
      upgradeError([](const std::string& request) { return switchingProtocols(request, ""); }),
      HasSubstr("subprotocol mqtt"));
  EXPECT_THAT(upgradeError([](const std::string& request) {
                return switchingProtocols(request, "mqttv3.1");
              }),
              HasSubstr("subprotocol mqtt (it chose \"mqttv3.1\")"));
  EXPECT_THAT(upgradeError([](const std::string&) {
                return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                       "Upgrade\r\nSec-WebSocket-Accept: bm90IHRoaXM=\r\n"
                       "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
              }),
              HasSubstr("wrong Sec-WebSocket-Accept"));
}

// The read error for a server sending `frame` after a good upgrade.
std::string frameError(const std::string& frame) {
  ScriptedServer server([&](ScriptedServer& s, int fd) {
    ScriptedServer::send(fd, switchingProtocols(s.readRequest(fd)) + frame);
    std::string ignored;
    ScriptedServer::readExactly(fd, ignored, 1);  // until the client closes
  });
  Client client(server.uri());
  EXPECT_EQ(handshake(*client.transport, client.deadline).state, State::Done);
  std::string got;
  IoResult r = readN(*client.transport, got, 1, client.deadline);
  client.transport.reset();
  EXPECT_EQ(server.failures(), "");
  EXPECT_EQ(r.state, State::Error);
  return r.error;
}

TEST(WebSocketFraming, ProtocolViolationsAreErrors) {
  EXPECT_THAT(frameError(serverFrame(1, "text")), HasSubstr("text frame"));
  EXPECT_THAT(frameError(std::string("\x82\x82\x01\x02\x03\x04xy", 8)), HasSubstr("masked"));
  // A length beyond any MQTT packet is refused before anything is allocated for it.
  EXPECT_THAT(frameError(std::string("\x82\x7f\x00\x00\x00\x10\x00\x00\x00\x00", 10)),
              HasSubstr("larger than any MQTT packet"));
  EXPECT_THAT(frameError(serverFrame(0, "x")), HasSubstr("continuation"));
}

}  // namespace
}  // namespace dataflow::mqtt::net
