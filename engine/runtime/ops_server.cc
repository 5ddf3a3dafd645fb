#include "engine/runtime/ops_server.h"

#include <httplib.h>

#include <cerrno>
#include <cstring>

#include "engine/runtime/metrics_text.h"

namespace dataflow::runtime {

namespace {
constexpr int kServingThreads = 2;
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
}  // namespace

Result<std::unique_ptr<OpsServer>> OpsServer::start(std::shared_ptr<const Telemetry> telemetry,
                                                    Options options) {
  std::unique_ptr<OpsServer> ops(new OpsServer());
  ops->telemetry_ = std::move(telemetry);
  ops->options_ = std::move(options);
  ops->server_ = std::make_unique<httplib::Server>();
  httplib::Server& server = *ops->server_;
  server.new_task_queue = [] { return new httplib::ThreadPool(kServingThreads); };
  const Telemetry* t = ops->telemetry_.get();
  const Options* o = &ops->options_;
  server.Get("/metrics", [t, o](const httplib::Request&, httplib::Response& response) {
    response.set_content(renderMetrics(readEngine(*t, o->version)), kMetricsType);
  });
  auto live = [t, o](const httplib::Request&, httplib::Response& response) {
    const auto silent = t->sinceHeartbeat();
    if (silent <= livenessTimeout(*o, t->dataflowCount())) {
      response.set_content("ok\n", "text/plain");
      return;
    }
    response.status = 500;
    response.set_content("the engine's supervising thread has not checked in for " +
                             std::to_string(silent.count() / 1000) + " s\n",
                         "text/plain");
  };
  server.Get("/livez", live);
  server.Get("/healthz", live);
  server.Get("/readyz", [t, o](const httplib::Request&, httplib::Response& response) {
    const Readiness r = readiness(readEngine(*t, o->version));
    response.status = r.ready ? 200 : 503;
    response.set_content(r.body + "\n", "application/json");
  });
  const std::string& address = ops->options_.address;
  if (ops->options_.port == 0) {
    ops->port_ = server.bind_to_any_port(address);
  } else if (server.bind_to_port(address, ops->options_.port)) {
    ops->port_ = ops->options_.port;
  }
  if (ops->port_ <= 0) {
    return Status::fatal("cannot listen on " + address + ":" +
                         std::to_string(ops->options_.port) + ": " + std::strerror(errno));
  }
  // The socket listens from here on: a connection made before the thread accepts waits in the
  // backlog.
  ops->thread_ = std::thread([&server] { server.listen_after_bind(); });
  return ops;
}

OpsServer::~OpsServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace dataflow::runtime
