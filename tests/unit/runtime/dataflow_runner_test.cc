#include "engine/runtime/dataflow_runner.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "engine/runtime/logging.h"
#include "fakes.h"

namespace dataflow::runtime {
namespace {

using testing::FakeDestination;
using testing::FakeSource;

class DataflowRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transform::PipelineOptions options;
    options.dataflow_name = "flow";
    options.direction = transform::Direction::MqttToKafka;
    std::string error;
    ASSERT_TRUE(TopicTemplate::parse("out", options.destination_topic, error)) << error;
    transform::PipelineEnvironment environment;
    environment.clock = &clock_;
    auto pipeline = transform::Pipeline::build(std::move(options), std::move(environment));
    ASSERT_TRUE(pipeline.isOk()) << pipeline.status().message();
    auto source = std::make_unique<FakeSource>();
    auto destination = std::make_unique<FakeDestination>();
    source_ = source.get();
    destination_ = destination.get();
    runner_ =
        std::make_unique<DataflowRunner>("flow", std::move(pipeline).value(), std::move(source),
                                         std::move(destination), logger("flow"), clock_);
    ASSERT_TRUE(runner_->start().isOk());
  }

  Message message(uint64_t sequence, std::optional<uint32_t> expiry = std::nullopt) {
    Message m;
    m.topic = "in";
    m.payload = "p" + std::to_string(sequence);
    m.received_at = clock_.steadyNow();
    m.mqtt.message_expiry_interval = expiry;
    m.ack.sequence = sequence;
    return m;
  }

  ManualClock clock_;
  FakeSource* source_ = nullptr;
  FakeDestination* destination_ = nullptr;
  std::unique_ptr<DataflowRunner> runner_;
};

TEST_F(DataflowRunnerTest, ForwardsTransformedMessageAndAcksOnDelivery) {
  source_->receive(message(1));
  ASSERT_EQ(destination_->pendingCount(), 1u);
  EXPECT_EQ(destination_->oldest().topic, "out");
  EXPECT_TRUE(source_->ackedSequences().empty()) << "acked before the destination had it";
  destination_->deliverOldest();
  EXPECT_EQ(source_->ackedSequences(), std::vector<uint64_t>{1});
  RunnerCounters c = runner_->counters();
  EXPECT_EQ(c.received, 1u);
  EXPECT_EQ(c.delivered, 1u);
  EXPECT_EQ(c.inFlight(), 0u);
}

TEST_F(DataflowRunnerTest, ExpiredMessageIsDroppedAndAcked) {
  Message m = message(7, 1);
  clock_.advance(std::chrono::seconds(2));
  source_->receive(std::move(m));
  EXPECT_EQ(destination_->pendingCount(), 0u);
  EXPECT_EQ(source_->ackedSequences(), std::vector<uint64_t>{7});
  EXPECT_EQ(runner_->counters().dropped, 1u);
  EXPECT_EQ(runner_->transformCounters().expired, 1u);
}

TEST_F(DataflowRunnerTest, RefusedDeliveryIsCountedAckedAndTheFlowGoesOn) {
  source_->receive(message(1));
  source_->receive(message(2));
  destination_->deliverOldest(Status::fatal("record too large"));
  destination_->deliverOldest();
  EXPECT_EQ(source_->ackedSequences(), (std::vector<uint64_t>{1, 2}));
  RunnerCounters c = runner_->counters();
  EXPECT_EQ(c.refused, 1u);
  EXPECT_EQ(c.delivered, 1u);
  EXPECT_EQ(c.inFlight(), 0u);
}

TEST_F(DataflowRunnerTest, SendRefusedAtOnceIsCountedAndAcked) {
  destination_->send_status = Status::fatal("too large for any batch");
  source_->receive(message(3));
  EXPECT_EQ(source_->ackedSequences(), std::vector<uint64_t>{3});
  RunnerCounters c = runner_->counters();
  EXPECT_EQ(c.refused, 1u);
  EXPECT_EQ(c.inFlight(), 0u);
}

