// MFS through the core (pools/mfs/mfs.hpp): unit and extent rounding, exact
// sizes, LIFO reuse, many extents, memory returned on destroy, the commit
// limit, and a seeded model-based stress.

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

#include "arena/arena.hpp"
#include "assertions.hpp"
#include "core_arena.hpp"
#include "mpscmfs.h"
#include "mpstd.h"
#include "pools/mfs/mfs.hpp"
#include "seed.hpp"

namespace {

using namespace mps::core;
using mps::test::ArenaGuard;
using mps::test::Args;
using mps::test::makeVMArena;

constexpr Size KiB = 1024;
// The header at the base of every extent (two words), as MFS lays it out.
constexpr Size kExtentHeader = alignUp(2 * sizeof(void*), MPS_PF_ALIGN);

class MFS : public ::testing::Test {
 protected:
  void SetUp() override {
    Args args;
    args.real(MPS_KEY_SPARE, spare_);
    arena_ = makeVMArena(args);
    ASSERT_NE(arena_, nullptr);
  }
  void TearDown() override {
    for (Pool* pool : pools_)
      pool->destroy();
    if (arena_ != nullptr) arena_->destroy();
  }

  MFSPool* make(Size unit, Size extendBy = 0) {
    Args args;
    args.size(MPS_KEY_MFS_UNIT_SIZE, unit);
    if (extendBy != 0) args.size(MPS_KEY_EXTEND_BY, extendBy);
    Pool* pool = nullptr;
    EXPECT_EQ(kPoolClassMFS.create(&pool, arena_, args), Res::ok);
    if (pool == nullptr) return nullptr;
    pools_.push_back(pool);
    return static_cast<MFSPool*>(pool);
  }
  void destroy(MFSPool* pool) {
    std::erase(pools_, pool);
    pool->destroy();
  }
  Size grain() const { return arena_->grainSize(); }

  double spare_ = 0.75;
  Arena* arena_ = nullptr;
  std::vector<Pool*> pools_;
};

TEST_F(MFS, UnitSizeIsRoundedButClientsPassTheUnroundedSize) {
  struct Case {
    Size unit, rounded;
  } cases[] = {{1, sizeof(void*)}, {8, 8}, {13, 16}, {24, 24}, {100, 104}, {4097, 4104}};
  for (const Case& c : cases) {
    MFSPool* pool = make(c.unit);
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->unroundedUnitSize(), c.unit);
    EXPECT_EQ(pool->unitSize(), alignUp(c.rounded, MPS_PF_ALIGN)) << c.unit;
    Addr a = nullptr, b = nullptr;
    ASSERT_EQ(pool->alloc(&a, c.unit), Res::ok);
    ASSERT_EQ(pool->alloc(&b, c.unit), Res::ok);
    EXPECT_TRUE(isAligned(a, MPS_PF_ALIGN) && isAligned(b, MPS_PF_ALIGN));
    // Units of a fresh extent are handed out upwards, a rounded unit apart.
    EXPECT_EQ(b - a, std::ptrdiff_t(pool->unitSize())) << c.unit;
    std::memset(a, 0xAA, c.unit);
    std::memset(b, 0xBB, c.unit);
    EXPECT_EQ(a[c.unit - 1], std::byte{0xAA});
    pool->free(a, c.unit);
    pool->free(b, c.unit);
  }
}

TEST_F(MFS, ExtendByIsRoundedUpToWholeGrains) {
  struct Case {
    Size unit, extendBy, extent;
  } cases[] = {
      {8, 100, grain()},                                      // below a grain
      {8, grain(), grain()},                                  // exactly one
      {8, grain() + 1, 2 * grain()},                          // just over
      {64, 0, 64 * KiB},                                      // the default
      {10000, 100, alignUp(kExtentHeader + 10000, grain())},  // below one unit
  };
  for (const Case& c : cases) {
    MFSPool* pool = make(c.unit, c.extendBy);
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->totalSize(), 0u);  // nothing until the first allocation
    EXPECT_EQ(pool->freeSize(), 0u);
    Addr p = nullptr;
    ASSERT_EQ(pool->alloc(&p, c.unit), Res::ok);
    EXPECT_EQ(pool->totalSize(), c.extent) << c.unit << " " << c.extendBy;
    Size perExtent = (c.extent - kExtentHeader) / pool->unitSize();
    EXPECT_EQ(pool->freeSize(), (perExtent - 1) * pool->unitSize());
    EXPECT_EQ(arena_->poolOf(p), pool);
  }
}

