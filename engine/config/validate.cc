#include "engine/config/validate.h"

#include <filesystem>
#include <map>

#include "engine/config/manifest_schema.h"
#include "engine/config/topic_rules.h"

namespace dataflow::config {

namespace {

namespace fs = std::filesystem;

// Reports at the YAML node found at `path` (dots and [i]) below the document of `origin`, or at
// the deepest node that exists on the way.
class Reporter {
 public:
  explicit Reporter(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}

  void error(const Origin& origin, const std::string& path, std::string message) {
    report(origin, path, std::move(message), false);
  }
  void warning(const Origin& origin, const std::string& path, std::string message) {
    report(origin, path, std::move(message), true);
  }
  int line(const Origin& origin, const std::string& path) const {
    YAML::Mark mark = locate(origin.document, path);
    return mark.line < 0 ? origin.line : mark.line + 1;
  }

 private:
  void report(const Origin& origin, const std::string& path, std::string message, bool warning) {
    YAML::Mark mark = locate(origin.document, path);
    int line = mark.line < 0 ? origin.line : mark.line + 1;
    int column = mark.column < 0 ? 1 : mark.column + 1;
    if (warning) {
      diagnostics_.warning(origin.file, line, column, path, std::move(message));
    } else {
      diagnostics_.error(origin.file, line, column, path, std::move(message));
    }
  }

  static YAML::Mark locate(const YAML::Node& document, const std::string& path) {
    // YAML::Node::operator= writes through to the referenced node; reset() rebinds the handle.
    YAML::Node node(document);
    YAML::Mark mark = document.Mark();
    size_t i = 0;
    while (i < path.size() && node.IsDefined()) {
      YAML::Node next;
      if (path[i] == '[') {
        size_t close = path.find(']', i);
        size_t index = std::stoul(path.substr(i + 1, close - i - 1));
        if (!node.IsSequence() || index >= node.size()) break;
        next.reset(node[index]);
        i = close + 1;
      } else {
        if (path[i] == '.') ++i;
        size_t end = path.find_first_of(".[", i);
        std::string key = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
        if (!node.IsMap()) break;
        YAML::Mark key_mark;
        bool found = false;
        for (const auto& entry : node) {
          if (entry.first.IsScalar() && entry.first.Scalar() == key) {
            next.reset(entry.second);
            key_mark = entry.first.Mark();
            found = true;
          }
        }
        if (!found) break;
        mark = (next.IsNull() || next.Mark().line < 0) ? key_mark : next.Mark();
        node.reset(next);
        i = end == std::string::npos ? path.size() : end;
        continue;
      }
      if (!next.IsNull() && next.Mark().line >= 0) mark = next.Mark();
      node.reset(next);
    }
    return mark;
  }

