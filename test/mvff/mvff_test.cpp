// MVFF on the core: keywords and their observable effects, accounting,
// giving memory back, commit limits and the fallback free list.
#include <cstdarg>
#include <cstring>
#include <vector>

#include "mvff_fixture.hpp"

namespace mps::test {
namespace {

constexpr Size kGrain = 4096;  // VM arenas use the page size

TEST_F(MVFFTest, DefaultsFollowTheDocumentation) {
  MVFFPool* p = pool();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->extendBy(), 65536u);
  EXPECT_EQ(p->meanSize(), 32u);
  EXPECT_EQ(p->alignment(), Size(MPS_PF_ALIGN));
  EXPECT_EQ(p->spare(), 0.75);
  EXPECT_FALSE(p->slotHigh());
  EXPECT_FALSE(p->arenaHigh());
  EXPECT_TRUE(p->firstFit());
  EXPECT_EQ(p->totalSize(), 0u);
  EXPECT_EQ(p->freeSize(), 0u);
  EXPECT_EQ(p->poolClass(), &core::kPoolClassMVFF);
  EXPECT_TRUE(p->poolClass()->has(core::kPoolAttrAlloc));
  EXPECT_TRUE(p->poolClass()->has(core::kPoolAttrFree));
  EXPECT_FALSE(p->poolClass()->has(core::kPoolAttrBuffer));
  EXPECT_TRUE(p->check());
}

TEST_F(MVFFTest, KeywordsAreRead) {
  MVFFPool* p = pool(Args()
                         .size(MPS_KEY_EXTEND_BY, 10000)
                         .size(MPS_KEY_MEAN_SIZE, 100)
                         .align(MPS_KEY_ALIGN, 64)
                         .real(MPS_KEY_SPARE, 0.25)
                         .boolean(MPS_KEY_MVFF_SLOT_HIGH, true)
                         .boolean(MPS_KEY_MVFF_ARENA_HIGH, true)
                         .boolean(MPS_KEY_MVFF_FIRST_FIT, false));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->extendBy(), 12288u);  // rounded up to grains
  EXPECT_EQ(p->meanSize(), 100u);
  EXPECT_EQ(p->alignment(), 64u);
  EXPECT_EQ(p->spare(), 0.25);
  EXPECT_TRUE(p->slotHigh());
  EXPECT_TRUE(p->arenaHigh());
  EXPECT_FALSE(p->firstFit());
}

void convertVarargs(mps_arg_s* args, ...) {
  va_list ap;
  va_start(ap, args);
  core::kPoolClassMVFF.varargs(args, ap);
  va_end(ap);
}

TEST_F(MVFFTest, DeprecatedVarargsOrder) {
  mps_arg_s args[core::kPoolVarargsMax];
  // extend_by, mean_size, align, slot_high, arena_high, first_fit; the
  // booleans as clients pass them, (mps_bool_t) promoted to int.
  convertVarargs(args, size_t(8192), size_t(48), size_t(16), (mps_bool_t)1, (mps_bool_t)0,
                 (mps_bool_t)0);
  EXPECT_EQ(args[6].key, MPS_KEY_ARGS_END);
  MVFFPool* p = makeMVFF(arena(), args);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->extendBy(), 8192u);
  EXPECT_EQ(p->meanSize(), 48u);
  EXPECT_EQ(p->alignment(), 16u);
  EXPECT_TRUE(p->slotHigh());
  EXPECT_FALSE(p->arenaHigh());
  EXPECT_FALSE(p->firstFit());
  p->destroy();
}

