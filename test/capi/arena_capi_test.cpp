// The C interface for arenas (arena.md) end to end: creation by keywords and
// by the deprecated variadic form for both classes, extension, accounting,
// commit limit, spare memory and its deprecated byte form, introspection.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "mps.h"
#include "mpsacl.h"
#include "mpsavm.h"
#include "mpscmfs.h"
#include "mpscmvff.h"

namespace {

constexpr size_t KiB = 1024, MiB = 1024 * KiB;

// Owns a malloc'd block for client arenas.
struct Block {
  explicit Block(size_t n) : bytes(static_cast<char*>(std::malloc(n))), size(n) {}
  ~Block() { std::free(bytes); }
  char* bytes;
  size_t size;
};

bool inside(const void* p, size_t n, const Block& b) {
  auto* c = static_cast<const char*>(p);
  return c >= b.bytes && c + n <= b.bytes + b.size;
}

TEST(CArena, ClassFunctionsReturnConstantDistinctHandles) {
  EXPECT_EQ(mps_arena_class_vm(), mps_arena_class_vm());
  EXPECT_EQ(mps_arena_class_cl(), mps_arena_class_cl());
  EXPECT_NE(mps_arena_class_vm(), mps_arena_class_cl());
  EXPECT_NE(mps_arena_class_vm(), nullptr);
}

TEST(CArena, VMCreateWithKeywordsReadsBack) {
  mps_arena_t arena = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, 32 * MiB);
    MPS_ARGS_ADD(args, MPS_KEY_COMMIT_LIMIT, 100 * MiB);
    MPS_ARGS_ADD(args, MPS_KEY_SPARE, 0.5);
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  EXPECT_EQ(mps_arena_reserved(arena), 32 * MiB);
  EXPECT_GT(mps_arena_committed(arena), 0u);
  EXPECT_LT(mps_arena_committed(arena), 1 * MiB);
  EXPECT_EQ(mps_arena_spare_committed(arena), 0u);
  EXPECT_EQ(mps_arena_commit_limit(arena), 100 * MiB);
  EXPECT_EQ(mps_arena_spare(arena), 0.5);
  mps_arena_destroy(arena);
}

TEST(CArena, VMCreateWithNoArgumentsTakesTheDefaults) {
  mps_arena_t arena = nullptr;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  EXPECT_EQ(mps_arena_reserved(arena), 256 * MiB);
  EXPECT_EQ(mps_arena_commit_limit(arena), SIZE_MAX);
  EXPECT_EQ(mps_arena_spare(arena), 0.75);
  mps_arena_destroy(arena);
}

TEST(CArena, DeprecatedVarargsVM) {
  mps_arena_t arena = nullptr;
  ASSERT_EQ(mps_arena_create(&arena, mps_arena_class_vm(), size_t(16 * MiB)), MPS_RES_OK);
  EXPECT_EQ(mps_arena_reserved(arena), 16 * MiB);
  mps_arena_destroy(arena);
  // One byte is rounded up (MMQA tests 8 and 98).
  ASSERT_EQ(mps_arena_create(&arena, mps_arena_class_vm(), size_t(1)), MPS_RES_OK);
  EXPECT_GE(mps_arena_reserved(arena), 64 * 4096u);
  mps_arena_destroy(arena);
}

