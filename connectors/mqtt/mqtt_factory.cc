#include "connectors/mqtt/mqtt_factory.h"

#include <utility>

#include "connectors/mqtt/mqtt_settings.h"
#include "connectors/mqtt/mqtt_source.h"

namespace dataflow::mqtt {

Result<std::unique_ptr<Source>> createSource(const runtime::SourceSpec& spec) {
  const runtime::ConnectorContext& context = spec.context;
  if (context.endpoint == nullptr || !context.endpoint->spec.mqtt) {
    return Status::fatal("endpoint is not an MQTT endpoint (no mqttSettings)");
  }
  if (context.clock == nullptr) return Status::fatal("MQTT source created without a clock");
  const config::MountedFiles no_files;
  const config::MountedFiles& files = context.files != nullptr ? *context.files : no_files;
  Result<ClientSettings> settings =
      mapSettings(*context.endpoint->spec.mqtt, files, context.client_id);
  if (!settings.isOk()) {
    return Status::fatal("endpoint \"" + context.endpoint->metadata.name +
                         "\": " + settings.status().message());
  }
  Result<std::unique_ptr<MqttSource>> source =
      MqttSource::create(std::move(settings).value(), spec.topics, *context.clock, context.logger);
  if (!source.isOk()) return source.status();
  return std::unique_ptr<Source>(std::move(source).value());
}

Result<std::unique_ptr<Destination>> createDestination(const runtime::DestinationSpec&) {
  return Status::fatal(
      "an MQTT destination (Kafka -> MQTT, MQTT -> MQTT) is not supported by `dataflow run` yet");
}

}  // namespace dataflow::mqtt
