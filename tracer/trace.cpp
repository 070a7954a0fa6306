#include "tracer/trace.hpp"

#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "arena/buffer.hpp"
#include "event/event.hpp"
#include "messages/message.hpp"
#include "shield/shield.hpp"
#include "tracer/autopool.hpp"
#include "tracer/collector.hpp"
#include "tracer/root.hpp"
#include "tracer/thread.hpp"
#include "tracer/workers.hpp"

namespace mps::core {

namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Trace::Trace(Collector* collector, const char* why)
    : collector_(collector), arena_(collector->arena()), why_(why) {
  id_ = ++collector->tracesStarted_;
  startTime_ = event::now();
}

Trace::~Trace() {
  for (Worker* w : workers_) {
    w->~Worker();
    PageAllocator<Worker>().deallocate(w, 1);
  }
}

// Condemn ----------------------------------------------------------------------

bool Trace::condemnsGeneration(const Generation* gen) const {
  return all_ || (gen != nullptr && gen->chain == chain_ && gen->index <= top_);
}

Res Trace::condemn(Chain* chain, unsigned top, bool all) {
  chain_ = chain;
  top_ = top;
  all_ = all;
  // First expose every segment to condemn (whiten may write padding into
  // them).
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      bool condemned = condemnsGeneration(seg->gen) && seg->wantsCondemn(this);
      if (!condemned) {
        if (seg->holdsYoung()) condemnsAllYoung_ = false;
        if (seg->marksPersist()) condemnsAllMarks_ = false;
        notCondemned_ += seg->size();
        return;
      }
      condemnedSegs_.push_back(seg);
    });
  });
  exposeForTrace(condemnedSegs_);
  Res res = Res::ok;
  Size whitened = 0;
  for (Segment* seg : condemnedSegs_) {
    if (res != Res::ok) break;
    Generation* gen = seg->tallyGeneration(this);
    Size before = condemned_;
    res = seg->whiten(this);
    if (res != Res::ok) break;
    if (gen != nullptr) tallyFor(gen)->condemned += condemned_ - before;
    if (rankSetHas(seg->rankSet, Rank::ambig)) condemnsAmbiguous_ = true;
    RefSet zones = refSetOfRange(seg->base, seg->limit, arena_->zoneShift());
    white_ |= zones;
    if (!seg->condemnedYoung) whiteOld_ |= zones;
    ++whitened;
  }
  // Those not whitened stay exposed until settleSegments covers them (the
  // trace is abandoned, so they keep no narrowed summary either).
  condemnedSegs_.resize(whitened);
  return res;
}

// Flip: trap every buffer of a pool with references, so a block reserved
// across the collection is never committed unscanned; record what each
// committed so far.
void Trace::flip() {
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachBuffer([&](Buffer* buffer) {
      // .trace.incremental.black: with the mutator running during the
      // trace, a leaf pool's buffer is trapped too, so that what is
      // allocated after the flip goes to a fresh window (black) rather than
      // on into a segment condemned with the objects before it.
      if (buffer->isReset() || (buffer->rankSet == kRankSetEmpty && !incremental_)) return;
      buffer->trap();
      buffer->seg->bufferFlipped(buffer);
    });
  });
}

// Roots ------------------------------------------------------------------------

Res Trace::scanRoots(Worker* worker) {
  Res res = Res::ok;
  Size roots = 0;
  // Ambiguous roots first: everything they hit is pinned before any exact
  // fix could move it (design brief, "Ranks").
  for (Rank rank : {Rank::ambig, Rank::exact}) {
    collector_->forEachRoot([&](Root* root) {
      if (res != Res::ok || root->rank() != rank) return;
      res = root->scan(&worker->ss);
      ++roots;
    });
    if (res != Res::ok) return res;
    if (rank == Rank::ambig) {
      Size segs = segmentsScanned_;
      res = scanAmbiguousSegments(worker);
      // The ambiguous phase: its roots and segments.
      MPS_EVENT(TracePhase, arena_, id_, Rank::ambig, event::now() - phaseStart_,
                segmentsScanned_ - segs);
      phaseStart_ = event::now();
    }
    if (res != Res::ok) return res;
  }
  res = scanFinalizationMessages(worker);
  MPS_EVENT(TraceFlip, arena_, id_, roots);
  return res;
}

Res Trace::scanFinalizationMessages(Worker* worker) {
  ScanState& ss = worker->ss;
  ss.setRank(Rank::exact);
  Res res = Res::ok;
  collector_->messages().forEachLive([&](Message* m) {
    if (res != Res::ok || m->type() != MessageType::finalization) return;
    res = ss.fix12(&FinalizationMessage::from(*m).ref);
  });
  return res;
}

// Ranks (.trace.rank) ----------------------------------------------------------------

// The final phase. Exact marking is over: a registered block that is white
// and not preserved is reachable only through registrations (or weak
// references), so it is finalizable. Every registration of such a block
// fires (one message each), so all are decided before any is fixed (the
// first fix would preserve the block for the others). Fixing them marks
// the blocks (what they refer to is marked by the next drain) and updates
// the registrations of blocks that moved.
Res Trace::scanFinal(Worker* worker) {
  if (collector_->registrationCount() == 0) return Res::ok;
  collector_->forEachRegistration([&](FinalizationMessage* m) {
    // Outside the white zones (most registrations, in a nursery
    // collection): not condemned.
    if ((refSetOfAddr(m->ref, arena_->zoneShift()) & white_) == kRefSetEmpty) {
      m->firing = false;
      return;
    }
    Segment* seg = arena_->segmentOf(m->ref);
    m->firing = seg != nullptr && seg->isWhite(traces()) && !seg->isPreserved(m->ref);
  });
  ScanState& ss = worker->ss;
  worker->flushSummary();
  ss.setRank(Rank::final);
  Res res = Res::ok;
  collector_->forEachRegistration([&](FinalizationMessage* m) {
    if (res != Res::ok) return;
    res = ss.fix12(&m->ref);
    if (res != Res::ok || !m->firing) return;
    m->registryRing.remove();
    --collector_->registrations_;
    firing_.push_back(m);
  });
  worker->flushSummary();
  return res;
}