TEST(CArena, DeprecatedVarargsClientAndExtend) {
  Block first(2 * MiB), second(2 * MiB);
  mps_arena_t arena = nullptr;
  ASSERT_EQ(mps_arena_create(&arena, mps_arena_class_cl(), first.size,
                             static_cast<mps_addr_t>(first.bytes)),
            MPS_RES_OK);
  EXPECT_LE(mps_arena_reserved(arena), first.size);
  EXPECT_GE(mps_arena_reserved(arena), first.size - 2 * 8192);
  EXPECT_TRUE(mps_arena_has_addr(arena, arena));  // the arena lives in its block
  EXPECT_TRUE(inside(arena, 1, first));

  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create(&pool, arena, mps_class_mfs(), size_t(8192), size_t(1000)), MPS_RES_OK);
  std::vector<mps_addr_t> blocks;
  mps_addr_t p = nullptr;
  mps_res_t res;
  while ((res = mps_alloc(&p, pool, 1000)) == MPS_RES_OK) {
    EXPECT_TRUE(inside(p, 1000, first));
    blocks.push_back(p);
  }
  EXPECT_NE(res, MPS_RES_OK);
  EXPECT_GT(blocks.size(), 1000u);
  EXPECT_EQ(mps_arena_spare_committed(arena), 0u);

  size_t reserved = mps_arena_reserved(arena);
  ASSERT_EQ(mps_arena_extend(arena, second.bytes, second.size), MPS_RES_OK);
  EXPECT_GT(mps_arena_reserved(arena), reserved);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(mps_alloc(&p, pool, 1000), MPS_RES_OK);
    EXPECT_TRUE(inside(p, 1000, second));
    EXPECT_TRUE(mps_arena_has_addr(arena, p));
  }
  mps_pool_destroy(pool);
  EXPECT_EQ(mps_arena_spare_committed(arena), 0u);
  mps_arena_destroy(arena);
}

TEST(CArena, ClientCreateWithKeywordsAndTooSmallABlock) {
  Block block(1 * MiB);
  mps_arena_t arena = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_CL_BASE, block.bytes);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, block.size);
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_cl(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_arena_spare_set(arena, 0.5);
  EXPECT_EQ(mps_arena_spare(arena), 0.5);  // only recorded
  EXPECT_EQ(mps_arena_spare_committed(arena), 0u);
  mps_arena_destroy(arena);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_CL_BASE, block.bytes);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, 16 * KiB);
    EXPECT_EQ(mps_arena_create_k(&arena, mps_arena_class_cl(), args), MPS_RES_MEMORY);
  }
  MPS_ARGS_END(args);
}

// errors.md, arena.md: in a client arena, creation with a block too small
// for the arena's own structures and allocation that does not fit fail with
// MPS_RES_MEMORY; only sizes beyond any chunk (half the address space and
// more) fail with MPS_RES_RESOURCE, as in a VM arena. Swept over block sizes
// and over MVFF and MFS requests.
TEST(CArena, ClientArenaResultCodesForEverySize) {
  Block block(2 * MiB);
  char* base =
      reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(block.bytes) + 8191) & ~uintptr_t(8191));
  size_t smallest = 0;
  for (size_t size = 0; size <= 512 * KiB; size += 4 * KiB) {
    mps_arena_t arena = nullptr;
    mps_res_t res = mps_arena_create(&arena, mps_arena_class_cl(), size, (mps_addr_t)base);
    if (res == MPS_RES_OK) {
      if (smallest == 0) smallest = size;
      mps_arena_destroy(arena);
    } else {
      EXPECT_EQ(res, MPS_RES_MEMORY) << size;
      EXPECT_EQ(smallest, 0u) << "a larger block works once a smaller one has";
    }
  }
  EXPECT_GT(smallest, 0u);

  mps_arena_t arena = nullptr;
  ASSERT_EQ(mps_arena_create(&arena, mps_arena_class_cl(), size_t(1 * MiB), (mps_addr_t)base),
            MPS_RES_OK);
  mps_pool_t mvff = nullptr;
  ASSERT_EQ(mps_pool_create_k(&mvff, arena, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  const size_t top = size_t(1) << (sizeof(size_t) * 8 - 1);
  std::vector<size_t> sizes;
  for (size_t s = 8; s != 0; s <<= 1) {
    sizes.push_back(s);
    sizes.push_back(s + 8);
    sizes.push_back(s - 8);
  }
  for (size_t s : {top + 64, SIZE_MAX, SIZE_MAX - 7})
    sizes.push_back(s);
  size_t okCount = 0;
  for (size_t size : sizes) {
    if (size == 0) continue;
    mps_addr_t p = nullptr;
    mps_res_t res = mps_alloc(&p, mvff, size);
    if (res == MPS_RES_OK) {
      ++okCount;
      EXPECT_LT(size, 1 * MiB);
      mps_free(mvff, p, size);
      continue;
    }
    EXPECT_EQ(p, nullptr);
    // Sizes from a megabyte to a quarter of the address space cannot fit:
    // memory; a quarter and beyond: address space.
    if (size <= (size_t(1) << (sizeof(size_t) * 8 - 3)))
      EXPECT_EQ(res, MPS_RES_MEMORY) << size;
    else if (size >= (size_t(1) << (sizeof(size_t) * 8 - 2)))
      EXPECT_EQ(res, MPS_RES_RESOURCE) << size;
    else
      EXPECT_TRUE(res == MPS_RES_MEMORY || res == MPS_RES_RESOURCE) << size;
  }
  EXPECT_GT(okCount, 30u);

  // Fill the arena with MFS units: the first failure is MPS_RES_MEMORY, and
  // so is creating a pool (control memory) in the full arena.
  mps_pool_t mfs = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_MFS_UNIT_SIZE, size_t(64));
    MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, size_t(8 * KiB));
    ASSERT_EQ(mps_pool_create_k(&mfs, arena, mps_class_mfs(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_res_t res;
  mps_addr_t p;
  size_t units = 0;
  while ((res = mps_alloc(&p, mfs, 64)) == MPS_RES_OK)
    ASSERT_LT(++units, size_t(1 * MiB / 64));
  EXPECT_EQ(res, MPS_RES_MEMORY);
  mps_pool_t another = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, size_t(64 * KiB));
    res = mps_pool_create_k(&another, arena, mps_class_mvff(), args);
  }
  MPS_ARGS_END(args);
  if (res == MPS_RES_OK) {
    // The descriptor fitted in control memory left over: its first
    // allocation cannot.
    EXPECT_EQ(mps_alloc(&p, another, 64), MPS_RES_MEMORY);
    mps_pool_destroy(another);
  } else {
    EXPECT_EQ(res, MPS_RES_MEMORY);
  }
  mps_pool_destroy(mfs);
  mps_pool_destroy(mvff);
  mps_arena_destroy(arena);
}

