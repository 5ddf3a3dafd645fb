// Cross-checks of the identity test doubles with independent clients: the curl command line
// against the fake token server (IMDS, Arc challenge, Entra v2 form), and kcat (its own
// OAUTHBEARER unsecured-JWT handler) against the SASL capture listener.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/identity/fake_token_server.h"
#include "tests/support/identity/sasl_capture_broker.h"
#include "tests/support/process.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class TestDoublesTest : public ::testing::Test {
 protected:
  // Runs the curl command line with `args`; returns what it printed (headers with -i).
  std::string curl(std::vector<std::string> args) {
    args.insert(args.begin(), {"curl", "-sS", "-i", "--max-time", "10"});
    ChildProcess process(args, dir_.file("curl-" + std::to_string(++runs_) + ".log"));
    EXPECT_EQ(process.wait(20s), std::optional<int>(0));
    return process.log();
  }

  TempDir dir_{"identity-doubles"};
  FakeTokenServer server_;
  int runs_ = 0;
};

TEST_F(TestDoublesTest, CurlSeesImdsRefuseAMissingMetadataHeader) {
  const std::string url =
      server_.baseUrl() + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x";
  EXPECT_THAT(curl({url}), HasSubstr("bad_request_102"));
  const std::string ok = curl({"-H", "Metadata: true", url});
  EXPECT_THAT(ok, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(ok, HasSubstr("\"access_token\":\"" + server_.issuedTokens().at(0) + "\""));
  EXPECT_THAT(ok, HasSubstr("\"expires_in\":\"3600\""));
}

TEST_F(TestDoublesTest, CurlSeesTheArcChallengeAndItsAnswer) {
  server_.setArcKey("/var/opt/azcmagent/tokens/x.key", "the-key");
  const std::string url = server_.arcEndpoint() + "?api-version=2020-06-01&resource=x";
  const std::string challenge = curl({"-H", "Metadata: true", url});
  EXPECT_THAT(challenge, StartsWith("HTTP/1.1 401"));
  EXPECT_THAT(challenge,
              HasSubstr("WWW-Authenticate: Basic realm=/var/opt/azcmagent/tokens/x.key"));
  EXPECT_THAT(curl({"-H", "Metadata: true", "-H", "Authorization: Basic the-key", url}),
              StartsWith("HTTP/1.1 200"));
}

TEST_F(TestDoublesTest, CurlPostsAnEntraClientAssertionForm) {
  const std::string url = server_.baseUrl() + "/tenant-1/oauth2/v2.0/token";
  const std::string ok =
      curl({"--data-urlencode", "grant_type=client_credentials", "--data-urlencode",
            "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "--data-urlencode", "client_id=c", "--data-urlencode", "scope=https://x/.default",
            "--data-urlencode", "client_assertion=a.b.c", url});
  EXPECT_THAT(ok, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(ok, HasSubstr("\"expires_in\":3600"));
  EXPECT_EQ(server_.requests().at(0).form.at("client_assertion"), "a.b.c");
  EXPECT_THAT(curl({"--data-urlencode", "grant_type=password", url}), HasSubstr("AADSTS900144"));
}

TEST_F(TestDoublesTest, KcatAuthenticatesWithOAuthBearerAtTheCaptureListener) {
  SaslCaptureBroker broker;
  ChildProcess kcat(
      {"kcat", "-b", broker.bootstrap(), "-L", "-m", "5", "-X", "security.protocol=SASL_PLAINTEXT",
       "-X", "sasl.mechanisms=OAUTHBEARER", "-X", "enable.sasl.oauthbearer.unsecure.jwt=true", "-X",
       "sasl.oauthbearer.config=principal=alice"},
      dir_.file("kcat.log"));
  const auto auth = broker.waitForAuthentications(1, 30s);
  ASSERT_FALSE(auth.empty()) << kcat.log();
  EXPECT_THAT(auth[0], StartsWith(std::string("n,,\x01"
                                              "auth=Bearer ")));
  EXPECT_THAT(auth[0], EndsWith(std::string("\x01\x01")));
  EXPECT_EQ(broker.mechanisms().at(0), "OAUTHBEARER");
}

}  // namespace
}  // namespace dataflow::testing
