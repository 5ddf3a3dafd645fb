// The MQTT v5 codec: round trips of every packet with every property, the specification's and
// python3-paho-mqtt's bytes, framing, and one decode error of every class the header lists.
#include "connectors/mqtt/wire/codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace dataflow::mqtt::wire {
namespace {

std::string bytes(std::initializer_list<uint8_t> list) {
  return std::string(list.begin(), list.end());
}
template <size_t N>
std::string bytes(const uint8_t (&array)[N]) {
  return std::string(array, array + N);
}

std::string encoded(const Packet& packet) {
  std::string out;
  encode(packet, out);
  return out;
}

// Decodes and requires success; the packet or a failure naming the error.
Packet decodeOk(const std::string& data, Direction direction) {
  Decoded d = decode(data, direction);
  EXPECT_TRUE(d.packet.has_value()) << d.error.what;
  return d.packet.value_or(Packet{Pingreq{}});
}

// Decodes and requires the error `code` with `fragment` in its text, which names the packet.
void expectError(const std::string& data, Direction direction, uint8_t code,
                 const std::string& fragment) {
  Decoded d = decode(data, direction);
  ASSERT_FALSE(d.packet.has_value()) << "decoded although " << fragment << " was expected";
  EXPECT_EQ(d.error.reason_code, code) << d.error.what;
  EXPECT_NE(d.error.what.find(fragment), std::string::npos) << d.error.what;
}

Ack ack(PacketType type, uint16_t packet_id) {
  Ack a;
  a.type = type;
  a.packet_id = packet_id;
  return a;
}

// Wraps a body in a fixed header with a one-byte Remaining Length (bodies here are short).
std::string packet(uint8_t first, const std::string& body) {
  std::string out(1, static_cast<char>(first));
  out.push_back(static_cast<char>(body.size()));
  return out + body;
}

// ---- Packets encoded by python3-paho-mqtt 1.6.1 (codec_crosscheck.py); paste its output here ----

// from codec_crosscheck.py: connect_basic
constexpr uint8_t kPahoConnectBasic[] = {
    0x10, 0x2B, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x05, 0xC2, 0x00, 0x1E, 0x08, 0x11, 0x00,
    0x00, 0x0E, 0x10, 0x21, 0x00, 0x64, 0x00, 0x08, 0x62, 0x72, 0x69, 0x64, 0x67, 0x65, 0x2D,
    0x31, 0x00, 0x04, 0x75, 0x73, 0x65, 0x72, 0x00, 0x06, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74};
// from codec_crosscheck.py: connect_all
constexpr uint8_t kPahoConnectAll[] = {
    0x10, 0x4F, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x05, 0xC0, 0x00, 0x3C, 0x2E, 0x11,
    0x00, 0x00, 0x00, 0x07, 0x15, 0x00, 0x0B, 0x53, 0x43, 0x52, 0x41, 0x4D, 0x2D, 0x53,
    0x48, 0x41, 0x2D, 0x31, 0x16, 0x00, 0x02, 0x01, 0x02, 0x17, 0x00, 0x19, 0x01, 0x21,
    0x03, 0xE8, 0x22, 0x00, 0x0A, 0x26, 0x00, 0x01, 0x6B, 0x00, 0x01, 0x76, 0x27, 0x00,
    0x10, 0x00, 0x00, 0x00, 0x08, 0x62, 0x72, 0x69, 0x64, 0x67, 0x65, 0x2D, 0x31, 0x00,
    0x04, 0x75, 0x73, 0x65, 0x72, 0x00, 0x04, 0x00, 0xFF, 0x70, 0x77};
// from codec_crosscheck.py: publish_qos1_props
constexpr uint8_t kPahoPublishQos1Props[] = {
    0x33, 0x45, 0x00, 0x0A, 0x73, 0x65, 0x6E, 0x73, 0x6F, 0x72, 0x73, 0x2F, 0x74, 0x31, 0x00,
    0x07, 0x32, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x3C, 0x03, 0x00, 0x0A, 0x74, 0x65, 0x78,
    0x74, 0x2F, 0x70, 0x6C, 0x61, 0x69, 0x6E, 0x08, 0x00, 0x08, 0x72, 0x65, 0x70, 0x6C, 0x79,
    0x2F, 0x74, 0x6F, 0x09, 0x00, 0x02, 0x00, 0x01, 0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x31,
    0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x32, 0x32, 0x31, 0x2E, 0x35};
// from codec_crosscheck.py: publish_qos0
constexpr uint8_t kPahoPublishQos0[] = {0x30, 0x08, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x68, 0x69};
// from codec_crosscheck.py: subscribe
constexpr uint8_t kPahoSubscribe[] = {0x82, 0x20, 0x00, 0x01, 0x02, 0x0B, 0x07, 0x00, 0x09,
                                      0x73, 0x65, 0x6E, 0x73, 0x6F, 0x72, 0x73, 0x2F, 0x23,
                                      0x1D, 0x00, 0x0C, 0x24, 0x73, 0x68, 0x61, 0x72, 0x65,
                                      0x2F, 0x67, 0x2F, 0x78, 0x2F, 0x2B, 0x02};
// from codec_crosscheck.py: unsubscribe
constexpr uint8_t kPahoUnsubscribe[] = {0xA2, 0x13, 0x00, 0x01, 0x00, 0x00, 0x09,
                                        0x73, 0x65, 0x6E, 0x73, 0x6F, 0x72, 0x73,
                                        0x2F, 0x23, 0x00, 0x03, 0x61, 0x2F, 0x62};
// from codec_crosscheck.py: disconnect_with_will
constexpr uint8_t kPahoDisconnectWithWill[] = {0xE0, 0x07, 0x04, 0x05, 0x11,
                                               0x00, 0x00, 0x00, 0x00};
// from codec_crosscheck.py: puback
constexpr uint8_t kPahoPuback[] = {0x40, 0x02, 0x00, 0x01};
// from codec_crosscheck.py: pubrel
constexpr uint8_t kPahoPubrel[] = {0x62, 0x02, 0x02, 0x01};
// from codec_crosscheck.py: pingreq
constexpr uint8_t kPahoPingreq[] = {0xC0, 0x00};

// ---- Every packet with every property ----

Connect fullConnect() {
  Connect c;
  c.client_id = "bridge-1";
  c.clean_start = true;
  c.keep_alive_seconds = 300;
  c.username = "user";
  c.password = std::string("\x00\xffpw", 4);
  c.session_expiry_interval = 3600;
  c.receive_maximum = 1000;
  c.maximum_packet_size = 1 << 20;
  c.topic_alias_maximum = 16;
  c.request_response_information = 1;
  c.request_problem_information = 0;
  c.authentication_method = "SCRAM-SHA-256";
  c.authentication_data = std::string("\x00\x01\x02", 3);
  c.user_properties = {{"k", "v"}, {"k", "w"}};
  return c;
}

Connack fullConnack() {
  Connack c;
  c.session_present = true;
  c.reason_code = reason::kSuccess;
  c.session_expiry_interval = 0xFFFFFFFF;
  c.receive_maximum = 20;
  c.maximum_qos = 1;
  c.retain_available = 0;
  c.maximum_packet_size = 2'000'000;
  c.assigned_client_identifier = "auto-1234";
  c.topic_alias_maximum = 10;
  c.reason_string = "welcome";
  c.wildcard_subscription_available = 1;
  c.subscription_identifiers_available = 1;
  c.shared_subscription_available = 0;
  c.server_keep_alive = 60;
  c.response_information = "resp/";
  c.server_reference = "other:1883";
  c.authentication_method = "SCRAM-SHA-256";
  c.authentication_data = std::string("\xff\x00", 2);
  c.user_properties = {{"server", "mosquitto"}};
  return c;
}

Publish fullPublish() {
  Publish p;
  p.dup = true;
  p.qos = 2;
  p.retain = true;
  p.topic = "sensors/\xc3\xa9t\xc3\xa9/1";  // "été", two-byte UTF-8
  p.packet_id = 65535;
  p.properties.payload_format_indicator = 1;
  p.properties.message_expiry_interval = 60;
  p.properties.content_type = "application/json";
  p.properties.response_topic = "reply/here";
  p.properties.correlation_data = std::string("\x00\x01", 2);
  p.topic_alias = 3;
  p.subscription_identifiers = {1, 127, 128, 268'435'455};
  p.user_properties = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
  p.payload = std::string("{\"t\":1}\x00\xff", 9);
  return p;
}

Ack fullAck(PacketType type) {
  Ack a;
  a.type = type;
  a.packet_id = 42;
  a.reason_code = (type == PacketType::Pubrel || type == PacketType::Pubcomp)
                      ? reason::kPacketIdentifierNotFound
                      : reason::kQuotaExceeded;
  a.reason_string = "why";
  a.user_properties = {{"x", "y"}};
  return a;
}

Subscribe fullSubscribe() {
  Subscribe s;
  s.packet_id = 7;
  s.subscription_identifier = 268'435'455;
  s.user_properties = {{"k", "v"}};
  s.subscriptions = {{"sensors/#", 1, true, true, 2},
                     {"$share/g/a/+", 2, false, false, 1},
                     {"plain", 0, false, false, 0}};
  return s;
}

Suback fullSuback(PacketType type) {
  Suback s;
  s.type = type;
  s.packet_id = 7;
  s.reason_string = "partly";
  s.user_properties = {{"k", "v"}};
  s.reason_codes = type == PacketType::Suback ? std::vector<uint8_t>{0x00, 0x01, 0x02, 0x87, 0xA2}
                                              : std::vector<uint8_t>{0x00, 0x11, 0x8F};
  return s;
}

Unsubscribe fullUnsubscribe() {
  Unsubscribe u;
  u.packet_id = 9;
  u.user_properties = {{"k", "v"}};
  u.filters = {"sensors/#", "a/+/b"};
  return u;
}

Disconnect fullDisconnect(Direction from) {
  Disconnect d;
  d.reason_code =
      from == Direction::FromClient ? reason::kDisconnectWithWillMessage : reason::kServerMoved;
  if (from == Direction::FromClient) d.session_expiry_interval = 0;
  d.reason_string = "bye";
  if (from == Direction::FromServer) d.server_reference = "other:1883";
  d.user_properties = {{"k", "v"}};
  return d;
}

Auth fullAuth() {
  Auth a;
  a.reason_code = reason::kContinueAuthentication;
  a.authentication_method = "SCRAM-SHA-256";
  a.authentication_data = std::string("\x00\x01", 2);
  a.reason_string = "more";
  a.user_properties = {{"k", "v"}};
  return a;
}

struct Case {
  Packet packet;
  Direction from;
};

std::vector<Case> everyPacket() {
  std::vector<Case> cases = {
      {fullConnect(), Direction::FromClient},
      {Connect{}, Direction::FromClient},
      {fullConnack(), Direction::FromServer},
      {Connack{}, Direction::FromServer},
      {fullPublish(), Direction::FromServer},
      {Publish{}, Direction::FromClient},
      {fullSubscribe(), Direction::FromClient},
      {fullSuback(PacketType::Suback), Direction::FromServer},
      {fullSuback(PacketType::Unsuback), Direction::FromServer},
      {fullUnsubscribe(), Direction::FromClient},
      {Pingreq{}, Direction::FromClient},
      {Pingresp{}, Direction::FromServer},
      {fullDisconnect(Direction::FromClient), Direction::FromClient},
      {fullDisconnect(Direction::FromServer), Direction::FromServer},
      {Disconnect{}, Direction::FromServer},
      {fullAuth(), Direction::FromServer},
      {fullAuth(), Direction::FromClient},
      {Auth{}, Direction::FromClient},
  };
  // Publish{} has an empty topic: give it one (an empty topic needs a Topic Alias).
  std::get<Publish>(cases[5].packet).topic = "t";
  Publish client_publish = fullPublish();
  client_publish.subscription_identifiers.clear();
  cases.push_back({client_publish, Direction::FromClient});
  for (PacketType t :
       {PacketType::Puback, PacketType::Pubrec, PacketType::Pubrel, PacketType::Pubcomp}) {
    cases.push_back({fullAck(t), Direction::FromServer});
    cases.push_back({fullAck(t), Direction::FromClient});
    Ack minimal;
    minimal.type = t;
    minimal.packet_id = 1;
    cases.push_back({minimal, Direction::FromClient});
    Ack code_only = minimal;
    code_only.reason_code =
        t == PacketType::Pubrel ? 0x92 : (t == PacketType::Pubcomp ? 0x92 : 0x10);
    cases.push_back({code_only, Direction::FromServer});
  }
  return cases;
}

TEST(MqttCodecTest, EveryPacketRoundTripsWithEveryProperty) {
  for (const Case& c : everyPacket()) {
    const std::string wire = encoded(c.packet);
    SCOPED_TRACE(toString(static_cast<PacketType>(static_cast<uint8_t>(wire[0]) >> 4)));
    EXPECT_EQ(encodedSize(c.packet), wire.size());
    Frame f = frameAt(wire, UINT32_MAX);
    ASSERT_EQ(f.state, Frame::State::Complete);
    EXPECT_EQ(f.size, wire.size());
    Decoded d = decode(wire, c.from);
    ASSERT_TRUE(d.packet.has_value()) << d.error.what;
    EXPECT_TRUE(*d.packet == c.packet);
  }
}

TEST(MqttCodecTest, EncodeAppendsAfterWhatIsAlreadyThere) {
  std::string out = "prefix";
  encode(Pingreq{}, out);
  encode(ack(PacketType::Puback, 1), out);
  EXPECT_EQ(out, "prefix" + bytes({0xC0, 0x00, 0x40, 0x02, 0x00, 0x01}));
}

// ---- Bytes written by hand from the specification ----

TEST(MqttCodecTest, EncodesTheSpecificationsBytes) {
  EXPECT_EQ(encoded(ack(PacketType::Puback, 1)), bytes({0x40, 0x02, 0x00, 0x01}));
  EXPECT_EQ(encoded(ack(PacketType::Pubrec, 0x0102)), bytes({0x50, 0x02, 0x01, 0x02}));
  EXPECT_EQ(encoded(ack(PacketType::Pubrel, 1)), bytes({0x62, 0x02, 0x00, 0x01}));
  EXPECT_EQ(encoded(ack(PacketType::Pubcomp, 1)), bytes({0x70, 0x02, 0x00, 0x01}));
  EXPECT_EQ(encoded(Pingreq{}), bytes({0xC0, 0x00}));
  EXPECT_EQ(encoded(Pingresp{}), bytes({0xD0, 0x00}));
  EXPECT_EQ(encoded(Disconnect{}), bytes({0xE0, 0x00}));
  EXPECT_EQ(encoded(Auth{}), bytes({0xF0, 0x00}));

  Connect c;
  c.client_id = "a";
  c.clean_start = true;
  c.keep_alive_seconds = 60;
  EXPECT_EQ(encoded(c), bytes({0x10, 0x0E, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
                               0x00, 0x00, 0x01, 'a'}));
  // Password without User Name: allowed in v5 (3.1.2.9), flag 0x40 alone.
  c.password = "p";
  EXPECT_EQ(encoded(c), bytes({0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x42, 0x00, 0x3C,
                               0x00, 0x00, 0x01, 'a', 0x00, 0x01, 'p'}));

  Subscribe s;
  s.packet_id = 10;
  s.subscriptions = {{"a/#", 1, true, false, 2}};
  EXPECT_EQ(encoded(s), bytes({0x82, 0x09, 0x00, 0x0A, 0x00, 0x00, 0x03, 'a', '/', '#', 0x25}));
}

TEST(MqttCodecTest, AcksDisconnectAndAuthUseTheShortestForm) {
  Ack a = ack(PacketType::Puback, 1);
  a.reason_code = reason::kNoMatchingSubscribers;
  EXPECT_EQ(encoded(a), bytes({0x40, 0x03, 0x00, 0x01, 0x10}));
  a.reason_string = "r";
  EXPECT_EQ(encoded(a), bytes({0x40, 0x08, 0x00, 0x01, 0x10, 0x04, 0x1F, 0x00, 0x01, 'r'}));
  a.reason_code = reason::kSuccess;  // Success with a property still carries its Reason Code
  EXPECT_EQ(encoded(a), bytes({0x40, 0x08, 0x00, 0x01, 0x00, 0x04, 0x1F, 0x00, 0x01, 'r'}));

  Disconnect d;
  d.reason_code = reason::kServerShuttingDown;
  EXPECT_EQ(encoded(d), bytes({0xE0, 0x01, 0x8B}));

  Auth au;
  au.reason_code = reason::kReAuthenticate;
  EXPECT_EQ(encoded(au), bytes({0xF0, 0x02, 0x19, 0x00}));

  // The longer forms of the same packets decode to the same structs.
  EXPECT_TRUE(decodeOk(bytes({0x40, 0x03, 0x00, 0x01, 0x00}), Direction::FromServer) ==
              Packet(ack(PacketType::Puback, 1)));
  EXPECT_TRUE(decodeOk(bytes({0x40, 0x04, 0x00, 0x01, 0x00, 0x00}), Direction::FromServer) ==
              Packet(ack(PacketType::Puback, 1)));
  EXPECT_TRUE(decodeOk(bytes({0xE0, 0x02, 0x00, 0x00}), Direction::FromServer) ==
              Packet(Disconnect{}));
  EXPECT_TRUE(decodeOk(bytes({0xF0, 0x02, 0x00, 0x00}), Direction::FromServer) == Packet(Auth{}));
}

TEST(MqttCodecTest, EncodedSizeFollowsTheRemainingLengthAcrossItsBoundaries) {
  // Topic "t" (3 bytes) + Property Length (1) = 4 bytes before the payload.
  for (auto [payload, total] : std::vector<std::pair<size_t, size_t>>{
           {123, 2 + 127}, {124, 3 + 128}, {16'379, 3 + 16'383}, {16'380, 4 + 16'384}}) {
    Publish p;
    p.topic = "t";
    p.payload.assign(payload, 'x');
    EXPECT_EQ(encodedSize(p), total) << payload;
    const std::string wire = encoded(p);
    EXPECT_EQ(wire.size(), total);
    Frame f = frameAt(wire, UINT32_MAX);
    EXPECT_EQ(f.state, Frame::State::Complete);
    EXPECT_EQ(f.size, total);
    EXPECT_TRUE(decodeOk(wire, Direction::FromServer) == Packet(p));
  }
}

// ---- python3-paho-mqtt's bytes ----

TEST(MqttCodecTest, MatchesPahosEncoderByteForByte) {
  Connect c;
  c.client_id = "bridge-1";
  c.clean_start = true;
  c.keep_alive_seconds = 30;
  c.username = "user";
  c.password = "secret";
  c.session_expiry_interval = 3600;
  c.receive_maximum = 100;
  EXPECT_EQ(encoded(c), bytes(kPahoConnectBasic));
  EXPECT_TRUE(decodeOk(bytes(kPahoConnectBasic), Direction::FromClient) == Packet(c));

  Publish p;
  p.qos = 1;
  p.retain = true;
  p.topic = "sensors/t1";
  p.packet_id = 7;
  p.properties.payload_format_indicator = 1;
  p.properties.message_expiry_interval = 60;
  p.properties.content_type = "text/plain";
  p.properties.response_topic = "reply/to";
  p.properties.correlation_data = std::string("\x00\x01", 2);
  p.user_properties = {{"a", "1"}, {"a", "2"}};
  p.payload = "21.5";
  EXPECT_EQ(encoded(p), bytes(kPahoPublishQos1Props));
  EXPECT_TRUE(decodeOk(bytes(kPahoPublishQos1Props), Direction::FromClient) == Packet(p));

  Publish p0;
  p0.topic = "a/b";
  p0.payload = "hi";
  EXPECT_EQ(encoded(p0), bytes(kPahoPublishQos0));

  Subscribe s;
  s.packet_id = 1;
  s.subscription_identifier = 7;
  s.subscriptions = {{"sensors/#", 1, true, true, 1}, {"$share/g/x/+", 2, false, false, 0}};
  EXPECT_EQ(encoded(s), bytes(kPahoSubscribe));
  EXPECT_TRUE(decodeOk(bytes(kPahoSubscribe), Direction::FromClient) == Packet(s));

  Unsubscribe u;
  u.packet_id = 1;
  u.filters = {"sensors/#", "a/b"};
  EXPECT_EQ(encoded(u), bytes(kPahoUnsubscribe));

  Disconnect d;
  d.reason_code = reason::kDisconnectWithWillMessage;
  d.session_expiry_interval = 0;
  EXPECT_EQ(encoded(d), bytes(kPahoDisconnectWithWill));
  EXPECT_TRUE(decodeOk(bytes(kPahoDisconnectWithWill), Direction::FromClient) == Packet(d));

  EXPECT_EQ(encoded(ack(PacketType::Puback, 1)), bytes(kPahoPuback));
  EXPECT_EQ(encoded(ack(PacketType::Pubrel, 513)), bytes(kPahoPubrel));
  EXPECT_EQ(encoded(Pingreq{}), bytes(kPahoPingreq));
}

TEST(MqttCodecTest, DecodesPahosConnectWithEveryProperty) {
  // Paho orders properties by identifier, this codec by the specification's table, so only the
  // decoded struct is compared.
  Connect c;
  c.client_id = "bridge-1";
  c.keep_alive_seconds = 60;
  c.username = "user";
  c.password = std::string("\x00\xffpw", 4);
  c.session_expiry_interval = 7;
  c.receive_maximum = 1000;
  c.maximum_packet_size = 1 << 20;
  c.topic_alias_maximum = 10;
  c.request_response_information = 1;
  c.request_problem_information = 0;
  c.authentication_method = "SCRAM-SHA-1";
  c.authentication_data = std::string("\x01\x02", 2);
  c.user_properties = {{"k", "v"}};
  EXPECT_TRUE(decodeOk(bytes(kPahoConnectAll), Direction::FromClient) == Packet(c));
  EXPECT_EQ(encodedSize(c), sizeof(kPahoConnectAll));
}

// ---- Framing ----

TEST(MqttCodecTest, FrameAtReportsIncompleteCompleteTooLargeAndBadLengths) {
  EXPECT_EQ(frameAt("", 100).state, Frame::State::Incomplete);
  EXPECT_EQ(frameAt(bytes({0x30}), 100).state, Frame::State::Incomplete);
  EXPECT_EQ(frameAt(bytes({0x30, 0x80}), 100).state, Frame::State::Incomplete);
  EXPECT_EQ(frameAt(bytes({0x40, 0x02, 0x00}), 100).state, Frame::State::Incomplete);

  Frame f = frameAt(bytes({0x40, 0x02, 0x00, 0x01, 0xC0, 0x00}), 100);
  EXPECT_EQ(f.state, Frame::State::Complete);
  EXPECT_EQ(f.size, 4u);
  EXPECT_EQ(frameAt(bytes({0x40, 0x02, 0x00, 0x01}), 4).state, Frame::State::Complete);

  // Too large: known from the header alone, without waiting for the body.
  f = frameAt(bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F}), 1000);
  EXPECT_EQ(f.state, Frame::State::Error);
  EXPECT_EQ(f.error.reason_code, reason::kPacketTooLarge);
  EXPECT_NE(f.error.what.find("PUBLISH"), std::string::npos) << f.error.what;
  EXPECT_EQ(frameAt(bytes({0x40, 0x02, 0x00, 0x01}), 3).state, Frame::State::Error);
  // The largest Remaining Length is fine, only incomplete.
  EXPECT_EQ(frameAt(bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F}), UINT32_MAX).state,
            Frame::State::Incomplete);

  // A fifth length byte.
  f = frameAt(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}), UINT32_MAX);
  EXPECT_EQ(f.state, Frame::State::Error);
  EXPECT_EQ(f.error.reason_code, reason::kMalformedPacket);
  EXPECT_EQ(f.error.what, "PUBLISH: Remaining Length is longer than 4 bytes");
  // Known to be bad after the fourth byte, before the fifth arrives.
  EXPECT_EQ(frameAt(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF}), UINT32_MAX).state, Frame::State::Error);
  // Not the shortest form (MQTT-1.5.5-1): 0 in two bytes, 2 in two bytes.
  for (const std::string& header :
       {bytes({0x30, 0x80, 0x00}), bytes({0x30, 0x82, 0x00}), bytes({0x30, 0x80, 0x80, 0x00})}) {
    f = frameAt(header, UINT32_MAX);
    EXPECT_EQ(f.state, Frame::State::Error);
    EXPECT_EQ(f.error.reason_code, reason::kMalformedPacket);
  }
  expectError(bytes({0xC0, 0x80, 0x00}), Direction::FromClient, reason::kMalformedPacket,
              "shortest form");
}

