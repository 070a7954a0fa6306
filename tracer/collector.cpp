#include "tracer/collector.hpp"

#include <oneapi/tbb/info.h>

#include <semaphore.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <new>

#include "arena/buffer.hpp"
#include "event/event.hpp"
#include "base/keys.hpp"
#include "messages/message.hpp"
#include "shield/shield.hpp"
#include "tracer/autopool.hpp"
#include "tracer/root.hpp"
#include "tracer/thread.hpp"
#include "tracer/trace.hpp"
#include "tracer/workers.hpp"

namespace mps::core {

namespace {

unsigned defaultWorkers() {
  if (const char* env = std::getenv("MPS_GC_WORKERS")) {
    long n = std::strtol(env, nullptr, 10);
    if (n >= 1 && n <= 1024) return unsigned(n);
  }
  int n = tbb::info::default_concurrency();
  return n >= 1 ? unsigned(n) : 1u;
}

// MPS_PAUSE_TIME (seconds) overrides the default pause time of arenas
// created without MPS_KEY_PAUSE_TIME: a whole program (or test suite) can
// be run with the shortest increments without changing it.
double defaultPauseTime() {
  if (const char* env = std::getenv("MPS_PAUSE_TIME")) {
    char* end;
    double t = std::strtod(env, &end);
    if (end != env && t >= 0.0) return t;
  }
  return Collector::kDefaultPauseTime;
}

}  // namespace

Collector::Collector(Arena* arena) : arena_(arena) {}

Res Collector::create(Collector** out, Arena* arena, const mps_arg_s* args) {
  void* p;
  Res res = arena->controlAlloc(&p, sizeof(Collector));
  if (res != Res::ok) return res;
  Collector* c = new (p) Collector(arena);
  c->objectSize_ = sizeof(Collector);
  res = arena->controlAlloc(&p, sizeof(MessageQueue));
  if (res != Res::ok) {
    c->~Collector();
    arena->controlFree(c, sizeof(Collector));
    return res;
  }
  c->messages_ = new (p) MessageQueue(arena);
  arena->setCollector(c);
  mps_gen_param_s params[2] = {{kDefaultGen0CapacityKiB, kDefaultGen0Mortality},
                               {kDefaultGen1CapacityKiB, kDefaultGen1Mortality}};
  res = Chain::create(&c->defaultChain_, c, 2, params);
  if (res != Res::ok) {
    c->destroy();
    return res;
  }
  bool barrierWanted = MPS_ARG_OPTIONAL(args, ARENA_BARRIER, b, 1) != 0;
  c->barrier_ = Shield::registerArena(arena, barrierWanted);
  if (c->barrier_) Shield::setCollectorHooks(&Collector::onReadFault, &Collector::inPauseOf);
  c->protectionsAtLastEnd_ = Shield::protectionCount();
  c->faultsAtLastEnd_ = Shield::faultCount();
  c->barrierNanosAtLastEnd_ = Shield::barrierNanoseconds();
  double pause = MPS_ARG_OPTIONAL(args, PAUSE_TIME, d, defaultPauseTime());
  MPS_AVER_ALWAYS(pause >= 0.0 && "MPS_KEY_PAUSE_TIME is not negative");
  c->pauseTime_ = pause;
  unsigned workers = MPS_ARG_OPTIONAL(args, ARENA_GC_WORKERS, u, 0u);
  c->setWorkers(workers != 0 ? workers : defaultWorkers());
  *out = c;
  return Res::ok;
}

void Collector::setWorkers(unsigned n) {
  if (n < 1) n = 1;
  if (n == workers_ && (n == 1 || workerPool_ != nullptr)) return;
  delete workerPool_;
  workerPool_ = nullptr;
  workers_ = n;
  // A task arena of one thread would only add overhead: one worker marks
  // on the collecting thread.
  if (n > 1) workerPool_ = new WorkerPool(n);
}

void Collector::destroy() {
  MPS_AVERT(Collector, this);
  // Every automatic pool is gone, so no collection is in progress.
  MPS_AVER(trace_ == nullptr);
  if (!roots_.isSingle())
    assertFail(__FILE__, __LINE__, "arena has no roots: destroy every root before its arena");
  if (!threads_.isSingle())
    assertFail(__FILE__, __LINE__,
               "arena has no threads: deregister every thread before destroying its arena");
  if (formats_ != 0)
    assertFail(__FILE__, __LINE__, "arena has no formats: destroy every format before its arena");
  bool onlyDefault = true;
  chains_.forEach([&](Chain* chain) { onlyDefault &= chain == defaultChain_; });
  if (!onlyDefault)
    assertFail(__FILE__, __LINE__, "arena has no chains: destroy every chain before its arena");
  if (defaultChain_ != nullptr) defaultChain_->destroy();
  // Registrations of blocks never found finalizable: nothing is finalized
  // at arena destruction (finalization.md).
  registry_.forEach([&](FinalizationMessage* m) {
    m->registryRing.remove();
    m->destroy();
  });
  registrations_ = 0;
  if (barrier_) Shield::deregisterArena(arena_);
  stopBarrierService();
  delete workerPool_;
  workerPool_ = nullptr;
  if (messages_ != nullptr) {
    messages_->finish();
    messages_->~MessageQueue();
    arena_->controlFree(messages_, sizeof(MessageQueue));
  }
  Arena* arena = arena_;
  arena->setCollector(nullptr);
  invalidateSig(sig);
  this->~Collector();
  arena->controlFree(this, sizeof(Collector));
}

bool Collector::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(arena_ != nullptr && arena_->collector() == this);
  MPS_CHECKL(workers_ >= 1);
  return true;
}

