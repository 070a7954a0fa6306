// AMC and AMCZ: automatic mostly-copying pools (pools-amc.md; design in
// manual/design/amc.md).
//
// Objects are copied by the collector through the client's format (skip,
// fwd, isfwd, pad) from the segments of the condemned generations into
// to-space segments of the next generation. An object an ambiguous
// reference designates is *pinned*: it stays where it is, and so does its
// segment, whose other survivors are still copied out (design/amc.md
// .amc.pin; the reference nails whole segments instead). AMCZ is AMC with
// leaf objects:
// its segments hold no references, are never scanned, and its allocation
// points are never trapped.
//
// Layout invariant (.amc.parse): objects and padding objects tile each
// segment from its base, up to the attached buffer's committed end, or to
// the segment's limit if no buffer is attached; the pool pads buffer tails
// and to-space tails with the format's pad method. So a segment always
// parses with skip.
//
// Side table (.amc.state): one byte per alignment grain, indexed by the
// block base of an object or a pad:
//   kNone  an object (or a grain inside one);
//   kBusy  a worker has claimed the object and is copying it;
//   kMoved the object has been copied and its old copy holds the client's
//          forwarding marker (only in condemned segments during a trace,
//          and in kept ones until reclaim pads it);
//   kPad   a padding object the pool wrote (never reported as an object);
//   kPinned the object stays where it is for this trace (an ambiguous
//          reference, a large object, or no to-space to copy it to).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "arena/buffer.hpp"
#include "arena/segment.hpp"
#include "protect/pagealloc.hpp"
#include "tracer/autopool.hpp"
#include "tracer/scan.hpp"
#include "tracer/trace.hpp"

namespace mps::core {

extern const PoolClass kPoolClassAMC;
extern const PoolClass kPoolClassAMCZ;

class AMCPool;

class AMCSegment final : public Segment {
 public:
  static constexpr Sig kAMCSig = 0x519A3C5Eu;
  enum State : std::uint8_t { kNone = 0, kBusy = 1, kMoved = 2, kPad = 3, kPinned = 4 };

  AMCSegment(AMCPool* pool, Addr base, Addr limit, std::uint8_t* states, Shift alignShift);
  ~AMCSegment() override = default;

  Res whiten(Trace* trace) override;
  Res fix(ScanState* ss, Addr* refIO) override;
  Res fixWeak(ScanState* ss, Addr* refIO) override;
  bool isPreserved(Addr ref) const override;
  Res scan(ScanState* ss) override;
  Res scanGrey(ScanState* ss) override;
  // Only its pinned objects stay where the mutator can reach them.
  bool reachableWhileWhite() const override { return hasPinned_.load(std::memory_order_relaxed); }
  Res scanObject(ScanState* ss, Addr object) override;
  bool reclaim(Trace* trace) override;
  void release() override;
  void walk(ObjectVisitor f, void* closure) override;
  bool isObject(Addr p) const override;
  bool findObject(Addr p, Addr* clientOut) override { return objectContaining(p, clientOut); }
  bool check() const override;

  // The end of the objects that parse: the attached buffer's committed end,
  // or the limit.
  Addr objectsLimit() const { return buffer != nullptr ? buffer->scanLimit() : limit; }
  // The client address of the object whose block holds `p`, if `p` lies in
  // a live object (not a pad, not a moved old copy).
  bool objectContaining(Addr p, Addr* clientOut) const;
  // Writes a padding object over [from, to) and records it.
  void pad(Addr from, Addr to);

  Sig amcSig = kAMCSig;

 private:
  friend class AMCPool;
  Size indexOf(Addr blockBase) const { return Size(blockBase - base) >> alignShift_; }
  std::atomic_ref<std::uint8_t> stateAt(Addr blockBase) const {
    return std::atomic_ref<std::uint8_t>(states_[indexOf(blockBase)]);
  }
  // Scans every object of an uncondemned segment in one call of the
  // format's scan method.
  Res scanWhole(ScanState* ss);
  // The block an ambiguous reference designates (its base, or with
  // MPS_KEY_INTERIOR any address inside), or null.
  Addr blockAt(ScanState* ss, Addr ref);
  // Pins the object at `blockBase` unless it has already moved.
  void pin(ScanState* ss, Addr blockBase);
  // The object at `blockBase` stays in place: the segment is kept, the
  // object is grey.
  void kept(ScanState* ss, Addr blockBase);
  // Client-address start table for isObject (checked builds' verifier and
  // mps_addr_object), rebuilt when the layout changed.
  void buildStarts() const;
  // The grain of the last object start at or before grain i (the start
  // table must be built), or kNoStart.
  static constexpr Size kNoStart = ~Size(0);
  Size lastStartAtOrBefore(Size i) const;

