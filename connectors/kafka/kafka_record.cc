#include "connectors/kafka/kafka_record.h"

namespace dataflow::kafka {

Message toMessage(const rd_kafka_message_t& record, int32_t topic_index, uint64_t generation,
                  std::chrono::steady_clock::time_point received_at) {
  Message message;
  message.topic = rd_kafka_topic_name(record.rkt);
  if (record.payload) message.payload.assign(static_cast<const char*>(record.payload), record.len);
  if (record.key) message.key.emplace(static_cast<const char*>(record.key), record.key_len);
  message.partition = record.partition;
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const int64_t timestamp = rd_kafka_message_timestamp(&record, &type);
  message.timestamp_ms = type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : timestamp;
  message.received_at = received_at;
  // The headers stay owned by the record (rd_kafka_message_headers does not detach them).
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&record, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    message.properties.reserve(rd_kafka_header_cnt(headers));
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      Property& property = message.properties.emplace_back();
      property.name = name;
      if (value) property.value.assign(static_cast<const char*>(value), size);
    }
  }
  message.ack.sequence = generation;
  message.ack.topic_index = topic_index;
  message.ack.partition = record.partition;
  message.ack.offset = record.offset;
  return message;
}

}  // namespace dataflow::kafka
