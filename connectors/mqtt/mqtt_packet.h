// Sizes of MQTT v5 PUBLISH packets as they go on the wire, for the broker's Maximum Packet Size.
// Pure: no network, no paho.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/core/message.h"

namespace dataflow::mqtt {

// Bytes of a Variable Byte Integer (MQTT v5 §1.5.5) holding `value`: 1 to 4 (5 for values beyond
// the largest the protocol allows, 268,435,455, so that such a size is never "small enough").
size_t variableByteIntegerSize(size_t value);

// The exact size in bytes of the PUBLISH packet MqttDestination sends for `message` at `qos`
// (§3.3): fixed header byte + Remaining Length + topic name (2 + bytes) + packet identifier (QoS
// > 0) + Property Length + the properties it writes (Payload Format Indicator, Message Expiry
// Interval, Content Type, Response Topic, Correlation Data, each user property; never a Topic
// Alias) + payload. This is the "total packet size" the broker's Maximum Packet Size limits.
size_t publishPacketSize(const Message& message, int qos);

}  // namespace dataflow::mqtt
