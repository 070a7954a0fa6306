// The telemetry event stream's vocabulary: every event kind, its category,
// and the names of its fields (design/event.md).
//
// One table drives both ends of the stream: the library's writer (each
// MPS_EVENT use is checked against the kind's field count at compile time)
// and the converter, which decodes, names and tabulates every kind from the
// same rows without knowing any of them. Adding an event is adding a row.
//
// Depends on nothing but <cstdint>, so that tools outside the library (the
// converter) include it without the library's modules.
#pragma once

#include <cstdint>

namespace mps::event {

// The stream's file layout (little-endian, as written by the host):
//
//   FileHeader (kHeaderBytes bytes)
//   records...
//
// A record is a RecordHeader, then `fieldCount` 64-bit fields, then, for a
// kind with text, the text's bytes and a NUL, padded with NULs to a multiple
// of 8. RecordHeader.size counts all of it, so a reader skips a record
// without knowing its kind. Records of one thread are in time order; records
// of different threads interleave by buffer, so readers sort by time.
constexpr char kMagic[8] = {'M', 'P', 'S', '+', '+', 'E', 'V', 'T'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::uint32_t kByteOrderMark = 0x01020304;
constexpr std::uint32_t kHeaderBytes = 64;
constexpr std::uint32_t kRecordAlign = 8;
constexpr std::uint32_t kMaxTextBytes = 256;  // including the NUL (telemetry.md)

struct FileHeader {
  char magic[8];
  std::uint32_t version;         // kFormatVersion
  std::uint32_t headerBytes;     // kHeaderBytes
  std::uint32_t byteOrderMark;   // kByteOrderMark, as the writer stored it
  std::uint32_t wordBytes;       // sizeof(void*) of the writer
  std::uint64_t tableHash;       // tableHash() of the writer's table
  std::uint64_t ticksPerSecond;  // units of RecordHeader.time
  std::uint64_t startTime;       // time of the first possible event, same units
  std::uint64_t startWallNs;     // wall clock (Unix epoch, ns) at startTime
  std::uint64_t processId;
};
static_assert(sizeof(FileHeader) <= kHeaderBytes);

struct RecordHeader {
  std::uint16_t code;    // an EventKind
  std::uint16_t size;    // bytes of the record, this header included
  std::uint32_t thread;  // small number of the writing thread, from 1
  std::uint64_t time;    // FileHeader.ticksPerSecond units, monotonic
};
static_assert(sizeof(RecordHeader) == 16);

// Categories: the bits of the telemetry filter (telemetry.md).
enum class Category : std::uint8_t { arena = 0, pool, trace, seg, ref, object, user };
constexpr unsigned kCategoryCount = 7;
constexpr const char* kCategoryNames[kCategoryCount] = {"arena", "pool",   "trace", "seg",
                                                        "ref",   "object", "user"};
// Critical-path categories are compiled into the checked build only.
constexpr bool criticalPath(Category c) {
  return c == Category::ref || c == Category::object;
}

// X(Name, code, category, hasText, "field names, space separated")
//
// Codes are never reused: a retired kind keeps its number. Times of pauses
// and phases are durations in the stream's ticks. A "trace" is the arena's
// count of collections started, from 1. `gen` is the generation's index in
// its chain, `chain` its chain's address (0 for the arena's top generation).
// TraceGeneration.promoted: bytes that arrived in the next generation during
// the trace (survivors moved up; 0 for the last generation).
// TraceWorker.bytesScanned: bytes of objects and segments the worker scanned
// (roots aside).
// One row per line or two, aligned by hand, for readable diffs.
// clang-format off
#define MPS_EVENT_KINDS(X)                                                                 \
  /* arena */                                                                              \
  X(ArenaCreate, 1, arena, false, "arena reserved commitLimit clientArena")                \
  X(ArenaDestroy, 2, arena, false, "arena")                                                \
  X(ChunkCreate, 3, arena, false, "arena base size")                                       \
  X(ChunkDestroy, 4, arena, false, "arena base size")                                      \
  X(CommitChange, 5, arena, false, "arena committed spare commitLimit")                    \
  /* pool */                                                                               \
  X(PoolCreate, 20, pool, true, "arena pool format")                                       \
  X(PoolDestroy, 21, pool, false, "arena pool")                                            \
  X(ChainCreate, 22, pool, false, "arena chain generations")                               \
  X(GenerationSize, 23, pool, false, "arena chain gen capacity size newSize")              \
  /* trace */                                                                              \
  X(TraceStart, 40, trace, true, "arena trace chain topGen all condemned")                 \
  X(TraceCondemn, 41, trace, false, "arena trace chain gen condemned")                     \
  X(TraceFlip, 42, trace, false, "arena trace rootsScanned")                               \
  X(TracePhase, 43, trace, false, "arena trace rank duration segmentsScanned")             \
  X(TraceWorker, 44, trace, false,                                                         \
    "arena trace worker objectsScanned objectsMarked bytesScanned")                        \
  X(TraceGeneration, 45, trace, false,                                                     \
    "arena trace chain gen condemned survived promoted")                                   \
  X(TracePause, 46, trace, false, "arena trace kind duration")                             \
  X(TraceEnd, 47, trace, false,                                                            \
    "arena trace condemned notCondemned preserved reclaimed duration pauseTotal pauseMax " \
    "pauseCount workers finalized")                                                        \
  /* seg */                                                                                \
  X(SegCreate, 60, seg, false, "arena pool base size")                                     \
  X(SegFree, 61, seg, false, "arena pool base size")                                       \
  X(BarrierFault, 62, seg, false, "arena address segBase mode")                            \
  /* ref: checked build only */                                                            \
  X(FixAmbiguous, 80, ref, false, "arena ref")                                             \
  /* object: checked build only */                                                         \
  X(ObjectAlloc, 100, object, false, "pool address size")                                  \
  X(ObjectFree, 101, object, false, "pool address size")                                   \
  X(BufferFill, 102, object, false, "pool base size")                                      \
  /* user */                                                                               \
  X(Intern, 120, user, true, "label")                                                      \
  X(Label, 121, user, false, "address label")                                              \
  /* stream housekeeping (always written when the stream is on) */                         \
  X(StreamFlush, 140, user, false, "bytesWritten eventsDropped")
// clang-format on

// TracePause.kind
enum class PauseKind : std::uint8_t { flip = 0, increment, barrier, finish };
constexpr const char* kPauseKindNames[] = {"flip", "increment", "barrier", "finish"};

enum class EventKind : std::uint16_t {
#define MPS_EVENT_ENUM(name, code, category, text, fields) name = code,
  MPS_EVENT_KINDS(MPS_EVENT_ENUM)
#undef MPS_EVENT_ENUM
};

struct KindInfo {
  const char* name;
  std::uint16_t code;
  Category category;
  bool hasText;
  const char* fields;  // space separated
};

constexpr KindInfo kKinds[] = {
#define MPS_EVENT_INFO(name, code, category, text, fields) \
  {#name, code, Category::category, text, fields},
    MPS_EVENT_KINDS(MPS_EVENT_INFO)
#undef MPS_EVENT_INFO
};

constexpr unsigned fieldCount(const char* fields) {
  if (*fields == '\0') return 0;
  unsigned n = 1;
  for (const char* p = fields; *p != '\0'; ++p)
    if (*p == ' ') ++n;
  return n;
}

constexpr const KindInfo* findKind(std::uint16_t code) {
  for (const KindInfo& k : kKinds)
    if (k.code == code) return &k;
  return nullptr;
}

// FNV-1a over every row: a reader built from another table refuses a stream
// whose kinds may mean something else.
constexpr std::uint64_t tableHash() {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](const char* s) {
    for (; *s != '\0'; ++s) {
      h ^= static_cast<unsigned char>(*s);
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const KindInfo& k : kKinds) {
    mix(k.name);
    mix(k.fields);
    h ^= k.code | (unsigned(k.category) << 16) | (unsigned(k.hasText) << 24);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace mps::event