  Diagnostics& diagnostics_;
};

template <class T>
std::string objectKey(const T& object) {
  return object.metadata.namespace_.value_or("") + "/" + object.metadata.name;
}

template <class T>
void checkDuplicates(const std::vector<T>& objects, const char* kind, Reporter& report) {
  std::map<std::string, const T*> seen;
  for (const T& o : objects) {
    auto [it, inserted] = seen.emplace(objectKey(o), &o);
    if (!inserted) {
      report.error(o.origin, "metadata.name",
                   std::string("duplicate ") + kind + " \"" + o.metadata.name +
                       "\" (first defined at " + it->second->origin.file + ":" +
                       std::to_string(report.line(it->second->origin, "metadata.name")) + ")");
    }
  }
}

// References resolve within the referring object's namespace, as in Kubernetes (an object
// without metadata.namespace is in the command's namespace, the same for all of them).
template <class T>
const T* findByName(const std::vector<T>& objects, const std::string& name,
                    const std::optional<std::string>& ns) {
  for (const T& o : objects) {
    if (o.metadata.name == name && o.metadata.namespace_.value_or("") == ns.value_or("")) return &o;
  }
  return nullptr;
}

template <class T>
std::string notFound(const char* kind, const std::string& name, const std::vector<T>& objects,
                     const std::optional<std::string>& ns) {
  std::vector<std::string> names;
  for (const T& o : objects) {
    if (o.metadata.name == name) {
      return std::string(kind) + " \"" + name + "\" not found in namespace \"" + ns.value_or("") +
             "\"; references resolve within a namespace and it is in namespace \"" +
             o.metadata.namespace_.value_or("") + "\"";
    }
    names.push_back(o.metadata.name);
  }
  std::string message = std::string(kind) + " \"" + name + "\" not found";
  if (std::string near = nearest(name, names); !near.empty()) {
    message += "; did you mean \"" + near + "\"?";
  } else if (!names.empty()) {
    message += "; defined: " + joinNames(names);
  }
  return message;
}

// ---- endpoints ---------------------------------------------------------------------------

const Authentication& authOf(const DataflowEndpoint& e) {
  return e.spec.kafka ? e.spec.kafka->authentication : e.spec.mqtt->authentication;
}

const Tls& tlsOf(const DataflowEndpoint& e) {
  return e.spec.kafka ? e.spec.kafka->tls : e.spec.mqtt->tls;
}

std::string settingsPath(const DataflowEndpoint& e) {
  return e.spec.kafka ? "spec.kafkaSettings" : "spec.mqttSettings";
}

void checkHostType(const DataflowEndpoint& e, Reporter& report) {
  if (!e.spec.host_type) return;
  // Which endpoint type and authentication methods each host type allows: the az iot ops CLI's
  // table, plus X509Certificate for custom Kafka (mutual TLS, an extension of this engine).
  using M = AuthMethod;
  struct Rule {
    HostType host;
    const char* name;
    EndpointType type;
    std::vector<AuthMethod> methods;
  };
  static const std::vector<Rule> rules = {
      {HostType::LocalBroker,
       "LocalBroker",
       EndpointType::Mqtt,
       {M::ServiceAccountToken, M::X509Certificate, M::Anonymous}},
      {HostType::EventGrid,
       "EventGrid",
       EndpointType::Mqtt,
       {M::SystemAssignedManagedIdentity, M::UserAssignedManagedIdentity, M::X509Certificate}},
      {HostType::CustomMqtt,
       "CustomMqtt",
       EndpointType::Mqtt,
       {M::SystemAssignedManagedIdentity, M::UserAssignedManagedIdentity, M::ServiceAccountToken,
        M::X509Certificate, M::Anonymous}},
      {HostType::Eventhub,
       "Eventhub",
       EndpointType::Kafka,
       {M::SystemAssignedManagedIdentity, M::UserAssignedManagedIdentity, M::Sasl}},
      {HostType::FabricRT,
       "FabricRT",
       EndpointType::Kafka,
       {M::Sasl, M::SystemAssignedManagedIdentity, M::UserAssignedManagedIdentity}},
      {HostType::CustomKafka,
       "CustomKafka",
       EndpointType::Kafka,
       {M::SystemAssignedManagedIdentity, M::UserAssignedManagedIdentity, M::Sasl,
        M::X509Certificate, M::Anonymous}},
  };
  for (const Rule& r : rules) {
    if (r.host != *e.spec.host_type) continue;
    if (r.type != e.spec.endpoint_type) {
      report.error(e.origin, "spec.hostType",
                   std::string("hostType ") + r.name + " needs endpointType " + toString(r.type));
      return;
    }
    AuthMethod m = authOf(e).method;
    if (std::find(r.methods.begin(), r.methods.end(), m) == r.methods.end()) {
      std::vector<std::string> allowed;
      for (AuthMethod a : r.methods) allowed.push_back(toString(a));
      report.error(e.origin, settingsPath(e) + ".authentication.method",
                   std::string("authentication method ") + toString(m) +
                       " is not allowed for hostType " + r.name +
                       "; allowed: " + joinNames(allowed));
    }
  }
}

void checkMounted(const std::optional<std::string>& dir, const std::string& name,
                  const std::vector<std::vector<std::string>>& key_sets, const char* what,
                  const Origin& origin, const std::string& path, Reporter& report) {
  if (!dir) return;
  std::error_code ec;
  fs::path folder = fs::path(*dir) / name;
  if (!fs::is_directory(folder, ec)) {
    report.error(
        origin, path,
        std::string(what) + " \"" + name + "\" not found (no folder " + folder.string() + ")");
    return;
  }
  if (key_sets.empty()) {
    bool any = false;
    for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      any = any || it->is_regular_file(ec);
    }
    if (!any) report.error(origin, path, std::string(what) + " \"" + name + "\" has no keys");
    return;
  }
  for (const auto& keys : key_sets) {
    bool all = true;
    for (const std::string& k : keys) all = all && fs::is_regular_file(folder / k, ec);
    if (all) return;
  }
  std::string expected;
  for (size_t i = 0; i < key_sets.size(); ++i) {
    if (i > 0) expected += ", or ";
    for (size_t k = 0; k < key_sets[i].size(); ++k) {
      expected += (k == 0 ? "" : k + 1 == key_sets[i].size() ? " and " : ", ") + key_sets[i][k];
    }
  }
  report.error(origin, path,
               std::string(what) + " \"" + name + "\" lacks the keys it needs: " + expected);
}

void checkEndpoint(const DataflowEndpoint& e, const ValidateOptions& options, Reporter& report) {
  checkHostType(e, report);
  const Authentication& auth = authOf(e);
  const std::string auth_path = settingsPath(e) + ".authentication";
  if (auth.sasl) {
    checkMounted(options.secrets_dir, auth.sasl->secret_ref, {{"username", "password"}, {"token"}},
                 "secret", e.origin, auth_path + ".saslSettings.secretRef", report);
  }
  if (auth.x509) {
    checkMounted(options.secrets_dir, auth.x509->secret_ref,
                 {{"client_cert.pem", "client_key.pem"}}, "secret", e.origin,
                 auth_path + ".x509CertificateSettings.secretRef", report);
  }
  const Tls& tls = tlsOf(e);
  if (tls.trusted_ca_certificate_config_map_ref) {
    checkMounted(options.configmaps_dir, *tls.trusted_ca_certificate_config_map_ref, {},
                 "configmap", e.origin, settingsPath(e) + ".tls.trustedCaCertificateConfigMapRef",
                 report);
    if (tls.mode == OperationalMode::Disabled) {
      report.warning(e.origin, settingsPath(e) + ".tls.trustedCaCertificateConfigMapRef",
                     "has no effect while tls.mode is Disabled");
    }
  }
}

// ---- dataflows ---------------------------------------------------------------------------

struct Operations {
  std::vector<size_t> sources, destinations, transformations;
};

Operations classifyOperations(const Dataflow& d) {
  Operations ops;
  for (size_t i = 0; i < d.spec.operations.size(); ++i) {
    switch (d.spec.operations[i].type) {
      case OperationType::Source:
        ops.sources.push_back(i);
        break;
      case OperationType::Destination:
        ops.destinations.push_back(i);
        break;
      case OperationType::BuiltInTransformation:
        ops.transformations.push_back(i);
        break;
    }
  }
  return ops;
}

bool checkCardinality(const Dataflow& d, const Operations& ops, Reporter& report) {
  bool ok = true;
  auto exactlyOne = [&](const std::vector<size_t>& found, const char* name) {
    if (found.empty()) {
      report.error(d.origin, "spec.operations",
                   std::string("missing a ") + name + " operation; a dataflow needs exactly one");
      ok = false;
    }
    for (size_t k = 1; k < found.size(); ++k) {
      report.error(d.origin, "spec.operations[" + std::to_string(found[k]) + "]",
                   std::string("a second ") + name + " operation; a dataflow needs exactly one");
      ok = false;
    }
  };
  exactlyOne(ops.sources, "Source");
  exactlyOne(ops.destinations, "Destination");
  for (size_t k = 1; k < ops.transformations.size(); ++k) {
    report.error(d.origin, "spec.operations[" + std::to_string(ops.transformations[k]) + "]",
                 "a second BuiltInTransformation operation; a dataflow may have at most one");
    ok = false;
  }
  if (!ops.transformations.empty()) {
    report.error(d.origin, "spec.operations[" + std::to_string(ops.transformations[0]) + "]",
                 "BuiltInTransformation is not supported yet by this engine (map, filter and "
                 "datasets are planned); remove the operation to pass messages through unchanged");
    ok = false;
  }
  return ok;
}

const DataflowEndpoint* resolveEndpoint(const Manifests& m, const Dataflow& d,
                                        const std::string& ref, const std::string& path,
                                        Reporter& report, bool& ok) {
  if (const DataflowEndpoint* e = findByName(m.endpoints, ref, d.metadata.namespace_)) return e;
  if (!m.invalid_endpoints.count(ref)) {
    report.error(d.origin, path,
                 notFound("DataflowEndpoint", ref, m.endpoints, d.metadata.namespace_));
  }
  ok = false;
  return nullptr;
}

void checkSourceTopics(const Dataflow& d, const DataflowEndpoint& source, const std::string& path,
                       PlannedDataflow& planned, Reporter& report, bool& ok) {
  const auto& topics = planned.source_settings->data_sources;
  for (size_t i = 0; i < topics.size(); ++i) {
    std::string item_path = path + ".dataSources[" + std::to_string(i) + "]";
    std::string normalized;
    std::string problem = source.spec.endpoint_type == EndpointType::Mqtt
                              ? checkMqttTopicFilter(topics[i], normalized)
                              : checkKafkaSourceTopic(topics[i]);
    if (source.spec.endpoint_type == EndpointType::Kafka) normalized = topics[i];
    if (!problem.empty()) {
      const char* what =
          source.spec.endpoint_type == EndpointType::Mqtt ? "MQTT topic filter" : "Kafka topic";
      report.error(d.origin, item_path, std::string(what) + " \"" + topics[i] + "\": " + problem);
      ok = false;
    }
    planned.source_topics.push_back(normalized);
  }
}

void checkDestinationTopic(const Dataflow& d, const DataflowEndpoint& destination,
                           const std::string& path, PlannedDataflow& planned, Reporter& report,
                           bool& ok) {
  const std::string& text = planned.destination_settings->data_destination;
  const std::string item_path = path + ".dataDestination";
  std::string error;
  if (!TopicTemplate::parse(text, planned.destination_topic, error)) {
    report.error(d.origin, item_path, "\"" + text + "\": " + error);
    ok = false;
    return;
  }
  if (destination.spec.endpoint_type == EndpointType::Mqtt) {
    if (std::string problem = checkMqttTopicName(text); !problem.empty()) {
      report.error(d.origin, item_path, "MQTT topic \"" + text + "\": " + problem);
      ok = false;
    }
    return;
  }
  // Kafka: a static topic must be a legal name; a template's literal text must use legal
  // characters (what the variables produce is checked per message).
  if (std::string problem = checkKafkaTopicName(planned.destination_topic.withVariablesAs("x"));
      !problem.empty()) {
    report.error(d.origin, item_path, "Kafka topic \"" + text + "\": " + problem);
    ok = false;
  }
  // AIO allows only static Kafka topics; a whole MQTT topic almost always has '/', which a
  // Kafka topic name cannot, so every such message would be dropped at run time.
  if (!planned.destination_topic.isStatic() && text.find("${inputTopic}") != std::string::npos &&
      planned.source && planned.source->spec.endpoint_type == EndpointType::Mqtt) {
    report.warning(d.origin, item_path,
                   "${inputTopic} puts the whole MQTT topic into a Kafka topic name; messages "
                   "whose topic has '/' or other characters Kafka forbids will be dropped");
  }
}

void planDataflow(const Manifests& m, const Dataflow& d, Reporter& report, Plan& plan) {
  Operations ops = classifyOperations(d);
  bool ok = checkCardinality(d, ops, report);
  PlannedDataflow planned;
  planned.dataflow = &d;
  planned.enabled = d.spec.mode == OperationalMode::Enabled;

  const std::string profile_name = d.spec.profile_ref.value_or(kDefaultProfile);
  planned.profile = findByName(m.profiles, profile_name, d.metadata.namespace_);
  if (!planned.profile && profile_name == kDefaultProfile) {
    for (const DataflowProfile& p : m.profiles) {  // the implicit default exists in every namespace
      if (p.metadata.name == kDefaultProfile && p.origin.implicit) planned.profile = &p;
    }
  }
  if (!planned.profile) {
    if (!m.invalid_profiles.count(profile_name)) {
      report.error(d.origin, "spec.profileRef",
                   notFound("DataflowProfile", profile_name, m.profiles, d.metadata.namespace_));
    }
    ok = false;
  }
  if (ops.sources.empty() || ops.destinations.empty()) return;

  const size_t si = ops.sources[0], di = ops.destinations[0];
  const std::string source_path = "spec.operations[" + std::to_string(si) + "].sourceSettings";
  const std::string dest_path = "spec.operations[" + std::to_string(di) + "].destinationSettings";
  planned.source_settings = &*d.spec.operations[si].source;
  planned.destination_settings = &*d.spec.operations[di].destination;
  planned.source = resolveEndpoint(m, d, planned.source_settings->endpoint_ref,
                                   source_path + ".endpointRef", report, ok);
  planned.destination = resolveEndpoint(m, d, planned.destination_settings->endpoint_ref,
                                        dest_path + ".endpointRef", report, ok);
  if (planned.source) {
    if (planned.source->spec.endpoint_type == EndpointType::Kafka &&
        !planned.source->spec.kafka->consumer_group_id) {
      report.error(d.origin, source_path + ".endpointRef",
                   "Kafka type source endpoints must have a consumerGroupId defined");
      ok = false;
    }
    checkSourceTopics(d, *planned.source, source_path, planned, report, ok);
    if (planned.source->spec.host_type == HostType::EventGrid && planned.profile &&
        planned.profile->spec.instance_count > 1) {
      report.warning(d.origin, source_path + ".endpointRef",
                     "an Event Grid source with instanceCount " +
                         std::to_string(planned.profile->spec.instance_count) +
                         " relies on shared subscriptions; AIO advises instanceCount 1 to avoid "
                         "missing messages");
    }
  }
  if (planned.destination) {
    checkDestinationTopic(d, *planned.destination, dest_path, planned, report, ok);
  }
  if (!planned.source || !planned.destination) return;
  const bool kafka_source = planned.source->spec.endpoint_type == EndpointType::Kafka;
  const bool kafka_destination = planned.destination->spec.endpoint_type == EndpointType::Kafka;
  if (kafka_source && kafka_destination) {
    report.error(d.origin, dest_path + ".endpointRef",
                 "Kafka to Kafka dataflows are not supported: the source or the destination must "
                 "be an MQTT endpoint");
    return;
  }
  planned.direction = kafka_source        ? Direction::KafkaToMqtt
                      : kafka_destination ? Direction::MqttToKafka
                                          : Direction::MqttToMqtt;
  if (ok) plan.dataflows.push_back(std::move(planned));
}

}  // namespace

const char* toString(Direction d) {
  switch (d) {
    case Direction::MqttToKafka:
      return "MQTT->Kafka";
    case Direction::KafkaToMqtt:
      return "Kafka->MQTT";
    case Direction::MqttToMqtt:
      return "MQTT->MQTT";
  }
  return "?";
}

Plan validate(Manifests manifests, const ValidateOptions& options, Diagnostics& diagnostics) {
  Plan plan;
  plan.manifests = std::move(manifests);
  Manifests& m = plan.manifests;
  Reporter report(diagnostics);

  bool has_default = false;
  for (const DataflowProfile& p : m.profiles) has_default |= p.metadata.name == kDefaultProfile;
  if (!has_default && !m.invalid_profiles.count(kDefaultProfile)) {
    m.profiles.push_back(implicitDefaultProfile());
  }
  checkDuplicates(m.endpoints, "DataflowEndpoint", report);
  checkDuplicates(m.dataflows, "Dataflow", report);
  checkDuplicates(m.profiles, "DataflowProfile", report);
  for (const DataflowEndpoint& e : m.endpoints) checkEndpoint(e, options, report);
  for (const Dataflow& d : m.dataflows) planDataflow(m, d, report, plan);
  return plan;
}

}  // namespace dataflow::config
