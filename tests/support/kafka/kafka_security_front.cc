#include "tests/support/kafka/kafka_security_front.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/wait.h"

namespace dataflow::testing {

namespace {

using nlohmann::json;

json configOf(const std::string& backend_bootstrap, const KafkaFrontOptions& options) {
  json config;
  std::vector<std::string> backends;
  std::istringstream list(backend_bootstrap);
  for (std::string broker; std::getline(list, broker, ',');) backends.push_back(broker);
  config["backend"] = backends;
  if (options.tls) {
    json tls = {{"cert", options.tls->cert}, {"key", options.tls->key}};
    if (options.tls->client_ca) {
      tls["client_ca"] = *options.tls->client_ca;
      tls["require_client_cert"] = options.tls->require_client_cert;
    }
    config["tls"] = tls;
  }
  if (!options.sasl_mechanisms.empty()) {
    json sasl = {{"mechanisms", options.sasl_mechanisms},
                 {"plain", options.plain_users},
                 {"scram", options.scram_users}};
    if (options.oauthbearer_tokens_file) {
      sasl["oauthbearer_tokens_file"] = *options.oauthbearer_tokens_file;
    }
    config["sasl"] = sasl;
  }
  return config;
}

std::vector<json> jsonLines(const std::string& text) {
  std::vector<json> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) out.push_back(std::move(parsed));
  }
  return out;
}

}  // namespace

KafkaSecurityFront::KafkaSecurityFront(const std::string& backend_bootstrap,
                                       const KafkaFrontOptions& options,
                                       const std::string& work_dir) {
  const std::string config_path = work_dir + "/kafka-front.json";
  {
    std::ofstream out(config_path, std::ios::trunc);
    out << configOf(backend_bootstrap, options).dump(2);
    if (!out) throw std::runtime_error("cannot write " + config_path);
  }
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{
          "python3", DATAFLOW_SOURCE_DIR "/tests/support/kafka_security_front.py", config_path},
      work_dir + "/kafka-front.log");
  const bool ready = waitFor(
      [&] {
        if (!events("ready").empty()) return true;
        return !process_->running();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(20));
  std::vector<json> ready_events = events("ready");
  if (!ready || ready_events.empty()) {
    throw std::runtime_error("the Kafka security front did not start: " + process_->log());
  }
  bootstrap_servers_ = ready_events.front().at("bootstrap").get<std::string>();
}

std::string KafkaSecurityFront::firstBroker() const {
  return bootstrap_servers_.substr(0, bootstrap_servers_.find(','));
}

std::vector<json> KafkaSecurityFront::events(const std::string& name) const {
  std::vector<json> out;
  for (json& event : jsonLines(process_->log())) {
    if (event.value("event", "") == name) out.push_back(std::move(event));
  }
  return out;
}

}  // namespace dataflow::testing
