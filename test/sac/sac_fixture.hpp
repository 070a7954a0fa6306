// Shared scaffolding for the segregated allocation cache tests: an arena, the
// pools a cache sits in front of, and the client macros of mps.h wired to the
// core.
//
// The tests drive the core directly and play the C layer's part: the fixture
// holds the arena lock for the whole test body, as api/ holds it around every
// call that reaches the core.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "arena/arena.hpp"
#include "arena/sac.hpp"
#include "assertions.hpp"
#include "grain_pool.hpp"
#include "mps.h"
#include "mpscmfs.h"
#include "pools/mfs/mfs.hpp"
#include "seed.hpp"

namespace mps::test {

using core::Align;
using core::MFSPool;
using core::SegregatedCache;

// The call-outs of MPS_SAC_ALLOC_FAST / MPS_SAC_FREE_FAST, doing what the C
// entry points mps_sac_fill / mps_sac_empty do (less the locking, which the
// fixture holds). They count their calls, so tests can see how often the
// macros leave the fast path.
inline Size gFillCalls = 0;
inline Size gEmptyCalls = 0;

inline mps_res_t sacFillHook(mps_addr_t* pOut, mps_sac_t sac, size_t size, mps_bool_t) {
  ++gFillCalls;
  Addr p;
  Res res = SegregatedCache::ofExternal(sac)->fill(&p, size);
  if (res == Res::ok) *pOut = p;
  return static_cast<mps_res_t>(res);
}

inline void sacEmptyHook(mps_sac_t sac, mps_addr_t p, size_t size) {
  ++gEmptyCalls;
  SegregatedCache::ofExternal(sac)->empty(static_cast<Addr>(p), size);
}

class SacTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mps_arg_s args[] = {{MPS_KEY_ARENA_SIZE, {.size = Size(64) << 20}}, {MPS_KEY_ARGS_END, {}}};
    ASSERT_EQ(Arena::create(&arena_, &core::kArenaClassVM, args), Res::ok);
    arena_->lock().claim();
    gFillCalls = gEmptyCalls = 0;
  }

  void TearDown() override {
    for (SegregatedCache* cache : caches_)
      cache->destroy();
    for (Pool* pool : pools_)
      pool->destroy();
    arena_->lock().release();
    arena_->destroy();
  }

  GrainPool* grainPool(Align align = 16) {
    mps_arg_s args[] = {{MPS_KEY_ALIGN, {.align = align}}, {MPS_KEY_ARGS_END, {}}};
    Pool* pool = nullptr;
    EXPECT_EQ(kPoolClassGrain.create(&pool, arena_, args), Res::ok);
    pools_.push_back(pool);
    return static_cast<GrainPool*>(pool);
  }

  MFSPool* mfsPool(Size unitSize) {
    mps_arg_s args[] = {{MPS_KEY_MFS_UNIT_SIZE, {.size = unitSize}}, {MPS_KEY_ARGS_END, {}}};
    Pool* pool = nullptr;
    EXPECT_EQ(core::kPoolClassMFS.create(&pool, arena_, args), Res::ok);
    pools_.push_back(pool);
    return static_cast<MFSPool*>(pool);
  }

  // A cache the fixture destroys at the end (unless destroyCache() did).
  SegregatedCache* makeCache(Pool* pool, const std::vector<mps_sac_class_s>& classes) {
    SegregatedCache* cache = nullptr;
    Res res = SegregatedCache::create(&cache, pool, classes.size(), classes.data());
    EXPECT_EQ(res, Res::ok);
    if (res == Res::ok) caches_.push_back(cache);
    return cache;
  }

  void destroyCache(SegregatedCache* cache) {
    std::erase(caches_, cache);
    cache->destroy();
  }

  // Pools are destroyed before the arena, caches before their pools.
  void forgetPool(Pool* pool) { std::erase(pools_, pool); }

  Arena* arena_ = nullptr;
  std::vector<Pool*> pools_;
  std::vector<SegregatedCache*> caches_;
};

}  // namespace mps::test

// The real client macros of mps.h, calling out to the hooks above instead of
// the C entry points (those belong to api/ and are tested there). Defined
// after every include so the header's declarations keep their names.
#define mps_sac_fill ::mps::test::sacFillHook
#define mps_sac_empty ::mps::test::sacEmptyHook