TEST(CArena, CommitLimitOfSixteenKiBFailsCreation) {
  mps_arena_t arena = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_COMMIT_LIMIT, 16 * KiB);
    EXPECT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_COMMIT_LIMIT);
  }
  MPS_ARGS_END(args);
}

class CArenaWithPools : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mps_arena_create_k(&arena_, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
    ASSERT_EQ(mps_pool_create_k(&mvff_, arena_, mps_class_mvff(), mps_args_none), MPS_RES_OK);
    ASSERT_EQ(mps_pool_create(&mfs_, arena_, mps_class_mfs(), size_t(65536), size_t(64)),
              MPS_RES_OK);
  }
  void TearDown() override {
    mps_pool_destroy(mfs_);
    mps_pool_destroy(mvff_);
    mps_arena_destroy(arena_);
  }
  mps_arena_t arena_ = nullptr;
  mps_pool_t mvff_ = nullptr, mfs_ = nullptr;
};

TEST_F(CArenaWithPools, CommitLimitSetFollowsMMQA) {
  // A pool with no memory yet, so that its first block needs new memory.
  mps_pool_t fresh = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, 16 * KiB);
    ASSERT_EQ(mps_pool_create_k(&fresh, arena_, mps_class_mvff(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_arena_spare_set(arena_, 0.0);
  const size_t committed = mps_arena_committed(arena_);
  EXPECT_EQ(mps_arena_commit_limit_set(arena_, 0), MPS_RES_FAIL);
  EXPECT_EQ(mps_arena_commit_limit(arena_), SIZE_MAX);  // unchanged by the failure
  EXPECT_EQ(mps_arena_commit_limit_set(arena_, committed - 1), MPS_RES_FAIL);
  EXPECT_EQ(mps_arena_commit_limit(arena_), SIZE_MAX);
  EXPECT_EQ(mps_arena_commit_limit_set(arena_, committed), MPS_RES_OK);
  EXPECT_EQ(mps_arena_commit_limit(arena_), committed);
  mps_addr_t p = nullptr;
  EXPECT_EQ(mps_alloc(&p, fresh, 16 * KiB), MPS_RES_COMMIT_LIMIT);
  EXPECT_EQ(mps_arena_committed(arena_), committed);
  EXPECT_EQ(mps_arena_commit_limit_set(arena_, committed + 64 * KiB), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&p, fresh, 16 * KiB), MPS_RES_OK);
  EXPECT_GT(mps_arena_committed(arena_), committed);
  EXPECT_LE(mps_arena_committed(arena_), committed + 64 * KiB);
  mps_free(fresh, p, 16 * KiB);
  mps_pool_destroy(fresh);
  EXPECT_EQ(mps_arena_commit_limit_set(arena_, SIZE_MAX), MPS_RES_OK);
}

TEST_F(CArenaWithPools, CommitLimitThenFreeThenAllocateSucceeds) {
  // Fill to the limit with MVFF and MFS blocks; freeing lets allocation
  // succeed again.
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, mps_arena_committed(arena_) + 2 * MiB), MPS_RES_OK);
  std::vector<mps_addr_t> big, small;
  mps_addr_t p = nullptr;
  mps_res_t res;
  while ((res = mps_alloc(&p, mvff_, 100 * KiB)) == MPS_RES_OK)
    big.push_back(p);
  EXPECT_EQ(res, MPS_RES_COMMIT_LIMIT);
  while ((res = mps_alloc(&p, mfs_, 64)) == MPS_RES_OK)
    small.push_back(p);
  EXPECT_EQ(res, MPS_RES_COMMIT_LIMIT);
  EXPECT_GE(big.size(), 10u);
  EXPECT_LE(mps_arena_committed(arena_), mps_arena_commit_limit(arena_));
  // Still failing: nothing leaked or changed.
  EXPECT_EQ(mps_alloc(&p, mvff_, 100 * KiB), MPS_RES_COMMIT_LIMIT);

  for (int i = 0; i < 4; ++i) {
    mps_free(mvff_, big.back(), 100 * KiB);
    big.pop_back();
  }
  ASSERT_EQ(mps_alloc(&p, mvff_, 100 * KiB), MPS_RES_OK);
  big.push_back(p);
  ASSERT_EQ(mps_alloc(&p, mvff_, 1000), MPS_RES_OK);
  mps_free(mvff_, p, 1000);
  for (mps_addr_t b : big)
    mps_free(mvff_, b, 100 * KiB);
  for (mps_addr_t s : small)
    mps_free(mfs_, s, 64);
}

