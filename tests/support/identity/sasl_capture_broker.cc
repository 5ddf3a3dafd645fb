#include "tests/support/identity/sasl_capture_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace dataflow::testing {

namespace {

constexpr int16_t kSaslHandshake = 17;
constexpr int16_t kApiVersions = 18;
constexpr int16_t kSaslAuthenticate = 36;

// Reads exactly n bytes, waiting at most 100 ms at a time while `stopping` is false.
bool readFull(int fd, char* out, size_t n, const std::atomic<bool>& stopping) {
  size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    if (stopping.load()) return false;
    if (ready <= 0) continue;
    const ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

struct Reader {
  const std::string& data;
  size_t at = 0;
  int16_t i16() {
    if (at + 2 > data.size()) throw std::out_of_range("short request");
    const auto v = static_cast<int16_t>((static_cast<uint8_t>(data[at]) << 8) |
                                        static_cast<uint8_t>(data[at + 1]));
    at += 2;
    return v;
  }
  int32_t i32() {
    const auto high = static_cast<uint16_t>(i16());
    const auto low = static_cast<uint16_t>(i16());
    return static_cast<int32_t>((static_cast<uint32_t>(high) << 16) | low);
  }
  std::string bytes(size_t n) {
    if (at + n > data.size()) throw std::out_of_range("short request");
    std::string out = data.substr(at, n);
    at += n;
    return out;
  }
  std::string string16() {
    const int16_t n = i16();
    return n < 0 ? "" : bytes(static_cast<size_t>(n));
  }
};

struct Writer {
  std::string out;
  void i16(int16_t v) {
    out += static_cast<char>((v >> 8) & 0xFF);
    out += static_cast<char>(v & 0xFF);
  }
  void i32(int32_t v) {
    i16(static_cast<int16_t>(v >> 16));
    i16(static_cast<int16_t>(v & 0xFFFF));
  }
  void i64(int64_t v) {
    i32(static_cast<int32_t>(v >> 32));
    i32(static_cast<int32_t>(v & 0xFFFFFFFF));
  }
  void uvarint(uint32_t v) {
    while (v >= 0x80) {
      out += static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    out += static_cast<char>(v);
  }
  void string16(const std::string& s) {
    i16(static_cast<int16_t>(s.size()));
    out += s;
  }
};

bool sendFrame(int fd, int32_t correlation_id, const std::string& body) {
  Writer frame;
  frame.i32(static_cast<int32_t>(4 + body.size()));
  frame.i32(correlation_id);
  frame.out += body;
  return ::send(fd, frame.out.data(), frame.out.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(frame.out.size());
}

// ApiVersions response in the version asked for (v3+ flexible body; header always v0).
std::string apiVersionsBody(int16_t version) {
  const int16_t apis[][3] = {
      {kApiVersions, 0, 3}, {kSaslHandshake, 0, 1}, {kSaslAuthenticate, 0, 1}, {3, 0, 4}};
  Writer w;
  w.i16(0);
  if (version >= 3) {
    w.uvarint(static_cast<uint32_t>(std::size(apis) + 1));
  } else {
    w.i32(static_cast<int32_t>(std::size(apis)));
  }
  for (const auto& api : apis) {
    w.i16(api[0]);
    w.i16(api[1]);
    w.i16(api[2]);
    if (version >= 3) w.uvarint(0);
  }
  if (version >= 1) w.i32(0);  // throttle_time_ms
  if (version >= 3) w.uvarint(0);
  return w.out;
}

}  // namespace

SaslCaptureBroker::SaslCaptureBroker() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("SaslCaptureBroker: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { acceptLoop(); });
}

SaslCaptureBroker::~SaslCaptureBroker() {
  stopping_.store(true);
  thread_.join();
  ::close(listen_fd_);
}

std::string SaslCaptureBroker::bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> SaslCaptureBroker::waitForAuthentications(
    size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return auth_bytes_.size() >= count; });
  return auth_bytes_;
}

std::vector<std::string> SaslCaptureBroker::mechanisms() const {
  std::lock_guard lock(mutex_);
  return mechanisms_;
}

// One connection at a time: librdkafka's clients here talk to their one bootstrap broker.
void SaslCaptureBroker::acceptLoop() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    try {
      serve(fd);
    } catch (const std::exception&) {
      // a malformed request ends the connection; the test asserts on what was captured
    }
    ::close(fd);
  }
}

void SaslCaptureBroker::serve(int fd) {
  for (;;) {
    char size_bytes[4];
    if (!readFull(fd, size_bytes, 4, stopping_)) return;
    const std::string size_text(size_bytes, 4);
    Reader size_reader{size_text};
    const int32_t size = size_reader.i32();
    if (size <= 0 || size > (1 << 20)) return;
    std::string request(static_cast<size_t>(size), '\0');
    if (!readFull(fd, request.data(), request.size(), stopping_)) return;
    Reader r{request};
    const int16_t api_key = r.i16();
    const int16_t version = r.i16();
    const int32_t correlation_id = r.i32();
    r.string16();  // client_id
    if (api_key == kApiVersions) {
      if (!sendFrame(fd, correlation_id, apiVersionsBody(version))) return;
    } else if (api_key == kSaslHandshake) {
      const std::string mechanism = r.string16();
      {
        std::lock_guard lock(mutex_);
        mechanisms_.push_back(mechanism);
      }
      Writer w;
      w.i16(mechanism == "OAUTHBEARER" ? 0 : 33);
      w.i32(1);
      w.string16("OAUTHBEARER");
      if (!sendFrame(fd, correlation_id, w.out)) return;
    } else if (api_key == kSaslAuthenticate && version <= 1) {
      const int32_t length = r.i32();
      std::string auth = r.bytes(static_cast<size_t>(length));
      {
        std::lock_guard lock(mutex_);
        auth_bytes_.push_back(std::move(auth));
      }
      changed_.notify_all();
      Writer w;
      w.i16(0);
      w.i16(-1);  // error_message: null
      w.i32(0);   // auth_bytes: empty = success (RFC 7628)
      if (version >= 1) w.i64(0);
      if (!sendFrame(fd, correlation_id, w.out)) return;
    } else {
      return;  // not a broker: the client sees the connection close and retries
    }
  }
}

}  // namespace dataflow::testing
