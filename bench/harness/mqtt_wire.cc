#include "bench/harness/mqtt_wire.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace dataflow::bench {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kFlushThreshold = 64 * 1024;
constexpr size_t kReadChunk = 64 * 1024;
constexpr uint32_t kMaxRemainingLength = 268'435'455;
constexpr std::chrono::seconds kSubackTimeout{5};
constexpr std::chrono::seconds kCloseTimeout{2};

enum class Decode { Ok, NeedMore, Malformed };

// MQTT Variable Byte Integer (1..4 bytes, 7 bits each, least significant group first).
Decode decodeVarInt(const uint8_t* p, size_t available, uint32_t& value, size_t& used) {
  value = 0;
  used = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (i >= available) return Decode::NeedMore;
    value |= static_cast<uint32_t>(p[i] & 0x7F) << (7 * i);
    if ((p[i] & 0x80) == 0) {
      used = i + 1;
      return Decode::Ok;
    }
  }
  return Decode::Malformed;
}

size_t varIntSize(uint32_t value) {
  return value < 128 ? 1 : value < 16'384 ? 2 : value < 2'097'152 ? 3 : 4;
}

void appendVarInt(std::string& out, uint32_t value) {
  do {
    uint8_t byte = value & 0x7F;
    value >>= 7;
    out.push_back(static_cast<char>(value > 0 ? byte | 0x80 : byte));
  } while (value > 0);
}

void appendU16(std::string& out, uint16_t value) {
  const char bytes[2] = {static_cast<char>(value >> 8), static_cast<char>(value & 0xFF)};
  out.append(bytes, 2);
}

void appendString(std::string& out, std::string_view s) {
  appendU16(out, static_cast<uint16_t>(s.size()));
  out.append(s);
}

int64_t nowNanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

uint16_t readU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

std::string hex(uint8_t code) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", code);
  return text;
}

void checkLength(std::string_view what, size_t size) {
  if (size > 0xFFFF) throw std::invalid_argument(std::string(what) + " longer than 65535 bytes");
}

// Splits off the packet at the front of [p, p + available): the fixed header's size and the
// Remaining Length.
Decode frame(const uint8_t* p, size_t available, size_t& header, uint32_t& length) {
  if (available < 2) return Decode::NeedMore;
  const Decode state = decodeVarInt(p + 1, available - 1, length, header);
  header += 1;
  return state;
}

// The value type of each MQTT v5 property, indexed by id (section 2.2.2.2): '1', '2', '4' a
// big-endian integer of that size, 'v' a Variable Byte Integer, 's' a string or binary data, 'p'
// a string pair, '-' unknown (its length cannot be known, so the packet cannot be read).
constexpr std::string_view kPropertyTypes = "-14s----ss-v-----4s2-ss141s-s--s-22211p4111";

// Reads one property at `p`; integer-valued ones into `value`. False when malformed or unknown.
bool readProperty(const uint8_t*& p, const uint8_t* end, uint8_t& id, uint32_t& value) {
  if (p >= end) return false;
  id = *p++;
  const size_t left = static_cast<size_t>(end - p);
  const char type = id < kPropertyTypes.size() ? kPropertyTypes[id] : '-';
  size_t size = 0;
  value = 0;
  if (type == '1' || type == '2' || type == '4') {
    size = static_cast<size_t>(type - '0');
    if (left < size) return false;
    for (size_t i = 0; i < size; ++i) value = value << 8 | p[i];
  } else if (type == 'v') {
    if (decodeVarInt(p, left, value, size) != Decode::Ok) return false;
  } else if (type == 's' || type == 'p') {
    for (int strings = type == 's' ? 1 : 2; strings > 0; --strings) {
      if (left - size < 2 || left - size - 2 < readU16(p + size)) return false;
      size += 2 + readU16(p + size);
    }
  } else {
    return false;
  }
  p += size;
  return true;
}

// Sets SO_SNDTIMEO or SO_RCVTIMEO (`option`); zero means no timeout.
void setTimeout(int fd, int option, std::chrono::microseconds timeout) {
  const timeval value{static_cast<time_t>(timeout.count() / 1'000'000),
                      static_cast<suseconds_t>(timeout.count() % 1'000'000)};
  ::setsockopt(fd, SOL_SOCKET, option, &value, sizeof value);
}

