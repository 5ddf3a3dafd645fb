#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/kubernetes_mount.h"
#include "tests/unit/config/test_util.h"

namespace dataflow::config {
namespace {

using testing::loadAndValidate;

TEST(Loader, YamlSyntaxErrorIsOneErrorWithItsLine) {
  auto r = loadAndValidate("a: 1\n---\nb: [1,\n c: d\n");
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_EQ(r.lines()[0], "t.yaml:5:1: YAML syntax error: end of sequence flow not found");
}

TEST(Loader, ReadsEveryDocumentAndSkipsEmptyOnes) {
  auto r = loadAndValidate(std::string("---\n") + testing::kMqttEndpoint + "---\n---\n" +
                           testing::kKafkaEndpoint + "---\n");
  EXPECT_TRUE(r.lines().empty()) << r.lines()[0];
  EXPECT_EQ(r.plan.manifests.endpoints.size(), 2u);
  EXPECT_EQ(r.plan.manifests.endpoints[1].origin.line, 14);
}

TEST(Loader, SkipsOtherApiGroupsWithAWarning) {
  auto r = loadAndValidate("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n");
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_EQ(r.lines()[0],
            "t.yaml:1:1: warning: skipped Secret of apiVersion \"v1\": not a "
            "connectivity.iotoperations.azure.com manifest");
  EXPECT_FALSE(r.diagnostics.hasErrors());
}

TEST(Loader, UnknownKindSuggestsTheNearOne) {
  auto r = loadAndValidate(
      "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataFlow\nmetadata: {name: x}\n");
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_EQ(r.lines()[0],
            "t.yaml:2:7: kind: unknown kind \"DataFlow\"; expected one of DataflowEndpoint, "
            "Dataflow, DataflowProfile (did you mean \"Dataflow\"?)");
}

TEST(Loader, DuplicateKeyInAMappingIsAnError) {
  auto r = loadAndValidate(std::string(testing::kMqttEndpoint) + "    host: other:1883\n");
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_EQ(r.lines()[0],
            "t.yaml:11:5: spec.mqttSettings.host: duplicate key \"host\" (first at line 8)");
}

TEST(Loader, ADocumentThatIsNotAMappingIsAnError) {
  auto r = loadAndValidate("- a\n- b\n");
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_EQ(r.lines()[0],
            "t.yaml:1:1: a manifest must be a mapping with apiVersion, kind, metadata and spec; "
            "got a list");
}

TEST(Loader, ReportsEveryProblemNotJustTheFirst) {
  auto r = loadAndValidate(R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata: {name: k}
spec:
  endpointType: Kafka
  kafkaSettings:
    host: nohost
    authentication: {method: Sasl}
    batching: {latencyMs: 70000, maxMessages: "10"}
    tls: {mode: Maybe}
)");
  EXPECT_EQ(r.diagnostics.errorCount(), 6u) << ::testing::PrintToString(r.lines());
}

TEST(Loader, FoldersAreReadRecursivelyInNameOrderAndMissingPathsReported) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("dataflow-loader-" + std::to_string(::getpid()));
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "b.yaml") << testing::kKafkaEndpoint;
  std::ofstream(dir / "sub" / "a.yml") << testing::kMqttEndpoint;
  std::ofstream(dir / "notes.txt") << "not yaml: [";
  Manifests m;
  Diagnostics d;
  loadPaths({dir.string(), (dir / "missing.yaml").string()}, m, d);
  ASSERT_EQ(m.endpoints.size(), 2u);
  EXPECT_EQ(m.endpoints[0].metadata.name, "kafka");
  EXPECT_EQ(m.endpoints[1].metadata.name, "local-mqtt");
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_EQ(d.items()[0].format(), (dir / "missing.yaml").string() + ": no such file or folder");
  fs::remove_all(dir);
}

// A ConfigMap mounted as a folder holds each key twice: the visible link and the file in the
// hidden timestamped folder behind `..data`. Hidden entries (and editors' `.name.swp`) are skipped.
TEST(Loader, HiddenEntriesOfAFolderAreSkippedSoAMountedConfigMapLoadsOnce) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("dataflow-hidden-" + std::to_string(::getpid()));
  dataflow::testing::writeKubernetesMount(dir, {{"endpoints.yaml", testing::kMqttEndpoint}});
  std::ofstream(dir / ".endpoints.yaml.swp") << "not yaml: [";
  Manifests m;
  Diagnostics d;
  loadPaths({dir.string()}, m, d);
  EXPECT_EQ(m.endpoints.size(), 1u);
  EXPECT_TRUE(d.items().empty()) << d.items().at(0).format();
  fs::remove_all(dir);
}

// yaml-cpp 0.7 loops forever on a stray top-level ',' (found by fuzz_manifest); the loader stops
// it before LoadAll and reports one error, while real empty documents still load.
TEST(Loader, InputsThatHangYamlCppAreReportedNotLoaded) {
  for (const std::string in : {",", ",ConnectionString", " ,x", ",\n", "a: 1\n---\n,\n"}) {
    auto r = loadAndValidate(in);
    ASSERT_EQ(r.lines().size(), 1u) << in;
    EXPECT_NE(r.lines()[0].find("YAML syntax error"), std::string::npos) << r.lines()[0];
  }
  auto empty_documents = loadAndValidate(std::string("---\n---\n---\n") + testing::kMqttEndpoint);
  EXPECT_TRUE(empty_documents.lines().empty());
  EXPECT_EQ(empty_documents.plan.manifests.endpoints.size(), 1u);
}

TEST(Loader, ArbitraryBytesNeverThrow) {
  const std::vector<std::string> inputs = {
      std::string("\0\0\0", 3),
      "[[[[[[[[[[[[[[[[[[[[[[[[[",
      "{a: *unknown}",
      "&a [*a]",
      "!!binary ~~~",
      "kind: [",
      "\xff\xfe\x00y",
      std::string(5000, '['),
      "? - a\n: b",
      "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\nspec: !!int x\n"};
  for (const std::string& in : inputs) {
    EXPECT_NO_THROW(loadAndValidate(in));
  }
}

}  // namespace
}  // namespace dataflow::config