// The weak phase: nothing can be marked any more (a weak fix never marks),
// so every weak reference is decided: kept (and updated if its object
// moved) if its object survived, set to null otherwise (ScanState::fix2
// sends weak references to Segment::fixWeak). Registered blocks were
// preserved by the final phase, so they are not splatted before their
// finalization message is posted.
Res Trace::scanWeak(Worker* worker) {
  ScanState& ss = worker->ss;
  Res res = Res::ok;
  worker->flushSummary();
  for (Segment* seg : weakSegs_) {
    worker->scanning(seg);
    res = seg->scan(&ss);
    ++segmentsScanned_;
    if (res != Res::ok) return res;
  }
  for (Worker* w : workers_) {
    for (const GreyRef& g : w->weakGrey) {
      if (g.seg->weakScanWhole) continue;  // scanned just above
      worker->scanning(g.seg);
      res = g.seg->scanObject(&ss, g.object);
      ++worker->objectsScanned;
      if (res != Res::ok) return res;
    }
    w->weakGrey.clear();
  }
  worker->flushSummary();
  clearWeakScanWhole();
  collector_->forEachRoot([&](Root* root) {
    if (res != Res::ok || root->rank() != Rank::weak) return;
    res = root->scan(&ss);
  });
  MPS_AVER(res != Res::ok || (worker->stack.empty() && !worker->hasPending()));
  return res;
}

void Trace::clearWeakScanWhole() {
  for (Segment* seg : weakSegs_)
    seg->weakScanWhole = false;
  weakSegs_.clear();
}

void Trace::finishFinalization(bool ok) {
  MessageQueue& queue = collector_->messages();
  for (FinalizationMessage* m : firing_) {
    m->firing = false;
    if (!ok) {
      // Abandoned: nothing was finalized.
      collector_->registry_.prepend(&m->registryRing);
      ++collector_->registrations_;
    } else if (!queue.post(m)) {
      // Finalization messages are not enabled: the registration is used up
      // all the same (messages.md).
      m->destroy();
    }
  }
  if (!ok) firing_.clear();
}

void Trace::exposeDependent(Addr dependent) {
  Segment* seg = arena_->segmentOf(dependent);
  if (seg == nullptr) return;  // not in an automatic pool: never protected
  // The scan method writes to it by address (pools-awl.md).
  MPS_AVER(!seg->pool->poolClass()->has(kPoolAttrMoving) &&
           "an AWL object's dependent object is not in a moving pool");
  // Most scans of a table's vector find its partner exposed already.
  if (std::atomic_ref<bool>(seg->dependentExposed).load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> guard(dependentLock_);
  if (seg->dependentExposed) return;
  dependents_.push_back(seg);
  Shield::expose(seg);
  // The scan may write into it behind the barrier's back.
  if (seg->summaryTraced)
    std::atomic_ref<RefSet>(seg->traceSummary).store(kRefSetUniv, std::memory_order_relaxed);
  else
    seg->summary = kRefSetUniv;
  std::atomic_ref<bool>(seg->dependentExposed).store(true, std::memory_order_release);
}

// Marking is over: the dependents' protection may come back (their
// summaries are universal, so settleSegments will not protect them again
// this time). Before reclaim, which may free a dependent's segment (a
// dependent may die while the object that named it lives).
void Trace::coverDependents() {
  for (Segment* seg : dependents_) {
    seg->dependentExposed = false;
    if (!seg->summaryTraced) seg->shieldMode = kShieldNone;
    Shield::cover(seg);
  }
  dependents_.clear();
}

// Uncondemned segments of ambiguous rank (AMS with ambiguous allocation
// points) are scanned with the ambiguous roots, before any exact fix could
// move an object they designate (amc.md .amc.late); scanRememberedSet then
// passes over them.
Res Trace::scanAmbiguousSegments(Worker* worker) {
  Res res = Res::ok;
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      if (res != Res::ok || seg->isWhite(traces()) || seg->rankSet != rankSetOf(Rank::ambig))
        return;
      // Never protected (settleSegments): scanned with the roots every time.
      Shield::expose(seg);
      res = seg->scan(&worker->ss);
      ++segmentsScanned_;
    });
  });
  return res;
}

// The remembered set (design/shield.md .shield.remembered): an uncondemned
// segment whose summary meets the white zones may hold references to white
// objects, and is scanned; one whose summary does not cannot, and is passed
// over. The write barrier keeps summaries true: narrowed to what a trace saw
// (settleSegments), widened to the universal set by the first write after.
// Without the barrier (Shield::registerArena refused) no summary is ever
// narrowed and every segment with references is scanned.
Res Trace::scanRememberedSet(Worker* worker) {
  SegmentList remembered;
  // Condemned for their young objects only: the old ones are black, and
  // may refer to young objects (exposed already, by condemn).
  SegmentList oldInCondemned;
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      if (seg->rankSet == kRankSetEmpty) return;
      if (seg->isWhite(traces())) {
        if (seg->condemnedYoung && mayReferToWhite(seg)) oldInCondemned.push_back(seg);
        return;
      }
      if (seg->rankSet == rankSetOf(Rank::ambig)) return;  // scanned with the roots
      // Copied into during the root scans: its every object is grey already.
      if (seg->summaryTraced) return;
      if (!mayReferToWhite(seg)) {
        ++segmentsSkipped_;
        return;
      }
      remembered.push_back(seg);
    });
  });
  exposeForTrace(remembered);
  Res res = Res::ok;
  worker->flushSummary();  // what the roots saw belongs to no segment
  for (const SegmentList* list : {&remembered, &oldInCondemned}) {
    for (Segment* seg : *list) {
      if (res != Res::ok) break;
      if (seg->rankSet == rankSetOf(Rank::weak)) {
        // .trace.rank: scanned in the weak phase; a segment condemned young
        // is scanned there for all its marked objects, its young
        // survivors among them (so they are not scanned from weakGrey).
        seg->weakScanWhole = true;
        weakSegs_.push_back(seg);
        continue;
      }
      if (incremental_) {
        // .trace.incremental: grey work like any other, read-protected
        // until an increment (or the read barrier) scans it whole.
        worker->stack.push_back(GreyRef{seg, nullptr});
        continue;
      }
      worker->scanning(seg);
      res = seg->scan(&worker->ss);
      ++segmentsScanned_;
    }
  }
  worker->flushSummary();
  return res;
}

