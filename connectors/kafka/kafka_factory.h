// Kafka connectors (librdkafka). Registered in connectors/registry.cc.
#pragma once

#include <memory>

#include "engine/runtime/connector_factory.h"

namespace dataflow::kafka {

class ProducerPool;

// A lane of the pool's producer for the endpoint (one per endpoint and client configuration,
// shared by every dataflow writing through it); with no pool, a producer of its own.
Result<std::unique_ptr<Destination>> createDestination(const runtime::DestinationSpec& spec,
                                                       ProducerPool* pool = nullptr);
Result<std::unique_ptr<Source>> createSource(const runtime::SourceSpec& spec);

}  // namespace dataflow::kafka