// ---- Decode errors, one of each class ----

constexpr auto kServer = Direction::FromServer;
constexpr auto kClient = Direction::FromClient;

TEST(MqttCodecDecodeTest, RejectsBadFixedHeaderFlags) {
  expectError(bytes({0x41, 0x02, 0x00, 0x01}), kServer, 0x81, "PUBACK: fixed header flags");
  expectError(bytes({0x60, 0x02, 0x00, 0x01}), kServer, 0x81, "PUBREL: fixed header flags");
  expectError(packet(0x80, bytes({0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x00})), kClient, 0x81,
              "SUBSCRIBE: fixed header flags");
  expectError(bytes({0xC1, 0x00}), kClient, 0x81, "PINGREQ");
  expectError(bytes({0x00, 0x00}), kClient, 0x81, "reserved");
}

TEST(MqttCodecDecodeTest, RejectsQos3AndDupOnQos0) {
  expectError(packet(0x36, bytes({0x00, 0x01, 't', 0x00, 0x01, 0x00})), kServer, 0x81, "QoS is 3");
  expectError(packet(0x38, bytes({0x00, 0x01, 't', 0x00})), kServer, 0x81, "DUP");
  // DUP on QoS 1 is fine.
  decodeOk(packet(0x3A, bytes({0x00, 0x01, 't', 0x00, 0x01, 0x00})), kServer);
}

