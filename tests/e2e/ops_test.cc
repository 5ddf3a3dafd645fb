// The ops endpoint of `dataflow run` (metrics and probes), driven as an operator's Prometheus and
// kubelet would: an MQTT -> MQTT dataflow between two mosquittos carries known traffic, and
// /metrics is scraped and parsed by python3-prometheus-client (an independent parser) and checked
// by promtool; /readyz follows the destination broker going away and coming back; /livez answers.
#include <gmock/gmock.h>
#include <httplib.h>

#include <csignal>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/kafka/kafka_test_support.h"
#include "tests/support/mosquitto.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/process.h"
#include "tests/support/random_name.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, with prometheus_client

// Sample name + sorted labels, e.g. `x{a="1",b="2"}`, -> value.
using Samples = std::map<std::string, double>;

std::string key(const std::string& name, const json& labels) {
  std::string k = name + "{";
  bool first = true;
  for (const auto& [label, value] : labels.items()) {  // nlohmann sorts object keys
    k += std::string(first ? "" : ",") + label + "=\"" + value.get<std::string>() + "\"";
    first = false;
  }
  return k + "}";
}

class OpsE2E : public ::testing::Test {
 protected:
  OpsE2E() { writeManifest("flow.yaml", destination_); }

  // Dataflow "bridge": plant/# on source_ to out/<second level> on `destination`.
  void writeManifest(const std::string& file, const Mosquitto& destination) {
    std::ofstream(dir_.file(file))
        << endpoint("source", source_) << endpoint("destination", destination)
        << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
           "metadata:\n  name: bridge\nspec:\n  operations:\n"
           "  - operationType: Source\n    sourceSettings:\n      endpointRef: source\n"
           "      dataSources: ['plant/#']\n"
           "  - operationType: Destination\n    destinationSettings:\n"
           "      endpointRef: destination\n      dataDestination: 'out/${inputTopic.2}'\n";
  }

  json readyDataflow() {
    const auto r = get("/readyz");
    if (!r) return json::object();
    const json body = json::parse(r->body, nullptr, false);
    if (body.is_discarded() || body.at("dataflows").empty()) return json::object();
    return body.at("dataflows")[0];
  }

  static std::string endpoint(const std::string& name, const Mosquitto& broker) {
    return "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
           "metadata:\n  name: " +
           name + "\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n    host: " + broker.address() +
           "\n    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n";
  }

  // Starts the engine on `manifest` with its ops endpoint on a free loopback port; returns once
  // its log says `ready_text`.
  void startEngine(const std::string& manifest = "flow.yaml",
                   const std::string& ready_text = "subscribed",
                   const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> argv{DATAFLOW_EXE,       "run",         "-f",
                                  dir_.file(manifest), "--metrics-port", "0",
                                  "--metrics-address", "127.0.0.1",   "--drain-timeout",
                                  "5"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    engine_ = std::make_unique<ChildProcess>(argv, dir_.file("engine.log"));
    const std::regex listening(R"(metrics and probes on http://127\.0\.0\.1:(\d+))");
    std::smatch match;
    ASSERT_TRUE(waitFor(
        [&] {
          const std::string log = engine_->log();
          return (std::regex_search(log, match, listening) &&
                  log.find(ready_text) != std::string::npos) ||
                 !engine_->running();
        },
        30s))
        << engine_->log();
    const std::string log = engine_->log();
    ASSERT_TRUE(std::regex_search(log, match, listening)) << log;
    port_ = std::stoi(match[1].str());
  }

  httplib::Result get(const std::string& path) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(10, 0);
    return client.Get(path.c_str());
  }

  // /metrics through the reference parser; fails the test if it is not valid.
  Samples scrape() {
    ChildProcess parser({kPython, std::string(DATAFLOW_SOURCE_DIR) + "/tests/support/parse_metrics.py",
                         "http://127.0.0.1:" + std::to_string(port_) + "/metrics"},
                        dir_.file("parse.log"));
    EXPECT_EQ(parser.wait(30s), std::optional<int>(0)) << parser.log();
    Samples samples;
    std::istringstream lines(parser.log());
    for (std::string line; std::getline(lines, line);) {
      const json sample = json::parse(line, nullptr, false);
      if (sample.is_discarded()) continue;  // stderr, shown on failure above
      samples[key(sample.at("name"), sample.at("labels"))] = sample.at("value").get<double>();
    }
    return samples;
  }