bool Trace::mayReferToWhite(const Segment* seg) const {
  // .ms.sticky.remembered: a summary that is not universal was built when
  // the segment was last scanned and has held since (the barrier would have
  // widened it at the first write). Every reference the segment holds was
  // then to an object that survived that trace, which is old now: so it can
  // refer to a young object condemned in place only if written since.
  if (!seg->summaryOfOld) return (seg->summary & white_) != kRefSetEmpty;
  if (seg->summary == kRefSetUniv) return white_ != kRefSetEmpty;
  return (seg->summary & whiteOld_) != kRefSetEmpty;
}

void Trace::exposeForTrace(const SegmentList& segs) {
  ProtectionBatch batch;
  for (Segment* seg : segs) {
    MPS_AVER(!seg->summaryTraced && "a trace exposes a segment once");
    seg->beginTracedSummary();
    if (incremental_) {
      // .trace.incremental.candidates: no exposure lasts while the mutator
      // runs; each yield decides the segment's protection, the first one
      // included. Unprotected now, in runs of neighbours, rather than one
      // fault at a time.
      Shield::setMode(seg, kShieldNone, &batch);
      yieldCandidates_.push_back(seg);
      continue;
    }
    // Wanting no protection, so that nothing protects it again before
    // settleSegments has decided.
    seg->shieldMode = kShieldNone;
    Shield::expose(seg, &batch);
  }
  batch.apply();
}

bool Trace::barrierPays(Segment* seg) const {
  if (!collector_->barrierPolicy) return true;
  // .shield.defer: scanned a few more times unprotected first.
  if (seg->barrierDefer > 0) {
    --seg->barrierDefer;
    return false;
  }
  const Generation* gen = seg->condemningGeneration();
  if (gen == nullptr) return true;
  // Condemned by the next collection: it will be exposed for that, and
  // every write before is a fault for nothing.
  if (int(gen->index) <= gen->chain->predictedNextTop()) return false;
  // Too little to scan to pay for protecting it and for the faults.
  for (const GenerationBytes& g : genBytes_)
    if (g.gen == gen) return g.bytes >= barrierMinBytes_;
  return false;
}

void Trace::settleSegments(bool ok) {
  bool barrier = collector_->hasBarrier();
  if (barrier) {
    // .shield.policy: the bytes of segments with references in each
    // generation, to weigh against the cost of protecting them.
    genBytes_.clear();
    forEachAutoPool(arena_, [&](AutoPool* pool) {
      pool->forEachSegment([&](Segment* seg) {
        const Generation* gen = seg->condemningGeneration();
        if (gen == nullptr || seg->rankSet == kRankSetEmpty) return;
        for (GenerationBytes& g : genBytes_)
          if (g.gen == gen) {
            g.bytes += seg->size();
            return;
          }
        genBytes_.push_back(GenerationBytes{gen, seg->size()});
      });
    });
    // Each protection change of a process with another thread running
    // interrupts the CPUs it ran on (a TLB shootdown): worth it only for
    // more scanning saved.
    barrierMinBytes_ = collector_->barrierMinBytes;
    if (collector_->threadCount() > 1 || parallel_) barrierMinBytes_ *= 2;
  }
  ProtectionBatch batch;
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      // .shield.defer: protected since the last trace, and not written.
      if (seg->barrierProtected && seg->summary != kRefSetUniv && seg->barrierHits > 0)
        --seg->barrierHits;
      if (seg->summaryTraced) {
        seg->summaryTraced = false;
        // An abandoned trace did not scan everything it meant to.
        seg->summary = ok && barrier ? seg->traceSummary : kRefSetUniv;
        seg->summaryOfOld = ok && condemnsAllYoung_;
      }
      // The mutator writes into a segment with an allocation buffer
      // unhindered (objects are initialised there), and so does the
      // collector into one it keeps copying into: no summary holds.
      if (seg->buffer != nullptr || seg->receiving) seg->summary = kRefSetUniv;
      bool protect = barrier && seg->buffer == nullptr && !seg->receiving &&
                     seg->rankSet != kRankSetEmpty && !rankSetHas(seg->rankSet, Rank::ambig) &&
                     seg->summary != kRefSetUniv;
      if (protect && !barrierPays(seg)) {
        // Left unprotected, its summary cannot be trusted.
        protect = false;
        seg->summary = kRefSetUniv;
      }
      seg->barrierProtected = protect;
      Shield::setMode(seg, protect ? kShieldWrite : kShieldNone, &batch);
      if (seg->shieldDepth > 0) Shield::cover(seg, &batch);
      MPS_AVER(seg->shieldDepth == 0 && "a trace covers every segment it exposed");
    });
  });
  batch.apply();
}

// Grey objects ---------------------------------------------------------------------

namespace {

// How many grey objects are prefetched ahead of the one being scanned: enough
// to cover a miss to memory with the scanning of the others, few enough that
// the prefetched lines are still in the cache when their turn comes.
constexpr Size kPrefetchDepth = 8;

}  // namespace

void Worker::switchSummary(Segment* next) {
  if (summarySeg_ != nullptr) {
    RefSet seen = ss.summary();
    std::atomic_ref<RefSet> acc(summarySeg_->traceSummary);
    // Read first: the zones saturate quickly, and a read keeps the line
    // shared between the workers scanning the same segment.
    if ((acc.load(std::memory_order_relaxed) & seen) != seen)
      acc.fetch_or(seen, std::memory_order_relaxed);
  }
  ss.resetSummary();
  summarySeg_ = next;
}

