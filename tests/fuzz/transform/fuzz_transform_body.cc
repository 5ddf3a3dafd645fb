#include "tests/fuzz/transform/fuzz_transform_body.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/clock.h"
#include "engine/transform/pipeline.h"
#include "engine/core/property_names.h"
#include "engine/core/topic_names.h"
#include "engine/core/utf8.h"

namespace dataflow::transform::fuzz {

namespace {

ViolationHandler violation_handler = nullptr;

void require(bool condition, const char* what) {
  if (condition) return;
  if (violation_handler != nullptr) violation_handler(what);
  std::fprintf(stderr, "fuzz_transform invariant violated: %s\n", what);
  std::abort();
}

// Reads the fuzz input front to back; past the end every read yields zeros / empty strings.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return position_ >= size_; }
  uint8_t byte() { return position_ < size_ ? data_[position_++] : 0; }
  uint64_t integer(int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = (value << 8) | byte();
    return value;
  }
  // A string of up to 63 bytes, or, for a length byte 0xF0..0xFF, a pattern of up to 3 bytes
  // repeated to a length around the 65,535-byte MQTT limit (bits 0-1 pick it), which the fuzzer
  // could not reach with literal bytes. At most two such strings per input, to keep it fast.
  std::string string() {
    const uint8_t length_byte = byte();
    if (length_byte >= 0xF0 && inflated_ < 2) {
      ++inflated_;
      static constexpr size_t kLengths[] = {65534, 65535, 65536, 70000};
      const size_t length = kLengths[length_byte & 3];
      std::string pattern = take((length_byte >> 2) & 3);
      if (pattern.empty()) pattern = "x";
      std::string out = std::move(pattern);
      out.reserve(length);
      while (out.size() < length) out.append(out, 0, std::min(out.size(), length - out.size()));
      return out;
    }
    return take(length_byte & 0x3F);
  }

