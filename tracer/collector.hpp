// The collector: one per arena, everything the tracer keeps between
// collections (roots, registered threads, chains, the message queue, the
// collection policy and the marking workers).
//
// Collections are incremental where the arena has the barrier
// (design/tracer.md .trace.incremental): a collection is a series of pauses
// (the flip, increments, read-barrier hits, the finish), each with every
// registered mutator thread but the caller suspended and bounded by the
// pause-time target where the work allows; the mutator runs in between and
// the read barrier keeps it from seeing a white object. Without the barrier
// (or with an unbounded pause time) a collection is one pause.
//
// Locking: every method is called with the arena lock held.
#pragma once

#include <semaphore.h>

#include <atomic>
#include <thread>

#include "arena/arena.hpp"
#include "arena/segment.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"
#include "event/eventdef.hpp"
#include "messages/message.hpp"
#include "mps.h"
#include "tracer/chain.hpp"

namespace mps::core {

class AutoPool;
class FinalizationMessage;
class Format;
class MessageQueue;
class MutatorThread;
class Root;
class WorkerPool;

class Collector {
 public:
  static constexpr Sig kSig = 0x519C011Cu;
  // The default chain (chains.md): two generations.
  static constexpr Size kDefaultGen0CapacityKiB = 8192;
  static constexpr double kDefaultGen0Mortality = 0.85;
  static constexpr Size kDefaultGen1CapacityKiB = 36864;
  static constexpr double kDefaultGen1Mortality = 0.45;

  // Creates the collector of `arena` in its control memory and attaches it.
  // Reads MPS_KEY_ARENA_GC_WORKERS (else the MPS_GC_WORKERS environment
  // variable, else the hardware threads).
  static Res create(Collector** out, Arena* arena, const mps_arg_s* args);
  // Every root, thread, format, chain (but the default one) and pool must be
  // gone; reports the first that is not.
  void destroy();
  bool check() const;
  static Collector* of(Arena* arena) { return arena->collector(); }

  Arena* arena() const { return arena_; }
  MessageQueue& messages() { return *messages_; }
  Chain* defaultChain() const { return defaultChain_; }
  unsigned workers() const { return workers_; }
  void setWorkers(unsigned n);

  // Registration.
  void addRoot(Root* root);
  void removeRoot(Root* root);
  void addThread(MutatorThread* thread);
  void removeThread(MutatorThread* thread);
  void addChain(Chain* chain);
  void addFormat(Format* format) { (void)format, ++formats_; }
  void removeFormat(Format* format) { (void)format, MPS_AVER(formats_ > 0), --formats_; }
  template <class F>
  void forEachRoot(F&& f) const {
    roots_.forEach(f);
  }
  template <class F>
  void forEachThread(F&& f) const {
    threads_.forEach(f);
  }
  Size threadCount() const { return threads_.length(); }

  // Stops every registered thread but the caller, all signalled before any
  // is waited for; a thread that exited without deregistering is marked
  // dead. resumeMutators restarts those stopped. For a collection, and for
  // the walks and transforms of a parked arena (their threads may still
  // run and write the heap; walking.md).
  void stopMutators();
  void resumeMutators();

