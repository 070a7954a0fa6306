// Reading a telemetry event stream (event/eventdef.hpp) into decoded events
// (design/mps-events.md).
//
// The reader knows no event kind by name: it decodes every record from the
// kind table MPS_EVENT_KINDS, so a new row needs no change here. It checks
// everything it relies on and stops at the first record it cannot trust,
// with the offset of the fault and what it expected there; the events before
// it stay readable, so a stream cut short by a crash still converts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "event/eventdef.hpp"

namespace mps::events {

// One row of MPS_EVENT_KINDS with its field names split.
struct Kind {
  const event::KindInfo* info;
  std::vector<std::string> fields;
  std::string_view name() const { return info->name; }
  std::uint16_t code() const { return info->code; }
  bool hasText() const { return info->hasText; }
  const char* category() const { return event::kCategoryNames[unsigned(info->category)]; }
  // Bytes of a record of this kind before its text: header and fields.
  std::size_t fixedBytes() const { return sizeof(event::RecordHeader) + 8 * fields.size(); }
};

// Every kind of this converter's table, in table order.
std::span<const Kind> kinds();
// The kind with this code, or null.
const Kind* findKind(std::uint16_t code);
// Index of the named field of a kind, or -1.
int fieldIndex(const Kind& kind, std::string_view field);

struct Event {
  const Kind* kind;
  std::uint32_t thread;
  std::uint64_t time;    // raw ticks, as in the record
  std::uint64_t offset;  // of the record in the stream
  std::uint32_t textBytes;
};

struct ParseError {
  std::uint64_t offset;
  std::string expected;  // what was wrong there
  std::string what() const { return "offset " + std::to_string(offset) + ": " + expected; }
};

class Stream {
 public:
  std::vector<unsigned char> bytes;  // the whole stream; events point into it
  event::FileHeader header{};
  bool headerValid = false;
  std::vector<Event> events;  // sorted by time (stable: by offset for ties)
  std::optional<ParseError> error;

  bool complete() const { return headerValid && !error; }
  std::uint64_t field(const Event& e, unsigned i) const;
  // Named field, or `fallback` when the kind has no such field.
  std::uint64_t field(const Event& e, std::string_view name, std::uint64_t fallback = 0) const;
  std::string_view text(const Event& e) const;
  // Ticks since the stream's start (may be negative in a damaged stream).
  std::int64_t sinceStart(std::uint64_t ticks) const {
    return static_cast<std::int64_t>(ticks - header.startTime);
  }
  double seconds(std::int64_t ticks) const;
  double secondsAt(const Event& e) const { return seconds(sinceStart(e.time)); }
};

// Decodes `bytes`. Never throws for bad input: a fault leaves `error` set
// and `events` holding what came before it.
Stream parse(std::vector<unsigned char> bytes);

// Reads a whole file; on failure returns false with `message` set.
bool readFile(const std::string& path, std::vector<unsigned char>& bytes, std::string& message);

}  // namespace mps::events
