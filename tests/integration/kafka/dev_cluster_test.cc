// DevCluster (the mock cluster behind `dataflow dev-kafka` and the tests) and the dev-kafka
// command itself, run in this process.
#include "connectors/kafka/dev_cluster.h"

#include <gmock/gmock.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "cli/commands.h"
#include "tests/integration/kafka/kafka_fixture.h"

namespace dataflow::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(DevCluster, BootstrapServersAreLoopbackListenersAClientCanUse) {
  Result<std::unique_ptr<kafka::DevCluster>> cluster = kafka::DevCluster::start(2);
  ASSERT_TRUE(cluster.isOk()) << cluster.status().message();
  EXPECT_EQ(cluster.value()->brokerCount(), 2);
  EXPECT_THAT(cluster.value()->bootstrapServers(),
              MatchesRegex("127\\.0\\.0\\.1:[0-9]+,127\\.0\\.0\\.1:[0-9]+"));
  const std::string topic = randomName("dev-");
  ASSERT_TRUE(cluster.value()->createTopic(topic, 3).isOk());
  EXPECT_TRUE(cluster.value()->createTopic(topic, 3).isFatal()) << "the topic exists already";
  EXPECT_TRUE(cluster.value()->setBrokerDown(42, true).isFatal()) << "no broker 42";
  EXPECT_TRUE(cluster.value()->setBrokerDown(1, true).isOk());
  EXPECT_TRUE(cluster.value()->setBrokerDown(1, false).isOk());
  // A client can use it: a record written to the last partition is read back.
  KafkaRecord record;
  record.topic = topic;
  record.partition = 2;
  record.value = "round trip";
  KafkaWriter(cluster.value()->bootstrapServers()).write(record);
  const std::vector<KafkaRecord> read =
      KafkaReader(cluster.value()->bootstrapServers(), topic).readAtLeast(1, kDeadline);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].value, "round trip");
  EXPECT_EQ(read[0].partition, 2);
}

TEST(DevCluster, NeedsAtLeastOneBroker) {
  EXPECT_TRUE(kafka::DevCluster::start(0).status().isFatal());
}

TEST(MockKafka, EndOffsetsCountTheRecordsOfEveryPartition) {
  MockKafka kafka(1);
  const std::string topic = randomName("offsets-");
  kafka.createTopic(topic, 4);
  EXPECT_EQ(kafka.endOffsets(topic), 0);
  EXPECT_THROW(kafka.endOffsets(randomName("missing-"), 300ms), std::runtime_error);
}

TEST(KafkaReader, WaitsForATopicWithoutCreatingIt) {
  MockKafka kafka(1);
  const std::string topic = randomName("later-");
  KafkaReader reader(kafka.bootstrapServers(), topic);
  EXPECT_TRUE(reader.readAtLeast(1, 300ms).empty());  // no topic yet: the reader keeps asking
  // The mock creates unknown topics with 4 partitions when a request names them; the reader
  // asked for all topics instead, so the test can still create it (this throws if it exists).
  kafka.createTopic(topic, 2);
  // Once it exists the same reader finds it and reads what is written to it.
  KafkaRecord record;
  record.topic = topic;
  record.partition = 1;
  record.value = "after";
  KafkaWriter(kafka.bootstrapServers()).write(record);
  const std::vector<KafkaRecord> read = reader.readAtLeast(1, kDeadline);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].value, "after");
}

class KafkaReaderTest : public KafkaDestinationTest {};

TEST_F(KafkaReaderTest, ReturnsOnlyNewRecordsAndOutlivesAnOutage) {
  kafka_.createTopic(topic_, 2);
  auto destination = startDestination();
  KafkaReader reader(kafka_.bootstrapServers(), topic_);
  ASSERT_TRUE(destination->send(message("first", 1)).isOk());
  ASSERT_EQ(reader.readAtLeast(1, kDeadline).size(), 1u);
  kafka_.setAllBrokersDown(true);
  ASSERT_TRUE(destination->send(message("second", 2)).isOk());
  EXPECT_TRUE(reader.readAtLeast(1, 300ms).empty());
  kafka_.setAllBrokersDown(false);
  const std::vector<KafkaRecord> records = reader.readAtLeast(1, kDeadline);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "second");
}

