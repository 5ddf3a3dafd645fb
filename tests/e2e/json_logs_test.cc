// `dataflow run --log-format json` as a log collector reads it: every line the process writes
// (stdout and stderr, the engine's, the connectors', librdkafka's) is one JSON object with the
// documented keys, the lines about a dataflow and an endpoint say so, and an error that repeats at
// message rate is one line per interval with the count suppressed since.
#include <gmock/gmock.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "tests/e2e/e2e_fixture.h"
#include "tests/support/kafka/kafka_security_front.h"
#include "tests/support/kubernetes_mount.h"
#include "tests/support/random_name.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::HasSubstr;

// Every line of `output` parsed; a line that is not a JSON object with the documented keys fails
// the test (and is left out of the result).
std::vector<nlohmann::json> parseLines(const std::string& output) {
  static const std::regex kTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  static const std::set<std::string> kLevels{"trace",   "debug", "info",
                                             "warning", "error", "critical"};
  static const std::set<std::string> kKeys{"time",     "level",   "logger", "dataflow",
                                           "endpoint", "message", "fields"};
  std::vector<nlohmann::json> lines;
  std::istringstream in(output);
  for (std::string text; std::getline(in, text);) {
    nlohmann::json line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!line.is_object()) {
      ADD_FAILURE() << "not a JSON object: " << text;
      continue;
    }
    bool good = line.contains("time") && line["time"].is_string() &&
                std::regex_match(line["time"].get<std::string>(), kTime) &&
                line.contains("level") && kLevels.count(line["level"].get<std::string>()) &&
                line.contains("logger") && line["logger"].is_string() && line.contains("message") &&
                line["message"].is_string();
    for (const auto& item : line.items()) good = good && kKeys.count(item.key());
    if (line.contains("dataflow")) good = good && line["dataflow"].is_string();
    if (line.contains("endpoint")) good = good && line["endpoint"].is_string();
    if (line.contains("fields")) good = good && line["fields"].is_object();
    if (!good) {
      ADD_FAILURE() << "not a log line with the documented keys: " << text;
      continue;
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

bool anyLine(const std::string& output, const std::function<bool(const nlohmann::json&)>& p) {
  std::istringstream in(output);
  for (std::string text; std::getline(in, text);) {
    nlohmann::json line = nlohmann::json::parse(text, nullptr, false);
    if (line.is_object() && p(line)) return true;
  }
  return false;
}

bool fromLibrdkafka(const nlohmann::json& line) {
  return line.contains("fields") && line["fields"].value("library", "") == "librdkafka";
}

class JsonLogs : public EngineE2E {};

TEST_F(JsonLogs, EveryLineOfARunAtDebugIsJsonWithItsDataflowAndEndpoint) {
  writeManifests(FlowSpec());
  startEngine({"--log-format", "json", "--log-level", "debug"});
  for (int i = 0; i < 3; ++i) publish("plant/m1/data", "value " + std::to_string(i));
  ASSERT_EQ(readRecords(3).size(), 3u);
  // A Kafka outage: the producer's and librdkafka's own lines about it.
  kafka_->setAllBrokersDown(true);
  ASSERT_TRUE(waitFor(
      [&] {
        return anyLine(engineLog(), fromLibrdkafka) &&
               engineLog().find("lost the connection to Kafka") != std::string::npos;
      },
      kDeadline))
      << engineLog();
  kafka_->setAllBrokersDown(false);
  EXPECT_EQ(stopEngine(SIGTERM), 0);

  const std::vector<nlohmann::json> lines = parseLines(engineLog());
  std::set<std::string> endpoints, levels;
  for (const nlohmann::json& line : lines) {
    levels.insert(line["level"].get<std::string>());
    if (line["logger"] == "flow") {
      EXPECT_EQ(line.value("dataflow", ""), "flow") << line.dump();
    } else {
      EXPECT_FALSE(line.contains("dataflow")) << line.dump();
      // The engine's own lines name no endpoint, except the shared Kafka producer's.
      if (line.contains("endpoint")) {
        EXPECT_EQ(line["endpoint"], "kafka") << line.dump();
      }
    }
    if (line.contains("endpoint")) endpoints.insert(line["endpoint"].get<std::string>());
    if (fromLibrdkafka(line)) {
      EXPECT_EQ(line.value("endpoint", ""), "kafka") << line.dump();
      EXPECT_TRUE(line["fields"]["facility"].is_string()) << line.dump();
    }
  }
  EXPECT_EQ(endpoints, (std::set<std::string>{"mqtt", "kafka"}));
  EXPECT_THAT(levels, Contains("debug"));
  EXPECT_THAT(levels, Contains("warning"));
  const auto said = [&](const std::string& logger, const std::string& endpoint,
                        const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&](const nlohmann::json& line) {
      return line["logger"] == logger && line.value("endpoint", "") == endpoint &&
             line["message"].get<std::string>().find(text) != std::string::npos;
    });
  };
  EXPECT_TRUE(said("flow", "mqtt", "MQTT source: subscribed to plant/+/data"));
  // The Kafka producer is shared by the endpoint's dataflows: its lines are the engine's.
  EXPECT_TRUE(said("engine", "kafka", "lost the connection to Kafka"));
  EXPECT_TRUE(said("flow", "", "stopped: received 3, delivered 3"));
  EXPECT_TRUE(said("engine", "", "running 1 of 1 dataflow"));
}