TEST(MqttCodecDecodeTest, RejectsPacketIdentifierZero) {
  expectError(bytes({0x40, 0x02, 0x00, 0x00}), kServer, 0x82, "PUBACK: Packet Identifier is 0");
  expectError(packet(0x32, bytes({0x00, 0x01, 't', 0x00, 0x00, 0x00})), kServer, 0x82,
              "PUBLISH: Packet Identifier is 0");
  expectError(packet(0x82, bytes({0x00, 0x00, 0x00, 0x00, 0x01, 'a', 0x00})), kClient, 0x82,
              "SUBSCRIBE: Packet Identifier is 0");
  expectError(packet(0x90, bytes({0x00, 0x00, 0x00, 0x00})), kServer, 0x82, "SUBACK");
}

TEST(MqttCodecDecodeTest, RejectsWildcardsAndEmptyTopicsInPublish) {
  expectError(packet(0x30, bytes({0x00, 0x03, 'a', '/', '+', 0x00})), kServer, 0x82, "wildcard");
  expectError(packet(0x30, bytes({0x00, 0x01, '#', 0x00})), kServer, 0x82, "wildcard");
  expectError(packet(0x30, bytes({0x00, 0x00, 0x00})), kServer, 0x82, "Topic Alias");
  // An empty topic with a Topic Alias is how an alias is used.
  Packet p = decodeOk(packet(0x30, bytes({0x00, 0x00, 0x03, 0x23, 0x00, 0x05})), kServer);
  EXPECT_EQ(std::get<Publish>(p).topic_alias, 5);
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x03, 0x23, 0x00, 0x00})), kServer, 0x82,
              "Topic Alias) has the invalid value 0");
}

