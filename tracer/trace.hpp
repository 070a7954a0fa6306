// One collection (a trace) and its marking workers.
//
// Phases (design brief, "Tracing"): condemn the chosen generations (their
// segments turn white and the white zone set is their union), stop the
// mutator threads and trap every scannable allocation buffer (the flip),
// scan ambiguous roots then exact ones, then the remembered set (segments
// not condemned whose references may point into white zones), drain the
// grey objects in parallel, reclaim, resume the threads and post messages.
//
// Grey work. A fix that turns an object from white to marked pushes it on
// its worker's grey stack; a worker pops objects and scans them until its
// stack is empty. Between the stack and the scan sits a short FIFO: an
// object is prefetched when it enters and scanned when it leaves, a few
// objects later, so the cache miss on a grey object (the heap is visited in
// no useful order) overlaps the scanning of the ones before it.
//
// Parallel marking (tracer.md, "Parallel marking"): one oneTBB task per
// worker. Work moves between workers in packets through a shared list: a
// worker with a deep stack that sees the list empty while some worker is
// idle moves a packet from the bottom of its stack (the older entries,
// nearer the roots, so usually the larger subgraphs) to the list; an idle
// worker takes a packet. Marking ends when no worker is active and the list
// is empty. Marking is a fixpoint, so the survivors do not depend on the
// order or the number of workers.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include "arena/arena.hpp"
#include "arena/segment.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/types.hpp"
#include "protect/pagealloc.hpp"
#include "tracer/scan.hpp"

namespace mps::core {

class Chain;
class FinalizationMessage;
class Generation;
class Collector;
class WorkerPool;

struct GreyRef {
  Segment* seg;
  Addr object;
};

// The collector's working memory comes from PageAllocator, not the C heap:
// mutator threads are stopped while it grows, perhaps inside malloc.
using GreyStack = std::vector<GreyRef, PageAllocator<GreyRef>>;

// A fix whose test of the mark bit waits until its cache line has arrived.
struct PendingFix {
  Segment* seg;
  Addr ref;
  Rank rank;  // the rank of the reference, for the checks
};

// Cache-line aligned: each worker writes its own fields on every fix (the
// scan state's summary, the deferred fixes, the counters), and workers that
// shared a line would take it from each other all the time.
class alignas(64) Worker {
 public:
  Worker(Arena* arena, Trace* trace) : ss(arena, trace, this) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Called by pools' fix when an object turns from white to marked and
  // needs scanning. An object of weak rank waits for the weak phase
  // (.trace.rank): its references are decided once nothing stronger can
  // mark anything.
  MPS_FORCE_INLINE void push(Segment* seg, Addr object) {
    if (MPS_UNLIKELY(seg->rankSet == rankSetOf(Rank::weak)))
      pushWeak(seg, object);
    else
      stack.push_back(GreyRef{seg, object});
  }
  // Called by pools' fix when an object turns from white to marked.
  void noteMarked() { ++objectsMarked; }
  // .trace.incremental.candidates: the protection the mutator must see for
  // `seg` may have changed in this pause (a to-space segment begun, a
  // condemned segment with its first pinned object): the next yield looks
  // at it. Collected per worker, without a lock.
  void noteModeMayChange(Segment* seg) { yieldCandidates.push_back(seg); }
  std::vector<Segment*, PageAllocator<Segment*>> yieldCandidates;
  // Called by a non-moving pool's fix, which has prefetched the mark bit of
  // `ref`: seg->finishFix(ref) runs some fixes later (or when the grey
  // objects run out), by when the bit is in the cache. Only a pool that never
  // updates a reference may defer, since the fix has already returned.
  void defer(Segment* seg, Addr ref, Rank rank) {
    if (pendingCount_ == kFixDepth) finishOldest();
    pending_[(pendingHead_ + pendingCount_) % kFixDepth] = PendingFix{seg, ref, rank};
    ++pendingCount_;
  }
  bool hasPending() const { return pendingCount_ != 0; }

  // Summaries (design/shield.md .shield.summary): the worker is about to
  // scan an object (or the whole) of `seg`. The zones seen since the last
  // switch are added to the previous segment's trace summary. Most grey
  // objects follow one of the same segment, so this is one compare.
  MPS_FORCE_INLINE void scanning(Segment* seg) {
    if (seg != summarySeg_) switchSummary(seg);
  }
  // Adds the zones seen to the current segment's trace summary and starts
  // afresh with none (before scans that belong to no segment: roots).
  void flushSummary() { switchSummary(nullptr); }
  // Finishes every deferred fix (they may push grey objects).
  void finishPending() {
    while (pendingCount_ != 0)
      finishOldest();
  }

