#include "engine/config/topic_rules.h"

#include <gtest/gtest.h>

namespace dataflow::config {
namespace {

struct FilterCase {
  std::string filter;
  bool valid;
  std::string normalized;
};

TEST(MqttTopicFilter, FollowsMqtt5Rules) {
  const std::vector<FilterCase> cases = {
      {"a/b/c", true, "a/b/c"},
      {"#", true, "#"},
      {"a/#", true, "a/#"},
      {"+", true, "+"},
      {"+/b/+", true, "+/b/+"},
      {"/a//b/", true, "/a//b/"},
      {"$SYS/#", true, "$SYS/#"},
      {"$share/g1/a/+", true, "$share/g1/a/+"},
      {"$shared/g1/a/#", true, "$share/g1/a/#"},
      {"", false, ""},
      {"a/b#", false, ""},
      {"a/#/b", false, ""},
      {"a/+b", false, ""},
      {"a+/b", false, ""},
      {"$share/g1", false, ""},
      {"$share//a", false, ""},
      {"$share/g+/a", false, ""},
      {"$share/g1/", false, ""},
      {std::string("a\0b", 3), false, ""},
      {"\xc3\x28", false, ""},
      {std::string(65536, 'a'), false, ""},
  };
  for (const FilterCase& c : cases) {
    std::string normalized;
    std::string problem = checkMqttTopicFilter(c.filter, normalized);
    EXPECT_EQ(problem.empty(), c.valid) << c.filter.substr(0, 20) << ": " << problem;
    if (c.valid) {
      EXPECT_EQ(normalized, c.normalized);
    }
  }
}

TEST(MqttTopicName, RejectsWildcards) {
  EXPECT_EQ(checkMqttTopicName("a/b"), "");
  EXPECT_EQ(checkMqttTopicName("a/+/b"), "must not contain the wildcards '+' or '#'");
  EXPECT_NE(checkMqttTopicName("a/#"), "");
  EXPECT_NE(checkMqttTopicName(""), "");
}

TEST(KafkaTopic, LegalNames) {
  EXPECT_EQ(checkKafkaTopicName("telemetry.v1_raw-2"), "");
  EXPECT_EQ(checkKafkaTopicName(std::string(249, 'a')), "");
  EXPECT_NE(checkKafkaTopicName(std::string(250, 'a')), "");
  EXPECT_NE(checkKafkaTopicName("."), "");
  EXPECT_NE(checkKafkaTopicName(".."), "");
  EXPECT_NE(checkKafkaTopicName("a/b"), "");
  EXPECT_NE(checkKafkaTopicName("a b"), "");
  EXPECT_NE(checkKafkaTopicName(""), "");
  EXPECT_EQ(checkKafkaSourceTopic("^telemetry-.*"), "");
  EXPECT_NE(checkKafkaSourceTopic("^(unclosed"), "");
}

}  // namespace
}  // namespace dataflow::config
