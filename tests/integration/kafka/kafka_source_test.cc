// KafkaSource against librdkafka's mock cluster in the test process: every Message field, several
// topics and a regular expression, commits only after acknowledgements, backpressure without
// losing the group, a rebalance that loses nothing, and the stop sequence.
#include <map>
#include <set>

#include "connectors/kafka/kafka_factory.h"
#include "tests/integration/kafka/kafka_source_fixture.h"

namespace dataflow::testing {
namespace {

using ::testing::ElementsAre;

std::set<RecordId> idsOf(const std::vector<Message>& messages) {
  std::set<RecordId> ids;
  for (const Message& m : messages) ids.insert(idOf(m));
  return ids;
}

// The lowest offset per partition among `messages`.
std::map<int32_t, int64_t> firstOffsets(const std::vector<Message>& messages) {
  std::map<int32_t, int64_t> first;
  for (const Message& m : messages) {
    auto [it, inserted] = first.try_emplace(*m.partition, m.ack.offset);
    if (!inserted) it->second = std::min(it->second, m.ack.offset);
  }
  return first;
}

TEST_F(KafkaSourceTest, EveryMessageFieldComesFromTheRecord) {
  kafka_.createTopic(topic_, 1);
  const std::string binary("\x00\xff\x01\x80", 4);
  KafkaRecord a;
  a.topic = topic_;
  a.value = std::string("pay\0load", 8);
  a.headers = {{"a", "1"}, {"bin", binary}, {"a", "2"}, {"null", std::nullopt}, {"", "x"}};
  a.timestamp_ms = 1'700'000'000'123;
  KafkaRecord b;
  b.topic = topic_;
  b.key = "";
  KafkaRecord c;
  c.topic = topic_;
  c.key = std::string("k\0y", 3);
  c.partition = 0;
  const int64_t before_ms = clock_.wallNowMs();
  const std::vector<KafkaRecord> written = writer_.write({a, b, c});
  const int64_t after_ms = clock_.wallNowMs();

  auto source = makeSource({topic_}, group_);
  AckingHandler handler;
  const auto started_at = std::chrono::steady_clock::now();
  start(*source, handler);
  ASSERT_TRUE(handler.waitForCount(3));
  EXPECT_TRUE(source->connected());
  const std::vector<Message> got = handler.received();
  ASSERT_EQ(got.size(), 3u);

  EXPECT_EQ(got[0].topic, topic_);
  EXPECT_EQ(got[0].payload, a.value);
  EXPECT_EQ(got[0].key, std::nullopt);
  EXPECT_EQ(got[0].partition, 0);
  EXPECT_EQ(got[0].timestamp_ms, 1'700'000'000'123);
  EXPECT_THAT(got[0].properties,
              ElementsAre(Property{"a", "1"}, Property{"bin", binary}, Property{"a", "2"},
                          Property{"null", ""}, Property{"", "x"}));
  EXPECT_EQ(got[1].key, std::optional<std::string>(""));
  EXPECT_EQ(got[1].payload, "");
  EXPECT_TRUE(got[1].properties.empty());
  EXPECT_GE(got[1].timestamp_ms, before_ms);  // the producer's CreateTime
  EXPECT_LE(got[1].timestamp_ms, after_ms);
  EXPECT_EQ(got[2].key, c.key);
  for (size_t i = 0; i < got.size(); ++i) {
    const Message& m = got[i];
    EXPECT_EQ(m.ack.offset, written[i].offset);
    EXPECT_EQ(m.ack.partition, 0);
    EXPECT_EQ(m.ack.topic_index, got[0].ack.topic_index);
    EXPECT_GE(m.ack.topic_index, 0);
    EXPECT_GE(m.ack.sequence, 1u);  // the assignment generation
    EXPECT_GE(m.received_at, started_at);
    EXPECT_LE(m.received_at, std::chrono::steady_clock::now());
    EXPECT_EQ(m.qos, 0);
    EXPECT_FALSE(m.retain);
  }
  EXPECT_EQ(logLinesContaining("Kafka consumer started: client.id="), 1u);
  EXPECT_EQ(logLinesContaining("group.id=" + group_), 2u);  // mapped (info) and effective (debug)
  stop(*source, handler);
  EXPECT_FALSE(source->connected());
}

TEST_F(KafkaSourceTest, SeveralTopicsAndARegularExpression) {
  const std::string prefix = randomName("rx-");
  const std::string other = randomName("lit-");
  kafka_.createTopic(topic_, 2);
  kafka_.createTopic(other, 1);
  kafka_.createTopic(prefix + "-one", 1);
  kafka_.createTopic(prefix + "-two", 3);
  kafka_.createTopic(randomName("unmatched-"), 1);
  std::set<RecordId> expected;
  for (const std::string& topic : {topic_, other, prefix + "-one", prefix + "-two"}) {
    for (const KafkaRecord& r : writeValues(topic, 5)) expected.insert(idOf(r));
  }
  auto source = makeSource({topic_, other, "^" + prefix + "-.*"}, group_);
  AckingHandler handler;
  start(*source, handler);
  ASSERT_TRUE(handler.waitForCount(expected.size())) << handler.received().size();
  const std::vector<Message> got = handler.received();
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(idsOf(got), expected);
  std::map<std::string, std::set<int32_t>> indexes;
  for (const Message& m : got) indexes[m.topic].insert(m.ack.topic_index);
  std::set<int32_t> distinct;
  for (const auto& [topic, set] : indexes) {
    EXPECT_EQ(set.size(), 1u) << topic;  // one index per topic
    distinct.insert(*set.begin());
  }
  EXPECT_EQ(distinct.size(), 4u);
  stop(*source, handler);
}

TEST_F(KafkaSourceTest, CommitsOnlyTheContiguousAcknowledgedPrefix) {
  kafka_.createTopic(topic_, 1);
  writeValues(topic_, 10);
  {
    AckingHandler::Options options;
    options.should_ack = [](const Message& m) { return m.ack.offset <= 4 || m.ack.offset == 6; };
    AckingHandler handler(options);
    auto source = makeSource({topic_}, group_);
    start(*source, handler);
    ASSERT_TRUE(handler.waitForCount(10));
    ASSERT_TRUE(handler.waitAcksGiven());
    stop(*source, handler);
  }
  // The next consumer of the group resumes at 5: 5 and 6 are replayed (6 was acknowledged, but
  // after a gap), nothing before 5 is, nothing is missing.
  AckingHandler handler;
  auto source = makeSource({topic_}, group_);
  start(*source, handler);
  ASSERT_TRUE(handler.waitForCount(5));
  std::vector<int64_t> offsets;
  for (const Message& m : handler.received()) offsets.push_back(m.ack.offset);
  EXPECT_THAT(offsets, ElementsAre(5, 6, 7, 8, 9));
  stop(*source, handler);
}

TEST_F(KafkaSourceTest, OutOfOrderAcknowledgementsCommitEverythingAtClose) {
  kafka_.createTopic(topic_, 2);
  writeValues(topic_, 30, 0);
  writeValues(topic_, 30, 1);
  {
    AckingHandler::Options options;
    options.reorder_batch = 7;
    options.ack_delay = 5ms;
    AckingHandler handler(options);
    auto source = makeSource({topic_}, group_);
    start(*source, handler);
    ASSERT_TRUE(handler.waitForCount(60));
    ASSERT_TRUE(handler.waitAcksGiven());
    EXPECT_EQ(handler.acked().size(), 60u);
    stop(*source, handler);  // close() commits synchronously
  }
  writeValues(topic_, 3, 0, "new");
  writeValues(topic_, 3, 1, "new");
  AckingHandler handler;
  auto source = makeSource({topic_}, group_);
  start(*source, handler);
  ASSERT_TRUE(handler.waitForCount(6));
  const std::vector<Message> got = handler.received();
  EXPECT_EQ(got.size(), 6u);
  EXPECT_EQ(firstOffsets(got), (std::map<int32_t, int64_t>{{0, 30}, {1, 30}}));
  stop(*source, handler);
}

// The handler blocks longer than max.poll.interval.ms while librdkafka's bounded prefetch (here
// 1 KiB / 5 records) fills up: the consumer thread keeps polling, so the member stays in its
// group, and after the release every record arrives once, in order.
TEST_F(KafkaSourceTest, BlockedHandlerKeepsTheGroupAndLosesNothing) {
  kafka_.createTopic(topic_, 1);
  writeValues(topic_, 50);
  auto source = makeSource({topic_}, group_,
                           {{"max.poll.interval.ms", "6000"},
                            {"queued.min.messages", "5"},
                            {"queued.max.messages.kbytes", "1"}});
  AckingHandler handler;
  handler.block();
  start(*source, handler);
  ASSERT_TRUE(handler.waitUntilInHandler());
  std::this_thread::sleep_for(7500ms);  // the test's subject: a handler blocked this long
  EXPECT_TRUE(source->connected());
  handler.release();
  ASSERT_TRUE(handler.waitForCount(50));
  ASSERT_TRUE(handler.waitAcksGiven());
  std::vector<int64_t> offsets;
  for (const Message& m : handler.received()) offsets.push_back(m.ack.offset);
  std::vector<int64_t> expected(50);
  for (int64_t i = 0; i < 50; ++i) expected[static_cast<size_t>(i)] = i;
  EXPECT_EQ(offsets, expected);
  EXPECT_EQ(logLinesContaining("revoked"), 0u);
  EXPECT_EQ(logLinesContaining("lost"), 0u);
  stop(*source, handler);
}

// A second member joins while records flow and leaves again: every record is received and
// acknowledged by one of them at least (duplicates are allowed, and counted).
TEST_F(KafkaSourceTest, MemberJoiningAndLeavingMidStreamLosesNothing) {
  kafka_.createTopic(topic_, 4);
  constexpr int kRecords = 400;
  std::vector<KafkaRecord> written;
  std::mutex written_mutex;
  std::thread producer([&] {
    for (int i = 0; i < kRecords / 10; ++i) {
      std::vector<KafkaRecord> batch = writeValues(topic_, 10, -1, "b" + std::to_string(i) + "-");
      {
        std::lock_guard lock(written_mutex);
        written.insert(written.end(), batch.begin(), batch.end());
      }
      std::this_thread::sleep_for(20ms);  // a steady stream, not a synchronisation
    }
  });
  AckingHandler first_handler;
  auto first = makeSource({topic_}, group_);
  start(*first, first_handler);
  ASSERT_TRUE(first_handler.waitForCount(20));

  AckingHandler second_handler;
  auto second = makeSource({topic_}, group_);
  start(*second, second_handler);
  ASSERT_TRUE(second_handler.waitForCount(10)) << "the second member never got a partition";
  stop(*second, second_handler);  // leaves the group: the first member takes everything again
  producer.join();

  std::set<RecordId> expected;
  for (const KafkaRecord& r : written) expected.insert(idOf(r));
  ASSERT_TRUE(waitFor(
      [&] {
        std::set<RecordId> got = idsOf(first_handler.received());
        for (const RecordId& id : idsOf(second_handler.received())) got.insert(id);
        return std::includes(got.begin(), got.end(), expected.begin(), expected.end());
      },
      kSourceDeadline));
  ASSERT_TRUE(first_handler.waitAcksGiven());
  // Received and acknowledged by a member: the union covers every record.
  std::set<RecordId> acknowledged;
  size_t total = 0;
  for (AckingHandler* handler : {&first_handler, &second_handler}) {
    for (const AckToken& t : handler->acked()) {
      acknowledged.insert({topic_, t.partition, t.offset});
      ++total;
    }
  }
  EXPECT_EQ(acknowledged, expected);
  std::cerr << "  " << kRecords << " records, " << total - acknowledged.size()
            << " acknowledged twice (replayed after the rebalances)\n";
  EXPECT_GE(logLinesContaining("Kafka partitions revoked"), 2u);
  stop(*first, first_handler);
}

TEST_F(KafkaSourceTest, StopReceivingLeavesTheRestToTheNextConsumer) {
  kafka_.createTopic(topic_, 1);
  writeValues(topic_, 10);
  {
    AckingHandler handler;
    auto source = makeSource({topic_}, group_);
    start(*source, handler);
    // A witness: the same settings in a group of its own, reading the same records. Once it has
    // the late ones, a source that still handed records over after stopReceiving() would have
    // had as long to do so: a condition to wait for instead of a fixed pause.
    AckingHandler witness_handler;
    auto witness = makeSource({topic_}, group_ + "-witness");
    start(*witness, witness_handler);
    ASSERT_TRUE(handler.waitForCount(10));
    ASSERT_TRUE(handler.waitAcksGiven());
    source->stopReceiving();
    writeValues(topic_, 5, -1, "late");
    ASSERT_TRUE(witness_handler.waitForCount(15));
    EXPECT_EQ(handler.received().size(), 10u);
    EXPECT_EQ(source->drainReceived(std::chrono::steady_clock::now() + 1s), 0u);
    EXPECT_TRUE(source->connected());  // still in the group until close()
    handler.stopAcking();
    source->close();
    source->close();  // idempotent
    EXPECT_EQ(handler.received().size(), 10u);  // final: no handler call after close()
    stop(*witness, witness_handler);
  }
  AckingHandler handler;
  auto source = makeSource({topic_}, group_);
  start(*source, handler);
  ASSERT_TRUE(handler.waitForCount(5));
  std::vector<std::string> values;
  for (const Message& m : handler.received()) values.push_back(m.payload);
  EXPECT_THAT(values, ElementsAre("late0", "late1", "late2", "late3", "late4"));
  stop(*source, handler);
}

TEST_F(KafkaSourceTest, DrainReturnsAtTheDeadlineWhileTheHandlerIsBlocked) {
  kafka_.createTopic(topic_, 1);
  writeValues(topic_, 3);
  AckingHandler handler;
  handler.block();
  auto source = makeSource({topic_}, group_);
  start(*source, handler);
  ASSERT_TRUE(handler.waitUntilInHandler());
  source->stopReceiving();
  // It returns, with the handler still blocked, once the deadline has passed (not before).
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(source->drainReceived(before + 300ms), 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - before, 300ms);
  handler.release();  // what destination.close() does to a blocked send
  handler.stopAcking();
  source->close();
  EXPECT_EQ(handler.received().size(), 1u);  // nothing handed out after stopReceiving
}

TEST_F(KafkaSourceTest, FactoryRefusesAnEndpointWithoutConsumerGroup) {
  config::DataflowEndpoint endpoint;
  endpoint.metadata.name = "kafka-in";
  endpoint.spec.kafka.emplace();
  endpoint.spec.kafka->host = kafka_.bootstrapServers();
  endpoint.spec.kafka->authentication.method = config::AuthMethod::Anonymous;
  endpoint.spec.kafka->tls.mode = config::OperationalMode::Disabled;
  runtime::SourceSpec spec;
  spec.context.endpoint = &endpoint;
  spec.topics = {topic_};
  Result<std::unique_ptr<Source>> refused = kafka::createSource(spec);
  ASSERT_FALSE(refused.isOk());
  EXPECT_TRUE(refused.status().isFatal());
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("\"kafka-in\""));
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("consumerGroupId"));
  endpoint.spec.kafka->consumer_group_id = group_;
  Result<std::unique_ptr<Source>> created = kafka::createSource(spec);
  ASSERT_TRUE(created.isOk()) << created.status().message();
}

}  // namespace
}  // namespace dataflow::testing