TEST_F(JsonLogs, AnErrorAtMessageRateIsOneLinePerIntervalWithTheCountSuppressed) {
  // plant/m1 has no third level: every message is dropped with a warning.
  writeManifests(FlowSpec().from("mqtt", "plant/#").to(topic() + "-${inputTopic.3}"));
  startEngine({"--log-format", "json"});
  const std::string warning = "cannot be resolved for input topic";
  int published = 0;
  const auto reports = [&] {
    std::vector<nlohmann::json> found;
    for (nlohmann::json& line : parseLines(engineLog())) {
      if (line["message"].get<std::string>().find(warning) != std::string::npos) {
        found.push_back(std::move(line));
      }
    }
    return found;
  };
  for (; published < 20; ++published) publish("plant/m1", "x");
  // The pipeline's interval is 10 s: keep the drops coming until the second report.
  ASSERT_TRUE(waitFor(
      [&] {
        publish("plant/m1", "x");
        ++published;
        return reports().size() >= 2;
      },
      kDeadline, 500ms));
  const std::vector<nlohmann::json> seen = reports();
  ASSERT_EQ(seen.size(), 2u) << engineLog();
  const std::string first = seen[0]["message"], second = seen[1]["message"];
  EXPECT_THAT(first, ::testing::Not(HasSubstr("more since the last report")));
  EXPECT_EQ(seen[0]["dataflow"], "flow");
  EXPECT_EQ(seen[0]["fields"]["suppressed"], 0);
  std::smatch count;
  ASSERT_TRUE(
      std::regex_search(second, count, std::regex(R"(\((\d+) more since the last report\))")))
      << second;
  EXPECT_GE(std::stoi(count[1]), 19);  // the first 20 less the one reported
  EXPECT_LT(std::stoi(count[1]), published);
  EXPECT_EQ(seen[1]["fields"]["suppressed"], std::stoi(count[1]));
  EXPECT_EQ(stopEngine(SIGTERM), 0);
  parseLines(engineLog());  // and every line is JSON
}

