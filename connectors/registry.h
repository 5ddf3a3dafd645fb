// The explicit list of connectors: endpointType -> factory. No static self-registration.
#pragma once

#include <memory>

#include "engine/runtime/connector_factory.h"

namespace dataflow::connectors {

std::unique_ptr<runtime::ConnectorFactory> makeConnectorFactory();

}  // namespace dataflow::connectors
