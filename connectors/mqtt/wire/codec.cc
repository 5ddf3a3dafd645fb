// MQTT v5 packet encoding and decoding (OASIS mqtt-v5.0-os, chapters 1-3). See codec.h for the
// contract. The encoder writes each packet body once through a template sink that either counts
// or appends, so encodedSize and encode cannot disagree. The decoder reads through a bounded
// cursor; every length is compared with the bytes left before anything is allocated.
#include "connectors/mqtt/wire/codec.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>

#include "engine/core/topic_names.h"
#include "engine/core/utf8.h"

namespace dataflow::mqtt::wire {

namespace {

// Property identifiers (MQTT v5 2.2.2.2, table 2-4).
namespace prop {
constexpr uint8_t kPayloadFormatIndicator = 0x01;
constexpr uint8_t kMessageExpiryInterval = 0x02;
constexpr uint8_t kContentType = 0x03;
constexpr uint8_t kResponseTopic = 0x08;
constexpr uint8_t kCorrelationData = 0x09;
constexpr uint8_t kSubscriptionIdentifier = 0x0B;
constexpr uint8_t kSessionExpiryInterval = 0x11;
constexpr uint8_t kAssignedClientIdentifier = 0x12;
constexpr uint8_t kServerKeepAlive = 0x13;
constexpr uint8_t kAuthenticationMethod = 0x15;
constexpr uint8_t kAuthenticationData = 0x16;
constexpr uint8_t kRequestProblemInformation = 0x17;
constexpr uint8_t kWillDelayInterval = 0x18;
constexpr uint8_t kRequestResponseInformation = 0x19;
constexpr uint8_t kResponseInformation = 0x1A;
constexpr uint8_t kServerReference = 0x1C;
constexpr uint8_t kReasonString = 0x1F;
constexpr uint8_t kReceiveMaximum = 0x21;
constexpr uint8_t kTopicAliasMaximum = 0x22;
constexpr uint8_t kTopicAlias = 0x23;
constexpr uint8_t kMaximumQos = 0x24;
constexpr uint8_t kRetainAvailable = 0x25;
constexpr uint8_t kUserProperty = 0x26;
constexpr uint8_t kMaximumPacketSize = 0x27;
constexpr uint8_t kWildcardSubscriptionAvailable = 0x28;
constexpr uint8_t kSubscriptionIdentifierAvailable = 0x29;
constexpr uint8_t kSharedSubscriptionAvailable = 0x2A;
}  // namespace prop

constexpr char kHex[] = "0123456789ABCDEF";

std::string hexByte(uint32_t value) {
  std::string s = "0x";
  if (value > 0xFF) {
    // Only property identifiers read as a Variable Byte Integer get this large.
    std::string digits;
    for (; value != 0; value >>= 4) digits.insert(digits.begin(), kHex[value & 0xF]);
    return s + digits;
  }
  s.push_back(kHex[value >> 4]);
  s.push_back(kHex[value & 0xF]);
  return s;
}

const char* propertyName(uint32_t id) {
  switch (id) {
    case prop::kPayloadFormatIndicator:
      return "Payload Format Indicator";
    case prop::kMessageExpiryInterval:
      return "Message Expiry Interval";
    case prop::kContentType:
      return "Content Type";
    case prop::kResponseTopic:
      return "Response Topic";
    case prop::kCorrelationData:
      return "Correlation Data";
    case prop::kSubscriptionIdentifier:
      return "Subscription Identifier";
    case prop::kSessionExpiryInterval:
      return "Session Expiry Interval";
    case prop::kAssignedClientIdentifier:
      return "Assigned Client Identifier";
    case prop::kServerKeepAlive:
      return "Server Keep Alive";
    case prop::kAuthenticationMethod:
      return "Authentication Method";
    case prop::kAuthenticationData:
      return "Authentication Data";
    case prop::kRequestProblemInformation:
      return "Request Problem Information";
    case prop::kWillDelayInterval:
      return "Will Delay Interval";
    case prop::kRequestResponseInformation:
      return "Request Response Information";
    case prop::kResponseInformation:
      return "Response Information";
    case prop::kServerReference:
      return "Server Reference";
    case prop::kReasonString:
      return "Reason String";
    case prop::kReceiveMaximum:
      return "Receive Maximum";
    case prop::kTopicAliasMaximum:
      return "Topic Alias Maximum";
    case prop::kTopicAlias:
      return "Topic Alias";
    case prop::kMaximumQos:
      return "Maximum QoS";
    case prop::kRetainAvailable:
      return "Retain Available";
    case prop::kUserProperty:
      return "User Property";
    case prop::kMaximumPacketSize:
      return "Maximum Packet Size";
    case prop::kWildcardSubscriptionAvailable:
      return "Wildcard Subscription Available";
    case prop::kSubscriptionIdentifierAvailable:
      return "Subscription Identifier Available";
    case prop::kSharedSubscriptionAvailable:
      return "Shared Subscription Available";
    default:
      return nullptr;
  }
}

size_t vbiSize(uint32_t value) {
  if (value < 128) return 1;
  if (value < 16'384) return 2;
  if (value < 2'097'152) return 3;
  return 4;
}

// ---- Encoding ----

// Counts the bytes a body would take; the same template code then appends them for real.
struct Counter {
  size_t n = 0;
  void byte(uint8_t) { ++n; }
  void u16(uint16_t) { n += 2; }
  void u32(uint32_t) { n += 4; }
  void vbi(uint32_t v) { n += vbiSize(v); }
  void raw(std::string_view s) { n += s.size(); }
  void str(std::string_view s) { n += 2 + s.size(); }
};

struct Appender {
  std::string& out;
  void byte(uint8_t b) { out.push_back(static_cast<char>(b)); }
  void u16(uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 2);
  }
  void u32(uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 4);
  }
  void vbi(uint32_t v) {
    do {
      uint8_t b = v & 0x7F;
      v >>= 7;
      if (v != 0) b |= 0x80;
      byte(b);
    } while (v != 0);
  }
  void raw(std::string_view s) { out.append(s); }
  void str(std::string_view s) {
    u16(static_cast<uint16_t>(s.size()));
    out.append(s);
  }
};

// Helpers for optional properties: written only when set.
template <class S>
void putByte(S& s, uint8_t id, const std::optional<uint8_t>& v) {
  if (v) {
    s.byte(id);
    s.byte(*v);
  }
}
template <class S>
void putU16(S& s, uint8_t id, const std::optional<uint16_t>& v) {
  if (v) {
    s.byte(id);
    s.u16(*v);
  }
}
template <class S>
void putU32(S& s, uint8_t id, const std::optional<uint32_t>& v) {
  if (v) {
    s.byte(id);
    s.u32(*v);
  }
}
template <class S>
void putStr(S& s, uint8_t id, const std::optional<std::string>& v) {
  if (v) {
    s.byte(id);
    s.str(*v);
  }
}
template <class S>
void putUsers(S& s, const std::vector<Property>& users) {
  for (const Property& p : users) {
    s.byte(prop::kUserProperty);
    s.str(p.name);
    s.str(p.value);
  }
}

// Each packet's properties (without their length), in the order of the specification's tables.
template <class S>
void properties(S& s, const Connect& c) {
  putU32(s, prop::kSessionExpiryInterval, c.session_expiry_interval);
  putU16(s, prop::kReceiveMaximum, c.receive_maximum);
  putU32(s, prop::kMaximumPacketSize, c.maximum_packet_size);
  putU16(s, prop::kTopicAliasMaximum, c.topic_alias_maximum);
  putByte(s, prop::kRequestResponseInformation, c.request_response_information);
  putByte(s, prop::kRequestProblemInformation, c.request_problem_information);
  putStr(s, prop::kAuthenticationMethod, c.authentication_method);
  putStr(s, prop::kAuthenticationData, c.authentication_data);
  putUsers(s, c.user_properties);
}

template <class S>
void properties(S& s, const Connack& c) {
  putU32(s, prop::kSessionExpiryInterval, c.session_expiry_interval);
  putU16(s, prop::kReceiveMaximum, c.receive_maximum);
  putByte(s, prop::kMaximumQos, c.maximum_qos);
  putByte(s, prop::kRetainAvailable, c.retain_available);
  putU32(s, prop::kMaximumPacketSize, c.maximum_packet_size);
  putStr(s, prop::kAssignedClientIdentifier, c.assigned_client_identifier);
  putU16(s, prop::kTopicAliasMaximum, c.topic_alias_maximum);
  putStr(s, prop::kReasonString, c.reason_string);
  putByte(s, prop::kWildcardSubscriptionAvailable, c.wildcard_subscription_available);
  putByte(s, prop::kSubscriptionIdentifierAvailable, c.subscription_identifiers_available);
  putByte(s, prop::kSharedSubscriptionAvailable, c.shared_subscription_available);
  putU16(s, prop::kServerKeepAlive, c.server_keep_alive);
  putStr(s, prop::kResponseInformation, c.response_information);
  putStr(s, prop::kServerReference, c.server_reference);
  putStr(s, prop::kAuthenticationMethod, c.authentication_method);
  putStr(s, prop::kAuthenticationData, c.authentication_data);
  putUsers(s, c.user_properties);
}

template <class S>
void properties(S& s, const Publish& p) {
  putByte(s, prop::kPayloadFormatIndicator, p.properties.payload_format_indicator);
  putU32(s, prop::kMessageExpiryInterval, p.properties.message_expiry_interval);
  putStr(s, prop::kContentType, p.properties.content_type);
  putStr(s, prop::kResponseTopic, p.properties.response_topic);
  putStr(s, prop::kCorrelationData, p.properties.correlation_data);
  putU16(s, prop::kTopicAlias, p.topic_alias);
  for (uint32_t id : p.subscription_identifiers) {
    s.byte(prop::kSubscriptionIdentifier);
    s.vbi(id);
  }
  putUsers(s, p.user_properties);
}

template <class S>
void properties(S& s, const Ack& a) {
  putStr(s, prop::kReasonString, a.reason_string);
  putUsers(s, a.user_properties);
}

template <class S>
void properties(S& s, const Subscribe& p) {
  if (p.subscription_identifier) {
    s.byte(prop::kSubscriptionIdentifier);
    s.vbi(*p.subscription_identifier);
  }
  putUsers(s, p.user_properties);
}

template <class S>
void properties(S& s, const Suback& p) {
  putStr(s, prop::kReasonString, p.reason_string);
  putUsers(s, p.user_properties);
}

template <class S>
void properties(S& s, const Unsubscribe& p) {
  putUsers(s, p.user_properties);
}

template <class S>
void properties(S& s, const Disconnect& d) {
  putU32(s, prop::kSessionExpiryInterval, d.session_expiry_interval);
  putStr(s, prop::kReasonString, d.reason_string);
  putStr(s, prop::kServerReference, d.server_reference);
  putUsers(s, d.user_properties);
}

template <class S>
void properties(S& s, const Auth& a) {
  putStr(s, prop::kAuthenticationMethod, a.authentication_method);
  putStr(s, prop::kAuthenticationData, a.authentication_data);
  putStr(s, prop::kReasonString, a.reason_string);
  putUsers(s, a.user_properties);
}

// Property Length, then the properties.
template <class S, class P>
void propertySection(S& s, const P& p) {
  Counter c;
  properties(c, p);
  s.vbi(static_cast<uint32_t>(c.n));
  properties(s, p);
}

template <class P>
bool hasProperties(const P& p) {
  Counter c;
  properties(c, p);
  return c.n != 0;
}

// Variable header and payload of each packet.
template <class S>
void body(S& s, const Connect& c) {
  s.str("MQTT");
  s.byte(5);
  uint8_t flags = 0;
  if (c.username) flags |= 0x80;
  if (c.password) flags |= 0x40;
  if (c.clean_start) flags |= 0x02;
  s.byte(flags);
  s.u16(c.keep_alive_seconds);
  propertySection(s, c);
  s.str(c.client_id);
  if (c.username) s.str(*c.username);
  if (c.password) s.str(*c.password);
}

template <class S>
void body(S& s, const Connack& c) {
  s.byte(c.session_present ? 1 : 0);
  s.byte(c.reason_code);
  propertySection(s, c);
}

template <class S>
void body(S& s, const Publish& p) {
  s.str(p.topic);
  if (p.qos > 0) s.u16(p.packet_id);
  propertySection(s, p);
  s.raw(p.payload);
}

template <class S>
void body(S& s, const Ack& a) {
  s.u16(a.packet_id);
  // 3.4.2.1: the Reason Code may be left out when it is Success and there are no properties,
  // and the Property Length when there are none (Remaining Length < 4).
  const bool props = hasProperties(a);
  if (a.reason_code == reason::kSuccess && !props) return;
  s.byte(a.reason_code);
  if (props) propertySection(s, a);
}

template <class S>
void body(S& s, const Subscribe& p) {
  s.u16(p.packet_id);
  propertySection(s, p);
  for (const Subscription& sub : p.subscriptions) {
    s.str(sub.filter);
    s.byte(static_cast<uint8_t>((sub.qos & 0x03) | (sub.no_local ? 0x04 : 0) |
                                (sub.retain_as_published ? 0x08 : 0) |
                                ((sub.retain_handling & 0x03) << 4)));
  }
}

template <class S>
void body(S& s, const Suback& p) {
  s.u16(p.packet_id);
  propertySection(s, p);
  for (uint8_t code : p.reason_codes) s.byte(code);
}

template <class S>
void body(S& s, const Unsubscribe& p) {
  s.u16(p.packet_id);
  propertySection(s, p);
  for (const std::string& f : p.filters) s.str(f);
}

template <class S>
void body(S&, const Pingreq&) {}
template <class S>
void body(S&, const Pingresp&) {}

template <class S>
void body(S& s, const Disconnect& d) {
  // 3.14.2.1: Remaining Length 0 means Normal disconnection without properties; 1, a Reason
  // Code without properties.
  const bool props = hasProperties(d);
  if (d.reason_code == reason::kSuccess && !props) return;
  s.byte(d.reason_code);
  if (props) propertySection(s, d);
}

template <class S>
void body(S& s, const Auth& a) {
  // 3.15.2.1 allows leaving out both the Reason Code and the Property Length, never only the
  // latter, so a non-Success AUTH always carries a Property Length.
  if (a.reason_code == reason::kSuccess && !hasProperties(a)) return;
  s.byte(a.reason_code);
  propertySection(s, a);
}

uint8_t firstByte(const Connect&) { return 0x10; }
uint8_t firstByte(const Connack&) { return 0x20; }
uint8_t firstByte(const Publish& p) {
  return static_cast<uint8_t>(0x30 | (p.dup ? 0x08 : 0) | ((p.qos & 0x03) << 1) |
                              (p.retain ? 0x01 : 0));
}
uint8_t firstByte(const Ack& a) {
  const uint8_t type = static_cast<uint8_t>(a.type) << 4;
  return a.type == PacketType::Pubrel ? (type | 0x02) : type;
}
uint8_t firstByte(const Subscribe&) { return 0x82; }
uint8_t firstByte(const Suback& s) { return static_cast<uint8_t>(s.type) << 4; }
uint8_t firstByte(const Unsubscribe&) { return 0xA2; }
uint8_t firstByte(const Pingreq&) { return 0xC0; }
uint8_t firstByte(const Pingresp&) { return 0xD0; }
uint8_t firstByte(const Disconnect&) { return 0xE0; }
uint8_t firstByte(const Auth&) { return 0xF0; }

// ---- Decoding ----

constexpr const char* kPacketNames[16] = {"reserved packet type 0",
                                          "CONNECT",
                                          "CONNACK",
                                          "PUBLISH",
                                          "PUBACK",
                                          "PUBREC",
                                          "PUBREL",
                                          "PUBCOMP",
                                          "SUBSCRIBE",
                                          "SUBACK",
                                          "UNSUBSCRIBE",
                                          "UNSUBACK",
                                          "PINGREQ",
                                          "PINGRESP",
                                          "DISCONNECT",
                                          "AUTH"};

// Where each decoded property goes. A null target means the property is not allowed in this
// packet (a Protocol Error); a set optional means it appeared before (also a Protocol Error).
struct Targets {
  std::optional<uint8_t>* payload_format_indicator = nullptr;
  std::optional<uint32_t>* message_expiry_interval = nullptr;
  std::optional<std::string>* content_type = nullptr;
  std::optional<std::string>* response_topic = nullptr;
  std::optional<std::string>* correlation_data = nullptr;
  std::vector<uint32_t>* subscription_identifiers = nullptr;   // repeatable (PUBLISH)
  std::optional<uint32_t>* subscription_identifier = nullptr;  // once (SUBSCRIBE)
  std::optional<uint32_t>* session_expiry_interval = nullptr;
  std::optional<std::string>* assigned_client_identifier = nullptr;
  std::optional<uint16_t>* server_keep_alive = nullptr;
  std::optional<std::string>* authentication_method = nullptr;
  std::optional<std::string>* authentication_data = nullptr;
  std::optional<uint8_t>* request_problem_information = nullptr;
  std::optional<uint32_t>* will_delay_interval = nullptr;
  std::optional<uint8_t>* request_response_information = nullptr;
  std::optional<std::string>* response_information = nullptr;
  std::optional<std::string>* server_reference = nullptr;
  std::optional<std::string>* reason_string = nullptr;
  std::optional<uint16_t>* receive_maximum = nullptr;
  std::optional<uint16_t>* topic_alias_maximum = nullptr;
  std::optional<uint16_t>* topic_alias = nullptr;
  std::optional<uint8_t>* maximum_qos = nullptr;
  std::optional<uint8_t>* retain_available = nullptr;
  std::vector<Property>* user_properties = nullptr;
  std::optional<uint32_t>* maximum_packet_size = nullptr;
  std::optional<uint8_t>* wildcard_subscription_available = nullptr;
  std::optional<uint8_t>* subscription_identifiers_available = nullptr;
  std::optional<uint8_t>* shared_subscription_available = nullptr;
};

// A bounded cursor over one packet. Every read checks the bytes left first; the first error is
// kept and every later read fails, so callers can chain reads and test once.
class Reader {
 public:
  Reader(std::string_view data, const char* packet)
      : p_(reinterpret_cast<const uint8_t*>(data.data())),
        end_(p_ + data.size()),
        packet_(packet) {}

