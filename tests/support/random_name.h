// Names unique to one test run (topics, folders), so tests never see each other's data.
#pragma once

#include <random>
#include <string>

namespace dataflow::testing {

// `prefix` followed by 12 random hex digits.
inline std::string randomName(const std::string& prefix) {
  static constexpr char kHex[] = "0123456789abcdef";
  thread_local std::mt19937_64 random(std::random_device{}());
  std::string name = prefix;
  for (int i = 0; i < 12; ++i) name += kHex[random() % 16];
  return name;
}

}  // namespace dataflow::testing
