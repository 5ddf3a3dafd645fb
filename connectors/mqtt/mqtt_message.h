// Conversions between paho's message and the engine's Message, both ways. Pure: no network.
#pragma once

#include <mqtt/message.h>

#include <cstddef>
#include <cstdint>

#include "engine/core/clock.h"
#include "engine/core/message.h"

namespace dataflow::mqtt {

// Spare slots reserved in Message::properties beyond the user properties: the MQTT->Kafka stage
// appends up to five built-in properties as headers, and growing the vector there would
// reallocate (measured: reserving saves about 60% of that stage's cost).
inline constexpr size_t kSparePropertySlots = 5;

// Copies topic, payload, QoS, retain flag, the five PUBLISH built-ins (Payload Format Indicator,
// Message Expiry Interval, Content Type, Response Topic, Correlation Data, all binary-safe) and
// the user properties in wire order with duplicates kept. Topic Alias and Subscription
// Identifiers are connection-local and left out. timestamp_ms and received_at come from `clock`
// at the call; ack.sequence = `sequence`.
Message fromPaho(const ::mqtt::message& in, const Clock& clock, uint64_t sequence);

// The PUBLISH MqttDestination sends for `message` at `qos`: topic, payload, retain = message.retain
// (the transform stages already cleared it for `retain: Never`), and as properties the five
// built-ins that are set (Correlation Data binary-safe) followed by the user properties in order
// with duplicates. Never a Topic Alias. Topic and payload are moved, not copied; the paho
// message is what a republish sends again.
::mqtt::message_ptr toPaho(Message&& message, int qos);

// A copy of `publish` whose Message Expiry Interval property is `seconds`; every other property
// stays as it was, in order. For a PUBLISH that waited in MqttDestination before it is sent.
::mqtt::message_ptr withExpiryInterval(const ::mqtt::message& publish, uint32_t seconds);

}  // namespace dataflow::mqtt