  size_t left() const { return static_cast<size_t>(end_ - p_); }
  bool ok() const { return ok_; }
  DecodeError& error() { return error_; }

  bool fail(uint8_t code, std::string_view what) {
    if (!ok_) return false;
    ok_ = false;
    error_.reason_code = code;
    error_.what.reserve(std::strlen(packet_) + 2 + what.size());
    error_.what.append(packet_).append(": ").append(what);
    return false;
  }
  bool malformed(std::string_view what) { return fail(reason::kMalformedPacket, what); }
  bool protocol(std::string_view what) { return fail(reason::kProtocolError, what); }

  bool need(size_t n, const char* field) {
    if (!ok_) return false;
    if (left() >= n) return true;
    return malformed(std::string(field) + " is cut short (" + std::to_string(n) +
                     " bytes needed, " + std::to_string(left()) + " left)");
  }

  bool u8(uint8_t& v, const char* field) {
    if (!need(1, field)) return false;
    v = *p_++;
    return true;
  }
  bool u16(uint16_t& v, const char* field) {
    if (!need(2, field)) return false;
    v = static_cast<uint16_t>((p_[0] << 8) | p_[1]);
    p_ += 2;
    return true;
  }
  bool u32(uint32_t& v, const char* field) {
    if (!need(4, field)) return false;
    v = (uint32_t{p_[0]} << 24) | (uint32_t{p_[1]} << 16) | (uint32_t{p_[2]} << 8) | p_[3];
    p_ += 4;
    return true;
  }
  // A Variable Byte Integer: at most 4 bytes, in its shortest form (MQTT-1.5.5-1).
  bool vbi(uint32_t& v, const char* field) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      uint8_t b;
      if (!u8(b, field)) return false;
      value |= uint32_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) {
        if (i > 0 && b == 0) {
          return malformed(std::string(field) + " is not in its shortest form");
        }
        v = value;
        return true;
      }
    }
    return malformed(std::string(field) + " is longer than 4 bytes");
  }
  // Binary Data: two length bytes, then that many bytes (checked before allocating).
  bool binary(std::string& out, const char* field) {
    uint16_t n;
    if (!u16(n, field) || !need(n, field)) return false;
    out.assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool view(std::string_view& out, const char* field) {
    uint16_t n;
    if (!u16(n, field) || !need(n, field)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  // A UTF-8 Encoded String: validated before it is copied.
  bool string(std::string& out, const char* field) {
    std::string_view v;
    if (!view(v, field)) return false;
    if (!isValidMqttString(v)) {
      return malformed(std::string(field) + " is not valid MQTT UTF-8");
    }
    out.assign(v);
    return true;
  }
  std::string_view rest() {
    std::string_view v(reinterpret_cast<const char*>(p_), left());
    p_ = end_;
    return v;
  }
  bool end(const char* after) {
    if (!ok_) return false;
    if (left() == 0) return true;
    return malformed(std::to_string(left()) + " bytes left over after " + after);
  }

  bool properties(const Targets& t, const char* section = "property");

 private:
  template <class T>
  bool once(std::optional<T>* target, uint32_t id) {
    if (target == nullptr) {
      return protocol(std::string(section_) + " " + hexByte(id) + " (" + propertyName(id) +
                      ") is not allowed here");
    }
    if (target->has_value()) {
      return protocol(std::string(section_) + " " + hexByte(id) + " (" + propertyName(id) +
                      ") appears twice");
    }
    return true;
  }
  bool badValue(uint32_t id, uint32_t value) {
    return protocol(std::string(section_) + " " + hexByte(id) + " (" + propertyName(id) +
                    ") has the invalid value " + std::to_string(value));
  }
  bool flag(std::optional<uint8_t>* target, uint32_t id, uint8_t max) {
    uint8_t v;
    if (!once(target, id) || !u8(v, propertyName(id))) return false;
    if (v > max) return badValue(id, v);
    *target = v;
    return true;
  }
  bool two(std::optional<uint16_t>* target, uint32_t id, bool non_zero) {
    uint16_t v;
    if (!once(target, id) || !u16(v, propertyName(id))) return false;
    if (non_zero && v == 0) return badValue(id, v);
    *target = v;
    return true;
  }
  bool four(std::optional<uint32_t>* target, uint32_t id, bool non_zero) {
    uint32_t v;
    if (!once(target, id) || !u32(v, propertyName(id))) return false;
    if (non_zero && v == 0) return badValue(id, v);
    *target = v;
    return true;
  }
  bool text(std::optional<std::string>* target, uint32_t id) {
    if (!once(target, id)) return false;
    std::string v;
    if (!string(v, propertyName(id))) return false;
    *target = std::move(v);
    return true;
  }
  bool bytes(std::optional<std::string>* target, uint32_t id) {
    if (!once(target, id)) return false;
    std::string v;
    if (!binary(v, propertyName(id))) return false;
    *target = std::move(v);
    return true;
  }
  bool one(const Targets& t, uint32_t id);

  const uint8_t* p_;
  const uint8_t* end_;
  const char* packet_;
  const char* section_ = "property";
  bool ok_ = true;
  DecodeError error_;
};

bool Reader::one(const Targets& t, uint32_t id) {
  switch (id) {
    case prop::kPayloadFormatIndicator:
      return flag(t.payload_format_indicator, id, 1);
    case prop::kMessageExpiryInterval:
      return four(t.message_expiry_interval, id, false);
    case prop::kContentType:
      return text(t.content_type, id);
    case prop::kResponseTopic:
      if (!text(t.response_topic, id)) return false;
      // MQTT-3.3.2-14: a Response Topic is a topic name, so no wildcards.
      if (!isValidMqttTopicName(**t.response_topic)) {
        return protocol(std::string(section_) + " 0x08 (Response Topic) is not a valid topic name");
      }
      return true;
    case prop::kCorrelationData:
      return bytes(t.correlation_data, id);
    case prop::kSubscriptionIdentifier: {
      if (t.subscription_identifiers == nullptr && !once(t.subscription_identifier, id)) {
        return false;
      }
      uint32_t v;
      if (!vbi(v, "Subscription Identifier")) return false;
      if (v == 0) return badValue(id, v);
      if (t.subscription_identifiers != nullptr) {
        t.subscription_identifiers->push_back(v);
      } else {
        *t.subscription_identifier = v;
      }
      return true;
    }
    case prop::kSessionExpiryInterval:
      return four(t.session_expiry_interval, id, false);
    case prop::kAssignedClientIdentifier:
      return text(t.assigned_client_identifier, id);
    case prop::kServerKeepAlive:
      return two(t.server_keep_alive, id, false);
    case prop::kAuthenticationMethod:
      return text(t.authentication_method, id);
    case prop::kAuthenticationData:
      return bytes(t.authentication_data, id);
    case prop::kRequestProblemInformation:
      return flag(t.request_problem_information, id, 1);
    case prop::kWillDelayInterval:
      return four(t.will_delay_interval, id, false);
    case prop::kRequestResponseInformation:
      return flag(t.request_response_information, id, 1);
    case prop::kResponseInformation:
      return text(t.response_information, id);
    case prop::kServerReference:
      return text(t.server_reference, id);
    case prop::kReasonString:
      return text(t.reason_string, id);
    case prop::kReceiveMaximum:
      return two(t.receive_maximum, id, true);
    case prop::kTopicAliasMaximum:
      return two(t.topic_alias_maximum, id, false);
    case prop::kTopicAlias:
      return two(t.topic_alias, id, true);  // MQTT-3.3.2-8
    case prop::kMaximumQos:
      return flag(t.maximum_qos, id, 1);
    case prop::kRetainAvailable:
      return flag(t.retain_available, id, 1);
    case prop::kUserProperty: {
      if (t.user_properties == nullptr) {
        return protocol(std::string(section_) + " 0x26 (User Property) is not allowed here");
      }
      Property p;
      if (!string(p.name, "User Property name") || !string(p.value, "User Property value")) {
        return false;
      }
      t.user_properties->push_back(std::move(p));
      return true;
    }
    case prop::kMaximumPacketSize:
      return four(t.maximum_packet_size, id, true);
    case prop::kWildcardSubscriptionAvailable:
      return flag(t.wildcard_subscription_available, id, 1);
    case prop::kSubscriptionIdentifierAvailable:
      return flag(t.subscription_identifiers_available, id, 1);
    case prop::kSharedSubscriptionAvailable:
      return flag(t.shared_subscription_available, id, 1);
    default:
      return malformed(std::string(section_) + " " + hexByte(id) + " is not a known property");
  }
}

// Property Length, then properties up to exactly that length.
bool Reader::properties(const Targets& t, const char* section) {
  section_ = section;
  uint32_t length;
  if (!vbi(length, "Property Length")) return false;
  if (length > left()) {
    return malformed("Property Length " + std::to_string(length) + " exceeds the " +
                     std::to_string(left()) + " bytes left");
  }
  // Read the properties in a window ending at the section's end so that none reaches past it.
  const uint8_t* const packet_end = end_;
  end_ = p_ + length;
  while (ok_ && p_ < end_) {
    uint32_t id;
    if (!vbi(id, "property identifier")) break;
    one(t, id);
  }
  end_ = packet_end;
  return ok_;
}

// The Reason Codes each packet may carry (3.2.2.2, 3.4.2.1-3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1,
// 3.15.2.1).
constexpr uint8_t kConnackReasons[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                       0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                       0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
constexpr uint8_t kPubackReasons[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
constexpr uint8_t kPubrelReasons[] = {0x00, 0x92};
constexpr uint8_t kSubackReasons[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                      0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr uint8_t kUnsubackReasons[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr uint8_t kDisconnectReasons[] = {
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
    0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr uint8_t kAuthReasons[] = {0x00, 0x18, 0x19};

bool isAllowedReason(PacketType type, uint8_t code) {
  std::span<const uint8_t> allowed;
  switch (type) {
    case PacketType::Connack:
      allowed = kConnackReasons;
      break;
    case PacketType::Puback:
    case PacketType::Pubrec:
      allowed = kPubackReasons;
      break;
    case PacketType::Pubrel:
    case PacketType::Pubcomp:
      allowed = kPubrelReasons;
      break;
    case PacketType::Suback:
      allowed = kSubackReasons;
      break;
    case PacketType::Unsuback:
      allowed = kUnsubackReasons;
      break;
    case PacketType::Disconnect:
      allowed = kDisconnectReasons;
      break;
    case PacketType::Auth:
      allowed = kAuthReasons;
      break;
    default:
      break;
  }
  return std::find(allowed.begin(), allowed.end(), code) != allowed.end();
}

bool reasonCode(Reader& r, PacketType type, uint8_t& code) {
  if (!r.u8(code, "Reason Code")) return false;
  if (!isAllowedReason(type, code)) {
    return r.protocol("Reason Code " + hexByte(code) + " is not allowed in this packet");
  }
  return true;
}

bool packetId(Reader& r, uint16_t& id) {
  if (!r.u16(id, "Packet Identifier")) return false;
  if (id == 0) return r.protocol("Packet Identifier is 0");
  return true;
}

void decodeConnect(Reader& r, Connect& c) {
  std::string_view name;
  uint8_t level = 0;
  uint8_t flags = 0;
  if (!r.view(name, "Protocol Name")) return;
  if (name != "MQTT") {
    r.protocol("Protocol Name is not \"MQTT\"");
    return;
  }
  if (!r.u8(level, "Protocol Version")) return;
  if (level != 5) {
    r.fail(reason::kUnsupportedProtocolVersion,
           "Protocol Version " + std::to_string(level) + " is not 5");
    return;
  }
  if (!r.u8(flags, "Connect Flags") || !r.u16(c.keep_alive_seconds, "Keep Alive")) return;
  if (flags & 0x01) {
    r.malformed("the reserved Connect Flag is 1");  // MQTT-3.1.2-3
    return;
  }
  const bool will = flags & 0x04;
  const uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = flags & 0x20;
  if (will_qos == 3) {
    r.malformed("Will QoS is 3");
    return;
  }
  if (!will && (will_qos != 0 || will_retain)) {
    r.malformed("Will QoS or Will Retain is set without the Will Flag");  // MQTT-3.1.2-11/13
    return;
  }
  c.clean_start = flags & 0x02;
  Targets t;
  t.session_expiry_interval = &c.session_expiry_interval;
  t.receive_maximum = &c.receive_maximum;
  t.maximum_packet_size = &c.maximum_packet_size;
  t.topic_alias_maximum = &c.topic_alias_maximum;
  t.request_response_information = &c.request_response_information;
  t.request_problem_information = &c.request_problem_information;
  t.authentication_method = &c.authentication_method;
  t.authentication_data = &c.authentication_data;
  t.user_properties = &c.user_properties;
  if (!r.properties(t)) return;
  if (c.authentication_data && !c.authentication_method) {
    r.protocol("Authentication Data without an Authentication Method");  // 3.1.2.11.10
    return;
  }
  if (!r.string(c.client_id, "Client Identifier")) return;
  if (will) {
    // The Will is checked as thoroughly as the rest and then dropped: Connect has no Will
    // because this client never sends one, and a test broker only needs to accept it.
    MqttProperties wp;
    std::optional<uint32_t> delay;
    std::vector<Property> users;
    Targets w;
    w.will_delay_interval = &delay;
    w.payload_format_indicator = &wp.payload_format_indicator;
    w.message_expiry_interval = &wp.message_expiry_interval;
    w.content_type = &wp.content_type;
    w.response_topic = &wp.response_topic;
    w.correlation_data = &wp.correlation_data;
    w.user_properties = &users;
    std::string_view topic;
    std::string_view payload;
    if (!r.properties(w, "Will property") || !r.view(topic, "Will Topic")) return;
    if (!isValidMqttUtf8(topic)) {
      r.malformed("Will Topic is not valid MQTT UTF-8");
      return;
    }
    if (!isValidMqttTopicName(topic)) {
      r.protocol("Will Topic is not a valid topic name");
      return;
    }
    if (!r.view(payload, "Will Payload")) return;
  }
  if ((flags & 0x80) && !r.string(c.username.emplace(), "User Name")) return;
  if ((flags & 0x40) && !r.binary(c.password.emplace(), "Password")) return;
  r.end("the Password");
}

void decodeConnack(Reader& r, Connack& c) {
  uint8_t flags;
  if (!r.u8(flags, "Connect Acknowledge Flags")) return;
  if (flags & 0xFE) {
    r.malformed("reserved Connect Acknowledge Flags are set");  // 3.2.2.1
    return;
  }
  c.session_present = flags & 0x01;
  if (!reasonCode(r, PacketType::Connack, c.reason_code)) return;
  if (c.session_present && c.reason_code >= 0x80) {
    r.protocol("Session Present is 1 with a failure Reason Code");  // MQTT-3.2.2-6
    return;
  }
  Targets t;
  t.session_expiry_interval = &c.session_expiry_interval;
  t.receive_maximum = &c.receive_maximum;
  t.maximum_qos = &c.maximum_qos;
  t.retain_available = &c.retain_available;
  t.maximum_packet_size = &c.maximum_packet_size;
  t.assigned_client_identifier = &c.assigned_client_identifier;
  t.topic_alias_maximum = &c.topic_alias_maximum;
  t.reason_string = &c.reason_string;
  t.wildcard_subscription_available = &c.wildcard_subscription_available;
  t.subscription_identifiers_available = &c.subscription_identifiers_available;
  t.shared_subscription_available = &c.shared_subscription_available;
  t.server_keep_alive = &c.server_keep_alive;
  t.response_information = &c.response_information;
  t.server_reference = &c.server_reference;
  t.authentication_method = &c.authentication_method;
  t.authentication_data = &c.authentication_data;
  t.user_properties = &c.user_properties;
  if (r.properties(t)) r.end("the properties");
}

void decodePublish(Reader& r, uint8_t flags, Direction direction, Publish& p) {
  p.dup = flags & 0x08;
  p.qos = (flags >> 1) & 0x03;
  p.retain = flags & 0x01;
  if (p.qos == 3) {
    r.malformed("QoS is 3");  // MQTT-3.3.1-4
    return;
  }
  if (p.dup && p.qos == 0) {
    r.malformed("DUP is set on a QoS 0 message");  // MQTT-3.3.1-2
    return;
  }
  std::string_view topic;
  if (!r.view(topic, "Topic Name")) return;
  if (!topic.empty() && !isValidMqttTopicName(topic)) {
    if (!isValidMqttUtf8(topic)) {
      r.malformed("Topic Name is not valid MQTT UTF-8");
    } else {
      r.protocol("Topic Name contains a wildcard");  // MQTT-3.3.2-2
    }
    return;
  }
  if (p.qos > 0 && !packetId(r, p.packet_id)) return;
  Targets t;
  t.payload_format_indicator = &p.properties.payload_format_indicator;
  t.message_expiry_interval = &p.properties.message_expiry_interval;
  t.content_type = &p.properties.content_type;
  t.response_topic = &p.properties.response_topic;
  t.correlation_data = &p.properties.correlation_data;
  t.topic_alias = &p.topic_alias;
  // MQTT-3.3.4-6: a client's PUBLISH carries no Subscription Identifier.
  if (direction == Direction::FromServer) t.subscription_identifiers = &p.subscription_identifiers;
  t.user_properties = &p.user_properties;
  if (!r.properties(t)) return;
  if (topic.empty() && !p.topic_alias) {
    r.protocol("Topic Name is empty without a Topic Alias");  // MQTT-3.3.2-1 / 4.7.3-1
    return;
  }
  p.topic.assign(topic);
  p.payload.assign(r.rest());
}

void decodeAck(Reader& r, PacketType type, Ack& a) {
  a.type = type;
  if (!packetId(r, a.packet_id)) return;
  if (r.left() == 0) return;  // Success, no properties (3.4.2.1)
  if (!reasonCode(r, type, a.reason_code)) return;
  if (r.left() == 0) return;  // Property Length 0 (3.4.2.2.1)
  Targets t;
  t.reason_string = &a.reason_string;
  t.user_properties = &a.user_properties;
  if (r.properties(t)) r.end("the properties");
}

void decodeSubscribe(Reader& r, Subscribe& s) {
  if (!packetId(r, s.packet_id)) return;
  Targets t;
  t.subscription_identifier = &s.subscription_identifier;
  t.user_properties = &s.user_properties;
  if (!r.properties(t)) return;
  if (r.left() == 0) {
    r.protocol("no Topic Filter");  // MQTT-3.8.3-2
    return;
  }
  while (r.ok() && r.left() > 0) {
    Subscription sub;
    uint8_t options;
    if (!r.string(sub.filter, "Topic Filter") || !r.u8(options, "Subscription Options")) return;
    if (options & 0xC0) {
      r.malformed("reserved Subscription Options bits are set");  // MQTT-3.8.3-5
      return;
    }
    sub.qos = options & 0x03;
    sub.no_local = options & 0x04;
    sub.retain_as_published = options & 0x08;
    sub.retain_handling = (options >> 4) & 0x03;
    if (sub.qos == 3) {
      r.protocol("Maximum QoS is 3");
      return;
    }
    if (sub.retain_handling == 3) {
      r.protocol("Retain Handling is 3");
      return;
    }
    if (sub.no_local && sub.filter.starts_with("$share/")) {
      r.protocol("No Local is set on a shared subscription");  // MQTT-3.8.3-4
      return;
    }
    s.subscriptions.push_back(std::move(sub));
  }
}

void decodeSuback(Reader& r, PacketType type, Suback& s) {
  s.type = type;
  if (!packetId(r, s.packet_id)) return;
  Targets t;
  t.reason_string = &s.reason_string;
  t.user_properties = &s.user_properties;
  if (!r.properties(t)) return;
  if (r.left() == 0) {
    r.protocol("no Reason Code");  // one per filter, and a request has at least one
    return;
  }
  s.reason_codes.reserve(r.left());
  while (r.ok() && r.left() > 0) {
    uint8_t code;
    if (reasonCode(r, type, code)) s.reason_codes.push_back(code);
  }
}

void decodeUnsubscribe(Reader& r, Unsubscribe& u) {
  if (!packetId(r, u.packet_id)) return;
  Targets t;
  t.user_properties = &u.user_properties;
  if (!r.properties(t)) return;
  if (r.left() == 0) {
    r.protocol("no Topic Filter");  // MQTT-3.10.3-2
    return;
  }
  while (r.ok() && r.left() > 0) {
    std::string filter;
    if (r.string(filter, "Topic Filter")) u.filters.push_back(std::move(filter));
  }
}

void decodeDisconnect(Reader& r, Direction direction, Disconnect& d) {
  if (r.left() == 0) return;  // Normal disconnection (3.14.2.1)
  if (!reasonCode(r, PacketType::Disconnect, d.reason_code)) return;
  if (r.left() == 0) return;  // Property Length 0 (3.14.2.2.1)
  Targets t;
  // MQTT-3.14.2-2: the server never sends a Session Expiry Interval in DISCONNECT.
  if (direction == Direction::FromClient) t.session_expiry_interval = &d.session_expiry_interval;
  t.reason_string = &d.reason_string;
  t.server_reference = &d.server_reference;
  t.user_properties = &d.user_properties;
  if (r.properties(t)) r.end("the properties");
}

void decodeAuth(Reader& r, Auth& a) {
  if (r.left() == 0) return;  // Success, no properties (3.15.2.1)
  if (!reasonCode(r, PacketType::Auth, a.reason_code)) return;
  // Only the pair may be left out (3.15.2.1); a lone Reason Code is accepted like DISCONNECT's
  // as the harmless reading of a Property Length of 0.
  if (r.left() == 0) return;
  Targets t;
  t.authentication_method = &a.authentication_method;
  t.authentication_data = &a.authentication_data;
  t.reason_string = &a.reason_string;
  t.user_properties = &a.user_properties;
  if (r.properties(t)) r.end("the properties");
}

bool allowedFrom(PacketType type, Direction direction) {
  switch (type) {
    case PacketType::Connect:
    case PacketType::Subscribe:
    case PacketType::Unsubscribe:
    case PacketType::Pingreq:
      return direction == Direction::FromClient;
    case PacketType::Connack:
    case PacketType::Suback:
    case PacketType::Unsuback:
    case PacketType::Pingresp:
      return direction == Direction::FromServer;
    default:
      return true;
  }
}

// Table 2-6, from 0x04 on (0x00-0x02 depend on the packet).
constexpr std::pair<uint8_t, const char*> kReasonNames[] = {
    {0x04, "Disconnect with Will Message"},
    {0x10, "No matching subscribers"},
    {0x11, "No subscription existed"},
    {0x18, "Continue authentication"},
    {0x19, "Re-authenticate"},
    {0x80, "Unspecified error"},
    {0x81, "Malformed Packet"},
    {0x82, "Protocol Error"},
    {0x83, "Implementation specific error"},
    {0x84, "Unsupported Protocol Version"},
    {0x85, "Client Identifier not valid"},
    {0x86, "Bad User Name or Password"},
    {0x87, "Not authorized"},
    {0x88, "Server unavailable"},
    {0x89, "Server busy"},
    {0x8A, "Banned"},
    {0x8B, "Server shutting down"},
    {0x8C, "Bad authentication method"},
    {0x8D, "Keep Alive timeout"},
    {0x8E, "Session taken over"},
    {0x8F, "Topic Filter invalid"},
    {0x90, "Topic Name invalid"},
    {0x91, "Packet Identifier in use"},
    {0x92, "Packet Identifier not found"},
    {0x93, "Receive Maximum exceeded"},
    {0x94, "Topic Alias invalid"},
    {0x95, "Packet too large"},
    {0x96, "Message rate too high"},
    {0x97, "Quota exceeded"},
    {0x98, "Administrative action"},
    {0x99, "Payload format invalid"},
    {0x9A, "Retain not supported"},
    {0x9B, "QoS not supported"},
    {0x9C, "Use another server"},
    {0x9D, "Server moved"},
    {0x9E, "Shared Subscriptions not supported"},
    {0x9F, "Connection rate exceeded"},
    {0xA0, "Maximum connect time"},
    {0xA1, "Subscription Identifiers not supported"},
    {0xA2, "Wildcard Subscriptions not supported"},
};

}  // namespace

const char* toString(PacketType type) {
  const auto i = static_cast<uint8_t>(type);
  return i >= 1 && i <= 15 ? kPacketNames[i] : "unknown packet type";
}

std::string reasonName(uint8_t code, PacketType packet) {
  const char* name = nullptr;
  if (code == 0x00) {
    name = packet == PacketType::Disconnect ? "Normal disconnection"
           : packet == PacketType::Suback   ? "Granted QoS 0"
                                            : "Success";
  } else if (code <= 0x02) {
    // Granted QoS 1 and 2 exist only in SUBACK.
    if (packet == PacketType::Suback) name = code == 0x01 ? "Granted QoS 1" : "Granted QoS 2";
  } else {
    for (const auto& [c, n] : kReasonNames) {
      if (c == code) name = n;
    }
  }
  return hexByte(code) + " " + (name != nullptr ? name : "unknown reason code");
}

namespace {

template <class P>
void encodeOne(const P& p, std::string& out) {
  Counter counter;
  body(counter, p);
  const auto remaining = static_cast<uint32_t>(counter.n);
  out.reserve(out.size() + 1 + vbiSize(remaining) + remaining);
  Appender a{out};
  a.byte(firstByte(p));
  a.vbi(remaining);
  body(a, p);
}

template <class P>
size_t encodedSizeOf(const P& p) {
  Counter counter;
  body(counter, p);
  // Sizes above the VBI range are reported as if the length field had 4 bytes; such a packet
  // cannot be sent anyway, and the caller compares with a limit below it.
  return 1 + vbiSize(static_cast<uint32_t>(std::min<size_t>(counter.n, kMaxRemainingLength))) +
         counter.n;
}

}  // namespace

void encode(const Packet& packet, std::string& out) {
  std::visit([&out](const auto& p) { encodeOne(p, out); }, packet);
}
void encode(const Publish& packet, std::string& out) { encodeOne(packet, out); }
void encode(const Ack& packet, std::string& out) { encodeOne(packet, out); }

size_t encodedSize(const Packet& packet) {
  return std::visit([](const auto& p) { return encodedSizeOf(p); }, packet);
}
size_t encodedSize(const Publish& packet) { return encodedSizeOf(packet); }

Frame frameAt(std::string_view buffer, uint32_t maximum_packet_size) {
  Frame frame;
  uint32_t remaining = 0;
  size_t i = 1;
  auto malformed = [&frame, &buffer](const char* problem) {
    frame.state = Frame::State::Error;
    frame.error = {reason::kMalformedPacket,
                   std::string(kPacketNames[static_cast<uint8_t>(buffer[0]) >> 4]) +
                       ": Remaining Length is " + problem};
    return frame;
  };
  for (;; ++i) {
    if (i >= buffer.size()) return frame;  // Incomplete
    const auto b = static_cast<uint8_t>(buffer[i]);
    remaining |= uint32_t{b & 0x7Fu} << (7 * (i - 1));
    if ((b & 0x80) == 0) {
      if (i > 1 && b == 0) return malformed("not in its shortest form");  // MQTT-1.5.5-1
      break;
    }
    if (i == 4) return malformed("longer than 4 bytes");
  }
  const size_t size = 1 + i + size_t{remaining};
  if (size > maximum_packet_size) {
    frame.state = Frame::State::Error;
    const auto type = static_cast<uint8_t>(buffer[0]) >> 4;
    frame.error = {reason::kPacketTooLarge, std::string(kPacketNames[type]) + ": " +
                                                std::to_string(size) +
                                                " bytes exceed the Maximum Packet Size of " +
                                                std::to_string(maximum_packet_size)};
    return frame;
  }
  if (buffer.size() < size) return frame;  // Incomplete, size known
  frame.state = Frame::State::Complete;
  frame.size = size;
  return frame;
}

Decoded decode(std::string_view packet, Direction direction) {
  Decoded d;
  if (packet.empty()) {
    d.error = {reason::kMalformedPacket, "packet header: no bytes"};
    return d;
  }
  const auto first = static_cast<uint8_t>(packet[0]);
  const uint8_t type_bits = first >> 4;
  const uint8_t flags = first & 0x0F;
  Reader r(packet.substr(1), kPacketNames[type_bits]);
  uint32_t remaining;
  if (!r.vbi(remaining, "Remaining Length")) {
    d.error = std::move(r.error());
    return d;
  }
  if (remaining != r.left()) {
    r.malformed("Remaining Length " + std::to_string(remaining) + " does not match the " +
                std::to_string(r.left()) + " bytes that follow");
    d.error = std::move(r.error());
    return d;
  }
  if (type_bits == 0) {
    r.malformed("packet type 0 is reserved");
    d.error = std::move(r.error());
    return d;
  }
  const auto type = static_cast<PacketType>(type_bits);
  const uint8_t expected_flags = (type == PacketType::Pubrel || type == PacketType::Subscribe ||
                                  type == PacketType::Unsubscribe)
                                     ? 0x02
                                     : 0x00;
  if (type != PacketType::Publish && flags != expected_flags) {
    r.malformed("fixed header flags are " + hexByte(flags) + ", not " + hexByte(expected_flags));
    d.error = std::move(r.error());
    return d;
  }
  if (!allowedFrom(type, direction)) {
    r.protocol(direction == Direction::FromServer ? "a server never sends this packet"
                                                  : "a client never sends this packet");
    d.error = std::move(r.error());
    return d;
  }

  // Each case decodes in place into the variant so a PUBLISH costs its topic and payload only.
  Packet& p = d.packet.emplace(std::in_place_type<Pingreq>);
  switch (type) {
    case PacketType::Connect:
      decodeConnect(r, p.emplace<Connect>());
      break;
    case PacketType::Connack:
      decodeConnack(r, p.emplace<Connack>());
      break;
    case PacketType::Publish:
      decodePublish(r, flags, direction, p.emplace<Publish>());
      break;
    case PacketType::Puback:
    case PacketType::Pubrec:
    case PacketType::Pubrel:
    case PacketType::Pubcomp:
      decodeAck(r, type, p.emplace<Ack>());
      break;
    case PacketType::Subscribe:
      decodeSubscribe(r, p.emplace<Subscribe>());
      break;
    case PacketType::Suback:
    case PacketType::Unsuback:
      decodeSuback(r, type, p.emplace<Suback>());
      break;
    case PacketType::Unsubscribe:
      decodeUnsubscribe(r, p.emplace<Unsubscribe>());
      break;
    case PacketType::Pingreq:
      r.end("the fixed header");
      break;
    case PacketType::Pingresp:
      p.emplace<Pingresp>();
      r.end("the fixed header");
      break;
    case PacketType::Disconnect:
      decodeDisconnect(r, direction, p.emplace<Disconnect>());
      break;
    case PacketType::Auth:
      decodeAuth(r, p.emplace<Auth>());
      break;
  }
  if (!r.ok()) {
    d.packet.reset();
    d.error = std::move(r.error());
  }
  return d;
}

}  // namespace dataflow::mqtt::wire
