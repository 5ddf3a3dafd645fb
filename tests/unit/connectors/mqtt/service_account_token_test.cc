// ServiceAccountTokenSource and its directory watch without a broker: what a fetch returns, the JWT
// expiry and the renewal time it gives, errors that name the file and never the token, and the
// directory watch seeing the kubelet's `..data` swap.
#include "connectors/mqtt/service_account_token.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace dataflow::mqtt {
namespace {

namespace fs = std::filesystem;
using std::chrono::system_clock;
using ::testing::HasSubstr;
using ::testing::Not;

// base64url of `json`, unpadded.
std::string encode(const std::string& json) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : json) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
  return out;
}

std::string jwt(int64_t exp) {
  return encode(R"({"alg":"RS256"})") + "." +
         encode(R"({"aud":"a","exp": )" + std::to_string(exp) + R"(,"iat":1})") + ".sig";
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(system_clock::now().time_since_epoch())
      .count();
}

TEST(JwtExpiry, ReadsTheExpClaimOfAJwtAndNothingElse) {
  EXPECT_EQ(jwtExpiry(jwt(1800000000)), system_clock::time_point(std::chrono::seconds(1800000000)));
  EXPECT_EQ(jwtExpiry("not-a-jwt"), std::nullopt);
  EXPECT_EQ(jwtExpiry(encode("{}") + "." + encode(R"({"sub":"x"})") + ".s"), std::nullopt);
  EXPECT_EQ(jwtExpiry("a.%%%.c"), std::nullopt);
  EXPECT_EQ(jwtExpiry(encode("{}") + "." + encode(R"({"exp":"soon"})") + ".s"), std::nullopt);
}

class ServiceAccountTokenTest : public ::testing::Test {
 protected:
  void write(const std::string& content) { std::ofstream(dir_.file("aud")) << content; }
  testing::TempDir dir_{"sat"};
  ServiceAccountTokenSource source_{dir_.path(), "aud", std::chrono::seconds(60)};
};

TEST_F(ServiceAccountTokenTest, FetchReturnsK8sSatAndTheTokenWithoutTrailingNewline) {
  write("opaque-token\n");
  Result<Credential> credential = source_.fetch();
  ASSERT_TRUE(credential.isOk()) << credential.status().message();
  EXPECT_EQ(credential.value().method, "K8S-SAT");
  EXPECT_EQ(credential.value().data, "opaque-token");
  EXPECT_EQ(credential.value().renew_at, std::nullopt);  // not a JWT: only the watch renews
}

TEST_F(ServiceAccountTokenTest, AJwtIsRenewedAMarginBeforeItExpiresOrAtHalfItsLife) {
  const int64_t now = nowSeconds();
  write(jwt(now + 3600));
  Result<Credential> credential = source_.fetch();
  ASSERT_TRUE(credential.isOk());
  EXPECT_EQ(credential.value().renew_at,
            system_clock::time_point(std::chrono::seconds(now + 3600 - 60)));

  write(jwt(now + 20));  // half its life (about 10 s) is less than the margin
  credential = source_.fetch();
  ASSERT_TRUE(credential.isOk());
  ASSERT_TRUE(credential.value().renew_at.has_value());
  EXPECT_GT(*credential.value().renew_at, system_clock::now() + std::chrono::seconds(8));
  EXPECT_LT(*credential.value().renew_at, system_clock::time_point(std::chrono::seconds(now + 20)));

  write(jwt(now - 5));  // expired: sent as it is (the broker says no), nothing to schedule
  credential = source_.fetch();
  ASSERT_TRUE(credential.isOk());
  EXPECT_EQ(credential.value().renew_at, std::nullopt);
}

TEST_F(ServiceAccountTokenTest, AMissingOrEmptyFileIsRetriableAndNamesThePath) {
  Result<Credential> missing = source_.fetch();
  ASSERT_FALSE(missing.isOk());
  EXPECT_TRUE(missing.status().isRetriable());
  EXPECT_THAT(missing.status().message(), HasSubstr(dir_.file("aud")));
  EXPECT_THAT(missing.status().message(), HasSubstr("--sat-token-dir"));
  write("\n");
  Result<Credential> empty = source_.fetch();
  ASSERT_FALSE(empty.isOk());
  EXPECT_THAT(empty.status().message(), HasSubstr("is empty"));
}

TEST_F(ServiceAccountTokenTest, TheWatchSeesTheKubeletSwappingTheDataSymlink) {
  fs::create_directories(dir_.file("..2026_01"));
  std::ofstream(dir_.file("..2026_01/aud")) << "first";
  fs::create_symlink("..2026_01", dir_.file("..data"));
  fs::create_symlink("..data/aud", dir_.file("aud"));
  std::atomic<int> changes{0};
  ASSERT_TRUE(source_.watch([&] { ++changes; }).isOk());
  EXPECT_EQ(source_.fetch().value().data, "first");

  fs::create_directories(dir_.file("..2026_02"));
  std::ofstream(dir_.file("..2026_02/aud")) << "second";
  const int before = changes.load();
  fs::create_symlink("..2026_02", dir_.file("..data_tmp"));
  fs::rename(dir_.file("..data_tmp"), dir_.file("..data"));
  EXPECT_TRUE(
      testing::waitFor([&] { return changes.load() > before; }, std::chrono::milliseconds(5000)));
  EXPECT_EQ(source_.fetch().value().data, "second");
  EXPECT_TRUE(source_.watch(nullptr).isOk());  // stops; no callback after this returns
}

TEST_F(ServiceAccountTokenTest, ADirectoryThatAppearsLaterIsWatchedOnceItExists) {
  ServiceAccountTokenSource later(dir_.file("later"), "aud");
  std::atomic<int> changes{0};
  ASSERT_TRUE(later.watch([&] { ++changes; }).isOk());
  fs::create_directories(dir_.file("later"));
  std::ofstream(dir_.file("later/aud")) << "token";
  EXPECT_TRUE(
      testing::waitFor([&] { return changes.load() > 0; }, std::chrono::milliseconds(5000)));
  EXPECT_EQ(later.fetch().value().data, "token");
  EXPECT_THAT(later.describe(), Not(HasSubstr("token\"")));
}

}  // namespace
}  // namespace dataflow::mqtt
