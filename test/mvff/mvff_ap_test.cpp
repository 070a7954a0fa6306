// Allocation points on MVFF (pools-mvff.md): the reserve/commit protocol,
// worst-fit windows, mixing with mps_alloc/mps_free, the unused tail going
// back on empty, the commit limit, and a seeded randomized stress that
// checks every block against a shadow map. Driven through the C interface,
// with the core pool's consistency walk (checkFreeSpace) between steps.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "assertions.hpp"
#include "mps.h"
#include "mpsavm.h"
#include "mpscmvff.h"
#include "mpstd.h"
#include "pools/mvff/mvff.hpp"
#include "seed.hpp"

namespace mps::test {
namespace {

using core::MVFFPool;

constexpr size_t KiB = 1024;

MVFFPool* core(mps_pool_t pool) {
  return reinterpret_cast<MVFFPool*>(pool);
}

class MVFFAp : public ::testing::Test {
 protected:
  void SetUp() override {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
      ASSERT_EQ(mps_arena_create_k(&arena_, mps_arena_class_vm(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
  }
  void TearDown() override {
    for (mps_ap_t ap : aps_)
      mps_ap_destroy(ap);
    for (mps_pool_t pool : pools_)
      mps_pool_destroy(pool);
    mps_arena_destroy(arena_);
  }

  mps_pool_t pool(size_t extendBy = 65536, double spare = 0.75, size_t align = 0) {
    mps_pool_t p = nullptr;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, extendBy);
      MPS_ARGS_ADD(args, MPS_KEY_SPARE, spare);
      if (align != 0) MPS_ARGS_ADD(args, MPS_KEY_ALIGN, align);
      EXPECT_EQ(mps_pool_create_k(&p, arena_, mps_class_mvff(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    pools_.push_back(p);
    return p;
  }
  mps_ap_t ap(mps_pool_t pool) {
    mps_ap_t a = nullptr;
    EXPECT_EQ(mps_ap_create_k(&a, pool, mps_args_none), MPS_RES_OK);
    aps_.push_back(a);
    return a;
  }
  void destroyAp(mps_ap_t a) {
    for (auto it = aps_.begin(); it != aps_.end(); ++it)
      if (*it == a) {
        aps_.erase(it);
        break;
      }
    mps_ap_destroy(a);
  }
  // Reserve and commit `size` bytes (there is no collector to make the
  // commit fail, but the loop is the protocol).
  static mps_res_t allocate(void** pOut, mps_ap_t a, size_t size) {
    mps_addr_t p;
    do {
      mps_res_t res = mps_reserve(&p, a, size);
      if (res != MPS_RES_OK) return res;
      std::memset(p, 0xA5, size);
    } while (!mps_commit(a, p, size));
    *pOut = p;
    return MPS_RES_OK;
  }

  mps_arena_t arena_ = nullptr;
  std::vector<mps_pool_t> pools_;
  std::vector<mps_ap_t> aps_;
};

TEST_F(MVFFAp, ReserveCommitLoopGivesDisjointAlignedBlocks) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  std::map<char*, size_t> live;
  size_t allocated = 0;
  for (int i = 0; i < 20000; ++i) {
    size_t size = (1 + size_t(i * 7919) % 64) * MPS_PF_ALIGN;
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, size), MPS_RES_OK);
    char* c = static_cast<char*>(q);
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(c) % MPS_PF_ALIGN, 0u);
    mps_pool_t owner;
    ASSERT_TRUE(mps_addr_pool(&owner, arena_, c));
    ASSERT_EQ(owner, p);
    auto next = live.lower_bound(c);
    if (next != live.end()) {
      ASSERT_LE(c + size, next->first);
    }
    if (next != live.begin()) {
      ASSERT_LE(std::prev(next)->first + std::prev(next)->second, c);
    }
    live.emplace(c, size);
    allocated += size;
    ASSERT_EQ(mps_pool_free_size(p) + allocated, mps_pool_total_size(p));
  }
  EXPECT_TRUE(core(p)->checkFreeSpace());
  for (auto& [c, size] : live)
    mps_free(p, c, size);
  EXPECT_EQ(mps_pool_free_size(p), mps_pool_total_size(p));
  EXPECT_TRUE(core(p)->checkFreeSpace());
}

TEST_F(MVFFAp, BuffersAreFilledWorstFit) {
  // One 64 KiB extent carved by mps_alloc (first fit, upwards) into five
  // blocks; freeing three leaves free ranges of 8, 24 and 16 KiB and no
  // tail. SPARE 1.0 keeps the pool from giving any back.
  mps_pool_t p = pool(64 * KiB, 1.0);
  const size_t sizes[] = {8 * KiB, 8 * KiB, 24 * KiB, 8 * KiB, 16 * KiB};
  char* block[5];
  for (int i = 0; i < 5; ++i) {
    mps_addr_t q;
    ASSERT_EQ(mps_alloc(&q, p, sizes[i]), MPS_RES_OK);
    block[i] = static_cast<char*>(q);
    if (i > 0) {
      ASSERT_EQ(block[i], block[i - 1] + sizes[i - 1]);
    }
  }
  ASSERT_EQ(mps_pool_total_size(p), 64 * KiB);
  mps_free(p, block[0], sizes[0]);
  mps_free(p, block[2], sizes[2]);
  mps_free(p, block[4], sizes[4]);
  mps_ap_t a = ap(p);
  mps_addr_t q;
  ASSERT_EQ(mps_reserve(&q, a, 64), MPS_RES_OK);
  // The largest range, from its low end, all of it.
  EXPECT_EQ(q, block[2]);
  EXPECT_EQ(a->limit, block[2] + 24 * KiB);
  ASSERT_TRUE(mps_commit(a, q, 64));
  // The window is not free space for mps_alloc: first fit finds the 8 KiB
  // range below it.
  mps_addr_t r;
  ASSERT_EQ(mps_alloc(&r, p, 4 * KiB), MPS_RES_OK);
  EXPECT_EQ(r, block[0]);
  // The rest of the window serves reservations inline.
  ASSERT_EQ(mps_reserve(&q, a, 20 * KiB), MPS_RES_OK);
  EXPECT_EQ(q, block[2] + 64);
  ASSERT_TRUE(mps_commit(a, q, 20 * KiB));
  // A request larger than what is left (4 KiB - 64): the buffer gives its
  // tail back, and the largest range is now the 16 KiB one.
  ASSERT_EQ(mps_reserve(&q, a, 8 * KiB), MPS_RES_OK);
  EXPECT_EQ(q, block[4]);
  EXPECT_EQ(a->limit, block[4] + 16 * KiB);
  ASSERT_TRUE(mps_commit(a, q, 8 * KiB));
  EXPECT_TRUE(core(p)->checkFreeSpace());
  EXPECT_EQ(mps_pool_free_size(p), 4 * KiB + (4 * KiB - 64) + 8 * KiB);
}

TEST_F(MVFFAp, LongRangesGiveAWindowOfTheIncrement) {
  mps_pool_t p = pool(64 * KiB, 1.0);
  mps_addr_t big;
  ASSERT_EQ(mps_alloc(&big, p, 1024 * KiB), MPS_RES_OK);
  mps_free(p, big, 1024 * KiB);
  ASSERT_EQ(core(p)->windowMax(), 64 * KiB);
  mps_ap_t a = ap(p);
  mps_addr_t q;
  ASSERT_EQ(mps_reserve(&q, a, 128), MPS_RES_OK);
  ASSERT_TRUE(mps_commit(a, q, 128));
  EXPECT_EQ(static_cast<char*>(a->limit) - static_cast<char*>(q), ptrdiff_t(64 * KiB));
  EXPECT_EQ(core(p)->windowSize(), 64 * KiB);
  // A request above the increment gets a window of its own size.
  ASSERT_EQ(mps_reserve(&q, a, 200 * KiB), MPS_RES_OK);
  ASSERT_TRUE(mps_commit(a, q, 200 * KiB));
  EXPECT_EQ(a->limit, a->init);
  EXPECT_EQ(core(p)->windowSize(), 200 * KiB);
  EXPECT_TRUE(core(p)->checkFreeSpace());
}

TEST_F(MVFFAp, EmptyingGivesTheUnusedTailBack) {
  mps_pool_t p = pool(64 * KiB, 1.0);
  mps_ap_t a = ap(p);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 256), MPS_RES_OK);
  size_t total = mps_pool_total_size(p);
  EXPECT_EQ(total, 64 * KiB);
  // The unused part of the window counts as free.
  EXPECT_EQ(mps_pool_free_size(p), total - 256);
  EXPECT_EQ(core(p)->windowSize(), 64 * KiB);
  destroyAp(a);
  EXPECT_EQ(core(p)->windowSize(), 0u);
  EXPECT_EQ(mps_pool_free_size(p), total - 256);
  // mps_alloc finds the tail just above the committed block.
  mps_addr_t r;
  ASSERT_EQ(mps_alloc(&r, p, 4 * KiB), MPS_RES_OK);
  EXPECT_EQ(r, static_cast<char*>(q) + 256);
  mps_free(p, r, 4 * KiB);
  mps_free(p, q, 256);
  EXPECT_EQ(mps_pool_free_size(p), mps_pool_total_size(p));
  EXPECT_TRUE(core(p)->checkFreeSpace());
}

TEST_F(MVFFAp, BlocksFromAnAllocationPointAreFreedWithMpsFree) {
  mps_pool_t p = pool(64 * KiB, 0.75);
  mps_ap_t a = ap(p);
  std::vector<void*> blocks;
  for (int i = 0; i < 100; ++i) {
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, 48), MPS_RES_OK);
    blocks.push_back(q);
  }
  // Freed while the buffer is still attached: below init, they are
  // ordinary allocated blocks.
  for (size_t i = 0; i < blocks.size(); i += 2)
    mps_free(p, blocks[i], 48);
  EXPECT_TRUE(core(p)->checkFreeSpace());
  // mps_alloc reuses them (from the quick list of their size).
  mps_addr_t r;
  ASSERT_EQ(mps_alloc(&r, p, 48), MPS_RES_OK);
  bool reused = false;
  for (size_t i = 0; i < blocks.size(); i += 2)
    reused |= r == blocks[i];
  EXPECT_TRUE(reused);
  mps_free(p, r, 48);
  for (size_t i = 1; i < blocks.size(); i += 2)
    mps_free(p, blocks[i], 48);
  destroyAp(a);
  // Everything is free again: the pool gives it all back.
  EXPECT_EQ(mps_pool_free_size(p), mps_pool_total_size(p));
  EXPECT_EQ(mps_pool_total_size(p), 0u);
}