TEST_F(MFS, TotalAndFreeSizesAreExact) {
  MFSPool* pool = make(64, 4096);
  ASSERT_NE(pool, nullptr);
  const Size extent = alignUp(4096, grain());
  const Size perExtent = (extent - kExtentHeader) / 64;
  std::vector<Addr> live;
  for (Size k = 1; k <= 300; ++k) {
    Addr p = nullptr;
    ASSERT_EQ(pool->alloc(&p, 64), Res::ok);
    live.push_back(p);
    Size extents = (k + perExtent - 1) / perExtent;
    ASSERT_EQ(pool->totalSize(), extents * extent) << k;
    ASSERT_EQ(pool->freeSize(), (extents * perExtent - k) * 64) << k;
  }
  const Size total = pool->totalSize();
  for (Size k = 0; k < live.size(); ++k) {
    pool->free(live[k], 64);
    ASSERT_EQ(pool->totalSize(), total);  // never returned while the pool lives
    ASSERT_EQ(pool->freeSize(), (total / extent * perExtent - live.size() + k + 1) * 64);
  }
}

TEST_F(MFS, FreeAndAllocAreLastInFirstOut) {
  MFSPool* pool = make(40);
  ASSERT_NE(pool, nullptr);
  Addr a = nullptr, b = nullptr, c = nullptr, x = nullptr;
  ASSERT_EQ(pool->alloc(&a, 40), Res::ok);
  ASSERT_EQ(pool->alloc(&b, 40), Res::ok);
  ASSERT_EQ(pool->alloc(&c, 40), Res::ok);
  pool->free(a, 40);
  pool->free(c, 40);
  ASSERT_EQ(pool->alloc(&x, 40), Res::ok);
  EXPECT_EQ(x, c);
  ASSERT_EQ(pool->alloc(&x, 40), Res::ok);
  EXPECT_EQ(x, a);
  pool->free(b, 40);
  ASSERT_EQ(pool->alloc(&x, 40), Res::ok);
  EXPECT_EQ(x, b);
}

TEST_F(MFS, ManyExtentsKeepEveryUnitDistinctAndIntact) {
  MFSPool* pool = make(48, 4096);
  ASSERT_NE(pool, nullptr);
  const Size n = 20000;
  std::vector<Addr> units(n);
  for (Size i = 0; i < n; ++i) {
    ASSERT_EQ(pool->alloc(&units[i], 48), Res::ok);
    std::memcpy(units[i], &i, sizeof i);
    std::memset(units[i] + sizeof i, int(i & 0xFF), 48 - sizeof i);
  }
  const Size perExtent = (alignUp(4096, grain()) - kExtentHeader) / pool->unitSize();
  EXPECT_EQ(pool->totalSize(), (n + perExtent - 1) / perExtent * alignUp(4096, grain()));
  std::map<Addr, Size> order;
  for (Size i = 0; i < n; ++i) {
    Size stored;
    std::memcpy(&stored, units[i], sizeof stored);
    ASSERT_EQ(stored, i);
    ASSERT_EQ(units[i][47], std::byte(i & 0xFF));
    ASSERT_EQ(arena_->poolOf(units[i]), pool);
    ASSERT_TRUE(order.emplace(units[i], i).second);
  }
  for (auto it = order.begin(); std::next(it) != order.end(); ++it)
    ASSERT_GE(std::next(it)->first - it->first, std::ptrdiff_t(pool->unitSize()));
  for (Size i = 0; i < n; i += 2)
    pool->free(units[i], 48);
  for (Size i = 0; i < n; i += 2)
    ASSERT_EQ(pool->alloc(&units[i], 48), Res::ok);
  EXPECT_EQ(pool->totalSize(), (n + perExtent - 1) / perExtent * alignUp(4096, grain()));
}

TEST_F(MFS, DestroyReturnsEveryExtentToTheArena) {
  // Run the same workload twice so that the second run needs no new control
  // memory or tract table pages: it must then leave the arena exactly as it
  // found it.
  Size inUseBefore = 0, spareBefore = 0;
  for (int run = 0; run < 2; ++run) {
    inUseBefore = arena_->committed() - arena_->spareCommitted();
    spareBefore = arena_->spareCommitted();
    MFSPool* pool = make(100, 16 * KiB);
    ASSERT_NE(pool, nullptr);
    Addr p = nullptr;
    for (int i = 0; i < 2000; ++i)
      ASSERT_EQ(pool->alloc(&p, 100), Res::ok);
    Size total = pool->totalSize();
    EXPECT_GE(arena_->committed() - arena_->spareCommitted(), inUseBefore + total);
    destroy(pool);
  }
  EXPECT_EQ(arena_->committed() - arena_->spareCommitted(), inUseBefore);
  EXPECT_GE(arena_->spareCommitted(), spareBefore);  // the extents became spare
  arena_->setSpare(0.0);
  EXPECT_EQ(arena_->spareCommitted(), 0u);
  EXPECT_EQ(arena_->committed(), inUseBefore);
}

