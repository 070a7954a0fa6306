#include "shield/shield.hpp"

#include <sigsegv.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <ctime>

#include "event/event.hpp"
#include "protect/thread.hpp"
#include "protect/vm.hpp"

namespace mps::core {

namespace {

// The arenas whose faults the handler resolves. A fixed table of atomic
// slots: the handler reads it from a signal handler, without a lock, while
// another thread may be creating or destroying an arena.
constexpr Size kMaxArenas = 64;
std::atomic<Arena*> gArenas[kMaxArenas];
// .shield.lazy.record: per slot, whether the collector of its arena wants
// the segments lifted in a pause listed, and the list (a lock-free stack
// linked through Segment::liftedNext: pushed from signal handlers of any
// collector thread, taken when the pause ends).
std::atomic<bool> gRecordLifts[kMaxArenas];
std::atomic<Segment*> gLifted[kMaxArenas];
Size slotOf(const Arena* arena) {
  for (Size i = 0; i < kMaxArenas; ++i)
    if (gArenas[i].load(std::memory_order_acquire) == arena) return i;
  return kMaxArenas;
}
std::atomic<Size> gFaults{0};
std::atomic<Size> gProtections{0};
std::atomic<std::uint64_t> gBarrierNanos{0};

// clock_gettime is async-signal-safe (the fault handler times itself).
std::uint64_t nowNanoseconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}
std::once_flag gInstallOnce;
bool gInstalled = false;
std::atomic<Shield::ReadBarrierHandler> gReadBarrier{nullptr};
std::atomic<Shield::PauseTest> gInPause{nullptr};
// The SIGSEGV action installed before ours (.shield.foreign): faults that
// are not the barrier's go to it.
struct sigaction gPrevious;

// .shield.foreign: a fault on memory no arena protects is the client's
// business. If the client had a handler of its own when the barrier was
// installed, it gets the fault as it would have without us (libsigsegv
// hides the kernel's context, so the third argument is null); else the
// default action follows (0).
int passOn(void* faultAddress) {
  if ((gPrevious.sa_flags & SA_SIGINFO) != 0) {
    if (gPrevious.sa_sigaction == nullptr) return 0;
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    info.si_signo = SIGSEGV;
    info.si_code = SEGV_ACCERR;
    info.si_addr = faultAddress;
    gPrevious.sa_sigaction(SIGSEGV, &info, nullptr);
    return 1;
  }
  if (gPrevious.sa_handler == SIG_DFL || gPrevious.sa_handler == SIG_IGN) return 0;
  gPrevious.sa_handler(SIGSEGV);
  return 1;
}

// libsigsegv calls this for every SIGSEGV. Returns nonzero when the fault
// was a write to a segment the barrier protected: the instruction is then
// restarted and succeeds. Anything else is not ours (0): the default action
// (or the client's own handler) follows.
int onFault(void* faultAddress, int /*serious*/) {
  for (Size slot = 0; slot < kMaxArenas; ++slot) {
    Arena* arena = gArenas[slot].load(std::memory_order_acquire);
    if (arena == nullptr) continue;
    Segment* seg = arena->segmentOf(faultAddress);
    if (seg == nullptr) continue;
    std::uint64_t t0 = nowNanoseconds();
    Shield::PauseTest inPause = gInPause.load(std::memory_order_acquire);
    if (inPause != nullptr && inPause(arena)) {
      // .shield.lazy: the mutator threads are stopped, so this is the
      // collector (any of its threads) touching a segment it left
      // protected from the last pause: lifted until the pause ends
      // (Trace::yieldToMutator protects it again as it must be).
      Shield::liftForCollector(seg);
      if (gRecordLifts[slot].load(std::memory_order_acquire) &&
          !std::atomic_ref<bool>(seg->liftListed).exchange(true, std::memory_order_acq_rel)) {
        Segment* head = gLifted[slot].load(std::memory_order_relaxed);
        do {
          seg->liftedNext = head;
        } while (!gLifted[slot].compare_exchange_weak(head, seg, std::memory_order_release,
                                                      std::memory_order_relaxed));
      }
      gBarrierNanos.fetch_add(nowNanoseconds() - t0, std::memory_order_relaxed);
      return 1;
    }
    if ((std::atomic_ref<unsigned>(seg->protMode).load(std::memory_order_acquire) & kShieldRead) !=
        0) {
      // .shield.read: the read barrier takes the arena lock and may wait
      // for it, so this thread must stay suspendable meanwhile (a
      // collection in another thread stops it).
      sigset_t suspend;
      sigemptyset(&suspend);
      sigaddset(&suspend, suspendSignal());
      pthread_sigmask(SIG_UNBLOCK, &suspend, nullptr);
      Shield::ReadBarrierHandler handler = gReadBarrier.load(std::memory_order_acquire);
      MPS_AVER_ALWAYS(handler != nullptr && "a read-protected segment has a collector");
      handler(arena, seg);
      gFaults.fetch_add(1, std::memory_order_relaxed);
      gBarrierNanos.fetch_add(nowNanoseconds() - t0, std::memory_order_relaxed);
      return 1;
    }
    // .shield.fault.suspend: no stop-the-world between widening the summary
    // and lifting the protection. A collection that stopped this thread in
    // between could narrow the summary and protect again, and the lifting
    // that follows would leave a narrow summary unprotected. Blocked here,
    // the suspend signal waits for the handler's return, which restores the
    // thread's signal mask. A stop that arrived before this line finds the
    // segment still protected, which is fine.
    sigset_t suspend;
    sigemptyset(&suspend);
    sigaddset(&suspend, suspendSignal());
    pthread_sigmask(SIG_BLOCK, &suspend, nullptr);
    {
      // .event.noblock: in a signal handler.
      event::NoBlockScope noBlock;
      MPS_EVENT(BarrierFault, arena, faultAddress, seg->base, seg->shieldMode);
    }
    Shield::dropBarrier(seg, true);
    gFaults.fetch_add(1, std::memory_order_relaxed);
    gBarrierNanos.fetch_add(nowNanoseconds() - t0, std::memory_order_relaxed);
    return 1;
  }
  return passOn(faultAddress);
}

bool barrierWanted() {
  for (const char* name : {"MPS_BARRIER", "MPS_WRITE_BARRIER"}) {
    const char* env = std::getenv(name);
    if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  }
  return true;
}

}  // namespace

