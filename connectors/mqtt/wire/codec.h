// MQTT v5 packets (OASIS mqtt-v5.0-os, chapters 2 and 3) as plain structs, and their encoding and
// decoding. Pure: no sockets, no threads, no paho. Every packet a client sends or receives.
//
// Decoding is total: any bytes give either a packet or a DecodeError naming the reason code a
// DISCONNECT must carry (0x81 Malformed Packet, 0x82 Protocol Error, 0x95 Packet too large) and
// what was wrong; it never crashes, never reads past its input, never allocates more than the
// input's size implies. Checked, per the specification:
//   - fixed header flags (PUBLISH's DUP/QoS/RETAIN; 0b0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE;
//     0 for the rest); QoS 3 and DUP with QoS 0 are malformed;
//   - Variable Byte Integers of at most 4 bytes in their shortest form (MQTT-1.5.5-1);
//   - lengths that fit the packet; nothing left over at the end of a packet;
//   - UTF-8 strings well-formed, no U+0000, no surrogates (MQTT-1.5.4-1/2);
//   - properties allowed in that packet, once unless they may repeat, with valid values
//     (Receive Maximum and Maximum Packet Size not 0, Payload Format Indicator 0 or 1, a
//     Subscription Identifier not 0, Maximum QoS 0 or 1, the availability flags 0 or 1);
//   - packet identifiers not 0 where one is required; reason codes the packet may carry;
//   - a PUBLISH topic name without wildcards; a SUBSCRIBE with at least one filter.
// A packet type a client never receives (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ) is a protocol
// error when decoded with Direction::FromServer, and likewise the other way round.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/core/message.h"

namespace dataflow::mqtt::wire {

enum class PacketType : uint8_t {
  Connect = 1,
  Connack = 2,
  Publish = 3,
  Puback = 4,
  Pubrec = 5,
  Pubrel = 6,
  Pubcomp = 7,
  Subscribe = 8,
  Suback = 9,
  Unsubscribe = 10,
  Unsuback = 11,
  Pingreq = 12,
  Pingresp = 13,
  Disconnect = 14,
  Auth = 15,
};
const char* toString(PacketType type);  // "CONNECT", "PUBACK", ...

// Reason codes (MQTT v5 2.4) this client sends or interprets by name.
namespace reason {
inline constexpr uint8_t kSuccess = 0x00;  // also Normal disconnection, Granted QoS 0
inline constexpr uint8_t kGrantedQos1 = 0x01;
inline constexpr uint8_t kDisconnectWithWillMessage = 0x04;
inline constexpr uint8_t kNoMatchingSubscribers = 0x10;
inline constexpr uint8_t kNoSubscriptionExisted = 0x11;
inline constexpr uint8_t kContinueAuthentication = 0x18;
inline constexpr uint8_t kReAuthenticate = 0x19;
inline constexpr uint8_t kUnspecifiedError = 0x80;
inline constexpr uint8_t kMalformedPacket = 0x81;
inline constexpr uint8_t kProtocolError = 0x82;
inline constexpr uint8_t kImplementationSpecificError = 0x83;
inline constexpr uint8_t kUnsupportedProtocolVersion = 0x84;
inline constexpr uint8_t kClientIdentifierNotValid = 0x85;
inline constexpr uint8_t kBadUserNameOrPassword = 0x86;
inline constexpr uint8_t kNotAuthorized = 0x87;
inline constexpr uint8_t kServerUnavailable = 0x88;
inline constexpr uint8_t kServerBusy = 0x89;
inline constexpr uint8_t kBanned = 0x8A;
inline constexpr uint8_t kServerShuttingDown = 0x8B;
inline constexpr uint8_t kBadAuthenticationMethod = 0x8C;
inline constexpr uint8_t kKeepAliveTimeout = 0x8D;
inline constexpr uint8_t kSessionTakenOver = 0x8E;
inline constexpr uint8_t kTopicFilterInvalid = 0x8F;
inline constexpr uint8_t kTopicNameInvalid = 0x90;
inline constexpr uint8_t kPacketIdentifierInUse = 0x91;
inline constexpr uint8_t kPacketIdentifierNotFound = 0x92;
inline constexpr uint8_t kReceiveMaximumExceeded = 0x93;
inline constexpr uint8_t kTopicAliasInvalid = 0x94;
inline constexpr uint8_t kPacketTooLarge = 0x95;
inline constexpr uint8_t kMessageRateTooHigh = 0x96;
inline constexpr uint8_t kQuotaExceeded = 0x97;
inline constexpr uint8_t kAdministrativeAction = 0x98;
inline constexpr uint8_t kPayloadFormatInvalid = 0x99;
inline constexpr uint8_t kRetainNotSupported = 0x9A;
inline constexpr uint8_t kQosNotSupported = 0x9B;
inline constexpr uint8_t kUseAnotherServer = 0x9C;
inline constexpr uint8_t kServerMoved = 0x9D;
inline constexpr uint8_t kSharedSubscriptionsNotSupported = 0x9E;
inline constexpr uint8_t kConnectionRateExceeded = 0x9F;
inline constexpr uint8_t kMaximumConnectTime = 0xA0;
inline constexpr uint8_t kSubscriptionIdentifiersNotSupported = 0xA1;
inline constexpr uint8_t kWildcardSubscriptionsNotSupported = 0xA2;
}  // namespace reason

// "0x87 Not authorized": the code in hex and its name from the specification's table 2-6
// ("unknown reason code" for one not in it). `packet` disambiguates 0x00 ("Success", "Normal
// disconnection", "Granted QoS 0") and 0x01/0x02.
std::string reasonName(uint8_t code, PacketType packet = PacketType::Puback);

// The largest Remaining Length (a 4-byte Variable Byte Integer): 268,435,455.
inline constexpr uint32_t kMaxRemainingLength = 268'435'455;

struct Connect {
  std::string client_id;
  bool clean_start = false;
  uint16_t keep_alive_seconds = 0;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary
  // Properties (3.1.2.11). No Will: this client never sets one. A decoded CONNECT's Will
  // (properties, topic, payload) is checked like the rest and then dropped.
  std::optional<uint32_t> session_expiry_interval;
  std::optional<uint16_t> receive_maximum;
  std::optional<uint32_t> maximum_packet_size;
  std::optional<uint16_t> topic_alias_maximum;
  std::optional<uint8_t> request_response_information;
  std::optional<uint8_t> request_problem_information;
  std::optional<std::string> authentication_method;
  std::optional<std::string> authentication_data;  // binary
  std::vector<Property> user_properties;