  // Arena control (arena.md, chains.md).
  // A full collection of every automatic pool, now (after finishing any
  // collection in progress). Leaves the arena parked.
  Res collect(const char* why);
  // Starts a full collection (after finishing any in progress) and returns
  // after its first pause (mps_arena_start_collect).
  Res startCollect(const char* why);
  // Finishes the collection in progress, if any, in one pause.
  Res finishCollection();
  // Whether a collection has started and not finished (the mutator may be
  // running between its increments).
  bool inProgress() const { return trace_ != nullptr; }
  // Collects generations 0..top of `chain` (and every segment in them).
  Res collectChain(Chain* chain, unsigned top, const char* why);
  // Clamped: no collection work from polls and steps (the read barrier
  // still scans what the mutator touches).
  void clamp() { clamped_ = true; }
  // Clamps, and finishes the collection in progress.
  void park();
  void release();
  bool isClamped() const { return clamped_; }
  // Parked: clamped and no collection in progress.
  bool isParked() const { return clamped_ && !collecting_ && trace_ == nullptr; }
  // The postmortem state (arena.md): no collection work ever again, the
  // write barrier lifted from every segment, the stopped threads resumed.
  // Callable from inside a collection (an assertion handler).
  void postmortem();
  bool isPostmortem() const { return postmortem_; }
  // The pause-time target, in seconds (MPS_KEY_PAUSE_TIME,
  // mps_arena_pause_time_set): how long an increment may run
  // (.trace.pacing). 0 means as short as possible; a value of
  // kAtomicPauseTime or more, one pause per collection.
  double pauseTime() const { return pauseTime_; }
  void setPauseTime(double seconds) { pauseTime_ = seconds; }
  static constexpr double kDefaultPauseTime = 0.1;
  static constexpr double kAtomicPauseTime = 1e6;
  // The least work an increment does (pause time 0): below this, stopping
  // the threads and the protection changes around it cost more than the
  // marking.
  static constexpr double kMinIncrementSeconds = 50e-6;
  // .trace.pacing: the mutator runs at least this many times as long as
  // the last increment paused it before the next increment from a poll.
  static constexpr double kMutatorShare = 1.25;
  // .trace.keepup: a collection still in progress once the mutator has
  // allocated, since it began, as many bytes as it condemned (at least the
  // capacity of the first generation of its chain, and at least
  // kKeepUpMinBytes) is finished at the next poll. Before that, an
  // increment is due at a poll whenever the mutator has allocated that
  // bound over kIncrementsPerKeepUp since the last one, whatever its time
  // share.
  static constexpr Size kKeepUpMinBytes = Size(1) << 20;
  static constexpr Size kIncrementsPerKeepUp = 8;
  // .trace.pacing.thrash: a read-barrier hit that comes before the mutator
  // has run kMutatorShare times as long as the last pause marks for twice
  // as long as the hit before it (up to 2^kMaxThrashDoublings increments);
  // one that comes later marks for one increment again.
  static constexpr unsigned kMaxThrashDoublings = 10;
  // Idle time: a collection in progress gets an increment of up to
  // `interval` seconds; otherwise collects if a chain is due, or a full
  // collection if one is expected to take less than interval * multiplier.
  // True if there was work to do.
  bool step(double interval, double multiplier);
  // From allocation slow paths: an increment of the collection in progress
  // when it is due, else starts a collection of a chain that is over
  // capacity, unless clamped. Re-entry (a scan method allocating) is
  // ignored. True if it did collection work.
  bool poll();
  // Inside a pause of a collection (the mutator threads stopped).
  bool collecting() const { return collecting_; }
  // The read barrier (Shield::setCollectorHooks): the mutator touched
  // the grey segment `seg` of `arena`. Takes the arena lock unless the
  // faulting thread holds it already (the fault came from inside an entry
  // point), and scans the segment in a pause.
  static void onReadFault(Arena* arena, Segment* seg);
  // Whether the collector of `arena` is in a pause (Shield's .shield.lazy).
  static bool inPauseOf(Arena* arena);
  // Allocation patterns (allocation.md): a ramp began, or ended, on some
  // allocation point. When a ramp_collect_all pattern has ended and no ramp
  // is left on any allocation point, the next poll runs a full collection.
  void rampBegun() { ++activeRamps_; }
  void rampEnded(bool collectAll) {
    MPS_AVER(activeRamps_ > 0);
    --activeRamps_;
    collectAllAfterRamps_ |= collectAll;
  }
  bool fullCollectionDue() const { return collectAllAfterRamps_ && activeRamps_ == 0; }
  Size collections() const { return collections_; }

  // Location dependencies (ld.md). The epoch counts collections that moved
  // objects; history_[e % kLdHistory] holds the zones moved since epoch e
  // for the last kLdHistory epochs, prehistory_ everything ever moved.
  // Readable without the arena lock (mps_ld_isstale takes none): a moving
  // collection updates the sets before it publishes the new epoch.
  static constexpr Word kLdHistory = 4;
  Word ldEpoch() const { return ldEpoch_.load(std::memory_order_acquire); }
  // The zones that may have moved since `epoch` (which is at most the
  // current epoch).
  RefSet movedSince(Word epoch) const;
  // A collection moved objects out of `zones`: advance the epoch. Locked.
  void noteMoved(RefSet zones);

