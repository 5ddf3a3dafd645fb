// Turns one record librdkafka consumed into the engine's Message. Pure apart from reading the
// record; unit-tested through the Kafka source's integration tests (a record cannot be built
// without a client).
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>

#include "engine/core/message.h"

namespace dataflow::kafka {

// The record as a Message: topic = its Kafka topic name, payload, key (nullopt for a null key,
// "" for an empty one), partition, timestamp_ms (CreateTime or LogAppendTime as the topic keeps
// it; -1 when the record has none), properties = its headers in order with duplicates. A header
// with a NULL value becomes an empty value: neither MQTT user properties nor Message::properties
// can express "no value", and the name still arrives. ack = {generation, topic_index, partition,
// offset}; received_at as given.
Message toMessage(const rd_kafka_message_t& record, int32_t topic_index, uint64_t generation,
                  std::chrono::steady_clock::time_point received_at);

}  // namespace dataflow::kafka
