// SASL/OAUTHBEARER for the managed-identity methods: librdkafka's token refresh callback, served
// on librdkafka's background thread, takes the token from an identity::TokenCache.
//
// Why the background thread: the refresh fetches over HTTP (bounded by the HTTP client's 5 s
// connect / 10 s total timeouts, longer for Arc's two requests). On the main queue it would run
// inside the producer's delivery poll or the consumer's poll and stall delivery reports or
// records for that long; on the SASL queue forwarded to the background thread
// (rd_kafka_sasl_background_callbacks_enable, librdkafka >= 1.9) it stalls nothing, and it is
// served the same way for producers and consumers, whoever polls what.
#pragma once

#include <librdkafka/rdkafka.h>
#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "connectors/identity/token_cache.h"
#include "engine/config/manifest.h"
#include "engine/core/status.h"

namespace dataflow::kafka {

// Where one client's OAUTHBEARER tokens come from. Shared (immutable) by the clients of an
// endpoint; the cache is shared process-wide per identity.
struct OAuthBearerTokens {
  std::shared_ptr<identity::TokenCache> cache;
  std::string scope;  // identity::kafkaScope of the endpoint
};

// For the managed-identity methods: the process-wide cache of the endpoint's identity (selected
// from the environment, identity/source_selection.h) and its Kafka scope. nullptr for every other
// method. Fatal when no token source can serve the identity. Sends no request.
Result<std::shared_ptr<const OAuthBearerTokens>> oauthBearerTokensFor(
    const config::KafkaSettings& settings);

// Before rd_kafka_new: installs `callback` as the token refresh callback and gives it the SASL
// queue. The callback receives rd_kafka_opaque() and should call refreshOAuthBearerToken.
void enableOAuthBearer(rd_kafka_conf_t* conf,
                       void (*callback)(rd_kafka_t*, const char* oauthbearer_config, void*));

// Right after rd_kafka_new of a client configured by enableOAuthBearer: serves its SASL queue on
// librdkafka's background thread (the refresh rd_kafka_new queued is served then too).
Status startOAuthBearerRefresh(rd_kafka_t* client);

// The body of a refresh callback: a token from `tokens` handed to librdkafka with
// rd_kafka_oauthbearer_set_token (expiry in ms, principal = JWT oid/sub, no extensions), or
// rd_kafka_oauthbearer_set_token_failure with the reason (librdkafka keeps a still-valid old
// token and asks again in 10 s; the cache's backoff decides whether that asks the server).
// Never logs or reports the token. Runs on librdkafka's background thread.
void refreshOAuthBearerToken(rd_kafka_t* client, const OAuthBearerTokens& tokens,
                             spdlog::logger& logger);

}  // namespace dataflow::kafka