// Free small blocks carry the pool's free mark in their second word, also
// in the tree; a fill clears the marks in its window, so that blocks
// reserved there and freed untouched do not look freed already.
TEST_F(MVFFAp, FillsScrubFreeMarksFromTheirWindow) {
  mps_pool_t p = pool(64 * KiB, 1.0);
  std::vector<mps_addr_t> blocks;
  for (int i = 0; i < 64; ++i) {
    mps_addr_t q;
    ASSERT_EQ(mps_alloc(&q, p, 64), MPS_RES_OK);
    blocks.push_back(q);
  }
  for (mps_addr_t q : blocks)
    mps_free(p, q, 64);
  core(p)->flushQuickLists();
  core::Word mark = static_cast<core::Word*>(blocks[0])[1];
  EXPECT_NE(mark, 0u);
  EXPECT_EQ(static_cast<core::Word*>(blocks[63])[1], mark);
  mps_ap_t a = ap(p);
  for (int i = 0; i < 64; ++i) {
    mps_addr_t q;
    ASSERT_EQ(mps_reserve(&q, a, 64), MPS_RES_OK);
    ASSERT_TRUE(mps_commit(a, q, 64));  // not initialised: the pool never reads it
    EXPECT_EQ(q, blocks[size_t(i)]);
    EXPECT_NE(static_cast<core::Word*>(q)[1], mark);
  }
  for (mps_addr_t q : blocks)
    mps_free(p, q, 64);
  EXPECT_TRUE(core(p)->checkFreeSpace());
}