TEST_F(MVFFTest, ExtendBySetsTheIncrement) {
  MVFFPool* p = pool(Args().size(MPS_KEY_EXTEND_BY, 3 * kGrain));
  Addr a;
  ASSERT_EQ(p->alloc(&a, 100), Res::ok);
  EXPECT_EQ(p->totalSize(), 3 * kGrain);
  EXPECT_EQ(p->freeSize(), 3 * kGrain - 104);
  // A block larger than the increment gets an extent of its own size.
  Addr big;
  ASSERT_EQ(p->alloc(&big, 10 * kGrain + 1), Res::ok);
  EXPECT_EQ(p->totalSize(), 3 * kGrain + 11 * kGrain);
  EXPECT_EQ(p->freeSize(), 3 * kGrain - 104 + kGrain - 8);
  p->free(big, 10 * kGrain + 1);
  p->free(a, 100);
  EXPECT_TRUE(p->checkFreeSpace());
}

// FIRST_FIT picks the end of the free range found: the high end (default)
// or the low end.
TEST_F(MVFFTest, FirstFitTakesTheHighEndOfTheRange) {
  MVFFPool* p = pool();
  Addr a, b;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  EXPECT_TRUE(core::isAligned(a + 64, kGrain)) << "at the top of a fresh extent";
  EXPECT_EQ(b, a - 64);
}

TEST_F(MVFFTest, FirstFitFalseTakesTheLowEndOfTheRange) {
  MVFFPool* p = pool(Args().boolean(MPS_KEY_MVFF_FIRST_FIT, false));
  Addr a, b;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  EXPECT_TRUE(core::isAligned(a, kGrain)) << "at the base of a fresh extent";
  EXPECT_EQ(b, a + 64);
}

// SLOT_HIGH picks which free range: the lowest that fits or the highest.
// One extent filled exactly with 64 blocks, then two holes.
class SlotTest : public MVFFTest, public ::testing::WithParamInterface<std::tuple<bool, bool>> {};

TEST_P(SlotTest, SlotHighChoosesTheHighestRangeAndFirstFitTheEnd) {
  auto [slotHigh, firstFit] = GetParam();
  MVFFPool* p = pool(Args()
                         .size(MPS_KEY_EXTEND_BY, kGrain)
                         .boolean(MPS_KEY_MVFF_SLOT_HIGH, slotHigh)
                         .boolean(MPS_KEY_MVFF_FIRST_FIT, firstFit));
  std::vector<Addr> blocks(kGrain / 64);
  for (Addr& b : blocks)
    ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  ASSERT_EQ(p->totalSize(), kGrain);
  ASSERT_EQ(p->freeSize(), 0u);
  Addr lowest = blocks[0], highest = blocks[0];
  for (Addr b : blocks)
    lowest = b < lowest ? b : lowest, highest = b > highest ? b : highest;
  ASSERT_EQ(highest, lowest + kGrain - 64);
  // Holes of two blocks at 10..11 and 40..41 (by address).
  for (Size i : {10, 11, 40, 41})
    p->free(lowest + i * 64, 64);
  Addr got;
  ASSERT_EQ(p->alloc(&got, 64), Res::ok);
  Size hole = slotHigh ? 40 : 10;
  Size expected = firstFit ? hole + 1 : hole;
  EXPECT_EQ(got, lowest + expected * 64);
  EXPECT_EQ(p->totalSize(), kGrain);
}

INSTANTIATE_TEST_SUITE_P(MVFFTest, SlotTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool()));

TEST_F(MVFFTest, ArenaHighTakesMemoryFromTheTop) {
  MVFFPool* low = pool();
  MVFFPool* high = pool(Args().boolean(MPS_KEY_MVFF_ARENA_HIGH, true));
  Addr a, b;
  ASSERT_EQ(low->alloc(&a, 64), Res::ok);
  ASSERT_EQ(high->alloc(&b, 64), Res::ok);
  EXPECT_GT(b, a);
  // The high pool's extent is at the very top of the (single) chunk: the
  // next grain is not the arena's.
  Addr top = core::alignUp(b, kGrain);
  EXPECT_EQ(arena()->poolOf(top - 1), high);
  EXPECT_EQ(arena()->chunkOf(top - 1), arena()->chunkOf(a));
  EXPECT_NE(arena()->chunkOf(top), arena()->chunkOf(a));
}