  friend bool operator==(const Connect&, const Connect&) = default;
};

struct Connack {
  bool session_present = false;
  uint8_t reason_code = reason::kSuccess;
  std::optional<uint32_t> session_expiry_interval;
  std::optional<uint16_t> receive_maximum;
  std::optional<uint8_t> maximum_qos;
  std::optional<uint8_t> retain_available;
  std::optional<uint32_t> maximum_packet_size;
  std::optional<std::string> assigned_client_identifier;
  std::optional<uint16_t> topic_alias_maximum;
  std::optional<std::string> reason_string;
  std::optional<uint8_t> wildcard_subscription_available;
  std::optional<uint8_t> subscription_identifiers_available;
  std::optional<uint8_t> shared_subscription_available;
  std::optional<uint16_t> server_keep_alive;
  std::optional<std::string> response_information;
  std::optional<std::string> server_reference;
  std::optional<std::string> authentication_method;
  std::optional<std::string> authentication_data;  // binary
  std::vector<Property> user_properties;

  friend bool operator==(const Connack&, const Connack&) = default;
};

struct Publish {
  bool dup = false;
  uint8_t qos = 0;  // 0, 1 or 2
  bool retain = false;
  std::string topic;       // may be empty only with a topic_alias
  uint16_t packet_id = 0;  // QoS > 0 only; not 0 then
  MqttProperties properties;  // the five built-ins (3.3.2.3)
  std::optional<uint16_t> topic_alias;
  std::vector<uint32_t> subscription_identifiers;  // server -> client only
  std::vector<Property> user_properties;          // in wire order, duplicates kept
  std::string payload;

  friend bool operator==(const Publish&, const Publish&) = default;
};

// PUBACK, PUBREC, PUBREL, PUBCOMP: the same shape (3.4-3.7). Encoded in the shortest form the
// specification allows (reason code and properties left out when Success and none).
struct Ack {
  PacketType type = PacketType::Puback;
  uint16_t packet_id = 0;
  uint8_t reason_code = reason::kSuccess;
  std::optional<std::string> reason_string;
  std::vector<Property> user_properties;