TEST(MqttCodecDecodeTest, RejectsInvalidUtf8) {
  // U+0000, a surrogate (U+D800), an overlong '/' (C0 AF).
  for (const std::string& bad :
       {bytes({0x00}), bytes({0xED, 0xA0, 0x80}), bytes({0xC0, 0xAF}), bytes({0xFF})}) {
    std::string topic = bytes({0x00, static_cast<uint8_t>(bad.size() + 1), 'a'}) + bad;
    expectError(packet(0x30, topic + bytes({0x00})), kServer, 0x81,
                "PUBLISH: Topic Name is not valid MQTT UTF-8");
    std::string user =
        bytes({0x26, 0x00, static_cast<uint8_t>(bad.size())}) + bad + bytes({0x00, 0x01, 'v'});
    expectError(packet(0x30, bytes({0x00, 0x01, 't', static_cast<uint8_t>(user.size())}) + user),
                kServer, 0x81, "User Property name is not valid");
    expectError(packet(0x10, bytes({0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x00, 0x00, 0x00, 0x00,
                                    0x00, static_cast<uint8_t>(bad.size())}) +
                                 bad),
                kClient, 0x81, "CONNECT: Client Identifier is not valid");
  }
}

TEST(MqttCodecDecodeTest, RejectsRepeatedAndMisplacedProperties) {
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x0A, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2})),
              kServer, 0x82, "PUBLISH: property 0x02 (Message Expiry Interval) appears twice");
  // User Property and a PUBLISH's Subscription Identifier may repeat.
  Packet p =
      decodeOk(packet(0x30, bytes({0x00, 0x01, 't', 0x04, 0x0B, 0x01, 0x0B, 0x02})), kServer);
  EXPECT_EQ(std::get<Publish>(p).subscription_identifiers, (std::vector<uint32_t>{1, 2}));
  // ...but not a SUBSCRIBE's.
  expectError(
      packet(0x82, bytes({0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, 'a', 0x00})),
      kClient, 0x82, "appears twice");
  // Session Expiry Interval belongs to CONNECT, CONNACK and DISCONNECT.
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x05, 0x11, 0, 0, 0, 1})), kServer, 0x82,
              "PUBLISH: property 0x11 (Session Expiry Interval) is not allowed here");
  // A client's PUBLISH carries no Subscription Identifier; a server's DISCONNECT no Session
  // Expiry Interval.
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x02, 0x0B, 0x01})), kClient, 0x82,
              "not allowed");
  expectError(packet(0xE0, bytes({0x00, 0x05, 0x11, 0, 0, 0, 1})), kServer, 0x82, "not allowed");
  decodeOk(packet(0xE0, bytes({0x00, 0x05, 0x11, 0, 0, 0, 1})), kClient);
  // Unknown identifiers are malformed.
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x02, 0x05, 0x00})), kServer, 0x81,
              "0x05 is not a known property");
  // Property Length beyond the packet, and a value crossing the properties' end.
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x09, 0x01})), kServer, 0x81, "Property Length");
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x02, 0x02, 0, 0, 0, 1})), kServer, 0x81,
              "cut short");
}