TEST_F(MVFFTest, AlignmentIsHonouredAndSizesRounded) {
  for (Size align : {Size(8), Size(16), Size(64), Size(512), kGrain}) {
    MVFFPool* p = pool(Args().align(MPS_KEY_ALIGN, align));
    Size allocated = 0;
    std::vector<std::pair<Addr, Size>> blocks;
    for (Size size : {1, 7, 8, 9, 100, 1000, 5000}) {
      Addr a;
      ASSERT_EQ(p->alloc(&a, size), Res::ok);
      EXPECT_TRUE(core::isAligned(a, align)) << "align " << align << " size " << size;
      allocated += core::alignUp(size, align);
      blocks.emplace_back(a, size);
      EXPECT_EQ(p->freeSize() + allocated, p->totalSize());
    }
    for (auto [a, size] : blocks)
      p->free(a, size);
    EXPECT_TRUE(p->checkFreeSpace());
    destroy(p);
  }
}

TEST_F(MVFFTest, FreeAndTotalSizeAreExact) {
  MVFFPool* p = pool(Args().real(MPS_KEY_SPARE, 1.0));
  std::vector<std::pair<Addr, Size>> blocks;
  Size allocated = 0;
  for (Size i = 1; i <= 500; ++i) {
    Addr a;
    Size size = (i * 37) % 700 + 1;
    ASSERT_EQ(p->alloc(&a, size), Res::ok);
    blocks.emplace_back(a, size);
    allocated += core::alignUp(size, MPS_PF_ALIGN);
    ASSERT_EQ(p->freeSize() + allocated, p->totalSize());
  }
  Size total = p->totalSize();
  for (Size i = 0; i < blocks.size(); i += 2) {
    p->free(blocks[i].first, blocks[i].second);
    allocated -= core::alignUp(blocks[i].second, MPS_PF_ALIGN);
    ASSERT_EQ(p->freeSize() + allocated, p->totalSize());
  }
  EXPECT_EQ(p->totalSize(), total) << "SPARE 1.0 keeps everything";
  EXPECT_TRUE(p->checkFreeSpace());
}

// With SPARE 0.0 the pool keeps no free grains; with an arena spare of 0.0
// as well they are decommitted at once.
TEST_F(MVFFTest, SpareZeroGivesMemoryBackToTheArena) {
  makeArena(Args().size(MPS_KEY_ARENA_SIZE, Size(64) << 20).real(MPS_KEY_SPARE, 0.0));
  MVFFPool* p = pool(Args().real(MPS_KEY_SPARE, 0.0));
  // Warm up the node store so that its slab is not counted below.
  Addr w;
  ASSERT_EQ(p->alloc(&w, 64), Res::ok);
  p->free(w, 64);
  EXPECT_EQ(p->totalSize(), 0u);
  Size before = arena()->committed();
  std::vector<Addr> blocks(1000);
  for (Addr& b : blocks)
    ASSERT_EQ(p->alloc(&b, 1000), Res::ok);
  Size peak = arena()->committed();
  EXPECT_GE(peak, before + 1000 * 1000);
  for (Addr b : blocks)
    p->free(b, 1000);
  EXPECT_EQ(p->totalSize(), 0u);
  EXPECT_EQ(p->freeSize(), 0u);
  // Only node slabs may remain.
  EXPECT_LE(arena()->committed(), before + 2 * kGrain);
  EXPECT_TRUE(p->checkFreeSpace());
}