std::chrono::microseconds timeLeft(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::microseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::microseconds(1));
}

// A connected blocking TCP socket with TCP_NODELAY (and SO_SNDTIMEO still set); throws
// std::runtime_error.
int connectTcp(const std::string& host, int port, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string where = host + ":" + std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    throw std::runtime_error("cannot resolve " + where + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  std::string error = "no address";
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      setTimeout(fd, SO_SNDTIMEO, timeLeft(deadline));  // bounds a blocking connect() on Linux
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
      }
    }
    error = errno == EINPROGRESS ? "timed out" : std::strerror(errno);
    if (fd >= 0) ::close(fd);
  }
  throw std::runtime_error("cannot connect to " + where + ": " + error);
}

}  // namespace

MqttWireClient::MqttWireClient(WireOptions options)
    : options_(std::move(options)), in_flight_ids_(65536, false), read_buffer_(kReadChunk) {
  if (options_.client_id.empty()) throw std::invalid_argument("MqttWireClient: empty client_id");
  if (options_.receive_maximum == 0) throw std::invalid_argument("receive_maximum must be > 0");
  checkLength("client_id", options_.client_id.size());
  write_buffer_.reserve(2 * kFlushThreshold);
  const Clock::time_point deadline = Clock::now() + options_.connect_timeout;
  fd_ = connectTcp(options_.host, options_.port, deadline);
  try {
    handshake(deadline);
  } catch (...) {
    ::close(fd_);
    throw;
  }
  connected_ = true;
  reader_ = std::thread([this] { readLoop(); });
}

// CONNECT, then the CONNACK read on the constructing thread (the reader thread starts after it).
void MqttWireClient::handshake(Clock::time_point deadline) {
  std::string& out = write_buffer_;
  const std::string_view protocol("\x00\x04MQTT\x05\x02\x00\x3C", 10);  // v5, Clean Start, 60 s
  const uint32_t properties = 3 + 5;  // Receive Maximum, Session Expiry Interval 0
  out.push_back(0x10);
  appendVarInt(
      out, static_cast<uint32_t>(protocol.size() + 1 + properties + 2 + options_.client_id.size()));
  out.append(protocol);
  appendVarInt(out, properties);
  out.push_back(0x21);
  appendU16(out, options_.receive_maximum);
  out.append("\x11\x00\x00\x00\x00", 5);
  appendString(out, options_.client_id);
  writeBufferedLocked();
  if (!error_.empty()) throw std::runtime_error("cannot send CONNECT: " + error_);

  size_t header = 0;
  uint32_t length = 0;
  Decode state;
  while ((state = frame(read_buffer_.data(), read_end_, header, length)) == Decode::NeedMore ||
         (state == Decode::Ok && read_end_ < header + length)) {
    if (state == Decode::Ok && header + length > read_buffer_.size())
      throw std::runtime_error("CONNACK larger than 64 KiB");
    setTimeout(fd_, SO_RCVTIMEO, timeLeft(deadline));
    const ssize_t n = ::recv(fd_, &read_buffer_[read_end_], read_buffer_.size() - read_end_, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw std::runtime_error(n == 0            ? "connection closed before CONNACK"
                               : errno == EAGAIN ? "no CONNACK within the connect timeout"
                                                 : std::string("read: ") + std::strerror(errno));
    }
    read_end_ += static_cast<size_t>(n);
  }
  const uint8_t* body = &read_buffer_[header];
  if (state != Decode::Ok || read_buffer_[0] != 0x20 || length < 2)
    throw std::runtime_error("expected CONNACK, got a malformed packet");
  if (body[1] != 0) throw std::runtime_error("CONNACK refused with reason code " + hex(body[1]));
  uint32_t size = 0;
  size_t used = 0;
  if (length > 2 &&
      (decodeVarInt(body + 2, length - 2, size, used) != Decode::Ok || size > length - 2 - used))
    throw std::runtime_error("malformed CONNACK properties");
  for (const uint8_t *p = body + 2 + used, *end = p + size; p < end;) {
    uint8_t id = 0;
    uint32_t value = 0;
    if (!readProperty(p, end, id, value)) throw std::runtime_error("malformed CONNACK property");
    if (id == 0x21) server_receive_maximum_ = static_cast<uint16_t>(value);
    if (id == 0x13) keep_alive_seconds_ = static_cast<uint16_t>(value);
  }
  read_begin_ = header + length;
  setTimeout(fd_, SO_SNDTIMEO, {});  // blocking from here on: publish() waits for the broker
  setTimeout(fd_, SO_RCVTIMEO, {});
}

