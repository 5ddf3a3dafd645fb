#include "engine/config/diagnostics.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace dataflow::config {

std::string Diagnostic::format() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  if (severity == Severity::Warning) out += "warning: ";
  out += message;
  return out;
}

void Diagnostics::error(std::string file, int line, int column, std::string path,
                        std::string message) {
  add({Diagnostic::Severity::Error, std::move(file), line, column, std::move(path),
       std::move(message)});
}

void Diagnostics::warning(std::string file, int line, int column, std::string path,
                          std::string message) {
  add({Diagnostic::Severity::Warning, std::move(file), line, column, std::move(path),
       std::move(message)});
}

bool Diagnostics::hasErrors() const { return errorCount() > 0; }

size_t Diagnostics::errorCount() const {
  return std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::Error;
  });
}

void Diagnostics::sort() {
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
}

nlohmann::json Diagnostics::toJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const Diagnostic& d : items_) {
    out.push_back({{"severity", d.severity == Diagnostic::Severity::Error ? "error" : "warning"},
                   {"file", d.file},
                   {"line", d.line},
                   {"column", d.column},
                   {"path", d.path},
                   {"message", d.message}});
  }
  return out;
}

namespace {
size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}
}  // namespace

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  if (word.size() > 256) return "";
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 4) + 1;
  for (const std::string& c : candidates) {
    size_t d = editDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace dataflow::config
