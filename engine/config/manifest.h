// Typed, validated forms of the three AIO manifest kinds (group
// connectivity.iotoperations.azure.com, versions v1 and v1beta1). Field names follow the
// manifests. Defaults, ranges and help live in one place, manifest_schema.cc (its
// ObjectSpec::defaults() gives a struct with them); these structs carry no defaults of their own.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dataflow::config {

// Where a manifest came from: its file and its YAML document, kept so that cross-object checks
// can point at the exact line of the field they are about.
struct Origin {
  Origin() = default;
  Origin(std::string f, YAML::Node d, int l) : file(std::move(f)), document(d), line(l) {}
  Origin(const Origin&) = default;
  Origin(Origin&&) = default;
  // Rebinds the handle (YAML::Node's operator= would write into the referenced node).
  Origin& operator=(const Origin& other) {
    file = other.file;
    document.reset(other.document);
    line = other.line;
    implicit = other.implicit;
    return *this;
  }
  Origin& operator=(Origin&& other) { return *this = static_cast<const Origin&>(other); }

  std::string file;
  YAML::Node document;
  int line = 0;           // 1-based line of the document start
  bool implicit = false;  // made by the engine (the default profile), not read from a manifest
};

struct Metadata {
  std::string name;
  std::optional<std::string> namespace_;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

enum class OperationalMode { Enabled, Disabled };

// ---- DataflowEndpoint --------------------------------------------------------------------

enum class EndpointType { Kafka, Mqtt };

enum class AuthMethod {
  SystemAssignedManagedIdentity,
  UserAssignedManagedIdentity,
  Sasl,
  X509Certificate,
  ServiceAccountToken,
  Anonymous,
};

enum class SaslType { Plain, ScramSha256, ScramSha512 };

struct SystemAssignedManagedIdentitySettings {
  std::optional<std::string> audience;
};
struct UserAssignedManagedIdentitySettings {
  std::string client_id;
  std::string tenant_id;
  std::optional<std::string> scope;
};
struct SaslSettings {
  SaslType sasl_type{};
  std::string secret_ref;
};
struct X509CertificateSettings {
  std::string secret_ref;
};
struct ServiceAccountTokenSettings {
  std::string audience;
};

struct Authentication {
  AuthMethod method{};
  std::optional<SystemAssignedManagedIdentitySettings> system_assigned;
  std::optional<UserAssignedManagedIdentitySettings> user_assigned;
  std::optional<SaslSettings> sasl;
  std::optional<X509CertificateSettings> x509;
  std::optional<ServiceAccountTokenSettings> service_account_token;
};

struct Tls {
  OperationalMode mode{};
  std::optional<std::string> trusted_ca_certificate_config_map_ref;
};

enum class CloudEventAttributes { Propagate, CreateOrRemap };

struct KafkaBatching {
  OperationalMode mode{};
  int64_t latency_ms{};
  int64_t max_bytes{};
  int64_t max_messages{};
};

enum class Compression { None, Gzip, Snappy, Lz4, Zstd };
enum class KafkaAcks { Zero, One, All };
enum class PartitionStrategy { Default, Static, Topic, Property };

struct KafkaSettings {
  std::string host;
  Authentication authentication;
  std::optional<std::string> consumer_group_id;
  KafkaBatching batching;
  OperationalMode copy_mqtt_properties{};
  Compression compression{};
  KafkaAcks kafka_acks{};
  PartitionStrategy partition_strategy{};
  std::optional<std::string> partition_key_property;
  Tls tls;
  std::optional<CloudEventAttributes> cloud_event_attributes;
};

enum class MqttProtocol { Mqtt, WebSockets };
enum class MqttRetain { Keep, Never };

struct MqttSettings {
  std::string host;
  Authentication authentication;
  std::optional<std::string> client_id_prefix;
  MqttProtocol protocol{};
  int64_t keep_alive_seconds{};
  MqttRetain retain{};
  int64_t max_inflight_messages{};
  int64_t qos{};
  int64_t session_expiry_seconds{};
  Tls tls;
  std::optional<CloudEventAttributes> cloud_event_attributes;
};

enum class HostType { FabricRT, EventGrid, LocalBroker, Eventhub, CustomMqtt, CustomKafka };

struct EndpointSpec {
  EndpointType endpoint_type{};
  std::optional<HostType> host_type;
  std::optional<KafkaSettings> kafka;
  std::optional<MqttSettings> mqtt;
};

struct DataflowEndpoint {
  Origin origin;
  std::string api_version;
  std::string kind;
  Metadata metadata;
  EndpointSpec spec;
};

// ---- Dataflow ----------------------------------------------------------------------------

enum class OperationType { Source, Destination, BuiltInTransformation };

struct SourceSettings {
  std::string endpoint_ref;
  std::vector<std::string> data_sources;
  std::optional<std::string> asset_ref;
  std::string serialization_format{};
  std::optional<std::string> schema_ref;
};

enum class HeaderAction { AddIfNotPresent, AddOrReplace, Remove };

struct DestinationHeader {
  HeaderAction action{};
  std::string key;
  std::optional<std::string> value;
};

struct DestinationSettings {
  std::string endpoint_ref;
  std::string data_destination;
  std::vector<DestinationHeader> headers;
};

// BuiltInTransformation is parsed for its shape so that a manifest using it gets a precise
// "not supported yet" error instead of a list of unknown keys.
enum class TransformSerializationFormat { Json, Parquet, Delta };
struct TransformDataset {
  std::string key;
  std::optional<std::string> description;
  std::optional<std::string> schema_ref;
  std::vector<std::string> inputs;
  std::optional<std::string> expression;
};
struct TransformFilter {
  std::string type{};
  std::optional<std::string> description;
  std::vector<std::string> inputs;
  std::string expression;
};
enum class MapType { NewProperties, Rename, Compute, PassThrough, BuiltInFunction };
struct TransformMap {
  MapType type{};
  std::optional<std::string> description;
  std::vector<std::string> inputs;
  std::optional<std::string> expression;
  std::string output;
};
struct BuiltInTransformationSettings {
  TransformSerializationFormat serialization_format{};
  std::optional<std::string> schema_ref;
  std::vector<TransformDataset> datasets;
  std::vector<TransformFilter> filter;
  std::vector<TransformMap> map;
};

struct Operation {
  OperationType type{};
  std::optional<std::string> name;
  std::optional<SourceSettings> source;
  std::optional<DestinationSettings> destination;
  std::optional<BuiltInTransformationSettings> transformation;
};

struct DataflowSpec {
  std::optional<std::string> profile_ref;
  OperationalMode mode{};
  OperationalMode request_disk_persistence{};
  std::vector<Operation> operations;
};

struct Dataflow {
  Origin origin;
  std::string api_version;
  std::string kind;
  Metadata metadata;
  DataflowSpec spec;
};

// ---- DataflowProfile ---------------------------------------------------------------------

struct ProfileLogs {
  std::string level{};
};
struct ProfileMetrics {
  int64_t prometheus_port{};
};
struct ProfileDiagnostics {
  ProfileLogs logs;
  ProfileMetrics metrics;
};
struct ProfileSpec {
  int64_t instance_count{};
  ProfileDiagnostics diagnostics;
};

struct DataflowProfile {
  Origin origin;
  std::string api_version;
  std::string kind;
  Metadata metadata;
  ProfileSpec spec;
};

// Names used in messages and summaries.
const char* toString(EndpointType t);
const char* toString(AuthMethod m);

}  // namespace dataflow::config