MqttWireClient::~MqttWireClient() {
  if (connected_) {
    setTimeout(fd_, SO_SNDTIMEO, kCloseTimeout);  // a frozen broker must not block us forever
    std::lock_guard lock(write_mutex_);
    write_buffer_.append("\xE0\x00", 2);  // DISCONNECT, reason 0x00 (normal)
    writeBufferedLocked();
  }
  ::shutdown(fd_, SHUT_WR);
  {
    std::unique_lock lock(state_mutex_);  // the broker closes after our DISCONNECT
    state_cv_.wait_for(lock, kCloseTimeout, [&] { return reader_done_; });
  }
  ::shutdown(fd_, SHUT_RDWR);
  reader_.join();
  ::close(fd_);
}

uint16_t MqttWireClient::serverReceiveMaximum() const { return server_receive_maximum_; }
void MqttWireClient::onMessage(MessageHandler handler) { handler_ = std::move(handler); }
void MqttWireClient::setMaxInflight(uint32_t max_inflight) { max_inflight_ = max_inflight; }
uint64_t MqttWireClient::published() const { return published_; }
uint64_t MqttWireClient::acked() const { return acked_; }
uint64_t MqttWireClient::failedAcks() const { return failed_acks_; }
uint64_t MqttWireClient::received() const { return received_; }
bool MqttWireClient::connected() const { return connected_; }

std::string MqttWireClient::lastError() const {
  std::lock_guard lock(state_mutex_);
  return error_;
}

uint32_t MqttWireClient::inflightLimit() const {
  const uint32_t chosen = max_inflight_;
  const uint32_t limit =
      chosen == 0 ? server_receive_maximum_ : std::min<uint32_t>(chosen, server_receive_maximum_);
  return std::max<uint32_t>(limit, 1);
}

uint16_t MqttWireClient::reservePacketId(bool for_publish) {
  std::unique_lock lock(state_mutex_);
  auto room = [&] { return !connected_ || qos1_published_ - acked_ < inflightLimit(); };
  if (for_publish && !room()) {
    lock.unlock();
    flush();  // the PUBACKs we wait for may depend on what is still buffered
    lock.lock();
    state_cv_.wait(lock, room);
  }
  if (!connected_) return 0;
  for (int tries = 0; tries < 65535; ++tries) {
    next_packet_id_ = next_packet_id_ == 65535 ? 1 : next_packet_id_ + 1;
    if (in_flight_ids_[next_packet_id_]) continue;
    in_flight_ids_[next_packet_id_] = true;
    if (for_publish) ++qos1_published_;
    return next_packet_id_;
  }
  throw std::runtime_error("no free MQTT packet id");
}

void MqttWireClient::subscribe(const std::string& filter, int qos) {
  if (qos != 0 && qos != 1) throw std::invalid_argument("subscribe: QoS must be 0 or 1");
  checkLength("topic filter", filter.size());
  const uint16_t id = reservePacketId(false);
  if (id == 0) throw std::runtime_error("subscribe: not connected: " + lastError());
  {
    std::lock_guard lock(state_mutex_);
    suback_id_ = id;
    suback_code_.reset();
  }
  {
    std::lock_guard lock(write_mutex_);
    write_buffer_.push_back(static_cast<char>(0x82));
    appendVarInt(write_buffer_, static_cast<uint32_t>(2 + 1 + 2 + filter.size() + 1));
    appendU16(write_buffer_, id);
    write_buffer_.push_back(0);  // no properties
    appendString(write_buffer_, filter);
    write_buffer_.push_back(static_cast<char>(qos));  // No Local 0, Retain As Published 0
    writeBufferedLocked();
  }
  std::unique_lock lock(state_mutex_);
  state_cv_.wait_for(lock, kSubackTimeout, [&] { return suback_code_ || !connected_; });
  in_flight_ids_[id] = false;
  suback_id_ = 0;
  if (!suback_code_) {
    throw std::runtime_error("subscribe " + filter + ": " +
                             (connected_ ? "no SUBACK within 5 s" : "connection lost: " + error_));
  }
  if (*suback_code_ >= 0x80)
    throw std::runtime_error("subscribe " + filter + ": SUBACK reason code " + hex(*suback_code_));
}