TEST_F(MVFFTest, SpareFractionBoundsTheFreeMemoryKept) {
  const double spare = 0.5;
  MVFFPool* p = pool(Args().real(MPS_KEY_SPARE, spare));
  std::vector<Addr> blocks(64);
  for (Addr& b : blocks)
    ASSERT_EQ(p->alloc(&b, kGrain), Res::ok);
  ASSERT_EQ(p->totalSize(), 64 * kGrain);
  for (Size i = 0; i < 48; ++i) {
    p->free(blocks[i], kGrain);
    double free = double(p->freeSize()), total = double(p->totalSize());
    // Never more than the fraction, and once the pool has shrunk never much
    // less: it returns only what it must (within a grain of rounding).
    ASSERT_LE(free, spare * total);
    if (p->totalSize() < 64 * kGrain) {
      ASSERT_GE(free + kGrain, spare * total);
    }
  }
  EXPECT_LT(p->totalSize(), 64 * kGrain);
  EXPECT_GT(p->freeSize(), 0u);
  EXPECT_TRUE(p->checkFreeSpace());
}

TEST_F(MVFFTest, ImpossibleSizesFailWithResource) {
  MVFFPool* p = pool();
  Addr a;
  // MMQA argerr 34 and 153: the top bit set (plus 64).
  EXPECT_EQ(p->alloc(&a, (Size(1) << (sizeof(Size) * 8 - 1)) + 64), Res::resource);
  EXPECT_EQ(p->alloc(&a, ~Size(0)), Res::resource);
  EXPECT_EQ(p->alloc(&a, ~Size(0) - 4), Res::resource);
  EXPECT_EQ(p->alloc(&a, ~Size(0) - 2 * kGrain), Res::resource);
  EXPECT_EQ(p->totalSize(), 0u);
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  p->free(a, 64);
  EXPECT_TRUE(p->checkFreeSpace());
}

TEST_F(MVFFTest, CommitLimitFailsThenFreeingMakesRoom) {
  for (double spare : {0.75, 0.0}) {
    MVFFPool* p = pool(Args().real(MPS_KEY_SPARE, spare));
    ASSERT_EQ(arena()->setCommitLimit(arena()->committed() + (Size(1) << 20)), Res::ok);
    std::vector<Addr> blocks;
    Res res;
    for (;;) {
      Addr a;
      res = p->alloc(&a, 60000);
      if (res != Res::ok) break;
      blocks.push_back(a);
      ASSERT_LT(blocks.size(), 100u) << "the commit limit holds";
    }
    EXPECT_EQ(res, Res::commitLimit);
    EXPECT_GE(blocks.size(), 10u);
    EXPECT_TRUE(p->checkFreeSpace());
    // A big block fails the same way, not with Res::resource.
    Addr big;
    EXPECT_EQ(p->alloc(&big, Size(4) << 20), Res::commitLimit);
    p->free(blocks.back(), 60000);
    blocks.pop_back();
    Addr again;
    ASSERT_EQ(p->alloc(&again, 60000), Res::ok) << "spare " << spare;
    blocks.push_back(again);
    for (Addr b : blocks)
      p->free(b, 60000);
    EXPECT_TRUE(p->checkFreeSpace());
    destroy(p);
    ASSERT_EQ(arena()->setCommitLimit(~Size(0)), Res::ok);
  }
}