  double value(const std::string& sample_key) {
    Samples s = scrape();
    auto it = s.find(sample_key);
    return it == s.end() ? -1 : it->second;
  }

  TempDir dir_{"ops-e2e"};
  Mosquitto source_;
  Mosquitto destination_;
  std::unique_ptr<ChildProcess> engine_;
  int port_ = 0;
};

TEST_F(OpsE2E, MetricsCountTheTrafficSentAndAreValidExposition) {
  startEngine();
  MqttTestClient subscriber(destination_.address(), randomName("sub-"));
  subscriber.subscribe("out/#", 1);
  MqttTestClient publisher(source_.address(), randomName("pub-"));
  for (int i = 0; i < 50; ++i) publisher.publish("plant/m" + std::to_string(i), "0123456789", 1);
  // One level only: `${inputTopic.2}` has no value, so the message is dropped and counted.
  publisher.publish("plant", "unroutable", 1);
  ASSERT_EQ(subscriber.receive(50, 60s).size(), 50u) << engine_->log();

  const std::string local = R"({source_service_type="Unknown Mqtt Broker"})";
  const std::string remote = R"({target_service_type="Unknown Mqtt Broker"})";
  ASSERT_TRUE(waitFor(
      [&] {
        return value("aio_dataflow_messages_dropped_processing_errors" + remote) == 1 &&
               value("aio_dataflow_messages_sent" + remote) == 50;
      },
      30s))
      << engine_->log();
  Samples s = scrape();
  EXPECT_EQ(s["aio_dataflow_messages_received" + local], 51);
  EXPECT_EQ(s["aio_dataflow_bytes_received" + local], 50 * 10 + 10);
  EXPECT_EQ(s["aio_dataflow_bytes_sent" + remote], 50 * 10);
  EXPECT_EQ(s["aio_dataflow_processing_latency_count" + local], 50);
  EXPECT_EQ(s[R"(aio_dataflow_processing_latency_bucket{le="+Inf",source_service_type="Unknown Mqtt Broker"})"],
            50);
  // The stages: 50 transformed and uploaded, the unroutable one failed its transformation.
  EXPECT_EQ(
      s[R"(aio_dataflow_upload_latency_count{success="true",target_service_type="Unknown Mqtt Broker"})"],
      50);
  EXPECT_EQ(
      s[R"(aio_dataflow_upload_latency_count{success="false",target_service_type="Unknown Mqtt Broker"})"],
      0);
  const std::string both = R"(source_service_type="Unknown Mqtt Broker",success=)";
  EXPECT_EQ(s["aio_dataflow_transformation_latency_count{" + both +
              R"("true",target_service_type="Unknown Mqtt Broker"})"],
            50);
  EXPECT_EQ(s["aio_dataflow_transformation_latency_count{" + both +
              R"("false",target_service_type="Unknown Mqtt Broker"})"],
            1);
  EXPECT_EQ(s["aio_dataflow_messages_retried" + remote], 0);
  EXPECT_EQ(s["aio_dataflow_active_dataflows{}"], 1);
  EXPECT_EQ(s[R"(dataflow_messages_received_total{dataflow="bridge"})"], 51);
  EXPECT_EQ(s[R"(dataflow_messages_delivered_total{dataflow="bridge"})"], 50);
  EXPECT_EQ(s[R"(dataflow_messages_dropped_total{dataflow="bridge",reason="unresolved_topic"})"], 1);
  EXPECT_EQ(s[R"(dataflow_messages_in_flight{dataflow="bridge"})"], 0);
  EXPECT_EQ(s[R"(dataflow_ready{dataflow="bridge"})"], 1);
  EXPECT_EQ(
      s[R"(dataflow_endpoint_connected{dataflow="bridge",endpoint="destination",side="destination"})"],
      1);
  EXPECT_EQ(s[R"(dataflow_delivery_latency_seconds_count{dataflow="bridge"})"], 50);
  EXPECT_GT(s["process_resident_memory_bytes{}"], 0);
  EXPECT_GT(s["process_start_time_seconds{}"], 1.7e9);

  // promtool's lint: the only findings are AIO's names, kept on purpose for AIO's dashboards.
  const auto metrics = get("/metrics");
  ASSERT_TRUE(metrics);
  std::ofstream(dir_.file("metrics.txt")) << metrics->body;
  ChildProcess promtool({"sh", "-c", "promtool check metrics < " + dir_.file("metrics.txt")},
                        dir_.file("promtool.log"));
  promtool.wait(30s);
  std::istringstream findings(promtool.log());
  for (std::string line; std::getline(findings, line);) {
    if (line.empty()) continue;
    EXPECT_EQ(line.rfind("aio_dataflow_", 0), 0u) << line;
  }
  // A reload (SIGHUP) is counted; the unchanged dataflow keeps its counts.
  engine_->signal(SIGHUP);
  EXPECT_TRUE(waitFor(
      [&] { return value(R"(dataflow_reloads_total{outcome="applied"})") == 1; }, 30s))
      << engine_->log();
  EXPECT_EQ(value(R"(dataflow_messages_delivered_total{dataflow="bridge"})"), 50);
  engine_->signal(SIGTERM);
  EXPECT_EQ(engine_->wait(30s), std::optional<int>(0)) << engine_->log();
}