  ScanState ss;
  GreyStack stack;
  // Grey objects of weak rank, scanned in the weak phase.
  GreyStack weakGrey;
  // The worker's number in its trace, 0 .. width-1 (a moving pool keeps a
  // to-space buffer per worker).
  unsigned index = 0;
  // Whether other workers mark at the same time: mark bits are then set
  // with atomic read-modify-writes; a lone worker uses plain stores.
  bool concurrent = false;
  Size objectsScanned = 0;
  Size objectsMarked = 0;  // counted per worker, summed when marking ends
  Res res = Res::ok;       // the first scan failure

 private:
  // Deferred fixes in flight: enough to cover a miss to the last-level cache
  // with the fixes of a few objects.
  static constexpr Size kFixDepth = 16;
  void finishOldest();
  [[gnu::noinline, gnu::cold]] void pushWeak(Segment* seg, Addr object) {
    weakGrey.push_back(GreyRef{seg, object});
  }
  void switchSummary(Segment* next);
  Segment* summarySeg_ = nullptr;
  PendingFix pending_[kFixDepth];
  Size pendingHead_ = 0;
  Size pendingCount_ = 0;
};

class Trace {
 public:
  Trace(Collector* collector, const char* why);
  ~Trace();
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // Runs the whole collection of generations 0..top of `chain`, or of every
  // automatic pool if `all`. Returns the first failure of a scan; then
  // nothing is reclaimed.
  Res run(Chain* chain, unsigned top, bool all);

  // Incremental collection (design/tracer.md .trace.incremental). The same
  // collection in pieces, each with the mutator threads stopped:
  //   start      condemn, flip, scan the roots, queue the remembered set;
  //   advance    mark until `deadline` or until nothing is grey;
  //   finish     mark what is left, the final and weak phases, reclaim.
  // Between pieces the mutator runs: yieldToMutator protects every grey
  // segment against reads and writes (the read barrier) and every segment
  // the trace has scanned against writes (its summary must see them);
  // resumeFromMutator lifts that protection again before the next piece.
  // `incremental` says the mutator will run between pieces: the remembered
  // set is then queued as grey work instead of scanned in the first pause,
  // and every allocation buffer is trapped at the flip.
  using Clock = std::chrono::steady_clock;
  Res start(Chain* chain, unsigned top, bool all, bool incremental);
  Res advance(Clock::time_point deadline);
  Res finish(Res res);
  // Nothing is grey: finish() would only do the final and weak phases.
  bool markingDone() const;
  void yieldToMutator();
  // `touched`: a segment the pause is for (the read barrier's), lifted
  // with those the pools name (willTouch).
  void resumeFromMutator(Segment* touched = nullptr);
  // The read barrier (resumed, world stopped): the mutator touched the
  // grey segment `seg`; scan its objects that may refer to white ones, and
  // whatever that greys in it, within `deadline`. False if the segment
  // cannot be made black this way (weak references: the caller finishes
  // the collection instead).
  bool blacken(Segment* seg, Clock::time_point deadline, Res* resOut);
  bool isYielded() const { return yielded_; }
  // Whether the mutator runs between the pieces of this trace.
  bool incremental() const { return incremental_; }
  // .trace.incremental.candidates: called by a pool at its traceYield for a
  // segment the mutator must not touch before the trace has scanned it.
  void greyForMutator(Segment* seg);
  // Called by a pool at its traceResume for a segment the pause is sure to
  // touch (a to-space segment it copies on into): lifted with one change
  // per run of neighbours, not a fault each (.shield.lazy).
  void willTouch(Segment* seg) { liftAtResume_.push_back(seg); }
  // As Worker::noteModeMayChange, from the collecting thread alone.
  void noteModeMayChange(Segment* seg) { yieldCandidates_.push_back(seg); }

  TraceSet traces() const { return 1u; }
  // The telemetry stream's number of this trace (the arena's collections
  // started, from 1), and the stream's time it was created at.
  Size id() const { return id_; }
  std::uint64_t startTime() const { return startTime_; }
  // Whether this trace condemns the segments of `gen`.
  bool condemnsGeneration(const Generation* gen) const;
  RefSet white() const { return white_; }
  Size condemnedBytes() const { return condemned_; }
  // Whether the references of the uncondemned `seg` (or the old objects of
  // a segment condemned for its young objects) may lead to white objects:
  // the remembered set's test (design/shield.md .shield.remembered).
  bool mayReferToWhite(const Segment* seg) const;
  Collector* collector() const { return collector_; }
  Arena* arena() const { return arena_; }

