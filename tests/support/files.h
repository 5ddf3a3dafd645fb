// Small file and text helpers shared by tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dataflow::testing {

// The whole file as bytes; empty when it cannot be read.
inline std::string readWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Every line of `text` that contains one of `needles` (empty needles are skipped): the leak scan
// of the security tests, run over everything a process printed with every secret value it used.
inline std::vector<std::string> linesWithAnyOf(const std::string& text,
                                               const std::vector<std::string>& needles) {
  std::vector<std::string> hits;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    for (const std::string& needle : needles) {
      if (!needle.empty() && line.find(needle) != std::string::npos) hits.push_back(line);
    }
  }
  return hits;
}

}  // namespace dataflow::testing
