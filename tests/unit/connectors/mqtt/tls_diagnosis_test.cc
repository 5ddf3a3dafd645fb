// The parts of the TLS diagnosis that need no broker: where it connects, and that it stays quiet
// when nothing listens (the connect failure says that already).
#include "connectors/mqtt/tls_diagnosis.h"

#include <gtest/gtest.h>

#include "tests/support/process.h"

namespace dataflow::mqtt {
namespace {

TEST(TlsHostPort, TakesHostAndPortOfTlsUrisOnly) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(tlsHostPort("ssl://broker.example:8883", host, port));
  EXPECT_EQ(host, "broker.example");
  EXPECT_EQ(port, 8883);
  ASSERT_TRUE(tlsHostPort("wss://10.0.0.1:443/mqtt/path", host, port));
  EXPECT_EQ(host, "10.0.0.1");
  EXPECT_EQ(port, 443);
  ASSERT_TRUE(tlsHostPort("ssl://[::1]:8883", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(tlsHostPort("tcp://broker:1883", host, port));
  EXPECT_FALSE(tlsHostPort("ws://broker:80/mqtt", host, port));
  EXPECT_FALSE(tlsHostPort("ssl://broker", host, port));
  EXPECT_FALSE(tlsHostPort("ssl://broker:port", host, port));
}

TEST(DiagnoseTls, NothingListeningGivesNoCause) {
  EXPECT_EQ(
      diagnoseTls("127.0.0.1", testing::freeTcpPort(), TlsFiles{}, std::chrono::milliseconds(500)),
      "");
}

TEST(DiagnoseTls, AnUnreadableCaBundleIsNamed) {
  TlsFiles files;
  files.trust_store = "/nonexistent/ca.crt";
  EXPECT_NE(diagnoseTls("127.0.0.1", 1, files, std::chrono::milliseconds(500))
                .find("cannot load the CA bundle /nonexistent/ca.crt"),
            std::string::npos);
}

}  // namespace
}  // namespace dataflow::mqtt
