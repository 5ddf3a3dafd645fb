#include "tests/support/mqtt_client.h"

#include <stdexcept>

namespace dataflow::testing {

namespace {

constexpr std::chrono::seconds kTimeout{10};

void await(const ::mqtt::token_ptr& token, const std::string& what) {
  if (!token->wait_for(kTimeout)) throw std::runtime_error(what + ": no answer within 10 s");
}

}  // namespace

MqttTestClient::MqttTestClient(std::string address, std::string client_id, bool clean_start,
                               uint32_t session_expiry)
    : client_(std::make_unique<::mqtt::async_client>("tcp://" + address, client_id,
                                                     ::mqtt::create_options(MQTTVERSION_5))) {
  client_->set_message_callback([this](::mqtt::const_message_ptr message) {
    {
      std::lock_guard lock(mutex_);
      messages_.push_back(std::move(message));
    }
    arrived_.notify_all();
  });
  ::mqtt::connect_options options;
  options.set_clean_session(false);
  options.set_mqtt_version(MQTTVERSION_5);
  options.set_clean_start(clean_start);
  options.set_properties(::mqtt::properties{
      {::mqtt::property::SESSION_EXPIRY_INTERVAL, static_cast<int32_t>(session_expiry)}});
  await(client_->connect(options), "connect to " + address);
}

MqttTestClient::~MqttTestClient() {
  try {
    client_->disconnect()->wait_for(kTimeout);
  } catch (const ::mqtt::exception&) {
    // Already disconnected (the broker went away during the test): nothing to release.
  }
}

void MqttTestClient::publish(const std::string& topic, const std::string& payload, int qos,
                             const ::mqtt::properties& props, bool retain) {
  ::mqtt::message_ptr message = ::mqtt::make_message(topic, payload, qos, retain);
  message->set_properties(props);
  await(client_->publish(message), "publish to " + topic);
}

void MqttTestClient::subscribe(const std::string& filter, int qos) {
  ::mqtt::token_ptr token = client_->subscribe(filter, qos);
  await(token, "subscribe to " + filter);
  const ::mqtt::subscribe_response response = token->get_subscribe_response();
  for (::mqtt::ReasonCode code : response.get_reason_codes()) {
    if (code >= ::mqtt::ReasonCode::UNSPECIFIED_ERROR) {
      throw std::runtime_error("subscribe to " + filter +
                               " refused: " + ::mqtt::exception::reason_code_str(code));
    }
  }
}

std::vector<::mqtt::const_message_ptr> MqttTestClient::receive(size_t count,
                                                               std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  arrived_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
  const size_t n = std::min(count, messages_.size());
  std::vector<::mqtt::const_message_ptr> out(messages_.begin(), messages_.begin() + n);
  messages_.erase(messages_.begin(), messages_.begin() + n);
  return out;
}

}  // namespace dataflow::testing
