// The mark-sweep layer's reuse of memory (AMS): empty segments kept in a
// bounded cache after a reclaim and refilled before new ones are made, the
// cache giving way to the commit limit and to a spare fraction of zero, and
// fills finding the holes a collection left.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "mpscmvff.h"
#include "object_format.hpp"

namespace mps::test {
namespace {

constexpr size_t kMiB = size_t(1) << 20;
// The segment an allocation point holds stays with its pool even when empty.
constexpr size_t kSegment = size_t(256) << 10;

class SegmentCacheTest : public ::testing::Test {
 protected:
  // A pool whose one generation has `capacityKiB` of capacity, in a parked
  // arena (no collection happens but those the test asks for).
  void make(size_t capacityKiB) {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
      ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    mps_arena_park(arena);
    ASSERT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
    mps_gen_param_s gens[1] = {{capacityKiB, 0.5}};
    ASSERT_EQ(mps_chain_create(&chain, arena, 1, gens), MPS_RES_OK);
    pool = makePool();
    ASSERT_NE(pool, nullptr);
    ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  }

  mps_pool_t makePool() {
    mps_pool_t p = nullptr;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      EXPECT_EQ(mps_pool_create_k(&p, arena, mps_class_ams(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    return p;
  }

  void TearDown() override {
    for (mps_root_t r : roots)
      mps_root_destroy(r);
    if (ap2) mps_ap_destroy(ap2);
    if (pool2) mps_pool_destroy(pool2);
    if (ap) mps_ap_destroy(ap);
    if (pool) mps_pool_destroy(pool);
    if (chain) mps_chain_destroy(chain);
    if (fmt) mps_fmt_destroy(fmt);
    if (arena) mps_arena_destroy(arena);
  }

  // Allocates `bytes` of 64-byte objects that nothing references.
  void allocGarbage(mps_ap_t on, size_t bytes) {
    for (size_t done = 0; done < bytes; done += objectSize(6))
      ASSERT_NE(allocObject(on, done, 6), nullptr);
  }

  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t pool = nullptr;
  mps_ap_t ap = nullptr;
  mps_pool_t pool2 = nullptr;
  mps_ap_t ap2 = nullptr;
  std::vector<mps_root_t> roots;
};

TEST_F(SegmentCacheTest, EmptySegmentsAreKeptAndRefilledBeforeNewOnes) {
  make(8 << 10);  // 8 MiB capacity: room to cache everything below
  allocGarbage(ap, 4 * kMiB);
  size_t total = mps_pool_total_size(pool);
  ASSERT_GE(total, 4 * kMiB);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  // Everything died, yet the pool keeps its segments for reuse (free), so
  // the arena neither holds them as spare nor decommits them.
  EXPECT_EQ(mps_pool_total_size(pool), total);
  EXPECT_EQ(mps_pool_free_size(pool), total);
  size_t committed = mps_arena_committed(arena);
  allocGarbage(ap, 4 * kMiB);
  // The same amount again fits in the cached segments: nothing new.
  EXPECT_EQ(mps_pool_total_size(pool), total);
  EXPECT_EQ(mps_arena_committed(arena), committed);
}

TEST_F(SegmentCacheTest, TheCacheHoldsAtMostTheGenerationCapacity) {
  make(1 << 10);  // 1 MiB
  allocGarbage(ap, 6 * kMiB);
  size_t spare = mps_arena_spare_committed(arena);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_LE(mps_pool_total_size(pool), kMiB + kSegment);
  EXPECT_EQ(mps_pool_free_size(pool), mps_pool_total_size(pool));
  // The rest went back to the arena, which keeps some of it as spare.
  EXPECT_GT(mps_arena_spare_committed(arena), spare);
}

TEST_F(SegmentCacheTest, NoSpareMemoryMeansNoCache) {
  make(8 << 10);
  allocGarbage(ap, 2 * kMiB);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_GT(mps_pool_total_size(pool), 0u);
  mps_arena_spare_set(arena, 0.0);
  EXPECT_LE(mps_pool_total_size(pool), kSegment);
  EXPECT_EQ(mps_arena_spare_committed(arena), 0u);
  allocGarbage(ap, 2 * kMiB);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_LE(mps_pool_total_size(pool), kSegment);
  EXPECT_EQ(mps_arena_spare_committed(arena), 0u);
}

TEST_F(SegmentCacheTest, ALowerCommitLimitTakesCachedSegmentsBack) {
  make(8 << 10);
  allocGarbage(ap, 4 * kMiB);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  size_t cached = mps_pool_total_size(pool);
  ASSERT_GE(cached, 4 * kMiB);
  // More than the arena's spare memory alone could give back.
  size_t limit = mps_arena_committed(arena) - mps_arena_spare_committed(arena) - 2 * kMiB;
  ASSERT_EQ(mps_arena_commit_limit_set(arena, limit), MPS_RES_OK);
  EXPECT_LE(mps_arena_committed(arena), limit);
  EXPECT_LT(mps_pool_total_size(pool), cached);
}

TEST_F(SegmentCacheTest, AnotherPoolGetsCachedMemoryAtTheCommitLimit) {
  make(8 << 10);
  allocGarbage(ap, 4 * kMiB);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_GE(mps_pool_total_size(pool), 4 * kMiB);
  // No room beyond what is committed now, and no spare memory: only the
  // first pool's cache can satisfy a second pool.
  mps_arena_spare_set(arena, 1.0);
  ASSERT_EQ(mps_arena_commit_limit_set(arena, mps_arena_committed(arena)), MPS_RES_OK);
  size_t limit = mps_arena_commit_limit(arena);
  pool2 = makePool();
  ASSERT_NE(pool2, nullptr);
  ASSERT_EQ(mps_ap_create_k(&ap2, pool2, mps_args_none), MPS_RES_OK);
  allocGarbage(ap2, 2 * kMiB);
  EXPECT_GE(mps_pool_total_size(pool2), 2 * kMiB);
  EXPECT_LE(mps_arena_committed(arena), limit);
}

TEST_F(SegmentCacheTest, FillsFindTheHolesACollectionLeft) {
  make(64 << 10);
  // Alternate kept and dropped objects of two grains (16 bytes).
  const size_t n = 4000;
  std::vector<mps_addr_t> kept(n, nullptr);
  std::set<mps_addr_t> holes;
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, kept.data(), n), MPS_RES_OK);
  roots.push_back(root);
  for (size_t i = 0; i < n; ++i) {
    kept[i] = allocObject(ap, i, 0);
    ASSERT_NE(kept[i], nullptr);
    mps_addr_t dropped = allocObject(ap, n + i, 0);
    ASSERT_NE(dropped, nullptr);
    holes.insert(dropped);
  }
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  // A request too large for any hole, on another allocation point, passes
  // over the holey segment without losing its holes for smaller ones.
  ASSERT_EQ(mps_ap_create_k(&ap2, pool, mps_args_none), MPS_RES_OK);
  ASSERT_NE(allocObject(ap2, 3 * n, 10), nullptr);
  size_t total = mps_pool_total_size(pool);
  for (size_t i = 0; i < n; ++i) {
    Object* o = allocObject(ap, 4 * n + i, 0);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(holes.count(o), 1u) << "object " << i << " is not in a hole";
  }
  EXPECT_EQ(mps_pool_total_size(pool), total);
  // The survivors are untouched.
  for (size_t i = 0; i < n; ++i) {
    auto* o = static_cast<Object*>(kept[i]);
    ASSERT_EQ(o->id, i);
    ASSERT_EQ(o->header, kObjectTag);
  }
}

// LO shares the mark-sweep layer: its empty segments are cached as well,
// and with the pool's generation on the arena's default chain.
TEST(SegmentCacheLoTest, LeafPoolsKeepAndRefillTheirEmptySegments) {
  mps_arena_t arena;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_arena_park(arena);
  mps_fmt_t fmt;
  ASSERT_EQ(makeFormat(&fmt, arena, true), MPS_RES_OK);
  mps_pool_t pool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_lo(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  for (mps_word_t i = 0; i < (2 * kMiB) / objectSize(6); ++i)
    ASSERT_NE(allocObject(ap, i, 6), nullptr);
  size_t total = mps_pool_total_size(pool);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(mps_pool_total_size(pool), total);
  EXPECT_EQ(mps_pool_free_size(pool), total);
  for (mps_word_t i = 0; i < (2 * kMiB) / objectSize(6); ++i)
    ASSERT_NE(allocObject(ap, i, 6), nullptr);
  EXPECT_EQ(mps_pool_total_size(pool), total);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

}  // namespace
}  // namespace mps::test
