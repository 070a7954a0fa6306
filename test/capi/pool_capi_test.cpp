// The C interface for pools and manual allocation (pool-and-classes.md,
// pools-mfs.md, pools-mvff.md): creation by keywords and variadic forms,
// mps_alloc/mps_free with fill patterns, sizes, and impossible sizes.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "mps.h"
#include "mpsavm.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpstd.h"
#include "seed.hpp"

namespace {

constexpr size_t KiB = 1024;

class CPool : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mps_arena_create_k(&arena_, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  }
  void TearDown() override {
    for (mps_pool_t pool : pools_)
      mps_pool_destroy(pool);
    mps_arena_destroy(arena_);
  }
  mps_pool_t keep(mps_pool_t pool) { return pools_.push_back(pool), pool; }
  mps_arena_t arena_ = nullptr;
  std::vector<mps_pool_t> pools_;
};

TEST_F(CPool, ClassFunctionsAreConstant) {
  EXPECT_EQ(mps_class_mfs(), mps_class_mfs());
  EXPECT_EQ(mps_class_mvff(), mps_class_mvff());
  EXPECT_NE(mps_class_mfs(), mps_class_mvff());
}

// Allocates blocks of random sizes with fill patterns, frees them in random
// order, and checks contents, alignment, ownership and no overlap.
void exercise(mps_arena_t arena, mps_pool_t pool, size_t align, std::uint64_t seed, int ops) {
  mps::test::Rng rng(seed);
  struct Live {
    size_t size;
    unsigned char fill;
  };
  std::map<char*, Live> live;
  for (int op = 0; op < ops; ++op) {
    if (live.empty() || rng.below(100) < 55) {
      size_t size = 1 + rng.below(rng.below(10) == 0 ? 20000 : 300);
      mps_addr_t p = nullptr;
      ASSERT_EQ(mps_alloc(&p, pool, size), MPS_RES_OK);
      char* c = static_cast<char*>(p);
      ASSERT_EQ(reinterpret_cast<std::uintptr_t>(c) % align, 0u);
      mps_pool_t owner = nullptr;
      ASSERT_TRUE(mps_addr_pool(&owner, arena, p));
      ASSERT_EQ(owner, pool);
      auto next = live.lower_bound(c);
      if (next != live.end()) {
        ASSERT_LE(c + size, next->first);
      }
      if (next != live.begin()) {
        auto prev = std::prev(next);
        ASSERT_LE(prev->first + prev->second.size, c);
      }
      unsigned char fill = static_cast<unsigned char>(rng.next());
      std::memset(c, fill, size);
      live[c] = {size, fill};
    } else {
      auto it = live.begin();
      std::advance(it, rng.below(live.size()));
      for (size_t k = 0; k < it->second.size; ++k)
        ASSERT_EQ(static_cast<unsigned char>(it->first[k]), it->second.fill);
      mps_free(pool, it->first, it->second.size);
      live.erase(it);
    }
    ASSERT_LE(mps_pool_free_size(pool), mps_pool_total_size(pool));
  }
  for (auto& [p, l] : live)
    mps_free(pool, p, l.size);
}

