// Config-time problems: every one is collected (never stop at the first) and printed as
// `file:line:column: yaml.path: message`.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace dataflow::config {

struct Diagnostic {
  enum class Severity { Error, Warning };
  Severity severity = Severity::Error;
  std::string file;
  int line = 0;      // 1-based; 0 when the problem has no position (e.g. an unreadable file)
  int column = 0;    // 1-based
  std::string path;  // YAML path from the document root, e.g. spec.kafkaSettings.host
  std::string message;

  // `file:line:column: path: message`, with "warning: " before the message for warnings.
  std::string format() const;
};

class Diagnostics {
 public:
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  void error(std::string file, int line, int column, std::string path, std::string message);
  void warning(std::string file, int line, int column, std::string path, std::string message);

  bool hasErrors() const;
  size_t errorCount() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  // Orders by file, then line and column, keeping discovery order for ties.
  void sort();
  nlohmann::json toJson() const;

 private:
  std::vector<Diagnostic> items_;
};

// A short "did you mean" suggestion: the candidate nearest to `word` by edit distance
// (case-insensitive), or "" when none is close enough to be a plausible typo.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace dataflow::config
