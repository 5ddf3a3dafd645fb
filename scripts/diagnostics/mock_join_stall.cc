// Diagnostic for scripts/diagnostics/mock_join_stall.sh (not part of the build).
// Experiment: time from subscribe to first assignment against librdkafka's mock cluster.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
static void logcb(const rd_kafka_t*, int, const char* fac, const char* buf) {
  if (getenv("MOCKLOG")) fprintf(stderr, "%s %s\n", fac, buf);
}
int main(int argc, char** argv) {
  const char* session = argc > 1 ? argv[1] : "3000";
  int iterations = argc > 2 ? atoi(argv[2]) : 10;
  char err[512];
  rd_kafka_conf_t* mc = rd_kafka_conf_new();
  rd_kafka_conf_set(mc, "debug", getenv("MOCKLOG") ? "mock" : "", err, sizeof err);
  rd_kafka_conf_set_log_cb(mc, logcb);
  rd_kafka_t* mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mc, err, sizeof err);
  rd_kafka_mock_cluster_t* mcl = rd_kafka_mock_cluster_new(mrk, 1);
  std::string bs = rd_kafka_mock_cluster_bootstraps(mcl);
  rd_kafka_mock_topic_create(mcl, "t", 2, 1);
  for (int i = 0; i < iterations; i++) {
    rd_kafka_conf_t* c = rd_kafka_conf_new();
    std::string group = "g" + std::to_string(i);
    rd_kafka_conf_set(c, "bootstrap.servers", bs.c_str(), err, sizeof err);
    rd_kafka_conf_set(c, "group.id", group.c_str(), err, sizeof err);
    rd_kafka_conf_set(c, "session.timeout.ms", session, err, sizeof err);
    rd_kafka_conf_set(c, "heartbeat.interval.ms", "300", err, sizeof err);
    rd_kafka_conf_set(c, "max.poll.interval.ms", argc > 3 ? argv[3] : "300000", err, sizeof err);
    rd_kafka_conf_set_log_cb(c, logcb);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "t", RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    auto t0 = std::chrono::steady_clock::now();
    double secs = 0;
    for (;;) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (m) rd_kafka_message_destroy(m);
      rd_kafka_topic_partition_list_t* a = nullptr;
      rd_kafka_assignment(rk, &a);
      int n = a ? a->cnt : 0;
      if (a) rd_kafka_topic_partition_list_destroy(a);
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (n > 0 || secs > 40) break;
    }
    printf("iteration %d session %s: %s after %.1f s\n", i, session, secs > 40 ? "NOT ASSIGNED" : "assigned", secs);
    fflush(stdout);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
  rd_kafka_mock_cluster_destroy(mcl);
  rd_kafka_destroy(mrk);
}
