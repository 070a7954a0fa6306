// MVFF debug through the C interface (debugging.md): fenceposts checked at
// free and on request, the size tag, the free template checked on request,
// on reuse and on release; allocation points; option misuse; and the plain
// class unaffected.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "debug_support.hpp"
#include "mps.h"
#include "mpsavm.h"
#include "mpscmvff.h"
#include "mpstd.h"
#include "seed.hpp"

namespace mps::test {
namespace {

mps_pool_debug_option_s gOptions = {"fencepost", 9, "free", 4};

class MVFFDebugTest : public ::testing::Test {
 protected:
  void SetUp() override {
    arena = makeTestArena();
    ASSERT_NE(arena, nullptr);
  }
  void TearDown() override {
    if (pool != nullptr) mps_pool_destroy(pool);
    mps_arena_destroy(arena);
  }
  void makePool(mps_pool_debug_option_s* options = &gOptions) {
    MPS_ARGS_BEGIN(args) {
      if (options != nullptr) MPS_ARGS_ADD(args, MPS_KEY_POOL_DEBUG_OPTIONS, options);
      ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_mvff_debug(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
  }
  char* alloc(size_t size) {
    mps_addr_t p = nullptr;
    EXPECT_EQ(mps_alloc(&p, pool, size), MPS_RES_OK);
    return static_cast<char*>(p);
  }

  mps_arena_t arena = nullptr;
  mps_pool_t pool = nullptr;
};

TEST_F(MVFFDebugTest, BlocksAreUsableAndChecksPassWhenNothingIsDamaged) {
  makePool();
  Rng rng(testSeed(0xDEB0C));
  std::vector<std::pair<char*, size_t>> live;
  for (int i = 0; i < 20000; ++i) {
    if (live.empty() || rng.below(3) != 0) {
      size_t size = 1 + size_t(rng.below(600));
      char* p = alloc(size);
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % MPS_PF_ALIGN, 0u);
      std::memset(p, int(i & 0x7F), size);
      live.emplace_back(p, size);
    } else {
      size_t k = size_t(rng.below(live.size()));
      mps_free(pool, live[k].first, live[k].second);
      live[k] = live.back();
      live.pop_back();
    }
    if (i % 4096 == 0) {
      mps_pool_check_fenceposts(pool);
      mps_pool_check_free_space(pool);
    }
  }
  mps_pool_check_fenceposts(pool);
  mps_pool_check_free_space(pool);
  // The footprint of a block includes its fenceposts.
  EXPECT_GT(mps_pool_total_size(pool), mps_pool_free_size(pool));
  for (auto& [p, size] : live)
    mps_free(pool, p, size);
  mps_pool_check_free_space(pool);
}

TEST_F(MVFFDebugTest, BufferOverrunIsCaughtAtFreeAndNamed) {
  makePool();
  char* p = alloc(20);
  char* q = alloc(20);
  StrayWrite stray(p + 20);  // one byte past the end
  mps_free(pool, q, 20);
  EXPECT_DEATH(mps_free(pool, p, 20), fenceReport("fencepost check on free", p + 20, p));
  stray.repair();  // repaired, the pool can be destroyed (which checks again)
  mps_free(pool, p, 20);
}

TEST_F(MVFFDebugTest, BufferOverrunIsCaughtOnRequest) {
  makePool();
  char* p = alloc(64);
  StrayWrite stray(p + 64 + 3);
  EXPECT_DEATH(mps_pool_check_fenceposts(pool),
               fenceReport("fencepost check requested by client", p + 64 + 3, p));
  stray.repair();
}

TEST_F(MVFFDebugTest, BufferUnderrunIsCaught) {
  makePool();
  char* p = alloc(32);
  StrayWrite stray(p - 1);
  EXPECT_DEATH(mps_pool_check_fenceposts(pool),
               fenceReport("fencepost check requested by client", p - 1, p));
  EXPECT_DEATH(mps_free(pool, p, 32), fenceReport("fencepost check on free", p - 1, p));
  stray.repair();
  mps_free(pool, p, 32);
}

TEST_F(MVFFDebugTest, UseAfterFreeIsCaughtOnRequestAndNamed) {
  makePool();
  char* p = alloc(64);
  char* q = alloc(64);
  mps_free(pool, p, 64);
  StrayWrite stray(p + 10);  // a write through a dangling pointer
  EXPECT_DEATH(mps_pool_check_free_space(pool),
               freeReport("free space check requested by client", p + 10));
  stray.repair();
  mps_free(pool, q, 64);
}

TEST_F(MVFFDebugTest, UseAfterFreeIsCaughtWhenTheMemoryIsReused) {
  makePool();
  char* p = alloc(64);
  char* q = alloc(64);
  mps_free(pool, p, 64);
  StrayWrite stray(p + 40);
  mps_addr_t r;
  // First fit: the next block of that size is p's again.
  EXPECT_DEATH((void)mps_alloc(&r, pool, 64), freeReport("free space corrupted on reuse", p + 40));
  stray.repair();
  mps_free(pool, q, 64);
}

TEST_F(MVFFDebugTest, FreeWithTheWrongSizeIsCaughtByTheTag) {
  makePool();
  char* p = alloc(40);
  EXPECT_DEATH(mps_free(pool, p, 48),
               assertionReportContaining("tag->size == size: block " + hexAddress(p)));
  EXPECT_DEATH(mps_free(pool, p + 8, 32),
               assertionReportContaining("block being freed was allocated from the pool"));
  mps_free(pool, p, 40);
}

TEST_F(MVFFDebugTest, DefaultTemplatesArePostAndFree) {
  makePool(nullptr);
  char* p = alloc(16);
  EXPECT_EQ(std::memcmp(p + 16, "POSTPOST", 8), 0);
  EXPECT_EQ(std::memcmp(p - 8, "POSTPOST", 8), 0);
  char* q = alloc(16);
  mps_free(pool, p, 16);
  // Free space holds the template by address: p is aligned, so "FREE".
  EXPECT_EQ(std::memcmp(p, "FREEFREE", 8), 0);
  mps_free(pool, q, 16);
}

TEST_F(MVFFDebugTest, FencepostsAndSplattingCanBeTurnedOff) {
  mps_pool_debug_option_s none = {nullptr, 0, nullptr, 0};
  makePool(&none);
  char* p = alloc(24);
  char* q = alloc(24);
  EXPECT_EQ(q - p, 24);  // no fenceposts between them (24 is aligned)
  mps_free(pool, p, 24);
  mps_pool_check_fenceposts(pool);
  mps_pool_check_free_space(pool);
  mps_free(pool, q, 24);
}

TEST_F(MVFFDebugTest, AllocationPointBlocksHaveFenceposts) {
  makePool();
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  std::vector<char*> blocks;
  for (int i = 0; i < 100; ++i) {
    mps_addr_t p;
    ASSERT_EQ(mps_reserve(&p, ap, 32), MPS_RES_OK);
    std::memset(p, 0x11, 32);
    ASSERT_TRUE(mps_commit(ap, p, 32));
    blocks.push_back(static_cast<char*>(p));
  }
  mps_pool_check_fenceposts(pool);
  for (size_t i = 1; i < blocks.size(); ++i)
    ASSERT_NE(blocks[i], blocks[i - 1] + 32);  // a fencepost between each
  StrayWrite stray(blocks[7] + 32);
  EXPECT_DEATH(mps_free(pool, blocks[7], 32),
               fenceReport("fencepost check on free", blocks[7] + 32, blocks[7]));
  stray.repair();
  mps_ap_destroy(ap);
  for (char* b : blocks)
    mps_free(pool, b, 32);
  mps_pool_check_free_space(pool);
}

TEST_F(MVFFDebugTest, VariadicCreationTakesTheOptionsFirst) {
  ASSERT_EQ(mps_pool_create(&pool, arena, mps_class_mvff_debug(), &gOptions, size_t(65536),
                            size_t(32), size_t(8), (mps_bool_t)0, (mps_bool_t)0, (mps_bool_t)1),
            MPS_RES_OK);
  char* p = alloc(8);
  EXPECT_EQ(std::memcmp(p + 8, "fencepos", 8), 0);
  p[9] = 0;
  EXPECT_DEATH(mps_free(pool, p, 8), fenceReport("fencepost check on free", p + 9, p));
  p[9] = 'e';
  mps_free(pool, p, 8);
}

TEST_F(MVFFDebugTest, OverwrittenFreeSpaceIsCaughtWhenItGoesBackToTheArena) {
  makePool();
  // Blocks too large for the cache of freed footprints go straight back to
  // the plain pool.
  std::vector<char*> blocks;
  for (int i = 0; i < 1000; ++i)
    blocks.push_back(alloc(4000));
  char* dangling = blocks[500];
  mps_free(pool, dangling, 4000);
  StrayWrite stray(dangling + 100);
  auto freeTheRest = [&] {
    for (char* b : blocks)
      if (b != dangling) mps_free(pool, b, 4000);
  };
  // Freeing the rest takes the pool past its spare fraction: it gives its
  // free memory back, checking it first.
  EXPECT_DEATH(freeTheRest(), freeReport("free space corrupted on release", dangling + 100));
  stray.repair();
  freeTheRest();
}

using MVFFDebugMisuse = MVFFDebugTest;

TEST_F(MVFFDebugMisuse, FreeTemplateSizeMustDivideTheAlignment) {
  mps_pool_debug_option_s bad = {"fencepost", 9, "free!", 5};
  EXPECT_DEATH(makePool(&bad),
               assertionReportContaining("debug options: free_size divides the pool alignment"));
}

TEST_F(MVFFDebugMisuse, ASizeNeedsATemplate) {
  mps_pool_debug_option_s noFence = {nullptr, 4, "free", 4};
  EXPECT_DEATH(makePool(&noFence),
               assertionReportContaining("debug options: a fence_size needs a fence_template"));
  mps_pool_debug_option_s noFree = {"post", 4, nullptr, 4};
  EXPECT_DEATH(makePool(&noFree),
               assertionReportContaining("debug options: a free_size needs a free_template"));
}

TEST(MVFFPlain, PlainPoolIgnoresDebugOptionsAndChecksAreNoOps) {
  mps_arena_t arena;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_pool_t pool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_POOL_DEBUG_OPTIONS, &gOptions);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_mvff(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_addr_t a, b;
  ASSERT_EQ(mps_alloc(&a, pool, 24), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&b, pool, 24), MPS_RES_OK);
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), 24);  // no fenceposts
  static_cast<char*>(a)[24] = 0;  // the neighbour's memory: no report in a plain pool
  mps_pool_check_fenceposts(pool);
  mps_free(pool, a, 24);
  mps_pool_check_free_space(pool);
  mps_free(pool, b, 24);
  mps_pool_destroy(pool);
  mps_arena_destroy(arena);
}

}  // namespace
}  // namespace mps::test
