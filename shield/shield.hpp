// The shield (design brief, "Shield"; manual/design/shield.md): owns every
// protection change of segment memory, and the write barrier built on it.
//
// The barrier. After a trace has scanned a segment it knows the zones the
// segment's references point into (its summary). The segment is then
// protected against writes, so the summary stays true while the mutator
// runs: the first write faults, the fault handler widens the summary to the
// universal set and lifts the protection, and the write is retried. A
// nursery collection then scans only the segments whose summary meets its
// white zones (tracer/trace.cpp scanRememberedSet) instead of the whole
// older heap.
//
// The collector exposes a segment before it reads or writes it and covers
// it afterwards; exposing lifts the protection, covering puts back the mode
// the segment wants (setMode) once the last expose is covered.
#pragma once

#include <cstdint>
#include <vector>

#include "arena/arena.hpp"
#include "arena/segment.hpp"
#include "base/check.hpp"
#include "protect/pagealloc.hpp"

namespace mps::core {

// Protection modes a segment may want (a set of access kinds to trap).
enum ShieldMode : unsigned {
  kShieldNone = 0,
  kShieldRead = 1u << 0,
  kShieldWrite = 1u << 1,
};

class Shield;

// Protection changes of many segments at once (a condemnation, the end of a
// trace): sorted by address, and neighbours that want the same access
// changed with one mprotect. A trace changes hundreds of segments, mostly
// neighbours (a generation's segments are allocated together), and each
// mprotect call splits or merges kernel mappings and may shoot down other
// cores' TLBs. Memory from PageAllocator: the world is stopped.
class ProtectionBatch {
 public:
  ProtectionBatch() = default;
  ProtectionBatch(const ProtectionBatch&) = delete;
  ProtectionBatch& operator=(const ProtectionBatch&) = delete;
  ~ProtectionBatch() { MPS_AVER(segs_.empty() && "a protection batch is applied"); }

  // Applies every change added, then forgets them.
  void apply();

 private:
  friend class Shield;
  void add(Segment* seg) { segs_.push_back(seg); }
  std::vector<Segment*, PageAllocator<Segment*>> segs_;
};

class Shield {
 public:
  // Registers `arena` with the fault handler and says whether its segments
  // may be protected: it must be a VM arena (a client arena's blocks need
  // not be page aligned) with grains of whole pages, the handler must
  // install (libsigsegv), the client must not have said no (`wanted`,
  // MPS_KEY_ARENA_BARRIER), and the environment must not say MPS_BARRIER=0
  // (or its older name MPS_WRITE_BARRIER=0). Without the barrier summaries stay universal and
  // every collection scans every segment with references. Locked.
  static bool registerArena(Arena* arena, bool wanted = true);
  static void deregisterArena(Arena* arena);

  // The collector will access `seg`: its protection is lifted until the
  // matching cover. Nests.
  static void expose(Segment* seg) {
    ++seg->shieldDepth;
    if (seg->protMode != kShieldNone) sync(seg, kShieldNone);
  }
  static void cover(Segment* seg) {
    MPS_AVER(seg->shieldDepth > 0 && "shield: every cover matches an expose");
    if (--seg->shieldDepth == 0 && seg->protMode != seg->shieldMode) sync(seg, seg->shieldMode);
  }

  // The same two, with the protection change left to `batch` (nothing may
  // touch the segment's memory until the batch is applied).
  static void expose(Segment* seg, ProtectionBatch* batch) {
    if (seg->shieldDepth++ == 0 && seg->protMode != kShieldNone) batch->add(seg);
  }
  static void cover(Segment* seg, ProtectionBatch* batch) {
    MPS_AVER(seg->shieldDepth > 0 && "shield: every cover matches an expose");
    if (--seg->shieldDepth == 0 && seg->protMode != seg->shieldMode) batch->add(seg);
  }
  // Sets the protection the segment wants while the mutator runs: changed
  // when `batch` is applied if the segment is not exposed, else when it is
  // covered.
  static void setMode(Segment* seg, unsigned mode, ProtectionBatch* batch) {
    seg->shieldMode = mode;
    if (seg->shieldDepth == 0 && seg->protMode != mode) batch->add(seg);
  }
  // The protection `seg` should have now.
  static unsigned wanted(const Segment* seg) {
    return seg->shieldDepth > 0 ? kShieldNone : seg->shieldMode;
  }

  // The mutator (or a client callback) may write anything into `seg` from
  // now on: its summary becomes universal and it is no longer protected.
  // What the fault handler does (`faulted`); async-signal-safe.
  static void dropBarrier(Segment* seg, bool faulted = false);
  // `seg` is about to be freed: its memory goes back unprotected.
  static void release(Segment* seg) {
    seg->shieldMode = kShieldNone;
    if (seg->protMode != kShieldNone) sync(seg, kShieldNone);
  }

  // The read barrier (design/shield.md .shield.read): a fault on a segment
  // protected against reads (grey, in an incremental trace) goes to this
  // handler, called in the faulting thread from the signal handler with
  // the suspend signal deliverable. It makes the segment accessible (or
  // reports the misuse) before returning. `inPause` says whether the
  // collector of `arena` is in a pause (mutator threads stopped): a fault
  // then is the collector's own (.shield.lazy). Set by the collector.
  using ReadBarrierHandler = void (*)(Arena* arena, Segment* seg);
  using PauseTest = bool (*)(Arena* arena);
  static void setCollectorHooks(ReadBarrierHandler handler, PauseTest inPause);
  // .shield.lazy: lifts the protection of `seg` for the collector until the
  // end of its pause. Async-signal-safe.
  static void liftForCollector(Segment* seg);
  // The same for segments the collector is about to touch in this pause:
  // one change per run of neighbours, and no faults. Sorts `segs`.
  static void liftForCollector(std::vector<Segment*, PageAllocator<Segment*>>* segs);

  // .shield.lazy.record: while `on`, the segments lifted for the collector
  // of `arena` are listed, so that its next yield looks at them alone
  // instead of at every segment. Turned off, the list is emptied. Locked,
  // in a pause.
  static void recordLifts(Arena* arena, bool on);
  // Calls f(seg) for every segment listed since the last call, and empties
  // the list. In a pause, with the collector's worker threads idle.
  template <class F>
  static void takeLifted(Arena* arena, F&& f) {
    Segment* seg = takeLiftedList(arena);
    while (seg != nullptr) {
      Segment* next = seg->liftedNext;
      seg->liftedNext = nullptr;
      seg->liftListed = false;
      f(seg);
      seg = next;
    }
  }

  // Write faults the handler has resolved, in every arena (statistics and
  // tests).
  static Size faultCount();
  // Protection changes (mprotect calls) made, in every arena, and the time
  // spent in them and in resolving faults, in nanoseconds.
  static Size protectionCount();
  static std::uint64_t barrierNanoseconds();

 private:
  friend class ProtectionBatch;
  static void sync(Segment* seg, unsigned mode);
  static Segment* takeLiftedList(Arena* arena);
  static void protectRange(Addr base, Addr limit, unsigned mode);
};

}  // namespace mps::core
