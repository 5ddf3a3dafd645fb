// CloudEvents v1.0 building blocks shared by the CloudEvents stage: attribute names, the binding
// names on each side, structured-mode detection and the generated values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/transform/stage.h"

namespace dataflow::transform {

// "specversion", "type", "source", "id", "subject", "time", "dataschema".
std::string_view attributeName(CloudEventAttribute attribute);

// The attribute a binding name stands for: the MQTT v5 binding uses the bare attribute name as a
// user property name, the Kafka binding `ce_<attribute>` as a header name.
std::optional<CloudEventAttribute> attributeFromMqttName(std::string_view name);
std::optional<CloudEventAttribute> attributeFromKafkaName(std::string_view name);

// True for a structured-mode content type: it starts with "application/cloudevents",
// compared case-insensitively (both bindings; covers "+json" and the batch format).
bool isStructuredContentType(std::string_view content_type);

// RFC 3339 UTC with milliseconds, e.g. "2018-04-05T17:31:00.000Z". Valid for years 0000-9999.
std::string formatRfc3339Millis(int64_t unix_ms);

// A random (version 4) UUID, lowercase, e.g. "1b4e28ba-2fa1-41d2-883f-0016d3cca427": 122 bits
// from a per-thread generator that libuuid seeds (uuid_generate_random) on first use, formatted by
// libuuid. Thread-safe.
std::string newUuid();

// Generated values of CreateOrRemap (AIO table).
inline constexpr std::string_view kGeneratedSpecVersion = "1.0";
inline constexpr std::string_view kGeneratedType = "ms.aio-dataflow.telemetry";
inline constexpr std::string_view kGeneratedSourcePrefix = "aio://";

}  // namespace dataflow::transform
