#include "engine/config/manifest_schema.h"

#include <regex>

namespace dataflow::config {

namespace {

constexpr int64_t kInt32Max = 2147483647;
constexpr int64_t kUint32Max = 4294967295;

Type<OperationalMode> operationalMode() {
  return enumeration<OperationalMode>(
      {{"Enabled", OperationalMode::Enabled}, {"Disabled", OperationalMode::Disabled}});
}

Type<CloudEventAttributes> cloudEventAttributes() {
  return enumeration<CloudEventAttributes>(
      {{"Propagate", CloudEventAttributes::Propagate},
       {"CreateOrRemap", CloudEventAttributes::CreateOrRemap}});
}

Type<std::string> nonEmpty() { return string({.min_length = 1}); }

// `host:port` with a port from 1 to 65535; IPv6 literals in brackets.
const std::string& hostPortPattern() {
  static const std::string p =
      R"((\[[0-9A-Fa-f:.]+\]|[^\s:,\[\]/]+):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))";
  return p;
}

// Kafka: a bootstrap host:port, or a comma-separated list of them.
Type<std::string> kafkaHost() {
  const std::string& one = hostPortPattern();
  return string({.min_length = 1,
                 .pattern = "^" + one + "(," + one + ")*$",
                 .pattern_help = "a host:port with a port from 1 to 65535 (or a comma-separated "
                                 "list of them)"});
}

// MQTT: host:port, optionally followed by the WebSockets path (Event Grid: host:443/mqtt).
Type<std::string> mqttHost() {
  return string({.min_length = 1,
                 .pattern = "^" + hostPortPattern() + R"((/[^\s]*)?$)",
                 .pattern_help = "a host:port with a port from 1 to 65535, optionally followed "
                                 "by a WebSockets path such as /mqtt"});
}

// ---- authentication --------------------------------------------------------------------

ObjectSpec<SystemAssignedManagedIdentitySettings> systemAssignedSpec() {
  using S = SystemAssignedManagedIdentitySettings;
  return ObjectSpec<S>("System-assigned managed identity settings.")
      .optional("audience", &S::audience, nonEmpty(),
                "Token audience; defaults to https://<host without port>.");
}

ObjectSpec<UserAssignedManagedIdentitySettings> userAssignedSpec() {
  using S = UserAssignedManagedIdentitySettings;
  return ObjectSpec<S>("User-assigned managed identity settings.")
      .required("clientId", &S::client_id, nonEmpty(), "Client ID of the identity.")
      .required("tenantId", &S::tenant_id, nonEmpty(), "Tenant ID of the identity.")
      .optional("scope", &S::scope, nonEmpty(),
                "Token scope; defaults to https://<host without port>/.default.");
}

ObjectSpec<SaslSettings> saslSpec() {
  return ObjectSpec<SaslSettings>("SASL settings.")
      .required("saslType", &SaslSettings::sasl_type,
                enumeration<SaslType>({{"Plain", SaslType::Plain},
                                       {"ScramSha256", SaslType::ScramSha256},
                                       {"ScramSha512", SaslType::ScramSha512}}),
                "SASL mechanism.")
      .required("secretRef", &SaslSettings::secret_ref, nonEmpty(),
                "Secret with keys username and password (Event Hubs: username $ConnectionString), "
                "or a single key token.");
}

ObjectSpec<X509CertificateSettings> x509Spec() {
  return ObjectSpec<X509CertificateSettings>("X.509 client certificate settings.")
      .required("secretRef", &X509CertificateSettings::secret_ref, nonEmpty(),
                "Secret with keys client_cert.pem, client_key.pem and optionally "
                "client_intermediate_certs.pem.");
}

ObjectSpec<ServiceAccountTokenSettings> serviceAccountTokenSpec() {
  return ObjectSpec<ServiceAccountTokenSettings>("Kubernetes service account token settings.")
      .required("audience", &ServiceAccountTokenSettings::audience, nonEmpty(),
                "Audience of the projected token.");
}

// The settings key of each method; Anonymous takes an optional empty `anonymousSettings: {}`.
const std::vector<std::pair<AuthMethod, std::string>>& settingsKeys() {
  static const std::vector<std::pair<AuthMethod, std::string>> keys = {
      {AuthMethod::SystemAssignedManagedIdentity, "systemAssignedManagedIdentitySettings"},
      {AuthMethod::UserAssignedManagedIdentity, "userAssignedManagedIdentitySettings"},
      {AuthMethod::Sasl, "saslSettings"},
      {AuthMethod::X509Certificate, "x509CertificateSettings"},
      {AuthMethod::ServiceAccountToken, "serviceAccountTokenSettings"},
      {AuthMethod::Anonymous, "anonymousSettings"},
  };
  return keys;
}

ObjectSpec<Authentication> authenticationSpec(bool kafka) {
  using A = Authentication;
  const std::string sasl_refusal = "is a Kafka mechanism and not allowed for MQTT endpoints";
  const std::string sat_refusal = "is not allowed for Kafka endpoints";
  auto method = enumeration<AuthMethod>({
      {"SystemAssignedManagedIdentity", AuthMethod::SystemAssignedManagedIdentity},
      {"UserAssignedManagedIdentity", AuthMethod::UserAssignedManagedIdentity},
      {"Sasl", AuthMethod::Sasl, "", kafka ? "" : sasl_refusal},
      {"X509Certificate", AuthMethod::X509Certificate},
      {"ServiceAccountToken", AuthMethod::ServiceAccountToken, "", kafka ? sat_refusal : ""},
      {"Anonymous", AuthMethod::Anonymous},
  });
  ObjectSpec<A> spec("Authentication: a method and the settings object of that method only.");
  spec.required("method", &A::method, method, "Authentication method.");
  std::vector<AuthMethod> allowed = {AuthMethod::SystemAssignedManagedIdentity,
                                     AuthMethod::UserAssignedManagedIdentity,
                                     AuthMethod::X509Certificate, AuthMethod::Anonymous};
  spec.optional("systemAssignedManagedIdentitySettings", &A::system_assigned,
                systemAssignedSpec().type(), "Settings for SystemAssignedManagedIdentity.");
  spec.optional("userAssignedManagedIdentitySettings", &A::user_assigned, userAssignedSpec().type(),
                "Settings for UserAssignedManagedIdentity.");
  if (kafka) {
    spec.optional("saslSettings", &A::sasl, saslSpec().type(), "Settings for Sasl.");
    allowed.push_back(AuthMethod::Sasl);
  } else {
    spec.ignored("saslSettings", "Not used by MQTT endpoints (Sasl is refused).");
  }
  spec.optional("x509CertificateSettings", &A::x509, x509Spec().type(),
                "Settings for X509Certificate (mutual TLS).");
  if (!kafka) {
    spec.optional("serviceAccountTokenSettings", &A::service_account_token,
                  serviceAccountTokenSpec().type(), "Settings for ServiceAccountToken.");
    allowed.push_back(AuthMethod::ServiceAccountToken);
  } else {
    spec.ignored("serviceAccountTokenSettings",
                 "Not used by Kafka endpoints (ServiceAccountToken is refused).");
  }
  spec.marker("anonymousSettings", {{"type", "object"}, {"maxProperties", 0}},
              "Settings for Anonymous: an empty object, or leave it out.");

  std::vector<Variant<AuthMethod>> variants;
  for (AuthMethod m : allowed) {
    Variant<AuthMethod> v{m, {}, {}};
    for (const auto& [other, key] : settingsKeys()) {
      if (other == m) {
        bool settings_required = m == AuthMethod::UserAssignedManagedIdentity ||
                                 m == AuthMethod::Sasl || m == AuthMethod::X509Certificate ||
                                 m == AuthMethod::ServiceAccountToken;
        if (settings_required) v.required.push_back(key);
      } else {
        v.forbidden.push_back(key);
      }
    }
    variants.push_back(v);
  }
  spec.variants("method", &A::method, method, variants);
  return spec;
}

ObjectSpec<Tls> tlsSpec() {
  return ObjectSpec<Tls>("TLS settings.")
      .withDefault("mode", &Tls::mode, operationalMode(), OperationalMode::Enabled,
                   "Enabled: connect with TLS; Disabled: plaintext.")
      .optional("trustedCaCertificateConfigMapRef", &Tls::trusted_ca_certificate_config_map_ref,
                nonEmpty(), "ConfigMap holding the PEM CA bundle to trust: its only key, or its key ca.crt.");
}

// ---- Kafka ---------------------------------------------------------------------------------

ObjectSpec<KafkaBatching> kafkaBatchingSpec() {
  using B = KafkaBatching;
  return ObjectSpec<B>("Producer batching: a batch is sent when any limit is reached.")
      .withDefault("mode", &B::mode, operationalMode(), OperationalMode::Enabled,
                   "Disabled sends every message in a batch of its own.")
      .withDefault("latencyMs", &B::latency_ms, integer(0, 65535), int64_t{5},
                   "Longest time a message waits for its batch (librdkafka linger.ms).")
      .withDefault("maxBytes", &B::max_bytes, integer(0, kUint32Max), int64_t{1000000},
                   "Largest batch in bytes (librdkafka batch.size).")
      .withDefault("maxMessages", &B::max_messages, integer(0, kUint32Max), int64_t{100000},
                   "Most messages in a batch (librdkafka batch.num.messages).");
}

ObjectSpec<KafkaSettings> kafkaSpec() {
  using K = KafkaSettings;
  ObjectSpec<K> spec("Kafka (and Event Hubs) endpoint settings.");
  spec.required("host", &K::host, kafkaHost(),
                "Bootstrap server host:port (Event Hubs: <namespace>.servicebus.windows.net:9093).")
      .required("authentication", &K::authentication, authenticationSpec(true).type(),
                "How to authenticate to the cluster.")
      .optional("consumerGroupId", &K::consumer_group_id, nonEmpty(),
                "Consumer group of a Kafka source; required when the endpoint is a source.")
      .defaultedObject("batching", &K::batching, kafkaBatchingSpec(), "Producer batching.")
      .withDefault("copyMqttProperties", &K::copy_mqtt_properties, operationalMode(),
                   OperationalMode::Enabled,
                   "MQTT to Kafka only: Enabled copies MQTT v5 properties to Kafka headers. A "
                   "Kafka source always turns headers into user properties.")
      .withDefault("compression", &K::compression,
                   enumeration<Compression>({{"None", Compression::None},
                                             {"Gzip", Compression::Gzip},
                                             {"Snappy", Compression::Snappy},
                                             {"Lz4", Compression::Lz4},
                                             {"Zstd", Compression::Zstd}}),
                   Compression::None, "Producer compression codec (Event Hubs: Gzip only).")
      .withDefault("kafkaAcks", &K::kafka_acks,
                   enumeration<KafkaAcks>(
                       {{"Zero", KafkaAcks::Zero},
                        {"One", KafkaAcks::One},
                        {"All", KafkaAcks::All},
                        {"None", KafkaAcks::Zero,
                         "kafkaAcks None is not in the AIO API; treated as Zero (acks=0)"}}),
                   KafkaAcks::All, "Producer acks: Zero (0), One (1) or All (all).")
      .withDefault("partitionStrategy", &K::partition_strategy,
                   enumeration<PartitionStrategy>({{"Default", PartitionStrategy::Default},
                                                   {"Static", PartitionStrategy::Static},
                                                   {"Topic", PartitionStrategy::Topic},
                                                   {"Property", PartitionStrategy::Property}}),
                   PartitionStrategy::Default,
                   "Default: spread; Static: instance ordinal; Topic: key = MQTT topic; "
                   "Property: key = a message property.")
      .optional("partitionKeyProperty", &K::partition_key_property, nonEmpty(),
                "Property whose value is the key when partitionStrategy is Property.")
      .defaultedObject("tls", &K::tls, tlsSpec(), "TLS settings.")
      .optional("cloudEventAttributes", &K::cloud_event_attributes, cloudEventAttributes(),
                "CloudEvents handling of a destination: Propagate or CreateOrRemap.");
  spec.rule(
      [](const Site& at, ParseContext& ctx, const K& k) {
        if (k.partition_strategy == PartitionStrategy::Property && !k.partition_key_property) {
          ctx.error(at.atOwner(),
                    "missing required field \"partitionKeyProperty\" (required when "
                    "partitionStrategy is Property)");
        }
        if (k.partition_strategy != PartitionStrategy::Property && k.partition_key_property) {
          ctx.warning(at.key("partitionKeyProperty"),
                      "has no effect unless partitionStrategy is Property");
        }
      },
      {{"anyOf",
        {{{"properties", {{"partitionStrategy", {{"not", {{"enum", {"Property"}}}}}}}}},
         {{"required", {"partitionKeyProperty"}}}}}});
  return spec;
}

// ---- MQTT ----------------------------------------------------------------------------------

ObjectSpec<MqttSettings> mqttSpec() {
  using M = MqttSettings;
  return ObjectSpec<M>("MQTT v5 broker endpoint settings.")
      .withDefault("host", &M::host, mqttHost(), std::string("aio-broker:18883"),
                   "Broker host:port; defaults to the AIO local broker aio-broker:18883.")
      .required("authentication", &M::authentication, authenticationSpec(false).type(),
                "How to authenticate to the broker.")
      .optional("clientIdPrefix", &M::client_id_prefix, nonEmpty(),
                "Prefix of the MQTT client id (the dataflow name and instance are appended).")
      .withDefault("protocol", &M::protocol,
                   enumeration<MqttProtocol>(
                       {{"Mqtt", MqttProtocol::Mqtt}, {"WebSockets", MqttProtocol::WebSockets}}),
                   MqttProtocol::Mqtt, "Transport: Mqtt (TCP) or WebSockets.")
      .withDefault("keepAliveSeconds", &M::keep_alive_seconds, integer(0, 65535), int64_t{60},
                   "MQTT keep alive in seconds.")
      .withDefault(
          "retain", &M::retain,
          enumeration<MqttRetain>({{"Keep", MqttRetain::Keep}, {"Never", MqttRetain::Never}}),
          MqttRetain::Keep,
          "MQTT to MQTT only: Keep copies the source's retain flag, Never clears it.")
      .withDefault("maxInflightMessages", &M::max_inflight_messages, integer(1, 65535),
                   int64_t{100},
                   "Source: Receive Maximum. Destination: unacknowledged publishes at most.")
      .withDefault("qos", &M::qos, integer(0, 1), int64_t{1}, "QoS 0 or 1 (QoS 2 unsupported).")
      .withDefault("sessionExpirySeconds", &M::session_expiry_seconds, integer(0, kInt32Max),
                   int64_t{600}, "Session expiry interval; the broker keeps the session this long.")
      .defaultedObject("tls", &M::tls, tlsSpec(), "TLS settings.")
      .optional("cloudEventAttributes", &M::cloud_event_attributes, cloudEventAttributes(),
                "CloudEvents handling of a destination: Propagate or CreateOrRemap.");
}

// ---- metadata ------------------------------------------------------------------------------

ObjectSpec<Metadata> metadataSpec() {
  return ObjectSpec<Metadata>("Kubernetes object metadata.")
      .required("name", &Metadata::name, string(), "Object name.")
      .optional("namespace", &Metadata::namespace_, nonEmpty(), "Object namespace.")
      .withDefault("labels", &Metadata::labels, stringMap(), {}, "Labels.")
      .withDefault("annotations", &Metadata::annotations, stringMap(), {}, "Annotations.")
      .allowUnknownKeys()
      .rule(
          [](const Site& at, ParseContext& ctx, const Metadata& m) {
            static const std::regex kName("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$");
            Site name_site = at.field("name");
            if (m.name.size() < 3 || m.name.size() > 63 || !std::regex_match(m.name, kName)) {
              ctx.error(name_site,
                        describe(name_site.node) +
                            " is not a valid name: use 3 to 63 lowercase letters, "
                            "digits and '-', starting and ending with a letter or digit");
            }
          },
          nullptr);
}

Type<std::string> apiVersion() {
  return enumeration<std::string>(
      {{std::string(kGroup) + "/v1", std::string(kGroup) + "/v1"},
       {std::string(kGroup) + "/v1beta1", std::string(kGroup) + "/v1beta1"}});
}

Type<std::string> kindOf(const std::string& kind) {
  return enumeration<std::string>({{kind, kind}});
}

// ---- endpoint ------------------------------------------------------------------------------

ObjectSpec<EndpointSpec> endpointSpecSpec() {
  using E = EndpointSpec;
  const std::string refused = "is an AIO endpoint type this engine does not support";
  auto type = enumeration<EndpointType>({
      {"Kafka", EndpointType::Kafka},
      {"Mqtt", EndpointType::Mqtt},
      {"DataExplorer", EndpointType::Kafka, "", refused},
      {"DataLakeStorage", EndpointType::Kafka, "", refused},
      {"FabricOneLake", EndpointType::Kafka, "", refused},
      {"LocalStorage", EndpointType::Kafka, "", refused},
      {"OpenTelemetry", EndpointType::Kafka, "", refused},
  });
  ObjectSpec<E> spec("A DataflowEndpoint: where a dataflow reads from or writes to.");
  spec.required("endpointType", &E::endpoint_type, type, "Kafka or Mqtt.")
      .optional("hostType", &E::host_type,
                enumeration<HostType>({{"FabricRT", HostType::FabricRT},
                                       {"EventGrid", HostType::EventGrid},
                                       {"LocalBroker", HostType::LocalBroker},
                                       {"Eventhub", HostType::Eventhub},
                                       {"CustomMqtt", HostType::CustomMqtt},
                                       {"CustomKafka", HostType::CustomKafka}}),
                "Kind of host; checked against the endpoint type and authentication method.")
      .optional("kafkaSettings", &E::kafka, kafkaSpec().type(), "Settings of a Kafka endpoint.")
      .optional("mqttSettings", &E::mqtt, mqttSpec().type(), "Settings of an MQTT endpoint.");
  // The settings objects of the AIO types this engine refuses: declared so that a refused type
  // gets one error (the refusal), and forbidden with the supported types.
  std::vector<std::string> others = {"dataExplorerSettings", "dataLakeStorageSettings",
                                     "fabricOneLakeSettings", "localStorageSettings",
                                     "openTelemetrySettings"};
  for (const std::string& key : others) spec.ignored(key, "Settings of an unsupported type.");
  std::vector<std::string> not_kafka = others, not_mqtt = others;
  not_kafka.push_back("mqttSettings");
  not_mqtt.push_back("kafkaSettings");
  spec.variants("endpointType", &E::endpoint_type, type,
                {{EndpointType::Kafka, {"kafkaSettings"}, not_kafka},
                 {EndpointType::Mqtt, {"mqttSettings"}, not_mqtt}});
  return spec;
}

// ---- dataflow ------------------------------------------------------------------------------

ObjectSpec<SourceSettings> sourceSpec() {
  using S = SourceSettings;
  return ObjectSpec<S>("Where the dataflow reads.")
      .required("endpointRef", &S::endpoint_ref, nonEmpty(), "Name of a Kafka or Mqtt endpoint.")
      .required("dataSources", &S::data_sources, listOf(nonEmpty(), 1),
                "MQTT topic filters, or Kafka topic names.")
      .optional("assetRef", &S::asset_ref, nonEmpty(), "Asset reference (informational).")
      .withDefault("serializationFormat", &S::serialization_format,
                   enumeration<std::string>({{"Json", "Json"}}), std::string("Json"),
                   "Serialization of the input; Json is the only value.")
      .optional("schemaRef", &S::schema_ref, nonEmpty(),
                "Schema of the input (informational, as in AIO: not used to validate).");
}

ObjectSpec<DestinationHeader> headerSpec() {
  using H = DestinationHeader;
  auto action = enumeration<HeaderAction>({{"AddIfNotPresent", HeaderAction::AddIfNotPresent},
                                           {"AddOrReplace", HeaderAction::AddOrReplace},
                                           {"Remove", HeaderAction::Remove}});
  return ObjectSpec<H>("A header (Kafka) or user property (MQTT) action, applied last.")
      .required("actionType", &H::action, action, "AddIfNotPresent, AddOrReplace or Remove.")
      .required("key", &H::key, nonEmpty(), "Header or user property name.")
      .optional("value", &H::value, string(), "Value to set (not with Remove).")
      .variants("actionType", &H::action, action,
                {{HeaderAction::AddIfNotPresent, {"value"}, {}},
                 {HeaderAction::AddOrReplace, {"value"}, {}},
                 {HeaderAction::Remove, {}, {"value"}}});
}

ObjectSpec<DestinationSettings> destinationSpec() {
  using D = DestinationSettings;
  return ObjectSpec<D>("Where the dataflow writes.")
      .required("endpointRef", &D::endpoint_ref, nonEmpty(), "Name of a Kafka or Mqtt endpoint.")
      .required("dataDestination", &D::data_destination, nonEmpty(),
                "Topic; MQTT topics may use ${inputTopic} and ${inputTopic.N}.")
      .withDefault("headers", &D::headers, listOf(headerSpec().type()), {},
                   "Header actions applied to every message.");
}

ObjectSpec<BuiltInTransformationSettings> transformationSpec() {
  using B = BuiltInTransformationSettings;
  auto strings = listOf(nonEmpty(), 1);
  ObjectSpec<TransformDataset> dataset("Enrichment dataset.");
  dataset
      .required("key", &TransformDataset::key, string({.min_length = 1, .max_length = 64}), "Key.")
      .optional("description", &TransformDataset::description, string({.max_length = 256}), "Text.")
      .optional("schemaRef", &TransformDataset::schema_ref, nonEmpty(), "Schema.")
      .required("inputs", &TransformDataset::inputs, strings, "Inputs.")
      .optional("expression", &TransformDataset::expression, nonEmpty(), "Expression.");
  ObjectSpec<TransformFilter> filter("Filter rule.");
  filter
      .withDefault("type", &TransformFilter::type, enumeration<std::string>({{"Filter", "Filter"}}),
                   std::string("Filter"), "Filter.")
      .optional("description", &TransformFilter::description, string({.max_length = 256}), "Text.")
      .required("inputs", &TransformFilter::inputs, strings, "Inputs.")
      .required("expression", &TransformFilter::expression, nonEmpty(), "Expression.");
  ObjectSpec<TransformMap> map("Map rule.");
  map.withDefault("type", &TransformMap::type,
                  enumeration<MapType>({{"NewProperties", MapType::NewProperties},
                                        {"Rename", MapType::Rename},
                                        {"Compute", MapType::Compute},
                                        {"PassThrough", MapType::PassThrough},
                                        {"BuiltInFunction", MapType::BuiltInFunction}}),
                  MapType::NewProperties, "Map type.")
      .optional("description", &TransformMap::description, string({.max_length = 256}), "Text.")
      .required("inputs", &TransformMap::inputs, strings, "Inputs.")
      .optional("expression", &TransformMap::expression, nonEmpty(), "Expression.")
      .required("output", &TransformMap::output, string(), "Output path.");
  return ObjectSpec<B>("Built-in transformation (parsed; not supported yet by this engine).")
      .withDefault("serializationFormat", &B::serialization_format,
                   enumeration<TransformSerializationFormat>(
                       {{"Json", TransformSerializationFormat::Json},
                        {"Parquet", TransformSerializationFormat::Parquet},
                        {"Delta", TransformSerializationFormat::Delta}}),
                   TransformSerializationFormat::Json, "Output serialization.")
      .optional("schemaRef", &B::schema_ref, nonEmpty(), "Output schema.")
      .withDefault("datasets", &B::datasets, listOf(dataset.type(), 0, 1), {}, "Datasets.")
      .withDefault("filter", &B::filter, listOf(filter.type()), {}, "Filters.")
      .withDefault("map", &B::map, listOf(map.type()), {}, "Maps.");
}

ObjectSpec<Operation> operationSpec() {
  using O = Operation;
  auto type =
      enumeration<OperationType>({{"Source", OperationType::Source},
                                  {"Destination", OperationType::Destination},
                                  {"BuiltInTransformation", OperationType::BuiltInTransformation}});
  return ObjectSpec<O>("One operation of a dataflow.")
      .required("operationType", &O::type, type, "Source, Destination or BuiltInTransformation.")
      .optional("name", &O::name, string({.min_length = 1, .max_length = 64}), "Operation name.")
      .optional("sourceSettings", &O::source, sourceSpec().type(), "Settings of a Source.")
      .optional("destinationSettings", &O::destination, destinationSpec().type(),
                "Settings of a Destination.")
      .optional("builtInTransformationSettings", &O::transformation, transformationSpec().type(),
                "Settings of a BuiltInTransformation.")
      .variants("operationType", &O::type, type,
                {{OperationType::Source,
                  {"sourceSettings"},
                  {"destinationSettings", "builtInTransformationSettings"}},
                 {OperationType::Destination,
                  {"destinationSettings"},
                  {"sourceSettings", "builtInTransformationSettings"}},
                 {OperationType::BuiltInTransformation,
                  {"builtInTransformationSettings"},
                  {"sourceSettings", "destinationSettings"}}});
}

ObjectSpec<DataflowSpec> dataflowSpecSpec() {
  using D = DataflowSpec;
  return ObjectSpec<D>("A Dataflow: one source, optional transformation, one destination.")
      .optional("profileRef", &D::profile_ref, nonEmpty(),
                "DataflowProfile that runs it; `default` when absent.")
      .withDefault("mode", &D::mode, operationalMode(), OperationalMode::Enabled,
                   "Disabled dataflows are validated but not run.")
      .withDefault("requestDiskPersistence", &D::request_disk_persistence, operationalMode(),
                   OperationalMode::Disabled,
                   "Ask an AIO broker source to persist the subscriber queue (MQTT sources).")
      .required("operations", &D::operations, listOf(operationSpec().type(), 1),
                "Exactly one Source and one Destination, at most one BuiltInTransformation.");
}

// ---- profile -------------------------------------------------------------------------------

ObjectSpec<ProfileSpec> profileSpecSpec() {
  ObjectSpec<ProfileLogs> logs("Logging.");
  logs.withDefault(
      "level", &ProfileLogs::level,
      string({.min_length = 1,
              .pattern = "^(trace|debug|info|warn|error|off)(,[A-Za-z0-9_:.-]+=(trace|debug|info|"
                         "warn|error|off))*$",
              .pattern_help = "a log level (trace, debug, info, warn, error, off), optionally "
                              "followed by ,module=level pairs"}),
      std::string("info"), "Log level.");
  ObjectSpec<ProfileMetrics> metrics("Metrics.");
  metrics.withDefault("prometheusPort", &ProfileMetrics::prometheus_port, integer(0, 65535),
                      int64_t{9600}, "Port of the Prometheus endpoint.");
  ObjectSpec<ProfileDiagnostics> diagnostics("Diagnostics.");
  diagnostics.defaultedObject("logs", &ProfileDiagnostics::logs, logs, "Logging.")
      .defaultedObject("metrics", &ProfileDiagnostics::metrics, metrics, "Metrics.");
  return ObjectSpec<ProfileSpec>("A DataflowProfile: how many instances run its dataflows.")
      .withDefault("instanceCount", &ProfileSpec::instance_count, integer(1, 20), int64_t{1},
                   "Instances that share each dataflow of the profile.")
      .defaultedObject("diagnostics", &ProfileSpec::diagnostics, diagnostics, "Diagnostics.");
}

template <class T, class S>
ObjectSpec<T> envelope(const std::string& kind, S T::*spec_member, const ObjectSpec<S>& spec) {
  return ObjectSpec<T>(kind)
      .required("apiVersion", &T::api_version, apiVersion(), "API version.")
      .required("kind", &T::kind, kindOf(kind), "Kind.")
      .required("metadata", &T::metadata, metadataSpec().type(), "Metadata.")
      .required("spec", spec_member, spec.type(), "Spec.")
      .ignored("status", "Written by controllers; ignored.");
}

nlohmann::json crdFor(const std::string& kind, const std::string& plural,
                      const std::vector<std::string>& short_names, const nlohmann::json& spec,
                      const nlohmann::json& columns) {
  nlohmann::json schema{
      {"type", "object"},
      {"required", {"spec"}},
      {"properties",
       {{"apiVersion", {{"type", "string"}}},
        {"kind", {{"type", "string"}}},
        {"metadata", {{"type", "object"}}},
        {"spec", spec},
        {"status", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}};
  nlohmann::json versions = nlohmann::json::array();
  for (const char* version : {"v1", "v1beta1"}) {
    versions.push_back({{"name", version},
                        {"served", true},
                        {"storage", std::string(version) == kStorageVersion},
                        {"schema", {{"openAPIV3Schema", schema}}},
                        {"subresources", {{"status", nlohmann::json::object()}}},
                        {"additionalPrinterColumns", columns}});
  }
  std::string lower = kind;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", plural + "." + kGroup}}},
          {"spec",
           {{"group", kGroup},
            {"scope", "Namespaced"},
            {"names",
             {{"kind", kind},
              {"listKind", kind + "List"},
              {"plural", plural},
              {"singular", lower},
              {"shortNames", short_names}}},
            {"versions", versions}}}};
}

}  // namespace

const ObjectSpec<DataflowEndpoint>& endpointSchema() {
  static const ObjectSpec<DataflowEndpoint> spec =
      envelope("DataflowEndpoint", &DataflowEndpoint::spec, endpointSpecSpec());
  return spec;
}

const ObjectSpec<Dataflow>& dataflowSchema() {
  static const ObjectSpec<Dataflow> spec =
      envelope("Dataflow", &Dataflow::spec, dataflowSpecSpec());
  return spec;
}

const ObjectSpec<DataflowProfile>& profileSchema() {
  static const ObjectSpec<DataflowProfile> spec =
      envelope("DataflowProfile", &DataflowProfile::spec, profileSpecSpec());
  return spec;
}

DataflowProfile implicitDefaultProfile() {
  DataflowProfile p;
  p.api_version = std::string(kGroup) + "/" + kStorageVersion;
  p.kind = "DataflowProfile";
  p.metadata.name = "default";
  p.spec = profileSpecSpec().defaults();
  p.origin.file = "(implicit default profile)";
  p.origin.implicit = true;
  return p;
}

nlohmann::json customResourceDefinition(const std::string& kind) {
  auto column = [](const char* name, const char* path) {
    return nlohmann::json{{"name", name}, {"type", "string"}, {"jsonPath", path}};
  };
  // What `dataflow run --kubernetes` writes (cli/kubernetes_status.h): the state, and with -o wide
  // why.
  auto withStatus = [&](nlohmann::json columns) {
    columns.push_back(column("State", ".status.state"));
    nlohmann::json message = column("Message", ".status.message");
    message["priority"] = 1;
    columns.push_back(message);
    return columns;
  };
  if (kind == "DataflowEndpoint") {
    return crdFor(kind, "dataflowendpoints", {"dfe"},
                  endpointSchema().schema()["properties"]["spec"],
                  withStatus(nlohmann::json::array({column("Type", ".spec.endpointType")})));
  }
  if (kind == "Dataflow") {
    return crdFor(kind, "dataflows", {"df"}, dataflowSchema().schema()["properties"]["spec"],
                  withStatus(nlohmann::json::array(
                      {column("Profile", ".spec.profileRef"), column("Mode", ".spec.mode")})));
  }
  if (kind == "DataflowProfile") {
    return crdFor(
        kind, "dataflowprofiles", {"dfp"}, profileSchema().schema()["properties"]["spec"],
        withStatus(nlohmann::json::array(
            {{{"name", "Instances"}, {"type", "integer"}, {"jsonPath", ".spec.instanceCount"}}})));
  }
  return nullptr;
}

}  // namespace dataflow::config