TEST_F(CPool, MVFFWithDefaultKeys) {
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create_k(&pool, arena_, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  keep(pool);
  EXPECT_EQ(mps_pool_total_size(pool), 0u);
  exercise(arena_, pool, MPS_PF_ALIGN, mps::test::testSeed(31), 3000);
  // Everything freed: all the pool still holds is free.
  EXPECT_EQ(mps_pool_free_size(pool), mps_pool_total_size(pool));
  EXPECT_EQ(mps_mvff_free_size(pool), mps_pool_free_size(pool));
  EXPECT_EQ(mps_mvff_size(pool), mps_pool_total_size(pool));
}

TEST_F(CPool, MVFFWithEveryKey) {
  mps_pool_t pool = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, 32 * KiB);
    MPS_ARGS_ADD(args, MPS_KEY_MEAN_SIZE, 64);
    MPS_ARGS_ADD(args, MPS_KEY_ALIGN, 64);
    MPS_ARGS_ADD(args, MPS_KEY_SPARE, 0.5);
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_ARENA_HIGH, 1);
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_SLOT_HIGH, 1);
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_FIRST_FIT, 0);
    ASSERT_EQ(mps_pool_create_k(&pool, arena_, mps_class_mvff(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  keep(pool);
  mps_pool_t low = nullptr;
  ASSERT_EQ(mps_pool_create_k(&low, arena_, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  keep(low);
  mps_addr_t a = nullptr, b = nullptr, l = nullptr;
  ASSERT_EQ(mps_alloc(&a, pool, 10), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&b, pool, 10), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&l, low, 10), MPS_RES_OK);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % 64, 0u);
  EXPECT_GT(b, l);  // arena high: above a default pool's memory
  EXPECT_EQ(mps_pool_total_size(pool), 32 * KiB);
  EXPECT_EQ(mps_pool_free_size(pool), 32 * KiB - 128);
  mps_free(pool, a, 10);
  mps_free(pool, b, 10);
  mps_free(low, l, 10);
  exercise(arena_, pool, 64, mps::test::testSeed(32), 1500);
}

// Placement policy, as the reference implements it (poolmvff.c): FIRST_FIT
// chooses the lowest (true) or highest (false) free range that fits, and
// SLOT_HIGH the end of that range the block is taken from. The defaults are
// therefore classic address-ordered first fit, working upwards, and
// ARENA_HIGH + SLOT_HIGH + !FIRST_FIT works down from the top
// (pools-mvff.md).
mps_pool_t mvffWith(mps_arena_t arena, bool arenaHigh, bool slotHigh, bool firstFit) {
  mps_pool_t pool = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_ARENA_HIGH, arenaHigh);
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_SLOT_HIGH, slotHigh);
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_FIRST_FIT, firstFit);
    EXPECT_EQ(mps_pool_create_k(&pool, arena, mps_class_mvff(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  return pool;
}

TEST_F(CPool, MVFFDefaultsAreAddressOrderedFirstFitUpwards) {
  mps_pool_t pool = keep(mvffWith(arena_, false, false, true));
  mps_addr_t a = nullptr, b = nullptr, c = nullptr, hole = nullptr, x = nullptr;
  ASSERT_EQ(mps_alloc(&a, pool, 64), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&b, pool, 64), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&c, pool, 64), MPS_RES_OK);
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), 64);
  EXPECT_EQ(static_cast<char*>(c) - static_cast<char*>(b), 64);
  // A hole low down is reused before the space above, from its low end. The
  // blocks are above MVFF's quick-list bound (1 KiB): smaller ones are freed
  // onto per-size lists and reused last-in first-out by exact size.
  const size_t big = 4 * KiB, half = 2 * KiB;
  mps_addr_t d = nullptr, e = nullptr;
  ASSERT_EQ(mps_alloc(&d, pool, big), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&e, pool, big), MPS_RES_OK);
  EXPECT_EQ(static_cast<char*>(e) - static_cast<char*>(d), static_cast<std::ptrdiff_t>(big));
  mps_free(pool, d, big);
  ASSERT_EQ(mps_alloc(&hole, pool, half), MPS_RES_OK);
  EXPECT_EQ(hole, d);
  ASSERT_EQ(mps_alloc(&x, pool, half), MPS_RES_OK);
  EXPECT_EQ(static_cast<char*>(x), static_cast<char*>(d) + half);
  // The same with the deprecated variadic form and its defaults.
  mps_pool_t old = nullptr;
  ASSERT_EQ(mps_pool_create(&old, arena_, mps_class_mvff(), size_t(8 * KiB), size_t(32),
                            mps_align_t(16), mps_bool_t(0), mps_bool_t(0), mps_bool_t(1)),
            MPS_RES_OK);
  keep(old);
  ASSERT_EQ(mps_alloc(&a, old, 1), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&b, old, 1), MPS_RES_OK);
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), 16);
}

TEST_F(CPool, MVFFArenaHighSlotHighLastFitWorksDownFromTheTop) {
  mps_pool_t pool = keep(mvffWith(arena_, true, true, false));
  mps_addr_t a = nullptr, b = nullptr, c = nullptr;
  ASSERT_EQ(mps_alloc(&a, pool, 64), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&b, pool, 64), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&c, pool, 64), MPS_RES_OK);
  EXPECT_EQ(static_cast<char*>(a) - static_cast<char*>(b), 64);
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(c), 64);
}

