#include "tests/e2e/mqtt_watcher.h"

#include <csignal>
#include <sstream>
#include <stdexcept>

#include "tests/support/wait.h"

namespace dataflow::testing {

namespace {

// Marks message lines among mosquitto_sub's -d debug lines.
constexpr std::string_view kMarker = "MSG\t";
// retain, qos, topic, expiry, content type, response topic, correlation data, payload format
// indicator, user properties, payload.
constexpr const char* kFormat = "MSG\t%r\t%q\t%t\t%E\t%C\t%R\t%D\t%F\t%P\t%p";
constexpr size_t kFieldsBeforePayload = 9;

ObservedMessage parse(std::string_view line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (fields.size() < kFieldsBeforePayload) {
    const size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) break;
    fields.emplace_back(line.substr(start, tab - start));
    start = tab + 1;
  }
  ObservedMessage m;
  if (fields.size() < kFieldsBeforePayload) {
    m.payload = std::string(line);
    return m;
  }
  m.retain = fields[0] == "1";
  m.qos = std::atoi(fields[1].c_str());
  m.topic = fields[2];
  if (!fields[3].empty()) m.expiry = static_cast<uint32_t>(std::stoul(fields[3]));
  m.content_type = fields[4];
  m.response_topic = fields[5];
  m.correlation_data = fields[6];
  m.payload_format = fields[7];
  std::istringstream props(fields[8]);
  for (std::string pair; props >> pair;) {
    const size_t colon = pair.find(':');
    m.user_properties.emplace_back(pair.substr(0, colon),
                                   colon == std::string::npos ? "" : pair.substr(colon + 1));
  }
  m.payload = std::string(line.substr(start));
  return m;
}

}  // namespace

std::optional<std::string> ObservedMessage::property(const std::string& name) const {
  for (const auto& [n, v] : user_properties) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::vector<std::string> ObservedMessage::propertyList() const {
  std::vector<std::string> out;
  for (const auto& [n, v] : user_properties) out.push_back(n + "=" + v);
  return out;
}

MqttWatcher::MqttWatcher(int port, std::string filter, std::string log_path,
                         std::string client_id) {
  // stdbuf: the -d lines are not flushed by mosquitto_sub itself (the message lines are).
  std::vector<std::string> argv{
      "stdbuf",    "-oL",  "/usr/bin/mosquitto_sub", "-V", "5", "-d", "-h",
      "127.0.0.1", "-p",   std::to_string(port),     "-q", "1", "-t", filter,
      "-F",        kFormat};
  if (!client_id.empty()) {
    // Persistent session that never expires (-x -1 with -c).
    argv.insert(argv.end(), {"-c", "-i", client_id, "-x", "-1"});
  }
  process_ = std::make_unique<ChildProcess>(argv, std::move(log_path));
  if (!dataflow::testing::waitFor(
          [&] { return process_->log().find("received SUBACK") != std::string::npos; },
          std::chrono::seconds(20))) {
    throw std::runtime_error("mosquitto_sub did not subscribe: " + process_->log());
  }
}

MqttWatcher::~MqttWatcher() {
  process_->signal(SIGTERM);
  process_->wait(std::chrono::seconds(5));
}

std::vector<ObservedMessage> MqttWatcher::messages() const {
  std::vector<ObservedMessage> out;
  const std::string log = process_->log();
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) break;  // a line still being written
    std::string_view line(log.data() + start, end - start);
    if (line.starts_with(kMarker)) out.push_back(parse(line.substr(kMarker.size())));
    start = end + 1;
  }
  return out;
}

std::vector<ObservedMessage> MqttWatcher::waitFor(size_t count,
                                                  std::chrono::milliseconds timeout) const {
  std::vector<ObservedMessage> out;
  dataflow::testing::waitFor(
      [&] {
        out = messages();
        return out.size() >= count;
      },
      timeout, std::chrono::milliseconds(100));
  return out;
}

}  // namespace dataflow::testing