// MMQA test 136's shape: under a small commit limit, fill memory with large
// and then small blocks (SPARE 0.0), free every other small block while the
// bookkeeping cannot get nodes, then free the large blocks.
TEST_F(MVFFTest, FreeingNeverFailsWhenNodesCannotBeHad) {
  makeArena(Args().size(MPS_KEY_ARENA_SIZE, Size(64) << 20).real(MPS_KEY_SPARE, 0.0));
  MVFFPool* p = pool(Args().real(MPS_KEY_SPARE, 0.0));
  Addr w;
  ASSERT_EQ(p->alloc(&w, 64), Res::ok);
  p->free(w, 64);
  ASSERT_EQ(arena()->setCommitLimit(arena()->committed() + (Size(4) << 20)), Res::ok);

  constexpr Size kLarge = 100000, kSmall = 64;
  std::vector<Addr> large, small;
  Addr a;
  while (p->alloc(&a, kLarge) == Res::ok)
    large.push_back(a);
  Res res;
  while ((res = p->alloc(&a, kSmall)) == Res::ok)
    small.push_back(a);
  EXPECT_EQ(res, Res::commitLimit);
  ASSERT_GE(large.size(), 20u);
  ASSERT_GE(small.size(), 500u);
  RecordProperty("large", int(large.size()));
  RecordProperty("small", int(small.size()));

  Size maxFallback = 0;
  for (Size i = 0; i < small.size(); i += 2) {
    p->free(small[i], kSmall);
    maxFallback = std::max(maxFallback, p->fallbackSize());
  }
  EXPECT_GT(maxFallback, 0u) << "the bookkeeping ran out of nodes";
  EXPECT_TRUE(p->checkFreeSpace());

  // Allocation uses the fallback list too: allocating until the pool is
  // exhausted (the commit limit still holds) consumes all of it.
  std::vector<Addr> refill;
  Size fallback = p->fallbackSize();
  while (p->alloc(&a, kSmall) == Res::ok)
    refill.push_back(a);
  EXPECT_EQ(p->fallbackSize(), 0u);
  EXPECT_GE(refill.size() * kSmall, fallback);
  for (Addr b : refill)
    p->free(b, kSmall);
  EXPECT_TRUE(p->checkFreeSpace());

  for (Addr b : large) {
    p->free(b, kLarge);
    ASSERT_TRUE(p->checkFreeSpace());
  }
  EXPECT_EQ(p->fallbackSize(), 0u) << "drained once memory went back";
  // The memory went back to the arena: large blocks fit again. Not quite as
  // many: each large block returned 24 of its extent's 25 grains (the first
  // also holds small blocks), and the nodes now recording the small blocks'
  // free space took a few grains.
  std::vector<Addr> again;
  while (p->alloc(&a, kLarge) == Res::ok)
    again.push_back(a);
  EXPECT_GE(again.size(), large.size() * 9 / 10);
  for (Addr b : again)
    p->free(b, kLarge);
  for (Size i = 1; i < small.size(); i += 2)
    p->free(small[i], kSmall);
  EXPECT_EQ(p->fallbackSize(), 0u);
  EXPECT_EQ(p->freeSize(), p->totalSize());
  EXPECT_EQ(p->totalSize(), 0u);
  EXPECT_TRUE(p->checkFreeSpace());
}

TEST_F(MVFFTest, DestroyGivesEveryGrainBack) {
  makeArena(Args().size(MPS_KEY_ARENA_SIZE, Size(64) << 20).real(MPS_KEY_SPARE, 0.0));
  // The first round leaves behind what the arena keeps for itself (tract
  // table pages, control memory lists); a second round must add nothing.
  Size after[2];
  for (Size& committed : after) {
    Size before = arena()->committed();
    MVFFPool* p = makeMVFF(arena(), Args().real(MPS_KEY_SPARE, 1.0));
    ASSERT_NE(p, nullptr);
    Addr a;
    for (int i = 0; i < 3000; ++i)
      ASSERT_EQ(p->alloc(&a, 700), Res::ok);  // never freed
    EXPECT_GT(arena()->committed(), before + 2000000);
    p->destroy();
    EXPECT_EQ(arena()->poolOf(a), nullptr);
    committed = arena()->committed();
  }
  EXPECT_EQ(after[1], after[0]);
}

TEST_F(MVFFTest, ControlMemoryIsNotPoolMemory) {
  // Node slabs come from control memory, so they never pass as the pool's.
  MVFFPool* p = pool();
  Addr a;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  EXPECT_EQ(arena()->poolOf(a), p);
  EXPECT_EQ(arena()->poolOf(reinterpret_cast<Addr>(p)), nullptr);
}

}  // namespace
}  // namespace mps::test