TEST(MqttCodecDecodeTest, RejectsInvalidPropertyValues) {
  auto connack = [](std::string props) {
    return packet(0x20, bytes({0x00, 0x00, static_cast<uint8_t>(props.size())}) + props);
  };
  expectError(connack(bytes({0x21, 0x00, 0x00})), kServer, 0x82, "Receive Maximum");
  expectError(connack(bytes({0x27, 0, 0, 0, 0})), kServer, 0x82, "Maximum Packet Size");
  expectError(connack(bytes({0x24, 0x02})), kServer, 0x82, "Maximum QoS");
  expectError(connack(bytes({0x25, 0x02})), kServer, 0x82, "Retain Available");
  expectError(connack(bytes({0x28, 0x02})), kServer, 0x82, "Wildcard Subscription Available");
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x02, 0x01, 0x02})), kServer, 0x82,
              "Payload Format Indicator");
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x02, 0x0B, 0x00})), kServer, 0x82,
              "Subscription Identifier");
  expectError(packet(0x30, bytes({0x00, 0x01, 't', 0x04, 0x08, 0x00, 0x01, '#'})), kServer, 0x82,
              "Response Topic");
}

TEST(MqttCodecDecodeTest, RejectsTrailingAndMissingBytes) {
  expectError(bytes({0xC0, 0x01, 0x00}), kClient, 0x81, "PINGREQ: 1 bytes left over");
  expectError(bytes({0x40, 0x02, 0x00, 0x01, 0xFF}), kServer, 0x81, "Remaining Length 2");
  expectError(bytes({0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}), kServer, 0x81, "left over");
  expectError(bytes({0x40, 0x01, 0x00}), kServer, 0x81, "cut short");
  // A string whose length says 10 with 3 bytes left.
  expectError(packet(0x30, bytes({0x00, 0x0A, 'a', '/', 'b'})), kServer, 0x81,
              "Topic Name is cut short");
  expectError(packet(0x20, bytes({0x00, 0x00})), kServer, 0x81, "CONNACK: Property Length");
}

