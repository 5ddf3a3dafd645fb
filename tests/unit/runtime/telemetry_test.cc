// The telemetry behind /metrics and /readyz: the latency histogram, counters that go on across
// the runners a dataflow has had, the exposition text and the readiness document.
#include <gmock/gmock.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "engine/runtime/dataflow_runner.h"
#include "engine/runtime/logging.h"
#include "engine/runtime/metrics_text.h"
#include "engine/runtime/ops_server.h"
#include "fakes.h"

namespace dataflow::runtime {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::FakeDestination;
using testing::FakeSource;

TEST(LatencyHistogram, BucketsAreCumulativeAndTheSumIsInMilliseconds) {
  LatencyHistogram h;
  h.record(500us);
  h.record(3ms);
  h.record(70s);  // above every bound: only in +Inf
  const LatencySnapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative[0], 1u);  // le 1 ms
  EXPECT_EQ(s.cumulative[1], 1u);  // le 2 ms
  EXPECT_EQ(s.cumulative[2], 2u);  // le 5 ms
  EXPECT_EQ(s.cumulative.back(), 2u);  // le 60 s
  EXPECT_EQ(s.count, 3u);
  EXPECT_DOUBLE_EQ(s.sum_ms, 70003.5);
}

// A runner of dataflow "flow" between fakes, recording into `telemetry`.
struct Harness {
  Harness(ManualClock& clock, std::shared_ptr<DataflowTelemetry> telemetry) {
    transform::PipelineOptions options;
    options.dataflow_name = "flow";
    options.direction = transform::Direction::MqttToKafka;
    std::string error;
    EXPECT_TRUE(TopicTemplate::parse("out", options.destination_topic, error)) << error;
    transform::PipelineEnvironment environment;
    environment.clock = &clock;
    auto pipeline = transform::Pipeline::build(std::move(options), std::move(environment));
    auto s = std::make_unique<FakeSource>();
    auto d = std::make_unique<FakeDestination>();
    source = s.get();
    destination = d.get();
    runner = std::make_unique<DataflowRunner>("flow", std::move(pipeline).value(), std::move(s),
                                              std::move(d), logger("flow"), clock,
                                              std::move(telemetry));
    EXPECT_TRUE(runner->start().isOk());
  }
  FakeSource* source = nullptr;
  FakeDestination* destination = nullptr;
  std::unique_ptr<DataflowRunner> runner;
};

Message message(const ManualClock& clock, uint64_t sequence, std::string payload) {
  Message m;
  m.topic = "in";
  m.payload = std::move(payload);
  m.received_at = clock.steadyNow();
  m.ack.sequence = sequence;
  return m;
}

TEST(DataflowTelemetry, CountsGoOnAcrossTheRunnersOfADataflow) {
  ManualClock clock;
  Telemetry telemetry;
  auto flow = telemetry.dataflow({"flow", "mqtt", "kafka", "Local AIO MQTT Broker", "Event Hubs"});
  {
    Harness first(clock, flow);
    first.source->receive(message(clock, 1, "12345"));
    first.source->receive(message(clock, 2, "123"));
    clock.advance(3ms);
    first.destination->deliverOldest();
    first.destination->deliverOldest();
    EXPECT_EQ(flow->read().counters.delivered, 2u);
  }
  // Between runners (a rotation or reload): the counts stay, no runner is attached.
  DataflowReading between = flow->read();
  EXPECT_FALSE(between.attached);
  EXPECT_EQ(between.counters.received, 2u);

  Harness second(clock, flow);
  second.source->receive(message(clock, 3, "1"));
  clock.advance(40ms);
  second.destination->deliverOldest();
  const DataflowReading r = flow->read();
  EXPECT_TRUE(r.attached);
  EXPECT_EQ(r.state, RunnerState::Running);
  EXPECT_EQ(r.counters.received, 3u);
  EXPECT_EQ(r.counters.received_bytes, 9u);
  EXPECT_EQ(r.counters.delivered, 3u);
  EXPECT_EQ(r.counters.delivered_bytes, 9u);
  EXPECT_EQ(r.latency.count, 3u);
  EXPECT_DOUBLE_EQ(r.latency.sum_ms, 46.0);
  EXPECT_EQ(r.latency.cumulative[2], 2u);  // two at 3 ms (le 5), one at 40 ms (le 50)
  EXPECT_EQ(r.latency.cumulative[5], 3u);
  // The same object is handed out again by name.
  EXPECT_EQ(telemetry.dataflow({"flow", "", "", "", ""}), flow);
}