// A spooled dataflow: what waits in the spool while the destination broker is away shows in
// /metrics and /readyz, the spool's age limit (1 s here) makes the dataflow not ready with the
// reason, and it all drains when the broker is back.
TEST_F(OpsE2E, SpoolMetricsAndReadinessFollowTheSpool) {
  startEngine("flow.yaml", "subscribed",
              {"--spool-dir", dir_.file("spool"), "--spool-all", "--spool-max-age", "1"});
  destination_.kill();
  MqttTestClient publisher(source_.address(), randomName("pub-"));
  for (int i = 0; i < 5; ++i) publisher.publish("plant/m" + std::to_string(i), "0123456789", 1);
  const std::string bridge = R"({dataflow="bridge"})";
  ASSERT_TRUE(waitFor([&] { return value("dataflow_spool_messages" + bridge) == 5; }, 60s))
      << engine_->log();
  ASSERT_TRUE(waitFor(
      [&] {
        return readyDataflow().value("reason", "").find(
                   "spool not taking messages: its oldest message has waited") !=
               std::string::npos;
      },
      60s))
      << engine_->log();
  const json entry = readyDataflow();
  EXPECT_EQ(entry.at("spool").at("messages"), 5);
  EXPECT_EQ(entry.at("spool").at("full"), true);
  EXPECT_GE(entry.at("spool").at("oldest_age_seconds").get<double>(), 1.0);
  Samples s = scrape();
  EXPECT_EQ(s["dataflow_spool_full" + bridge], 1);
  EXPECT_EQ(s["dataflow_spool_full_total" + bridge], 1);
  EXPECT_GT(s["dataflow_spool_bytes" + bridge], 0);
  EXPECT_EQ(s["dataflow_spool_committed_messages_total" + bridge], 5);
  EXPECT_GE(s["dataflow_spool_commits_total" + bridge], 1);
  EXPECT_EQ(s["dataflow_spool_fsync_seconds_count" + bridge],
            s["dataflow_spool_commits_total" + bridge]);
  EXPECT_EQ(s["dataflow_ready" + bridge], 0);

  destination_.start();
  ASSERT_TRUE(waitFor(
      [&] { return value("dataflow_messages_delivered_total" + bridge) == 5; }, 60s))
      << engine_->log();
  ASSERT_TRUE(waitFor([&] { return value("dataflow_spool_messages" + bridge) == 0; }, 60s))
      << engine_->log();
  ASSERT_TRUE(waitFor([&] { auto r = get("/readyz"); return r && r->status == 200; }, 60s))
      << engine_->log();
  EXPECT_EQ(value("dataflow_spool_full" + bridge), 0);
  engine_->signal(SIGTERM);
  EXPECT_EQ(engine_->wait(30s), std::optional<int>(0)) << engine_->log();
}

