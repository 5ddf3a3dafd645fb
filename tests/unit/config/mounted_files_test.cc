#include "engine/config/mounted_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace dataflow::config {
namespace {

namespace fs = std::filesystem;

class MountedFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mounted-files-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    write("secrets/sasl/username", "$ConnectionString");
    write("secrets/sasl/password", "Endpoint=sb://x/;SharedAccessKey=k\n");
    write("secrets/crlf/password", "p\r\n");
    write("configmaps/ca/b.crt", "B");
    write("configmaps/ca/a.crt", "A");
    write("configmaps/ca/..data/hidden", "x");
    fs::create_directories(root_ / "configmaps/empty");
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& relative, const std::string& content) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::binary) << content;
  }
  MountedFiles files() const {
    return MountedFiles((root_ / "secrets").string(), (root_ / "configmaps").string());
  }

  fs::path root_;
};

TEST_F(MountedFilesTest, SecretValueWithOneTrailingNewlineRemoved) {
  EXPECT_EQ(files().secret("sasl", "username").value(), "$ConnectionString");
  EXPECT_EQ(files().secret("sasl", "password").value(), "Endpoint=sb://x/;SharedAccessKey=k");
  EXPECT_EQ(files().secret("crlf", "password").value(), "p");
  EXPECT_TRUE(files().hasSecretKey("sasl", "password"));
  EXPECT_FALSE(files().hasSecretKey("sasl", "token"));
}

TEST_F(MountedFilesTest, MissingSecretNamesTheFileNotAValue) {
  auto missing = files().secret("sasl", "token");
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().message(), "secret \"sasl\" has no key \"token\" (no file " +
                                            (root_ / "secrets/sasl/token").string() + ")");
  auto no_dir = MountedFiles().secret("sasl", "password");
  EXPECT_EQ(no_dir.status().message(), "secret \"sasl\" is needed but no --secrets-dir was given");
}

TEST_F(MountedFilesTest, ConfigMapFilesSortedWithoutKubernetesPlumbing) {
  auto ca = files().configMapFiles("ca");
  ASSERT_TRUE(ca.isOk()) << ca.status().message();
  EXPECT_EQ(ca.value(), (std::vector<std::string>{(root_ / "configmaps/ca/a.crt").string(),
                                                  (root_ / "configmaps/ca/b.crt").string()}));
  EXPECT_FALSE(files().configMapFiles("empty").isOk());
  EXPECT_FALSE(files().configMapFiles("absent").isOk());
  EXPECT_EQ(MountedFiles().configMapFiles("ca").status().message(),
            "configmap \"ca\" is needed but no --configmaps-dir was given");
}

TEST_F(MountedFilesTest, FoldersOfAnEndpointAreItsSecretAndItsTrustBundle) {
  DataflowEndpoint kafka;
  kafka.spec.kafka.emplace();
  kafka.spec.kafka->authentication.method = AuthMethod::Sasl;
  kafka.spec.kafka->authentication.sasl = SaslSettings{SaslType::Plain, "sasl"};
  kafka.spec.kafka->tls.mode = OperationalMode::Enabled;
  kafka.spec.kafka->tls.trusted_ca_certificate_config_map_ref = "ca";
  EXPECT_EQ(files().foldersOf(kafka),
            (std::vector<std::string>{(root_ / "configmaps/ca").string(),
                                      (root_ / "secrets/sasl").string()}));
  // TLS off: the bundle is not read, so it is not watched.
  kafka.spec.kafka->tls.mode = OperationalMode::Disabled;
  EXPECT_EQ(files().foldersOf(kafka),
            (std::vector<std::string>{(root_ / "secrets/sasl").string()}));
  DataflowEndpoint anonymous;
  anonymous.spec.mqtt.emplace();
  EXPECT_TRUE(files().foldersOf(anonymous).empty());
}

TEST_F(MountedFilesTest, AFingerprintChangesWithTheContentNotWithKubernetesPlumbing) {
  const std::string folder = (root_ / "configmaps/ca").string();
  const uint64_t before = MountedFiles::fingerprint(folder);
  write("configmaps/ca/..data/hidden", "changed plumbing");
  EXPECT_EQ(MountedFiles::fingerprint(folder), before);
  write("configmaps/ca/a.crt", "A2");
  EXPECT_NE(MountedFiles::fingerprint(folder), before);
}

}  // namespace
}  // namespace dataflow::config