TEST_F(MFS, CommitLimitFailsTheExtensionAndThePoolStaysUsable) {
  MFSPool* pool = make(256, 4096);
  ASSERT_NE(pool, nullptr);
  std::vector<Addr> live;
  Addr p = nullptr;
  ASSERT_EQ(pool->alloc(&p, 256), Res::ok);
  live.push_back(p);
  ASSERT_EQ(arena_->setCommitLimit(arena_->committed()), Res::ok);
  // The rest of the extent is available; then the next extension fails.
  Res res;
  while ((res = pool->alloc(&p, 256)) == Res::ok)
    live.push_back(p);
  EXPECT_EQ(res, Res::commitLimit);
  EXPECT_EQ(live.size(), (grain() - kExtentHeader) / 256);
  EXPECT_EQ(pool->freeSize(), 0u);
  EXPECT_EQ(pool->alloc(&p, 256), Res::commitLimit);  // and again, no leak
  EXPECT_EQ(arena_->committed(), arena_->commitLimit());
  pool->free(live.back(), 256);
  ASSERT_EQ(pool->alloc(&p, 256), Res::ok);
  EXPECT_EQ(p, live.back());
  ASSERT_EQ(arena_->setCommitLimit(~Size(0)), Res::ok);
  EXPECT_EQ(pool->alloc(&p, 256), Res::ok);
  EXPECT_EQ(pool->totalSize(), 2 * grain());
}

TEST_F(MFS, ImpossibleSizesFailWithResource) {
  Pool* pool = nullptr;
  Args a1;
  a1.size(MPS_KEY_MFS_UNIT_SIZE, ~Size(0) - 8);
  EXPECT_EQ(kPoolClassMFS.create(&pool, arena_, a1), Res::resource);
  Args a2;
  a2.size(MPS_KEY_MFS_UNIT_SIZE, 8).size(MPS_KEY_EXTEND_BY, ~Size(0) - 100);
  EXPECT_EQ(kPoolClassMFS.create(&pool, arena_, a2), Res::resource);
  EXPECT_EQ(arena_->poolCount(), 0u);
}

TEST_F(MFS, UnitLargerThanExtendByStillWorks) {
  // MMQA runs this to completion.
  MFSPool* pool = make(100000, 4096);
  ASSERT_NE(pool, nullptr);
  Addr a = nullptr, b = nullptr;
  ASSERT_EQ(pool->alloc(&a, 100000), Res::ok);
  ASSERT_EQ(pool->alloc(&b, 100000), Res::ok);
  std::memset(a, 1, 100000);
  std::memset(b, 2, 100000);
  EXPECT_EQ(a[99999], std::byte{1});
  EXPECT_EQ(pool->totalSize(), 2 * alignUp(kExtentHeader + 100000, grain()));
}