  // Accounting, in bytes, reported by segments.
  void noteCondemned(Size bytes) { condemned_ += bytes; }
  void noteNotCondemned(Size bytes) { notCondemned_ += bytes; }
  void notePreserved(Size bytes) { preserved_.fetch_add(bytes, std::memory_order_relaxed); }
  void noteReclaimed(Size bytes) { reclaimed_ += bytes; }
  // Whether other workers mark at the same time as the collecting thread
  // (from the moment drain() brought them in; before, it marks alone).
  bool parallel() const { return parallel_; }
  Size workerCount() const { return workers_.size(); }
  // The collecting thread's worker (pools may push grey work on it before
  // the roots are scanned).
  Worker* firstWorker() const { return workers_[0]; }
  // Whether a condemned segment holds ambiguous references (an AMS pool's
  // ambiguous allocation points): its objects are found grey only through
  // other references, perhaps after an exact fix has moved what they
  // designate, so a moving pool must not move anything in this trace.
  bool condemnsAmbiguous() const { return condemnsAmbiguous_; }
  // Moving pools: the zones objects were moved out of (location
  // dependencies, ld.md; reported at reclaim), and the lock that serialises
  // the pools' own bookkeeping (to-space segments taken from their caches)
  // while workers copy in parallel.
  void noteMoved(RefSet zones) { moved_ |= zones; }
  RefSet movedZones() const { return moved_; }
  std::mutex& allocLock() { return allocLock_; }
  // An AWL object whose dependent object is at `dependent` is being scanned
  // (pools-awl.md): the dependent's segment, if it has one, is exposed
  // until the end of the trace, and its summary becomes universal since
  // the scan may write into it. Any marking worker may call this.
  void exposeDependent(Addr dependent);
  // Blocks this trace found finalizable (messages posted at its end).
  Size finalizedCount() const { return firing_.size(); }

  // Bytes condemned in, and surviving from, one generation's segments: what
  // the generation's mortality estimate learns from (chains.md).
  struct GenerationTally {
    Generation* gen;
    Size condemned;
    Size survived;
  };
  // The tally of `gen`, or null if none of its segments was condemned.
  const GenerationTally* tallyOf(const Generation* gen) const;
  // A moving pool reports, at traceEnd, the bytes that survived from `gen`
  // by being copied out of it (reclaim sees only what stayed in place).
  void noteSurvivors(Generation* gen, Size bytes) { tallyFor(gen)->survived += bytes; }

 private:
  GenerationTally* tallyFor(Generation* gen);

  Res condemn(Chain* chain, unsigned top, bool all);
  void flip();
  Res scanRoots(Worker* worker);
  // .trace.rank: once the exact phase has marked everything it reaches,
  // the final phase decides which registered blocks are finalizable (not
  // preserved) and marks them; the weak phase then fixes every weak
  // reference (weak segments of the remembered set, weak grey objects,
  // weak roots), which keeps what survived and splats the rest.
  Res scanFinal(Worker* worker);
  Res scanWeak(Worker* worker);
  // Finalization messages queued or held keep their blocks alive: exact
  // roots.
  Res scanFinalizationMessages(Worker* worker);
  // The weak phase is done with weakSegs_ (or the trace was abandoned).
  void clearWeakScanWhole();
  // Covers the segments exposeDependent exposed.
  void coverDependents();
  // After the trace: posts the messages of the blocks found finalizable,
  // or (abandoned) makes them registrations again.
  void finishFinalization(bool ok);
  Res scanAmbiguousSegments(Worker* worker);
  Res scanRememberedSet(Worker* worker);
  // Marks until nothing is grey, or until `deadline`.
  Res drain(Clock::time_point deadline = Clock::time_point::max());
  // The serial start of the drain found enough work: every worker marks
  // concurrently from now on.
  void goParallel();
  // .trace.serial: the collecting thread shares work only once it has at
  // least this many grey objects in hand.
  static constexpr Size kSerialMinGrey = 64;
  void reclaim();
  void abandon();
  void verify();
  // Tells each automatic pool that marking begins / has ended (a moving
  // pool sets up and closes its to-space buffers).
  void beginPools();
  void endPools(bool abandoned);
  using SegmentList = std::vector<Segment*, PageAllocator<Segment*>>;
  // The trace will read or write these segments (it condemns them or scans
  // them whole): their protection is lifted until the end of the trace, one
  // change per run of neighbours, and their summaries are rebuilt from what
  // the trace scans in them.
  void exposeForTrace(const SegmentList& segs);
  // The end of the trace, world still stopped: every segment gets the
  // summary the trace built for it, and the protection that summary allows
  // (design/shield.md .shield.protect).
  void settleSegments(bool ok);
  // .shield.policy: whether protecting `seg` is expected to cost less than
  // scanning it at every collection until its generation is condemned.
  bool barrierPays(Segment* seg) const;
  // After reclaim: each generation learns what was condemned in it, what
  // survived and stayed, and what arrived in it (chains.md).
  void accountGenerations(Chain* chain, unsigned top, bool all);

