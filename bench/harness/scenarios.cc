#include "bench/harness/scenarios.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench/harness/kafka_load.h"
#include "bench/harness/load.h"
#include "bench/harness/mqtt_wire.h"
#include "bench/harness/stamp.h"
#include "tests/support/process.h"

namespace dataflow::bench {

namespace {

constexpr int kPartitions = 4;
// What a subscriber (the baseline's and the one reading the engine's output) grants the broker:
// the engine's own default maxInflightMessages, so both see the same MQTT flow control.
constexpr uint16_t kSubscriberReceiveMaximum = 100;

// A run-unique prefix so topics and groups never meet a previous run's on a real cluster, nor
// (with --repeat) an earlier round's.
std::string& runTag() {
  static std::string tag = [] {
    std::random_device random;
    std::ostringstream out;
    out << std::hex << (random() & 0xffffff);
    return out.str();
  }();
  return tag;
}

std::string kafkaTopicFor(const std::string& id) {
  std::string topic = "bench-" + runTag() + "-" + id;
  std::replace(topic.begin(), topic.end(), '>', '-');
  return topic;
}

std::string mqttTopicFor(const std::string& id) { return "bench/" + runTag() + "/" + id; }

// Closed-loop window: enough messages in flight that a baseline is never held back by it, at most
// 4 MiB so a Kafka reader stays far inside the mock cluster's 5 MiB-per-partition retention.
uint64_t windowFor(size_t payload_size) {
  return std::clamp<uint64_t>((4u << 20) / std::max<size_t>(payload_size, 1), 32, 20000);
}

const char* kManifestHeader = "apiVersion: connectivity.iotoperations.azure.com/v1\n";

std::string profileYaml() {
  return std::string(kManifestHeader) +
         "kind: DataflowProfile\nmetadata:\n  name: default\nspec:\n  instanceCount: 1\n";
}

// Each scenario's engine has its own client ids: sessions left on the broker by an earlier
// scenario (600 s session expiry) must not be resumed by the next one.
std::string mqttEndpointYaml(const Environment& env, int qos, const std::string& id) {
  std::string prefix = "bench-" + runTag() + "-" + id;
  std::replace(prefix.begin(), prefix.end(), '.', '-');
  return std::string("---\n") + kManifestHeader +
         "kind: DataflowEndpoint\nmetadata:\n  name: mqtt\nspec:\n  endpointType: Mqtt\n"
         "  mqttSettings:\n    host: " +
         env.mqttAddress() + "\n    clientIdPrefix: " + prefix +
         "\n    qos: " + std::to_string(qos) +
         (env.maxInflight() > 0
              ? "\n    maxInflightMessages: " + std::to_string(env.maxInflight())
              : std::string()) +
         "\n    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n";
}

std::string kafkaEndpointYaml(const Environment& env, const std::string& group) {
  return std::string("---\n") + kManifestHeader +
         "kind: DataflowEndpoint\nmetadata:\n  name: kafka\nspec:\n  endpointType: Kafka\n"
         "  kafkaSettings:\n    host: " +
         env.kafkaBootstrap() + "\n    consumerGroupId: " + group +
         "\n    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n";
}

std::string dataflowYaml(const std::string& name, const std::string& source_endpoint,
                         const std::vector<std::string>& sources,
                         const std::string& destination_endpoint, const std::string& destination) {
  std::string out = std::string("---\n") + kManifestHeader +
                    "kind: Dataflow\nmetadata:\n  name: " + name +
                    "\nspec:\n  operations:\n  - operationType: Source\n    sourceSettings:\n"
                    "      endpointRef: " +
                    source_endpoint + "\n      dataSources:\n";
  for (const std::string& s : sources) out += "      - '" + s + "'\n";
  out += "  - operationType: Destination\n    destinationSettings:\n      endpointRef: " +
         destination_endpoint + "\n      dataDestination: '" + destination + "'\n";
  return out;
}

// Everything one scenario runs: the receiving side feeding `tally`, the sender, and the engine.
struct Rig {
  Tally tally;
  std::unique_ptr<MqttWireClient> subscriber;
  std::unique_ptr<KafkaLoadConsumer> consumer;
  std::unique_ptr<EngineProcess> engine;
  std::unique_ptr<Sender> sender;
  std::string kafka_topic;  // where records end up (Kafka-bound paths)
};

void subscribe(Rig& rig, const Environment& env, const std::string& topic, int qos) {
  WireOptions options;
  options.port = env.mqttPort();
  options.client_id = "bench-subscriber";
  options.receive_maximum = kSubscriberReceiveMaximum;
  rig.subscriber = std::make_unique<MqttWireClient>(options);
  Tally* tally = &rig.tally;
  rig.subscriber->onMessage(
      [tally](std::string_view, std::string_view payload, int) { tally->record(payload); });
  rig.subscriber->subscribe(topic, qos);
}

void consume(Rig& rig, const Environment& env, const std::string& topic, int fetch_wait_ms) {
  Tally* tally = &rig.tally;
  rig.consumer = std::make_unique<KafkaLoadConsumer>(
      env.kafkaBootstrap(), topic, kPartitions,
      [tally](std::string_view value) { tally->record(value); }, fetch_wait_ms);
}

// `with_reader` false: nothing reads what reaches Kafka (the outage counts by log end offsets).
std::unique_ptr<Rig> buildRig(Environment& env, const Scenario& s, bool with_reader = true) {
  auto rig = std::make_unique<Rig>();
  const std::string id = s.id();
  const std::vector<UserProperty> properties = benchProperties(s.properties);
  switch (s.path) {
    case Path::MqttAlone: {
      const std::string topic = mqttTopicFor(id);
      subscribe(*rig, env, topic, s.qos);
      rig->sender =
          mqttSender("127.0.0.1", env.mqttPort(), {topic}, s.qos, s.payload_size, properties);
      break;
    }
    case Path::KafkaAlone: {
      rig->kafka_topic = kafkaTopicFor(id);
      env.createTopic(rig->kafka_topic, kPartitions);
      consume(*rig, env, rig->kafka_topic, s.reader_fetch_wait_ms);
      rig->sender = kafkaSender(env.kafkaBootstrap(), rig->kafka_topic, kPartitions,
                                s.payload_size, properties);
      break;
    }
    case Path::MqttToKafka: {
      rig->kafka_topic = kafkaTopicFor(id);
      env.createTopic(rig->kafka_topic, kPartitions);
      std::string manifests = profileYaml() + mqttEndpointYaml(env, s.qos, id) +
                              kafkaEndpointYaml(env, "bench-" + runTag() + "-" + id);
      std::vector<std::string> topics;
      for (int d = 0; d < s.dataflows; ++d) {
        std::vector<std::string> filters;
        for (int f = 0; f < s.filters; ++f) {
          filters.push_back(mqttTopicFor(id) + "/" + std::to_string(d) + "/f" + std::to_string(f));
          topics.push_back(filters.back());
        }
        manifests +=
            dataflowYaml("flow-" + std::to_string(d), "mqtt", filters, "kafka", rig->kafka_topic);
      }
      if (with_reader) consume(*rig, env, rig->kafka_topic, s.reader_fetch_wait_ms);
      rig->engine = std::make_unique<EngineProcess>(env, id, manifests,
                                                    "MQTT source: subscribed to", s.dataflows);
      rig->sender =
          mqttSender("127.0.0.1", env.mqttPort(), topics, s.qos, s.payload_size, properties);
      break;
    }
    case Path::KafkaToMqtt: {
      const std::string input = kafkaTopicFor(id);
      env.createTopic(input, kPartitions);
      const std::string output = mqttTopicFor(id) + "/out";
      std::string manifests = profileYaml() + mqttEndpointYaml(env, s.qos, id) +
                              kafkaEndpointYaml(env, "bench-" + runTag() + "-" + id);
      for (int d = 0; d < s.dataflows; ++d) {
        manifests += dataflowYaml("flow-" + std::to_string(d), "kafka", {input}, "mqtt", output);
      }
      subscribe(*rig, env, output, s.qos);
      rig->engine = std::make_unique<EngineProcess>(env, id, manifests, "Kafka partitions assigned",
                                                    s.dataflows);
      rig->sender =
          kafkaSender(env.kafkaBootstrap(), input, kPartitions, s.payload_size, properties);
      break;
    }
  }
  return rig;
}

Phase runPhase(Environment& env, Rig& rig, const Scenario& s, const Timing& timing, bool closed,
               double offered) {
  LoadPlan plan;
  plan.closed = closed;
  plan.window = closed ? static_cast<uint64_t>(offered) : 0;
  plan.rate = closed ? 0 : offered;
  plan.warmup_s = timing.warmup_s;
  plan.measure_s = timing.measure_s;
  if (rig.engine) plan.watched.push_back(rig.engine->pid());
  plan.watched.push_back(env.brokerPid());
  const uint64_t duplicates_before = rig.tally.duplicates();
  const std::vector<double> cpu_at_start = cpuSecondsOf(plan.watched);
  const LoadOutcome outcome = drive(*rig.sender, &rig.tally, plan);
  const uint64_t drain_from = nowNs();
  waitDelivered(rig.tally, outcome.sent);

  Phase phase;
  phase.mode = closed ? "closed" : "open";
  phase.offered = offered;
  phase.latency = rig.tally.latency(outcome.measure_from_ns, outcome.measure_to_ns);
  phase.sent = outcome.sent - outcome.sent_before;
  phase.drain_s = static_cast<double>(nowNs() - drain_from) / 1e9;
  const double seconds = static_cast<double>(outcome.measure_to_ns - outcome.measure_from_ns) / 1e9;
  // Closed loop: what arrived during the measurement window, and the CPU used meanwhile.
  // Open loop: the rate is what was sent during the window (everything arrived once drained;
  // drain_s says how long that took, i.e. whether the path kept up), and CPU per message is the
  // CPU of the whole phase, warm-up and drain included, over every message of the phase. A path
  // that falls behind does its work after the window, so the window's CPU would flatter it.
  double messages = static_cast<double>(outcome.received_in_window);
  std::vector<double> cpu = outcome.cpu_seconds;
  if (!closed) {
    messages = static_cast<double>(phase.sent);
    const std::vector<double> cpu_now = cpuSecondsOf(plan.watched);
    for (size_t i = 0; i < cpu.size(); ++i) cpu[i] = cpu_now[i] - cpu_at_start[i];
    phase.rate = seconds > 0 ? static_cast<double>(phase.latency.samples) / seconds : 0;
  } else {
    phase.rate = seconds > 0 ? messages / seconds : 0;
  }
  // The readiness barrier ran before the first phase, and a closed-loop window is held open until
  // something arrives (drive): a rate of zero means the path stopped delivering, which is an error
  // to report, not a figure.
  if (phase.rate <= 0) {
    throw std::runtime_error(
        phase.mode + " loop: " +
        (closed ? "nothing arrived during the measurement window, held open " +
                      std::to_string(kStallLimit.count()) + " s longer"
                : std::string("none of the messages sent during the measurement window arrived")) +
        " (" + std::to_string(phase.sent) + " sent in the phase, " +
        std::to_string(rig.tally.unique()) + " received in all)");
  }
  phase.mb_per_s = phase.rate * static_cast<double>(std::max(s.payload_size, kStampBytes)) / 1e6;
  auto perMillion = [&](double seconds_of_cpu) {
    return messages > 0 ? seconds_of_cpu / messages * 1e6 : -1;
  };
  size_t next = 0;
  if (rig.engine) phase.engine_cpu_s_per_million = perMillion(cpu[next++]);
  phase.broker_cpu_s_per_million = perMillion(cpu[next]);
  // Sequence numbers continue across phases: a phase's losses and duplicates are the new ones.
  phase.lost = rig.tally.missing(outcome.sent) - rig.tally.missing(outcome.sent_before);
  phase.duplicates = rig.tally.duplicates() - duplicates_before;
  return phase;
}

// Builds the scenario's rig, runs `phases(rig, result)` on it, then reads the engine's peak RSS
// and stops it. An exception ends the scenario with its message as the error; the others go on.
template <class Phases>
ScenarioResult runWithRig(Environment& env, const Scenario& scenario, Phases phases) {
  ScenarioResult result;
  result.scenario = scenario;
  try {
    const auto launched = std::chrono::steady_clock::now();
    std::unique_ptr<Rig> rig = buildRig(env, scenario);
    const Tally& tally = rig->tally;
    result.ready_s =
        waitReady(*rig->sender, [&](uint64_t probe) { return tally.probeArrived(probe); });
    result.start_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - launched).count();
    if (rig->engine) result.engine_idle_rss_kib = testing::residentKiB(rig->engine->pid());
    phases(*rig, result);
    if (rig->engine) {
      result.engine_peak_rss_kib = testing::peakResidentKiB(rig->engine->pid());
      result.engine_threads = testing::threadCount(rig->engine->pid());
      const int code = rig->engine->stop();
      if (code != 0) result.error = "the engine exited with " + std::to_string(code);
    }
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace

void beginRound(int round) {
  std::string& tag = runTag();
  tag = tag.substr(0, tag.find('r')) + (round > 1 ? "r" + std::to_string(round) : std::string());
}

const char* pathName(Path path) {
  switch (path) {
    case Path::MqttAlone:
      return "mqtt-alone";
    case Path::KafkaAlone:
      return "kafka-alone";
    case Path::MqttToKafka:
      return "mqtt-kafka";
    case Path::KafkaToMqtt:
      return "kafka-mqtt";
  }
  return "?";
}

std::string Scenario::id() const {
  std::string out = pathName(path);
  if (path != Path::KafkaAlone) out += ".q" + std::to_string(qos);
  out += payload_size >= 1024 ? "." + std::to_string(payload_size / 1024) + "KB"
                              : "." + std::to_string(payload_size) + "B";
  out += ".p" + std::to_string(properties);
  if (dataflows != 1) out += ".d" + std::to_string(dataflows);
  if (filters != 1) out += ".f" + std::to_string(filters);
  if (reader_fetch_wait_ms != 1) out += ".fw" + std::to_string(reader_fetch_wait_ms);
  if (!variant.empty()) out += "." + variant;
  return out;
}

const Phase* ScenarioResult::phase(const std::string& mode) const {
  for (const Phase& p : phases) {
    if (p.mode == mode) return &p;
  }
  return nullptr;
}

ScenarioResult runScenario(Environment& env, const Scenario& scenario, const Timing& timing,
                           double open_rate_fraction) {
  return runWithRig(env, scenario, [&](Rig& rig, ScenarioResult& result) {
    result.phases.push_back(runPhase(env, rig, scenario, timing, true,
                                     static_cast<double>(windowFor(scenario.payload_size))));
    const double closed_rate = result.phases.back().rate;
    if (open_rate_fraction > 0 && closed_rate > 0) {
      result.phases.push_back(
          runPhase(env, rig, scenario, timing, false, closed_rate * open_rate_fraction));
    }
  });
}

ScenarioResult runFixedRate(Environment& env, const Scenario& scenario, const Timing& timing,
                            double rate) {
  return runWithRig(env, scenario, [&](Rig& rig, ScenarioResult& result) {
    result.phases.push_back(runPhase(env, rig, scenario, timing, false, rate));
  });
}

OutageResult runOutage(Environment& env, double rate, int before_s, int outage_s, int after_s) {
  OutageResult out;
  out.rate = rate;
  out.before_s = before_s;
  out.outage_s = outage_s;
  out.after_s = after_s;
  if (!env.mockKafka()) {
    out.error = "needs the mock cluster (a real cluster cannot be taken down by the benchmark)";
    return out;
  }
  try {
    Scenario scenario;  // MQTT -> Kafka, QoS 1, 100 B, no properties
    scenario.variant = "outage";
    std::unique_ptr<Rig> rig = buildRig(env, scenario, false);
    const pid_t engine = rig->engine->pid();
    // The readiness barrier, counted by the log end offsets like the rest of this scenario: one
    // QoS 1 probe per MQTT topic must reach Kafka through the engine. They are not counted below.
    const int64_t probes = static_cast<int64_t>(rig->sender->routes());
    for (size_t route = 0; route < rig->sender->routes(); ++route) {
      rig->sender->sendProbe(route, route);
    }
    const auto ready_by = std::chrono::steady_clock::now() + kReadyTimeout;
    while (env.endOffsets(rig->kafka_topic) < probes) {
      if (std::chrono::steady_clock::now() > ready_by) {
        throw std::runtime_error("the path was not ready: the readiness probes did not reach Kafka "
                                 "within " +
                                 std::to_string(kReadyTimeout.count()) + " s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the end offsets
    }
    LoadPlan plan;
    plan.closed = false;
    plan.rate = rate;
    plan.warmup_s = 0;
    plan.measure_s = before_s + outage_s + after_s;
    bool down = false;
    bool up_again = false;
    plan.every_second = [&](double elapsed) {
      out.rss_kib.push_back(testing::residentKiB(engine));
      if (!down && elapsed >= before_s) {
        env.setKafkaDown(true);
        down = true;
        out.rss_at_outage_start_kib = out.rss_kib.back();
      } else if (down && !up_again && elapsed >= before_s + outage_s) {
        out.rss_at_outage_end_kib = out.rss_kib.back();
        env.setKafkaDown(false);
        up_again = true;
      }
      if (down && !up_again) {
        out.rss_max_during_outage_kib = std::max(out.rss_max_during_outage_kib, out.rss_kib.back());
      }
    };
    drive(*rig->sender, nullptr, plan);
    const auto back = std::chrono::steady_clock::now() - std::chrono::seconds(after_s);
    out.sent = rig->sender->sent();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (;;) {
      out.in_kafka = env.endOffsets(rig->kafka_topic) - probes;
      if (out.in_kafka >= static_cast<int64_t>(out.sent) ||
          std::chrono::steady_clock::now() > deadline) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    out.recovery_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count();
    const size_t middle = static_cast<size_t>(before_s + outage_s / 2);
    const size_t end = static_cast<size_t>(before_s + outage_s - 1);
    if (end < out.rss_kib.size()) {
      out.rss_growth_second_half_kib = out.rss_kib[end] - out.rss_kib[middle];
    }
    if (rig->engine->stop() != 0) out.error = "the engine did not exit cleanly";
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

}  // namespace dataflow::bench