// A refused SASL login, then the rotated Secret that works, at debug: the lines about both are
// JSON, and neither password appears in any line, raw or once its JSON escapes are decoded.
TEST_F(JsonLogs, SaslFailureAndRotationAtDebugPrintNoSecret) {
  const std::string wrong = randomName("wrong-password-");
  const std::string right = randomName("right-password-");
  KafkaFrontOptions options;
  options.sasl_mechanisms = {"PLAIN"};
  options.plain_users = {{"alice", right}};
  KafkaSecurityFront front(kafka_->bootstrapServers(), options, dir_->path());
  writeKubernetesMount(dir_->file("secrets/creds"), {{"username", "alice"}, {"password", wrong}});
  writeManifests(FlowSpec());
  {  // the fixture's Kafka endpoint, through the front, with SASL
    std::ifstream in(dir_->file("manifests.yaml"));
    std::string yaml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string anonymous = "    host: " + kafka_->bootstrapServers() +
                                  "\n    consumerGroupId: flow-group\n"
                                  "    authentication:\n      method: Anonymous\n";
    const size_t at = yaml.find(anonymous);
    ASSERT_NE(at, std::string::npos) << yaml;
    yaml.replace(at, anonymous.size(),
                 "    host: " + front.bootstrapServers() +
                     "\n    authentication:\n      method: Sasl\n      saslSettings:\n"
                     "        saslType: Plain\n        secretRef: creds\n");
    std::ofstream(dir_->file("manifests.yaml")) << yaml;
  }
  startEngine(
      {"--log-format", "json", "--log-level", "debug", "--secrets-dir", dir_->file("secrets")});
  ASSERT_TRUE(waitFor([&] { return !front.events("auth_failed").empty(); }, kDeadline))
      << front.log();
  writeKubernetesMount(dir_->file("secrets/creds"), {{"username", "alice"}, {"password", right}});
  // Published once the new producer is connected: the refused one could deliver nothing.
  ASSERT_TRUE(waitFor([&] { return engineLog().find("connected to Kafka") != std::string::npos; },
                      kDeadline))
      << engineLog();
  publish("plant/m1/data", "after the rotation");
  ASSERT_EQ(readRecords(1).size(), 1u) << engineLog();
  EXPECT_EQ(stopEngine(SIGTERM), 0);

  const std::string output = engineLog();
  EXPECT_EQ(output.find(wrong), std::string::npos);
  EXPECT_EQ(output.find(right), std::string::npos);
  bool refusal_logged = false;
  for (const nlohmann::json& line : parseLines(output)) {
    const std::string decoded =
        line["message"].get<std::string>() + (line.contains("fields") ? line["fields"].dump() : "");
    EXPECT_EQ(decoded.find(wrong), std::string::npos) << line.dump();
    EXPECT_EQ(decoded.find(right), std::string::npos) << line.dump();
    if (line.value("endpoint", "") == "kafka" && line["level"] != "debug" &&
        line["message"].get<std::string>().find("SASL") != std::string::npos) {
      refusal_logged = true;
    }
  }
  EXPECT_TRUE(refusal_logged) << output;
  EXPECT_THAT(output, HasSubstr("mounted content changed"));
}

TEST(JsonLogsOfAnInvalidRun, ManifestErrorsAreJsonLinesWithTheirPosition) {
  TempDir dir;
  const std::string path = dir.file("bad.yaml");
  std::ofstream(path)
      << "apiVersion: connectivity.iotoperations.azure.com/v1\n"
         "kind: DataflowEndpoint\nmetadata:\n  name: e\nspec:\n"
         "  endpointType: Kafka\n  kafkaSettings:\n    hots: \"a \\\"quoted\\\" x\"\n";
  ChildProcess process({DATAFLOW_EXE, "run", "--log-format", "json", "-f", path},
                       dir.file("out.log"));
  EXPECT_EQ(process.wait(30s), std::optional<int>(2));
  const std::vector<nlohmann::json> lines = parseLines(process.log());
  ASSERT_GE(lines.size(), 2u) << process.log();
  bool typo_reported = false;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {  // one line per diagnostic, then the summary
    const nlohmann::json& line = lines[i];
    EXPECT_EQ(line["logger"], "engine");
    EXPECT_THAT(line["level"].get<std::string>(), ::testing::AnyOf("error", "warning"));
    ASSERT_TRUE(line.contains("fields")) << line.dump();
    EXPECT_EQ(line["fields"]["file"], path);
    EXPECT_TRUE(line["fields"]["line"].is_number_integer()) << line.dump();
    EXPECT_TRUE(line["fields"]["column"].is_number_integer()) << line.dump();
    if (line["message"].get<std::string>().find(path + ":8:5:") != std::string::npos) {
      typo_reported = true;
      EXPECT_EQ(line["level"], "error");
      EXPECT_EQ(line["fields"]["line"], 8);
      EXPECT_EQ(line["fields"]["column"], 5);
      EXPECT_THAT(line["fields"]["path"].get<std::string>(), HasSubstr("hots"));
    }
  }
  EXPECT_TRUE(typo_reported) << process.log();
  EXPECT_EQ(lines.back()["level"], "error");
  EXPECT_THAT(lines.back()["message"].get<std::string>(), HasSubstr("nothing started"));
}

TEST(JsonLogsOfAnInvalidRun, AnUnknownFormatIsAUsageError) {
  TempDir dir;
  const std::string path = dir.file("empty.yaml");
  std::ofstream(path) << "";
  ChildProcess process({DATAFLOW_EXE, "run", "--log-format", "xml", "-f", path},
                       dir.file("out.log"));
  EXPECT_EQ(process.wait(30s), std::optional<int>(2));
  EXPECT_THAT(process.log(), HasSubstr("--log-format"));
}

}  // namespace
}  // namespace dataflow::testing