DataflowReading reading(const std::string& name, bool source_up, bool destination_up) {
  DataflowReading d;
  d.info = {name, "in-endpoint", "out-endpoint", "Local AIO MQTT Broker", "Event Hubs"};
  d.attached = true;
  d.state = RunnerState::Running;
  d.source = healthOf(source_up);
  d.destination = healthOf(destination_up);
  return d;
}

TEST(MetricsText, AioMetricsSumByServiceTypeAndOwnMetricsArePerDataflow) {
  EngineReading r;
  r.version = "1.2.3";
  r.dataflows = {reading("a", true, true), reading("b", true, true)};
  r.dataflows[0].counters.received = 3;
  r.dataflows[1].counters.received = 4;
  r.dataflows[1].counters.sent = 3;
  r.dataflows[1].counters.delivered = 2;
  r.dataflows[1].transform.unresolved_topic = 1;
  r.dataflows[1].counters.refused = 1;
  r.dataflows[0].latency.cumulative.fill(1);
  r.dataflows[0].latency.count = 1;
  r.dataflows[0].latency.sum_ms = 0.5;
  const std::string text = renderMetrics(r);
  EXPECT_THAT(text, HasSubstr("# TYPE aio_dataflow_messages_received counter\n"
                              "aio_dataflow_messages_received{source_service_type=\"Local AIO "
                              "MQTT Broker\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("aio_dataflow_messages_dropped_processing_errors{target_service_type="
                              "\"Event Hubs\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_messages_received_total{dataflow=\"a\"} 3\n"
                              "dataflow_messages_received_total{dataflow=\"b\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_messages_dropped_total{dataflow=\"b\",reason="
                              "\"unresolved_topic\"} 1\n"));
  // Milliseconds for AIO, seconds for the engine's own; +Inf equals the count.
  EXPECT_THAT(text, HasSubstr("aio_dataflow_processing_latency_bucket{source_service_type=\"Local "
                              "AIO MQTT Broker\",le=\"25\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_delivery_latency_seconds_bucket{dataflow=\"a\",le=\"0.001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_delivery_latency_seconds_bucket{dataflow=\"a\",le=\"+Inf\"} 1\n"
                              "dataflow_delivery_latency_seconds_sum{dataflow=\"a\"} 5e-04\n"
                              "dataflow_delivery_latency_seconds_count{dataflow=\"a\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_build_info{version=\"1.2.3\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_messages_in_flight{dataflow=\"b\"} 0\n"));
  EXPECT_EQ(text.back(), '\n');
}

TEST(DataflowTelemetry, ConnectionCountersGoOnAcrossRunnersAndInFlightCountsOnlyLiveOnes) {
  ManualClock clock;
  Telemetry telemetry;
  auto flow = telemetry.dataflow({"flow", "mqtt", "kafka", "Local AIO MQTT Broker", "Event Hubs"});
  {
    Harness first(clock, flow);
    first.source->health_reading.connection_attempts = 3;
    first.destination->health_reading.messages_resent = 2;
    first.destination->health_reading.client_restarts = 1;
    // Abandoned in flight when the runner goes: not in flight for the next one.
    first.source->receive(message(clock, 1, "12345"));
    EXPECT_EQ(flow->read().in_flight, 1u);
    EXPECT_EQ(flow->read().in_flight_bytes, 5u);
  }
  Harness second(clock, flow);
  second.source->health_reading.connection_attempts = 1;
  second.destination->health_reading = healthOf(false);
  second.destination->health_reading.state = ConnectionState::AuthenticationFailed;
  second.destination->health_reading.problem = "SASL login refused";
  second.source->receive(message(clock, 2, "123"));
  second.source->receive(message(clock, 3, "1"));
  second.destination->deliverOldest();
  const DataflowReading r = flow->read();
  EXPECT_EQ(r.in_flight, 1u);
  EXPECT_EQ(r.in_flight_bytes, 1u);
  EXPECT_EQ(r.source.connection_attempts, 4u);
  EXPECT_EQ(r.source.state, ConnectionState::Connected);
  EXPECT_EQ(r.destination.messages_resent, 2u);
  EXPECT_EQ(r.destination.client_restarts, 1u);
  EXPECT_EQ(r.destination.state, ConnectionState::AuthenticationFailed);
  EXPECT_EQ(r.destination.problem, "SASL login refused");
}

TEST(DataflowTelemetry, TransformationAndUploadLatenciesSplitTheProcessingLatency) {
  ManualClock clock;
  Telemetry telemetry;
  auto flow = telemetry.dataflow({"flow", "mqtt", "kafka", "", ""});
  Harness h(clock, flow);
  Message m = message(clock, 1, "x");
  clock.advance(2ms);  // received 2 ms before the runner took it: transformation
  h.source->receive(std::move(m));
  clock.advance(30ms);  // the destination's round trip: upload
  h.destination->deliverOldest();
  h.source->receive(message(clock, 2, "y"));
  clock.advance(200ms);
  h.destination->deliverOldest(Status::fatal("refused"));
  const DataflowReading r = flow->read();
  EXPECT_EQ(r.stages.transformation_ok.count, 2u);
  EXPECT_DOUBLE_EQ(r.stages.transformation_ok.sum_ms, 2.0);
  EXPECT_EQ(r.stages.upload_ok.count, 1u);
  EXPECT_DOUBLE_EQ(r.stages.upload_ok.sum_ms, 30.0);
  EXPECT_EQ(r.stages.upload_failed.count, 1u);
  EXPECT_DOUBLE_EQ(r.stages.upload_failed.sum_ms, 200.0);
  EXPECT_EQ(r.latency.count, 1u);
  EXPECT_DOUBLE_EQ(r.latency.sum_ms, 32.0);
  EngineReading engine;
  engine.dataflows = {r};
  const std::string text = renderMetrics(engine);
  EXPECT_THAT(text, HasSubstr("aio_dataflow_upload_latency_sum{target_service_type=\"\",success="
                              "\"false\"} 200\n"));
}

TEST(DataflowTelemetry, RefusalsInARowAreCountedUntilADelivery) {
  ManualClock clock;
  Telemetry telemetry;
  auto flow = telemetry.dataflow({"flow", "mqtt", "kafka", "", ""});
  Harness h(clock, flow);
  for (uint64_t i = 1; i <= 3; ++i) h.source->receive(message(clock, i, "x"));
  h.destination->deliverOldest(Status::fatal("topic not authorised"));
  h.destination->deliverOldest(Status::fatal("topic not authorised"));
  DataflowReading r = flow->read();
  EXPECT_EQ(r.refused_in_a_row, 2u);
  EXPECT_EQ(r.last_refusal, "topic not authorised");
  EXPECT_EQ(r.in_flight_bytes, 1u);
  h.destination->deliverOldest();
  r = flow->read();
  EXPECT_EQ(r.refused_in_a_row, 0u);
  EXPECT_EQ(r.in_flight_bytes, 0u);
  // Refused by send() itself counts too.
  h.destination->send_status = Status::fatal("larger than message.max.bytes");
  h.source->receive(message(clock, 4, "y"));
  EXPECT_EQ(flow->read().refused_in_a_row, 1u);
  EXPECT_EQ(flow->read().in_flight_bytes, 0u);
}

TEST(MetricsText, EndpointHealthIsExportedPerSide) {
  EngineReading r;
  r.dataflows = {reading("a", true, false)};
  r.dataflows[0].destination.state = ConnectionState::AuthenticationFailed;
  r.dataflows[0].destination.connection_attempts = 7;
  r.dataflows[0].destination.messages_resent = 4;
  r.dataflows[0].source.disconnects = 2;
  r.dataflows[0].in_flight_bytes = 1024;
  const std::string text = renderMetrics(r);
  const std::string out = "dataflow=\"a\",endpoint=\"out-endpoint\",side=\"destination\"";
  const std::string in = "dataflow=\"a\",endpoint=\"in-endpoint\",side=\"source\"";
  EXPECT_THAT(text, HasSubstr("dataflow_endpoint_state{" + out +
                              ",state=\"authentication_failed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_endpoint_state{" + out + ",state=\"connected\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_endpoint_state{" + in + ",state=\"connected\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_endpoint_connection_attempts_total{" + out + "} 7\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_endpoint_disconnects_total{" + in + "} 2\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_messages_resent_total{dataflow=\"a\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("dataflow_in_flight_bytes{dataflow=\"a\"} 1024\n"));
}

TEST(Readiness, ReasonsNameAuthenticationFailuresProblemsAndRefusingDestinations) {
  EngineReading r;
  r.dataflows = {reading("auth", true, false), reading("down", false, true),
                 reading("refusing", true, true), reading("one-refused", true, true)};
  r.dataflows[0].destination.state = ConnectionState::AuthenticationFailed;
  r.dataflows[0].destination.problem = "Kafka endpoint \"hub\": SASL login refused";
  r.dataflows[1].source.problem = "cannot connect: Connection refused";
  r.dataflows[2].refused_in_a_row = kRefusingAfter;
  r.dataflows[2].last_refusal = "TOPIC_AUTHORIZATION_FAILED";
  r.dataflows[3].refused_in_a_row = 1;  // one message's problem, not the destination's
  const Readiness result = readiness(r);
  EXPECT_FALSE(result.ready);
  const nlohmann::json body = nlohmann::json::parse(result.body);
  const nlohmann::json& d = body.at("dataflows");
  EXPECT_EQ(d[0].at("reason"),
            "destination endpoint out-endpoint authentication failed: Kafka endpoint \"hub\": "
            "SASL login refused");
  EXPECT_EQ(d[0].at("destination").at("state"), "authentication_failed");
  EXPECT_EQ(d[1].at("reason"),
            "source endpoint in-endpoint connecting (latest problem: cannot connect: Connection "
            "refused)");
  EXPECT_EQ(d[1].at("source").at("problem"), "cannot connect: Connection refused");
  EXPECT_EQ(d[2].at("reason"),
            "destination endpoint out-endpoint refusing messages (5 in a row, the latest: "
            "TOPIC_AUTHORIZATION_FAILED)");
  EXPECT_EQ(d[3].at("ready"), true);
}

TEST(OpsServer, LivenessAllowsADrainPerDataflowKnownNowIncludingOnesAddedLater) {
  OpsServer::Options options;
  options.liveness_base = 120s;
  options.liveness_per_dataflow = 10s;
  Telemetry telemetry;
  EXPECT_EQ(OpsServer::livenessTimeout(options, telemetry.dataflowCount()), 130s);
  telemetry.dataflow({"a", "", "", "", ""});
  telemetry.dataflow({"b", "", "", "", ""});  // added by a reload, say
  EXPECT_EQ(OpsServer::livenessTimeout(options, telemetry.dataflowCount()), 150s);
  telemetry.remove("a");
  EXPECT_EQ(OpsServer::livenessTimeout(options, telemetry.dataflowCount()), 140s);
}

TEST(MetricsText, LabelValuesAreEscaped) {
  EngineReading r;
  r.dataflows = {reading("q\"b\\s\nn", true, true)};
  EXPECT_THAT(renderMetrics(r), HasSubstr("{dataflow=\"q\\\"b\\\\s\\nn\"}"));
}

TEST(Readiness, ReadyOnlyWhenEveryAttachedDataflowIsConnectedAndNotDraining) {
  EngineReading r;
  EXPECT_TRUE(readiness(r).ready) << "no dataflow: nothing to wait for";
  r.dataflows = {reading("up", true, true), reading("half", true, false),
                 reading("failed", true, true), reading("removed", false, false)};
  r.dataflows[2].state = RunnerState::Failed;
  r.dataflows[2].failure = "authentication refused";
  r.dataflows[3].attached = false;
  const Readiness not_ready = readiness(r);
  EXPECT_FALSE(not_ready.ready);
  const nlohmann::json body = nlohmann::json::parse(not_ready.body);
  ASSERT_EQ(body.at("dataflows").size(), 3u);
  EXPECT_EQ(body.at("dataflows")[0].at("ready"), true);
  EXPECT_EQ(body.at("dataflows")[1].at("reason"), "destination endpoint out-endpoint connecting");
  EXPECT_EQ(body.at("dataflows")[2].at("reason"), "failed: authentication refused");
  EXPECT_THAT(not_ready.body, Not(HasSubstr("removed")));

  r.dataflows = {reading("up", true, true)};
  EXPECT_TRUE(readiness(r).ready);
  r.draining = true;
  EXPECT_FALSE(readiness(r).ready);
  r.draining = false;
  r.started = false;
  EXPECT_FALSE(readiness(r).ready) << "not every dataflow was started yet";
}

}  // namespace
}  // namespace dataflow::runtime
