#include "engine/runtime/ignored_settings.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>

namespace dataflow::runtime {

namespace {

using config::DataflowEndpoint;
using config::PlannedDataflow;

// The 1-based line of the key that holds `path` (keys joined by '.', a sequence index as [i])
// below `node`, or nullopt when the manifest does not write it (absent, or an explicit null).
// `line` is the line of `node` itself. Only const nodes are touched: operator[] on a const
// YAML::Node looks up without inserting, and assigning a YAML::Node would write through it.
std::optional<int> lineOf(const YAML::Node& node, std::string_view path, int line) {
  if (!path.empty() && path.front() == '.') path.remove_prefix(1);
  if (path.empty()) {
    if (!node.IsDefined() || node.IsNull()) return std::nullopt;
    return line;
  }
  if (path.front() == '[') {
    const size_t close = path.find(']');
    const size_t index = std::stoul(std::string(path.substr(1, close - 1)));
    if (!node.IsSequence() || index >= node.size()) return std::nullopt;
    const YAML::Node item = node[index];
    return lineOf(item, path.substr(close + 1), item.Mark().line + 1);
  }
  if (!node.IsMap()) return std::nullopt;
  const size_t end = std::min(path.find_first_of(".["), path.size());
  const std::string_view key = path.substr(0, end);
  for (const auto& entry : node) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) {
      return lineOf(entry.second, path.substr(end), entry.first.Mark().line + 1);
    }
  }
  return std::nullopt;
}

// Adds the lines about one manifest object.
class Reporter {
 public:
  Reporter(std::vector<std::string>& lines, std::string what, const config::Origin& origin)
      : lines_(lines), what_(std::move(what)), origin_(origin) {}

  // Adds a line when the manifest writes `path`; an engine-made object (the implicit default
  // profile) writes nothing.
  void ifWritten(const std::string& path, const std::string& why) {
    if (origin_.implicit) return;
    const std::optional<int> line = lineOf(origin_.document, path, origin_.line);
    if (!line) return;
    lines_.push_back(what_ + ": " + path + " is ignored: " + why + " (" + origin_.file + ":" +
                     std::to_string(*line) + ")");
  }

 private:
  std::vector<std::string>& lines_;
  std::string what_;
  const config::Origin& origin_;
};

// How the running dataflows use one endpoint.
struct EndpointUse {
  std::vector<const PlannedDataflow*> as_source;
  std::vector<const PlannedDataflow*> as_destination;
};

// "dataflow a" or "dataflows a, b"; with each direction when `directions`.
std::string dataflowNames(const std::vector<const PlannedDataflow*>& flows, bool directions) {
  std::string out = flows.size() == 1 ? "dataflow " : "dataflows ";
  for (size_t i = 0; i < flows.size(); ++i) {
    if (i > 0) out += ", ";
    out += flows[i]->dataflow->metadata.name;
    if (directions) out += std::string(" (") + config::toString(flows[i]->direction) + ")";
  }
  return out;
}

// "the source of dataflow a and the destination of dataflow b (Kafka->MQTT)".
std::string describe(const EndpointUse& use) {
  std::string out;
  if (!use.as_source.empty()) out = "the source of " + dataflowNames(use.as_source, false);
  if (!use.as_destination.empty()) {
    out += (out.empty() ? "the destination of " : " and the destination of ") +
           dataflowNames(use.as_destination, true);
  }
  return out;
}

