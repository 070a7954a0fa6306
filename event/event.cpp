// The telemetry event stream's writer (manual/design/event.md).
//
// .event.buffers: each thread appends records to a buffer of its own, held
// in a slot of a fixed table, without a lock. A full buffer is pushed on the
// pending stack (lock-free) and the thread continues in a fresh one; pending
// buffers are written to the stream through the plinth (mps_io_write) by a
// thread that holds the stream's lock, which is only ever try-locked except
// by explicit flushes outside a NoBlockScope. Buffers come from mmap, never
// from malloc, so that a thread may append in a signal handler or while
// other threads are stopped inside malloc.
//
// .event.slot: a slot's state word says who may touch its buffer pointer:
// its thread while appending (writing), a flusher while taking a partial
// buffer away (flushing), nobody (idle). Each holds it for a few
// instructions only; I/O happens on buffers no slot points at. A thread
// that finds its slot being flushed (the flusher was stopped in those few
// instructions) drops its event and counts it rather than wait.
//
// .event.order: a thread's records reach the stream in its order: its full
// buffers are pushed before it writes into the next, the pending stack is
// written oldest first, and a flusher drains the pending stack again after
// taking a partial buffer and before writing it.
#include "event/event.hpp"

#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "mpsio.h"
#include "mpslib.h"

