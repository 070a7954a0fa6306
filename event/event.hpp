// The telemetry event stream's writer (manual/design/event.md).
//
//   MPS_EVENT(TraceStart, arena, trace, chain, topGen, all, condemned, why);
//
// emits one record of a kind of the table in event/eventdef.hpp: its fields
// in the table's order, then, for a kind with text, the text. The number of
// arguments is checked against the table at compile time. A category that
// is not compiled in (ref and object outside the checked build, as in MPS)
// costs nothing; one that is compiled in but filtered out costs one relaxed
// load and one bit test; an enabled one an out-of-line append to the
// calling thread's buffer, with no lock.
//
// Non-blocking contexts (.event.noblock): while the collector holds the
// mutator threads stopped, or inside the protection-fault handler, a thread
// must never wait for the stream's lock (a stopped thread may hold it, or be
// inside the plinth's mps_io_write holding stdio's lock) nor reach malloc.
// Such code runs inside a NoBlockScope: its events are appended as usual,
// full buffers are queued without a lock, and they are written once a
// thread outside such a scope next can.
#pragma once

#include <atomic>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "base/config.hpp"
#include "event/eventdef.hpp"

namespace mps::event {

using Filter = std::uintptr_t;  // mps_word_t

// The filter word: bit c enables category c (telemetry.md). It starts with
// every bit set, so that the first event of the process, whatever its
// category, takes the slow path, which reads the initial filter through the
// plinth (mps_lib_telemetry_control) and then decides.
extern std::atomic<Filter> gFilter;

constexpr Filter categoryBit(Category c) {
  return Filter(1) << unsigned(c);
}

constexpr const KindInfo& kindInfo(EventKind kind) {
  for (const KindInfo& k : kKinds)
    if (k.code == std::uint16_t(kind)) return k;
  return kKinds[0];  // unreachable: every EventKind has a row
}

// Whether events of `kind` are compiled into this build.
constexpr bool compiledIn(EventKind kind) {
  return MPS_CHECKED || !criticalPath(kindInfo(kind).category);
}

MPS_FORCE_INLINE bool enabled(EventKind kind) {
  return (gFilter.load(std::memory_order_relaxed) & categoryBit(kindInfo(kind).category)) != 0;
}

// The filter, as the client sees it (read through the plinth first if no
// event or telemetry call has yet).
Filter filter();
void setFilter(Filter mask);
void resetFilter(Filter mask);

// Appends one record to the calling thread's buffer (opening the stream
// first if need be). `text` is null for kinds without text; it is cut at
// kMaxTextBytes - 1 characters.
MPS_NOINLINE void append(EventKind kind, unsigned fieldCount, const std::uint64_t* fields,
                         const char* text);

// Writes every thread's buffered events to the stream, then a StreamFlush
// record, then calls the plinth's mps_io_flush. Inside a NoBlockScope, only
// what can be written without waiting is.
void flush();

// The stream's clock: CLOCK_MONOTONIC in nanoseconds (FileHeader
// .ticksPerSecond is 1e9). Async-signal-safe.
std::uint64_t now();
constexpr std::uint64_t kTicksPerSecond = 1000000000u;

// Events that could not be recorded (no buffer, a buffer being flushed by a
// stopped thread, the stream closed): reported by StreamFlush.
std::uint64_t droppedCount();

// Writes the buffers filled in a NoBlockScope, if the stream's lock is
// free, outside any such scope (not in a signal handler): the collector
// calls it once the mutators run again.
void writePending();

// .event.noblock: see the header comment. Nests. `allThreads` while the
// collector holds the mutators stopped: its marking workers (and any other
// thread) must not wait for the stream's lock either.
class NoBlockScope {
 public:
  enum Extent { thisThread, allThreads };
  explicit NoBlockScope(Extent extent = thisThread);
  ~NoBlockScope();
  NoBlockScope(const NoBlockScope&) = delete;
  NoBlockScope& operator=(const NoBlockScope&) = delete;

 private:
  Extent extent_;
};

namespace detail {

template <class T>
constexpr std::uint64_t field(T value) {
  if constexpr (std::is_pointer_v<T>)
    return std::uint64_t(reinterpret_cast<std::uintptr_t>(value));
  else if constexpr (std::is_enum_v<T>)
    return std::uint64_t(static_cast<std::underlying_type_t<T>>(value));
  else
    return std::uint64_t(value);
}

template <EventKind K, class Tuple, std::size_t... I>
MPS_FORCE_INLINE void emitFields(const Tuple& args, std::index_sequence<I...>) {
  constexpr KindInfo info = kindInfo(K);
  constexpr unsigned n = fieldCount(info.fields);
  std::uint64_t fields[n == 0 ? 1 : n] = {field(std::get<I>(args))...};
  const char* text = nullptr;
  if constexpr (info.hasText) text = std::get<n>(args);
  append(K, n, fields, text);
}

}  // namespace detail

template <EventKind K, class... Args>
MPS_FORCE_INLINE void emit(const Args&... args) {
  constexpr KindInfo info = kindInfo(K);
  constexpr unsigned n = fieldCount(info.fields);
  static_assert(sizeof...(Args) == n + (info.hasText ? 1 : 0),
                "MPS_EVENT takes the kind's fields (eventdef.hpp), then its text if it has one");
  detail::emitFields<K>(std::forward_as_tuple(args...), std::make_index_sequence<n>());
}

}  // namespace mps::event

// See the header comment. The arguments are evaluated only when the kind's
// category is compiled in and enabled.
#define MPS_EVENT(Kind, ...)                                                         \
  do {                                                                               \
    constexpr ::mps::event::EventKind mpsEventKind_ = ::mps::event::EventKind::Kind; \
    if constexpr (::mps::event::compiledIn(mpsEventKind_)) {                         \
      if (MPS_UNLIKELY(::mps::event::enabled(mpsEventKind_)))                        \
        ::mps::event::emit<mpsEventKind_>(__VA_ARGS__);                              \
    }                                                                                \
  } while (0)

// Whether events of the kind would be recorded: for emission points that
// compute their fields at some cost.
#define MPS_EVENT_ON(Kind)                                    \
  (::mps::event::compiledIn(::mps::event::EventKind::Kind) && \
   ::mps::event::enabled(::mps::event::EventKind::Kind))
