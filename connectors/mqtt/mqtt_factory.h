// MQTT v5 connectors (paho.mqtt.cpp). Registered in connectors/registry.cc.
#pragma once

#include <memory>

#include "engine/runtime/connector_factory.h"

namespace dataflow::mqtt {

Result<std::unique_ptr<Source>> createSource(const runtime::SourceSpec& spec);
Result<std::unique_ptr<Destination>> createDestination(const runtime::DestinationSpec& spec);

}  // namespace dataflow::mqtt