TEST_F(OpsE2E, ReadyzNamesTheDataflowWhoseBrokerIsDownAndLivezStaysUp) {
  startEngine();
  ASSERT_TRUE(waitFor([&] { auto r = get("/readyz"); return r && r->status == 200; }, 30s))
      << engine_->log();
  EXPECT_THAT(get("/readyz")->body, HasSubstr(R"("name":"bridge","ready":true)"));

  destination_.kill();
  ASSERT_TRUE(waitFor([&] { auto r = get("/readyz"); return r && r->status == 503; }, 60s))
      << engine_->log();
  const json body = json::parse(get("/readyz")->body);
  EXPECT_EQ(body.at("ready"), false);
  ASSERT_EQ(body.at("dataflows").size(), 1u);
  EXPECT_EQ(body.at("dataflows")[0].at("name"), "bridge");
  EXPECT_THAT(body.at("dataflows")[0].at("reason").get<std::string>(),
              HasSubstr("destination endpoint destination connecting"));
  const auto live = get("/livez");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  EXPECT_EQ(get("/healthz")->status, 200);

  // A message that expires while the destination is away is counted as expired when the
  // destination would have sent it.
  MqttTestClient publisher(source_.address(), randomName("pub-"));
  ::mqtt::properties expiring{{::mqtt::property::MESSAGE_EXPIRY_INTERVAL, 1}};
  publisher.publish("plant/m1", "short-lived", 1, expiring);
  ASSERT_TRUE(waitFor(
      [&] { return value(R"(dataflow_messages_received_total{dataflow="bridge"})") == 1; }, 60s))
      << engine_->log();
  std::this_thread::sleep_for(2s);  // lets the 1 s expiry pass; not a timing assertion
  destination_.start();
  ASSERT_TRUE(waitFor(
      [&] {
        return value(R"(aio_dataflow_messages_expired{target_service_type="Unknown Mqtt Broker"})") ==
               1;
      },
      60s))
      << engine_->log();
  ASSERT_TRUE(waitFor([&] { auto r = get("/readyz"); return r && r->status == 200; }, 60s))
      << engine_->log();
  EXPECT_EQ(value(R"(dataflow_messages_dropped_total{dataflow="bridge",reason="expired"})"), 1);
  // The lost connection and the reconnects are counted.
  const Samples s = scrape();
  const std::string destination_side =
      R"(dataflow="bridge",endpoint="destination",side="destination"})";
  EXPECT_EQ(s.at("dataflow_endpoint_disconnects_total{" + destination_side), 1);
  EXPECT_GE(s.at("dataflow_endpoint_connection_attempts_total{" + destination_side), 2);
  EXPECT_EQ(s.at(R"(dataflow_endpoint_disconnects_total{dataflow="bridge",endpoint="source",side="source"})"),
            0);
  engine_->signal(SIGTERM);
  EXPECT_EQ(engine_->wait(30s), std::optional<int>(0)) << engine_->log();
}

TEST_F(OpsE2E, ReadyzSaysAuthenticationFailedWhenTheBrokerRefusesTheClient) {
  Mosquitto::Options options;
  options.extra_config = "allow_anonymous false\n";
  Mosquitto locked(options);
  writeManifest("locked.yaml", locked);
  startEngine("locked.yaml", "subscribed");
  ASSERT_TRUE(waitFor(
      [&] {
        return readyDataflow().value("destination", json::object()).value("state", "") ==
               "authentication_failed";
      },
      60s))
      << engine_->log();
  EXPECT_EQ(get("/readyz")->status, 503);
  const json bridge = readyDataflow();
  EXPECT_THAT(bridge.at("reason").get<std::string>(),
              HasSubstr("destination endpoint destination authentication failed"));
  EXPECT_THAT(bridge.at("reason").get<std::string>(), HasSubstr("Not authorized"));
  EXPECT_EQ(bridge.at("source").at("state"), "connected");
  EXPECT_EQ(
      value(R"(dataflow_endpoint_state{dataflow="bridge",endpoint="destination",side="destination",state="authentication_failed"})"),
      1);
  engine_->signal(SIGTERM);
  EXPECT_EQ(engine_->wait(30s), std::optional<int>(0)) << engine_->log();
}