void checkDataflow(const PlannedDataflow& planned, std::vector<std::string>& lines) {
  const config::Dataflow& d = *planned.dataflow;
  Reporter report(lines, "dataflow " + d.metadata.name, d.origin);
  // Disabled asks for what this engine does anyway, so only Enabled is reported, and only for a
  // Kafka source: a dataflow with an MQTT source spools to local disk (--spool-dir).
  if (d.spec.request_disk_persistence == config::OperationalMode::Enabled &&
      !planned.source->spec.mqtt) {
    report.ifWritten("spec.requestDiskPersistence",
                     "the source is Kafka: its committed consumer offsets keep its place and the "
                     "records stay in Kafka until delivered, so nothing is spooled to disk");
  }
  for (size_t i = 0; i < d.spec.operations.size(); ++i) {
    const auto& source = d.spec.operations[i].source;
    if (!source || &*source != planned.source_settings) continue;
    const std::string at = "spec.operations[" + std::to_string(i) + "].sourceSettings.";
    report.ifWritten(at + "serializationFormat",
                     "payloads are forwarded byte for byte, never parsed");
    report.ifWritten(at + "schemaRef",
                     "no schema is read and payloads are not validated (nor are they in AIO)");
    report.ifWritten(at + "assetRef", "there is no asset registry; the source reads dataSources");
  }
}

void checkKafkaEndpoint(const DataflowEndpoint& e, const EndpointUse& use, Reporter& report) {
  const std::string at = "spec.kafkaSettings.";
  if (use.as_source.empty()) {
    report.ifWritten(at + "consumerGroupId",
                     "only a Kafka source reads it, and this endpoint is only " + describe(use));
  }
  if (!use.as_destination.empty()) return;
  const std::string producer =
      "only a Kafka producer reads it, and this endpoint is only " + describe(use);
  for (const char* field : {"batching", "compression", "kafkaAcks", "partitionStrategy"}) {
    report.ifWritten(at + field, producer);
  }
  // Otherwise the validator has already said that it has no effect.
  if (e.spec.kafka->partition_strategy == config::PartitionStrategy::Property) {
    report.ifWritten(at + "partitionKeyProperty", producer);
  }
  const std::string headers =
      "only read when the endpoint is the destination of an MQTT source; a Kafka source always "
      "turns headers into MQTT user properties, and this endpoint is only ";
  report.ifWritten(at + "copyMqttProperties", headers + describe(use));
  report.ifWritten(at + "cloudEventAttributes",
                   "only a destination applies it, and this endpoint is only " + describe(use));
}

void checkMqttEndpoint(const EndpointUse& use, Reporter& report) {
  const std::string at = "spec.mqttSettings.";
  const bool bridge = std::any_of(use.as_destination.begin(), use.as_destination.end(),
                                  [](const PlannedDataflow* planned) {
                                    return planned->direction == config::Direction::MqttToMqtt;
                                  });
  if (!bridge) {
    const std::string retain =
        "only the destination of an MQTT->MQTT dataflow reads it (a Kafka record has no retain "
        "flag), and this endpoint is ";
    report.ifWritten(at + "retain", retain + describe(use));
  }
  if (use.as_destination.empty()) {
    report.ifWritten(at + "cloudEventAttributes",
                     "only a destination applies it, and this endpoint is only " + describe(use));
  }
}

void checkEndpoint(const DataflowEndpoint& e, const EndpointUse& use,
                   std::vector<std::string>& lines) {
  Reporter report(lines, "endpoint " + e.metadata.name, e.origin);
  if (e.spec.kafka) checkKafkaEndpoint(e, use, report);
  if (e.spec.mqtt) checkMqttEndpoint(use, report);
}

}  // namespace

std::vector<std::string> ignoredSettings(const config::Plan& plan, const std::string& profile) {
  std::vector<std::string> lines;
  std::map<const DataflowEndpoint*, EndpointUse> uses;
  for (const PlannedDataflow& planned : plan.dataflows) {
    if (!planned.enabled || planned.profile->metadata.name != profile) continue;
    checkDataflow(planned, lines);
    uses[planned.source].as_source.push_back(&planned);
    uses[planned.destination].as_destination.push_back(&planned);
  }
  for (const DataflowEndpoint& e : plan.manifests.endpoints) {
    auto use = uses.find(&e);
    if (use != uses.end()) checkEndpoint(e, use->second, lines);
  }
  return lines;
}

}  // namespace dataflow::runtime