// Runs `dataflow dev-kafka ARGS...` in a thread of this process, as main() would.
class DevKafkaCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    // Blocked in this thread before any other starts, so the command's sigwait gets SIGTERM.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    dir_ = std::filesystem::temp_directory_path() / randomName("dev-kafka-");
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Parses like main(): a bad command line throws CLI::ParseError (exit 2 there).
  cli::Command parse(std::vector<std::string> args) {
    cli::Command command = cli::addDevKafkaCommand(app_);
    args.insert(args.begin(), "dev-kafka");
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed
    app_.parse(args);
    return command;
  }

  CLI::App app_{"test"};
  std::filesystem::path dir_;
};

TEST_F(DevKafkaCommand, WritesTheBootstrapLineAndStopsOnSigterm) {
  const std::string file = (dir_ / "bootstrap").string();
  cli::Command command = parse(
      {"--brokers", "2", "--topic", "orders:3", "--topic", "audit", "--bootstrap-file", file});
  auto exit_code = std::async(std::launch::async, command);
  ASSERT_TRUE(waitFor([&] { return std::filesystem::exists(file); }, kDeadline));
  std::string line;
  std::getline(std::ifstream(file), line);
  ASSERT_THAT(line,
              MatchesRegex("bootstrap\\.servers=127\\.0\\.0\\.1:[0-9]+,127\\.0\\.0\\.1:[0-9]+"));
  const std::string bootstrap = line.substr(line.find('=') + 1);
  // The cluster serves: a record written to each topic's last partition is read back.
  for (auto [topic, partitions] : {std::pair{"orders", 3}, std::pair{"audit", 1}}) {
    KafkaRecord record;
    record.topic = topic;
    record.partition = partitions - 1;
    record.value = "round trip";
    KafkaWriter(bootstrap).write(record);
    const std::vector<KafkaRecord> read = KafkaReader(bootstrap, topic).readAtLeast(1, kDeadline);
    ASSERT_EQ(read.size(), 1u) << topic;
    EXPECT_EQ(read[0].partition, partitions - 1) << topic;
  }
  EXPECT_EQ(exit_code.wait_for(0ms), std::future_status::timeout) << "runs until a signal";
  ::kill(::getpid(), SIGTERM);
  ASSERT_EQ(exit_code.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(exit_code.get(), cli::kExitOk);
  EXPECT_FALSE(std::filesystem::exists(file + ".tmp." + std::to_string(::getpid())));
}

TEST_F(DevKafkaCommand, BadTopicSyntaxIsAUsageErrorNamingTheArgument) {
  for (const char* bad : {"orders:zero", "orders:0", "orders:", "bad name:2", ":3", "t:10001"}) {
    CLI::App app{"test"};
    cli::addDevKafkaCommand(app);
    try {
      app.parse(std::vector<std::string>{bad, "--topic", "dev-kafka"});
      ADD_FAILURE() << bad << " was accepted";
    } catch (const CLI::ParseError& e) {
      EXPECT_THAT(e.what(), HasSubstr(bad));
      EXPECT_THAT(e.what(), HasSubstr("NAME[:PARTITIONS]"));
    }
  }
}

TEST_F(DevKafkaCommand, HelpSaysItIsADevelopmentAidNotABroker) {
  cli::addDevKafkaCommand(app_);
  const std::string help = app_.get_subcommand("dev-kafka")->help();
  EXPECT_THAT(help, HasSubstr("development aid, NOT a broker"));
  EXPECT_THAT(help, HasSubstr("one thread"));
  EXPECT_THAT(help, HasSubstr("5 MiB or 100,000 batches per partition"));
  EXPECT_THAT(help, HasSubstr("no SASL, no TLS"));
}

}  // namespace
}  // namespace dataflow::testing
