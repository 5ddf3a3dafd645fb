#include "connectors/kafka/kafka_factory.h"

#include <cstdint>
#include <string>
#include <utility>

#include "connectors/kafka/kafka_destination.h"
#include "connectors/kafka/kafka_settings.h"
#include "connectors/kafka/kafka_source.h"

namespace dataflow::kafka {

namespace {

// The runtime's client id (stable across restarts); a readable one when a caller leaves it out.
std::string clientIdOf(const runtime::ConnectorContext& context) {
  if (!context.client_id.empty()) return context.client_id;
  return "dataflow-" + context.dataflow_name + "-" + std::to_string(context.instance_id);
}

// A producer shared by the dataflows of an endpoint is named after the endpoint.
std::string sharedClientIdOf(const runtime::ConnectorContext& context) {
  return "dataflow-" + context.endpoint->metadata.name + "-" + std::to_string(context.instance_id);
}

// What makes two destinations able to share a producer: the same endpoint and the same client
// configuration (secrets included, so a rotated one gets a new producer) and token source.
std::string poolKey(const runtime::ConnectorContext& context, const ProducerConfig& config,
                    const OAuthBearerTokens* tokens) {
  std::string key = context.endpoint->metadata.namespace_.value_or("") + "/" +
                    context.endpoint->metadata.name;
  for (const ConfigProperty& property : config) {
    key += '\n' + property.name + '=' + property.value;
  }
  if (tokens) {
    key += "\noauthbearer=" + tokens->scope + "@" +
           std::to_string(reinterpret_cast<std::uintptr_t>(tokens->cache.get()));
  }
  return key;
}

}  // namespace

Result<std::unique_ptr<Destination>> createDestination(const runtime::DestinationSpec& spec,
                                                       ProducerPool* pool) {
  const runtime::ConnectorContext& context = spec.context;
  if (!context.endpoint || !context.endpoint->spec.kafka) {
    return Status::fatal("the Kafka destination needs an endpoint with kafkaSettings");
  }
  const config::MountedFiles no_files;
  Result<ProducerConfig> config =
      producerConfig(*context.endpoint->spec.kafka, context.files ? *context.files : no_files,
                     spec.limits, pool ? sharedClientIdOf(context) : clientIdOf(context));
  if (!config.isOk()) {
    return Status::fatal("endpoint \"" + context.endpoint->metadata.name +
                         "\": " + config.status().message());
  }
  Result<std::shared_ptr<const OAuthBearerTokens>> tokens =
      oauthBearerTokensFor(*context.endpoint->spec.kafka);
  if (!tokens.isOk()) {
    return Status::fatal("endpoint \"" + context.endpoint->metadata.name +
                         "\": " + tokens.status().message());
  }
  static const SystemClock system_clock;
  if (!pool) {
    KafkaDestination::Options options{std::move(config).value(), context.logger,
                                      context.clock ? context.clock : &system_clock,
                                      context.endpoint->metadata.name, std::move(tokens).value()};
    return std::unique_ptr<Destination>(std::make_unique<KafkaDestination>(std::move(options)));
  }
  const std::string key = poolKey(context, config.value(), tokens.value().get());
  KafkaProducer::Options options{
      std::move(config).value(), context.shared_logger ? context.shared_logger : context.logger,
      context.clock ? context.clock : &system_clock, context.endpoint->metadata.name,
      std::move(tokens).value()};
  return std::unique_ptr<Destination>(std::make_unique<KafkaDestination>(
      pool->get(key, std::move(options)), spec.limits, context.logger));
}

// Kafka -> MQTT: a consumer in the endpoint's consumerGroupId, subscribed to the dataflow's topics
// (a topic starting with `^` is a regular expression), client.id = the runtime's client id.
Result<std::unique_ptr<Source>> createSource(const runtime::SourceSpec& spec) {
  const runtime::ConnectorContext& context = spec.context;
  if (!context.endpoint || !context.endpoint->spec.kafka) {
    return Status::fatal("the Kafka source needs an endpoint with kafkaSettings");
  }
  const config::MountedFiles no_files;
  Result<ConsumerConfig> config =
      consumerConfig(*context.endpoint->spec.kafka, context.files ? *context.files : no_files,
                     clientIdOf(context));
  if (!config.isOk()) {
    return Status::fatal("endpoint \"" + context.endpoint->metadata.name +
                         "\": " + config.status().message());
  }
  if (spec.topics.empty()) {
    return Status::fatal("the Kafka source of dataflow \"" + context.dataflow_name +
                         "\" has no topics to consume");
  }
  Result<std::shared_ptr<const OAuthBearerTokens>> tokens =
      oauthBearerTokensFor(*context.endpoint->spec.kafka);
  if (!tokens.isOk()) {
    return Status::fatal("endpoint \"" + context.endpoint->metadata.name +
                         "\": " + tokens.status().message());
  }
  static const SystemClock system_clock;
  KafkaSource::Options options;
  options.config = std::move(config).value();
  options.oauthbearer = std::move(tokens).value();
  options.topics = spec.topics;
  options.logger = context.logger;
  options.clock = context.clock ? context.clock : &system_clock;
  options.endpoint_name = context.endpoint->metadata.name;
  return std::unique_ptr<Source>(std::make_unique<KafkaSource>(std::move(options)));
}

}  // namespace dataflow::kafka
