// `dataflow dev-kafka`: librdkafka's mock Kafka cluster on loopback, to try the engine on a
// machine without Kafka. Prints `bootstrap.servers=...` and runs until SIGINT or SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/kafka/dev_cluster.h"
#include "cli/commands.h"
#include "engine/core/topic_names.h"

namespace dataflow::cli {

namespace {

constexpr int kMaxBrokers = 100;
constexpr int kMaxPartitions = 10'000;
constexpr int kDefaultPartitions = 1;  // Kafka's own num.partitions default
constexpr int kExitFailure = 1;

struct TopicSpec {
  std::string name;
  int partitions = kDefaultPartitions;
};

struct DevKafkaArgs {
  int brokers = 3;
  std::vector<std::string> topics;
  std::string bootstrap_file;
};

// NAME[:PARTITIONS]: a legal Kafka topic name, then optionally 1 .. kMaxPartitions.
std::optional<TopicSpec> parseTopic(const std::string& text) {
  TopicSpec spec;
  const size_t colon = text.rfind(':');
  spec.name = text.substr(0, colon);
  if (!isLegalKafkaTopic(spec.name)) return std::nullopt;
  if (colon == std::string::npos) return spec;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [end, error] = std::from_chars(first, last, spec.partitions);
  if (first == last || error != std::errc() || end != last || spec.partitions < 1 ||
      spec.partitions > kMaxPartitions) {
    return std::nullopt;
  }
  return spec;
}

std::string checkTopic(const std::string& text) {
  if (parseTopic(text)) return {};
  return "--topic " + text + ": expected NAME[:PARTITIONS], NAME a Kafka topic name " +
         "([a-zA-Z0-9._-], at most 249 characters) and PARTITIONS a number from 1 to " +
         std::to_string(kMaxPartitions);
}

// Written next to the target and renamed over it, so a reader polling for the file never sees
// it half-written.
bool writeFileAtomically(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << content;
    if (!out.flush()) return false;
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) std::filesystem::remove(temporary, error);
  return !error;
}

void logToStderr(int level, const char* facility, const char* line) {
  std::fprintf(stderr, "librdkafka %d %s: %s\n", level, facility, line);  // one call: one line
}

int runDevKafka(const DevKafkaArgs& args) {
  // Blocked before any thread exists, so every librdkafka thread inherits the mask and the
  // signals wait for sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Result<std::unique_ptr<kafka::DevCluster>> cluster =
      kafka::DevCluster::start(args.brokers, &logToStderr);
  if (!cluster.isOk()) {
    std::cerr << "dev-kafka: " << cluster.status().message() << "\n";
    return kExitFailure;
  }
  for (const std::string& text : args.topics) {
    const TopicSpec topic = *parseTopic(text);  // checked while parsing the command line
    if (Status s = cluster.value()->createTopic(topic.name, topic.partitions); !s.isOk()) {
      std::cerr << "dev-kafka: " << s.message() << "\n";
      return kExitFailure;
    }
  }
  const std::string line = "bootstrap.servers=" + cluster.value()->bootstrapServers();
  std::cout << line << std::endl;  // flushed: scripts read it while the command keeps running
  if (!args.bootstrap_file.empty() && !writeFileAtomically(args.bootstrap_file, line + "\n")) {
    std::cerr << "dev-kafka: cannot write " << args.bootstrap_file << "\n";
    return kExitFailure;
  }
  std::cerr << "dev-kafka: " << args.brokers << " mock broker(s) on loopback; a development aid, "
            << "not a broker. Stop with Ctrl-C or SIGTERM.\n";
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cerr << "dev-kafka: stopping (signal " << signal_number << ")\n";
  return kExitOk;
}

}  // namespace

Command addDevKafkaCommand(CLI::App& app) {
  auto args = std::make_shared<DevKafkaArgs>();
  CLI::App* cmd = app.add_subcommand(
      "dev-kafka",
      "Run librdkafka's mock Kafka cluster on 127.0.0.1 and print bootstrap.servers=HOST:PORT,... "
      "until SIGINT/SIGTERM. A development aid, NOT a broker: one thread serves every broker, "
      "data is kept in memory only (at most 5 MiB or 100,000 batches per partition, the oldest "
      "dropped), no SASL, no TLS, no admin API (unknown topics are created with 4 partitions).");
  cmd->add_option("--brokers", args->brokers, "Number of mock brokers")
      ->check(CLI::Range(1, kMaxBrokers))
      ->capture_default_str();
  cmd->add_option("--topic", args->topics,
                  "Create a topic: NAME[:PARTITIONS] (default 1 partition); repeatable")
      ->check(CLI::Validator(checkTopic, "NAME[:PARTITIONS]"));
  cmd->add_option("--bootstrap-file", args->bootstrap_file,
                  "Also write the bootstrap.servers= line to this file (atomically)");
  return [args]() { return runDevKafka(*args); };
}

}  // namespace dataflow::cli