void Worker::finishOldest() {
  PendingFix f = pending_[pendingHead_];
  pendingHead_ = (pendingHead_ + 1) % kFixDepth;
  --pendingCount_;
  f.seg->finishFix(&ss, f.ref, f.rank);
}

namespace {

// The address on which hand-offs through oneTBB are declared to TSan (all
// drains share it: more ordering than there is, only in TSan builds).
[[maybe_unused]] char gTaskHandOff;

// Scans grey objects of `worker` until its stack, its prefetch FIFO and its
// deferred fixes are all empty, a scan fails, or `stop` is set. `afterScan`
// runs after each scan (work sharing).
template <class AfterScan>
Res drainStack(Worker* worker, const std::atomic<bool>* stop, AfterScan&& afterScan) {
  GreyStack& stack = worker->stack;
  GreyRef fifo[kPrefetchDepth];
  Size head = 0, count = 0;
  for (;;) {
    while (count < kPrefetchDepth && !stack.empty()) {
      GreyRef g = stack.back();
      stack.pop_back();
      __builtin_prefetch(g.object);
      fifo[(head + count) % kPrefetchDepth] = g;
      ++count;
    }
    if (count == 0) {
      if (!worker->hasPending()) {
        worker->flushSummary();
        return Res::ok;
      }
      worker->finishPending();  // may make more objects grey
      continue;
    }
    GreyRef g = fifo[head];
    head = (head + 1) % kPrefetchDepth;
    --count;
    worker->scanning(g.seg);
    Res res = g.seg->scanObject(&worker->ss, g.object);
    ++worker->objectsScanned;
    if (MPS_UNLIKELY(res != Res::ok)) {
      // The marks are incomplete and the trace is abandoned: what is left in
      // the FIFO does not matter.
      return res;
    }
    if (stop != nullptr && MPS_UNLIKELY(stop->load(std::memory_order_relaxed))) {
      // Whoever goes on from here (this worker, in the parallel drain after
      // a serial start) needs the prefetched grey objects back.
      for (; count > 0; --count, head = (head + 1) % kPrefetchDepth)
        stack.push_back(fifo[head]);
      worker->flushSummary();
      return Res::ok;
    }
    afterScan();
  }
}

// The state shared by the workers of one parallel drain.
struct Drain {
  // Grey objects a worker moves to the shared list at a time: large enough
  // that sharing is rare next to scanning, small enough to split a stack
  // only a few thousand entries deep.
  static constexpr Size kPacket = 256;

  std::vector<Worker*, PageAllocator<Worker*>>* workers;
  int width = 0;
  // What every worker reads after each scan, apart from what is written
  // when work moves.
  alignas(64) std::atomic<Size> packetCount{0};  // packets.size(), readable without the lock
  std::atomic<int> active{0};                    // workers with grey objects in hand
  std::atomic<bool> failed{false};
  // Set by a failure or by the deadline: every worker stops.
  std::atomic<bool> halt{false};
  bool timed = false;
  Trace::Clock::time_point deadline;
  alignas(64) std::mutex lock;  // protects packets and spares
  std::vector<GreyStack, PageAllocator<GreyStack>> packets;
  // Emptied packets, kept with their storage: each new one is a mapping.
  std::vector<GreyStack, PageAllocator<GreyStack>> spares;

