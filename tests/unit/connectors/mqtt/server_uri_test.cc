// The transports' server URIs (connectors/mqtt/net/transport.h): schemes, IPv6 literals, ports,
// WebSocket paths, and errors that name the URI; the base64 encoding of the WebSocket key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/mqtt/net/transport.h"
#include "engine/core/base64.h"

namespace dataflow::mqtt::net {
namespace {

using ::testing::HasSubstr;

Target parsed(std::string_view uri) {
  Result<Target> target = parseServerUri(uri);
  EXPECT_TRUE(target.isOk()) << uri << ": " << target.status().message();
  return target.isOk() ? target.value() : Target{};
}

std::string errorOf(std::string_view uri) {
  Result<Target> target = parseServerUri(uri);
  EXPECT_FALSE(target.isOk()) << uri;
  EXPECT_TRUE(target.status().isFatal()) << uri;
  return target.status().message();
}

TEST(ParseServerUri, TcpSchemes) {
  for (const char* uri : {"tcp://broker.example:1883", "mqtt://broker.example:1883"}) {
    const Target t = parsed(uri);
    EXPECT_EQ(t.host, "broker.example");
    EXPECT_EQ(t.port, 1883);
    EXPECT_FALSE(t.tls);
    EXPECT_FALSE(t.websockets);
    EXPECT_EQ(t.authority(), "broker.example:1883");
  }
}

TEST(ParseServerUri, TlsSchemes) {
  for (const char* uri : {"ssl://10.0.0.1:8883", "mqtts://10.0.0.1:8883", "tls://10.0.0.1:8883"}) {
    const Target t = parsed(uri);
    EXPECT_EQ(t.host, "10.0.0.1");
    EXPECT_EQ(t.port, 8883);
    EXPECT_TRUE(t.tls);
    EXPECT_FALSE(t.websockets);
  }
}

TEST(ParseServerUri, WebSocketsWithAndWithoutPath) {
  Target t = parsed("ws://broker:80");
  EXPECT_TRUE(t.websockets);
  EXPECT_FALSE(t.tls);
  EXPECT_EQ(t.path, "/mqtt");
  t = parsed("wss://broker:443/custom/path?x=1");
  EXPECT_TRUE(t.websockets);
  EXPECT_TRUE(t.tls);
  EXPECT_EQ(t.path, "/custom/path?x=1");
  EXPECT_EQ(parsed("ws://broker:80/").path, "/");
}

TEST(ParseServerUri, Ipv6LiteralsInBrackets) {
  Target t = parsed("tcp://[::1]:1883");
  EXPECT_EQ(t.host, "::1");
  EXPECT_EQ(t.port, 1883);
  EXPECT_EQ(t.authority(), "[::1]:1883");
  t = parsed("wss://[fe80::1]:443/mqtt");
  EXPECT_EQ(t.host, "fe80::1");
  EXPECT_EQ(t.authority(), "[fe80::1]:443");
}

TEST(ParseServerUri, SchemeIsCaseInsensitive) { EXPECT_TRUE(parsed("SSL://broker:8883").tls); }

TEST(ParseServerUri, PortBounds) {
  EXPECT_EQ(parsed("tcp://h:1").port, 1);
  EXPECT_EQ(parsed("tcp://h:65535").port, 65535);
  EXPECT_THAT(errorOf("tcp://h:0"), HasSubstr("1 to 65535"));
  EXPECT_THAT(errorOf("tcp://h:65536"), HasSubstr("1 to 65535"));
  EXPECT_THAT(errorOf("tcp://h:123456"), HasSubstr("1 to 65535"));
  EXPECT_THAT(errorOf("tcp://h:-1"), HasSubstr("1 to 65535"));
  EXPECT_THAT(errorOf("tcp://h:port"), HasSubstr("1 to 65535"));
  EXPECT_THAT(errorOf("tcp://h:"), HasSubstr("1 to 65535"));
}

TEST(ParseServerUri, ErrorsNameTheUri) {
  EXPECT_THAT(errorOf("tcp://broker"), HasSubstr("invalid server URI \"tcp://broker\""));
  EXPECT_THAT(errorOf("tcp://broker"), HasSubstr("port is required"));
  EXPECT_THAT(errorOf("broker:1883"), HasSubstr("SCHEME://HOST:PORT"));
  EXPECT_THAT(errorOf("http://broker:80"), HasSubstr("unknown scheme \"http\""));
  EXPECT_THAT(errorOf("tcp://:1883"), HasSubstr("host is empty"));
  EXPECT_THAT(errorOf("tcp://broker:1883/path"), HasSubstr("only with ws:// and wss://"));
  EXPECT_THAT(errorOf("ssl://broker:8883/"), HasSubstr("only with ws:// and wss://"));
  EXPECT_THAT(errorOf("tcp://::1:1883"), HasSubstr("in brackets"));
  EXPECT_THAT(errorOf("tcp://[::1]"), HasSubstr("port is required"));
  EXPECT_THAT(errorOf("tcp://[::1:1883"), HasSubstr("unterminated"));
  EXPECT_THAT(errorOf("tcp://user:pw@broker:1883"), HasSubstr("user information"));
}

TEST(Resolve, NumericAddressesNeedNoDns) {
  Result<std::vector<Address>> v4 = resolve("127.0.0.1", 1883);
  ASSERT_TRUE(v4.isOk()) << v4.status().message();
  ASSERT_EQ(v4.value().size(), 1u);
  EXPECT_EQ(v4.value()[0].text, "127.0.0.1:1883");
  EXPECT_EQ(v4.value()[0].storage.ss_family, AF_INET);
  Result<std::vector<Address>> v6 = resolve("::1", 8883);
  ASSERT_TRUE(v6.isOk()) << v6.status().message();
  EXPECT_EQ(v6.value()[0].text, "[::1]:8883");
}

// A label of 64 bytes cannot be put in a DNS query (RFC 1035: 63 at most), so the resolver fails
// here without sending anything: the test stays off the network.
TEST(Resolve, AnUnknownHostIsRetriableAndNamed) {
  // 64 letters (a literal: building it with std::string(64, 'a') trips GCC 12's false
  // -Warray-bounds in the concatenation below).
  const std::string host =
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.invalid";
  Result<std::vector<Address>> found = resolve(host, 1883);
  ASSERT_FALSE(found.isOk());
  EXPECT_TRUE(found.status().isRetriable());
  EXPECT_THAT(found.status().message(), HasSubstr("cannot resolve host " + host + ": "));
}

TEST(Base64, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(encodeBase64(""), "");
  EXPECT_EQ(encodeBase64("f"), "Zg==");
  EXPECT_EQ(encodeBase64("fo"), "Zm8=");
  EXPECT_EQ(encodeBase64("foo"), "Zm9v");
  EXPECT_EQ(encodeBase64("foob"), "Zm9vYg==");
  EXPECT_EQ(encodeBase64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(encodeBase64("foobar"), "Zm9vYmFy");
  const std::string bytes("\xff\x00\xfe\x01", 4);
  EXPECT_EQ(decodeBase64(encodeBase64(bytes)), bytes);
}

}  // namespace
}  // namespace dataflow::mqtt::net
