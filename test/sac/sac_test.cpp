// Unit tests of segregated allocation caches: the fast macros of mps.h over
// the core's fill and empty, batch sizes, what goes back to the pool, failure.

#include <cstring>

#include "sac_fixture.hpp"

namespace mps::test {
namespace {

using SacCache = SacTest;

Addr macroAlloc(mps_sac_t sac, Size size, mps_res_t* resOut = nullptr) {
  mps_res_t res;
  mps_addr_t p = nullptr;
  MPS_SAC_ALLOC_FAST(res, p, sac, size, 0);
  if (resOut != nullptr)
    *resOut = res;
  else
    EXPECT_EQ(res, MPS_RES_OK);
  return static_cast<Addr>(p);
}

void macroFree(mps_sac_t sac, Addr p, Size size) {
  MPS_SAC_FREE_FAST(sac, p, size);
}

TEST_F(SacCache, OneFillServesHalfAListOfAllocations) {
  GrainPool* pool = grainPool();
  SegregatedCache* cache = makeCache(pool, {{32, 16, 1}, {64, 16, 1}});
  mps_sac_t sac = cache->external();

  Addr first = macroAlloc(sac, 20);
  EXPECT_EQ(gFillCalls, 1u);
  // One block for the client and half the list's maximum cached.
  EXPECT_EQ(pool->allocCalls, 1u + 8u);
  EXPECT_EQ(cache->cachedCount(0), 8u);
  // The block has the class's size, not the request's.
  EXPECT_EQ(pool->liveSize(first), 32u);

  std::vector<Addr> blocks{first};
  for (int i = 0; i < 8; ++i)
    blocks.push_back(macroAlloc(sac, 1 + i * 4));
  EXPECT_EQ(gFillCalls, 1u);
  EXPECT_EQ(cache->cachedCount(0), 0u);
  blocks.push_back(macroAlloc(sac, 32));
  EXPECT_EQ(gFillCalls, 2u);
  EXPECT_EQ(cache->cachedCount(0), 8u);

  // Frees fill the list to its maximum, then one call returns the block and
  // half the list.
  for (Size i = 0; i < 8; ++i)
    macroFree(sac, blocks[i], 17);
  EXPECT_EQ(cache->cachedCount(0), 16u);
  EXPECT_EQ(gEmptyCalls, 0u);
  Size freesBefore = pool->freeCalls;
  macroFree(sac, blocks[8], 32);
  EXPECT_EQ(gEmptyCalls, 1u);
  EXPECT_EQ(pool->freeCalls - freesBefore, 1u + 8u);
  EXPECT_EQ(cache->cachedCount(0), 8u);
  macroFree(sac, blocks[9], 9);
  EXPECT_EQ(cache->cachedCount(0), 9u);
  EXPECT_EQ(gEmptyCalls, 1u);
  EXPECT_EQ(cache->cachedCount(1), 0u);
  EXPECT_TRUE(cache->check());
}

TEST_F(SacCache, BlocksGoBackToThePoolAtTheClassSize) {
  GrainPool* pool = grainPool();
  SegregatedCache* cache = makeCache(pool, {{16, 4, 1}, {48, 4, 1}, {128, 4, 1}});
  mps_sac_t sac = cache->external();
  Addr a = macroAlloc(sac, 17);
  Addr b = macroAlloc(sac, 100);
  EXPECT_EQ(pool->liveSize(a), 48u);
  EXPECT_EQ(pool->liveSize(b), 128u);
  macroFree(sac, a, 17);
  macroFree(sac, b, 100);
  // The pool checks each free's size against the allocation.
  cache->flush();
  EXPECT_EQ(pool->liveBlocks(), 0u);
  EXPECT_EQ(pool->freeSize(), pool->totalSize());
  for (Size c = 0; c < cache->classesCount(); ++c)
    EXPECT_EQ(cache->cachedCount(c), 0u);
}

TEST_F(SacCache, OverlargeRequestsGoStraightToThePool) {
  GrainPool* pool = grainPool();
  SegregatedCache* cache = makeCache(pool, {{32, 8, 1}, {64, 8, 1}});
  mps_sac_t sac = cache->external();
  Addr p = macroAlloc(sac, 100);
  EXPECT_EQ(gFillCalls, 1u);
  EXPECT_EQ(pool->allocCalls, 1u);
  EXPECT_EQ(pool->liveSize(p), 112u);  // rounded to the pool's alignment
  macroFree(sac, p, 100);
  EXPECT_EQ(gEmptyCalls, 1u);
  EXPECT_EQ(pool->liveBlocks(), 0u);
  EXPECT_EQ(cache->cachedCount(0) + cache->cachedCount(1), 0u);

  Addr huge = nullptr;
  EXPECT_EQ(cache->fill(&huge, SIZE_MAX - 3), Res::resource);
}

TEST_F(SacCache, FailedFillLeavesTheCacheUnchanged) {
  GrainPool* pool = grainPool();
  SegregatedCache* cache = makeCache(pool, {{32, 16, 1}});
  mps_sac_t sac = cache->external();

  pool->failAfter = 0;
  mps_res_t res;
  macroAlloc(sac, 32, &res);
  EXPECT_EQ(res, MPS_RES_MEMORY);
  EXPECT_EQ(cache->cachedCount(0), 0u);
  EXPECT_EQ(pool->liveBlocks(), 0u);
  EXPECT_TRUE(cache->check());

  // The refill is advice: when the pool runs short it keeps what it got and
  // the request still succeeds.
  pool->failAfter = 3;
  Addr p = macroAlloc(sac, 32, &res);
  EXPECT_EQ(res, MPS_RES_OK);
  EXPECT_EQ(pool->liveSize(p), 32u);
  EXPECT_EQ(cache->cachedCount(0), 2u);
  EXPECT_TRUE(cache->check());

  pool->failAfter = -1;
  macroFree(sac, p, 32);
  cache->flush();
  EXPECT_EQ(pool->liveBlocks(), 0u);
}

TEST_F(SacCache, DirectCallsDoWhatTheMacrosDo) {
  GrainPool* pool = grainPool();
  SegregatedCache* cache = makeCache(pool, {{32, 4, 1}, {64, 4, 1}});
  Addr a = nullptr, b = nullptr, c = nullptr;
  ASSERT_EQ(cache->alloc(&a, 40), Res::ok);  // fills: 1 + 2 cached
  EXPECT_EQ(cache->cachedCount(1), 2u);
  ASSERT_EQ(cache->alloc(&b, 64), Res::ok);  // pops
  EXPECT_EQ(cache->cachedCount(1), 1u);
  // fill and empty called when the macros would not have: they pop and push.
  ASSERT_EQ(cache->fill(&c, 50), Res::ok);
  EXPECT_EQ(cache->cachedCount(1), 0u);
  cache->empty(c, 50);
  EXPECT_EQ(cache->cachedCount(1), 1u);
  cache->free(b, 64);
  cache->free(a, 40);
  EXPECT_EQ(cache->cachedCount(1), 3u);
  EXPECT_EQ(pool->liveSize(a), 64u);  // cached blocks stay allocated in the pool
  destroyCache(cache);
  EXPECT_EQ(pool->liveBlocks(), 0u);
  EXPECT_EQ(pool->attachedCaches(), 0u);
}

TEST_F(SacCache, UncachedClassAlwaysCallsOut) {
  GrainPool* pool = grainPool();
  SegregatedCache* cache = makeCache(pool, {{32, 0, 1}, {64, 4, 1}});
  mps_sac_t sac = cache->external();
  Addr p = macroAlloc(sac, 32);
  Addr q = macroAlloc(sac, 8);
  EXPECT_EQ(gFillCalls, 2u);
  EXPECT_EQ(cache->cachedCount(0), 0u);
  macroFree(sac, p, 32);
  macroFree(sac, q, 8);
  EXPECT_EQ(gEmptyCalls, 2u);
  EXPECT_EQ(pool->liveBlocks(), 0u);
}

TEST_F(SacCache, CountOfOneKeepsTheLastFreedBlock) {
  GrainPool* pool = grainPool();
  SegregatedCache* cache = makeCache(pool, {{32, 1, 1}});
  mps_sac_t sac = cache->external();
  Addr p = macroAlloc(sac, 32);  // fills nothing extra: half of 1 is 0
  EXPECT_EQ(cache->cachedCount(0), 0u);
  macroFree(sac, p, 32);
  EXPECT_EQ(cache->cachedCount(0), 1u);
  EXPECT_EQ(macroAlloc(sac, 32), p);
  EXPECT_EQ(gFillCalls, 1u);
  macroFree(sac, p, 32);
}

// Every size from 0 to one past the largest class, through the macros: the
// block comes from the list of the smallest class that fits (the pool sees
// that class's block size), and freeing it with the same size puts it back
// on that same list; one past the largest goes to the pool and back at its
// aligned size. Classes of mixed slots, some beyond the class table.
TEST_F(SacCache, EverySizeAllocatesAndFreesInTheSameClass) {
  const std::vector<std::vector<Size>> layouts = {
      {16, 32, 64, 128, 256, 512},
      {16, 48, 80, 96, 112},
      {16, 4096, 8192},  // 4096 and 8192 beyond 256 slots of 16 bytes
  };
  for (const auto& sizes : layouts) {
    GrainPool* pool = grainPool();
    std::vector<mps_sac_class_s> classes;
    for (Size c = 0; c < sizes.size(); ++c)
      classes.push_back({sizes[c], 4, unsigned(c + 1)});
    SegregatedCache* cache = makeCache(pool, classes);
    mps_sac_t sac = cache->external();
    Size largest = sizes.back();
    for (Size size = 0; size <= largest + 1 && !HasFatalFailure(); ++size) {
      Size c = 0;
      while (c < sizes.size() && sizes[c] < size)
        ++c;
      Size fills = gFillCalls, empties = gEmptyCalls;
      Addr p = macroAlloc(sac, size);
      ASSERT_NE(p, nullptr) << "size " << size;
      std::memset(p, 0xA5, size);
      if (c == sizes.size()) {
        // Overlarge: straight from the pool and back.
        EXPECT_EQ(gFillCalls, fills + 1) << "size " << size;
        EXPECT_EQ(pool->liveSize(p), core::alignUp(size, pool->alignment()));
        macroFree(sac, p, size);
        EXPECT_EQ(gEmptyCalls, empties + 1) << "size " << size;
        continue;
      }
      ASSERT_EQ(pool->liveSize(p), sizes[c]) << "size " << size;
      std::vector<Size> before;
      for (Size d = 0; d < sizes.size(); ++d)
        before.push_back(cache->cachedCount(d));
      macroFree(sac, p, size);
      EXPECT_EQ(gEmptyCalls, empties) << "size " << size;
      for (Size d = 0; d < sizes.size(); ++d)
        ASSERT_EQ(cache->cachedCount(d), before[d] + (d == c ? 1 : 0))
            << "size " << size << " class " << d;
      // The block freed is the next one allocated for any size of its class.
      EXPECT_EQ(macroAlloc(sac, sizes[c]), p) << "size " << size;
      macroFree(sac, p, sizes[c]);
    }
    EXPECT_TRUE(cache->check());
    destroyCache(cache);
    EXPECT_EQ(pool->liveBlocks(), 0u);
  }
}

// A request of 0 bytes, like malloc(0), gets a distinct block of the smallest
// class, through the macros and the direct calls alike, and goes back there.
TEST_F(SacCache, ZeroSizeRequestsUseTheSmallestClass) {
  GrainPool* pool = grainPool();
  SegregatedCache* cache = makeCache(pool, {{16, 8, 1}, {64, 8, 100}});
  ASSERT_EQ(cache->middleClass(), 1u);
  mps_sac_t sac = cache->external();
  Addr a = macroAlloc(sac, 0);
  Addr b = nullptr;
  ASSERT_EQ(cache->alloc(&b, 0), Res::ok);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(pool->liveSize(a), 16u);
  EXPECT_EQ(pool->liveSize(b), 16u);
  Size cached = cache->cachedCount(0);
  macroFree(sac, a, 0);
  cache->free(b, 0);
  EXPECT_EQ(cache->cachedCount(0), cached + 2);
  EXPECT_EQ(cache->cachedCount(1), 0u);
  // fill and empty, as the macros call them.
  Addr c = nullptr;
  cache->flush();
  ASSERT_EQ(cache->fill(&c, 0), Res::ok);
  EXPECT_EQ(pool->liveSize(c), 16u);
  cache->empty(c, 0);
  EXPECT_EQ(cache->cachedCount(0), 4u + 1u);
  EXPECT_TRUE(cache->check());
}

TEST_F(SacCache, CacheOverMFS) {
  MFSPool* pool = mfsPool(32);
  // Put one extent in place so the pool's totals stay put below.
  Addr unit = nullptr;
  ASSERT_EQ(pool->alloc(&unit, 32), Res::ok);
  pool->free(unit, 32);
  Size total = pool->totalSize(), free = pool->freeSize();

  SegregatedCache* cache = makeCache(pool, {{32, 20, 1}});
  mps_sac_t sac = cache->external();
  std::vector<std::pair<Addr, Size>> blocks;
  for (Size i = 0; i < 200; ++i) {
    Size size = 1 + i % 32;
    Addr p = macroAlloc(sac, size);
    ASSERT_EQ(arena_->poolOf(p), pool);
    std::memset(p, int(i), size);
    blocks.emplace_back(p, size);
  }
  for (Size i = 0; i < blocks.size(); ++i) {
    auto [p, size] = blocks[i];
    for (Size k = 0; k < size; ++k)
      ASSERT_EQ(p[k], std::byte(i)) << "block " << i;
    macroFree(sac, p, size);
  }
  EXPECT_TRUE(cache->check());
  destroyCache(cache);
  EXPECT_EQ(pool->totalSize(), total);
  EXPECT_EQ(pool->freeSize(), free);
}

TEST_F(SacCache, CachesWithTheSameClassesShareBlocks) {
  GrainPool* pool = grainPool();
  std::vector<mps_sac_class_s> classes{{16, 8, 1}, {64, 8, 1}};
  SegregatedCache* a = makeCache(pool, classes);
  SegregatedCache* b = makeCache(pool, classes);
  EXPECT_EQ(pool->attachedCaches(), 2u);
  std::vector<Addr> blocks;
  for (int i = 0; i < 30; ++i)
    blocks.push_back(macroAlloc(a->external(), 40));
  for (Addr p : blocks)
    macroFree(b->external(), p, 40);
  EXPECT_TRUE(a->check());
  EXPECT_TRUE(b->check());
  destroyCache(a);
  destroyCache(b);
  EXPECT_EQ(pool->attachedCaches(), 0u);
  EXPECT_EQ(pool->liveBlocks(), 0u);
  EXPECT_EQ(pool->freeSize(), pool->totalSize());
}

TEST_F(SacCache, LargeCacheObjectComesFromGrains) {
  // Enough classes that the cache exceeds the arena's small control blocks.
  std::vector<mps_sac_class_s> classes;
  for (Size c = 0; c < SegregatedCache::kClassesMax; ++c)
    classes.push_back({16 * (c + 1), 2, 1});
  GrainPool* pool = grainPool();
  SegregatedCache* cache = makeCache(pool, classes);
  mps_sac_t sac = cache->external();
  for (Size size = 1; size <= 16 * SegregatedCache::kClassesMax + 50; size += 7) {
    Addr p = macroAlloc(sac, size);
    macroFree(sac, p, size);
  }
  EXPECT_TRUE(cache->check());
  destroyCache(cache);
  EXPECT_EQ(pool->liveBlocks(), 0u);
}

}  // namespace
}  // namespace mps::test