  // Telemetry (design/event.md): the generations' tallies, sizes and the
  // workers' counts, once the trace has reclaimed.
  void emitEnd();

  // Telemetry: the TracePhase event of `rank`'s phase.
  void notePhase(Rank rank);

  Collector* collector_;
  Arena* arena_;
  const char* why_;
  bool incremental_ = false;
  bool yielded_ = false;
  bool poolsBegun_ = false;
  Clock::time_point t0_;
  Size phaseSegs_ = 0;
  // What run() condemns: generations 0..top_ of chain_, or everything.
  Chain* chain_ = nullptr;
  unsigned top_ = 0;
  bool all_ = false;
  RefSet white_ = kRefSetEmpty;
  // The zones of condemned segments other than those condemned for their
  // young objects only (Segment::condemnedYoung).
  RefSet whiteOld_ = kRefSetEmpty;
  // No young object (Segment::holdsYoung) escapes condemnation.
  bool condemnsAllYoung_ = true;
  // Every segment whose marks persist (Segment::marksPersist) is condemned.
  bool condemnsAllMarks_ = true;
  SegmentList condemnedSegs_;
  // A few generations: searched linearly.
  std::vector<GenerationTally, PageAllocator<GenerationTally>> tallies_;
  std::vector<Worker*, PageAllocator<Worker*>> workers_;
  bool parallel_ = false;
  Size parallelDrains_ = 0;
  bool condemnsAmbiguous_ = false;
  Size condemned_ = 0;
  Size notCondemned_ = 0;
  std::atomic<Size> preserved_{0};
  Size reclaimed_ = 0;
  Size segmentsScanned_ = 0;
  Size segmentsSkipped_ = 0;  // remembered set: passed over by their summaries
  double markSeconds_ = 0;
  RefSet moved_ = kRefSetEmpty;
  std::mutex allocLock_;
  struct GenerationBytes {
    const Generation* gen;
    Size bytes;
  };
  std::vector<GenerationBytes, PageAllocator<GenerationBytes>> genBytes_;
  Size barrierMinBytes_ = 0;
  // Uncondemned weak segments of the remembered set, and segments
  // condemned young whose old objects are weak: scanned in the weak phase.
  SegmentList weakSegs_;
  // Registrations found finalizable, posted as messages at the end.
  std::vector<FinalizationMessage*, PageAllocator<FinalizationMessage*>> firing_;
  // .trace.incremental.candidates: the segments whose protection for the
  // mutator the next yield decides afresh (besides the workers' lists and
  // the segments lifted in the pause), and the segments it made grey.
  SegmentList yieldCandidates_;
  SegmentList greyAtYield_;
  SegmentList liftAtResume_;
  // The protection the mutator must see for `seg` while this trace yields.
  // `*unprotectable` says a black segment whose trace summary must be
  // widened instead (the mutator writes into it unhindered).
  unsigned mutatorMode(const Segment* seg, bool* unprotectable) const;
  // After a yield (checked builds), every segment has the protection
  // mutatorMode gives it (nothing was left off the candidates).
  void checkYieldProtection() const;
  // Segments exposed by exposeDependent (under dependentLock_).
  std::mutex dependentLock_;
  SegmentList dependents_;
  // Telemetry.
  Size id_ = 0;
  std::uint64_t startTime_ = 0;
  std::uint64_t phaseStart_ = 0;  // when the current rank phase began
};

}  // namespace mps::core
