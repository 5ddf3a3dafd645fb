// Writes a folder the way the kubelet updates a mounted Secret, ConfigMap or projected token
// (Kubernetes' AtomicWriter): the keys go into a new hidden timestamped folder, a `..data_tmp`
// symlink to it is renamed over `..data`, every visible `<key>` is a symlink to `..data/<key>`,
// the links of keys no longer present are removed, and the previous timestamped folder last. Tests
// use it to rotate secrets exactly as a cluster does.
#pragma once

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace dataflow::testing {

inline void writeKubernetesMount(const std::filesystem::path& folder,
                                 const std::map<std::string, std::string>& keys) {
  namespace fs = std::filesystem;
  static std::atomic<int> generation{0};
  fs::create_directories(folder);
  std::error_code ignored;
  const fs::path previous = fs::read_symlink(folder / "..data", ignored);
  const std::string name = "..2026_01_01_00_00_00." + std::to_string(++generation);
  fs::create_directory(folder / name);
  for (const auto& [key, value] : keys) std::ofstream(folder / name / key) << value;
  fs::remove(folder / "..data_tmp", ignored);
  fs::create_directory_symlink(name, folder / "..data_tmp");
  fs::rename(folder / "..data_tmp", folder / "..data");  // the atomic step
  for (const auto& [key, value] : keys) {
    if (!fs::is_symlink(fs::symlink_status(folder / key))) {
      fs::create_symlink(fs::path("..data") / key, folder / key);
    }
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    const std::string key = entry.path().filename().string();
    if (!key.starts_with("..") && keys.count(key) == 0) fs::remove(entry.path(), ignored);
  }
  if (!previous.empty() && previous != name) fs::remove_all(folder / previous, ignored);
}

}  // namespace dataflow::testing