TEST_F(CArenaWithPools, SpareSetAndGet) {
  mps_arena_spare_set(arena_, 1.0);
  EXPECT_EQ(mps_arena_spare(arena_), 1.0);
  // A pool returning memory makes it spare.
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create(&pool, arena_, mps_class_mfs(), size_t(1 * MiB), size_t(100)),
            MPS_RES_OK);
  mps_addr_t p = nullptr;
  for (int i = 0; i < 30000; ++i)
    ASSERT_EQ(mps_alloc(&p, pool, 100), MPS_RES_OK);
  mps_pool_destroy(pool);
  EXPECT_GE(mps_arena_spare_committed(arena_), 3 * MiB);
  EXPECT_LE(mps_arena_spare_committed(arena_), mps_arena_committed(arena_));

  mps_arena_spare_set(arena_, 0.1);
  EXPECT_EQ(mps_arena_spare(arena_), 0.1);
  EXPECT_LE(double(mps_arena_spare_committed(arena_)), 0.1 * double(mps_arena_committed(arena_)));
  mps_arena_spare_set(arena_, 0.0);
  EXPECT_EQ(mps_arena_spare(arena_), 0.0);
  EXPECT_EQ(mps_arena_spare_committed(arena_), 0u);
}

TEST_F(CArenaWithPools, DeprecatedSpareCommitLimitIsInBytes) {
  mps_arena_spare_set(arena_, 0.5);
  size_t committed = mps_arena_committed(arena_);
  EXPECT_EQ(mps_arena_spare_commit_limit(arena_), size_t(0.5 * double(committed)));
  mps_arena_spare_commit_limit_set(arena_, committed / 4);
  EXPECT_NEAR(mps_arena_spare(arena_), 0.25, 1e-9);
  mps_arena_spare_commit_limit_set(arena_, committed * 10);  // capped
  EXPECT_EQ(mps_arena_spare(arena_), 1.0);
  EXPECT_EQ(mps_arena_spare_commit_limit(arena_), mps_arena_committed(arena_));
  mps_arena_spare_commit_limit_set(arena_, 0);
  EXPECT_EQ(mps_arena_spare(arena_), 0.0);
  EXPECT_EQ(mps_arena_spare_commit_limit(arena_), 0u);
  EXPECT_EQ(mps_arena_spare_committed(arena_), 0u);
}