namespace mps::event {

std::atomic<Filter> gFilter{~Filter(0)};

namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;

struct Buffer {
  Buffer* next;           // on the pending stack
  std::uint32_t used;     // bytes of records in data
  std::uint32_t records;  // how many, for the count of drops if writing fails
  alignas(8) unsigned char data[kBufferBytes - 16];
};
static_assert(sizeof(Buffer) == kBufferBytes);
constexpr std::uint32_t kCapacity = sizeof(Buffer::data);

// .event.buffers.reuse: written buffers are kept for reuse, up to
// kSpareBuffers of them: a fresh mapping costs a system call and a page
// fault per page, and unmapping one a TLB shootdown, several microseconds
// each in a virtual machine. Lock-free: a thread takes the whole free list
// (an exchange, so no ABA) and puts back what it does not use.
constexpr unsigned kSpareBuffers = 16;
std::atomic<Buffer*> gFree{nullptr};
std::atomic<unsigned> gFreeCount{0};  // about how many are on gFree

// Pushes the chain first..last (linked by next) on `list`.
void pushChain(std::atomic<Buffer*>& list, Buffer* first, Buffer* last) {
  Buffer* head = list.load(std::memory_order_relaxed);
  do {
    last->next = head;
  } while (!list.compare_exchange_weak(head, first, std::memory_order_release,
                                       std::memory_order_relaxed));
}

Buffer* newBuffer() {
  if (Buffer* b = gFree.exchange(nullptr, std::memory_order_acquire); b != nullptr) {
    gFreeCount.fetch_sub(1, std::memory_order_relaxed);
    if (Buffer* rest = b->next; rest != nullptr) {
      Buffer* last = rest;
      while (last->next != nullptr)
        last = last->next;
      pushChain(gFree, rest, last);
    }
    b->next = nullptr;
    b->used = 0;
    b->records = 0;
    return b;
  }
  void* p =
      ::mmap(nullptr, sizeof(Buffer), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return static_cast<Buffer*>(p);  // zero-filled: next, used and records are 0
}

void freeBuffer(Buffer* b) {
  if (gFreeCount.fetch_add(1, std::memory_order_relaxed) < kSpareBuffers) {
    pushChain(gFree, b, b);
    return;
  }
  gFreeCount.fetch_sub(1, std::memory_order_relaxed);
  ::munmap(b, sizeof(Buffer));
}

enum : std::uint32_t { kIdle, kWriting, kFlushing };

struct Slot {
  std::atomic<std::uint32_t> state{kIdle};
  std::atomic<bool> owned{false};
  std::uint32_t thread = 0;  // the owner's number (written by the owner only)
  Buffer* buffer = nullptr;  // under state
};

// Threads writing at once beyond this many drop their events.
constexpr unsigned kSlots = 1024;
Slot gSlots[kSlots];
std::atomic<unsigned> gSlotsUsed{0};  // slots [0, gSlotsUsed) have been claimed once
std::atomic<std::uint32_t> gThreads{0};

std::atomic<Buffer*> gPending{nullptr};
std::atomic<std::uint64_t> gDropped{0};

enum : int { kUnopened, kOpen, kFailed, kClosed };
std::atomic<int> gStream{kUnopened};
std::mutex gLock;              // the stream: gIo, gBytes and every write
mps_io_t gIo = nullptr;        // under gLock
std::uint64_t gBytes = 0;      // written to the stream, under gLock
std::uint64_t gStartTime = 0;  // set with the filter
std::uint64_t gStartWallNs = 0;

// The filter's initial value is read once, on first use (a client plinth
// must not be called before main).
enum : int { kFilterUnread, kFilterReading, kFilterRead };
std::atomic<int> gFilterState{kFilterUnread};

thread_local Slot* tSlot = nullptr;
thread_local int tNoBlock = 0;
// NoBlockScope(allThreads) in force (a collection holds threads stopped).
std::atomic<int> gNoBlock{0};

bool noBlock() {
  return tNoBlock > 0 || gNoBlock.load(std::memory_order_relaxed) > 0;
}

pthread_key_t gExitKey;
void releaseSlot(void* slot);
const bool gExitKeyMade = pthread_key_create(&gExitKey, &releaseSlot) == 0;

std::uint64_t clockNs(clockid_t clock) {
  struct timespec t;
  ::clock_gettime(clock, &t);
  return std::uint64_t(t.tv_sec) * 1000000000u + std::uint64_t(t.tv_nsec);
}

void drop(std::uint64_t n = 1) {
  gDropped.fetch_add(n, std::memory_order_relaxed);
}

// Whether the filter has been read; reads it if no other thread is at it.
bool readFilter() {
  int state = gFilterState.load(std::memory_order_acquire);
  if (state == kFilterRead) return true;
  if (state == kFilterUnread &&
      gFilterState.compare_exchange_strong(state, kFilterReading, std::memory_order_acquire)) {
    gStartTime = clockNs(CLOCK_MONOTONIC);
    gStartWallNs = clockNs(CLOCK_REALTIME);
    gFilter.store(Filter(mps_lib_telemetry_control()), std::memory_order_relaxed);
    gFilterState.store(kFilterRead, std::memory_order_release);
    return true;
  }
  // Another thread is reading it. It may have been stopped there by a
  // collection: in a NoBlockScope, not yet; elsewhere, wait for it.
  while (gFilterState.load(std::memory_order_acquire) != kFilterRead) {
    if (noBlock()) return false;
    std::this_thread::yield();
  }
  return true;
}

void pushPending(Buffer* b) {
  pushChain(gPending, b, b);
}

// Under gLock.
void writeLocked(const void* bytes, std::size_t size, std::uint32_t records) {
  if (gStream.load(std::memory_order_relaxed) != kOpen ||
      mps_io_write(gIo, const_cast<void*>(bytes), size) != MPS_RES_OK) {
    drop(records);
    return;
  }
  gBytes += size;
}

void writeBufferLocked(Buffer* b) {
  if (b->used > 0) writeLocked(b->data, b->used, b->records);
  freeBuffer(b);
}

// Under gLock: writes the pending buffers, oldest first.
void drainPendingLocked() {
  Buffer* b = gPending.exchange(nullptr, std::memory_order_acquire);
  Buffer* oldest = nullptr;
  while (b != nullptr) {
    Buffer* next = b->next;
    b->next = oldest;
    oldest = b;
    b = next;
  }
  while (oldest != nullptr) {
    Buffer* next = oldest->next;
    writeBufferLocked(oldest);
    oldest = next;
  }
}

// .event.open: one report through the plinth, and telemetry stays off.
void reportOpenFailure() {
  mps_lib_fputs(
      "MPS++: the telemetry stream could not be opened (mps_io_create failed: "
      "is MPS_TELEMETRY_FILENAME writable?); telemetry is off.\n",
      mps_lib_get_stderr());
}

void closeAtExit() {
  flush();
  std::lock_guard<std::mutex> guard(gLock);
  if (gStream.load(std::memory_order_relaxed) != kOpen) return;
  gStream.store(kClosed, std::memory_order_release);
  mps_io_destroy(gIo);
  gIo = nullptr;
}

// Outside a NoBlockScope.
void open() {
  std::lock_guard<std::mutex> guard(gLock);
  if (gStream.load(std::memory_order_relaxed) != kUnopened) return;
  mps_io_t io = nullptr;
  if (mps_io_create(&io) != MPS_RES_OK) {
    gStream.store(kFailed, std::memory_order_release);
    gFilter.store(0, std::memory_order_relaxed);
    // What was buffered will never be written.
    for (Buffer* b = gPending.exchange(nullptr, std::memory_order_acquire); b != nullptr;) {
      Buffer* next = b->next;
      freeBuffer(b);
      b = next;
    }
    reportOpenFailure();
    return;
  }
  gIo = io;
  FileHeader header;
  std::memset(&header, 0, sizeof header);
  std::memcpy(header.magic, kMagic, sizeof header.magic);
  header.version = kFormatVersion;
  header.headerBytes = kHeaderBytes;
  header.byteOrderMark = kByteOrderMark;
  header.wordBytes = sizeof(void*);
  header.tableHash = tableHash();
  header.ticksPerSecond = kTicksPerSecond;
  header.startTime = gStartTime;
  header.startWallNs = gStartWallNs;
  header.processId = std::uint64_t(::getpid());
  unsigned char bytes[kHeaderBytes] = {};
  std::memcpy(bytes, &header, sizeof header);
  gStream.store(kOpen, std::memory_order_release);
  writeLocked(bytes, sizeof bytes, 0);
  std::atexit(&closeAtExit);
}

// Writes what is pending if the stream's lock is free (never waits).
void tryDrain() {
  if (gStream.load(std::memory_order_acquire) == kUnopened) {
    if (noBlock()) return;
    open();
  }
  if (gPending.load(std::memory_order_relaxed) == nullptr || !gLock.try_lock()) return;
  drainPendingLocked();
  gLock.unlock();
}

Slot* claimSlot() {
  unsigned used = gSlotsUsed.load(std::memory_order_acquire);
  for (unsigned i = 0; i < kSlots; ++i) {
    Slot& s = gSlots[i];
    bool free = false;
    if (!s.owned.load(std::memory_order_relaxed) &&
        s.owned.compare_exchange_strong(free, true, std::memory_order_acquire)) {
      while (i >= used &&
             !gSlotsUsed.compare_exchange_weak(used, i + 1, std::memory_order_release)) {
      }
      s.thread = gThreads.fetch_add(1, std::memory_order_relaxed) + 1;
      tSlot = &s;
      // Flushes the slot's buffer when the thread exits.
      if (gExitKeyMade) ::pthread_setspecific(gExitKey, &s);
      return &s;
    }
  }
  return nullptr;
}

// Takes the slot's buffer away (the slot is then idle with no buffer).
// Waits for the slot's owner only if `wait`; returns false if it did not.
bool takeBuffer(Slot& s, Buffer** out, bool wait) {
  for (unsigned spins = 0;; ++spins) {
    std::uint32_t idle = kIdle;
    if (s.state.compare_exchange_strong(idle, kFlushing, std::memory_order_acquire)) break;
    if (!wait || spins > 1000) return false;
    std::this_thread::yield();
  }
  *out = s.buffer;
  s.buffer = nullptr;
  s.state.store(kIdle, std::memory_order_release);
  return true;
}

// The thread exits (pthread key destructor): its buffer joins the pending
// ones and its slot is free for another thread.
void releaseSlot(void* p) {
  Slot* s = static_cast<Slot*>(p);
  Buffer* b = nullptr;
  if (takeBuffer(*s, &b, true) && b != nullptr) {
    if (b->used > 0)
      pushPending(b);
    else
      freeBuffer(b);
  }
  tSlot = nullptr;
  s->owned.store(false, std::memory_order_release);
  tryDrain();
}

// .event.slot: the thread's own slot is being flushed by another thread,
// which lets go within a few instructions unless it was stopped there by a
// collection or descheduled. Outside a NoBlockScope the thread waits for it
// (a stopped flusher runs again once the collection ends); inside one, only
// briefly. A slot the thread is writing itself (a signal handler
// interrupting an append) is never waited for.
bool claimContended(Slot* s) {
  for (unsigned spins = 0;; ++spins) {
    std::uint32_t state = s->state.load(std::memory_order_relaxed);
    if (state == kWriting) return false;
    if (state == kIdle &&
        s->state.compare_exchange_strong(state, kWriting, std::memory_order_acquire))
      return true;
    if (noBlock() && spins > 4096) return false;
    if (spins > 64) std::this_thread::yield();
  }
}

// Whether events can be recorded now (the stream is open, or will be).
bool streamUsable() {
  int state = gStream.load(std::memory_order_acquire);
  if (state == kOpen) return true;
  if (state != kUnopened) return false;
  // .event.open: at the first event after the filter becomes non-zero. In
  // a NoBlockScope the events are kept until it can be opened.
  if (!noBlock()) open();
  state = gStream.load(std::memory_order_acquire);
  return state == kOpen || state == kUnopened;
}

// Writes a record of `kind` with the current time at `to`.
void encode(unsigned char* to, std::uint16_t size, std::uint32_t thread, EventKind kind,
            unsigned fieldCount, const std::uint64_t* fields, const char* text,
            std::size_t textLength) {
  RecordHeader h{std::uint16_t(kind), size, thread, now()};
  std::memcpy(to, &h, sizeof h);
  to += sizeof h;
  // Word by word: a few fixed-size stores rather than a call to memcpy.
  for (unsigned i = 0; i < fieldCount; ++i, to += sizeof(std::uint64_t))
    std::memcpy(to, &fields[i], sizeof(std::uint64_t));
  if (text != nullptr) {
    std::size_t padded = size - sizeof h - fieldCount * sizeof(std::uint64_t);
    std::memcpy(to, text, textLength);
    std::memset(to + textLength, 0, padded - textLength);
  }
}

std::size_t textLengthOf(const char* text) {
  if (text == nullptr) return 0;
  std::size_t n = 0;
  while (n < kMaxTextBytes - 1 && text[n] != '\0')
    ++n;
  return n;
}

std::uint16_t recordSize(unsigned fieldCount, const char* text, std::size_t textLength) {
  std::size_t size = sizeof(RecordHeader) + fieldCount * sizeof(std::uint64_t);
  if (text != nullptr) size += (textLength + 1 + kRecordAlign - 1) & ~std::size_t(kRecordAlign - 1);
  return std::uint16_t(size);
}

}  // namespace

std::uint64_t now() {
  return clockNs(CLOCK_MONOTONIC);
}

std::uint64_t droppedCount() {
  return gDropped.load(std::memory_order_relaxed);
}

Filter filter() {
  readFilter();
  return gFilter.load(std::memory_order_relaxed);
}

void setFilter(Filter mask) {
  readFilter();
  gFilter.fetch_or(mask, std::memory_order_relaxed);
}

void resetFilter(Filter mask) {
  readFilter();
  gFilter.fetch_and(~mask, std::memory_order_relaxed);
}

void append(EventKind kind, unsigned fieldCount, const std::uint64_t* fields, const char* text) {
  if (MPS_UNLIKELY(gFilterState.load(std::memory_order_acquire) != kFilterRead)) {
    // The first event of the process: the filter was all ones until now.
    if (!readFilter()) return drop();
    if ((gFilter.load(std::memory_order_relaxed) & categoryBit(kindInfo(kind).category)) == 0)
      return;
  }
  if (MPS_UNLIKELY(!streamUsable())) return drop();
  std::size_t textLength = textLengthOf(text);
  std::uint16_t size = recordSize(fieldCount, text, textLength);
  Slot* s = tSlot;
  if (MPS_UNLIKELY(s == nullptr)) {
    s = claimSlot();
    if (s == nullptr) return drop();
  }
  std::uint32_t idle = kIdle;
  if (MPS_UNLIKELY(!s->state.compare_exchange_strong(idle, kWriting, std::memory_order_acquire)) &&
      !claimContended(s)) {
    return drop();
  }
  Buffer* b = s->buffer;
  bool handedOn = false;
  if (MPS_UNLIKELY(b == nullptr || b->used + size > kCapacity)) {
    Buffer* fresh = newBuffer();
    if (fresh == nullptr) {
      s->state.store(kIdle, std::memory_order_release);
      return drop();
    }
    if (b != nullptr) {
      pushPending(b);
      handedOn = true;
    }
    s->buffer = b = fresh;
  }
  encode(b->data + b->used, size, s->thread, kind, fieldCount, fields, text, textLength);
  b->used += size;
  ++b->records;
  s->state.store(kIdle, std::memory_order_release);
  if (handedOn && !noBlock()) tryDrain();
}

void flush() {
  int state = gStream.load(std::memory_order_acquire);
  if (state == kUnopened && !noBlock() && filter() != 0) {
    // Events may be waiting for the stream (kept in a NoBlockScope).
    open();
    state = gStream.load(std::memory_order_acquire);
  }
  if (state != kOpen) return;
  if (noBlock()) {
    tryDrain();
    return;
  }
  std::lock_guard<std::mutex> guard(gLock);
  drainPendingLocked();
  unsigned used = gSlotsUsed.load(std::memory_order_acquire);
  for (unsigned i = 0; i < used; ++i) {
    Buffer* b = nullptr;
    if (!takeBuffer(gSlots[i], &b, true) || b == nullptr) continue;
    drainPendingLocked();  // .event.order
    writeBufferLocked(b);
  }
  // The flush's own record, written directly: bytes before it, drops so far.
  unsigned char record[sizeof(RecordHeader) + 2 * sizeof(std::uint64_t)];
  std::uint64_t fields[2] = {gBytes, droppedCount()};
  Slot* s = tSlot != nullptr ? tSlot : claimSlot();
  encode(record, sizeof record, s != nullptr ? s->thread : 0, EventKind::StreamFlush, 2, fields,
         nullptr, 0);
  writeLocked(record, sizeof record, 1);
  if (gStream.load(std::memory_order_relaxed) == kOpen) (void)mps_io_flush(gIo);
}

NoBlockScope::NoBlockScope(Extent extent) : extent_(extent) {
  ++tNoBlock;
  if (extent_ == allThreads) gNoBlock.fetch_add(1, std::memory_order_relaxed);
}

NoBlockScope::~NoBlockScope() {
  if (extent_ == allThreads) gNoBlock.fetch_sub(1, std::memory_order_relaxed);
  --tNoBlock;
}

void writePending() {
  if (!noBlock() && gPending.load(std::memory_order_relaxed) != nullptr) tryDrain();
}

}  // namespace mps::event