  AMCPool* amcPool_;
  std::uint8_t* states_;
  Shift alignShift_;
  Addr condemnLimit_ = nullptr;         // objects in [base, condemnLimit_) are white
  std::atomic<bool> hasPinned_{false};  // holds pinned objects this trace: kept
  std::atomic<bool> moved_{false};      // some object was copied out this trace
  bool large_ = false;                  // holds one large object: never copied
  bool toSpace_ = false;                // a worker is copying into it (not parsable yet)
  // A to-space segment carried over from the last trace (.amc.carry):
  // objects before oldLimit_ were there when this trace began and are
  // scanned as its remembered set; those after are copies of this trace.
  // Set by traceBegin, cleared by traceEnd, unchanged in between.
  Addr oldLimit_ = nullptr;
  bool high_ = false;  // taken from the top of the arena (.amc.zones)
  Size layout_ = 0;    // bumped whenever the layout changes
  // Built during collections, while mutators are stopped: not on the C heap
  // (protect/pagealloc.hpp says why).
  mutable std::vector<Word, PageAllocator<Word>> starts_;
  mutable Size startsLayout_ = ~Size(0);
  mutable Addr startsLimit_ = nullptr;
};

class AMCPool final : public AutoPool {
 public:
  static constexpr Size kDefaultExtendBy = 8192;
  static constexpr Size kDefaultLargeSize = 32768;
  // Segments are at least this large whatever MPS_KEY_EXTEND_BY says (it is
  // a minimum): fewer fills and fewer segments to condemn. A pinned object
  // keeps at most this much in place (the rest of its segment as padding).
  static constexpr Size kMinSegmentSize = Size(64) << 10;
  // Buffer flag (Buffer::poolFlags): MPS_KEY_AP_HASH_ARRAYS.
  static constexpr unsigned kBufferHashArrays = 1;
  // The buffer's window counted towards its generation's new size when it
  // was filled (not for hash arrays, nor during a ramp: allocation.md), so
  // its unused tail is taken off again when it is emptied.
  static constexpr unsigned kBufferWindowCounted = 2;

  AMCPool(Arena* arena, const PoolClass* poolClass) : AutoPool(arena, poolClass) {}
  ~AMCPool() override;

  Res init(const mps_arg_s* args);
  Res bufferInit(Buffer* buffer, const mps_arg_s* args) override;
  Res bufferFill(Buffer* buffer, Size size) override;
  void bufferEmpty(Buffer* buffer) override;
  Size totalSize() const override { return totalSize_; }
  Size freeSize() const override;
  Size releaseCached() override;
  void traceBegin(Trace* trace) override;
  void traceEnd(Trace* trace, bool abandoned) override;
  void traceGoesParallel(Trace* trace) override;
  void traceYield(Trace* trace) override;
  void traceResume(Trace* trace) override;
  bool check() const override;

  bool leaf() const { return leaf_; }
  bool interior() const { return interior_; }
  Format* fmt() const { return format_; }

  // Copies the white object `ref` of `from` into the worker's to-space for
  // the next generation, calls the format's fwd on the old copy, and
  // returns the new address and its segment (null if no to-space memory
  // could be had).
  Addr copy(Worker* worker, AMCSegment* from, Addr ref, AMCSegment** toSegOut);
  // A reclaim left `seg` empty: cache it or give it back to the arena.
  void segmentEmptied(AMCSegment* seg);

  static void varargs(mps_arg_s* args, va_list ap);

 private:
  friend class AMCSegment;
  struct ToSpace {
    AMCSegment* seg = nullptr;
    Addr alloc = nullptr;
    Addr limit = nullptr;
    Size copied = 0;  // bytes copied into this generation by this worker
    // Of those, bytes copied from this same generation (the last one of a
    // chain collects into itself); the others came from the one below.
    Size copiedWithin = 0;
  };
  // A segment for `gen`: from the cache of empty segments if one fits,
  // else from the arena.
  Res newSegment(AMCSegment** segOut, Size size, Generation* gen);
  // The most bytes of empty segments the cache keeps between traces.
  Size cacheLimit() const;
  // Makes sure the arena has address space for a parallel trace's to-space.
  void reserveToSpace(Trace* trace);
  void freeSegment(AMCSegment* seg);
  // Closes the worker's to-space buffer (pads its tail) and opens one with
  // room for `size` bytes. False if the arena refused the memory.
  bool refill(ToSpace* ts, Size size, Generation* gen, Worker* worker);
  void close(ToSpace* ts);
  Generation* promotionOf(const Generation* gen) const;
  // Where the copies in the to-space segment `seg` end (its workers'
  // allocation pointer), or null if no worker is copying into it.
  Addr toSpaceEnd(const AMCSegment* seg) const;

  bool leaf_ = false;
  bool interior_ = true;
  Shift alignShift_ = 3;
  Size segSize_ = kMinSegmentSize;
  Size largeSize_ = kDefaultLargeSize;
  Size totalSize_ = 0;
  // [worker * generations + generation]; set up while mutators are stopped.
  std::vector<ToSpace, PageAllocator<ToSpace>> toSpace_;
  // .amc.carry: per generation, the to-space segment the last trace left
  // with room, and where that room begins (padded between traces).
  std::vector<ToSpace, PageAllocator<ToSpace>> carry_;
  // The least room worth carrying over to the next trace.
  static constexpr Size kMinCarry = Size(2) << 10;
  std::atomic<bool> toSpaceExhausted_{false};  // this trace found no more
  // reserveToSpace: the condemned bytes that may survive, counted at the
  // first reservation of a trace.
  static constexpr Size kWorstCaseUnknown = ~Size(0);
  Size toSpaceWorstCase_ = kWorstCaseUnknown;
  Size generations_ = 0;
  // Empty segments of segSize_, linked by poolRing: [0] from the bottom of
  // the arena (for the nursery), [1] from the top (.amc.zones).
  Ring<Segment> cache_[2] = {Ring<Segment>{nullptr}, Ring<Segment>{nullptr}};
  Size cachedBytes_ = 0;
};

}  // namespace mps::core