  friend bool operator==(const Ack&, const Ack&) = default;
};

struct Subscription {
  std::string filter;
  uint8_t qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  uint8_t retain_handling = 0;  // 0, 1 or 2

  friend bool operator==(const Subscription&, const Subscription&) = default;
};

struct Subscribe {
  uint16_t packet_id = 0;
  std::optional<uint32_t> subscription_identifier;
  std::vector<Property> user_properties;
  std::vector<Subscription> subscriptions;  // at least one

  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};

// SUBACK and UNSUBACK: one reason code per filter, in order.
struct Suback {
  PacketType type = PacketType::Suback;  // or Unsuback
  uint16_t packet_id = 0;
  std::optional<std::string> reason_string;
  std::vector<Property> user_properties;
  std::vector<uint8_t> reason_codes;

  friend bool operator==(const Suback&, const Suback&) = default;
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  std::vector<Property> user_properties;
  std::vector<std::string> filters;  // at least one

  friend bool operator==(const Unsubscribe&, const Unsubscribe&) = default;
};

struct Pingreq {
  friend bool operator==(const Pingreq&, const Pingreq&) = default;
};
struct Pingresp {
  friend bool operator==(const Pingresp&, const Pingresp&) = default;
};

struct Disconnect {
  uint8_t reason_code = reason::kSuccess;
  std::optional<uint32_t> session_expiry_interval;  // client -> server only
  std::optional<std::string> reason_string;
  std::optional<std::string> server_reference;  // server -> client only
  std::vector<Property> user_properties;

  friend bool operator==(const Disconnect&, const Disconnect&) = default;
};

struct Auth {
  uint8_t reason_code = reason::kSuccess;  // 0x00, 0x18 or 0x19
  std::optional<std::string> authentication_method;
  std::optional<std::string> authentication_data;  // binary
  std::optional<std::string> reason_string;
  std::vector<Property> user_properties;

  friend bool operator==(const Auth&, const Auth&) = default;
};

using Packet = std::variant<Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe,
                            Pingreq, Pingresp, Disconnect, Auth>;

// ---- Encoding ----
// Each appends one whole packet to `out`. Precondition: the packet is valid (the caller checked
// topic names, string lengths <= 65,535 bytes and a Remaining Length within the protocol's limit
// (encodedSize); encoding does not re-check).
void encode(const Packet& packet, std::string& out);
// The same for the packets of the hot path, without copying them into a Packet first.
void encode(const Publish& packet, std::string& out);
void encode(const Ack& packet, std::string& out);
// Total bytes of encode(packet) (fixed header included): what Maximum Packet Size limits.
// For a PUBLISH, more than kMaxRemainingLength + 5 never fits any broker.
size_t encodedSize(const Packet& packet);
size_t encodedSize(const Publish& packet);

// ---- Decoding ----
enum class Direction { FromServer, FromClient };

struct DecodeError {
  // 0x81, 0x82 or 0x95; 0x84 Unsupported Protocol Version for a CONNECT whose level is not 5
  // (the CONNACK reason a server answers it with, 3.1.2.2).
  uint8_t reason_code = reason::kMalformedPacket;
  std::string what;  // one sentence, e.g. "PUBLISH: property 0x02 appears twice"
};

// Where the first packet in `buffer` ends. `size` is the whole packet's size (fixed header
// included) when complete; Incomplete when more bytes are needed (at most 5 bytes suffice to
// know the size); Error when the Remaining Length is not a valid Variable Byte Integer
// (0x81) or the packet is larger than `maximum_packet_size` (0x95, without waiting for it).
struct Frame {
  enum class State { Complete, Incomplete, Error } state = State::Incomplete;
  size_t size = 0;
  DecodeError error;
};
Frame frameAt(std::string_view buffer, uint32_t maximum_packet_size);

// Decodes exactly one whole packet (as delimited by frameAt). Never throws.
struct Decoded {
  std::optional<Packet> packet;  // set on success
  DecodeError error;             // meaningful when !packet
};
Decoded decode(std::string_view packet, Direction direction);

// Strings and topic names are checked with engine/core/utf8.h (isValidMqttString) and
// engine/core/topic_names.h (isValidMqttTopicName): one rule for the codec, the transforms and
// the config validator.

}  // namespace dataflow::mqtt::wire
