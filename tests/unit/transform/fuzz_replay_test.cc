// Replays the fuzz target's body on seeded random inputs in the normal (gcc, no libFuzzer) build,
// so its invariants are checked by every `ctest -L unit` run. The real fuzzer runs separately.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/fuzz/transform/fuzz_transform_body.h"

namespace dataflow::transform {
namespace {

std::vector<uint8_t> randomInput(std::mt19937& random) {
  // Bias the bytes towards the interesting ones: lengths, UTF-8 lead and continuation bytes.
  static const uint8_t kInteresting[] = {0x00, 0x01, 0x03, 0x7f, 0x80, 0xa1, 0xbf, 0xc0, 0xc2, 0xdf,
                                         0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 'a',  '/',  '+',
                                         '#',  'K',  'c',  'e',  '_',  0xf4, 0xf5, 0xf6};
  std::vector<uint8_t> input(random() % 200);
  for (uint8_t& byte : input) {
    byte = random() % 2 ? kInteresting[random() % sizeof(kInteresting)]
                        : static_cast<uint8_t>(random());
  }
  return input;
}

// Reports a violated invariant as a test failure instead of aborting the whole test binary.
class TransformFuzzReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    fuzz::setViolationHandler([](const char* what) { throw std::runtime_error(what); });
  }
  void TearDown() override { fuzz::setViolationHandler(nullptr); }

  static void run(const std::vector<uint8_t>& input) {
    try {
      fuzz::runOneInput(input.data(), input.size());
    } catch (const std::runtime_error& violation) {
      std::string bytes;
      for (uint8_t byte : input) bytes += std::to_string(byte) + ",";
      FAIL() << "invariant violated: " << violation.what() << "\ninput: {" << bytes << "}";
    }
  }
};

TEST_F(TransformFuzzReplay, RandomInputsKeepTheInvariants) {
  std::mt19937 random(424242);
  for (int i = 0; i < 10000 && !HasFailure(); ++i) run(randomInput(random));
}

TEST_F(TransformFuzzReplay, HandWrittenSeeds) {
  using Bytes = std::vector<uint8_t>;
  const std::vector<Bytes> seeds = {
      {},
      // Kafka -> MQTT, header foo = A1 03 "bar" (Event Hubs AMQP string).
      {0x00, 0x01, 1, 't', 0x01, 0,   0, 0,    0,    0,   0,   0,
       0,    9,    3, 'f', 'o',  'o', 5, 0xa1, 0x03, 'b', 'a', 'r'},
      // Kafka -> MQTT, a 65,536-byte header value (length byte 0xF6: "v" repeated to 65536).
      {0x00, 0x01, 1, 't', 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'h', 0xF6, 'v'},
      // Kafka -> MQTT, a 65,535-byte header value (length byte 0xF5).
      {0x00, 0x01, 1, 't', 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'h', 0xF5, 'v'},
      // MQTT -> Kafka with CloudEvents attributes as user properties.
      {0x00, 0x04, 3,   'a', '/', 'b', 0x00, 0,   0,   0, 0,   0,   0,   0, 0,   0,   11, 's', 'p',
       'e',  'c',  'v', 'e', 'r', 's', 'i',  'o', 'n', 3, '1', '.', '0', 2, 'i', 'd', 1,  'x'},
  };
  for (const Bytes& seed : seeds) run(seed);
}

}  // namespace
}  // namespace dataflow::transform
