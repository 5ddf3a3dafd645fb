// What recording the metrics costs on the per-message path: the latency histogram against a bare
// relaxed counter (the floor), alone and from two threads at once, and a whole message through a
// DataflowRunner (receive, transform, send, delivery report, ack) with every metric it records,
// between in-memory fakes. Time is nanoseconds per operation (per message for the runner).
//   build/bench/micro/metrics_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>

#include "engine/core/clock.h"
#include "engine/runtime/dataflow_runner.h"
#include "engine/runtime/logging.h"
#include "tests/unit/runtime/fakes.h"

namespace dataflow::runtime {
namespace {

std::atomic<uint64_t> counter{0};
LatencyHistogram histogram;

void BM_RelaxedCounterAdd(benchmark::State& state) {
  for (auto _ : state) counter.fetch_add(1, std::memory_order_relaxed);
}
BENCHMARK(BM_RelaxedCounterAdd)->Threads(1)->Threads(2);

void BM_LatencyHistogramRecord(benchmark::State& state) {
  auto latency = std::chrono::microseconds(1500 + state.thread_index());
  for (auto _ : state) histogram.record(latency);
}
BENCHMARK(BM_LatencyHistogramRecord)->Threads(1)->Threads(2);

void BM_RunnerMessagePath(benchmark::State& state) {
  SystemClock clock;
  transform::PipelineOptions options;
  options.dataflow_name = "bench";
  options.direction = transform::Direction::MqttToKafka;
  std::string error;
  TopicTemplate::parse("out", options.destination_topic, error);
  transform::PipelineEnvironment environment;
  environment.clock = &clock;
  auto pipeline = transform::Pipeline::build(std::move(options), std::move(environment));
  auto source = std::make_unique<testing::FakeSource>();
  auto destination = std::make_unique<testing::FakeDestination>();
  testing::FakeSource* s = source.get();
  testing::FakeDestination* d = destination.get();
  auto telemetry = std::make_shared<Telemetry>();
  DataflowRunner runner("bench", std::move(pipeline).value(), std::move(source),
                        std::move(destination), logger("bench"), clock,
                        telemetry->dataflow({"bench", "mqtt", "kafka", "", ""}));
  runner.start();
  uint64_t sequence = 0;
  for (auto _ : state) {
    Message m;
    m.topic = "plant/line-1/telemetry";
    m.payload = "0123456789012345678901234567890123456789";
    m.received_at = clock.steadyNow();
    m.ack.sequence = ++sequence;
    s->receive(std::move(m));
    d->deliverOldest();
  }
  state.counters["delivered"] = static_cast<double>(runner.counters().delivered);
}
BENCHMARK(BM_RunnerMessagePath);

}  // namespace
}  // namespace dataflow::runtime

BENCHMARK_MAIN();
