// The non-moving mark-sweep machinery shared by AMS and LO (and later AWL):
// segments with side tables, bump allocation into free runs, atomic marking
// and sweeping. The pool classes in pools/ams and pools/lo add their keyword
// arguments and rank rules on top.
//
// Side tables, one bit per alignment grain of the segment (the pool's
// alignment, at least a word):
//   alloc  the grain belongs to a committed object or to a buffer's window;
//   start  the grain is the first of a committed object (its base, before
//          any in-band header). Recorded when the objects of a buffer are
//          walked with the format's skip method: when the buffer is handed
//          back, and at a flip for the part committed so far. So a reference
//          is an object exactly when its base has a start bit: ambiguous
//          references to free space, to an object's interior or to an
//          uncommitted block are recognised and ignored;
//   mark   set atomically by fix for the current trace.
// A dead object's grains are freed at reclaim, its start bit cleared, so a
// stale ambiguous reference can never resurrect it.
//
// Finding space (ams.md, "Allocation"). The pool links the segments that may
// still have free runs on a ring (`withSpace_`), and each segment remembers
// where its next search starts: between collections free space only shrinks
// (apart from a buffer's unused tail, which resets the start), so a fill
// never rescans what an earlier fill passed, and a segment with no free
// grain left drops off the ring until a reclaim frees some. Segments left
// empty by a reclaim go to a bounded cache instead of back to the arena, so
// the next fills reuse them with their side tables and committed pages.
#pragma once

#include <atomic>

#include "arena/buffer.hpp"
#include "arena/segment.hpp"
#include "base/bittable.hpp"
#include "tracer/autopool.hpp"
#include "tracer/scan.hpp"
#include "tracer/trace.hpp"

namespace mps::core {

class MarkSweepPool;

class MarkSweepSegment final : public Segment {
 public:
  static constexpr Sig kMSSig = 0x519A5E6u;

  MarkSweepSegment(MarkSweepPool* pool, Addr base, Addr limit, Word* tables, Shift alignShift);

  Size grains() const { return grains_; }
  Size freeGrains() const { return freeGrains_; }
  Size indexOf(Addr blockBase) const { return Size(blockBase - base) >> alignShift_; }
  Addr addrOfIndex(Size i) const { return base + (i << alignShift_); }
  // Table words needed for a segment of `grains` grains (all three tables).
  static Size tableWords(Size grains) { return 3 * BitTable::wordsFor(grains); }

  bool wantsCondemn(const Trace* trace) const override;
  bool holdsYoung() const override;
  bool marksPersist() const override;
  Generation* tallyGeneration(const Trace* trace) const override;
  const Generation* condemningGeneration() const override;
  Res whiten(Trace* trace) override;
  Res fix(ScanState* ss, Addr* refIO) override;
  Res fixWeak(ScanState* ss, Addr* refIO) override;
  bool isPreserved(Addr ref) const override;
  void finishFix(ScanState* ss, Addr ref, Rank rank) override;
  Res scan(ScanState* ss) override;
  Res scanGrey(ScanState* ss) override;
  Res scanObject(ScanState* ss, Addr object) override;
  bool reclaim(Trace* trace) override;
  void release() override;
  void walk(ObjectVisitor f, void* closure) override;
  bool isObject(Addr p) const override;
  bool isObjectNow(Addr p) override;
  bool findObject(Addr p, Addr* clientOut) override;
  void bufferFlipped(Buffer* buffer) override;
  bool check() const override;

  // Records the start bits of the objects the attached buffer has
  // committed since the last time (up to `limit`).
  void recordObjects(Addr limit);
  // Takes the grains [first, limit) for a buffer window / gives them back.
  void allocRange(Size first, Size limit);
  void freeRange(Size first, Size limit);
  // Finds a free run of at least `n` grains at or after the search start;
  // extends it to its full length, or to `max` grains if that is less.
  // Remembers a failure, so that requests at least as large skip the
  // segment until its free space grows.
  bool findFreeRun(Size n, Size* firstOut, Size* limitOut, Size max = ~Size(0));
  // Whether any free grain lies at or after the search start.
  bool hasSpaceLeft() const;
  // Calls f(base, limit) for each maximal run of free grains.
  template <class F>
  void forEachFreeRun(F&& f) const {
    for (Size i = alloc_.nextReset(0, grains_); i < grains_;) {
      Size end = alloc_.nextSet(i, grains_);
      f(addrOfIndex(i), addrOfIndex(end));
      i = end < grains_ ? alloc_.nextReset(end, grains_) : grains_;
    }
  }
  // The attached buffer's window, recorded up to here.
  Addr walkedTo() const { return walkedTo_; }

  Sig msSig = kMSSig;

 private:
  friend class MarkSweepPool;
  // fix found no object at the reference.
  static void notAnObject(Rank rank);
  bool isMarked(Size i) const;
  // .ms.sticky: whether `trace` condemns this segment's generation but not
  // the next one of its chain, into which the pool promotes in place.
  bool promotesInPlace(const Trace* trace) const;
  // Scans the marked objects (old, and any marked already by this trace).
  Res scanMarked(ScanState* ss);
  // Scans every object one at a time (a pool with dependent objects).
  Res scanEach(ScanState* ss);
  // AWL (pools-awl.md): before `object` is scanned, its dependent object
  // is made writable for the rest of the trace.
  void exposeDependentOf(ScanState* ss, Addr object);
  // The first grain at or after `from` that starts an object that is
  // marked (or, with `marked` false, unmarked); grains() if none.
  Size nextStart(Size from, bool marked) const;