void MqttWireClient::publish(std::string_view topic, std::string_view payload, int qos,
                             const std::vector<UserProperty>& user_properties) {
  if (qos != 0 && qos != 1) throw std::invalid_argument("publish: QoS must be 0 or 1");
  checkLength("topic", topic.size());
  uint64_t properties = 0;
  for (const UserProperty& p : user_properties) {
    checkLength("user property", std::max(p.name.size(), p.value.size()));
    properties += 1 + 2 + p.name.size() + 2 + p.value.size();
  }
  const uint64_t remaining = 2 + topic.size() + (qos == 1 ? 2 : 0) +
                             varIntSize(static_cast<uint32_t>(properties)) + properties +
                             payload.size();
  if (remaining > kMaxRemainingLength) throw std::invalid_argument("PUBLISH larger than 256 MiB");
  if (!connected_) return;
  const uint16_t id = qos == 1 ? reservePacketId(true) : 0;
  if (qos == 1 && id == 0) return;

  std::lock_guard lock(write_mutex_);
  std::string& out = write_buffer_;
  out.push_back(static_cast<char>(0x30 | qos << 1));
  appendVarInt(out, static_cast<uint32_t>(remaining));
  appendString(out, topic);
  if (qos == 1) appendU16(out, id);
  appendVarInt(out, static_cast<uint32_t>(properties));
  for (const UserProperty& p : user_properties) {
    out.push_back(0x26);
    appendString(out, p.name);
    appendString(out, p.value);
  }
  out.append(payload);
  published_.fetch_add(1, std::memory_order_relaxed);
  if (out.size() > kFlushThreshold) writeBufferedLocked();
}

void MqttWireClient::flush() {
  std::lock_guard lock(write_mutex_);
  writeBufferedLocked();
}

void MqttWireClient::writeBufferedLocked() {
  size_t done = 0;
  while (done < write_buffer_.size()) {
    const ssize_t n =
        ::send(fd_, write_buffer_.data() + done, write_buffer_.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<size_t>(n);
    } else if (errno != EINTR) {
      fail(std::string("write failed: ") + std::strerror(errno));
      break;
    }
  }
  write_buffer_.clear();
  last_write_ns_.store(nowNanoseconds(), std::memory_order_relaxed);
}

bool MqttWireClient::waitAllAcked(std::chrono::milliseconds timeout) {
  flush();
  std::unique_lock lock(state_mutex_);
  auto all = [&] { return acked_ == qos1_published_; };
  state_cv_.wait_for(lock, timeout, [&] { return all() || !connected_; });
  return all();
}

void MqttWireClient::fail(const std::string& reason) {
  {
    std::lock_guard lock(state_mutex_);
    if (error_.empty()) error_ = reason;
    connected_ = false;
  }
  state_cv_.notify_all();
  ::shutdown(fd_, SHUT_RDWR);  // wakes the reader and any blocked writer
}

void MqttWireClient::readLoop() {
  try {
    while (connected_) {
      int timeout_ms = -1;
      if (keep_alive_seconds_ > 0) {
        const int64_t idle_ms =
            (nowNanoseconds() - last_write_ns_.load(std::memory_order_relaxed)) / 1'000'000;
        const int64_t ping_after_ms = keep_alive_seconds_ * 1000 / 2;
        if (idle_ms >= ping_after_ms) {
          std::lock_guard lock(write_mutex_);
          write_buffer_.append("\xC0\x00", 2);  // PINGREQ
          writeBufferedLocked();
          continue;
        }
        timeout_ms = static_cast<int>(ping_after_ms - idle_ms);
      }
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, timeout_ms);
      if (ready < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
      if (ready > 0 && (!readSome() || !parseBuffered())) break;
    }
  } catch (const std::exception& e) {
    fail(std::string("reader thread: ") + e.what());
  }
  {
    std::lock_guard lock(state_mutex_);
    reader_done_ = true;
  }
  state_cv_.notify_all();
}

