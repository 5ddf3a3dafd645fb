#include "connectors/kafka/kafka_destination.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace dataflow::kafka {

KafkaDestination::KafkaDestination(Options options)
    : producer_(std::make_shared<KafkaProducer>(options)),
      limits_(producer_->defaultLimits()),
      logger_(options.logger ? std::move(options.logger) : spdlog::default_logger()) {}

KafkaDestination::KafkaDestination(std::shared_ptr<KafkaProducer> producer,
                                   runtime::FlightLimits limits,
                                   std::shared_ptr<spdlog::logger> logger)
    : producer_(std::move(producer)),
      limits_(limits),
      logger_(logger ? std::move(logger) : spdlog::default_logger()) {}

KafkaDestination::~KafkaDestination() { close(); }

Status KafkaDestination::start(DeliveryHandler& handler) {
  std::lock_guard lock(mutex_);
  if (lane_ || closed_) return Status::fatal("the Kafka destination was started twice");
  Result<std::shared_ptr<KafkaProducer::Lane>> lane = producer_->attach(handler, limits_, logger_);
  if (!lane.isOk()) return lane.status();
  lane_ = std::move(lane).value();
  live_.store(lane_.get());
  return Status::ok();
}

bool KafkaDestination::awaitCapacity(size_t bytes) {
  KafkaProducer::Lane* lane = live_.load();
  return lane != nullptr && producer_->awaitCapacity(*lane, bytes);
}

Status KafkaDestination::send(Message&& message) {
  KafkaProducer::Lane* lane = live_.load();
  if (lane == nullptr) {
    std::lock_guard lock(mutex_);
    if (closed_) return Status::retriable("the Kafka destination is closing");
    return Status::fatal("send() on a Kafka destination that was not started");
  }
  return producer_->send(*lane, std::move(message));
}

size_t KafkaDestination::flush(std::chrono::milliseconds timeout) {
  KafkaProducer::Lane* lane = live_.load();
  return lane == nullptr ? 0 : producer_->flush(*lane, timeout);
}

ConnectionHealth KafkaDestination::health() const {
  std::lock_guard lock(mutex_);
  return lane_ ? producer_->health(*lane_) : producer_->health();
}

uint64_t KafkaDestination::resentCount() const {
  std::lock_guard lock(mutex_);
  return lane_ ? KafkaProducer::resentCount(*lane_) : 0;
}

uint64_t KafkaDestination::possibleDuplicateCount() const {
  std::lock_guard lock(mutex_);
  return lane_ ? KafkaProducer::possibleDuplicateCount(*lane_) : 0;
}

void KafkaDestination::close() {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  closed_ = true;
  live_.store(nullptr);
  if (lane_) producer_->detach(*lane_);  // lane_ stays: a sender may still be on its way out
}

}  // namespace dataflow::kafka
