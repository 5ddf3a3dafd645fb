// Listeners for FakeTokenServer::onIssued that make a broker double accept every token the server
// issues, before the engine can present it: a test that sees no refused login then knows each
// login used a token from the token server.
#pragma once

#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/protocol_fronts.h"

namespace dataflow::testing {

// For the Kafka front's oauthbearer_tokens_file: every token issued so far, a line each, replaced
// atomically (the front re-reads the file at every login).
inline std::function<void(const std::string&)> acceptInFile(const std::string& path) {
  auto issued = std::make_shared<std::vector<std::string>>();
  return [issued, path](const std::string& token) {
    issued->push_back(token);
    {
      std::ofstream out(path + ".new", std::ios::trunc);
      for (const std::string& t : *issued) out << t << "\n";
    }
    std::rename((path + ".new").c_str(), path.c_str());
  };
}

// For an MQTT auth front: every token issued so far, labelled mi1, mi2, ... in issue order.
inline std::function<void(const std::string&)> acceptInFront(MqttAuthFront& front) {
  auto issued = std::make_shared<std::vector<MqttAuthFront::Token>>();
  return [issued, &front](const std::string& token) {
    issued->push_back({"mi" + std::to_string(issued->size() + 1), token});
    front.setTokens(*issued);
  };
}

}  // namespace dataflow::testing
