#include "engine/spool/spool_record.h"

#include <cstdint>
#include <optional>

namespace dataflow::spool {

namespace {

constexpr uint8_t kVersion = 1;

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void putSigned(std::string& out, int64_t v) {
  putVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
void putBytes(std::string& out, std::string_view s) {
  putVarint(out, s.size());
  out.append(s);
}
template <class T, class Put>
void putOptional(std::string& out, const std::optional<T>& v, Put put) {
  out.push_back(v ? 1 : 0);
  if (v) put(*v);
}

// Reads through the record; any failure latches `ok` false and every later read gives zeros.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool atEnd() const { return data_.empty(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (data_.empty()) return fail();
      const auto byte = static_cast<uint8_t>(data_.front());
      data_.remove_prefix(1);
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return v;
    }
    return fail();
  }
  int64_t signedVarint() {
    const uint64_t v = varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  std::string bytes() {
    const uint64_t n = varint();
    if (n > data_.size()) {
      fail();
      return {};
    }
    std::string out(data_.substr(0, n));
    data_.remove_prefix(n);
    return out;
  }
  uint8_t byte() {
    if (data_.empty()) return static_cast<uint8_t>(fail());
    const auto b = static_cast<uint8_t>(data_.front());
    data_.remove_prefix(1);
    return b;
  }
  bool present() {
    const uint8_t b = byte();
    if (b > 1) fail();
    return b == 1;
  }

 private:
  uint64_t fail() {
    ok_ = false;
    data_ = {};
    return 0;
  }
  std::string_view data_;
  bool ok_ = true;
};

int64_t toWallMs(std::chrono::steady_clock::time_point t, const Clock& clock) {
  return clock.wallNowMs() +
         std::chrono::duration_cast<std::chrono::milliseconds>(t - clock.steadyNow()).count();
}
std::chrono::steady_clock::time_point toSteady(int64_t wall_ms, const Clock& clock) {
  return clock.steadyNow() + std::chrono::milliseconds(wall_ms - clock.wallNowMs());
}

}  // namespace

void encodeRecord(const Message& m, const Clock& clock, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  putBytes(out, m.topic);
  putBytes(out, m.payload);
  putOptional(out, m.key, [&](const std::string& k) { putBytes(out, k); });
  putOptional(out, m.partition, [&](int32_t p) { putSigned(out, p); });
  putSigned(out, m.timestamp_ms);
  putSigned(out, toWallMs(m.received_at, clock));
  putOptional(out, m.expires_at,
              [&](std::chrono::steady_clock::time_point t) { putSigned(out, toWallMs(t, clock)); });
  putOptional(out, m.mqtt.payload_format_indicator,
              [&](uint8_t v) { out.push_back(static_cast<char>(v)); });
  putOptional(out, m.mqtt.message_expiry_interval, [&](uint32_t v) { putVarint(out, v); });
  putOptional(out, m.mqtt.content_type, [&](const std::string& v) { putBytes(out, v); });
  putOptional(out, m.mqtt.response_topic, [&](const std::string& v) { putBytes(out, v); });
  putOptional(out, m.mqtt.correlation_data, [&](const std::string& v) { putBytes(out, v); });
  putVarint(out, m.properties.size());
  for (const Property& p : m.properties) {
    putBytes(out, p.name);
    putBytes(out, p.value);
  }
  out.push_back(static_cast<char>(m.qos));
  out.push_back(m.retain ? 1 : 0);
}

Result<StoredRecord> decodeStoredRecord(std::string_view record) {
  Reader r(record);
  const uint8_t version = r.byte();
  if (r.ok() && version != kVersion) {
    return Status::fatal("spool record of unknown version " + std::to_string(version));
  }
  StoredRecord stored;
  Message& m = stored.message;
  m.topic = r.bytes();
  m.payload = r.bytes();
  if (r.present()) m.key = r.bytes();
  if (r.present()) m.partition = static_cast<int32_t>(r.signedVarint());
  m.timestamp_ms = r.signedVarint();
  stored.received_ms = r.signedVarint();
  if (r.present()) stored.expires_ms = r.signedVarint();
  if (r.present()) m.mqtt.payload_format_indicator = r.byte();
  if (r.present()) m.mqtt.message_expiry_interval = static_cast<uint32_t>(r.varint());
  if (r.present()) m.mqtt.content_type = r.bytes();
  if (r.present()) m.mqtt.response_topic = r.bytes();
  if (r.present()) m.mqtt.correlation_data = r.bytes();
  const uint64_t count = r.varint();
  // Each property takes at least two bytes: a count beyond that is corruption, not a reserve.
  if (count > record.size() / 2) {
    return Status::fatal("spool record with an impossible property count");
  }
  m.properties.reserve(count);
  for (uint64_t i = 0; i < count && r.ok(); ++i) {
    Property p;
    p.name = r.bytes();
    p.value = r.bytes();
    m.properties.push_back(std::move(p));
  }
  m.qos = r.byte();
  m.retain = r.present();
  if (!r.ok()) return Status::fatal("spool record cut short or malformed");
  if (!r.atEnd()) return Status::fatal("spool record with bytes after its end");
  if (m.qos > 2) return Status::fatal("spool record with QoS " + std::to_string(m.qos));
  return stored;
}

Result<Message> decodeRecord(std::string_view record, const Clock& clock) {
  Result<StoredRecord> stored = decodeStoredRecord(record);
  if (!stored.isOk()) return stored.status();
  Message m = std::move(stored.value().message);
  m.received_at = toSteady(stored.value().received_ms, clock);
  if (stored.value().expires_ms) m.expires_at = toSteady(*stored.value().expires_ms, clock);
  return m;
}

}  // namespace dataflow::spool