TEST_F(MVFFAp, AllocationPointsCanBeCreatedAfterMpsAlloc) {
  mps_pool_t p = pool();
  std::vector<mps_addr_t> early;
  for (int i = 0; i < 50; ++i) {
    mps_addr_t q;
    ASSERT_EQ(mps_alloc(&q, p, 100 + size_t(i)), MPS_RES_OK);
    early.push_back(q);
  }
  mps_ap_t a1 = ap(p), a2 = ap(p);
  void *x, *y;
  ASSERT_EQ(allocate(&x, a1, 64), MPS_RES_OK);
  ASSERT_EQ(allocate(&y, a2, 64), MPS_RES_OK);
  // Two buffers never share a window.
  EXPECT_TRUE(a1->limit <= y || a2->limit <= x);
  EXPECT_TRUE(core(p)->checkFreeSpace());
  for (int i = 0; i < 50; ++i)
    mps_free(p, early[size_t(i)], 100 + size_t(i));
  mps_free(p, x, 64);
  mps_free(p, y, 64);
  EXPECT_TRUE(core(p)->checkFreeSpace());
}

TEST_F(MVFFAp, CommitLimitIsAResultAndThePoolStaysUsable) {
  mps_pool_t p = pool(64 * KiB, 0.0);
  mps_ap_t a = ap(p);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, mps_arena_committed(arena_) + 512 * KiB),
            MPS_RES_OK);
  std::vector<std::pair<void*, size_t>> live{{q, 64}};
  mps_res_t res = MPS_RES_OK;
  for (int i = 0; i < 100000 && res == MPS_RES_OK; ++i) {
    size_t size = (i % 7 == 0 ? 8 * KiB : 256);
    res = allocate(&q, a, size);
    if (res == MPS_RES_OK) live.emplace_back(q, size);
  }
  ASSERT_EQ(res, MPS_RES_COMMIT_LIMIT);
  // Nothing reserved, and the allocation point still works for what fits.
  EXPECT_EQ(a->init, a->alloc);
  EXPECT_TRUE(core(p)->checkFreeSpace());
  // mps_alloc and the allocation point fail alike at the limit, and free
  // blocks make room for both.
  mps_addr_t r;
  EXPECT_EQ(mps_alloc(&r, p, 64 * KiB), MPS_RES_COMMIT_LIMIT);
  for (size_t i = 0; i < live.size(); i += 2)
    mps_free(p, live[i].first, live[i].second);
  ASSERT_EQ(allocate(&q, a, 256), MPS_RES_OK);
  live.emplace_back(q, 256);
  ASSERT_EQ(mps_alloc(&r, p, 256), MPS_RES_OK);
  mps_free(p, r, 256);
  for (size_t i = 1; i < live.size(); i += 2)
    mps_free(p, live[i].first, live[i].second);
  EXPECT_TRUE(core(p)->checkFreeSpace());
  mps_arena_commit_limit_set(arena_, ~size_t(0));
  ASSERT_EQ(allocate(&q, a, 1024 * KiB), MPS_RES_OK);
  mps_free(p, q, 1024 * KiB);
}

