// Kafka connectors (librdkafka). Registered in connectors/registry.cc.
#pragma once

#include <memory>

#include "engine/runtime/connector_factory.h"

namespace dataflow::kafka {

Result<std::unique_ptr<Destination>> createDestination(const runtime::DestinationSpec& spec);
Result<std::unique_ptr<Source>> createSource(const runtime::SourceSpec& spec);

}  // namespace dataflow::kafka
