#include "connectors/kafka/oauthbearer.h"

#include "connectors/identity/scopes.h"
#include "connectors/identity/shared_token_cache.h"

namespace dataflow::kafka {

Result<std::shared_ptr<const OAuthBearerTokens>> oauthBearerTokensFor(
    const config::KafkaSettings& settings) {
  if (!identity::isManagedIdentity(settings.authentication.method)) {
    return std::shared_ptr<const OAuthBearerTokens>();
  }
  Result<identity::ManagedIdentity> who = identity::managedIdentityOf(settings.authentication);
  if (!who.isOk()) return who.status();
  Result<std::string> scope = identity::kafkaScope(settings.authentication, settings.host);
  if (!scope.isOk()) return scope.status();
  Result<std::shared_ptr<identity::TokenCache>> cache = identity::sharedTokenCache(who.value());
  if (!cache.isOk()) return cache.status();
  return std::shared_ptr<const OAuthBearerTokens>(std::make_shared<OAuthBearerTokens>(
      OAuthBearerTokens{std::move(cache).value(), std::move(scope).value()}));
}

void enableOAuthBearer(rd_kafka_conf_t* conf,
                       void (*callback)(rd_kafka_t*, const char* oauthbearer_config, void*)) {
  rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, callback);
  rd_kafka_conf_enable_sasl_queue(conf, 1);
}

Status startOAuthBearerRefresh(rd_kafka_t* client) {
  rd_kafka_error_t* error = rd_kafka_sasl_background_callbacks_enable(client);
  if (error == nullptr) return Status::ok();
  Status status = Status::fatal(std::string("cannot serve OAUTHBEARER token refreshes: ") +
                                rd_kafka_error_string(error));
  rd_kafka_error_destroy(error);
  return status;
}

void refreshOAuthBearerToken(rd_kafka_t* client, const OAuthBearerTokens& tokens,
                             spdlog::logger& logger) {
  Result<identity::AccessToken> token = tokens.cache->get(tokens.scope);
  if (!token.isOk()) {
    const std::string reason = "no OAUTHBEARER token for " + tokens.scope + " from " +
                               tokens.cache->describe() + ": " + token.status().message();
    rd_kafka_oauthbearer_set_token_failure(client, reason.c_str());
    return;  // the cache has logged the failure
  }
  const identity::AccessToken& t = token.value();
  char error[512] = "";
  const rd_kafka_resp_err_t code =
      rd_kafka_oauthbearer_set_token(client, t.token.c_str(), t.expires_on_ms, t.principal.c_str(),
                                     nullptr, 0, error, sizeof error);
  if (code == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  // librdkafka's reason names a rule, not the token; checked anyway, since it goes to a log.
  std::string detail = error;
  if (detail.find(t.token) != std::string::npos) detail = rd_kafka_err2name(code);
  const std::string reason =
      "librdkafka refused the OAUTHBEARER token from " + tokens.cache->describe() + ": " + detail;
  logger.warn("{}", reason);
  rd_kafka_oauthbearer_set_token_failure(client, reason.c_str());
}

}  // namespace dataflow::kafka