// Seeded model-based stress: a shadow map of live units checks that no unit
// is handed out twice or overlaps another, that each is aligned, that its
// contents survive (a per-unit fill pattern) and that the pool's sizes equal
// the model's.
TEST_F(MFS, RandomizedAgainstAShadowModel) {
  mps::test::Rng rng(mps::test::testSeed(0x5EED));
  for (int round = 0; round < 8; ++round) {
    Size unit = 1 + rng.below(rng.below(4) == 0 ? 3000 : 200);
    Size extendBy = 1 + rng.below(6 * grain());
    MFSPool* pool = make(unit, extendBy);
    ASSERT_NE(pool, nullptr);
    const Size rounded = pool->unitSize();
    Size extent =
        alignUp(extendBy < kExtentHeader + rounded ? kExtentHeader + rounded : extendBy, grain());
    const Size perExtent = (extent - kExtentHeader) / rounded;
    Size modelExtents = 0, modelFree = 0;

    std::map<Addr, unsigned char> live;  // base -> fill byte
    for (int op = 0; op < 4000; ++op) {
      bool doAlloc = live.empty() || rng.below(100) < (op < 2000 ? 65 : 35);
      if (doAlloc) {
        Addr p = nullptr;
        ASSERT_EQ(pool->alloc(&p, unit), Res::ok);
        if (modelFree == 0) ++modelExtents, modelFree += perExtent;
        --modelFree;
        ASSERT_TRUE(isAligned(p, MPS_PF_ALIGN));
        ASSERT_EQ(arena_->poolOf(p), pool);
        auto next = live.lower_bound(p);
        ASSERT_TRUE(next == live.end() || p + unit <= next->first) << "overlaps the next unit";
        if (next != live.begin()) {
          ASSERT_LE(std::prev(next)->first + unit, p) << "overlaps the previous unit";
        }
        unsigned char fill = static_cast<unsigned char>(rng.next() | 1);
        std::memset(p, fill, unit);
        live.emplace(p, fill);
      } else {
        auto it = live.begin();
        std::advance(it, rng.below(live.size()));
        for (Size k = 0; k < unit; ++k)
          ASSERT_EQ(static_cast<unsigned char>(it->first[k]), it->second) << "byte " << k;
        pool->free(it->first, unit);
        live.erase(it);
        ++modelFree;
      }
      ASSERT_EQ(pool->totalSize(), modelExtents * extent);
      ASSERT_EQ(pool->freeSize(), modelFree * rounded);
    }
    destroy(pool);
  }
}

// Misuse ---------------------------------------------------------------------------

using MFSDeathTest = MFS;

TEST_F(MFSDeathTest, CreationArgumentsAreChecked) {
  Pool* pool = nullptr;
  EXPECT_DEATH(kPoolClassMFS.create(&pool, arena_, mps_args_none),
               mps::test::assertionReport("MPS_KEY_MFS_UNIT_SIZE"));
  Args zeroUnit;
  zeroUnit.size(MPS_KEY_MFS_UNIT_SIZE, 0);
  EXPECT_DEATH(kPoolClassMFS.create(&pool, arena_, zeroUnit),
               mps::test::assertionReport("unroundedUnitSize_ > 0"));
  Args zeroExtend;
  zeroExtend.size(MPS_KEY_MFS_UNIT_SIZE, 8).size(MPS_KEY_EXTEND_BY, 0);
  EXPECT_DEATH(kPoolClassMFS.create(&pool, arena_, zeroExtend),
               mps::test::assertionReport("extendBy_ > 0"));
}

TEST_F(MFSDeathTest, AllocAndFreeWithAnotherSizeAreCaught) {
  MFSPool* pool = make(13);
  ASSERT_NE(pool, nullptr);
  Addr p = nullptr;
  ASSERT_EQ(pool->alloc(&p, 13), Res::ok);
  // Even the rounded size is wrong: clients pass what they gave at creation.
  EXPECT_DEATH(pool->alloc(&p, 16), mps::test::assertionReport("size == unroundedUnitSize_"));
  EXPECT_DEATH(pool->free(p, 16), mps::test::assertionReport("size == unroundedUnitSize_"));
  EXPECT_DEATH(pool->free(p, 12), mps::test::assertionReport("size == unroundedUnitSize_"));
}

TEST_F(MFSDeathTest, FreeingAMisalignedOrNullAddressIsCaught) {
  MFSPool* pool = make(32);
  ASSERT_NE(pool, nullptr);
  Addr p = nullptr;
  ASSERT_EQ(pool->alloc(&p, 32), Res::ok);
  EXPECT_DEATH(pool->free(p + 1, 32),
               mps::test::assertionReport("p != nullptr && isAligned(p, alignment_)"));
  EXPECT_DEATH(pool->free(nullptr, 32),
               mps::test::assertionReport("p != nullptr && isAligned(p, alignment_)"));
}

#if MPS_CHECKED
TEST_F(MFSDeathTest, FreeingAnAddressThisPoolNeverGaveOutIsCaught) {
  MFSPool* pool = make(32);
  MFSPool* other = make(32);
  ASSERT_NE(pool, nullptr);
  ASSERT_NE(other, nullptr);
  Addr mine = nullptr, theirs = nullptr;
  ASSERT_EQ(pool->alloc(&mine, 32), Res::ok);
  ASSERT_EQ(other->alloc(&theirs, 32), Res::ok);
  alignas(16) std::byte local[32];
  EXPECT_DEATH(pool->free(theirs, 32), mps::test::assertionReport("arena_->poolOf(p) == this"));
  EXPECT_DEATH(pool->free(local, 32), mps::test::assertionReport("arena_->poolOf(p) == this"));
}
#endif

}  // namespace
