// C entry points for arenas (arena.md).
#include "api/handles.hpp"
#include "tracer/collector.hpp"
#include "tracer/root.hpp"
#include "tracer/thread.hpp"
#include "base/keys.hpp"
#include "mpsacl.h"
#include "mpsavm.h"

using namespace mps::api;

namespace {

// Roots and threads left registered when the arena is destroyed: reported
// with the first one found, and, for a thread root, its thread (a thread
// deregistered without its root destroyed first is the usual cause).
void checkNothingLeft(mps::core::Collector* collector, const char* function) {
  using mps::core::AssertReport;
  using mps::core::MutatorThread;
  using mps::core::Root;
  Root* root = nullptr;
  collector->forEachRoot([&](Root* r) {
    if (root == nullptr) root = r;
  });
  if (root != nullptr) {
    AssertReport report;
    report.text("arena has no roots: destroy every root before its arena")
        .in(function, "arena", collector->arena())
        .text("; root ")
        .address(root);
    if (root->kind() == Root::Kind::thread)
      report.text(", the thread root of thread ").address(root->thread);
    report.text(", is left)").fail(__FILE__, __LINE__);
  }
  MutatorThread* thread = nullptr;
  collector->forEachThread([&](MutatorThread* t) {
    if (thread == nullptr) thread = t;
  });
  if (thread != nullptr)
    AssertReport()
        .text("arena has no threads: deregister every thread before destroying its arena")
        .in(function, "arena", collector->arena())
        .text("; thread ")
        .address(thread)
        .text(" is still registered)")
        .fail(__FILE__, __LINE__);
}

}  // namespace

extern "C" {

mps_arena_class_t mps_arena_class_vm(void) {
  return toHandle(&mps::core::kArenaClassVM);
}
mps_arena_class_t mps_arena_class_cl(void) {
  return toHandle(&mps::core::kArenaClassClient);
}

mps_res_t mps_arena_create_k(mps_arena_t* arenaOut, mps_arena_class_t arenaClass,
                             mps_arg_s args[]) {
  MPS_AVER_ALWAYS(arenaOut != NULL);
  const ArenaClass* c = toArenaClass(arenaClass);
  MPS_AVERT(ArenaClass, c);
  Arena* arena;
  Res res = Arena::create(&arena, c, args);
  if (res != Res::ok) return toRes(res);
  mps::core::Collector* collector;
  res = mps::core::Collector::create(&collector, arena, args);
  if (res != Res::ok) {
    arena->destroy();
    return toRes(res);
  }
  *arenaOut = toHandle(arena);
  return MPS_RES_OK;
}

mps_res_t mps_arena_create_v(mps_arena_t* arenaOut, mps_arena_class_t arenaClass, va_list varargs) {
  const ArenaClass* c = toArenaClass(arenaClass);
  MPS_AVERT(ArenaClass, c);
  // The deprecated forms pass the size (and, for client arenas, the base)
  // positionally, read as the types a C caller passes.
  mps_arg_s args[3];
  args[0].key = MPS_KEY_ARENA_SIZE;
  args[0].val.size = va_arg(varargs, size_t);
  if (c->virtualMemory) {
    args[1].key = MPS_KEY_ARGS_END;
  } else {
    args[1].key = MPS_KEY_ARENA_CL_BASE;
    args[1].val.addr = va_arg(varargs, mps_addr_t);
    args[2].key = MPS_KEY_ARGS_END;
  }
  return mps_arena_create_k(arenaOut, arenaClass, args);
}

mps_res_t mps_arena_create(mps_arena_t* arenaOut, mps_arena_class_t arenaClass, ...) {
  va_list varargs;
  va_start(varargs, arenaClass);
  mps_res_t res = mps_arena_create_v(arenaOut, arenaClass, varargs);
  va_end(varargs);
  return res;
}

void mps_arena_destroy(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  {
    // Wait for any entry still running in another thread, then destroy: the
    // client promises no new entries once it calls destroy.
    ArenaEntry entry(arena);
  }
  if (arena->poolCount() != 0)
    mps::core::misuseFail(__FILE__, __LINE__,
                          "arena has no pools: destroy every pool before its arena", __func__,
                          "arena", arena);
  if (mps::core::Collector* collector = mps::core::Collector::of(arena)) {
    checkNothingLeft(collector, __func__);
    collector->destroy();
  }
  arena->destroy();
}

mps_res_t mps_arena_extend(mps_arena_t handle, mps_addr_t base, size_t size) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return toRes(arena->extend(static_cast<mps::core::Addr>(base), size));
}