TEST(MqttCodecDecodeTest, RejectsPacketsFromTheWrongSide) {
  const std::string connect = encoded(fullConnect());
  expectError(connect, kServer, 0x82, "CONNECT: a server never sends");
  expectError(encoded(Connack{}), kClient, 0x82, "CONNACK: a client never sends");
  expectError(encoded(fullSubscribe()), kServer, 0x82, "SUBSCRIBE");
  expectError(encoded(fullSuback(PacketType::Suback)), kClient, 0x82, "SUBACK");
  expectError(encoded(fullUnsubscribe()), kServer, 0x82, "UNSUBSCRIBE");
  expectError(encoded(fullSuback(PacketType::Unsuback)), kClient, 0x82, "UNSUBACK");
  expectError(encoded(Pingreq{}), kServer, 0x82, "PINGREQ");
  expectError(encoded(Pingresp{}), kClient, 0x82, "PINGRESP");
}

TEST(MqttCodecDecodeTest, RejectsReasonCodesThePacketMayNotCarry) {
  expectError(bytes({0x62, 0x03, 0x00, 0x01, 0x10}), kServer, 0x82, "PUBREL: Reason Code 0x10");
  expectError(bytes({0x40, 0x03, 0x00, 0x01, 0x92}), kServer, 0x82, "PUBACK: Reason Code 0x92");
  expectError(bytes({0xF0, 0x02, 0x87, 0x00}), kServer, 0x82, "AUTH");
  expectError(packet(0x90, bytes({0x00, 0x01, 0x00, 0x03})), kServer, 0x82, "SUBACK");
  // Session Present with a failure is a protocol error (MQTT-3.2.2-6).
  expectError(packet(0x20, bytes({0x01, 0x87, 0x00})), kServer, 0x82, "Session Present");
  expectError(packet(0x20, bytes({0x02, 0x00, 0x00})), kServer, 0x81, "reserved");
}

