// C entry points for pools and manual allocation (pool-and-classes.md,
// allocation.md).
#include "api/handles.hpp"
#include "event/event.hpp"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpscmvt.h"
#include "pools/mfs/mfs.hpp"
#include "pools/ams/amsdebug.hpp"
#include "pools/mvff/mvff.hpp"
#include "pools/mvff/mvffdebug.hpp"
#include "pools/mvt/mvt.hpp"
#include "tracer/autopool.hpp"

using namespace mps::api;
using mps::core::Addr;

extern "C" {

mps_pool_class_t mps_class_mfs(void) {
  return toHandle(&mps::core::kPoolClassMFS);
}
mps_pool_class_t mps_class_mvff(void) {
  return toHandle(&mps::core::kPoolClassMVFF);
}
mps_pool_class_t mps_class_mvff_debug(void) {
  return toHandle(&mps::core::kPoolClassMVFFDebug);
}
mps_pool_class_t mps_class_mvt(void) {
  return toHandle(&mps::core::kPoolClassMVT);
}

mps_res_t mps_pool_create_k(mps_pool_t* poolOut, mps_arena_t handle, mps_pool_class_t poolClass,
                            mps_arg_s args[]) {
  MPS_AVER_ALWAYS(poolOut != NULL);
  Arena* arena = toArena(handle);
  const PoolClass* c = toPoolClass(poolClass);
  MPS_AVERT(PoolClass, c);
  ArenaEntry entry(arena);
  Pool* pool;
  Res res = c->create(&pool, arena, args);
  if (res != Res::ok) return toRes(res);
  MPS_EVENT(
      PoolCreate, arena, pool,
      mps::core::isAutoPool(pool) ? static_cast<mps::core::AutoPool*>(pool)->format() : nullptr,
      c->name);
  *poolOut = toHandle(pool);
  return MPS_RES_OK;
}

mps_res_t mps_pool_create_v(mps_pool_t* poolOut, mps_arena_t arena, mps_pool_class_t poolClass,
                            va_list varargs) {
  const PoolClass* c = toPoolClass(poolClass);
  MPS_AVERT(PoolClass, c);
  mps_arg_s args[mps::core::kPoolVarargsMax + 1];
  c->varargs(args, varargs);
  return mps_pool_create_k(poolOut, arena, poolClass, args);
}

mps_res_t mps_pool_create(mps_pool_t* poolOut, mps_arena_t arena, mps_pool_class_t poolClass, ...) {
  va_list varargs;
  va_start(varargs, poolClass);
  mps_res_t res = mps_pool_create_v(poolOut, arena, poolClass, varargs);
  va_end(varargs);
  return res;
}

// Pool entry points check the pool's signature before locking (its arena
// and class never change while it lives) and the whole pool, whose state
// other threads change under the lock, only once they hold the lock.

void mps_pool_destroy(mps_pool_t handle) {
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  Arena* arena = pool->arena();
  ArenaEntry entry(arena);
  MPS_AVERT(Pool, pool);
  // Registrations of its blocks would dangle (finalization.md: such a pool
  // is destroyed with the arena parked; its blocks are never finalized).
  if (mps::core::isAutoPool(pool)) {
    mps::core::Collector* collector = mps::core::Collector::of(arena);
    // A collection in progress may hold the pool's segments (condemned,
    // grey, copied into): it ends first.
    (void)collector->finishCollection();
    collector->forgetFinalization(pool);
  }
  MPS_EVENT(PoolDestroy, arena, pool);
  pool->destroy();
}

size_t mps_pool_total_size(mps_pool_t handle) {
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  ArenaEntry entry(pool->arena());
  MPS_AVERT(Pool, pool);
  return pool->totalSize();
}

size_t mps_pool_free_size(mps_pool_t handle) {
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  ArenaEntry entry(pool->arena());
  MPS_AVERT(Pool, pool);
  return pool->freeSize();
}

// debugging.md: these check a debugging pool's fenceposts and free space
// and do nothing on any other pool. They report damage through the
// assertion mechanism in every build (design/debug.md).
void mps_pool_check_fenceposts(mps_pool_t handle) {
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  ArenaEntry entry(pool->arena());
  MPS_AVERT(Pool, pool);
  const char* check = mps::core::PoolDebug::kFenceOnRequest;
  if (pool->poolClass() == &mps::core::kPoolClassMVFFDebug)
    static_cast<mps::core::MVFFDebugPool*>(pool)->checkFenceposts(check,
                                                                  "mps_pool_check_fenceposts");
  else if (pool->poolClass() == &mps::core::kPoolClassAMSDebug)
    static_cast<mps::core::AMSDebugPool*>(pool)->checkFenceposts(check,
                                                                 "mps_pool_check_fenceposts");
}

void mps_pool_check_free_space(mps_pool_t handle) {
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  ArenaEntry entry(pool->arena());
  MPS_AVERT(Pool, pool);
  const char* check = mps::core::PoolDebug::kFreeOnRequest;
  if (pool->poolClass() == &mps::core::kPoolClassMVFFDebug)
    static_cast<mps::core::MVFFDebugPool*>(pool)->checkFreeSpaceTemplate(
        check, "mps_pool_check_free_space");
  else if (pool->poolClass() == &mps::core::kPoolClassAMSDebug)
    static_cast<mps::core::AMSDebugPool*>(pool)->checkFreeSpaceTemplate(
        check, "mps_pool_check_free_space");
}

mps_res_t mps_alloc(mps_addr_t* pOut, mps_pool_t handle, size_t size) {
  Pool* pool = toPool(handle);
  MPS_AVER_ALWAYS(pOut != NULL);
  MPS_API_AVER_SIG(Pool, pool);
  MPS_AVER_ALWAYS(size > 0);
  MPS_AVER_ALWAYS(pool->poolClass()->has(mps::core::kPoolAttrAlloc) &&
                  "pool class supports mps_alloc");
  Addr p;
  Res res;
  {
    ArenaEntry entry(pool->arena());
    MPS_AVERT(Pool, pool);
    res = pool->alloc(&p, size);
  }
  if (res != Res::ok) return toRes(res);
  MPS_EVENT(ObjectAlloc, pool, p, size);
  *pOut = p;
  return MPS_RES_OK;
}

void mps_free(mps_pool_t handle, mps_addr_t p, size_t size) {
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  MPS_AVER_ALWAYS(size > 0);
  MPS_AVER_ALWAYS(pool->poolClass()->has(mps::core::kPoolAttrFree) &&
                  "pool class supports mps_free");
  ArenaEntry entry(pool->arena());
  MPS_AVERT(Pool, pool);
  MPS_EVENT(ObjectFree, pool, p, size);
  pool->free(static_cast<Addr>(p), size);
}

}  // extern "C"
