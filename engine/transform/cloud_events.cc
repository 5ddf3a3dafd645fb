#include "engine/transform/cloud_events.h"

#include <uuid/uuid.h>

#include <chrono>
#include <cstring>
#include <iterator>
#include <random>

#include "engine/core/property_names.h"

namespace dataflow::transform {

namespace {

constexpr std::string_view kNames[kCloudEventAttributeCount] = {
    "specversion", "type", "source", "id", "subject", "time", "dataschema"};

void appendDigits(std::string& out, int64_t value, int width) {
  char digits[8];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits, width);
}

}  // namespace

std::string_view attributeName(CloudEventAttribute attribute) {
  return kNames[static_cast<size_t>(attribute)];
}

std::optional<CloudEventAttribute> attributeFromMqttName(std::string_view name) {
  for (size_t i = 0; i < kCloudEventAttributeCount; ++i) {
    if (kNames[i] == name) return static_cast<CloudEventAttribute>(i);
  }
  return std::nullopt;
}

std::optional<CloudEventAttribute> attributeFromKafkaName(std::string_view name) {
  if (name.size() <= kCloudEventsKafkaPrefix.size() ||
      name.substr(0, kCloudEventsKafkaPrefix.size()) != kCloudEventsKafkaPrefix) {
    return std::nullopt;
  }
  return attributeFromMqttName(name.substr(kCloudEventsKafkaPrefix.size()));
}

bool isStructuredContentType(std::string_view content_type) {
  constexpr std::string_view kPrefix = "application/cloudevents";
  if (content_type.size() < kPrefix.size()) return false;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    char c = content_type[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kPrefix[i]) return false;
  }
  return true;
}

std::string formatRfc3339Millis(int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> time{milliseconds(unix_ms)};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> clock{time - day};
  std::string out;
  out.reserve(24);
  appendDigits(out, static_cast<int>(date.year()), 4);
  out += '-';
  appendDigits(out, static_cast<unsigned>(date.month()), 2);
  out += '-';
  appendDigits(out, static_cast<unsigned>(date.day()), 2);
  out += 'T';
  appendDigits(out, clock.hours().count(), 2);
  out += ':';
  appendDigits(out, clock.minutes().count(), 2);
  out += ':';
  appendDigits(out, clock.seconds().count(), 2);
  out += '.';
  appendDigits(out, clock.subseconds().count(), 3);
  out += 'Z';
  return out;
}

std::string newUuid() {
  // libuuid's uuid_generate_random() costs one getrandom() system call per id (about 2 us here,
  // more than the rest of the pipeline). It seeds a per-thread generator with 128 random bits
  // instead; ids stay unique with overwhelming probability, which is all CloudEvents asks.
  thread_local std::mt19937_64 generator = [] {
    uuid_t seed;
    uuid_generate_random(seed);
    uint32_t words[4];
    std::memcpy(words, seed, sizeof(words));
    std::seed_seq sequence(std::begin(words), std::end(words));
    return std::mt19937_64(sequence);
  }();
  const uint64_t high = generator();
  const uint64_t low = generator();
  uuid_t uuid;
  std::memcpy(uuid, &high, 8);
  std::memcpy(uuid + 8, &low, 8);
  uuid[6] = static_cast<unsigned char>((uuid[6] & 0x0F) | 0x40);  // version 4 (random)
  uuid[8] = static_cast<unsigned char>((uuid[8] & 0x3F) | 0x80);  // RFC 4122 variant
  char text[37];
  uuid_unparse_lower(uuid, text);
  return std::string(text, 36);
}

}  // namespace dataflow::transform