void Collector::addRoot(Root* root) {
  roots_.append(&root->collectorRing);
}
void Collector::removeRoot(Root* root) {
  root->collectorRing.remove();
}
void Collector::addThread(MutatorThread* thread) {
  threads_.append(&thread->collectorRing);
}
void Collector::removeThread(MutatorThread* thread) {
  thread->collectorRing.remove();
}
void Collector::addChain(Chain* chain) {
  chains_.append(&chain->collectorRing);
}

void Collector::release() {
  // A postmortem arena stays clamped: no collection work ever again.
  if (!postmortem_) clamped_ = false;
}

// Collections ------------------------------------------------------------------------

Res Collector::runTrace(Chain* chain, unsigned top, bool all, const char* why) {
  // A collection in progress ends first (whatever its result, it is over).
  (void)finishCollection();
  return beginCollection(chain, top, all, why, HUGE_VAL);
}

double Collector::incrementBudget() const {
  if (!barrier_ || !(pauseTime_ < kAtomicPauseTime)) return HUGE_VAL;
  return pauseTime_ > kMinIncrementSeconds ? pauseTime_ : kMinIncrementSeconds;
}

Size Collector::totalNewSize() const {
  Size total = 0;
  chains_.forEach([&](Chain* c) {
    for (Size i = 0; i < c->count(); ++i)
      total += c->gen(i)->newSize;
  });
  return total;
}

