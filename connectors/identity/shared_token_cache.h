// The process's token caches: one per managed identity, shared by every client that uses it
// (all Kafka producers and consumers, MQTT connections), so that N dataflows on one endpoint
// cause one token request per refresh, not N.
#pragma once

#include <memory>

#include "connectors/identity/source_selection.h"
#include "connectors/identity/token_cache.h"

namespace dataflow::identity {

// The cache for `identity`, created at the first call with the source selectTokenSource picks
// from the process environment, libcurl (connect 5 s, total 10 s) and the system clock; later
// calls return the same cache. Fatal when no source can serve `identity` (that error is not
// cached: the next call selects again). Sends no request. Thread-safe.
Result<std::shared_ptr<TokenCache>> sharedTokenCache(const ManagedIdentity& identity);

}  // namespace dataflow::identity
