// libFuzzer target: arbitrary bytes as an MQTT v5 byte stream. Framing and decoding must never
// crash, read out of bounds or allocate beyond the input; whatever decodes must re-encode to a
// packet that frames to its own size, decodes to the same struct, and encodes to the same bytes
// again (the encoder's form is canonical, e.g. the shortest ack, so equality holds on structs).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/mqtt/wire/codec.h"

namespace {

using namespace dataflow::mqtt::wire;

void check(bool ok) {
  if (!ok) std::abort();
}

void checkError(const DecodeError& e) {
  check(e.reason_code == reason::kMalformedPacket || e.reason_code == reason::kProtocolError ||
        e.reason_code == reason::kUnsupportedProtocolVersion ||
        e.reason_code == reason::kPacketTooLarge);
  check(!e.what.empty());
}

void roundTrip(std::string_view packet, Direction direction) {
  Decoded d = decode(packet, direction);
  if (!d.packet) {
    checkError(d.error);
    return;
  }
  std::string out;
  encode(*d.packet, out);
  check(out.size() == encodedSize(*d.packet));
  Frame frame = frameAt(out, UINT32_MAX);
  check(frame.state == Frame::State::Complete && frame.size == out.size());
  Decoded again = decode(out, direction);
  check(again.packet.has_value());
  check(*again.packet == *d.packet);
  std::string out_again;
  encode(*again.packet, out_again);
  check(out_again == out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // A small limit exercises Packet too large; the protocol's, framing of everything else.
  Frame small = frameAt(input, 16);
  if (small.state == Frame::State::Error) checkError(small.error);
  if (small.state == Frame::State::Complete) check(small.size <= 16 && small.size <= size);

  size_t frames = 0;
  for (std::string_view rest = input; !rest.empty(); ++frames) {
    Frame frame = frameAt(rest, UINT32_MAX);
    if (frame.state == Frame::State::Error) {
      checkError(frame.error);
      break;
    }
    if (frame.state == Frame::State::Incomplete) break;
    check(frame.size >= 2 && frame.size <= rest.size());
    roundTrip(rest.substr(0, frame.size), Direction::FromServer);
    roundTrip(rest.substr(0, frame.size), Direction::FromClient);
    rest.remove_prefix(frame.size);
  }
  // Decoding is total on bytes no frame delimits too.
  if (frames == 0) {
    roundTrip(input, Direction::FromServer);
    roundTrip(input, Direction::FromClient);
  }
  return 0;
}