void Shield::setCollectorHooks(ReadBarrierHandler handler, PauseTest inPause) {
  gReadBarrier.store(handler, std::memory_order_release);
  gInPause.store(inPause, std::memory_order_release);
}

void Shield::liftForCollector(Segment* seg) {
  // Two threads may fault on it at once: both lift (.shield.fault.twice).
  std::atomic_ref<unsigned>(seg->protMode).store(kShieldNone, std::memory_order_release);
  vm::protect(seg->base, seg->size(), vm::Access::readWrite);
  gProtections.fetch_add(1, std::memory_order_relaxed);
}

void Shield::recordLifts(Arena* arena, bool on) {
  Size slot = slotOf(arena);
  if (slot == kMaxArenas) return;
  if (!on) takeLifted(arena, [](Segment*) {});
  gRecordLifts[slot].store(on, std::memory_order_release);
}

Segment* Shield::takeLiftedList(Arena* arena) {
  Size slot = slotOf(arena);
  if (slot == kMaxArenas) return nullptr;
  return gLifted[slot].exchange(nullptr, std::memory_order_acquire);
}

void Shield::liftForCollector(std::vector<Segment*, PageAllocator<Segment*>>* segs) {
  std::sort(segs->begin(), segs->end(),
            [](const Segment* a, const Segment* b) { return a->base < b->base; });
  Size i = 0, n = segs->size();
  while (i < n) {
    Segment* first = (*segs)[i++];
    if (first->protMode == kShieldNone) continue;
    Addr limit = first->limit;
    first->protMode = kShieldNone;
    for (; i < n && (*segs)[i]->base == limit && (*segs)[i]->protMode != kShieldNone; ++i) {
      (*segs)[i]->protMode = kShieldNone;
      limit = (*segs)[i]->limit;
    }
    protectRange(first->base, limit, kShieldNone);
  }
}

bool Shield::registerArena(Arena* arena, bool wanted) {
  // Only memory the arena mapped itself: a client arena's blocks need not be
  // page aligned, and the client may not expect them to be protected.
  if (!wanted || !barrierWanted() || !arena->isVirtual() ||
      arena->grainSize() % vm::pageSize() != 0)
    return false;
  std::call_once(gInstallOnce, [] {
    sigaction(SIGSEGV, nullptr, &gPrevious);
    gInstalled = sigsegv_install_handler(&onFault) == 0;
  });
  if (!gInstalled) return false;
  for (std::atomic<Arena*>& slot : gArenas) {
    Arena* expected = nullptr;
    if (slot.compare_exchange_strong(expected, arena, std::memory_order_acq_rel)) return true;
  }
  return false;  // more arenas than slots: this one runs without the barrier
}

