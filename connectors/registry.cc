#include "connectors/registry.h"

#include "connectors/kafka/kafka_factory.h"
#include "connectors/kafka/kafka_producer.h"
#include "connectors/mqtt/mqtt_factory.h"

namespace dataflow::connectors {

namespace {

class Registry final : public runtime::ConnectorFactory {
 public:
  Result<std::unique_ptr<Source>> createSource(const runtime::SourceSpec& spec) const override {
    switch (spec.context.endpoint->spec.endpoint_type) {
      case config::EndpointType::Kafka:
        return kafka::createSource(spec);
      case config::EndpointType::Mqtt:
        return mqtt::createSource(spec);
    }
    return Status::fatal("unknown endpoint type");
  }

  Result<std::unique_ptr<Destination>> createDestination(
      const runtime::DestinationSpec& spec) const override {
    switch (spec.context.endpoint->spec.endpoint_type) {
      case config::EndpointType::Kafka:
        return kafka::createDestination(spec, &producers_);
      case config::EndpointType::Mqtt:
        return mqtt::createDestination(spec);
    }
    return Status::fatal("unknown endpoint type");
  }

 private:
  // One Kafka producer per endpoint and client configuration, shared by the dataflows.
  mutable kafka::ProducerPool producers_;
};

}  // namespace

std::unique_ptr<runtime::ConnectorFactory> makeConnectorFactory() {
  return std::make_unique<Registry>();
}

}  // namespace dataflow::connectors
