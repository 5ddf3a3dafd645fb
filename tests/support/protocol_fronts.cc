#include "tests/support/protocol_fronts.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/wait.h"

namespace dataflow::testing {

namespace {

// Debian's interpreter, which has python3-websockets (a python3 earlier in PATH may not).
constexpr const char* kPython = "/usr/bin/python3";

// The script's path in the source tree (tests/support/NAME), set by the build.
std::string script(const std::string& name) {
  return std::string(DATAFLOW_TEST_SUPPORT_DIR) + "/" + name;
}

std::unique_ptr<ChildProcess> startFront(std::vector<std::string> argv, const TempDir& dir,
                                         int port) {
  auto process = std::make_unique<ChildProcess>(std::move(argv), dir.file("front.log"));
  const bool up = waitFor([&] { return acceptsTcp(port) || !process->running(); },
                          std::chrono::milliseconds(10'000));
  if (!up || !process->running()) {
    throw std::runtime_error("test front did not start on port " + std::to_string(port) + ": " +
                             process->log());
  }
  return process;
}

// The value of string member `name` in one flat JSON line written by mqtt_auth_front.py
// (json.dumps: no escaped quotes in the labels and client ids the tests use).
std::string member(const std::string& line, const std::string& name) {
  const std::string key = "\"" + name + "\": \"";
  const size_t at = line.find(key);
  if (at == std::string::npos) return "";
  const size_t end = line.find('"', at + key.size());
  return line.substr(at + key.size(), end - at - key.size());
}

}  // namespace

WebSocketProxy::WebSocketProxy(int upstream_port, const std::string& certificate,
                               const std::string& key)
    : dir_("ws-proxy"), port_(freeTcpPort()) {
  std::vector<std::string> argv{kPython,           script("ws_proxy.py"),
                                "--port",          std::to_string(port_),
                                "--upstream-port", std::to_string(upstream_port)};
  if (!certificate.empty()) {
    argv.insert(argv.end(), {"--certfile", certificate, "--keyfile", key});
  }
  process_ = startFront(std::move(argv), dir_, port_);
}

MqttAuthFront::MqttAuthFront(int upstream_port, const std::string& method)
    : dir_("auth-front"), port_(freeTcpPort()) {
  setTokens({});
  process_ = startFront({kPython, script("mqtt_auth_front.py"), "--port", std::to_string(port_),
                         "--upstream-port", std::to_string(upstream_port), "--method", method,
                         "--tokens", dir_.file("tokens"), "--record", dir_.file("record.jsonl")},
                        dir_, port_);
}

void MqttAuthFront::setTokens(const std::vector<Token>& tokens) {
  const std::string temporary = dir_.file("tokens.new");
  {
    std::ofstream out(temporary);
    for (const Token& t : tokens) {
      out << t.label << " " << t.token;
      if (t.expires > 0) out << " " << std::fixed << t.expires;
      out << "\n";
    }
  }
  std::rename(temporary.c_str(), dir_.file("tokens").c_str());
}

std::vector<AuthEvent> MqttAuthFront::events() const {
  std::vector<AuthEvent> out;
  std::ifstream in(dir_.file("record.jsonl"));
  for (std::string line; std::getline(in, line);) {
    out.push_back({member(line, "event"), member(line, "client_id"), member(line, "label")});
  }
  return out;
}

size_t MqttAuthFront::count(const std::string& event, const std::string& label) const {
  size_t n = 0;
  for (const AuthEvent& e : events()) {
    n += e.event == event && (label.empty() || e.label == label) ? 1 : 0;
  }
  return n;
}

}  // namespace dataflow::testing