mps_res_t mps_arena_vm_growth(mps_arena_t handle, size_t desired, size_t minimum) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  MPS_AVER_ALWAYS(arena->isVirtual());
  arena->setGrowth(desired, minimum);
  return MPS_RES_OK;
}

size_t mps_arena_reserved(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  MPS_API_AVER_SIG(Arena, arena);  // a lock-free read: the signature only
  return arena->reserved();
}

size_t mps_arena_committed(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  MPS_API_AVER_SIG(Arena, arena);  // a lock-free read: the signature only
  return arena->committed();
}

size_t mps_arena_spare_committed(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  MPS_API_AVER_SIG(Arena, arena);  // a lock-free read: the signature only
  return arena->spareCommitted();
}

size_t mps_arena_commit_limit(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  MPS_API_AVER_SIG(Arena, arena);  // a lock-free read: the signature only
  return arena->commitLimit();
}

mps_res_t mps_arena_commit_limit_set(mps_arena_t handle, size_t limit) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return toRes(arena->setCommitLimit(limit));
}

double mps_arena_spare(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return arena->spare();
}

void mps_arena_spare_set(mps_arena_t handle, double spare) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  arena->setSpare(spare);
}

size_t mps_arena_spare_commit_limit(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return size_t(arena->spare() * double(arena->committed()));
}

void mps_arena_spare_commit_limit_set(mps_arena_t handle, size_t limit) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  size_t committed = arena->committed();
  double fraction = committed == 0 ? 1.0 : double(limit) / double(committed);
  arena->setSpare(fraction > 1.0 ? 1.0 : fraction);
}

mps_bool_t mps_arena_has_addr(mps_arena_t handle, mps_addr_t addr) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return arena->hasAddr(addr);
}

// Pause time (arena.md). Collections are atomic, so the target is kept for
// the client to read back but bounds nothing (manual/reference/arena.md).
double mps_arena_pause_time(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return collectorOf(arena)->pauseTime();
}

void mps_arena_pause_time_set(mps_arena_t handle, double pauseTime) {
  // NaN fails the comparison too.
  MPS_AVER_ALWAYS(pauseTime >= 0.0 && "the pause time is not negative");
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  collectorOf(arena)->setPauseTime(pauseTime);
}

void mps_arena_postmortem(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  MPS_API_AVER_SIG(Arena, arena);
  // arena.md: a thread inside the library (an assertion handler running on
  // it) calls this while holding the arena lock, so the lock cannot be
  // waited for. Any other caller takes it if it is free; if another thread
  // holds it, that thread alone may call this, which checked builds report
  // (and then go on: this is for debugging a crashed program).
  mps::core::Lock& lock = arena->lock();
  bool claimed = false;
  if (!lock.isHeldByCaller()) {
    claimed = lock.tryClaim();
    MPS_AVER(claimed && "mps_arena_postmortem is called by the thread inside the MPS, if any");
  }
  if (mps::core::Collector* collector = mps::core::Collector::of(arena)) collector->postmortem();
  if (claimed) lock.release();
}

mps_bool_t mps_addr_pool(mps_pool_t* poolOut, mps_arena_t handle, mps_addr_t addr) {
  MPS_AVER_ALWAYS(poolOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Pool* pool = arena->poolOf(addr);
  if (pool == nullptr) return 0;
  *poolOut = toHandle(pool);
  return 1;
}

}  // extern "C"