  // Finalization (finalization.md, design/finalization.md). Registers the
  // block at `ref` (the client address of an object of an automatic pool of
  // this arena) once more: Res::memory if the registration record cannot be
  // made. Each registration becomes one finalization message when a trace
  // finds the block reachable only through registrations (and weak
  // references).
  Res finalize(Addr ref);
  // Removes one registration of the block at `ref`; Res::fail if it has
  // none.
  Res definalize(Addr ref);
  // `pool` is being destroyed: its blocks' registrations, and finalization
  // messages not yet discarded that refer to them, are dropped (their
  // references would dangle).
  void forgetFinalization(const Pool* pool);
  Size registrationCount() const { return registrations_; }
  // Calls f(FinalizationMessage*) for each registration; f may remove it.
  template <class F>
  void forEachRegistration(F&& f) const {
    registry_.forEach(f);
  }

  // Allocation accounting: pools report bytes arriving in a generation.
  void noteAllocated(Generation* gen, Size bytes) { gen->newSize += bytes; }

  // Statistics of the last collection, for tests and telemetry.
  struct Stats {
    Size condemned = 0, live = 0, notCondemned = 0, reclaimed = 0;
    Size objectsMarked = 0, segmentsScanned = 0;
    Size scannedBytes = 0;  // objects and segments scanned (roots aside)
    // Uncondemned segments with references whose summary kept them out of
    // the remembered set (the write barrier at work).
    Size segmentsSkipped = 0;
    unsigned workers = 0;
    double markSeconds = 0, totalSeconds = 0;
    // The write barrier since the previous collection ended, process-wide
    // (the shield serves every arena): protection changes, faults
    // resolved, seconds in both.
    Size protections = 0, faults = 0;
    double barrierSeconds = 0;
    // The collection's pauses (.pause.timing): one today, the whole
    // collection (every collection stops the world).
    PauseSummary pauses;
  };
  const Stats& lastStats() const { return last_; }
  // Every pause since the collector was made, abandoned collections' too.
  const PauseSummary& pauseTotals() const { return pauseTotals_; }
  // .trace.serial: how much the collecting thread scans alone before it
  // brings in the other workers (if it still has grey objects to share).
  // Waking a oneTBB worker and handing it work costs tens of microseconds,
  // and once a second thread of the process has run on another CPU, every
  // protection change of the process interrupts that CPU too (a TLB
  // shootdown); a quarter of a megabyte takes a few hundred microseconds to
  // scan on the machines measured (design/tracer.md). Tests set it to 0
  // (every drain parallel) or to the largest size (every drain serial).
  static constexpr Size kDefaultSerialScanBytes = Size(256) << 10;
  Size serialScanBytes = kDefaultSerialScanBytes;
  // .shield.policy: the write barrier protects the segments of a
  // generation only if it has at least this many bytes in segments with
  // references (twice as many in a process with other threads running):
  // below that, scanning them at every collection costs less than the
  // protection changes and faults (design/shield.md). Tests set it to 0.
  static constexpr Size kDefaultBarrierMinBytes = Size(1) << 20;
  Size barrierMinBytes = kDefaultBarrierMinBytes;
  // Whether the policy above (and .shield.defer, .shield.policy) decides
  // which segments to protect; off, every segment the barrier can protect
  // is protected at the end of each trace, and AMC carries no to-space
  // segment over to the next trace (tests of the mechanism).
  bool barrierPolicy = true;
  // .ms.sticky.abandon: an abandoned trace may have cleared the mark bits
  // of old objects (a full whiten) without marking them again, so the
  // generational mark-sweep pools collect in full (no promotion in place)
  // until a trace has condemned every one of their segments in full.
  bool stickyMarksLost = false;
  // Whether checked builds verify the heap after each collection (on by
  // default in checked builds; a test may switch it off to time things).
  bool verifyHeap = MPS_CHECKED != 0;
  // Whether the write barrier protects this arena's segments
  // (Shield::registerArena): summaries are narrowed and trusted.
  bool hasBarrier() const { return barrier_; }

  Sig sig = kSig;