  void work(Worker* worker);
  void maybeShare(Worker* worker);
  bool takePacket(Worker* worker);
};

void Drain::maybeShare(Worker* worker) {
  GreyStack& stack = worker->stack;
  // Cheap tests first: most scans share nothing.
  if (stack.size() < 2) return;
  if (packetCount.load(std::memory_order_relaxed) != 0) return;
  if (active.load(std::memory_order_relaxed) >= width) return;
  Size n = stack.size() / 2;
  if (n > kPacket) n = kPacket;
  GreyStack packet;
  {
    std::lock_guard<std::mutex> guard(lock);
    if (!spares.empty()) {
      packet = std::move(spares.back());
      spares.pop_back();
    }
  }
  packet.assign(stack.begin(), stack.begin() + std::ptrdiff_t(n));
  // Fill the hole at the bottom with entries from the top rather than
  // moving the whole stack down: the order of grey objects does not matter.
  Size size = stack.size();
  Size keep = size - n;
  Size moved = keep < n ? keep : n;
  for (Size k = 0; k < moved; ++k)
    stack[k] = stack[size - moved + k];
  stack.resize(keep);
  {
    std::lock_guard<std::mutex> guard(lock);
    packets.push_back(std::move(packet));
    packetCount.store(packets.size(), std::memory_order_seq_cst);
  }
}

bool Drain::takePacket(Worker* worker) {
  std::lock_guard<std::mutex> guard(lock);
  if (packets.empty()) return false;
  GreyStack& packet = packets.back();
  worker->stack.insert(worker->stack.end(), packet.begin(), packet.end());
  packet.clear();
  spares.push_back(std::move(packet));
  packets.pop_back();
  packetCount.store(packets.size(), std::memory_order_seq_cst);
  return true;
}

void Drain::work(Worker* worker) {
  active.fetch_add(1, std::memory_order_seq_cst);
  unsigned tick = 0;
  for (;;) {
    Res res = drainStack(worker, &halt, [&] {
      maybeShare(worker);
      // .trace.incremental: the increment's deadline, read every few scans.
      if (timed && (++tick & 31) == 0 && Trace::Clock::now() >= deadline)
        halt.store(true, std::memory_order_relaxed);
    });
    if (res != Res::ok) {
      if (worker->res == Res::ok) worker->res = res;
      failed.store(true, std::memory_order_relaxed);
      halt.store(true, std::memory_order_relaxed);
    }
    if (halt.load(std::memory_order_relaxed)) {
      // Out of time, the grey objects stay on the stack for the next
      // increment; after a failure they do not matter.
      if (failed.load(std::memory_order_relaxed)) worker->stack.clear();
      active.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    // Out of work. A worker shares only while it is active, so once no
    // worker is active and the list is empty, nothing is grey anywhere
    // (a worker that went idle after sharing finds its own packet here).
    active.fetch_sub(1, std::memory_order_seq_cst);
    for (unsigned spins = 0;; ++spins) {
      if (halt.load(std::memory_order_relaxed)) return;
      if (packetCount.load(std::memory_order_seq_cst) != 0) {
        active.fetch_add(1, std::memory_order_seq_cst);
        if (takePacket(worker)) break;
        active.fetch_sub(1, std::memory_order_seq_cst);
      } else if (active.load(std::memory_order_seq_cst) == 0) {
        return;
      }
      // On a machine with fewer free cores than workers, let the worker
      // with the grey objects run.
      if (spins > 64) std::this_thread::yield();
    }
  }
}

}  // namespace

void Trace::goParallel() {
  ++parallelDrains_;
  if (!parallel_ || incremental_) {
    parallel_ = true;
    for (Worker* w : workers_)
      w->concurrent = true;
    // Pools get ready for workers that allocate while others read the
    // arena's tables (Arena::setConcurrentReaders): AMC reserves address
    // space for its to-space. (A trace drains again after its final phase;
    // an incremental one at every increment, and the mutator may have
    // taken the space reserved in between.)
    forEachAutoPool(arena_, [&](AutoPool* pool) { pool->traceGoesParallel(this); });
  }
  arena_->setConcurrentReaders(true);
}

Res Trace::drain(Clock::time_point deadline) {
  Worker* first = workers_[0];
  // An increment that ran out of time left grey objects on every worker's
  // stack: they all start on the collecting thread's.
  for (Size i = 1; i < workers_.size(); ++i) {
    Worker* w = workers_[i];
    w->finishPending();
    if (w->stack.empty()) continue;
    first->stack.insert(first->stack.end(), w->stack.begin(), w->stack.end());
    w->stack.clear();
  }
  const bool timed = deadline != Clock::time_point::max();
  bool outOfTime = false;
  unsigned tick = 0;
  // .trace.incremental: the clock is read every few scans.
  auto timeUp = [&] {
    if (!timed || (++tick & 31) != 0 || Clock::now() < deadline) return false;
    outOfTime = true;
    return true;
  };
  std::atomic<bool> stop{false};
  if (workers_.size() == 1) {
    if (!timed) return drainStack(first, nullptr, [] {});
    return drainStack(first, &stop, [&] {
      if (timeUp()) stop.store(true, std::memory_order_relaxed);
    });
  }
  // .trace.serial: the collecting thread marks alone until the work has
  // proved big enough to pay for waking the other workers; most nursery
  // collections of a small nursery end here, without a thread switch, a
  // spin or a cross-core cache miss.
  const Size start = first->ss.scannedBytes, serial = collector_->serialScanBytes;
  const Size budget = serial > ~Size(0) - start ? ~Size(0) : start + serial;
  Res res = drainStack(first, &stop, [&] {
    if (first->ss.scannedBytes > budget && first->stack.size() >= kSerialMinGrey)
      stop.store(true, std::memory_order_relaxed);
    else if (timeUp())
      stop.store(true, std::memory_order_relaxed);
  });
  if (res != Res::ok || !stop.load(std::memory_order_relaxed) || outOfTime) return res;
  goParallel();
  WorkerPool* pool = collector_->workerPool_;
  Drain drain;
  drain.workers = &workers_;
  drain.width = int(workers_.size());
  drain.timed = timed;
  drain.deadline = deadline;
  MPS_HAPPENS_BEFORE(&gTaskHandOff);  // execute may hand the functor to a worker
  pool->arena().execute([&] {
    MPS_HAPPENS_AFTER(&gTaskHandOff);
    tbb::task_group group;
    for (Size i = 1; i < workers_.size(); ++i) {
      Worker* w = workers_[i];
      // oneTBB's queues are not instrumented: tell TSan that the workers'
      // state (the roots' grey objects among it) reaches the task, and the
      // task's marking reaches the waiter. The task's first act names a
      // static address: reading its own captures would already be the
      // access TSan has to be told about (test/tsan.supp has the rest).
      MPS_HAPPENS_BEFORE(&gTaskHandOff);
      group.run([&drain, w] {
        MPS_HAPPENS_AFTER(&gTaskHandOff);
        drain.work(w);
        MPS_HAPPENS_BEFORE(&gTaskHandOff);
      });
    }
    // The collecting thread is a worker too, with the roots' grey objects.
    drain.work(first);
    group.wait();
    MPS_HAPPENS_AFTER(&gTaskHandOff);
    MPS_HAPPENS_BEFORE(&gTaskHandOff);
  });
  MPS_HAPPENS_AFTER(&gTaskHandOff);
  arena_->setConcurrentReaders(false);
  for (Worker* w : workers_)
    if (w->res != Res::ok) return w->res;
  // Stopped by the deadline: packets still shared go back to a stack.
  for (GreyStack& packet : drain.packets)
    first->stack.insert(first->stack.end(), packet.begin(), packet.end());
  return Res::ok;
}

// Moving pools -------------------------------------------------------------------

void Trace::beginPools() {
  forEachAutoPool(arena_, [&](AutoPool* pool) { pool->traceBegin(this); });
}

void Trace::endPools(bool abandoned) {
  forEachAutoPool(arena_, [&](AutoPool* pool) { pool->traceEnd(this, abandoned); });
}

// Reclaim ----------------------------------------------------------------------

Trace::GenerationTally* Trace::tallyFor(Generation* gen) {
  for (GenerationTally& t : tallies_)
    if (t.gen == gen) return &t;
  tallies_.push_back(GenerationTally{gen, 0, 0});
  return &tallies_.back();
}

const Trace::GenerationTally* Trace::tallyOf(const Generation* gen) const {
  for (const GenerationTally& t : tallies_)
    if (t.gen == gen) return &t;
  return nullptr;
}

void Trace::reclaim() {
  for (Segment* seg : condemnedSegs_) {
    Size before = preserved_.load(std::memory_order_relaxed);
    Generation* gen = seg->tallyGeneration(this);
    bool empty = seg->reclaim(this);
    if (gen != nullptr)
      tallyFor(gen)->survived += preserved_.load(std::memory_order_relaxed) - before;
    Shield::cover(seg);
    if (empty) seg->release();
  }
  condemnedSegs_.clear();
}

void Trace::accountGenerations(Chain* chain, unsigned top, bool all) {
  Size rememberedBytes = 0;
  for (Worker* w : workers_)
    rememberedBytes += w->ss.rememberedBytes;
  collector_->chains_.forEach([&](Chain* c) {
    for (Size i = 0; i < c->count(); ++i) {
      Generation* g = c->gen(i);
      Size arrived = g->newSize > g->newSizeAtTraceStart ? g->newSize - g->newSizeAtTraceStart : 0;
      g->arrivedLastTrace = arrived > g->newDuringTrace ? arrived - g->newDuringTrace : 0;
    }
    for (Size i = 0; i < c->count(); ++i) {
      Generation* g = c->gen(i);
      if (!(all || (c == chain && g->index <= top))) continue;
      const GenerationTally* tally = tallyOf(g);
      Size condemned = tally != nullptr ? tally->condemned : 0;
      Size survived = tally != nullptr ? tally->survived : 0;
      // What arrived in the next generation during this trace came from
      // this one (every pool promotes one generation at a time); the last
      // generation keeps all its survivors.
      Size promoted = i + 1 < c->count() ? c->gen(i + 1)->arrivedLastTrace : 0;
      g->noteCollected(condemned, survived, survived > promoted ? survived - promoted : 0);
      g->newSize = g->newDuringTrace;
      // .chain.pacing: what a collection up to this generation costs.
      if (!all && g->index == top) g->workBytes = rememberedBytes;
    }
  });
}

// A scan failed: nothing may be freed, since the marks are incomplete.
void Trace::abandon() {
  for (Segment* seg : condemnedSegs_) {
    seg->white &= ~traces();
    seg->condemnedYoung = false;
    if (seg->marksPersist()) collector_->stickyMarksLost = true;  // .ms.sticky.abandon
    Shield::cover(seg);
  }
  condemnedSegs_.clear();
  for (Worker* w : workers_) {
    w->stack.clear();
    w->weakGrey.clear();
  }
  clearWeakScanWhole();
}

// The heap verifier (checked builds): every reference in a scanned object
// or an exact root designates an object.
void Trace::verify() {
  Worker checker(arena_, nullptr);
  ScanState& ss = checker.ss;
  ss.startVerifying();
  ss.c._w = kRefSetUniv;  // every reference reaches fix2
  Size narrowSummaries = 0;
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      if (seg->rankSet == kRankSetEmpty) return;
      Shield::expose(seg);
      ss.resetSummary();
      (void)seg->scan(&ss);
      // .shield.summary: the summary covers every reference the segment
      // holds (the white set is universal here, so every reference reached
      // the unfixed summary).
      if ((ss.c._ufs & ~seg->summary) != 0) ++narrowSummaries;
      Shield::cover(seg);
    });
  });
  if (narrowSummaries != 0)
    assertFail(__FILE__, __LINE__,
               "heap verifier: a segment's summary covers every zone its references point into");
  collector_->forEachRoot([&](Root* root) {
    if (root->rank() != Rank::ambig) (void)root->scan(&ss);
  });
  // Registrations and finalization messages designate objects.
  ss.setRank(Rank::exact);
  collector_->forEachRegistration([&](FinalizationMessage* m) { (void)ss.fix2(&m->ref); });
  collector_->messages().forEachLive([&](Message* m) {
    if (m->type() == MessageType::finalization) (void)ss.fix2(&FinalizationMessage::from(*m).ref);
  });
  if (ss.verifyFailures != 0)
    assertFail(__FILE__, __LINE__, "heap verifier: every exact reference designates an object");
}