namespace {

Trace::Clock::time_point deadlineAfter(double seconds) {
  if (!(seconds < 1e9)) return Trace::Clock::time_point::max();
  return Trace::Clock::now() +
         std::chrono::duration_cast<Trace::Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

template <class Work>
bool Collector::runPause(Res* res, event::PauseKind kind, event::PauseKind finishKind,
                         Work&& work) {
  bool done;
  std::uint64_t stopped, resumed;
  {
    // .event.noblock: stopped threads may hold the stream's lock.
    event::NoBlockScope noBlock(event::NoBlockScope::allThreads);
    stopped = event::now();
    stopMutators();
    pausing_.store(true, std::memory_order_release);
    bool finish = work();
    done = closePause(res, finish);
    resumed = event::now();
  }
  // Noted with the threads running, so that its event may wait for the
  // stream.
  notePause(*trace_, done ? finishKind : kind, stopped, resumed);
  return done;
}

Res Collector::beginCollection(Chain* chain, unsigned top, bool all, const char* why,
                               double budget) {
  MPS_AVER_ALWAYS(!collecting_ && trace_ == nullptr &&
                  "a collection is not started from inside a collection");
  // arena.md: nothing runs in the postmortem state (poll and step see the
  // arena clamped; this catches an explicit collection).
  MPS_AVER_ALWAYS(!postmortem_ && "the arena is not in the postmortem state");
  Res res = messages_->reserveForCollection();
  if (res != Res::ok) return res;
  collecting_ = true;
  messages_->postGCStart(why);
  trace_ = new (PageAllocator<Trace>().allocate(1)) Trace(this, why);
  traceAll_ = all;
  collectionPauses_ = PauseSummary();
  thrashDoublings_ = 0;
  pauseTicks_ = pauseMaxTicks_ = 0;
  newSizeAtStart_ = totalNewSize();
  const bool incremental = barrier_ && budget < 1e9;
  bool done = runPause(&res, event::PauseKind::flip, event::PauseKind::flip, [&] {
    res = trace_->start(chain, top, all, incremental);
    if (res == Res::ok) res = trace_->advance(deadlineAfter(budget));
    return !incremental;
  });
  if (done) {
    endCollection(res);
  } else {
    // .trace.keepup: the bound on what the mutator may allocate before
    // the collection must end.
    // As many bytes as it condemned, and at least the capacity of the
    // first generation of its chain (or of the default chain).
    Size condemned = trace_->condemnedBytes();
    Size nursery = (chain != nullptr ? chain : defaultChain_)->gen(0)->capacity;
    keepUpBytes_ = condemned > nursery ? condemned : nursery;
    if (keepUpBytes_ < kKeepUpMinBytes) keepUpBytes_ = kKeepUpMinBytes;
    newSizeAtIncrement_ = newSizeAtStart_;
    // ld.md: objects of the condemned zones may move while the mutator
    // runs; location dependencies on them are stale from now on.
    noteMoved(trace_->white());
    startBarrierService();
    collecting_ = false;
  }
  return res;
}

Res Collector::continueCollection(double budget, event::PauseKind kind, Segment* touched) {
  MPS_AVER(trace_ != nullptr && !collecting_ && trace_->isYielded());
  collecting_ = true;
  Res res = Res::ok;
  bool done = runPause(&res, kind, event::PauseKind::finish, [&] {
    trace_->resumeFromMutator(touched);
    bool finishing = !(budget < 1e9);
    if (touched != nullptr) {
      // A weak segment cannot be blackened early: the collection ends now.
      if (!trace_->blacken(touched, deadlineAfter(budget), &res)) finishing = true;
    } else if (!finishing) {
      res = trace_->advance(deadlineAfter(budget));
    }
    return finishing;
  });
  if (done)
    endCollection(res);
  else
    collecting_ = false;
  return res;
}

bool Collector::closePause(Res* res, bool finish) {
  bool done = finish || *res != Res::ok || trace_->markingDone();
  if (done)
    *res = trace_->finish(*res);
  else
    trace_->yieldToMutator();
  pausing_.store(false, std::memory_order_release);
  resumeMutators();
  return done;
}

void Collector::endCollection(Res res) {
  Trace* trace = trace_;
  if (MPS_EVENT_ON(TraceEnd)) emitTraceEnd(*trace);
  if (!inFaultHandler_) event::writePending();
  if (res == Res::ok) {
    ++collections_;
    if (trace->movedZones() != kRefSetEmpty) noteMoved(trace->movedZones());
    Size protections = Shield::protectionCount(), faults = Shield::faultCount();
    std::uint64_t nanos = Shield::barrierNanoseconds();
    last_.protections = protections - protectionsAtLastEnd_;
    last_.faults = faults - faultsAtLastEnd_;
    last_.barrierSeconds = double(nanos - barrierNanosAtLastEnd_) * 1e-9;
    protectionsAtLastEnd_ = protections;
    faultsAtLastEnd_ = faults;
    barrierNanosAtLastEnd_ = nanos;
    last_.pauses = collectionPauses_;
    messages_->postGC(last_.live, last_.condemned, last_.notCondemned,
                      GCMessage::BarrierCost{last_.protections, last_.faults, last_.barrierSeconds},
                      last_.pauses);
  }
  // step's estimate of a full collection: the time it kept the mutator
  // stopped.
  if (traceAll_) lastFullSeconds_ = collectionPauses_.seconds;
  trace_ = nullptr;
  trace->~Trace();
  PageAllocator<Trace>().deallocate(trace, 1);
  collecting_ = false;
}

Res Collector::finishCollection() {
  if (trace_ == nullptr) return Res::ok;
  MPS_AVER_ALWAYS(!collecting_ && "a collection is not finished from inside a collection");
  return continueCollection(HUGE_VAL, event::PauseKind::finish);
}

Res Collector::startCollect(const char* why) {
  Res res = finishCollection();
  if (res != Res::ok) return res;
  return beginCollection(nullptr, 0, true, why, incrementBudget());
}

void Collector::park() {
  clamped_ = true;
  (void)finishCollection();
}

bool Collector::inPauseOf(Arena* arena) {
  Collector* collector = arena->collector();
  return collector != nullptr && collector->pausing_.load(std::memory_order_acquire);
}

void Collector::onReadFault(Arena* arena, Segment* seg) {
  Collector* collector = arena->collector();
  Lock& lock = arena->lock();
  // A fault from inside an entry point (a pool's own code touching a grey
  // segment, with the lock held) is served as a mutator's is.
  bool held = lock.isHeldByCaller();
  if (!held) lock.claim();
  // .trace.incremental.service: the pause runs on the barrier service
  // thread, outside any signal handler, where the collector may itself
  // fault on a segment it left protected (.shield.lazy): a second SIGSEGV
  // inside this handler would kill the process. This thread waits,
  // suspendable, and is stopped with the other mutators meanwhile.
  MPS_AVER_ALWAYS(collector->serviceThread_ != nullptr &&
                  "a read-protected segment belongs to a collection in progress");
  collector->serviceRequest_ = seg;
  sem_post(&collector->serviceRequestSem_);
  while (sem_wait(&collector->serviceDoneSem_) != 0) {
    // Interrupted (the suspend signal): wait again.
  }
  if (!held) lock.release();
}

void Collector::startBarrierService() {
  if (serviceThread_ != nullptr) return;
  sem_init(&serviceRequestSem_, 0, 0);
  sem_init(&serviceDoneSem_, 0, 0);
  serviceThread_ = new std::thread([this] {
    for (;;) {
      while (sem_wait(&serviceRequestSem_) != 0) {
      }
      if (serviceStop_) return;
      // The faulting thread holds the arena lock on this thread's behalf.
      inFaultHandler_ = true;
      barrierHit(serviceRequest_);
      inFaultHandler_ = false;
      sem_post(&serviceDoneSem_);
    }
  });
}

void Collector::stopBarrierService() {
  if (serviceThread_ == nullptr) return;
  serviceStop_ = true;
  sem_post(&serviceRequestSem_);
  serviceThread_->join();
  delete serviceThread_;
  serviceThread_ = nullptr;
  sem_destroy(&serviceRequestSem_);
  sem_destroy(&serviceDoneSem_);
}

void Collector::barrierHit(Segment* seg) {
  // The collector itself never touches a protected segment: it lifts the
  // protection (Trace::resumeFromMutator) before its work.
  if (collecting_)
    assertFail(__FILE__, __LINE__,
               "the collector accesses a grey segment only after its protection is lifted");
  if (trace_ == nullptr || !seg->isGreyFor(trace_->traces())) {
    // Another thread's fault on the segment (or the end of the collection)
    // got there first: its protection is gone, and the access restarts.
    if ((std::atomic_ref<unsigned>(seg->protMode).load(std::memory_order_acquire) & kShieldRead) !=
        0)
      assertFail(__FILE__, __LINE__, "a read-protected segment is grey in a collection");
    return;
  }
  // The mutator is waiting on this anyway: a whole increment of marking
  // beyond the segment itself. Every barrier hit costs a fault, stopping
  // the threads and protection changes; the more each one marks, the
  // sooner the collection ends and the fewer hits there are.
  // .trace.pacing.thrash: a mutator that walks into what the trace copied
  // but has not scanned yet meets grey segment after grey segment, a
  // pause each, with hardly any work between. Hits that keep coming before
  // the mutator had its share double their marking each time, so such a
  // run of hits ends after a number of pauses logarithmic in the work
  // left, at most twice that work in all.
  std::uint64_t shareEnd = lastPauseEnd_ + std::uint64_t(double(lastPauseTicks_) * kMutatorShare);
  if (event::now() >= shareEnd)
    thrashDoublings_ = 0;
  else if (thrashDoublings_ < kMaxThrashDoublings)
    ++thrashDoublings_;
  double budget = std::ldexp(incrementBudget(), int(thrashDoublings_));
  (void)continueCollection(budget, event::PauseKind::barrier, seg);
}
// .pause.timing: every pause of the mutators is recorded here, whatever its
// kind: the collection's summary (GC message, lastStats), the collector's
// totals (pauseTotals) and a TracePause event.
void Collector::notePause(const Trace& trace, event::PauseKind kind, std::uint64_t start,
                          std::uint64_t end) {
  std::uint64_t ticks = end - start;
  double seconds = double(ticks) / double(event::kTicksPerSecond);
  lastPauseEnd_ = end;
  lastPauseTicks_ = ticks;
  collectionPauses_.add(seconds);
  pauseTotals_.add(seconds);
  pauseTicks_ += ticks;
  if (ticks > pauseMaxTicks_) pauseMaxTicks_ = ticks;
  MPS_EVENT(TracePause, arena_, trace.id(), kind, ticks);
}

void Collector::emitTraceEnd(const Trace& trace) {
  MPS_EVENT(TraceEnd, arena_, trace.id(), last_.condemned, last_.notCondemned, last_.live,
            last_.reclaimed, event::now() - trace.startTime(), pauseTicks_, pauseMaxTicks_,
            collectionPauses_.count, last_.workers, trace.finalizedCount());
}

void Collector::stopMutators() {
  // All signalled before any is waited for, so the stop costs one round
  // trip rather than one per thread.
  SuspendBatch batch;
  threads_.forEach([&](MutatorThread* t) {
    if (!t->os.isCurrent() && !t->dead) batch.add(&t->os);
  });
  batch.run();
  threads_.forEach([&](MutatorThread* t) {
    if (t->os.isCurrent() || t->dead) return;
    if (t->os.isSuspended()) {
      t->suspended = true;
    } else {
      t->dead = true;  // exited without deregistering
    }
  });
}

void Collector::resumeMutators() {
  threads_.forEach([&](MutatorThread* t) {
    if (t->suspended) {
      t->os.resume();
      t->suspended = false;
    }
  });
}

void Collector::postmortem() {
  postmortem_ = true;
  clamped_ = true;
  // A debugger may read every object: no segment stays protected (the
  // summaries become universal, so the barrier's record stays true even if
  // the client went on).
  forEachAutoPool(arena_, [](AutoPool* pool) {
    pool->forEachSegment([](Segment* seg) { Shield::dropBarrier(seg); });
  });
  // Threads a collection in progress stopped (the caller is an assertion
  // handler inside it) run again: nothing will resume them otherwise.
  resumeMutators();
}

// Finalization ---------------------------------------------------------------------

Res Collector::finalize(Addr ref) {
  FinalizationMessage* m;
  Res res = FinalizationMessage::make(&m, messages_, ref);
  if (res != Res::ok) return res;
  // Newest first: a definalize usually undoes a recent registration.
  registry_.prepend(&m->registryRing);
  ++registrations_;
  return Res::ok;
}

Res Collector::definalize(Addr ref) {
  FinalizationMessage* found = nullptr;
  registry_.forEach([&](FinalizationMessage* m) {
    if (found == nullptr && m->ref == ref) found = m;
  });
  if (found == nullptr) return Res::fail;
  found->registryRing.remove();
  --registrations_;
  found->destroy();
  return Res::ok;
}

void Collector::forgetFinalization(const Pool* pool) {
  auto inPool = [&](Addr ref) {
    Segment* seg = arena_->segmentOf(ref);
    return seg != nullptr && seg->pool == pool;
  };
  registry_.forEach([&](FinalizationMessage* m) {
    if (!inPool(m->ref)) return;
    m->registryRing.remove();
    --registrations_;
    m->destroy();
  });
  // Messages: a held one stays valid for the client (its handle may still
  // be read and discarded) but refers to nothing now; queued ones are
  // withdrawn and freed. The queue may not change while it is walked: the
  // victims are linked on their (unused) registry rings first.
  Ring<FinalizationMessage> victims{nullptr};
  messages_->forEachLive([&](Message* m) {
    if (m->type() != MessageType::finalization) return;
    FinalizationMessage& f = FinalizationMessage::from(*m);
    if (!inPool(f.ref)) return;
    if (m->isHeld())
      f.ref = nullptr;
    else
      victims.append(&f.registryRing);
  });
  victims.forEach([&](FinalizationMessage* m) {
    m->registryRing.remove();
    messages_->withdraw(m);
    m->destroy();
  });
}

// Location dependencies ------------------------------------------------------------

RefSet Collector::movedSince(Word epoch) const {
  Word now = ldEpoch();
  if (epoch == now) return kRefSetEmpty;
  // An entry may be overwritten by a later advance while it is read; then
  // the epoch has moved past `epoch + kLdHistory` and prehistory answers.
  if (now - epoch >= kLdHistory) return ldPrehistory_.load(std::memory_order_acquire);
  RefSet moved = ldHistory_[epoch % kLdHistory].load(std::memory_order_acquire);
  if (ldEpoch() - epoch >= kLdHistory) return ldPrehistory_.load(std::memory_order_acquire);
  return moved;
}

void Collector::noteMoved(RefSet zones) {
  Word now = ldEpoch_.load(std::memory_order_relaxed);
  for (Word i = 0; i < kLdHistory; ++i)
    ldHistory_[i].fetch_or(zones, std::memory_order_release);
  ldPrehistory_.fetch_or(zones, std::memory_order_release);
  // The entry that will describe the new epoch starts empty: what it held
  // (epoch now + 1 - kLdHistory) is older than the history keeps, and
  // prehistory already has it. Readers of that old epoch see the new epoch
  // and ask prehistory instead.
  ldEpoch_.store(now + 1, std::memory_order_release);
  ldHistory_[(now + 1) % kLdHistory].store(kRefSetEmpty, std::memory_order_release);
}

Res Collector::collect(const char* why) {
  park();
  return runTrace(nullptr, 0, true, why);
}

Res Collector::collectChain(Chain* chain, unsigned top, const char* why) {
  MPS_AVERT(Chain, chain);
  MPS_AVER(top < chain->count());
  return runTrace(chain, top, false, why);
}

bool Collector::poll() {
  if (clamped_ || collecting_) return false;
  if (trace_ != nullptr) {
    // .trace.keepup: a mutator that allocates faster than the increments
    // mark would make the collection last for ever (and the heap grow
    // without bound meanwhile): past the bound it ends in one pause.
    Size now = totalNewSize();
    if (now > newSizeAtStart_ && now - newSizeAtStart_ > keepUpBytes_) {
      (void)finishCollection();
      return true;
    }
    // .trace.pacing: the mutator gets its share of the time first, unless
    // it allocates so fast that the bound above comes near.
    std::uint64_t due = lastPauseEnd_ + std::uint64_t(double(lastPauseTicks_) * kMutatorShare);
    bool allocating = now - newSizeAtIncrement_ > keepUpBytes_ / kIncrementsPerKeepUp;
    if (event::now() < due && !allocating) return false;
    newSizeAtIncrement_ = now;
    (void)continueCollection(incrementBudget(), event::PauseKind::increment);
    return true;
  }
  if (fullCollectionDue()) {
    collectAllAfterRamps_ = false;
    (void)collect("A ramp allocation pattern ended: the client asked to collect everything.");
    clamped_ = false;
    return true;
  }
  Chain* due = nullptr;
  double worst = 1.0;
  chains_.forEach([&](Chain* chain) {
    double u = chain->urgency();
    if (u > worst) {
      worst = u;
      due = chain;
    }
  });
  if (due == nullptr) return false;
  int top = due->highestOverCapacity();
  if (top < 0) return false;
  // The reasons say which collections are nursery collections (clients
  // that report pause times tell them apart by it).
  (void)beginCollection(due, unsigned(top), false,
                        top == 0 ? "Generation 0 of a chain has reached capacity."
                                 : "Older generations of a chain have reached capacity.",
                        incrementBudget());
  return true;
}

bool Collector::step(double interval, double multiplier) {
  if (collecting_) return false;
  if (trace_ != nullptr) {
    if (clamped_) return false;
    // Idle time offered while a collection is in progress: an increment of
    // up to `interval` (at least the smallest one).
    double budget = interval > kMinIncrementSeconds ? interval : kMinIncrementSeconds;
    if (!barrier_) budget = HUGE_VAL;
    (void)continueCollection(budget, event::PauseKind::increment);
    return true;
  }
  bool due = false;
  chains_.forEach([&](Chain* chain) { due |= chain->highestOverCapacity() >= 0; });
  if (due && !clamped_ && poll()) return true;
  if (!due && !clamped_) {
    // Offered idle time: a full collection if it is expected to fit.
    double budget = interval * multiplier;
    double expected = lastFullSeconds_ > 0 ? lastFullSeconds_ : 0.01;
    bool anyAllocated = false;
    chains_.forEach([&](Chain* chain) {
      for (Size i = 0; i < chain->count(); ++i)
        anyAllocated |= chain->gen(i)->newSize > 0;
    });
    // Objects committed in a buffer count only when it is emptied
    // (.buffer.accounting): look at the buffers too.
    arena_->forEachPool([&](Pool* pool) {
      if (!isAutoPool(pool)) return;
      pool->forEachBuffer([&](Buffer* b) {
        // Only pools that count on empty set accountedTo (AMC counts at
        // the fill, and its allocation is in newSize already).
        anyAllocated |= !b->isReset() && b->accountedTo != nullptr && b->init() > b->accountedTo;
      });
    });
    if (anyAllocated && budget >= expected) {
      (void)collect("The client used idle time to collect.");
      clamped_ = false;
      return true;
    }
  }
  return false;
}

}  // namespace mps::core
