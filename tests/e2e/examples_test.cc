// Every folder of examples/ starts under `dataflow run`: no authentication method, TLS setting or
// Kafka feature of the product documentation is refused as unsupported. Each example is copied
// with every `host:` pointed at a closed loopback port (the examples name real clusters; tests
// stay on loopback), its secrets and ConfigMaps mounted (the placeholder CA bundles and client
// certificates replaced by real ones), a service account token for every audience, and the managed-identity environment a
// workload-identity pod has, with every token endpoint on loopback. "Starts" means every
// dataflow runs (connecting, with retries) until SIGTERM, which exits 0.
#include <gmock/gmock.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "tests/support/process.h"
#include "tests/support/test_pki.h"
#include "tests/support/wait.h"
#include "tests/support/files.h"

namespace dataflow::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

std::vector<std::string> exampleFolders() {
  std::vector<std::string> names;
  for (const fs::directory_entry& e :
       fs::directory_iterator(fs::path(DATAFLOW_SOURCE_DIR) / "examples")) {
    if (e.is_directory()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Copies the example's manifests with every host on 127.0.0.1:1; collects the audiences of its
// service account tokens and the name of its DataflowProfile, if it has one.
void copyManifests(const fs::path& from, const fs::path& to, std::set<std::string>& audiences,
                   std::string& profile) {
  static const std::regex host(R"((^\s*host:\s*).*$)", std::regex::multiline);
  static const std::regex audience(R"(serviceAccountTokenSettings:\s*\n\s*audience:\s*(\S+))");
  static const std::regex profile_name(R"(kind:\s*DataflowProfile\s*\n(?:.*\n)*?\s*name:\s*(\S+))");
  fs::create_directories(to);
  for (const fs::directory_entry& e : fs::directory_iterator(from)) {
    if (e.path().extension() != ".yaml") continue;
    const std::string text = readWholeFile(e.path());
    for (std::sregex_iterator it(text.begin(), text.end(), audience), end; it != end; ++it) {
      audiences.insert((*it)[1].str());
    }
    std::smatch match;
    if (std::regex_search(text, match, profile_name)) profile = match[1].str();
    std::ofstream(to / e.path().filename()) << std::regex_replace(text, host, "$01127.0.0.1:1");
  }
}

class Examples : public ::testing::TestWithParam<std::string> {};

TEST_P(Examples, StartsUnderDataflowRunAndStopsCleanly) {
  const fs::path source = fs::path(DATAFLOW_SOURCE_DIR) / "examples" / GetParam();
  TempDir dir("example");
  const fs::path root = dir.path();
  std::set<std::string> audiences;
  std::string profile;
  copyManifests(source, root / "manifests", audiences, profile);
  fs::create_directories(root / "tokens");
  for (const std::string& a : audiences) std::ofstream(root / "tokens" / a) << "header.payload.sig";
  std::ofstream(root / "federated-token") << "header.payload.sig";

  std::vector<std::string> args = {DATAFLOW_EXE,
                                   "run",
                                   "-f",
                                   (root / "manifests").string(),
                                   "--sat-token-dir",
                                   (root / "tokens").string(),
                                   "--drain-timeout",
                                   "1"};
  fs::create_directories(root / "pki");
  TestPki pki((root / "pki").string(), "examples");
  // The examples' client certificates are placeholders (the user supplies theirs): the copy
  // holds a real certificate, intermediate and key, so a client can load them.
  if (fs::exists(source / "secrets")) {
    fs::copy(source / "secrets", root / "secrets", fs::copy_options::recursive);
    TestPki::Leaf leaf;
    leaf.common_name = "example-client";
    leaf.usage = TestPki::Usage::Client;
    leaf.via_intermediate = true;
    const TestCertificate client = pki.issue("client", leaf);
    const std::map<std::string, std::string> real = {
        {"client_cert.pem", client.cert},
        {"client_key.pem", client.key},
        {"client_intermediate_certs.pem", pki.intermediateCert()}};
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(root / "secrets")) {
      auto file = real.find(e.path().filename().string());
      if (e.is_regular_file() && file != real.end()) {
        std::ofstream(e.path()) << readWholeFile(file->second);
      }
    }
    args.push_back("--secrets-dir");
    args.push_back((root / "secrets").string());
  }
  // The examples' CA ConfigMaps are placeholders (AIO or the user supplies the real bundle):
  // every file of the copy holds a real CA, so a Kafka client can load it.
  if (fs::exists(source / "configmaps")) {
    fs::copy(source / "configmaps", root / "configmaps", fs::copy_options::recursive);
    const std::string ca = readWholeFile(pki.caCert());
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(root / "configmaps")) {
      if (e.is_regular_file()) std::ofstream(e.path()) << ca;
    }
    args.push_back("--configmaps-dir");
    args.push_back((root / "configmaps").string());
  }
  if (!profile.empty()) {
    args.push_back("--profile");
    args.push_back(profile);
  }
  ChildProcess run(args, dir.file("run.log"),
                   {"AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:1",
                    "AZURE_AUTHORITY_HOST=http://127.0.0.1:1/",
                    "AZURE_FEDERATED_TOKEN_FILE=" + (root / "federated-token").string(),
                    "AZURE_TENANT_ID=00000000-0000-0000-0000-000000000001",
                    "AZURE_CLIENT_ID=00000000-0000-0000-0000-000000000002",
                    "IDENTITY_ENDPOINT=", "IMDS_ENDPOINT="});
  const std::regex running(R"(running (\d+) of (\d+) dataflow)");
  std::smatch counts;
  ASSERT_TRUE(waitFor(
      [&] {
        const std::string log = run.log();
        return std::regex_search(log, counts, running) || !run.running();
      },
      30s))
      << run.log();
  const std::string started = run.log();
  ASSERT_TRUE(std::regex_search(started, counts, running)) << started;
  EXPECT_EQ(counts[1].str(), counts[2].str()) << started;
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(30s), std::optional<int>(0)) << run.log();
  EXPECT_THAT(run.log(), Not(HasSubstr("not supported")));
}

INSTANTIATE_TEST_SUITE_P(EveryFolder, Examples, ::testing::ValuesIn(exampleFolders()),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace dataflow::testing