TEST_F(CPool, MVFFDeprecatedVarargs) {
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create(&pool, arena_, mps_class_mvff(), size_t(8 * KiB), size_t(32),
                            mps_align_t(16), mps_bool_t(0), mps_bool_t(0), mps_bool_t(1)),
            MPS_RES_OK);
  keep(pool);
  mps_addr_t a = nullptr, b = nullptr;
  ASSERT_EQ(mps_alloc(&a, pool, 1), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&b, pool, 1), MPS_RES_OK);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 16, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % 16, 0u);
  EXPECT_EQ(mps_pool_total_size(pool), 8 * KiB);  // extend_by read as the first argument
  EXPECT_EQ(mps_pool_free_size(pool), 8 * KiB - 32);
  mps_free(pool, a, 1);
  mps_free(pool, b, 1);
}

TEST_F(CPool, MVFFSizesWithTheTopBitSetReturnResource) {
  // MMQA argerr 34 and 153, and compat-notes: a result code, not a crash.
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create_k(&pool, arena_, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  keep(pool);
  const size_t top = size_t(1) << (sizeof(size_t) * 8 - 1);
  for (size_t size : {top, top + 64, SIZE_MAX, SIZE_MAX - 7, SIZE_MAX - MPS_PF_ALIGN}) {
    mps_addr_t p = nullptr;
    EXPECT_EQ(mps_alloc(&p, pool, size), MPS_RES_RESOURCE) << size;
    EXPECT_EQ(p, nullptr);
  }
  EXPECT_EQ(mps_pool_total_size(pool), 0u);
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, pool, 64), MPS_RES_OK);  // and the pool still works
  mps_free(pool, p, 64);
}

TEST_F(CPool, MVFFLargeBlocksAreReturnedToTheArena) {
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create_k(&pool, arena_, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  keep(pool);
  mps_arena_spare_set(arena_, 0.0);
  size_t before = mps_arena_committed(arena_);
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, pool, 8 * 1024 * KiB), MPS_RES_OK);
  std::memset(p, 7, 8 * 1024 * KiB);
  EXPECT_GE(mps_arena_committed(arena_), before + 8 * 1024 * KiB);
  mps_free(pool, p, 8 * 1024 * KiB);
  // Shrinks: at most its spare fraction of what it holds stays free.
  EXPECT_LT(mps_arena_committed(arena_), before + 1024 * KiB);
}

TEST_F(CPool, MFSAndMVFFSideBySide) {
  mps_pool_t mfs = nullptr, mvff = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_MFS_UNIT_SIZE, 48);
    ASSERT_EQ(mps_pool_create_k(&mfs, arena_, mps_class_mfs(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  keep(mfs);
  ASSERT_EQ(mps_pool_create_k(&mvff, arena_, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  keep(mvff);
  std::vector<mps_addr_t> a, b;
  for (int i = 0; i < 2000; ++i) {
    mps_addr_t p = nullptr;
    ASSERT_EQ(mps_alloc(&p, mfs, 48), MPS_RES_OK);
    std::memset(p, 1, 48);
    a.push_back(p);
    ASSERT_EQ(mps_alloc(&p, mvff, 48), MPS_RES_OK);
    std::memset(p, 2, 48);
    b.push_back(p);
  }
  for (int i = 0; i < 2000; ++i) {
    mps_pool_t owner = nullptr;
    ASSERT_TRUE(mps_addr_pool(&owner, arena_, a[i]));
    ASSERT_EQ(owner, mfs);
    ASSERT_TRUE(mps_addr_pool(&owner, arena_, b[i]));
    ASSERT_EQ(owner, mvff);
    ASSERT_EQ(static_cast<char*>(a[i])[47], 1);
    ASSERT_EQ(static_cast<char*>(b[i])[47], 2);
  }
  for (int i = 0; i < 2000; ++i) {
    mps_free(mfs, a[i], 48);
    mps_free(mvff, b[i], 48);
  }
  EXPECT_EQ(mps_pool_free_size(mvff), mps_pool_total_size(mvff));
}

}  // namespace
