#include "tracer/trace.hpp"

#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <chrono>

#include "arena/buffer.hpp"
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

template <class F>
void forEachAutoPool(Arena* arena, F&& f) {
  arena->forEachPool([&](Pool* pool) {
    if (isAutoPool(pool)) f(static_cast<AutoPool*>(pool));
  });
}

}  // namespace

Trace::Trace(Collector* collector, const char* why)
    : collector_(collector), arena_(collector->arena()), why_(why) {}

Trace::~Trace() {
  for (Worker* w : workers_)
    delete w;
}

// Condemn ----------------------------------------------------------------------

Res Trace::condemn(Chain* chain, unsigned top, bool all) {
  Res res = Res::ok;
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      if (res != Res::ok) return;
      Generation* gen = seg->gen;
      bool condemned = all || (gen != nullptr && gen->chain == chain && gen->index <= top);
      if (!condemned) {
        notCondemned_ += seg->size();
        return;
      }
      Size before = condemned_;
      res = seg->whiten(this);
      if (res == Res::ok) {
        if (gen != nullptr) tallyFor(gen)->condemned += condemned_ - before;
        condemnedSegs_.push_back(seg);
        white_ |= refSetOfRange(seg->base, seg->limit, arena_->zoneShift());
      }
    });
  });
  return res;
}

// Flip: trap every buffer of a pool with references, so a block reserved
// across the collection is never committed unscanned; record what each
// committed so far.
void Trace::flip() {
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachBuffer([&](Buffer* buffer) {
      if (buffer->isReset() || buffer->rankSet == kRankSetEmpty) return;
      buffer->trap();
      buffer->seg->bufferFlipped(buffer);
    });
  });
}

// Roots ------------------------------------------------------------------------

Res Trace::scanRoots(Worker* worker) {
  Res res = Res::ok;
  // Ambiguous roots first: everything they hit is pinned before any exact
  // fix could move it (design brief, "Ranks").
  for (Rank rank : {Rank::ambig, Rank::exact}) {
    collector_->forEachRoot([&](Root* root) {
      if (res != Res::ok || root->rank() != rank) return;
      res = root->scan(&worker->ss);
    });
    if (res != Res::ok) return res;
  }
  return Res::ok;
}

// Weak roots are scanned once marking is over, so that what they refer to
// has its final colour: a reference to an object nothing strong kept is set
// to null (ScanState::fix2 sends weak references to Segment::fixWeak).
Res Trace::scanWeakRoots(Worker* worker) {
  Res res = Res::ok;
  collector_->forEachRoot([&](Root* root) {
    if (res != Res::ok || root->rank() != Rank::weak) return;
    res = root->scan(&worker->ss);
  });
  return res;
}

// Without a write barrier the summaries of segments that were not condemned
// cannot be trusted (the mutator may have written any reference into them
// since they were last scanned), so every such segment with references is
// scanned: nothing narrows a segment's summary yet, it stays the universal
// set and the summary test below never skips one. The protection barrier
// will keep summaries true (narrowed after a scan, widened on a write fault),
// and only then does the test start to save work. Narrowing a summary
// without the barrier would lose objects.
Res Trace::scanRememberedSet(Worker* worker) {
  Res res = Res::ok;
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      if (res != Res::ok || seg->isWhite(traces()) || seg->rankSet == kRankSetEmpty) return;
      if ((seg->summary & white_) == kRefSetEmpty) return;
      worker->ss.resetSummary();
      res = seg->scan(&worker->ss);
      ++segmentsScanned_;
    });
  });
  return res;
}

// Grey objects ---------------------------------------------------------------------

Res Trace::drainSequential(Worker* worker) {
  while (!worker->stack.empty()) {
    GreyRef g = worker->stack.back();
    worker->stack.pop_back();
    Res res = g.seg->scanObject(&worker->ss, g.object);
    ++worker->objectsScanned;
    if (res != Res::ok) return res;
  }
  return Res::ok;
}

namespace {

// The address on which hand-offs through oneTBB are declared to TSan (all
// drains share it: more ordering than there is, only in TSan builds).
[[maybe_unused]] char gTaskHandOff;

// The state shared by the tasks of one parallel drain.
struct Drain {
  Trace* trace;
  std::vector<Worker*>* workers;
  tbb::task_group group;
  std::atomic<int> outstanding{0};  // tasks spawned and not finished
  int width;                        // workers in the task arena
  std::atomic<bool> failed{false};

