#include "connectors/mqtt/mqtt_factory.h"

#include <utility>

#include "connectors/mqtt/mqtt_destination.h"
#include "connectors/mqtt/mqtt_settings.h"
#include "connectors/mqtt/mqtt_source.h"

namespace dataflow::mqtt {

namespace {

// The endpoint's mapped client settings, or a fatal naming the endpoint. `role` for messages.
Result<ClientSettings> clientSettings(const runtime::ConnectorContext& context, const char* role) {
  if (context.endpoint == nullptr || !context.endpoint->spec.mqtt) {
    return Status::fatal("endpoint is not an MQTT endpoint (no mqttSettings)");
  }
  if (context.clock == nullptr) {
    return Status::fatal(std::string("MQTT ") + role + " created without a clock");
  }
  const config::MountedFiles no_files;
  const config::MountedFiles& files = context.files != nullptr ? *context.files : no_files;
  Result<ClientSettings> settings =
      mapSettings(*context.endpoint->spec.mqtt, files, context.client_id);
  if (!settings.isOk()) {
    return Status::fatal("endpoint \"" + context.endpoint->metadata.name +
                         "\": " + settings.status().message());
  }
  ClientSettings out = std::move(settings).value();
  out.endpoint = context.endpoint->metadata.name;
  return out;
}

}  // namespace

Result<std::unique_ptr<Source>> createSource(const runtime::SourceSpec& spec) {
  const runtime::ConnectorContext& context = spec.context;
  Result<ClientSettings> settings = clientSettings(context, "source");
  if (!settings.isOk()) return settings.status();
  Result<std::unique_ptr<MqttSource>> source =
      MqttSource::create(std::move(settings).value(), spec.topics, *context.clock, context.logger);
  if (!source.isOk()) return source.status();
  source.value()->retireTopics(spec.retired_topics);
  return std::unique_ptr<Source>(std::move(source).value());
}

// The client id already carries the runtime's "-out" suffix, so it differs from a source's on
// the same broker and stays stable across restarts (the broker keeps the session).
Result<std::unique_ptr<Destination>> createDestination(const runtime::DestinationSpec& spec) {
  const runtime::ConnectorContext& context = spec.context;
  Result<ClientSettings> settings = clientSettings(context, "destination");
  if (!settings.isOk()) return settings.status();
  const int qos = settings.value().subscription_qos;  // the endpoint's qos, checked by mapSettings
  Result<std::unique_ptr<MqttDestination>> destination = MqttDestination::create(
      std::move(settings).value(), qos, spec.limits, *context.clock, context.logger);
  if (!destination.isOk()) return destination.status();
  return std::unique_ptr<Destination>(std::move(destination).value());
}

}  // namespace dataflow::mqtt
