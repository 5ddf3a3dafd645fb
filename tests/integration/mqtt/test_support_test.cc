// The test support itself: child processes, temporary folders, ports, mosquitto, the test client.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "tests/support/mosquitto.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;

TEST(MqttTestSupportTest, ChildProcessReportsExitCodeAndOutput) {
  TempDir dir;
  ChildProcess child({"sh", "-c", "echo out; echo err >&2; echo $EXTRA; exit 3"},
                     dir.file("child.log"), {"EXTRA=extra-value"});
  EXPECT_EQ(child.wait(10s), 3);
  EXPECT_FALSE(child.running());
  EXPECT_EQ(child.log(), "out\nerr\nextra-value\n");
}

TEST(MqttTestSupportTest, ChildProcessSignalAndTimeout) {
  TempDir dir;
  ChildProcess child({"sleep", "30"}, dir.file("sleep.log"));
  EXPECT_TRUE(child.running());
  EXPECT_EQ(child.wait(10ms), std::nullopt);
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(10s), 128 + SIGTERM);
}

TEST(MqttTestSupportTest, MissingProgramThrows) {
  TempDir dir;
  EXPECT_THROW(ChildProcess({"/nonexistent/program"}, dir.file("x.log")), std::runtime_error);
}

TEST(MqttTestSupportTest, TempDirIsRemoved) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    EXPECT_TRUE(std::filesystem::is_directory(path));
  }
  if (std::getenv("DATAFLOW_KEEP_TEST_DIRS") == nullptr) {
    EXPECT_FALSE(std::filesystem::exists(path));
  }
}

TEST(MqttTestSupportTest, MosquittoStopsAndRestartsOnTheSamePort) {
  Mosquitto broker;
  EXPECT_TRUE(acceptsTcp(broker.port()));
  EXPECT_EQ(broker.address(), "127.0.0.1:" + std::to_string(broker.port()));
  broker.stop();
  EXPECT_FALSE(acceptsTcp(broker.port()));
  broker.start();
  EXPECT_TRUE(acceptsTcp(broker.port()));
  broker.kill();
  EXPECT_FALSE(broker.running());
}

TEST(MqttTestSupportTest, TestClientPublishesAndReceives) {
  Mosquitto broker;
  MqttTestClient subscriber(broker.address(), "support-sub");
  subscriber.subscribe("support/#", 1);
  MqttTestClient publisher(broker.address(), "support-pub");
  publisher.publish("support/a", "one", 1);
  publisher.publish("support/b", "two", 0);
  const auto got = subscriber.receive(2, 10s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]->get_payload(), "one");
  EXPECT_EQ(got[1]->get_topic(), "support/b");
  // Nothing else came in between: the next message is a marker published after them.
  publisher.publish("support/marker", "marker", 1);
  const auto next = subscriber.receive(1, 10s);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0]->get_payload(), "marker");
}

}  // namespace
}  // namespace dataflow::testing