bool MqttWireClient::readSome() {
  const ssize_t n =
      ::recv(fd_, read_buffer_.data() + read_end_, read_buffer_.size() - read_end_, 0);
  if (n > 0) {
    read_end_ += static_cast<size_t>(n);
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  fail(n == 0 ? "connection closed by the broker" : std::string("read: ") + std::strerror(errno));
  return false;
}

// Handles every complete packet in the read buffer, then moves the rest to its front and makes
// room for the whole of the next packet.
bool MqttWireClient::parseBuffered() {
  size_t needed = 0;
  for (;;) {
    const uint8_t* packet = read_buffer_.data() + read_begin_;
    size_t header = 0;
    uint32_t length = 0;
    const Decode state = frame(packet, read_end_ - read_begin_, header, length);
    if (state == Decode::Malformed) {
      fail("malformed Remaining Length from the broker");
      return false;
    }
    if (state == Decode::NeedMore || read_end_ - read_begin_ < header + length) {
      if (state == Decode::Ok) needed = header + length;
      break;
    }
    if (!handlePacket(packet[0], packet + header, length)) return false;
    read_begin_ += header + length;
  }
  std::memmove(read_buffer_.data(), read_buffer_.data() + read_begin_, read_end_ - read_begin_);
  read_end_ -= read_begin_;
  read_begin_ = 0;
  if (needed > read_buffer_.size()) read_buffer_.resize(needed);
  if (!ack_buffer_.empty()) {
    std::lock_guard lock(write_mutex_);
    write_buffer_.append(ack_buffer_);
    ack_buffer_.clear();
    writeBufferedLocked();
  }
  return connected_;
}

bool MqttWireClient::handlePacket(uint8_t header, const uint8_t* body, uint32_t length) {
  switch (header >> 4) {
    case 3:
      return handlePublish(header, body, length);
    case 4: {  // PUBACK: id, then an optional reason code (absent: success) and properties
      if (length < 2) break;
      {
        std::lock_guard lock(state_mutex_);
        const uint16_t id = readU16(body);
        if (!in_flight_ids_[id] || id == suback_id_) return true;  // not ours: ignored
        in_flight_ids_[id] = false;
        if (length > 2 && body[2] >= 0x80) ++failed_acks_;
        ++acked_;
      }
      state_cv_.notify_all();
      return true;
    }
    case 9: {  // SUBACK: id, properties, one reason code
      uint32_t size = 0;
      size_t used = 0;
      if (length < 3 || decodeVarInt(body + 2, length - 2, size, used) != Decode::Ok ||
          length < 2 + used + size + 1)
        break;
      {
        std::lock_guard lock(state_mutex_);
        if (readU16(body) == suback_id_) suback_code_ = body[2 + used + size];
      }
      state_cv_.notify_all();
      return true;
    }
    case 13:  // PINGRESP
      return true;
    case 14:
      fail("DISCONNECT from the broker, reason code " + hex(length > 0 ? body[0] : 0));
      return false;
  }
  fail("unexpected or malformed packet from the broker, first byte " + hex(header));
  return false;
}

bool MqttWireClient::handlePublish(uint8_t header, const uint8_t* body, uint32_t length) {
  const int qos = (header >> 1) & 3;
  size_t at = 2;
  if (qos > 1 || length < 2 || (at += readU16(body)) + (qos == 1 ? 2 : 0) > length) {
    fail("unexpected QoS or malformed PUBLISH from the broker");
    return false;
  }
  const std::string_view topic(reinterpret_cast<const char*>(body + 2), at - 2);
  const uint16_t id = qos == 1 ? readU16(body + at) : 0;
  at += qos == 1 ? 2 : 0;
  uint32_t properties = 0;
  size_t used = 0;
  if (decodeVarInt(body + at, length - at, properties, used) != Decode::Ok ||
      properties > length - at - used) {
    fail("malformed PUBLISH properties from the broker");
    return false;
  }
  at += used + properties;  // skipped: no property changes what we report
  if (handler_) handler_(topic, {reinterpret_cast<const char*>(body + at), length - at}, qos);
  received_.fetch_add(1, std::memory_order_relaxed);
  if (qos == 1) {
    const char puback[4] = {0x40, 0x02, static_cast<char>(id >> 8), static_cast<char>(id & 0xFF)};
    ack_buffer_.append(puback, 4);
  }
  return true;
}

}  // namespace dataflow::bench