 private:
  friend class Trace;
  explicit Collector(Arena* arena);
  Res runTrace(Chain* chain, unsigned top, bool all, const char* why);
  // Starts a collection: its first pause (condemn, flip, roots) marks for
  // up to `budget` seconds, and finishes it if that was enough (or the
  // collection cannot be incremental); else the mutator runs on and
  // increments follow.
  Res beginCollection(Chain* chain, unsigned top, bool all, const char* why, double budget);
  // One more pause of the collection in progress: marks for up to `budget`
  // seconds (forever if infinite), or blackens `touched` (the read barrier),
  // and finishes the collection if nothing is grey any more.
  Res continueCollection(double budget, event::PauseKind kind, Segment* touched = nullptr);
  // The end of a pause: finishes the collection if nothing is left to mark
  // (or `finish`, or the pause failed), else lets the mutator run (the read
  // barrier up); resumes the threads. True if the collection finished.
  bool closePause(Res* res, bool finish);
  // One pause: stops the mutators, runs `work` (which returns whether the
  // collection must finish in this pause, and leaves its result in *res),
  // closes the pause and notes it as `kind`, or `finishKind` if it ended
  // the collection. True if it did.
  template <class Work>
  bool runPause(Res* res, event::PauseKind kind, event::PauseKind finishKind, Work&& work);
  // The collection ended (in a pause just over): statistics, messages, the
  // trace freed.
  void endCollection(Res res);
  // The increment budget for the pause-time target; infinite if unbounded.
  double incrementBudget() const;
  Size totalNewSize() const;
  void barrierHit(Segment* seg);
  // .trace.incremental.service: the thread that runs read-barrier pauses
  // for faulting threads; started when a collection first lets the
  // mutator run, stopped when the collector is destroyed.
  void startBarrierService();
  void stopBarrierService();
  // .pause.timing: records a pause of the mutators, [start, end) on the
  // event clock, of the running collection.
  void notePause(const Trace& trace, event::PauseKind kind, std::uint64_t start, std::uint64_t end);
  // Telemetry: the trace's pause and end (design/event.md).
  MPS_NOINLINE void emitTraceEnd(const Trace& trace);
  Size estimateFullCollectionSeconds() const;

  Arena* arena_;
  MessageQueue* messages_ = nullptr;
  Ring<Root> roots_;
  Ring<MutatorThread> threads_;
  Ring<Chain> chains_;
  Ring<FinalizationMessage> registry_{nullptr};
  Size registrations_ = 0;
  Chain* defaultChain_ = nullptr;
  Size formats_ = 0;
  bool clamped_ = false;
  bool collecting_ = false;
  // The collection in progress (an incremental one between its pauses).
  Trace* trace_ = nullptr;
  bool traceAll_ = false;
  std::uint64_t lastPauseEnd_ = 0, lastPauseTicks_ = 0;
  unsigned thrashDoublings_ = 0;  // .trace.pacing.thrash
  Size newSizeAtStart_ = 0, newSizeAtIncrement_ = 0;
  Size keepUpBytes_ = 0;
  // Serving a read-barrier fault: no telemetry I/O.
  bool inFaultHandler_ = false;
  // In a pause: the mutator threads are stopped.
  std::atomic<bool> pausing_{false};
  std::thread* serviceThread_ = nullptr;
  sem_t serviceRequestSem_, serviceDoneSem_;
  Segment* serviceRequest_ = nullptr;
  bool serviceStop_ = false;
  bool postmortem_ = false;
  Size activeRamps_ = 0;
  bool collectAllAfterRamps_ = false;
  double pauseTime_ = kDefaultPauseTime;
  Size collections_ = 0;
  // Collections started, from 1: the telemetry stream's trace numbers.
  Size tracesStarted_ = 0;
  unsigned workers_ = 1;
  WorkerPool* workerPool_ = nullptr;
  bool barrier_ = false;
  Stats last_;
  PauseSummary pauseTotals_;
  // The running collection's pauses so far, in seconds and in event ticks
  // (for TraceEnd, which must agree exactly with its TracePause events).
  PauseSummary collectionPauses_;
  std::uint64_t pauseTicks_ = 0, pauseMaxTicks_ = 0;
  double lastFullSeconds_ = 0.0;
  // The shield's counters when the previous collection ended.
  Size protectionsAtLastEnd_ = 0, faultsAtLastEnd_ = 0;
  std::uint64_t barrierNanosAtLastEnd_ = 0;
  Size objectSize_ = 0;
  std::atomic<Word> ldEpoch_{0};
  std::atomic<RefSet> ldHistory_[kLdHistory] = {};
  std::atomic<RefSet> ldPrehistory_{kRefSetEmpty};
};

}  // namespace mps::core
