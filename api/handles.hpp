// Handles of the C interface and the core objects behind them.
//
// A handle is the core object's address; conversion is a cast, and checked
// builds verify the signature on every entry so a stale or foreign handle is
// reported instead of corrupting the heap.
#pragma once

#include "arena/arena.hpp"
#include "arena/pool.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "mps.h"
#include "tracer/collector.hpp"

namespace mps::api {

using core::Arena;
using core::ArenaClass;
using core::Pool;
using core::PoolClass;
using core::Res;

inline Arena* toArena(mps_arena_t arena) {
  return reinterpret_cast<Arena*>(arena);
}

// The collector of an arena: every arena the C interface creates has one.
inline core::Collector* collectorOf(Arena* arena) {
  core::Collector* c = core::Collector::of(arena);
  MPS_AVER_ALWAYS(c != nullptr);
  return c;
}
inline mps_arena_t toHandle(Arena* arena) {
  return reinterpret_cast<mps_arena_t>(arena);
}
inline Pool* toPool(mps_pool_t pool) {
  return reinterpret_cast<Pool*>(pool);
}
inline mps_pool_t toHandle(Pool* pool) {
  return reinterpret_cast<mps_pool_t>(pool);
}
inline const ArenaClass* toArenaClass(mps_arena_class_t c) {
  return reinterpret_cast<const ArenaClass*>(c);
}
inline mps_arena_class_t toHandle(const ArenaClass* c) {
  return reinterpret_cast<mps_arena_class_t>(const_cast<ArenaClass*>(c));
}
inline const PoolClass* toPoolClass(mps_pool_class_t c) {
  return reinterpret_cast<const PoolClass*>(c);
}
inline mps_pool_class_t toHandle(const PoolClass* c) {
  return reinterpret_cast<mps_pool_class_t>(const_cast<PoolClass*>(c));
}
inline mps_res_t toRes(Res res) {
  return static_cast<mps_res_t>(res);
}

// Checks only the signature of a handle (checked builds), reporting like
// MPS_AVERT. Safe without the arena lock: a signature is written only when its
// object is created and destroyed, which the client does not overlap with other
// uses. The full check() reads state that other threads change under the lock
// (rings, counters), so it must run with the lock held: checking first and
// locking after reports races as broken invariants.
//
// The report names the entry point and the handle's value: "check of Pool
// pool (in mps_pool_destroy: handle 0x5581c0)".
#if MPS_CHECKED
#define MPS_API_AVER_SIG(Type, p)                                                                  \
  (MPS_LIKELY((p) != nullptr && (p)->sig == Type::kSig)                                            \
       ? (void)0                                                                                   \
       : ::mps::core::misuseFail(__FILE__, __LINE__, "check of " #Type " " #p, __func__, "handle", \
                                 (p)))
#else
#define MPS_API_AVER_SIG(Type, p) ((void)0)
#endif

// Holds the arena lock for the duration of a public entry point, and checks
// the arena once it holds it. A bad handle is reported with the name of the
// entry point (`function`, the caller's by default).
class ArenaEntry {
 public:
  explicit ArenaEntry(Arena* arena, const char* function = __builtin_FUNCTION()) : arena_(arena) {
#if MPS_CHECKED
    if (MPS_UNLIKELY(arena == nullptr || arena->sig != Arena::kSig))
      core::misuseFail(__FILE__, __LINE__, "check of Arena arena", function, "handle", arena);
#else
    (void)function;
#endif
    arena_->lock().claim();
    MPS_AVERT(Arena, arena);
  }
  ~ArenaEntry() {
    arena_->lock().release();
  }
  ArenaEntry(const ArenaEntry&) = delete;
  ArenaEntry& operator=(const ArenaEntry&) = delete;

 private:
  Arena* arena_;
};

}  // namespace mps::api
