#include "bench/harness/kafka_load.h"

#include <librdkafka/rdkafka.h>

#include <functional>
#include <stdexcept>

namespace dataflow::bench {

namespace {

void check(const Status& status) {
  if (!status.isOk()) throw std::runtime_error(status.message());
}

// The connector's own conf and client constructors (kafka/rdkafka_handles.h): `config` in
// order, plus the bootstrap servers, a client id, and errors-only logging so a benchmark's stderr
// stays readable. `prepare` adds callbacks before the client is created.
kafka::ClientHandle newClient(rd_kafka_type_t type, const std::string& bootstrap_servers,
                              const std::string& client_id, kafka::ClientConfig config,
                              const std::function<void(rd_kafka_conf_t*)>& prepare = {}) {
  config.insert(
      config.begin(),
      {{"bootstrap.servers", bootstrap_servers}, {"client.id", client_id}, {"log_level", "3"}});
  Result<kafka::ConfHandle> conf = kafka::makeConf(config);
  check(conf.status());
  if (prepare) prepare(conf.value().get());
  Result<kafka::ClientHandle> client = kafka::newClient(type, std::move(conf).value());
  check(client.status());
  return std::move(client).value();
}

}  // namespace

KafkaLoadProducer::KafkaLoadProducer(const std::string& bootstrap_servers, std::string topic)
    : topic_(std::move(topic)) {
  client_ = newClient(RD_KAFKA_PRODUCER, bootstrap_servers, "bench-producer",
                      {{"acks", "all"},
                       {"enable.idempotence", "true"},
                       {"linger.ms", "5"},
                       {"batch.num.messages", "100000"},
                       {"batch.size", "1000000"},
                       {"queue.buffering.max.messages", "1000000"}},
                      [this](rd_kafka_conf_t* conf) {
                        rd_kafka_conf_set_dr_msg_cb(conf, &KafkaLoadProducer::onDelivery);
                        rd_kafka_conf_set_opaque(conf, this);
                      });
  // The topic's metadata now, so the first record finds its partitions and their leader (see the
  // header). A failure is not fatal: librdkafka's own topic scan finds the topic later, and the
  // readiness barrier (load.h, waitReady) waits for that.
  kafka::TopicHandle handle(rd_kafka_topic_new(client_.get(), topic_.c_str(), nullptr));
  if (handle) kafka::fetchMetadata(client_.get(), handle.get(), 10000);
  poller_ = std::thread([this] {
    while (!stop_.load()) rd_kafka_poll(client_.get(), 50);
  });
}

KafkaLoadProducer::~KafkaLoadProducer() {
  flush(10000);
  stop_.store(true);
  poller_.join();
}

void KafkaLoadProducer::onDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<KafkaLoadProducer*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.fetch_add(1);
  } else {
    self->failed_.fetch_add(1);
  }
}

void KafkaLoadProducer::produce(std::string_view value, const std::vector<UserProperty>& headers,
                                int32_t partition) {
  for (;;) {
    rd_kafka_headers_t* list = nullptr;
    if (!headers.empty()) {
      list = rd_kafka_headers_new(headers.size());
      for (const UserProperty& h : headers) {
        rd_kafka_header_add(list, h.name.data(), static_cast<ssize_t>(h.name.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
    }
    const rd_kafka_resp_err_t error = rd_kafka_producev(
        client_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(list),
        RD_KAFKA_V_END);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // the headers now belong to the record
    if (list != nullptr) rd_kafka_headers_destroy(list);
    if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(error));
    }
    rd_kafka_poll(client_.get(), 1);
  }
}

bool KafkaLoadProducer::flush(int timeout_ms) {
  return rd_kafka_flush(client_.get(), timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

KafkaLoadConsumer::KafkaLoadConsumer(const std::string& bootstrap_servers, const std::string& topic,
                                     int partitions, Handler handler, int fetch_wait_ms)
    : handler_(std::move(handler)) {
  client_ = newClient(RD_KAFKA_CONSUMER, bootstrap_servers, "bench-consumer",
                      {{"group.id", "bench-reader"},  // required by the API; nothing is committed
                       {"enable.auto.commit", "false"},
                       {"fetch.wait.max.ms", std::to_string(fetch_wait_ms)},
                       {"auto.offset.reset", "earliest"}});
  rd_kafka_poll_set_consumer(client_.get());
  kafka::PartitionListHandle list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = 0;  // see header
  }
  const rd_kafka_resp_err_t error = rd_kafka_assign(client_.get(), list.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("assign " + topic + ": " + rd_kafka_err2str(error));
  }
  thread_ = std::thread([this] { run(); });
}

KafkaLoadConsumer::~KafkaLoadConsumer() {
  stop_.store(true);
  thread_.join();
  rd_kafka_consumer_close(client_.get());
}

void KafkaLoadConsumer::run() {
  while (!stop_.load()) {
    kafka::MessageHandle message(rd_kafka_consumer_poll(client_.get(), 50));
    if (message && message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      handler_(std::string_view(static_cast<const char*>(message->payload), message->len));
    }
  }
}

void createTopicWithAdminApi(const std::string& bootstrap_servers, const std::string& topic,
                             int partitions) {
  kafka::ClientHandle client = newClient(RD_KAFKA_PRODUCER, bootstrap_servers, "bench-admin", {});
  char error[512];
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, error, sizeof error);
  if (new_topic == nullptr) throw std::runtime_error("topic " + topic + ": " + error);
  kafka::QueueHandle queue(rd_kafka_queue_new(client.get()));
  rd_kafka_CreateTopics(client.get(), &new_topic, 1, nullptr, queue.get());
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue.get(), 30000);
  std::string failure;
  if (event == nullptr) {
    failure = "no answer from the cluster within 30 s";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_event_error_string(event);
  } else if (const rd_kafka_CreateTopics_result_t* result =
                 rd_kafka_event_CreateTopics_result(event)) {
    size_t count = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &count);
    for (size_t i = 0; i < count; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        failure = rd_kafka_err2str(e);
      }
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_NewTopic_destroy(new_topic);
  if (!failure.empty()) throw std::runtime_error("creating topic " + topic + ": " + failure);
}

}  // namespace dataflow::bench
