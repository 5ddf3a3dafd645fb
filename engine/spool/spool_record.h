// A Message as the spool stores it (engine/spool/segment_log.h holds the bytes): everything the
// destination needs, with the receive and expiry instants in wall-clock terms, so that a message
// read back after a restart (when the steady clock has started again) still expires when it
// should and carries the Message Expiry Interval that remains.
//
// Format (version 1): a version byte, then the fields in a fixed order; integers as unsigned
// LEB128 varints (signed ones zigzag-encoded), strings and bytes as a varint length and the bytes,
// optionals behind a presence byte. Decoding is total: any bytes give a Message or an error, never
// a crash, and no length is trusted beyond the bytes that are there.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/clock.h"
#include "engine/core/message.h"
#include "engine/core/status.h"

namespace dataflow::spool {

// Appends the record of `message` to `out`. received_at and expires_at are converted to wall-clock
// milliseconds with `clock` (now). The ack token is not stored: the spool's own sequence replaces
// it once the message is in the spool.
void encodeRecord(const Message& message, const Clock& clock, std::string& out);

// The message of a record; received_at and expires_at are put back on `clock`'s steady timeline
// from the stored wall-clock instants (an expiry already past stays in the past). Fatal naming
// what is wrong for bytes that are not a record of a known version.
Result<Message> decodeRecord(std::string_view record, const Clock& clock);

// A record as stored: the message, with its receive and expiry instants left as the wall-clock
// milliseconds the record holds (message.received_at and expires_at are not set). For a reader
// with no steady timeline to put them on, such as `dataflow spool inspect`.
struct StoredRecord {
  Message message;
  int64_t received_ms = 0;            // wall clock, ms since the Unix epoch
  std::optional<int64_t> expires_ms;  // wall clock; absent: the message does not expire
};
// Errors as decodeRecord's.
Result<StoredRecord> decodeStoredRecord(std::string_view record);

}  // namespace dataflow::spool