  MarkSweepPool* msPool_;
  Shift alignShift_;
  Size grains_;
  BitTable alloc_;
  BitTable start_;
  Word* mark_;
  Size freeGrains_;
  Addr walkedTo_ = nullptr;  // objects of the attached buffer recorded up to here
  Size condemnedBytes_ = 0;
  // .ms.sticky: bytes of the objects that survived a collection (their mark
  // bits stay set until a collection of the next generation), and whether
  // objects were allocated in the segment since its last collection.
  Size oldBytes_ = 0;
  bool young_ = false;
  // Free runs before searchFrom_ are all shorter than failedSize_ grains
  // (or there are none); no run of failedSize_ grains or more exists after it.
  Size searchFrom_ = 0;
  Size failedSize_ = ~Size(0);
  Ring<MarkSweepSegment> spaceRing_{this};  // on the pool's withSpace_ ring
};

class MarkSweepPool : public AutoPool {
 public:
  static constexpr Size kDefaultSegmentSize = Size(256) << 10;
  // The least a fill gives an allocation point when windows are shared out
  // among many (MarkSweepPool::bufferFill, .buffer.accounting).
  static constexpr Size kMinFillBytes = Size(4) << 10;
  // .ms.sticky.dense: young objects are not allocated in a segment whose old
  // objects take more than 1/kMaxOldShare of it.
  static constexpr Size kMaxOldShare = 2;

  MarkSweepPool(Arena* arena, const PoolClass* poolClass) : AutoPool(arena, poolClass) {}
  ~MarkSweepPool() override;

  // `leaf`: objects hold no references and are never scanned (LO).
  Res initMarkSweep(const mps_arg_s* args, bool leaf, unsigned defaultChainGen);

  Res bufferFill(Buffer* buffer, Size size) override;
  void bufferEmpty(Buffer* buffer) override;
  Size totalSize() const override { return totalSize_; }
  Size freeSize() const override;
  bool check() const override;

  bool leaf() const { return leaf_; }
  // AWL: maps an object to its dependent object (or null), called before
  // the object is scanned. Null for pools without dependent objects.
  using FindDependent = mps_addr_t (*)(mps_addr_t);
  FindDependent findDependent() const { return findDependent_; }
  // The format as the segments see it: the client's, or for a debugging
  // pool the client's with the leading fencepost counted in the header
  // (blockLead()).
  Format* fmt() const { return segFormat_; }
  Shift alignShift() const { return alignShift_; }

  // A reclaim left `seg` empty: keeps it in the cache of empty segments if
  // there is room (`cacheLimit`), or gives it back to the arena.
  void segmentEmptied(MarkSweepSegment* seg);
  // Gives a segment (empty, or at pool destruction) back to the arena.
  void freeSegment(MarkSweepSegment* seg);
  // Gives every cached empty segment back to the arena (commit limit, spare
  // set to zero). Returns the bytes given back.
  Size releaseCached() override;

  // The most bytes of empty segments the cache keeps: what the pool's
  // generation will allocate before the chain next collects it, since up to
  // that much is bound to be refilled before anything could reclaim it; none
  // if the client keeps no spare memory (mps_arena_spare_set(arena, 0)).
  Size cacheLimit() const;
  Size cachedBytes() const { return cachedBytes_; }
  Size cachedSegments() const { return cache_.length(); }

 private:
  friend class MarkSweepSegment;
  Res newSegment(MarkSweepSegment** segOut, Size size, RankSet rankSet);
  // A cached empty segment of the default size, ready for `rankSet`, or null.
  MarkSweepSegment* takeCached(RankSet rankSet);
  void noteSpace(MarkSweepSegment* seg) {
    if (seg->spaceRing_.isSingle()) withSpace_.append(&seg->spaceRing_);
  }

  bool leaf_ = false;

 protected:
  FindDependent findDependent_ = nullptr;

  // The debugging class (pools/ams/amsdebug.hpp, design/debug.md
  // .debug.ams.block). Each block of its segments is [lead][object][trail]:
  // fenceposts before and after the client's object. The start bit is at
  // the block's base; segFormat_ counts the lead in the header size, so
  // clientOf and baseOf map block and object; the next block begins trail
  // bytes after the object's end. Zero for every other pool.
  Size blockLead() const { return lead_; }
  Size blockTrail() const { return trail_; }
  void setBlockFences(Format* segFormat, Size lead, Size trail) {
    segFormat_ = segFormat;
    lead_ = lead;
    trail_ = trail;
  }
  // Fills give a window of exactly the size requested (one block).
  bool exactWindows_ = false;
  // Call the hooks below (slow paths only: segments made, runs reclaimed).
  bool debugHooks_ = false;
  // A run [base, limit) of dead blocks is about to be freed by a reclaim
  // (the segment is exposed).
  virtual void reclaimed(Addr /*base*/, Addr /*limit*/) {}
  // A new segment [base, limit) has been made (all of it free).
  virtual void segmentMade(Addr /*base*/, Addr /*limit*/) {}

 public:
  // Calls f(seg) for each segment in the cache of empty segments.
  template <class F>
  void forEachCachedSegment(F&& f) const {
    cache_.forEach([&](Segment* seg) { f(static_cast<MarkSweepSegment*>(seg)); });
  }
  // Whether segments scan their objects one at a time: with dependent
  // objects (AWL) or fenceposts between the objects (debugging AMS), which
  // the client's scan method must not step over.
  bool scanSingly() const { return findDependent_ != nullptr || lead_ + trail_ != 0; }

 private:
  Format* segFormat_ = nullptr;
  Size lead_ = 0;
  Size trail_ = 0;

 private:
  Shift alignShift_ = 3;
  Size totalSize_ = 0;
  Ring<MarkSweepSegment> withSpace_{nullptr};  // segments that may have free runs
  Ring<Segment> cache_{nullptr};               // empty segments, linked by poolRing
  Size cachedBytes_ = 0;
};

}  // namespace mps::core