TEST_F(OpsE2E, ReadyzSaysTheDestinationRefusesWhenItRefusesMessageAfterMessage) {
  // Subscribing is allowed, publishing is not: PUBACK 0x87 Not authorized for every message.
  std::ofstream(dir_.file("read-only.acl")) << "topic read #\n";
  Mosquitto::Options options;
  options.extra_config = "acl_file " + dir_.file("read-only.acl") + "\n";
  Mosquitto refusing(options);
  writeManifest("refusing.yaml", refusing);
  startEngine("refusing.yaml", "subscribed");
  ASSERT_TRUE(waitFor([&] { auto r = get("/readyz"); return r && r->status == 200; }, 30s))
      << engine_->log();
  MqttTestClient publisher(source_.address(), randomName("pub-"));
  for (int i = 0; i < 6; ++i) publisher.publish("plant/m" + std::to_string(i), "denied", 1);
  ASSERT_TRUE(waitFor(
      [&] {
        return value(R"(dataflow_messages_dropped_total{dataflow="bridge",reason="refused_by_destination"})") ==
               6;
      },
      60s))
      << engine_->log();
  const auto ready = get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  const json bridge = readyDataflow();
  EXPECT_THAT(bridge.at("reason").get<std::string>(),
              HasSubstr("destination endpoint destination refusing messages (6 in a row"));
  EXPECT_THAT(bridge.at("reason").get<std::string>(), HasSubstr("Not authorized"));
  // A refusal is that message's outcome: the connection stays.
  EXPECT_EQ(
      value(R"(dataflow_endpoint_disconnects_total{dataflow="bridge",endpoint="destination",side="destination"})"),
      0)
      << engine_->log();
  engine_->signal(SIGTERM);
  EXPECT_EQ(engine_->wait(30s), std::optional<int>(0)) << engine_->log();
}

TEST_F(OpsE2E, KafkaConsumerLagIsWhatTheSourceHasNotDeliveredYet) {
  MockKafka kafka(1);
  const std::string topic = randomName("lag-");
  kafka.createTopic(topic, 2);
  std::ofstream(dir_.file("kafka.yaml"))
      << "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
         "metadata:\n  name: kafka\nspec:\n  endpointType: Kafka\n  kafkaSettings:\n"
         "    host: "
      << kafka.bootstrapServers() << "\n    consumerGroupId: " << randomName("group-")
      << "\n    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n"
      << endpoint("destination", destination_)
      << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
         "metadata:\n  name: from-kafka\nspec:\n  operations:\n"
         "  - operationType: Source\n    sourceSettings:\n      endpointRef: kafka\n"
         "      dataSources: ['"
      << topic
      << "']\n  - operationType: Destination\n    destinationSettings:\n"
         "      endpointRef: destination\n      dataDestination: 'out/kafka'\n";
  // The destination is away: nothing can be delivered, so nothing is committed.
  destination_.kill();
  KafkaWriter writer(kafka.bootstrapServers());
  std::vector<KafkaRecord> records;
  for (int i = 0; i < 30; ++i) {
    KafkaRecord r;
    r.topic = topic;
    r.partition = i % 2;
    r.value = "r" + std::to_string(i);
    records.push_back(r);
  }
  writer.write(records);
  startEngine("kafka.yaml", "running 1 of 1 dataflow");
  auto lag = [&](int partition) {
    return value("dataflow_kafka_consumer_lag{dataflow=\"from-kafka\",partition=\"" +
                 std::to_string(partition) + "\",topic=\"" + topic + "\"}");
  };
  ASSERT_TRUE(waitFor([&] { return lag(0) == 15 && lag(1) == 15; }, 60s)) << engine_->log();

  // Once the destination is back, every record is delivered and committed: no lag is left.
  destination_.start();
  ASSERT_TRUE(waitFor([&] { return lag(0) == 0 && lag(1) == 0; }, 60s)) << engine_->log();
  EXPECT_EQ(value(R"(dataflow_messages_delivered_total{dataflow="from-kafka"})"), 30);
  engine_->signal(SIGTERM);
  EXPECT_EQ(engine_->wait(30s), std::optional<int>(0)) << engine_->log();
}

}  // namespace
}  // namespace dataflow::testing
