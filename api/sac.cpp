// C entry points for segregated allocation caches (sac.md). The inline
// macros in mps.h handle the common case in the client; these functions are
// their out-of-line halves and the plain-call forms.
#include "api/handles.hpp"
#include "arena/sac.hpp"

using namespace mps::api;
using mps::core::Addr;
using mps::core::SegregatedCache;

namespace {

// The cache's arena, for locking. Only the signature is checked here: the
// full check looks up cached blocks in the arena's tables, which other
// threads change under the lock, so callers run it once they hold the lock.
Arena* arenaOf(SegregatedCache* cache) {
  MPS_API_AVER_SIG(SegregatedCache, cache);
  return cache->pool()->arena();
}

}  // namespace

extern "C" {

mps_res_t mps_sac_create(mps_sac_t* sacOut, mps_pool_t handle, size_t classesCount,
                         mps_sac_classes_s* classes) {
  MPS_AVER_ALWAYS(sacOut != NULL);
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  ArenaEntry entry(pool->arena());
  MPS_AVERT(Pool, pool);
  SegregatedCache* cache;
  Res res = SegregatedCache::create(&cache, pool, classesCount, classes);
  if (res != Res::ok) return toRes(res);
  *sacOut = cache->external();
  return MPS_RES_OK;
}

void mps_sac_destroy(mps_sac_t sac) {
  SegregatedCache* cache = SegregatedCache::ofExternal(sac);
  ArenaEntry entry(arenaOf(cache));
  MPS_AVERT(SegregatedCache, cache);
  cache->destroy();
}

void mps_sac_flush(mps_sac_t sac) {
  SegregatedCache* cache = SegregatedCache::ofExternal(sac);
  ArenaEntry entry(arenaOf(cache));
  MPS_AVERT(SegregatedCache, cache);
  cache->flush();
}

mps_res_t mps_sac_fill(mps_addr_t* pOut, mps_sac_t sac, size_t size, mps_bool_t) {
  MPS_AVER_ALWAYS(pOut != NULL);
  SegregatedCache* cache = SegregatedCache::ofExternal(sac);
  Addr p;
  Res res;
  {
    ArenaEntry entry(arenaOf(cache));
    MPS_AVERT(SegregatedCache, cache);
    res = cache->fill(&p, size);
  }
  if (res != Res::ok) return toRes(res);
  *pOut = p;
  return MPS_RES_OK;
}

void mps_sac_empty(mps_sac_t sac, mps_addr_t p, size_t size) {
  SegregatedCache* cache = SegregatedCache::ofExternal(sac);
  ArenaEntry entry(arenaOf(cache));
  MPS_AVERT(SegregatedCache, cache);
  cache->empty(static_cast<Addr>(p), size);
}

mps_res_t mps_sac_alloc(mps_addr_t* pOut, mps_sac_t sac, size_t size, mps_bool_t unused) {
  MPS_AVER_ALWAYS(pOut != NULL);
  Addr p;
  if (SegregatedCache::popCached(sac, size, &p)) {
    *pOut = p;
    return MPS_RES_OK;
  }
  return mps_sac_fill(pOut, sac, size, unused);
}

void mps_sac_free(mps_sac_t sac, mps_addr_t p, size_t size) {
  if (SegregatedCache::pushCached(sac, static_cast<Addr>(p), size)) return;
  mps_sac_empty(sac, p, size);
}

}  // extern "C"