  void spawn(std::vector<GreyRef>&& packet);
  void run(std::vector<GreyRef>& packet);
};

void Drain::spawn(std::vector<GreyRef>&& packet) {
  outstanding.fetch_add(1, std::memory_order_relaxed);
  // task_group wants a copyable functor: the packet travels on the heap.
  auto* p = new std::vector<GreyRef>(std::move(packet));
  // oneTBB's queues are not instrumented: tell TSan that the task object, the
  // packet and all the marking before them reach the task (and, at its end,
  // the waiter). The task's first act names a static address: reading its own
  // captures would already be the access TSan has to be told about.
  MPS_HAPPENS_BEFORE(&gTaskHandOff);
  group.run([this, p] {
    MPS_HAPPENS_AFTER(&gTaskHandOff);
    run(*p);
    delete p;
    MPS_HAPPENS_BEFORE(&gTaskHandOff);
  });
}

void Drain::run(std::vector<GreyRef>& packet) {
  int slot = tbb::this_task_arena::current_thread_index();
  Worker* worker = (*workers)[Size(slot) < workers->size() ? Size(slot) : 0];
  std::vector<GreyRef>& stack = worker->stack;
  stack.insert(stack.end(), packet.begin(), packet.end());
  packet.clear();
  packet.shrink_to_fit();
  while (!stack.empty()) {
    if (failed.load(std::memory_order_relaxed)) {
      stack.clear();
      break;
    }
    // Share the older half while some worker has nothing to do.
    if (stack.size() >= 2 && outstanding.load(std::memory_order_relaxed) < width) {
      Size half = stack.size() / 2;
      std::vector<GreyRef> share(stack.begin(), stack.begin() + std::ptrdiff_t(half));
      stack.erase(stack.begin(), stack.begin() + std::ptrdiff_t(half));
      spawn(std::move(share));
    }
    GreyRef g = stack.back();
    stack.pop_back();
    Res res = g.seg->scanObject(&worker->ss, g.object);
    ++worker->objectsScanned;
    if (res != Res::ok) {
      if (worker->res == Res::ok) worker->res = res;
      failed.store(true, std::memory_order_relaxed);
    }
  }
  outstanding.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace

Res Trace::drain() {
  Worker* first = workers_[0];
  if (!parallel_) return drainSequential(first);
  WorkerPool* pool = collector_->workerPool_;
  Drain drain;
  drain.trace = this;
  drain.workers = &workers_;
  drain.width = int(workers_.size());
  std::vector<GreyRef> seed;
  seed.swap(first->stack);
  MPS_HAPPENS_BEFORE(&gTaskHandOff);  // execute may hand the functor to a worker
  pool->arena().execute([&] {
    MPS_HAPPENS_AFTER(&gTaskHandOff);
    drain.spawn(std::move(seed));
    drain.group.wait();
    MPS_HAPPENS_AFTER(&gTaskHandOff);  // every task's work, released at its end
    MPS_HAPPENS_BEFORE(&gTaskHandOff);
  });
  MPS_HAPPENS_AFTER(&gTaskHandOff);
  for (Worker* w : workers_)
    if (w->res != Res::ok) return w->res;
  return Res::ok;
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
    bool empty = seg->reclaim(this);
    if (seg->gen != nullptr)
      tallyFor(seg->gen)->survived += preserved_.load(std::memory_order_relaxed) - before;
    Shield::cover(seg);
    if (empty) seg->release();
  }
  condemnedSegs_.clear();
}

// A scan failed: nothing may be freed, since the marks are incomplete.
void Trace::abandon() {
  for (Segment* seg : condemnedSegs_) {
    seg->white &= ~traces();
    Shield::cover(seg);
  }
  condemnedSegs_.clear();
  for (Worker* w : workers_)
    w->stack.clear();
}

// The heap verifier (checked builds): every reference in a scanned object
// or an exact root designates an object.
void Trace::verify() {
  Worker checker(arena_, nullptr);
  ScanState& ss = checker.ss;
  ss.verifying = true;
  ss.c._w = kRefSetUniv;  // every reference reaches fix2
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      if (seg->rankSet == kRankSetEmpty) return;
      Shield::expose(seg);
      (void)seg->scan(&ss);
      Shield::cover(seg);
    });
  });
  collector_->forEachRoot([&](Root* root) {
    if (root->rank() != Rank::ambig) (void)root->scan(&ss);
  });
  if (ss.verifyFailures != 0)
    assertFail(__FILE__, __LINE__, "heap verifier: every exact reference designates an object");
}

// The whole collection ---------------------------------------------------------------

Res Trace::run(Chain* chain, unsigned top, bool all) {
  auto t0 = std::chrono::steady_clock::now();
  unsigned n = collector_->workers();
  parallel_ = n > 1 && collector_->workerPool_ != nullptr;
  if (!parallel_) n = 1;
  workers_.reserve(n);
  for (unsigned i = 0; i < n; ++i)
    workers_.push_back(new Worker(arena_, this));

  // Every segment of an automatic pool may be touched (condemned, or
  // scanned as part of the remembered set): expose them all for the
  // collection. Condemned ones are covered as they are reclaimed, the
  // others at the end.
  forEachAutoPool(arena_, [&](AutoPool* pool) { pool->forEachSegment(Shield::expose); });
  flip();
  Res res = condemn(chain, top, all);
  if (res == Res::ok) {
    // The white set is known only now: refresh each worker's copy.
    for (Worker* w : workers_)
      w->ss.c._w = white_;
    auto tm = std::chrono::steady_clock::now();
    res = scanRoots(workers_[0]);
    if (res == Res::ok) res = scanRememberedSet(workers_[0]);
    if (res == Res::ok) res = drain();
    if (res == Res::ok) res = scanWeakRoots(workers_[0]);
    markSeconds_ = secondsSince(tm);
  }
  forEachAutoPool(arena_, [&](AutoPool* pool) {
    pool->forEachSegment([&](Segment* seg) {
      if (!seg->isWhite(traces())) Shield::cover(seg);
    });
  });
  if (res != Res::ok) {
    abandon();
  } else {
    reclaim();
  }
  Size objectsScanned = 0;
  for (Worker* w : workers_)
    objectsScanned += w->objectsScanned;

  Collector::Stats& stats = collector_->last_;
  stats.condemned = condemned_;
  stats.live = preserved_.load();
  stats.notCondemned = notCondemned_;
  stats.reclaimed = reclaimed_;
  stats.objectsMarked = marked_.load();
  stats.segmentsScanned = segmentsScanned_;
  stats.workers = n;
  stats.markSeconds = markSeconds_;
  stats.totalSeconds = secondsSince(t0);
  (void)objectsScanned;
#if MPS_CHECKED
  if (res == Res::ok && collector_->verifyHeap) verify();
#endif
  return res;
}

}  // namespace mps::core