// Telemetry ---------------------------------------------------------------------------

void Trace::emitEnd() {
  for (const GenerationTally& t : tallies_) {
    // What arrived in the next generation during this trace came from this
    // one (as accountGenerations reckons).
    const Chain* c = t.gen->chain;
    Size promoted = c != nullptr && t.gen->index + 1 < c->count()
                        ? c->gen(t.gen->index + 1)->arrivedLastTrace
                        : 0;
    MPS_EVENT(TraceGeneration, arena_, id_, c, t.gen->index, t.condemned, t.survived, promoted);
  }
  Size used = parallel_ ? workers_.size() : 1;
  for (Size i = 0; i < used; ++i) {
    const Worker* w = workers_[i];
    MPS_EVENT(TraceWorker, arena_, id_, i, w->objectsScanned, w->objectsMarked, w->ss.scannedBytes);
  }
  if (MPS_EVENT_ON(GenerationSize)) {
    collector_->chains_.forEach([&](Chain* c) {
      for (Size i = 0; i < c->count(); ++i) {
        const Generation* g = c->gen(i);
        MPS_EVENT(GenerationSize, arena_, c, i, g->capacity, g->liveSize + g->newSize, g->newSize);
      }
    });
  }
}

// The whole collection ---------------------------------------------------------------

void Trace::notePhase(Rank rank) {
  std::uint64_t t = event::now();
  MPS_EVENT(TracePhase, arena_, id_, rank, t - phaseStart_, segmentsScanned_ - phaseSegs_);
  phaseStart_ = t;
  phaseSegs_ = segmentsScanned_;
}

Res Trace::run(Chain* chain, unsigned top, bool all) {
  Res res = start(chain, top, all, false);
  if (res == Res::ok) res = drain();
  return finish(res);
}

