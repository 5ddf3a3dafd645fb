// Conversions between the codec's PUBLISH (wire/codec.h) and the engine's Message, both ways.
// Pure: no network.
#pragma once

#include <cstddef>
#include <cstdint>

#include "connectors/mqtt/wire/codec.h"
#include "engine/core/clock.h"
#include "engine/core/message.h"

namespace dataflow::mqtt {

// Spare slots reserved in Message::properties beyond the user properties: the MQTT->Kafka stage
// appends up to five built-in properties as headers, and growing the vector there would
// reallocate (measured: reserving saves about 60% of that stage's cost).
inline constexpr size_t kSparePropertySlots = 5;

// Moves topic, payload, QoS, retain flag, the five PUBLISH built-ins (Payload Format Indicator,
// Message Expiry Interval, Content Type, Response Topic, Correlation Data, all binary-safe) and
// the user properties in wire order with duplicates kept. Topic Alias and Subscription
// Identifiers are connection-local and left out. timestamp_ms and received_at come from `clock`
// at the call; ack.sequence = `sequence` (the client's receipt).
Message fromPublish(wire::Publish&& in, const Clock& clock, uint64_t sequence);

// The PUBLISH MqttDestination sends for `message` at `qos`: topic, payload, retain = message.retain
// (the transform stages already cleared it for `retain: Never`), the five built-ins that are set
// and the user properties in order with duplicates. Never a Topic Alias. Topic, payload and
// properties are moved, not copied.
wire::Publish toPublish(Message&& message, int qos);

}  // namespace dataflow::mqtt