void Shield::deregisterArena(Arena* arena) {
  recordLifts(arena, false);
  for (std::atomic<Arena*>& slot : gArenas) {
    Arena* expected = arena;
    if (slot.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) return;
  }
}

void Shield::dropBarrier(Segment* seg, bool faulted) {
  // Widen first, then lift: whoever reads the summary after the write it
  // allows sees the universal set.
  std::atomic_ref<RefSet>(seg->summary).store(kRefSetUniv, std::memory_order_release);
  // Between the increments of a trace that has scanned the segment: the
  // summary it is building must see the write too (.trace.incremental).
  if (std::atomic_ref<bool>(seg->summaryTraced).load(std::memory_order_relaxed))
    std::atomic_ref<RefSet>(seg->traceSummary).store(kRefSetUniv, std::memory_order_relaxed);
  std::atomic_ref<unsigned>(seg->shieldMode).store(kShieldNone, std::memory_order_relaxed);
  // .shield.defer: sit out some collections unprotected, more the more
  // often the barrier was hit lately. Threads faulting on the same segment
  // at once may both count: the count is a heuristic, its bytes atomic.
  std::atomic_ref<unsigned char> hitsRef(seg->barrierHits);
  std::atomic_ref<unsigned char> deferRef(seg->barrierDefer);
  if (faulted) {
    unsigned hits = hitsRef.load(std::memory_order_relaxed);
    if (hits < Segment::kMaxBarrierHits) ++hits;
    hitsRef.store(static_cast<unsigned char>(hits), std::memory_order_relaxed);
    deferRef.store(static_cast<unsigned char>(Segment::kBarrierDeferWritten << (hits - 1)),
                   std::memory_order_relaxed);
  } else {
    deferRef.store(Segment::kBarrierDeferWritten, std::memory_order_relaxed);
  }
  bool wasProtected =
      std::atomic_ref<unsigned>(seg->protMode).exchange(kShieldNone, std::memory_order_acq_rel) !=
      kShieldNone;
  // After a fault, lift even if protMode was already clear: another thread
  // faulting on the same segment may have cleared it and not yet called
  // mprotect, and this thread's write must succeed when it is restarted.
  if (wasProtected || faulted) vm::protect(seg->base, seg->size(), vm::Access::readWrite);
}

Size Shield::faultCount() {
  return gFaults.load(std::memory_order_relaxed);
}

Size Shield::protectionCount() {
  return gProtections.load(std::memory_order_relaxed);
}

std::uint64_t Shield::barrierNanoseconds() {
  return gBarrierNanos.load(std::memory_order_relaxed);
}

void Shield::protectRange(Addr base, Addr limit, unsigned mode) {
  std::uint64_t t0 = nowNanoseconds();
  vm::Access access = (mode & kShieldRead) != 0    ? vm::Access::none
                      : (mode & kShieldWrite) != 0 ? vm::Access::readOnly
                                                   : vm::Access::readWrite;
  vm::protect(base, Size(limit - base), access);
  gProtections.fetch_add(1, std::memory_order_relaxed);
  gBarrierNanos.fetch_add(nowNanoseconds() - t0, std::memory_order_relaxed);
}

void Shield::sync(Segment* seg, unsigned mode) {
  protectRange(seg->base, seg->limit, mode);
  seg->protMode = mode;
}

void ProtectionBatch::apply() {
  std::sort(segs_.begin(), segs_.end(),
            [](const Segment* a, const Segment* b) { return a->base < b->base; });
  // A segment added twice (its wanted mode changed, then it was covered)
  // changes once.
  segs_.erase(std::unique(segs_.begin(), segs_.end()), segs_.end());
  // A segment whose protection came back to what it has (exposed and
  // covered again within the batch) needs no change at all.
  segs_.erase(
      std::remove_if(segs_.begin(), segs_.end(),
                     [](const Segment* seg) { return Shield::wanted(seg) == seg->protMode; }),
      segs_.end());
  Size i = 0, n = segs_.size();
  while (i < n) {
    unsigned mode = Shield::wanted(segs_[i]);
    Addr base = segs_[i]->base, limit = segs_[i]->limit;
    segs_[i]->protMode = mode;
    Size j = i + 1;
    for (; j < n && segs_[j]->base == limit && Shield::wanted(segs_[j]) == mode; ++j) {
      limit = segs_[j]->limit;
      segs_[j]->protMode = mode;
    }
    Shield::protectRange(base, limit, mode);
    i = j;
  }
  segs_.clear();
}

}  // namespace mps::core