TEST_F(MVFFAp, ImpossibleSizesFailWithResource) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  mps_addr_t q;
  EXPECT_EQ(mps_reserve(&q, a, ~size_t(0) - MPS_PF_ALIGN + 1), MPS_RES_RESOURCE);
  EXPECT_EQ(mps_reserve(&q, a, (size_t(1) << (sizeof(size_t) * 8 - 1))), MPS_RES_RESOURCE);
  EXPECT_EQ(a->init, a->alloc);
  ASSERT_EQ(mps_reserve(&q, a, 64), MPS_RES_OK);
  ASSERT_TRUE(mps_commit(a, q, 64));
}

using MVFFApDeathTest = MVFFAp;

TEST_F(MVFFApDeathTest, DestroyingAPoolWithAnAllocationPointAsserts) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
  EXPECT_DEATH(mps_pool_destroy(p), assertionReport("pool has no allocation points: destroy "
                                                    "them before the pool"));
}

#if MPS_CHECKED
TEST_F(MVFFApDeathTest, FreeingTheUnusedPartOfABufferAsserts) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
  EXPECT_DEATH(mps_free(p, a->init, 64),
               assertionReportContaining(
                   "block being freed is not in the unused part of an allocation point's buffer"));
}
#endif

// Seeded stress: several allocation points and mps_alloc on one pool, with
// random frees; every block is checked against a shadow map for overlap and
// contents, and the pool's accounts and free space after every step.
TEST_F(MVFFAp, RandomizedMixKeepsTheModel) {
  std::uint64_t seed = testSeed(0xA9F5EED);
  Rng rng(seed);
  for (int config = 0; config < 6; ++config) {
    size_t align = size_t(8) << rng.below(4);
    const double spares[] = {0.0, 0.5, 0.75, 1.0};
    double spare = spares[rng.below(4)];
    size_t extendBy = size_t(rng.between(1, 32)) * 4096;
    bool limited = config % 3 == 2;  // every third: allocation fails now and then
    SCOPED_TRACE(testing::Message() << "config " << config << " align " << align << " spare "
                                    << spare << " extendBy " << extendBy << " limited " << limited);
    mps_pool_t p = pool(extendBy, spare, align);
    if (limited) {
      size_t room = size_t(rng.between(256, 2048)) << 10;
      ASSERT_EQ(mps_arena_commit_limit_set(arena_, mps_arena_committed(arena_) + room), MPS_RES_OK);
    }
    mps_ap_t aps[3] = {ap(p), ap(p), ap(p)};
    struct Block {
      size_t size;
      unsigned char fill;
    };
    std::map<char*, Block> live;
    size_t allocated = 0, failures = 0;
    unsigned char nextFill = 1;
    auto freeOne = [&](std::map<char*, Block>::iterator it) {
      for (size_t i = 0; i < it->second.size; i += 61)
        ASSERT_EQ(static_cast<unsigned char>(it->first[i]), it->second.fill);
      mps_free(p, it->first, it->second.size);
      allocated -= (it->second.size + align - 1) / align * align;
      live.erase(it);
    };
    for (int step = 0; step < 6000; ++step) {
      if (live.empty() || (live.size() < 1200 && rng.below(100) < 55)) {
        size_t size =
            rng.below(20) == 0 ? size_t(rng.between(1, 100000)) : size_t(rng.between(1, 600));
        size_t rounded = (size + align - 1) / align * align;
        char* c = nullptr;
        mps_res_t res;
        if (rng.below(3) == 0) {
          mps_addr_t q;
          res = mps_alloc(&q, p, size);
          c = static_cast<char*>(q);
        } else {
          mps_ap_t a = aps[rng.below(3)];
          mps_addr_t q;
          res = mps_reserve(&q, a, rounded);
          if (res == MPS_RES_OK) {
            c = static_cast<char*>(q);
            ASSERT_TRUE(mps_commit(a, q, rounded));
          }
        }
        if (res != MPS_RES_OK) {
          ASSERT_TRUE(limited);
          ASSERT_EQ(res, MPS_RES_COMMIT_LIMIT);
          ++failures;
          for (int i = 0; i < 20 && !live.empty(); ++i)
            freeOne(std::next(live.begin(), std::ptrdiff_t(rng.below(live.size()))));
          continue;
        }
        ASSERT_EQ(reinterpret_cast<std::uintptr_t>(c) % align, 0u);
        auto next = live.lower_bound(c);
        if (next != live.end()) {
          ASSERT_LE(c + rounded, next->first);
        }
        if (next != live.begin()) {
          auto prev = std::prev(next);
          ASSERT_LE(prev->first + (prev->second.size + align - 1) / align * align, c);
        }
        unsigned char fill = nextFill++;
        if (nextFill == 0) nextFill = 1;
        std::memset(c, fill, size);
        live.emplace(c, Block{size, fill});
        allocated += rounded;
      } else {
        freeOne(std::next(live.begin(), std::ptrdiff_t(rng.below(live.size()))));
      }
      ASSERT_EQ(mps_pool_free_size(p) + allocated, mps_pool_total_size(p));
      if (step % 500 == 0) {
        ASSERT_TRUE(core(p)->checkFreeSpace());
      }
      // Now and then an allocation point is emptied and refilled.
      if (rng.below(200) == 0) {
        mps_ap_t& a = aps[rng.below(3)];
        destroyAp(a);
        a = ap(p);
      }
    }
    std::printf(
        "[ config   ] align %zu spare %.2f extend %zu%s: %zu live at the end, %zu failed "
        "allocations\n",
        align, spare, extendBy, limited ? " limited" : "", live.size(), failures);
    while (!live.empty())
      freeOne(live.begin());
    for (mps_ap_t a : aps)
      destroyAp(a);
    EXPECT_EQ(mps_pool_free_size(p), mps_pool_total_size(p));
    EXPECT_TRUE(core(p)->checkFreeSpace());
    pools_.pop_back();
    mps_pool_destroy(p);
    ASSERT_EQ(mps_arena_commit_limit_set(arena_, ~size_t(0)), MPS_RES_OK);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace mps::test