Res Trace::start(Chain* chain, unsigned top, bool all, bool incremental) {
  t0_ = Clock::now();
  incremental_ = incremental;
  unsigned n = collector_->workers();
  // Marking starts on the collecting thread alone; drain() brings the
  // others in if the work is big enough (.trace.serial).
  parallel_ = false;
  if (collector_->workerPool_ == nullptr) n = 1;
  workers_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(new (PageAllocator<Worker>().allocate(1)) Worker(arena_, this));
    workers_.back()->concurrent = false;
    workers_.back()->index = i;
  }

  collector_->chains_.forEach([&](Chain* c) {
    for (Size i = 0; i < c->count(); ++i)
      c->gen(i)->newSizeAtTraceStart = c->gen(i)->newSize;
  });

  // Segments are exposed as the trace comes to them (condemned, scanned
  // whole, copied into); settleSegments covers them at the end with the
  // protection their new summaries allow.
  flip();
  if (incremental_) Shield::recordLifts(arena_, true);
  Res res = condemn(chain, top, all);
  if (MPS_EVENT_ON(TraceStart)) {
    MPS_EVENT(TraceStart, arena_, id_, chain, top, all, condemned_, why_);
    for (const GenerationTally& t : tallies_)
      MPS_EVENT(TraceCondemn, arena_, id_, t.gen->chain, t.gen->index, t.condemned);
  }
  if (res != Res::ok) return res;
  // The white set is known only now: refresh each worker's copy.
  for (Worker* w : workers_)
    w->ss.c._w = white_;
  beginPools();
  poolsBegun_ = true;
  // Each rank's phase is one TracePhase event (design/event.md).
  phaseStart_ = event::now();
  res = scanRoots(workers_[0]);
  phaseSegs_ = segmentsScanned_;  // the ambiguous phase counted its own
  if (res == Res::ok) res = scanRememberedSet(workers_[0]);
  return res;
}

Res Trace::advance(Clock::time_point deadline) {
  auto tm = Clock::now();
  Res res = drain(deadline);
  markSeconds_ += secondsSince(tm);
  return res;
}

bool Trace::markingDone() const {
  for (const Worker* w : workers_)
    if (!w->stack.empty() || w->hasPending()) return false;
  return true;
}

Res Trace::finish(Res res) {
  auto tm = Clock::now();
  // Until now new bytes came from the mutator alone (pools note their
  // survivors from here on).
  collector_->chains_.forEach([&](Chain* c) {
    for (Size i = 0; i < c->count(); ++i) {
      Generation* g = c->gen(i);
      g->newDuringTrace = incremental_ && g->newSize > g->newSizeAtTraceStart
                              ? g->newSize - g->newSizeAtTraceStart
                              : 0;
    }
  });
  if (res == Res::ok) {
    res = drain();
    if (res == Res::ok) notePhase(Rank::exact);
    if (res == Res::ok) res = scanFinal(workers_[0]);
    // Registrations of live mark-sweep objects leave deferred fixes (no-ops)
    // even when nothing fires: drain those too.
    if (res == Res::ok && (!firing_.empty() || workers_[0]->hasPending())) res = drain();
    if (res == Res::ok) notePhase(Rank::final);
    if (res == Res::ok) res = scanWeak(workers_[0]);
    if (res == Res::ok) notePhase(Rank::weak);
  }
  // A trace that failed while condemning never began marking.
  if (poolsBegun_) {
    endPools(res != Res::ok);
    coverDependents();
  }
  markSeconds_ += secondsSince(tm);
  // Reclaim may free segments the collector lifted: settleSegments decides
  // every segment's protection anyway.
  if (incremental_) {
    Shield::recordLifts(arena_, false);
    for (Segment* seg : greyAtYield_)
      seg->grey &= ~traces();
    greyAtYield_.clear();
    // Reclaim (or abandon) covers the condemned segments as a
    // stop-the-world trace exposed them at condemn; unprotected together
    // now rather than one fault each.
    ProtectionBatch batch;
    for (Segment* seg : condemnedSegs_)
      Shield::expose(seg, &batch);
    batch.apply();
  }
  if (res != Res::ok) {
    abandon();
  } else {
    reclaim();
    accountGenerations(chain_, top_, all_);
    if (MPS_EVENT_ON(TraceEnd) || MPS_EVENT_ON(GenerationSize)) emitEnd();
    // .ms.sticky.abandon: every sticky segment was marked afresh.
    if (collector_->stickyMarksLost && condemnsAllMarks_) collector_->stickyMarksLost = false;
  }
  settleSegments(res == Res::ok);
  finishFinalization(res == Res::ok);

  Collector::Stats& stats = collector_->last_;
  stats.condemned = condemned_;
  stats.live = preserved_.load();
  stats.notCondemned = notCondemned_;
  stats.reclaimed = reclaimed_;
  stats.objectsMarked = 0;
  stats.scannedBytes = 0;
  for (Worker* w : workers_) {
    stats.objectsMarked += w->objectsMarked;
    stats.scannedBytes += w->ss.scannedBytes;
  }
  stats.segmentsScanned = segmentsScanned_;
  stats.segmentsSkipped = segmentsSkipped_;
  stats.workers = parallel_ ? unsigned(workers_.size()) : 1;
  stats.markSeconds = markSeconds_;
  stats.totalSeconds = secondsSince(t0_);
#if MPS_CHECKED
  if (res == Res::ok && collector_->verifyHeap) verify();
#endif
  return res;
}

// Incremental collection (.trace.incremental) ---------------------------------------

unsigned Trace::mutatorMode(const Segment* seg, bool* unprotectable) const {
  *unprotectable = false;
  // The read barrier: the mutator must not load a reference to a white
  // object from a grey segment, nor store into it before it is scanned.
  if (seg->isGreyFor(traces())) return kShieldRead | kShieldWrite;
  // A segment the trace rebuilds the summary of wanted no protection for
  // the trace (exposeForTrace); any other keeps its write barrier.
  unsigned mode = seg->summaryTraced ? unsigned(kShieldNone) : seg->shieldMode & ~kShieldRead;
  if (seg->summaryTraced && seg->traceSummary != kRefSetUniv &&
      (!seg->isWhite(traces()) || seg->reachableWhileWhite())) {
    // Scanned (black): a write now must widen the summary the trace is
    // building for it (Shield::dropBarrier), or settleSegments would
    // narrow it to what the scan saw. A segment the mutator allocates in
    // cannot be protected: it may be written unseen. (A condemned segment
    // none of whose objects the mutator can reach needs nothing.)
    if (seg->buffer == nullptr && !seg->receiving && seg->rankSet != kRankSetEmpty &&
        !rankSetHas(seg->rankSet, Rank::ambig))
      mode |= kShieldWrite;
    else
      *unprotectable = true;
  }
  return mode;
}

