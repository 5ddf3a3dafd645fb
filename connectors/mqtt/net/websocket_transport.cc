// The WebSocket layer of transport.h (RFC 6455, MQTT v5 chapter 6) over TCP or TLS: the client's
// upgrade with subprotocol "mqtt", masked binary frames out, and in, binary and continuation frames
// read as one byte stream (an MQTT packet may span frames and a frame may hold several packets:
// MQTT-6.0.0-2), pings answered, a close answered and reported as Closed.
//
// Output is kept in `out_` as whole frames only, so a frame is always finished before another
// (a pong, a close) follows it; write() takes new bytes only when `out_` is empty, which bounds it
// to one data frame (kMaxWriteFrame) plus control frames.
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "connectors/mqtt/net/transport_stack.h"
#include "engine/core/base64.h"

namespace dataflow::mqtt::net {

namespace {

constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// The payload of one frame write() makes: small enough to buffer, big enough to be cheap.
constexpr size_t kMaxWriteFrame = 16 * 1024;
// A frame header announcing more than this is refused rather than trusted: MQTT's largest packet
// is 256 MiB plus its fixed header. (Payloads are streamed, not buffered whole, but a length this
// large means the peer is not speaking MQTT.)
constexpr uint64_t kMaxReadFrame = (uint64_t{256} << 20) + 16;
// A 101 response's headers are a few hundred bytes; more is not a WebSocket server.
constexpr size_t kMaxResponseHeader = 16 * 1024;
constexpr size_t kReadChunk = 16 * 1024;

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string acceptFor(const std::string& key) {
  const std::string input = key + std::string(kAcceptGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return encodeBase64(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

class WebSocketTransport final : public Transport {
 public:
  WebSocketTransport(std::unique_ptr<Transport> inner, const Target& target, std::string address)
      : inner_(std::move(inner)),
        host_(target.authority()),
        path_(target.path.empty() ? "/mqtt" : target.path),
        address_(std::move(address)),
        kind_(std::string_view(inner_->kind()) == "TLS" ? "WebSockets over TLS" : "WebSockets") {}

  int fd() const override { return inner_->fd(); }
  const char* kind() const override { return kind_; }
  bool hasPendingOutput() const override { return !out_.empty() || inner_->hasPendingOutput(); }

  IoResult handshake() override {
    if (!error_.empty()) return {IoResult::State::Error, 0, error_};
    if (phase_ == Phase::Inner) {
      IoResult r = inner_->handshake();
      if (r.state != IoResult::State::Done) return r;
      unsigned char nonce[16];
      if (RAND_bytes(nonce, sizeof nonce) != 1) return fail("no random bytes for the key");
      key_ = encodeBase64(std::string_view(reinterpret_cast<const char*>(nonce), sizeof nonce));
      out_ = "GET " + path_ + " HTTP/1.1\r\nHost: " + host_ +
             "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_ +
             "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
      phase_ = Phase::SendRequest;
    }
    if (phase_ == Phase::SendRequest) {
      IoResult r = flush();
      if (r.state == IoResult::State::Closed) return fail("the server closed the connection");
      if (r.state != IoResult::State::Done) return r;
      phase_ = Phase::ReadResponse;
    }
    if (phase_ == Phase::ReadResponse) {
      for (;;) {
        const size_t end = response_.find("\r\n\r\n");
        if (end != std::string::npos) {
          in_.assign(response_, end + 4);  // frames the server sent right after its response
          response_.resize(end + 2);
          IoResult r = checkResponse();
          if (r.state == IoResult::State::Done) phase_ = Phase::Open;
          return r;
        }
        if (response_.size() > kMaxResponseHeader) {
          return fail("the server's HTTP response has no end of its headers");
        }
        char chunk[4096];
        IoResult r = inner_->read(chunk, sizeof chunk);
        if (r.state == IoResult::State::Closed) {
          return fail("the server closed the connection before its HTTP response");
        }
        if (r.state != IoResult::State::Done) return r;
        response_.append(chunk, r.bytes);
      }
    }
    return {};
  }

  IoResult read(char* data, size_t size) override {
    if (!error_.empty()) return {IoResult::State::Error, 0, error_};
    if (closed_) return {IoResult::State::Closed, 0, ""};
    if (size == 0) return {};
    for (;;) {
      if (frame_remaining_ > 0) {
        const size_t buffered = in_.size() - in_pos_;
        const size_t wanted =
            static_cast<size_t>(std::min<uint64_t>(frame_remaining_, static_cast<uint64_t>(size)));
        if (buffered > 0) {
          const size_t n = std::min(wanted, buffered);
          std::memcpy(data, in_.data() + in_pos_, n);
          consume(n);
          frame_remaining_ -= n;
          return {IoResult::State::Done, n, ""};
        }
        // Nothing buffered: the payload goes straight into the caller's buffer.
        IoResult r = inner_->read(data, wanted);
        if (r.state == IoResult::State::Done) frame_remaining_ -= r.bytes;
        return r;
      }
      IoResult r = nextFrame();
      if (r.state == IoResult::State::Done) continue;  // a data frame started, or a control frame
      if (r.state != IoResult::State::WantRead) return r;
      r = readMore();
      if (r.state != IoResult::State::Done) return r;
    }
  }

  IoResult write(std::string_view data) override {
    if (!error_.empty()) return {IoResult::State::Error, 0, error_};
    IoResult r = flush();
    if (r.state != IoResult::State::Done) return r;
    if (data.empty()) return {};
    if (close_sent_) return {IoResult::State::Closed, 0, ""};
    const std::string_view payload = data.substr(0, kMaxWriteFrame);
    if (!appendFrame(kBinary, payload)) return fail("no random bytes for a frame mask");
    r = flush();
    if (r.state == IoResult::State::Error || r.state == IoResult::State::Closed) return r;
    return {IoResult::State::Done, payload.size(), ""};
  }

  void shutdown() override {
    if (phase_ == Phase::Open && !close_sent_ && error_.empty()) {
      close_sent_ = true;
      if (appendFrame(kClose, std::string_view("\x03\xe8", 2))) flush();  // 1000: normal closure
    }
    inner_->shutdown();
  }

 private:
  enum class Phase { Inner, SendRequest, ReadResponse, Open };

  IoResult fail(const std::string& why) {
    error_ = "WebSocket connection to " + address_ + " failed: " + why;
    return {IoResult::State::Error, 0, error_};
  }

  IoResult refused(const std::string& why) {
    error_ = "WebSocket upgrade refused: " + why + " (GET " + path_ + " on " + address_ + ")";
    return {IoResult::State::Error, 0, error_};
  }

  IoResult checkResponse() {
    const size_t line_end = response_.find("\r\n");
    const std::string status_line = response_.substr(0, line_end);
    // "HTTP/1.1 404 Not Found" -> "HTTP 404 Not Found"
    const size_t space = status_line.find(' ');
    const std::string status = space == std::string::npos ? "" : status_line.substr(space + 1);
    if (status_line.rfind("HTTP/", 0) != 0 || status.empty()) {
      return refused("not an HTTP response: " + status_line.substr(0, 80));
    }
    if (status.rfind("101", 0) != 0 || (status.size() > 3 && status[3] != ' ')) {
      return refused("HTTP " + status);
    }
    std::string upgrade, connection, accept, protocol;
    size_t at = line_end + 2;
    while (at < response_.size()) {
      const size_t end = response_.find("\r\n", at);
      const std::string_view line(response_.data() + at, end - at);
      at = end + 2;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string name = lower(trim(line.substr(0, colon)));
      const std::string_view value = trim(line.substr(colon + 1));
      if (name == "upgrade") upgrade = lower(value);
      if (name == "connection") connection = lower(value);
      if (name == "sec-websocket-accept") accept = std::string(value);
      if (name == "sec-websocket-protocol") protocol = std::string(value);
    }
    if (upgrade != "websocket" || connection.find("upgrade") == std::string::npos) {
      return refused("HTTP 101 without Upgrade: websocket and Connection: Upgrade");
    }
    if (accept != acceptFor(key_)) return refused("wrong Sec-WebSocket-Accept");
    if (protocol != "mqtt") {
      return refused("the server did not agree to the subprotocol mqtt" +
                     (protocol.empty() ? std::string() : " (it chose \"" + protocol + "\")"));
    }
    response_.clear();
    response_.shrink_to_fit();
    return {};
  }

  // Decodes the frame header at in_pos_. Done: a data frame's payload follows (frame_remaining_)
  // or a control frame was handled; WantRead: more bytes needed; Closed or Error.
  IoResult nextFrame() {
    const size_t available = in_.size() - in_pos_;
    if (available < 2) return {IoResult::State::WantRead, 0, ""};
    const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + in_pos_);
    const bool fin = (p[0] & 0x80) != 0;
    const uint8_t opcode = p[0] & 0x0F;
    if ((p[0] & 0x70) != 0) return fail("a frame with reserved bits set (no extension agreed)");
    if ((p[1] & 0x80) != 0) return fail("the server sent a masked frame (RFC 6455 5.1)");
    size_t header = 2;
    uint64_t length = p[1] & 0x7F;
    if (length == 126) {
      header = 4;
      if (available < header) return {IoResult::State::WantRead, 0, ""};
      length = uint64_t{p[2]} << 8 | p[3];
    } else if (length == 127) {
      header = 10;
      if (available < header) return {IoResult::State::WantRead, 0, ""};
      length = 0;
      for (int i = 2; i < 10; ++i) length = length << 8 | p[i];
    }
    if (length > kMaxReadFrame) {
      return fail("a frame of " + std::to_string(length) + " bytes, larger than any MQTT packet");
    }
    switch (opcode) {
      case kContinuation:
      case kBinary:
        if ((opcode == kContinuation) != fragmented_) {
          return fail(fragmented_ ? "a new message inside a fragmented one"
                                  : "a continuation frame with no message to continue");
        }
        fragmented_ = !fin;
        consume(header);
        frame_remaining_ = length;
        return {};
      case kText:
        return fail("the server sent a text frame; MQTT over WebSockets is binary (MQTT-6.0.0-1)");
      case kClose:
      case kPing:
      case kPong: {
        if (!fin || length > 125) return fail("a fragmented or oversized control frame");
        if (available < header + length) return {IoResult::State::WantRead, 0, ""};
        const std::string payload(in_.data() + in_pos_ + header, static_cast<size_t>(length));
        consume(header + static_cast<size_t>(length));
        if (opcode == kPong) return {};
        if (opcode == kPing) {
          if (!close_sent_) {
            if (!appendFrame(kPong, payload)) return fail("no random bytes for a frame mask");
            IoResult r = flush();  // best effort: hasPendingOutput() tells the loop the rest
            if (r.state == IoResult::State::Error) return r;
          }
          return {};
        }
        closed_ = true;
        if (!close_sent_) {
          close_sent_ = true;
          // Echo the status code, as RFC 6455 5.5.1 asks.
          if (appendFrame(kClose, std::string_view(payload).substr(0, 2))) flush();
        }
        return {IoResult::State::Closed, 0, ""};
      }
      default:
        return fail("a frame with the unknown opcode " + std::to_string(opcode));
    }
  }

  IoResult readMore() {
    if (in_pos_ > 0) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
    const size_t before = in_.size();
    in_.resize(before + kReadChunk);
    IoResult r = inner_->read(in_.data() + before, kReadChunk);
    in_.resize(before + (r.state == IoResult::State::Done ? r.bytes : 0));
    return r;
  }

  void consume(size_t n) {
    in_pos_ += n;
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
  }

  // One masked frame (client frames are always masked: RFC 6455 5.3) appended to out_.
  bool appendFrame(uint8_t opcode, std::string_view payload) {
    unsigned char mask[4];
    if (RAND_bytes(mask, sizeof mask) != 1) return false;
    out_ += static_cast<char>(0x80 | opcode);
    const uint64_t length = payload.size();
    if (length < 126) {
      out_ += static_cast<char>(0x80 | length);
    } else if (length <= 0xFFFF) {
      out_ += static_cast<char>(0x80 | 126);
      out_ += static_cast<char>(length >> 8);
      out_ += static_cast<char>(length & 0xFF);
    } else {
      out_ += static_cast<char>(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        out_ += static_cast<char>((length >> shift) & 0xFF);
      }
    }
    out_.append(reinterpret_cast<const char*>(mask), sizeof mask);
    const size_t start = out_.size();
    out_.append(payload);
    for (size_t i = 0; i < payload.size(); ++i) out_[start + i] ^= static_cast<char>(mask[i % 4]);
    return true;
  }

  // Writes out_ and the inner transport's own buffer. Done when both are empty.
  IoResult flush() {
    while (!out_.empty()) {
      IoResult r = inner_->write(out_);
      if (r.state != IoResult::State::Done) return r;
      if (r.bytes == 0) return {IoResult::State::WantWrite, 0, ""};
      out_.erase(0, r.bytes);
    }
    while (inner_->hasPendingOutput()) {
      IoResult r = inner_->write("");
      if (r.state != IoResult::State::Done) return r;
    }
    return {};
  }

  std::unique_ptr<Transport> inner_;
  std::string host_;  // the Host header: authority of the target
  std::string path_;
  std::string address_;
  const char* kind_;
  Phase phase_ = Phase::Inner;
  std::string key_;
  std::string response_;
  std::string error_;  // once set, every call returns it
  std::string in_;     // received bytes not yet decoded, from in_pos_
  size_t in_pos_ = 0;
  uint64_t frame_remaining_ = 0;  // payload bytes of the current data frame not yet read
  bool fragmented_ = false;       // a data message has begun and its FIN frame not yet come
  bool closed_ = false;           // the server's close frame was read
  bool close_sent_ = false;
  std::string out_;  // whole frames (or the upgrade request) not yet written
};

}  // namespace

std::unique_ptr<Transport> makeWebSocketTransport(std::unique_ptr<Transport> inner,
                                                  const Target& target, std::string address) {
  return std::make_unique<WebSocketTransport>(std::move(inner), target, std::move(address));
}

}  // namespace dataflow::mqtt::net
