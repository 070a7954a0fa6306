// MFS through the C interface (mpscmfs.h): keyword and deprecated variadic
// creation, allocation, sizes, introspection and teardown.

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "assertions.hpp"
#include "mps.h"
#include "mpsavm.h"
#include "mpscmfs.h"
#include "mpstd.h"

namespace {

class MFSCapi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mps_arena_create_k(&arena_, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  }
  void TearDown() override {
    if (pool_ != nullptr) mps_pool_destroy(pool_);
    mps_arena_destroy(arena_);
  }
  mps_arena_t arena_ = nullptr;
  mps_pool_t pool_ = nullptr;
};

TEST_F(MFSCapi, KeywordCreationAllocationAndSizes) {
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_MFS_UNIT_SIZE, 24);
    MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, 8192);
    ASSERT_EQ(mps_pool_create_k(&pool_, arena_, mps_class_mfs(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  EXPECT_EQ(mps_class_mfs(), mps_class_mfs());
  EXPECT_EQ(mps_pool_total_size(pool_), 0u);
  EXPECT_EQ(mps_pool_free_size(pool_), 0u);

  std::vector<mps_addr_t> blocks(100);
  for (mps_addr_t& p : blocks) {
    ASSERT_EQ(mps_alloc(&p, pool_, 24), MPS_RES_OK);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % MPS_PF_ALIGN, 0u);
    std::memset(p, 0x3C, 24);
  }
  const size_t total = mps_pool_total_size(pool_);
  EXPECT_GE(total, 100u * 24);
  EXPECT_EQ(total % 8192, 0u);
  EXPECT_EQ(mps_pool_free_size(pool_), total - 16 - 100 * 24 - (total - 16) % 24);

  for (mps_addr_t p : blocks) {
    EXPECT_TRUE(mps_arena_has_addr(arena_, p));
    mps_pool_t owner = nullptr;
    EXPECT_TRUE(mps_addr_pool(&owner, arena_, p));
    EXPECT_EQ(owner, pool_);
  }
  int local;
  mps_pool_t owner = nullptr;
  EXPECT_FALSE(mps_arena_has_addr(arena_, &local));
  EXPECT_FALSE(mps_addr_pool(&owner, arena_, &local));
  EXPECT_EQ(owner, nullptr);

  for (mps_addr_t p : blocks)
    mps_free(pool_, p, 24);
  EXPECT_EQ(mps_pool_total_size(pool_), total);
  EXPECT_EQ(mps_pool_free_size(pool_), total - 16 - (total - 16) % 24);
  // LIFO: the last freed is the next allocated.
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, pool_, 24), MPS_RES_OK);
  EXPECT_EQ(p, blocks.back());
}

TEST_F(MFSCapi, DeprecatedVarargsTakeExtendByThenUnitSize) {
  ASSERT_EQ(mps_pool_create(&pool_, arena_, mps_class_mfs(), size_t(3 * 4096), size_t(40)),
            MPS_RES_OK);
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, pool_, 40), MPS_RES_OK);
  EXPECT_EQ(mps_pool_total_size(pool_), 3u * 4096);
  EXPECT_EQ(mps_pool_free_size(pool_), ((3 * 4096 - 16) / 40 - 1) * 40);
  mps_free(pool_, p, 40);
}

TEST_F(MFSCapi, DestroyGivesTheMemoryBack) {
  mps_arena_spare_set(arena_, 0.0);
  // Once to warm the arena's own tables, then measured.
  size_t before = 0;
  for (int run = 0; run < 2; ++run) {
    before = mps_arena_committed(arena_);
    ASSERT_EQ(mps_pool_create(&pool_, arena_, mps_class_mfs(), size_t(65536), size_t(64)),
              MPS_RES_OK);
    mps_addr_t p = nullptr;
    for (int i = 0; i < 10000; ++i)
      ASSERT_EQ(mps_alloc(&p, pool_, 64), MPS_RES_OK);
    EXPECT_GE(mps_arena_committed(arena_), before + 10000 * 64);
    mps_pool_destroy(pool_);
    pool_ = nullptr;
  }
  EXPECT_EQ(mps_arena_committed(arena_), before);
  EXPECT_EQ(mps_arena_spare_committed(arena_), 0u);
}

TEST_F(MFSCapi, FreeingAtAnOffsetInsideAUnitRunsToCompletion) {
  // MMQA argerr 152 frees block + 8 and expects no assertion: MFS does not
  // check that an address is the start of a unit.
  ASSERT_EQ(mps_pool_create(&pool_, arena_, mps_class_mfs(), size_t(65536), size_t(32)),
            MPS_RES_OK);
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, pool_, 32), MPS_RES_OK);
  mps_free(pool_, static_cast<char*>(p) + 8, 32);
  SUCCEED();
}

TEST_F(MFSCapi, CommitLimitThenFreeThenAllocAgain) {
  ASSERT_EQ(mps_pool_create(&pool_, arena_, mps_class_mfs(), size_t(4096), size_t(512)),
            MPS_RES_OK);
  mps_addr_t first = nullptr;
  ASSERT_EQ(mps_alloc(&first, pool_, 512), MPS_RES_OK);
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, mps_arena_committed(arena_)), MPS_RES_OK);
  std::vector<mps_addr_t> live{first};
  mps_addr_t p = nullptr;
  mps_res_t res;
  while ((res = mps_alloc(&p, pool_, 512)) == MPS_RES_OK)
    live.push_back(p);
  EXPECT_EQ(res, MPS_RES_COMMIT_LIMIT);
  mps_free(pool_, live[3], 512);
  EXPECT_EQ(mps_alloc(&p, pool_, 512), MPS_RES_OK);
  EXPECT_EQ(p, live[3]);
  EXPECT_EQ(mps_alloc(&p, pool_, 512), MPS_RES_COMMIT_LIMIT);
}

using MFSCapiDeathTest = MFSCapi;

TEST_F(MFSCapiDeathTest, WrongSizeZeroSizeAndWrongClassUse) {
  ASSERT_EQ(mps_pool_create(&pool_, arena_, mps_class_mfs(), size_t(65536), size_t(13)),
            MPS_RES_OK);
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, pool_, 13), MPS_RES_OK);
  // The condition names the unit size (MMQA expects size == unroundedUnitSize).
  EXPECT_DEATH(mps_alloc(&p, pool_, 65536), "ASSERTION FAILED: size == unroundedUnitSize");
  EXPECT_DEATH(mps_free(pool_, p, 16), "ASSERTION FAILED: size == unroundedUnitSize");
  EXPECT_DEATH(mps_alloc(&p, pool_, 0), mps::test::assertionReport("size > 0"));
  EXPECT_DEATH(mps_free(pool_, p, 0), mps::test::assertionReport("size > 0"));
  // The variadic form with its two arguments swapped: the unit is 65536.
  mps_pool_t swapped = nullptr;
  ASSERT_EQ(mps_pool_create(&swapped, arena_, mps_class_mfs(), size_t(13), size_t(65536)),
            MPS_RES_OK);
  EXPECT_DEATH(mps_alloc(&p, swapped, 13), "ASSERTION FAILED: size == unroundedUnitSize");
  mps_pool_destroy(swapped);
}

}  // namespace