void Trace::greyForMutator(Segment* seg) {
  if (seg->isGreyFor(traces())) return;
  seg->grey |= traces();
  greyAtYield_.push_back(seg);
}

void Trace::yieldToMutator() {
  MPS_AVER(!yielded_);
  MPS_AVER(collector_->hasBarrier() && "an incremental trace has the barrier");
  // Deferred fixes are marks not yet made: the objects that led to them
  // are scanned already, so nothing else would make them.
  for (Worker* w : workers_)
    w->finishPending();
  // .trace.incremental.candidates: the pause costs what it changed, not
  // what the heap holds. The segments whose protection may differ from
  // the last yield's: those grey then, those grey now, those the pools
  // noted, and those the collector lifted in the pause (.shield.lazy).
  SegmentList& visit = yieldCandidates_;
  for (Worker* w : workers_) {
    visit.insert(visit.end(), w->yieldCandidates.begin(), w->yieldCandidates.end());
    w->yieldCandidates.clear();
  }
  for (Segment* seg : greyAtYield_) {
    seg->grey &= ~traces();
    visit.push_back(seg);
  }
  greyAtYield_.clear();
  // Grey: a segment with an object on some worker's stack (or waiting for
  // the weak phase), or queued to be scanned whole.
  for (Worker* w : workers_) {
    for (const GreyRef& g : w->stack)
      greyForMutator(g.seg);
    for (const GreyRef& g : w->weakGrey)
      greyForMutator(g.seg);
  }
  for (Segment* seg : weakSegs_)
    greyForMutator(seg);
  // A moving pool's to-space segments still being copied into are grey
  // too (their tails are padded meanwhile).
  forEachAutoPool(arena_, [&](AutoPool* pool) { pool->traceYield(this); });
  visit.insert(visit.end(), greyAtYield_.begin(), greyAtYield_.end());
  Shield::takeLifted(arena_, [&](Segment* seg) { visit.push_back(seg); });
  // A dependent's exposure is the trace's: it ends while the mutator runs.
  for (Segment* seg : dependents_) {
    seg->yieldDepth = seg->shieldDepth;
    seg->shieldDepth = 0;
    visit.push_back(seg);
  }
  ProtectionBatch batch;
  for (Segment* seg : visit) {
    if (seg->yieldVisited) continue;
    seg->yieldVisited = true;
    bool unprotectable;
    unsigned mode = mutatorMode(seg, &unprotectable);
    if (unprotectable) seg->traceSummary = kRefSetUniv;
    Shield::setMode(seg, mode, &batch);
  }
  batch.apply();
  for (Segment* seg : visit)
    seg->yieldVisited = false;
  visit.clear();
#if MPS_CHECKED
  checkYieldProtection();
#endif
  yielded_ = true;
}

#if MPS_CHECKED
void Trace::checkYieldProtection() const {
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      // Exposed for the whole trace (ambiguous segments, never protected),
      // or written by the mutator's allocation since its last visit (the
      // write barrier deals with that): nothing to compare.
      if (seg->shieldDepth > 0 || seg->buffer != nullptr) return;
      bool unprotectable;
      unsigned mode = mutatorMode(seg, &unprotectable);
      // A black segment whose trace summary became universal in a pause
      // that neither lifted nor listed it keeps the write protection the
      // summary needed before: one needless fault, never a missed write.
      bool staleWrite = mode == kShieldNone && seg->shieldMode == kShieldWrite &&
                        seg->summaryTraced && seg->traceSummary == kRefSetUniv;
      MPS_AVER((seg->shieldMode == mode || staleWrite) && seg->protMode == seg->shieldMode &&
               "a yield protects every segment as the mutator must see it");
    });
  });
}
#endif

void Trace::resumeFromMutator(Segment* touched) {
  MPS_AVER(yielded_);
  // .trace.incremental.resume: the protection stays; the segments the
  // pause touches fault and are lifted one by one (Shield's .shield.lazy),
  // and the next yield protects them again. A pause touches few segments
  // of a large heap, and each protection change of a process with other
  // threads costs every CPU a TLB shootdown.
  for (Segment* seg : dependents_) {
    seg->shieldDepth += seg->yieldDepth;
    seg->yieldDepth = 0;
  }
  forEachAutoPool(arena_, [&](AutoPool* pool) { pool->traceResume(this); });
  if (touched != nullptr) liftAtResume_.push_back(touched);
  // The next yield protects them again as they must be.
  yieldCandidates_.insert(yieldCandidates_.end(), liftAtResume_.begin(), liftAtResume_.end());
  Shield::liftForCollector(&liftAtResume_);
  liftAtResume_.clear();
  yielded_ = false;
}

bool Trace::blacken(Segment* seg, Clock::time_point deadline, Res* resOut) {
  MPS_AVER(!yielded_);
  *resOut = Res::ok;
  if (!seg->isGreyFor(traces())) return true;  // another thread's fault did it
  // Weak references are decided in the weak phase, once nothing stronger
  // can mark anything: a weak segment cannot be made black earlier.
  if (rankSetHas(seg->rankSet, Rank::weak)) return false;
  Worker* worker = workers_[0];
  worker->flushSummary();
  worker->scanning(seg);
  Res res = seg->scanGrey(&worker->ss);
  ++segmentsScanned_;
  worker->flushSummary();
  // What the scan greyed is marked on until the deadline: objects in the
  // same segment most of all, which would otherwise make it grey again.
  if (res == Res::ok) res = advance(deadline);
  *resOut = res;
  return true;
}

}  // namespace mps::core
