// Microbenchmarks of the transform stage chains on a representative message: a 200-byte JSON
// payload, 8 user properties (Kafka: 8 headers), a content type and a message expiry (Kafka: their
// headers), plus key and timestamp on the Kafka side. Each iteration processes one message taken
// from a pre-built pool (refilled with the timer paused), so Time is nanoseconds per message.
//   build-transform/bench/micro/transform_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/core/clock.h"
#include "engine/core/murmur2.h"
#include "engine/transform/pipeline.h"
#include "engine/core/utf8.h"

namespace dataflow::transform {
namespace {

constexpr size_t kPool = 256;

std::string jsonPayload() {
  std::string payload =
      R"({"deviceId":"oven-0042","site":"berlin-3","timestamp":"2024-05-01T12:00:00.000Z",)"
      R"("temperature":{"value":231.5,"unit":"C"},"humidity":{"value":41.2,"unit":"%"},)"
      R"("state":"heating","batch":"B-2024-05-01-0007","seq":123456})";
  payload.resize(200, ' ');
  return payload;
}

std::vector<Property> userProperties() {
  return {{"subject", "oven-0042"},
          {"site", "berlin-3"},
          {"line", "line-7"},
          {"firmware", "4.2.1"},
          {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
          {"schema", "telemetry/v3"},
          {"priority", "normal"},
          {"region", "eu-central"}};
}

Message mqttMessage(const Clock& clock) {
  Message message;
  message.topic = "factory/berlin-3/oven-0042/telemetry";
  message.payload = jsonPayload();
  message.received_at = clock.steadyNow();
  message.timestamp_ms = clock.wallNowMs();
  message.mqtt.content_type = "application/json";
  message.mqtt.message_expiry_interval = 3600;
  message.properties = userProperties();
  message.qos = 1;
  return message;
}

Message kafkaRecord() {
  Message message;
  message.topic = "telemetry";
  message.payload = jsonPayload();
  message.key = "oven-0042";
  message.partition = 2;
  message.timestamp_ms = 1'714'564'800'000;
  message.properties = userProperties();
  message.properties.push_back({"Content Type", "application/json"});
  message.properties.push_back({"Message Expiry Interval", "3600"});
  return message;
}

std::unique_ptr<Pipeline> build(PipelineOptions options, const Clock& clock) {
  PipelineEnvironment environment;
  environment.clock = &clock;
  auto built = Pipeline::build(std::move(options), std::move(environment));
  if (!built.isOk()) std::abort();
  return std::move(built).value();
}

PipelineOptions options(Direction direction, const char* topic) {
  PipelineOptions options;
  options.dataflow_name = "bench";
  options.direction = direction;
  options.destination_endpoint_name = "target";
  std::string error;
  if (!TopicTemplate::parse(topic, options.destination_topic, error)) std::abort();
  return options;
}

// Runs `pipeline` on one message per iteration from a pool built by `make`.
template <class Make>
void runPool(benchmark::State& state, const Pipeline& pipeline, Make make) {
  std::vector<Message> pool;
  pool.reserve(kPool);
  size_t next = kPool;
  for (auto _ : state) {
    if (next == kPool) {
      state.PauseTiming();
      pool.clear();
      for (size_t i = 0; i < kPool; ++i) pool.push_back(make());
      next = 0;
      state.ResumeTiming();
    }
    Outcome outcome = pipeline.process(pool[next++]);
    benchmark::DoNotOptimize(outcome);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_MqttToKafka(benchmark::State& state) {
  ManualClock clock;
  auto pipeline = build(options(Direction::MqttToKafka, "telemetry"), clock);
  runPool(state, *pipeline, [&] { return mqttMessage(clock); });
}
BENCHMARK(BM_MqttToKafka);

void BM_MqttToKafkaPropertyKeyCloudEvents(benchmark::State& state) {
  ManualClock clock;
  PipelineOptions o = options(Direction::MqttToKafka, "telemetry");
  o.partition_strategy = PartitionStrategy::Property;
  o.partition_key_property = "subject";
  o.cloud_events = CloudEventsMode::CreateOrRemap;
  auto pipeline = build(std::move(o), clock);
  runPool(state, *pipeline, [&] { return mqttMessage(clock); });
}
BENCHMARK(BM_MqttToKafkaPropertyKeyCloudEvents);

void BM_KafkaToMqtt(benchmark::State& state) {
  ManualClock clock;
  auto pipeline = build(options(Direction::KafkaToMqtt, "from-kafka/${inputTopic}"), clock);
  runPool(state, *pipeline, [] { return kafkaRecord(); });
}
BENCHMARK(BM_KafkaToMqtt);

void BM_KafkaToMqttCloudEvents(benchmark::State& state) {
  ManualClock clock;
  PipelineOptions o = options(Direction::KafkaToMqtt, "from-kafka/${inputTopic}");
  o.cloud_events = CloudEventsMode::Propagate;
  auto pipeline = build(std::move(o), clock);
  runPool(state, *pipeline, [] {
    Message record = kafkaRecord();
    for (const char* name : {"ce_specversion", "ce_type", "ce_source", "ce_id"}) {
      record.properties.push_back({name, "v"});
    }
    return record;
  });
}
BENCHMARK(BM_KafkaToMqttCloudEvents);

void BM_MqttToMqtt(benchmark::State& state) {
  ManualClock clock;
  auto pipeline = build(options(Direction::MqttToMqtt, "bridge/${inputTopic}"), clock);
  runPool(state, *pipeline, [&] { return mqttMessage(clock); });
}
BENCHMARK(BM_MqttToMqtt);

// The cost of building a pool message, to compare with the stage chains above.
void BM_MessageCopyOnly(benchmark::State& state) {
  ManualClock clock;
  const Message prototype = mqttMessage(clock);
  for (auto _ : state) {
    Message copy = prototype;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_MessageCopyOnly);

void BM_Utf8Validate(benchmark::State& state) {
  // One two-byte character in every 8 bytes: the fast path never applies.
  const auto length = static_cast<size_t>(state.range(0));
  std::string text;
  while (text.size() + 8 <= length)
    text +=
        "abcd\xc3\xa9"
        "ef";
  text.resize(length, 'z');
  for (auto _ : state) benchmark::DoNotOptimize(isValidMqttUtf8(text));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Utf8Validate)->Arg(16)->Arg(64)->Arg(65535);

void BM_Utf8ValidateAscii(benchmark::State& state) {
  const std::string text(static_cast<size_t>(state.range(0)), 'a');
  for (auto _ : state) benchmark::DoNotOptimize(isValidMqttUtf8(text));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Utf8ValidateAscii)->Arg(16)->Arg(64)->Arg(65535);

void BM_Murmur2Partition(benchmark::State& state) {
  const std::string key = "factory/berlin-3/oven-0042/telemetry";
  for (auto _ : state) benchmark::DoNotOptimize(partitionForKey(key, 12));
}
BENCHMARK(BM_Murmur2Partition);

}  // namespace
}  // namespace dataflow::transform

BENCHMARK_MAIN();
