#include "tests/e2e/load_publisher.h"

#include <mqtt/async_client.h>

#include <iostream>
#include <memory>

namespace dataflow::testing {

LoadPublisher::LoadPublisher(std::string address, std::string topic, std::string prefix,
                             size_t count, std::chrono::microseconds interval)
    : address_(std::move(address)),
      topic_(std::move(topic)),
      prefix_(std::move(prefix)),
      count_(count),
      interval_(interval),
      thread_([this] { run(); }) {}

LoadPublisher::~LoadPublisher() {
  stop_ = true;
  join();
}

void LoadPublisher::join() {
  if (thread_.joinable()) thread_.join();
}

void LoadPublisher::run() {
  std::unique_ptr<mqtt::async_client> client;
  auto connect = [&] {
    client = std::make_unique<mqtt::async_client>("tcp://" + address_, "", mqtt::create_options(5));
    auto options = mqtt::connect_options_builder()
                       .mqtt_version(5)
                       .clean_start(true)
                       .connect_timeout(std::chrono::seconds(2))
                       .finalize();
    client->connect(options)->wait();
  };
  auto next_at = std::chrono::steady_clock::now();
  for (size_t i = 0; i < count_ && !stop_; ++i) {
    const std::string payload = prefix_ + "-" + std::to_string(i);
    while (!stop_) {
      try {
        if (!client || !client->is_connected()) connect();
        client->publish(topic_, payload, 1, false)->wait_for(std::chrono::seconds(5))
            ? void()
            : throw mqtt::exception(-1, "no PUBACK within 5 s");
        break;
      } catch (const mqtt::exception&) {
        // Broker down or restarting: retry the same message on a fresh connection.
        ++retries_;
        client.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // pacing a reconnect loop
      }
    }
    ++acknowledged_;
    next_at += interval_;
    if (interval_.count() > 0) std::this_thread::sleep_until(next_at);  // pacing the load
  }
  try {
    if (client && client->is_connected()) client->disconnect()->wait();
  } catch (const mqtt::exception& e) {
    std::cerr << "load publisher disconnect: " << e.what() << "\n";
  }
  finished_ = true;
}

}  // namespace dataflow::testing
