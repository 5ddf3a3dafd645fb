// Data-driven tests over the repository's manifests: the invalid corpus with its exact expected
// diagnostics, every example, the generated CRDs, and mutations of all of them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/config/json_yaml.h"
#include "engine/config/manifest_schema.h"
#include "tests/unit/config/test_util.h"
#include "tests/support/files.h"

namespace dataflow::config {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = DATAFLOW_SOURCE_DIR;

std::vector<std::string> readLines(const fs::path& p) {
  std::vector<std::string> lines;
  std::istringstream in(dataflow::testing::readWholeFile(p));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<fs::path> yamlFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void checkCorpus(const fs::path& dir, const ValidateOptions& options, size_t at_least) {
  std::vector<fs::path> files = yamlFiles(dir);
  EXPECT_GE(files.size(), at_least) << dir;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    fs::path expected_file = fs::path(file).replace_extension(".expected");
    ASSERT_TRUE(fs::exists(expected_file)) << "missing " << expected_file;
    std::string text = dataflow::testing::readWholeFile(file);
    EXPECT_TRUE(text.rfind("# schema: reject", 0) == 0 || text.rfind("# schema: accept", 0) == 0)
        << "first line must say whether the CRD schema rejects it";
    auto result = testing::loadAndValidate(text, file.filename().string(), options);
    EXPECT_TRUE(result.diagnostics.hasErrors());
    EXPECT_EQ(result.lines(), readLines(expected_file));
  }
}

TEST(Corpus, EveryInvalidManifestGivesExactlyTheExpectedErrors) {
  checkCorpus(kSource / "tests/data/invalid", {}, 40);
}

// Run from inside the folder with relative --secrets-dir/--configmaps-dir, as its README shows,
// so the expected messages don't depend on where the repository is checked out.
TEST(Corpus, MissingSecretsAreReported) {
  fs::path dir = kSource / "tests/data/invalid-secrets";
  fs::path previous = fs::current_path();
  fs::current_path(dir);
  ValidateOptions options;
  options.secrets_dir = "secrets";
  options.configmaps_dir = "configmaps";
  checkCorpus(dir, options, 4);
  fs::current_path(previous);
}

TEST(Corpus, EveryExampleValidates) {
  size_t folders = 0;
  for (const auto& entry : fs::directory_iterator(kSource / "examples")) {
    if (!entry.is_directory()) continue;
    SCOPED_TRACE(entry.path().filename().string());
    ++folders;
    Manifests manifests;
    Diagnostics diagnostics;
    std::vector<std::string> paths;
    for (const fs::path& f : yamlFiles(entry.path())) paths.push_back(f.string());
    ASSERT_FALSE(paths.empty());
    loadPaths(paths, manifests, diagnostics);
    ValidateOptions options;
    if (fs::is_directory(entry.path() / "secrets")) {
      options.secrets_dir = (entry.path() / "secrets").string();
    }
    if (fs::is_directory(entry.path() / "configmaps")) {
      options.configmaps_dir = (entry.path() / "configmaps").string();
    }
    Plan plan = validate(std::move(manifests), options, diagnostics);
    for (const auto& d : diagnostics.items()) ADD_FAILURE() << d.format();
    EXPECT_FALSE(plan.dataflows.empty());
  }
  EXPECT_GE(folders, 15u);
}

TEST(Corpus, CheckedInCrdsMatchTheDeclarations) {
  for (const auto& [kind, plural] :
       std::vector<std::pair<std::string, std::string>>{{"DataflowEndpoint", "dataflowendpoints"},
                                                        {"Dataflow", "dataflows"},
                                                        {"DataflowProfile", "dataflowprofiles"}}) {
    fs::path file = kSource / "crds" / (plural + "." + kGroup + ".yaml");
    ASSERT_TRUE(fs::exists(file)) << file;
    std::string checked_in = dataflow::testing::readWholeFile(file);
    std::string body = checked_in.substr(checked_in.find("apiVersion:"));
    EXPECT_EQ(body, toYaml(customResourceDefinition(kind)))
        << file << " is stale: run `dataflow crds --output-dir crds`";
  }
}

// Mutations of every manifest in the repository: byte flips, deleted, duplicated and re-indented
// lines, truncation, inserted bytes. The loader must never throw or crash, and every diagnostic
// must name the file.
TEST(Corpus, MutatedManifestsNeverCrashTheLoader) {
  std::vector<std::string> seeds;
  for (const auto& entry : fs::recursive_directory_iterator(kSource / "examples")) {
    if (entry.path().extension() == ".yaml") seeds.push_back(dataflow::testing::readWholeFile(entry.path()));
  }
  for (const fs::path& f : yamlFiles(kSource / "tests/data/invalid")) seeds.push_back(dataflow::testing::readWholeFile(f));
  ASSERT_FALSE(seeds.empty());
  std::mt19937 rng(20261121);
  size_t mutations = 0;
  for (int round = 0; round < 6; ++round) {
    for (const std::string& seed : seeds) {
      std::string text = seed;
      for (int edits = 1 + rng() % 4; edits > 0 && !text.empty(); --edits) {
        size_t at = rng() % text.size();
        switch (rng() % 6) {
          case 0:
            text[at] = static_cast<char>(rng() % 256);
            break;
          case 1: {
            size_t end = text.find('\n', at);
            text.erase(at, end == std::string::npos ? std::string::npos : end - at);
            break;
          }
          case 2: {
            size_t start = text.rfind('\n', at);
            start = start == std::string::npos ? 0 : start + 1;
            size_t end = text.find('\n', at);
            text.insert(start,
                        text.substr(start, end == std::string::npos ? end : end - start + 1));
            break;
          }
          case 3:
            text.resize(at);
            break;
          case 4:
            text.insert(at, std::string(1 + rng() % 4, " -:[{&*!|>'\"#\t"[rng() % 15]));
            break;
          default:
            text.insert(at, "\n  ");
            break;
        }
      }
      ++mutations;
      testing::Loaded result;
      ASSERT_NO_THROW(result = testing::loadAndValidate(text, "m.yaml")) << text;
      for (const auto& d : result.diagnostics.items()) EXPECT_EQ(d.file, "m.yaml");
    }
  }
  EXPECT_GT(mutations, 100u);
}

}  // namespace
}  // namespace dataflow::config
