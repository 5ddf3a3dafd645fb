#include "tests/e2e/e2e_fixture.h"

#include <fstream>

#include "tests/support/random_name.h"
#include "tests/support/wait.h"

namespace dataflow::testing {

void EngineE2E::SetUp() {
  dir_ = std::make_unique<TempDir>();
  Mosquitto::Options options;
  options.persistence = true;
  mosquitto_ = std::make_unique<Mosquitto>(options);
  kafka_ = std::make_unique<MockKafka>(1);
  topic_ = randomName("e2e-");
}

void EngineE2E::TearDown() {
  if (engine_ && engine_->running()) {
    engine_->signal(SIGKILL);
    engine_->wait(std::chrono::seconds(10));
  }
  if (HasFailure() && engine_) {
    std::cerr << "---- dataflow run log ----\n" << engine_->log() << "---- end ----\n";
  }
}

void EngineE2E::createTopic(int partitions) { kafka_->createTopic(topic_, partitions); }

namespace {

std::string mqttEndpoint(const std::string& name, const Mosquitto& broker,
                         const std::string& extra) {
  return "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
         "metadata:\n  name: " +
         name +
         "\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
         "    host: " +
         broker.address() +
         "\n    qos: 1\n    authentication:\n      method: Anonymous\n"
         "    tls:\n      mode: Disabled\n" +
         extra;
}

}  // namespace

Mosquitto& EngineE2E::broker(const std::string& endpoint) {
  return endpoint == "mqtt2" ? *mosquitto2_ : *mosquitto_;
}

void EngineE2E::writeManifests(const FlowSpec& spec) {
  const bool uses_mqtt2 = spec.source_endpoint == "mqtt2" || spec.destination_endpoint == "mqtt2";
  if (uses_mqtt2 && !mosquitto2_) {
    Mosquitto::Options options;
    options.persistence = true;
    mosquitto2_ = std::make_unique<Mosquitto>(options);
  }
  const bool kafka_source = spec.source_endpoint == "kafka";
  ready_text_ = kafka_source ? "MQTT destination: connected" : "subscribed";
  std::string source = spec.source_filter;
  if (source.empty()) source = kafka_source ? topic_ : "plant/+/data";
  std::string destination = spec.destination;
  if (destination.empty())
    destination = spec.destination_endpoint == "kafka" ? topic_ : "out/${inputTopic}";

  std::ofstream out(dir_->path() + "/manifests.yaml");
  out << "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowProfile\n"
         "metadata:\n  name: default\nspec:\n  instanceCount: "
      << spec.instance_count << "\n"
      << mqttEndpoint("mqtt", *mosquitto_, spec.mqtt_settings);
  if (mosquitto2_) out << mqttEndpoint("mqtt2", *mosquitto2_, spec.mqtt2_settings);
  out << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
         "metadata:\n  name: kafka\nspec:\n  endpointType: Kafka\n  kafkaSettings:\n"
         "    host: "
      << kafka_->bootstrapServers()
      << "\n    consumerGroupId: flow-group\n"
         "    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n"
      << spec.kafka_settings
      << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
         "metadata:\n  name: flow\nspec:\n  operations:\n"
         "  - operationType: Source\n    sourceSettings:\n      endpointRef: "
      << spec.source_endpoint << "\n      dataSources: ['" << source
      << "']\n  - operationType: Destination\n    destinationSettings:\n"
         "      endpointRef: "
      << spec.destination_endpoint << "\n      dataDestination: '" << destination << "'\n"
      << spec.destination_settings;
}

std::unique_ptr<ChildProcess> EngineE2E::startAnotherEngine(std::vector<std::string> extra_args) {
  std::vector<std::string> argv{DATAFLOW_EXE, "run", "-f", dir_->path() + "/manifests.yaml"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  ++engine_runs_;
  auto engine = std::make_unique<ChildProcess>(
      argv, dir_->path() + "/engine-" + std::to_string(engine_runs_) + ".log");
  const bool ready = waitFor(
      [&] { return engine->log().find(ready_text_) != std::string::npos || !engine->running(); },
      kDeadline);
  EXPECT_TRUE(ready && engine->running()) << engine->log();
  return engine;
}

void EngineE2E::startEngine(std::vector<std::string> extra_args) {
  engine_ = startAnotherEngine(std::move(extra_args));
  ASSERT_TRUE(engine_->running()) << engine_->log();
}

int EngineE2E::stopEngine(int signal) {
  engine_->signal(signal);
  std::optional<int> code = engine_->wait(kDeadline);
  EXPECT_TRUE(code.has_value()) << "dataflow run did not exit";
  return code.value_or(-1);
}

std::vector<size_t> EngineE2E::missing(const std::string& prefix, size_t count,
                                       std::chrono::milliseconds deadline) {
  if (!reader_) reader_ = std::make_unique<KafkaReader>(kafka_->bootstrapServers(), topic());
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (numbered_seen_[prefix].size() < count && std::chrono::steady_clock::now() < until) {
    for (const KafkaRecord& r : reader_->readAtLeast(1, std::chrono::milliseconds(500))) {
      const size_t dash = r.value.rfind('-');
      if (dash == std::string::npos || dash + 1 == r.value.size() ||
          r.value.find_first_not_of("0123456789", dash + 1) != std::string::npos) {
        continue;  // not a numbered record ("warm-up", a marker)
      }
      const std::string of = r.value.substr(0, dash);
      numbered_seen_[of].insert(std::stoul(r.value.substr(dash + 1)));
      ++numbered_records_[of];
    }
  }
  std::vector<size_t> out;
  const std::set<size_t>& seen = numbered_seen_[prefix];
  for (size_t i = 0; i < count; ++i) {
    if (!seen.count(i)) out.push_back(i);
  }
  return out;
}

size_t EngineE2E::duplicates(const std::string& prefix) const {
  const auto records = numbered_records_.find(prefix);
  const auto seen = numbered_seen_.find(prefix);
  if (records == numbered_records_.end() || seen == numbered_seen_.end()) return 0;
  return records->second - seen->second.size();
}

std::string EngineE2E::engineLog() const { return engine_ ? engine_->log() : ""; }

std::chrono::steady_clock::time_point EngineE2E::publishExpiringThroughOutage(
    std::chrono::seconds outage) {
  const auto published_at = std::chrono::steady_clock::now();
  publish("plant/m1/data", "short", {"-D", "publish", "message-expiry-interval", "2"});
  publish("plant/m1/data", "long", {"-D", "publish", "message-expiry-interval", "3600"});
  publish("plant/m1/data", "plain");
  waitFor([&] { return std::chrono::steady_clock::now() - published_at >= outage; },
          outage + std::chrono::seconds(5), std::chrono::milliseconds(100));
  return published_at;
}

void EngineE2E::publish(const std::string& topic, const std::string& payload,
                        std::vector<std::string> extra) {
  std::vector<std::string> argv{"/usr/bin/mosquitto_pub",
                                "-V",
                                "5",
                                "-h",
                                "127.0.0.1",
                                "-p",
                                std::to_string(mosquitto_->port()),
                                "-q",
                                "1",
                                "-t",
                                topic,
                                "-m",
                                payload};
  argv.insert(argv.end(), extra.begin(), extra.end());
  ChildProcess pub(argv, dir_->path() + "/mosquitto_pub.log");
  ASSERT_EQ(pub.wait(kDeadline), 0) << pub.log();
}

void EngineE2E::produce(const std::vector<std::string>& values,
                        std::vector<std::string> kcat_args) {
  const std::string file = dir_->file("produce-" + std::to_string(++produce_runs_) + ".txt");
  {
    std::ofstream out(file, std::ios::binary);
    for (const std::string& v : values) out << v << '\n';
  }
  std::vector<std::string> argv{"kcat", "-P",   "-b", kafka_->bootstrapServers(),
                                "-t",   topic_, "-l", file};
  argv.insert(argv.end(), kcat_args.begin(), kcat_args.end());
  ChildProcess kcat(argv, dir_->file("kcat.log"));
  ASSERT_EQ(kcat.wait(kDeadline), 0) << kcat.log();
}

std::vector<KafkaRecord> EngineE2E::readRecords(size_t count) {
  if (!reader_) reader_ = std::make_unique<KafkaReader>(kafka_->bootstrapServers(), topic_);
  std::vector<KafkaRecord> records = reader_->readAtLeast(count, kDeadline);
  EXPECT_GE(records.size(), count) << "records missing from Kafka";
  return records;
}

std::optional<std::string> header(const KafkaRecord& record, const std::string& name) {
  for (const auto& [n, value] : record.headers) {
    if (n == name) return value.value_or("<null>");
  }
  return std::nullopt;
}

std::vector<std::string> headerList(const KafkaRecord& record) {
  std::vector<std::string> out;
  for (const auto& [n, value] : record.headers) out.push_back(n + "=" + value.value_or("<null>"));
  return out;
}

}  // namespace dataflow::testing
