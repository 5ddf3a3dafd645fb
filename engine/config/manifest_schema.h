// The declaration of every manifest field: one ObjectSpec per kind, built once.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/config/manifest.h"
#include "engine/config/schema.h"

namespace dataflow::config {

inline constexpr const char* kGroup = "connectivity.iotoperations.azure.com";
inline constexpr const char* kStorageVersion = "v1";

const ObjectSpec<DataflowEndpoint>& endpointSchema();
const ObjectSpec<Dataflow>& dataflowSchema();
const ObjectSpec<DataflowProfile>& profileSchema();

// The profile named `default` that exists implicitly when no manifest defines it.
DataflowProfile implicitDefaultProfile();

// The CustomResourceDefinition of a kind (`DataflowEndpoint`, `Dataflow`, `DataflowProfile`),
// with the openAPIV3Schema generated from the declarations above, for every served version.
nlohmann::json customResourceDefinition(const std::string& kind);

}  // namespace dataflow::config