TEST(MqttCodecDecodeTest, ChecksConnect) {
  const std::string head = bytes({0x00, 0x04, 'M', 'Q', 'T', 'T'});
  expectError(packet(0x10, head + bytes({0x04, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x00})), kClient,
              reason::kUnsupportedProtocolVersion, "Protocol Version 4");
  expectError(packet(0x10, bytes({0x00, 0x04, 'M', 'Q', 'T', 'X', 0x05, 0x02, 0x00, 0x3C, 0x00,
                                  0x00, 0x00})),
              kClient, 0x82, "Protocol Name");
  expectError(packet(0x10, head + bytes({0x05, 0x03, 0x00, 0x3C, 0x00, 0x00, 0x00})), kClient, 0x81,
              "reserved Connect Flag");
  expectError(packet(0x10, head + bytes({0x05, 0x08, 0x00, 0x3C, 0x00, 0x00, 0x00})), kClient, 0x81,
              "Will QoS");
  // Authentication Data needs an Authentication Method (3.1.2.11.10).
  expectError(packet(0x10, head + bytes({0x05, 0x00, 0x00, 0x00, 0x04, 0x16, 0x00, 0x01, 0xAA, 0x00,
                                         0x00})),
              kClient, 0x82, "Authentication Method");
  // A Will (flag 0x04, QoS 1, retain) is checked, then dropped: Connect has no Will.
  Packet p = decodeOk(packet(0x10, head + bytes({0x05, 0x2E, 0x00, 0x3C, 0x00, 0x00, 0x01, 'c',
                                                 0x05, 0x18, 0,    0,    0,    9,    0x00, 0x03,
                                                 'w',  '/',  't',  0x00, 0x02, 0xFF, 0x00})),
                      kClient);
  EXPECT_EQ(std::get<Connect>(p).client_id, "c");
  EXPECT_TRUE(std::get<Connect>(p).clean_start);
  // A Will Topic with a wildcard, and a Will property CONNECT's own properties may not have.
  expectError(packet(0x10, head + bytes({0x05, 0x06, 0x00, 0x3C, 0x00, 0x00, 0x01, 'c', 0x00, 0x00,
                                         0x01, '#', 0x00, 0x00})),
              kClient, 0x82, "Will Topic");
  expectError(packet(0x10, head + bytes({0x05, 0x06, 0x00, 0x3C, 0x00, 0x00, 0x01, 'c', 0x02, 0x21,
                                         0x00, 0x01, 'w', 0x00, 0x00})),
              kClient, 0x82, "Will property 0x21");
  // Password without User Name is allowed in v5.
  p = decodeOk(
      packet(0x10, head + bytes({0x05, 0x40, 0x00, 0x3C, 0x00, 0x00, 0x01, 'c', 0x00, 0x01, 'p'})),
      kClient);
  EXPECT_FALSE(std::get<Connect>(p).username);
  EXPECT_EQ(std::get<Connect>(p).password, "p");
}