TEST_F(CArenaWithPools, HasAddrAndAddrPool) {
  mps_addr_t a = nullptr, b = nullptr;
  ASSERT_EQ(mps_alloc(&a, mvff_, 200), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&b, mfs_, 64), MPS_RES_OK);
  mps_pool_t owner = nullptr;
  EXPECT_TRUE(mps_arena_has_addr(arena_, a));
  EXPECT_TRUE(mps_addr_pool(&owner, arena_, a));
  EXPECT_EQ(owner, mvff_);
  EXPECT_TRUE(mps_addr_pool(&owner, arena_, static_cast<char*>(a) + 199));
  EXPECT_EQ(owner, mvff_);
  EXPECT_TRUE(mps_addr_pool(&owner, arena_, b));
  EXPECT_EQ(owner, mfs_);

  // Foreign addresses: the stack, the C heap, NULL, another arena's block.
  int local = 0;
  void* heap = std::malloc(16);
  mps_arena_t other = nullptr;
  ASSERT_EQ(mps_arena_create_k(&other, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_pool_t otherPool = nullptr;
  ASSERT_EQ(mps_pool_create_k(&otherPool, other, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  mps_addr_t theirs = nullptr;
  ASSERT_EQ(mps_alloc(&theirs, otherPool, 64), MPS_RES_OK);
  for (void* foreign : {static_cast<void*>(&local), heap, static_cast<void*>(nullptr), theirs}) {
    owner = nullptr;
    EXPECT_FALSE(mps_arena_has_addr(arena_, foreign)) << foreign;
    EXPECT_FALSE(mps_addr_pool(&owner, arena_, foreign)) << foreign;
    EXPECT_EQ(owner, nullptr);
  }
  EXPECT_TRUE(mps_addr_pool(&owner, other, theirs));
  EXPECT_EQ(owner, otherPool);
  std::free(heap);
  mps_free(otherPool, theirs, 64);
  mps_pool_destroy(otherPool);
  mps_arena_destroy(other);
  mps_free(mvff_, a, 200);
  mps_free(mfs_, b, 64);
}

TEST_F(CArenaWithPools, PoolCreationFailsWithCommitLimitNotACrash) {
  // MMQA 18-20: create pools until the control memory cannot be had.
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, mps_arena_committed(arena_)), MPS_RES_OK);
  std::vector<mps_pool_t> pools;
  mps_res_t res = MPS_RES_OK;
  for (int i = 0; i < 100000 && res == MPS_RES_OK; ++i) {
    mps_pool_t pool = nullptr;
    res = mps_pool_create(&pool, arena_, mps_class_mfs(), size_t(4096), size_t(8));
    if (res == MPS_RES_OK) pools.push_back(pool);
  }
  EXPECT_EQ(res, MPS_RES_COMMIT_LIMIT);
  res = MPS_RES_OK;
  for (int i = 0; i < 100000 && res == MPS_RES_OK; ++i) {
    mps_pool_t pool = nullptr;
    res = mps_pool_create_k(&pool, arena_, mps_class_mvff(), mps_args_none);
    if (res == MPS_RES_OK) pools.push_back(pool);
  }
  EXPECT_EQ(res, MPS_RES_COMMIT_LIMIT);
  EXPECT_EQ(mps_arena_committed(arena_), mps_arena_commit_limit(arena_));
  for (mps_pool_t p : pools)
    mps_pool_destroy(p);
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, SIZE_MAX), MPS_RES_OK);
  ASSERT_EQ(mps_pool_create_k(&pool, arena_, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  mps_pool_destroy(pool);
}

}  // namespace