TEST_F(DataflowRunnerTest, RefusalsAtMessageRateAreLoggedOncePerIntervalWithTheCount) {
  destination_->send_status = Status::fatal("too large for any batch");
  ::testing::internal::CaptureStderr();
  for (uint64_t sequence = 1; sequence <= 50; ++sequence) source_->receive(message(sequence));
  clock_.advance(std::chrono::seconds(10));
  source_->receive(message(51));
  const std::string output = ::testing::internal::GetCapturedStderr();
  const std::string text = "message refused by the destination";
  size_t lines = 0;
  for (size_t at = output.find(text); at != std::string::npos; at = output.find(text, at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 2u) << output;
  EXPECT_NE(output.find("too large for any batch (49 more since the last report)"),
            std::string::npos)
      << output;
  EXPECT_EQ(runner_->counters().refused, 51u);
  EXPECT_EQ(source_->ackedSequences().size(), 51u);
}

TEST_F(DataflowRunnerTest, DrainReportsWhatWasNotDelivered) {
  source_->receive(message(1));
  source_->receive(message(2));
  destination_->deliverOldest();
  destination_->send_status = Status::retriable("closing");
  source_->receive(message(3));  // not accepted: the destination is closing
  runner_->stopReceiving();
  EXPECT_TRUE(source_->stopped);
  EXPECT_EQ(runner_->drainAndClose(std::chrono::milliseconds(0)), 2u);  // #2 in flight, #3
  EXPECT_TRUE(source_->closed);
  EXPECT_TRUE(destination_->closed);
  RunnerCounters c = runner_->counters();
  EXPECT_EQ(c.abandoned, 1u);
  EXPECT_EQ(c.inFlight(), 1u);
  EXPECT_EQ(runner_->drainAndClose(std::chrono::milliseconds(0)), 0u) << "second close is a no-op";
}

TEST_F(DataflowRunnerTest, DrainCountsWhatTheSourceStillBuffered) {
  source_->receive(message(1));
  destination_->deliverOldest();
  source_->not_handed_over = 3;  // e.g. an MQTT source's hand-off queue at the deadline
  runner_->stopReceiving();
  EXPECT_EQ(runner_->drainAndClose(std::chrono::milliseconds(0)), 3u);
}

TEST_F(DataflowRunnerTest, MessageExpiredInTheDestinationIsCountedAndAcked) {
  source_->receive(message(1, 600));
  EXPECT_TRUE(destination_->oldest().expires_at.has_value()) << "the expiry stage sets it";
  destination_->expireOldest();
  EXPECT_EQ(source_->ackedSequences(), std::vector<uint64_t>{1});
  RunnerCounters c = runner_->counters();
  EXPECT_EQ(c.expired, 1u);
  EXPECT_EQ(c.inFlight(), 0u);
}

TEST_F(DataflowRunnerTest, AFailureMarksTheRunnerFailedOnceAndNothingMoreIsAcked) {
  int callbacks = 0;
  runner_->setFailureCallback([&] { ++callbacks; });
  EXPECT_EQ(runner_->state(), RunnerState::Running);
  destination_->fail("the delivery thread stopped");
  source_->fail("the worker thread stopped");
  EXPECT_EQ(runner_->state(), RunnerState::Failed);
  EXPECT_EQ(runner_->failureReason(), "the delivery thread stopped");
  EXPECT_EQ(callbacks, 1);
  source_->receive(message(5));
  EXPECT_EQ(destination_->pendingCount(), 0u);
  EXPECT_TRUE(source_->ackedSequences().empty()) << "a failed dataflow acknowledges nothing new";
  EXPECT_EQ(runner_->counters().abandoned, 1u);
  runner_->stopReceiving();
  runner_->drainAndClose(std::chrono::milliseconds(0));
  EXPECT_EQ(runner_->state(), RunnerState::Failed) << "stays Failed after it is stopped";
}

}  // namespace
}  // namespace dataflow::runtime