 private:
  std::string take(size_t n) {
    n = std::min(n, size_ - std::min(position_, size_));
    std::string out(reinterpret_cast<const char*>(data_) + position_, n);
    position_ += n;
    return out;
  }
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
  int inflated_ = 0;
};

// A literal reading of RFC 3629 plus the MQTT exclusions, to check the fast validator against.
bool referenceValidUtf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    int length = lead < 0x80             ? 1
                 : (lead & 0xE0) == 0xC0 ? 2
                 : (lead & 0xF0) == 0xE0 ? 3
                 : (lead & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (length == 0 || i + length > bytes.size()) return false;
    uint32_t code_point = length == 1 ? lead : lead & (0x7F >> length);
    for (int k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(bytes[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinimum[length] || code_point == 0 || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

bool referenceValidMqttString(std::string_view text) {
  return text.size() <= kMaxMqttStringBytes && referenceValidUtf8(text);
}

void checkValidator(std::string_view text) {
  require(isValidMqttUtf8(text) == referenceValidUtf8(text), "isValidMqttUtf8 != reference");
}

// One pipeline per configuration byte, built on first use and kept (building is not what is
// being fuzzed, and libFuzzer runs millions of inputs).
const ManualClock& clock() {
  static const ManualClock instance;
  return instance;
}

// Configuration bits: 0-1 direction, 2-3 CloudEvents (none, Propagate, CreateOrRemap x2),
// 4 copyMqttProperties Disabled / retain Never, 5 variant (key property, schema, topic level),
// 6-7 partition strategy, 8 header actions.
constexpr uint16_t kCloudEventsBits = 0x000C;
constexpr uint16_t kDisabledBit = 0x0010;
constexpr uint16_t kVariantBit = 0x0020;
constexpr uint16_t kHeaderActionsBit = 0x0100;
constexpr size_t kConfigurations = 0x200;

const Pipeline& pipelineFor(uint16_t config) {
  static std::array<std::unique_ptr<Pipeline>, kConfigurations> pipelines;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<Pipeline>& slot = pipelines[config];
  if (slot) return *slot;
  PipelineOptions options;
  options.dataflow_name = "fuzz";
  options.direction = static_cast<Direction>((config & 3) % 3);
  const bool kafka_destination = options.direction == Direction::MqttToKafka;
  switch ((config >> 2) & 3) {
    case 1:
      options.cloud_events = CloudEventsMode::Propagate;
      break;
    case 2:
    case 3:
      options.cloud_events = CloudEventsMode::CreateOrRemap;
      break;
  }
  const bool variant = config & kVariantBit;
  options.copy_mqtt_properties = (config & kDisabledBit) == 0;
  if (kafka_destination) {
    options.partition_strategy = static_cast<PartitionStrategy>((config >> 6) & 3);
  }
  options.partition_key_property = variant ? "Content Type" : "k";
  options.instance_ordinal = config;
  options.destination_endpoint_name = "fuzz-target";
  options.output_schema = variant ? std::optional<std::string>("sr://s") : std::nullopt;
  std::string error;
  const char* topic = kafka_destination ? (variant ? "${inputTopic.2}" : "${inputTopic}")
                                        : (variant ? "out/${inputTopic.2}" : "out/${inputTopic}");
  require(TopicTemplate::parse(topic, options.destination_topic, error), "template parse");
  if (config & kHeaderActionsBit) {
    options.header_actions = {{HeaderActionType::Remove, "k", ""},
                              {HeaderActionType::AddIfNotPresent, "added", "v"}};
  }
  options.retain = (config & kDisabledBit) ? RetainPolicy::Never : RetainPolicy::Keep;
  PipelineEnvironment environment;
  environment.clock = &clock();
  environment.new_event_id = [] { return std::string("fuzz-id"); };
  auto built = Pipeline::build(std::move(options), std::move(environment));
  require(built.isOk(), "pipeline build");
  slot = std::move(built).value();
  return *slot;
}

std::optional<std::string> maybeString(Reader& in, uint8_t flags, int bit) {
  if ((flags & (1 << bit)) == 0) return std::nullopt;
  return in.string();
}

void checkMqttOutput(const Message& message, Outcome outcome) {
  for (const Property& property : message.properties) {
    require(referenceValidMqttString(property.name), "MQTT user property name breaks the rules");
    require(referenceValidMqttString(property.value), "MQTT user property value breaks the rules");
  }
  for (const std::optional<std::string>* text :
       {&message.mqtt.content_type, &message.mqtt.response_topic}) {
    if (*text) require(referenceValidMqttString(**text), "MQTT built-in string breaks the rules");
  }
  if (message.mqtt.correlation_data) {
    require(message.mqtt.correlation_data->size() <= kMaxMqttStringBytes, "correlation data size");
  }
  if (outcome == Outcome::Forward) {
    require(isValidMqttTopicName(message.topic), "forwarded with an invalid MQTT topic");
  }
}

// The source message the fuzz input describes. An MQTT source only ever delivers valid MQTT
// strings, so for MQTT sources the fuzzed strings that are not are left out.
Message decodeMessage(Reader& in, bool kafka_source) {
  Message message;
  message.topic = in.string();
  checkValidator(message.topic);
  const uint8_t flags = in.byte();
  message.received_at = clock().steadyNow() - std::chrono::seconds(in.byte());
  message.timestamp_ms = static_cast<int64_t>(in.integer(8));
  if (kafka_source) {
    message.key = maybeString(in, flags, 0);
  } else {
    auto valid = [](std::optional<std::string> text) {
      return text && isValidMqttString(*text) ? text : std::nullopt;
    };
    if (!isValidMqttTopicName(message.topic)) message.topic = "a/b";
    if (flags & 2) message.mqtt.payload_format_indicator = flags >> 7;
    if (flags & 4) message.mqtt.message_expiry_interval = static_cast<uint32_t>(in.integer(2));
    message.mqtt.content_type = valid(maybeString(in, flags, 3));
    message.mqtt.response_topic = valid(maybeString(in, flags, 4));
    message.mqtt.correlation_data = maybeString(in, flags, 5);
    if (message.mqtt.correlation_data && message.mqtt.correlation_data->size() > 65535) {
      message.mqtt.correlation_data->resize(65535);
    }
    message.retain = flags & 0x40;
  }
  while (!in.empty() && message.properties.size() < 64) {
    Property property{in.string(), in.string()};
    checkValidator(property.name);
    checkValidator(property.value);
    if (!kafka_source && !(isValidMqttString(property.name) && isValidMqttString(property.value))) {
      continue;
    }
    message.properties.push_back(std::move(property));
  }
  return message;
}

// copyMqttProperties Enabled, no CloudEvents, no header actions: the set built-ins' headers
// first, then the user properties they do not shadow, in order, and nothing else.
void checkMqttToKafkaHeaders(const Message& source, const Message& output) {
  std::vector<std::string_view> builtins;
  if (source.mqtt.payload_format_indicator) builtins.push_back(kPayloadFormatIndicatorHeader);
  if (source.mqtt.response_topic) builtins.push_back(kResponseTopicHeader);
  if (source.mqtt.message_expiry_interval) builtins.push_back(kMessageExpiryIntervalHeader);
  if (source.mqtt.correlation_data) builtins.push_back(kCorrelationDataHeader);
  if (source.mqtt.content_type) builtins.push_back(kContentTypeHeader);
  const std::vector<Property>& headers = output.properties;
  require(headers.size() >= builtins.size(), "MQTT -> Kafka built-in headers");
  size_t next = 0;
  for (std::string_view name : builtins) {
    require(headers[next++].name == name, "MQTT -> Kafka built-in header order");
  }
  for (const Property& property : source.properties) {
    if (std::find(builtins.begin(), builtins.end(), property.name) != builtins.end()) continue;
    require(next < headers.size() && headers[next] == property,
            "MQTT -> Kafka user property order");
    ++next;
  }
  require(next == headers.size(), "MQTT -> Kafka extra headers");
}

// No CloudEvents, no header actions: [Key] [Timestamp], then exactly the admissible headers in
// order, and nothing else.
void checkKafkaToMqttProperties(const Message& source, const Message& output) {
  const std::vector<Property>& properties = output.properties;
  size_t next = 0;
  auto expect = [&](std::string_view name, std::string_view value, const char* what) {
    require(next < properties.size() && properties[next].name == name &&
                properties[next].value == value,
            what);
    ++next;
  };
  const bool key_out = source.key && referenceValidMqttString(*source.key);
  if (key_out) expect(kKeyProperty, *source.key, "Key property");
  const bool timestamp_out = source.timestamp_ms >= 0;
  if (timestamp_out) {
    expect(kTimestampProperty, std::to_string(source.timestamp_ms), "Timestamp property");
  }
  for (const Property& header : source.properties) {
    const bool shadowed = (key_out && header.name == kKeyProperty) ||
                          (timestamp_out && header.name == kTimestampProperty);
    if (shadowed || !referenceValidMqttString(header.name) ||
        !referenceValidMqttString(header.value)) {
      continue;
    }
    expect(header.name, header.value, "Kafka -> MQTT header order");
  }
  require(next == properties.size(), "Kafka -> MQTT extra properties");
}

}  // namespace

void setViolationHandler(ViolationHandler handler) { violation_handler = handler; }

int runOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  const auto config = static_cast<uint16_t>(in.integer(2) % kConfigurations);
  const Pipeline& pipeline = pipelineFor(config);
  const Direction direction = pipeline.direction();
  // No CloudEvents and no header actions: the output is fully predictable.
  const bool plain = (config & (kCloudEventsBits | kHeaderActionsBit)) == 0;

  const Message source = decodeMessage(in, direction == Direction::KafkaToMqtt);
  Message message = source;
  const Outcome outcome = pipeline.process(message);
  if (outcome != Outcome::Forward) return 0;

  switch (direction) {
    case Direction::MqttToKafka:
      require(message.mqtt == MqttProperties{}, "MQTT built-ins left on a Kafka-bound message");
      require(isLegalKafkaTopic(message.topic), "forwarded with an illegal Kafka topic");
      if (plain && (config & kDisabledBit) == 0) checkMqttToKafkaHeaders(source, message);
      if (plain && (config & kDisabledBit) != 0) {
        require(message.properties.empty(), "copyMqttProperties Disabled sent headers");
      }
      break;
    case Direction::KafkaToMqtt:
      checkMqttOutput(message, outcome);
      if (plain) checkKafkaToMqttProperties(source, message);
      break;
    case Direction::MqttToMqtt:
      checkMqttOutput(message, outcome);
      if (plain) {
        require(message.properties == source.properties, "MQTT -> MQTT user properties changed");
        require(message.mqtt.content_type == source.mqtt.content_type, "MQTT -> MQTT content type");
      }
      break;
  }
  return 0;
}

}  // namespace dataflow::transform::fuzz