TEST(MqttCodecDecodeTest, ChecksSubscribeAndUnsubscribe) {
  expectError(packet(0x82, bytes({0x00, 0x01, 0x00})), kClient, 0x82, "no Topic Filter");
  expectError(packet(0xA2, bytes({0x00, 0x01, 0x00})), kClient, 0x82, "no Topic Filter");
  expectError(packet(0x82, bytes({0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x40})), kClient, 0x81,
              "reserved Subscription Options");
  expectError(packet(0x82, bytes({0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x03})), kClient, 0x82,
              "Maximum QoS is 3");
  expectError(packet(0x82, bytes({0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30})), kClient, 0x82,
              "Retain Handling is 3");
  expectError(packet(0x82, bytes({0x00, 0x01, 0x00, 0x00, 0x09, '$', 's', 'h', 'a', 'r', 'e', '/',
                                  'g', '/', 0x04})),
              kClient, 0x82, "No Local");
  expectError(packet(0x82, bytes({0x00, 0x01, 0x00, 0x00, 0x01, 'a'})), kClient, 0x81,
              "Subscription Options is cut short");
}

// ---- The fuzzer's seed corpus ----

TEST(MqttCodecTest, EverySeedOfTheFuzzCorpusDecodes) {
  // The seeds are only useful to the fuzzer if they get past the first check.
  const std::filesystem::path corpus =
      std::filesystem::path(DATAFLOW_SOURCE_DIR) / "tests/fuzz/mqtt/corpus";
  size_t seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Frame f = frameAt(data, UINT32_MAX);
    ASSERT_EQ(f.state, Frame::State::Complete) << entry.path();
    const std::string first = data.substr(0, f.size);
    EXPECT_TRUE(decode(first, Direction::FromServer).packet ||
                decode(first, Direction::FromClient).packet)
        << entry.path() << ": " << decode(first, Direction::FromServer).error.what << " / "
        << decode(first, Direction::FromClient).error.what;
    ++seeds;
  }
  EXPECT_GE(seeds, 12u);
}

// ---- Names ----

TEST(MqttCodecTest, NamesReasonCodesPerPacket) {
  EXPECT_EQ(reasonName(0x87), "0x87 Not authorized");
  EXPECT_EQ(reasonName(0x00), "0x00 Success");
  EXPECT_EQ(reasonName(0x00, PacketType::Disconnect), "0x00 Normal disconnection");
  EXPECT_EQ(reasonName(0x00, PacketType::Suback), "0x00 Granted QoS 0");
  EXPECT_EQ(reasonName(0x01, PacketType::Suback), "0x01 Granted QoS 1");
  EXPECT_EQ(reasonName(0x02, PacketType::Suback), "0x02 Granted QoS 2");
  EXPECT_EQ(reasonName(0x01, PacketType::Puback), "0x01 unknown reason code");
  EXPECT_EQ(reasonName(0x04, PacketType::Disconnect), "0x04 Disconnect with Will Message");
  EXPECT_EQ(reasonName(0x8A), "0x8A Banned");
  EXPECT_EQ(reasonName(0x95), "0x95 Packet too large");
  EXPECT_EQ(reasonName(0xA2), "0xA2 Wildcard Subscriptions not supported");
  EXPECT_EQ(reasonName(0xFF), "0xFF unknown reason code");
}

TEST(MqttCodecTest, NamesPacketTypes) {
  EXPECT_STREQ(toString(PacketType::Connect), "CONNECT");
  EXPECT_STREQ(toString(PacketType::Pubrel), "PUBREL");
  EXPECT_STREQ(toString(PacketType::Unsuback), "UNSUBACK");
  EXPECT_STREQ(toString(PacketType::Auth), "AUTH");
}

}  // namespace
}  // namespace dataflow::mqtt::wire
