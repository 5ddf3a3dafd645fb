// A raw-socket MQTT v5 client for the benchmark load generator. Each client owns one blocking TCP
// connection and one reader thread, so no client's callbacks wait on another's: paho runs every
// client's callbacks on one shared thread under a process-wide lock, which would distort the
// measurements. Topic aliases, QoS 2, TLS and authentication are not supported.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace dataflow::bench {

struct UserProperty {
  std::string name;
  std::string value;
};

struct WireOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string client_id;             // required
  uint16_t receive_maximum = 65535;  // sent in CONNECT (limits QoS1 PUBLISHes the broker sends us
                                     // unacked)
  std::chrono::milliseconds connect_timeout{5000};
};

// One MQTT v5 connection over a blocking TCP socket with TCP_NODELAY, Clean Start = 1, session
// expiry 0, keep alive 60 s (the reader thread sends PINGREQ after 30 s without a write, or half
// the broker's Server Keep Alive, and takes the PINGRESP). The reader thread parses everything the
// broker sends. Thread safety: publish(), flush(), setMaxInflight(), waitAllAcked() and the
// counters may be called from any thread; onMessage() before subscribe(). After the connection is
// lost (connected() false), publish() and flush() drop what they are given and the waits return.
class MqttWireClient {
 public:
  using MessageHandler =
      std::function<void(std::string_view topic, std::string_view payload, int qos)>;

  // Connects and waits for CONNACK within options.connect_timeout. Throws std::invalid_argument for
  // an empty client id or a zero receive_maximum, std::runtime_error when the TCP connection fails
  // or the CONNACK is missing, malformed or refuses (the message names the reason code).
  explicit MqttWireClient(WireOptions options);
  // Sends DISCONNECT (after what is buffered) if connected, closes, joins the reader thread. Gives
  // up on a broker that neither reads nor closes after about 2 s.
  ~MqttWireClient();
  MqttWireClient(const MqttWireClient&) = delete;
  MqttWireClient& operator=(const MqttWireClient&) = delete;

  // The broker's Receive Maximum from CONNACK (65535 when absent).
  uint16_t serverReceiveMaximum() const;
  // Must be called before subscribe(); `handler` runs on the reader thread for every PUBLISH
  // received, and the views are valid only during the call. For QoS 1 the client sends PUBACK
  // right after the handler returns (buffered, written once per batch read from the socket).
  void onMessage(MessageHandler handler);
  // SUBSCRIBE (one filter, QoS 0 or 1, No Local = 0) and waits for SUBACK. Throws
  // std::runtime_error on a failure reason code, a lost connection or no SUBACK within 5 s.
  void subscribe(const std::string& filter, int qos);
  // Encodes a PUBLISH (QoS 0 or 1; user properties in the order given) into the write buffer; no
  // syscall unless the buffer exceeds 64 KiB (then it flushes). QoS 1: first flushes and blocks
  // while the QoS 1 PUBLISHes in flight reach min(max_inflight, serverReceiveMaximum()); packet
  // ids cycle 1..65535 skipping ones still in flight. Throws std::invalid_argument for QoS 2 or a
  // field too long for MQTT.
  void publish(std::string_view topic, std::string_view payload, int qos,
               const std::vector<UserProperty>& user_properties = {});
  // Writes everything buffered to the socket (loops on partial writes).
  void flush();
  // Upper bound on QoS 1 PUBLISHes in flight (default: serverReceiveMaximum()); 0 restores the
  // default.
  void setMaxInflight(uint32_t max_inflight);
  uint64_t published() const;   // PUBLISH packets encoded so far (all QoS)
  uint64_t acked() const;       // PUBACKs received (QoS 1), including failed ones
  uint64_t failedAcks() const;  // PUBACKs with a reason code >= 0x80 (e.g. 0x97 quota exceeded)
  uint64_t received() const;    // PUBLISHes received
  // Flushes, then blocks until acked() == number of QoS 1 publishes or timeout; returns whether it
  // got there (false at once when the connection is lost).
  bool waitAllAcked(std::chrono::milliseconds timeout);
  // False after the broker closed the connection or sent DISCONNECT, a write failed or the broker
  // broke the protocol; lastError() then says which.
  bool connected() const;
  std::string lastError() const;

 private:
  void handshake(std::chrono::steady_clock::time_point deadline);
  void readLoop();
  bool readSome();
  bool parseBuffered();
  bool handlePacket(uint8_t header, const uint8_t* body, uint32_t length);
  bool handlePublish(uint8_t header, const uint8_t* body, uint32_t length);
  // Reserves a free packet id (0 when not connected); for a PUBLISH first waits for room.
  uint16_t reservePacketId(bool for_publish);
  uint32_t inflightLimit() const;
  void writeBufferedLocked();  // caller holds write_mutex_
  void fail(const std::string& reason);

  const WireOptions options_;
  int fd_ = -1;
  uint16_t server_receive_maximum_ = 65535;
  uint16_t keep_alive_seconds_ = 60;
  MessageHandler handler_;  // set before subscribe(), read by the reader thread

  std::mutex write_mutex_;
  std::string write_buffer_;  // guarded by write_mutex_; keeps its capacity across flushes

  mutable std::mutex state_mutex_;
  std::condition_variable state_cv_;    // PUBACK, SUBACK, disconnection, reader exit
  std::vector<bool> in_flight_ids_;     // guarded by state_mutex_; indexed by packet id
  uint16_t next_packet_id_ = 0;         // guarded by state_mutex_
  uint16_t suback_id_ = 0;              // guarded by state_mutex_
  std::optional<uint8_t> suback_code_;  // guarded by state_mutex_
  std::string error_;                   // guarded by state_mutex_
  bool reader_done_ = false;            // guarded by state_mutex_

  std::atomic<bool> connected_{false};
  std::atomic<uint32_t> max_inflight_{0};
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> qos1_published_{0};  // written under state_mutex_
  std::atomic<uint64_t> acked_{0};           // written under state_mutex_
  std::atomic<uint64_t> failed_acks_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<int64_t> last_write_ns_{0};  // steady clock

  // Reader thread only (the constructor before the thread starts).
  std::vector<uint8_t> read_buffer_;
  size_t read_begin_ = 0;
  size_t read_end_ = 0;
  std::string ack_buffer_;  // PUBACKs of one batch, moved to write_buffer_ once

  std::thread reader_;
};

}  // namespace dataflow::bench
