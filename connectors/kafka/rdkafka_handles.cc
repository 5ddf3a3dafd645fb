#include "connectors/kafka/rdkafka_handles.h"

#include <utility>

namespace dataflow::kafka {

Result<ConfHandle> makeConf(const ProducerConfig& config) {
  ConfHandle conf(rd_kafka_conf_new());
  char error[512];
  for (const ConfigProperty& property : config) {
    if (rd_kafka_conf_set(conf.get(), property.name.c_str(), property.value.c_str(), error,
                          sizeof error) != RD_KAFKA_CONF_OK) {
      return Status::fatal("librdkafka refused property " + property.name + ": " + error);
    }
  }
  return conf;
}

Result<ConfHandle> makeClientConf(const ProducerConfig& config, const ClientCallbacks& callbacks) {
  Result<ConfHandle> conf = makeConf(config);
  if (!conf.isOk()) return conf.status();
  char error[512];
  if (rd_kafka_conf_set(conf.value().get(), "log.queue", "true", error, sizeof error) !=
      RD_KAFKA_CONF_OK) {
    return Status::fatal(std::string("librdkafka refused log.queue: ") + error);
  }
  rd_kafka_conf_set_opaque(conf.value().get(), callbacks.opaque);
  if (callbacks.on_error) rd_kafka_conf_set_error_cb(conf.value().get(), callbacks.on_error);
  if (callbacks.on_log) rd_kafka_conf_set_log_cb(conf.value().get(), callbacks.on_log);
  const std::string* protocol = findProperty(config, "security.protocol");
  const bool tls = protocol && (*protocol == "SSL" || *protocol == "SASL_SSL");
  if (callbacks.on_certificate && tls &&
      rd_kafka_conf_set_ssl_cert_verify_cb(conf.value().get(), callbacks.on_certificate) !=
          RD_KAFKA_CONF_OK) {
    return Status::fatal("librdkafka refused ssl.certificate.verify_cb (built without TLS?)");
  }
  return conf;
}

spdlog::level::level_enum spdlogLevel(int syslog_level) {
  if (syslog_level <= 2) return spdlog::level::critical;
  if (syslog_level == 3) return spdlog::level::err;
  if (syslog_level == 4) return spdlog::level::warn;
  if (syslog_level <= 6) return spdlog::level::info;
  return spdlog::level::debug;
}

Result<ClientHandle> newClient(rd_kafka_type_t type, ConfHandle conf) {
  char error[512];
  ClientHandle client(rd_kafka_new(type, conf.get(), error, sizeof error));
  if (!client) return Status::fatal(std::string("cannot create the Kafka client: ") + error);
  (void)conf.release();  // rd_kafka_new owns it now
  return client;
}

Result<MetadataHandle> fetchMetadata(rd_kafka_t* client, rd_kafka_topic_t* topic, int timeout_ms) {
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t error = rd_kafka_metadata(client, 0, topic, &raw, timeout_ms);
  MetadataHandle metadata(raw);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retriable(std::string("metadata request failed: ") + rd_kafka_err2str(error));
  }
  return metadata;
}

namespace {

void appendDump(const char** dump, size_t count, ProducerConfig& out) {
  for (size_t i = 0; i + 1 < count; i += 2) out.push_back({dump[i], dump[i + 1]});
  rd_kafka_conf_dump_free(dump, count);
}

}  // namespace

ProducerConfig effectiveConfig(rd_kafka_t* client) {
  // The dump functions only read the configuration; librdkafka's API just lacks the const.
  auto* conf = const_cast<rd_kafka_conf_t*>(rd_kafka_conf(client));
  ProducerConfig out;
  size_t count = 0;
  const char** dump = rd_kafka_conf_dump(conf, &count);
  appendDump(dump, count, out);
  if (rd_kafka_topic_conf_t* topic_conf = rd_kafka_conf_get_default_topic_conf(conf)) {
    dump = rd_kafka_topic_conf_dump(topic_conf, &count);
    appendDump(dump, count, out);
  }
  return out;
}

}  // namespace dataflow::kafka
