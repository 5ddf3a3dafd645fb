#include "connectors/kafka/kafka_factory.h"

#include <string>
#include <utility>

#include "connectors/kafka/kafka_destination.h"
#include "connectors/kafka/kafka_settings.h"

namespace dataflow::kafka {

namespace {

// The runtime's client id (stable across restarts); a readable one when a caller leaves it out.
std::string clientIdOf(const runtime::ConnectorContext& context) {
  if (!context.client_id.empty()) return context.client_id;
  return "dataflow-" + context.dataflow_name + "-" + std::to_string(context.instance_id);
}

}  // namespace

Result<std::unique_ptr<Destination>> createDestination(const runtime::DestinationSpec& spec) {
  const runtime::ConnectorContext& context = spec.context;
  if (!context.endpoint || !context.endpoint->spec.kafka) {
    return Status::fatal("the Kafka destination needs an endpoint with kafkaSettings");
  }
  const config::MountedFiles no_files;
  Result<ProducerConfig> config =
      producerConfig(*context.endpoint->spec.kafka, context.files ? *context.files : no_files,
                     spec.limits, clientIdOf(context));
  if (!config.isOk()) {
    return Status::fatal("endpoint \"" + context.endpoint->metadata.name +
                         "\": " + config.status().message());
  }
  static const SystemClock system_clock;
  KafkaDestination::Options options{std::move(config).value(), context.logger,
                                    context.clock ? context.clock : &system_clock};
  return std::unique_ptr<Destination>(std::make_unique<KafkaDestination>(std::move(options)));
}

// Kafka -> MQTT arrives with the Kafka source (a later issue); until then it is refused here,
// visibly, rather than accepted and ignored.
Result<std::unique_ptr<Source>> createSource(const runtime::SourceSpec&) {
  return Status::fatal("a Kafka source (Kafka -> MQTT) is not supported by `dataflow run` yet");
}

}  // namespace dataflow::kafka
