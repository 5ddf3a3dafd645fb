#include "bench/harness/environment.h"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "bench/harness/kafka_load.h"

namespace dataflow::bench {

const char* const kBrokerConfig =
    "set_tcp_nodelay true\n"
    "max_inflight_messages 100\n";

Environment::Environment(std::string engine_exe, const std::string& kafka_bootstrap,
                         int max_inflight, bool spool)
    : engine_exe_(std::move(engine_exe)),
      max_inflight_(max_inflight),
      spool_(spool),
      dir_("dataflow-bench") {
  testing::Mosquitto::Options options;
  options.extra_config = kBrokerConfig;
  if (max_inflight > 100) {
    options.extra_config += "max_inflight_messages " + std::to_string(max_inflight) + "\n";
  }
  broker_ = std::make_unique<testing::Mosquitto>(options);
  if (kafka_bootstrap.empty()) {
    mock_ = std::make_unique<testing::MockKafka>(1);
    bootstrap_ = mock_->bootstrapServers();
  } else {
    bootstrap_ = kafka_bootstrap;
  }
}

Environment::~Environment() = default;

void Environment::createTopic(const std::string& name, int partitions) {
  if (mock_) {
    mock_->createTopic(name, partitions);
  } else {
    createTopicWithAdminApi(bootstrap_, name, partitions);
  }
}

void Environment::setKafkaDown(bool down) {
  if (!mock_) throw std::logic_error("a real Kafka cluster cannot be taken down by the benchmark");
  mock_->setAllBrokersDown(down);
}

int64_t Environment::endOffsets(const std::string& topic) {
  if (!mock_) throw std::logic_error("log end offsets are read from the mock cluster only");
  return mock_->endOffsets(topic);
}

namespace {

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

std::string tail(const std::string& text) {
  return text.size() > 4000 ? "..." + text.substr(text.size() - 4000) : text;
}

}  // namespace

EngineProcess::EngineProcess(const Environment& env, const std::string& name,
                             const std::string& manifests, const std::string& ready_text,
                             int ready_count) {
  const std::string manifest_path = env.dir().file(name + ".yaml");
  {
    std::ofstream out(manifest_path);
    out << manifests;
  }
  std::vector<std::string> argv{env.engineExe(), "run", "-f", manifest_path};
  if (env.spool()) {
    // A folder per engine run: a spool left by an earlier scenario is not this one's.
    for (const std::string& a : {std::string("--spool-all"), std::string("--spool-dir"),
                                 env.dir().file("spool-" + name)}) {
      argv.push_back(a);
    }
  }
  process_ = std::make_unique<testing::ChildProcess>(argv, env.dir().file(name + ".log"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (occurrences(process_->log(), ready_text) < static_cast<size_t>(ready_count)) {
    if (!process_->running() || std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("the engine did not get ready (\"" + ready_text + "\" x" +
                               std::to_string(ready_count) + "); its log:\n" +
                               tail(process_->log()));
    }
    // Polling a log file for readiness: there is no other signal from a child process.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

EngineProcess::~EngineProcess() {
  if (process_->running()) stop();
}

int EngineProcess::stop() {
  process_->signal(SIGTERM);
  std::optional<int> code = process_->wait(kStopWait);
  if (!code) {
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(5));
    return -1;
  }
  return *code;
}

}  // namespace dataflow::bench
