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
  EXPECT_TRUE(p->poolClass()->has(core::kPoolAttrBuffer));  // allocation points
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

// Placement (pools-mvff.md, poolmvff.c): FIRST_FIT chooses which free range
// (the lowest that fits, or the highest), SLOT_HIGH which end of it (the low
// end, or the high end).
TEST_F(MVFFTest, DefaultsTakeTheLowEndOfTheLowestRange) {
  MVFFPool* p = pool();
  Addr a, b;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  EXPECT_TRUE(core::isAligned(a, kGrain)) << "at the base of a fresh extent";
  EXPECT_EQ(b, a + 64);
}

TEST_F(MVFFTest, SlotHighTakesTheHighEndOfTheRange) {
  MVFFPool* p = pool(Args().boolean(MPS_KEY_MVFF_SLOT_HIGH, true));
  Addr a, b;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  EXPECT_TRUE(core::isAligned(a + 64, kGrain)) << "at the top of a fresh extent";
  EXPECT_EQ(b, a - 64);
}

// One extent filled exactly, then two holes of two blocks each; which block
// the next allocation takes. Blocks are either small (quick-listed when
// freed, so the lists are flushed into the tree before allocating) or above
// the quick-list bound (freed straight into the tree).
struct SlotCase {
  bool slotHigh;
  bool firstFit;
  bool small;
};

class SlotTest : public MVFFTest, public ::testing::WithParamInterface<SlotCase> {};

TEST_P(SlotTest, FirstFitChoosesTheRangeAndSlotHighTheEnd) {
  auto [slotHigh, firstFit, small] = GetParam();
  const Size block = small ? 64 : 2048;
  const Size extent = small ? kGrain : 16 * kGrain;
  const Size n = extent / block;
  const Size lowHole = n / 6, highHole = n * 2 / 3;
  MVFFPool* p = pool(Args()
                         .size(MPS_KEY_EXTEND_BY, extent)
                         .boolean(MPS_KEY_MVFF_SLOT_HIGH, slotHigh)
                         .boolean(MPS_KEY_MVFF_FIRST_FIT, firstFit));
  ASSERT_GT(block, small ? 0 : p->quickMaxSize());
  std::vector<Addr> blocks(n);
  for (Addr& b : blocks)
    ASSERT_EQ(p->alloc(&b, block), Res::ok);
  ASSERT_EQ(p->totalSize(), extent);
  ASSERT_EQ(p->freeSize(), 0u);
  Addr lowest = blocks[0], highest = blocks[0];
  for (Addr b : blocks)
    lowest = b < lowest ? b : lowest, highest = b > highest ? b : highest;
  ASSERT_EQ(highest, lowest + extent - block);
  for (Size i : {lowHole, lowHole + 1, highHole, highHole + 1})
    p->free(lowest + i * block, block);
  EXPECT_EQ(p->quickSize(), small ? 4 * block : 0);
  p->flushQuickLists();
  EXPECT_EQ(p->quickSize(), 0u);
  EXPECT_EQ(p->freeSize(), 4 * block);
  Addr got;
  ASSERT_EQ(p->alloc(&got, block), Res::ok);
  Size hole = firstFit ? lowHole : highHole;
  Size expected = slotHigh ? hole + 1 : hole;
  EXPECT_EQ(got, lowest + expected * block);
  // The other block of the hole next, from the same end.
  ASSERT_EQ(p->alloc(&got, block), Res::ok);
  expected = slotHigh ? hole : hole + 1;
  EXPECT_EQ(got, lowest + expected * block);
  EXPECT_EQ(p->totalSize(), extent);
  EXPECT_TRUE(p->checkFreeSpace());
}

INSTANTIATE_TEST_SUITE_P(
    MVFFTest, SlotTest,
    ::testing::Values(SlotCase{false, true, false}, SlotCase{true, true, false},
                      SlotCase{false, false, false}, SlotCase{true, false, false},
                      SlotCase{false, true, true}, SlotCase{true, true, true},
                      SlotCase{false, false, true}, SlotCase{true, false, true}),
    [](const ::testing::TestParamInfo<SlotCase>& info) {
      return std::string(info.param.firstFit ? "FirstFit" : "LastFit") +
             (info.param.slotHigh ? "SlotHigh" : "SlotLow") +
             (info.param.small ? "SmallFlushed" : "AboveQuickBound");
    });

TEST_F(MVFFTest, ArenaHighTakesMemoryFromTheTop) {
  MVFFPool* low = pool();
  // Working down from the top: the first block is at the top of the extent.
  MVFFPool* high = pool(Args()
                            .boolean(MPS_KEY_MVFF_ARENA_HIGH, true)
                            .boolean(MPS_KEY_MVFF_SLOT_HIGH, true)
                            .boolean(MPS_KEY_MVFF_FIRST_FIT, false));
  Addr a, b, c;
  ASSERT_EQ(low->alloc(&a, 64), Res::ok);
  ASSERT_EQ(high->alloc(&b, 64), Res::ok);
  ASSERT_EQ(high->alloc(&c, 64), Res::ok);
  EXPECT_GT(b, a);
  EXPECT_EQ(c, b - 64);
  // The high pool's extent is at the very top of the (single) chunk: the
  // next grain is not the arena's.
  Addr top = b + 64;
  EXPECT_TRUE(core::isAligned(top, kGrain));
  EXPECT_EQ(arena()->poolOf(top - 1), high);
  EXPECT_EQ(arena()->chunkOf(top - 1), arena()->chunkOf(a));
  EXPECT_NE(arena()->chunkOf(top), arena()->chunkOf(a));
}

// Quick lists: exact-size reuse of recently freed small blocks is LIFO.
TEST_F(MVFFTest, QuickListReuseIsLastInFirstOut) {
  MVFFPool* p = pool();
  ASSERT_EQ(p->quickMaxSize(), MVFFPool::kQuickMaxSize);
  std::vector<Addr> blocks(8);
  for (Addr& b : blocks)
    ASSERT_EQ(p->alloc(&b, 48), Res::ok);
  Size freeBefore = p->freeSize();
  p->free(blocks[2], 48);
  p->free(blocks[6], 48);
  p->free(blocks[4], 48);
  EXPECT_EQ(p->quickSize(), 3 * 48u);
  EXPECT_EQ(p->freeSize(), freeBefore + 3 * 48) << "quick-listed bytes count as free";
  EXPECT_TRUE(p->checkFreeSpace());
  Addr a;
  ASSERT_EQ(p->alloc(&a, 48), Res::ok);
  EXPECT_EQ(a, blocks[4]);
  // Another size does not take from this list.
  ASSERT_EQ(p->alloc(&a, 40), Res::ok);
  EXPECT_EQ(a, blocks[7] + 48);
  ASSERT_EQ(p->alloc(&a, 48), Res::ok);
  EXPECT_EQ(a, blocks[6]);
  ASSERT_EQ(p->alloc(&a, 41), Res::ok) << "41 rounds to 48";
  EXPECT_EQ(a, blocks[2]);
  EXPECT_EQ(p->quickSize(), 0u);
  EXPECT_EQ(p->freeSize(), freeBefore - 40);
}

// Above the bound, blocks are freed into the tree at once and placed by
// first fit.
TEST_F(MVFFTest, BlocksAboveTheQuickBoundAreNotQuickListed) {
  MVFFPool* p = pool();
  const Size big = MVFFPool::kQuickMaxSize + 8;
  Addr a, b, c;
  ASSERT_EQ(p->alloc(&a, big), Res::ok);
  ASSERT_EQ(p->alloc(&b, big), Res::ok);
  p->free(a, big);
  EXPECT_EQ(p->quickSize(), 0u);
  ASSERT_EQ(p->alloc(&c, 8), Res::ok);
  EXPECT_EQ(c, a) << "the lowest free range, from its low end";
  // Sizes up to the bound are.
  ASSERT_EQ(p->alloc(&a, MVFFPool::kQuickMaxSize), Res::ok);
  p->free(a, MVFFPool::kQuickMaxSize);
  EXPECT_EQ(p->quickSize(), MVFFPool::kQuickMaxSize);
  // An alignment above the bound leaves no quick lists.
  MVFFPool* wide = pool(Args().align(MPS_KEY_ALIGN, 2 * MVFFPool::kQuickMaxSize));
  EXPECT_EQ(wide->quickMaxSize(), 0u);
  ASSERT_EQ(wide->alloc(&a, 8), Res::ok);
  wide->free(a, 8);
  EXPECT_EQ(wide->quickSize(), 0u);
}

// The lists are bounded: kQuickDepth blocks per size and the byte budget in
// all; further frees go to the tree.
TEST_F(MVFFTest, QuickListsAreBounded) {
  MVFFPool* p = pool(Args().real(MPS_KEY_SPARE, 1.0));
  EXPECT_GE(p->quickBudget(), Size(64) << 10);
  std::vector<Addr> blocks(3 * MVFFPool::kQuickDepth);
  for (Addr& b : blocks)
    ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  for (Addr b : blocks)
    p->free(b, 64);
  EXPECT_EQ(p->quickSize(), MVFFPool::kQuickDepth * 64);
  EXPECT_EQ(p->freeSize(), p->totalSize());
  EXPECT_TRUE(p->checkFreeSpace());
  // Every size to the bound, many times over: the budget holds.
  std::vector<std::pair<Addr, Size>> more;
  for (Size round = 0; round < MVFFPool::kQuickDepth; ++round) {
    for (Size size = 8; size <= MVFFPool::kQuickMaxSize; size += 8) {
      Addr a;
      ASSERT_EQ(p->alloc(&a, size), Res::ok);
      more.emplace_back(a, size);
    }
  }
  for (auto [a, size] : more) {
    p->free(a, size);
    ASSERT_LE(p->quickSize(), p->quickBudget());
  }
  EXPECT_GT(p->quickSize(), p->quickBudget() - MVFFPool::kQuickMaxSize);
  EXPECT_EQ(p->freeSize(), p->totalSize());
  EXPECT_TRUE(p->checkFreeSpace());
  p->flushQuickLists();
  EXPECT_EQ(p->quickSize(), 0u);
  EXPECT_EQ(p->freeSize(), p->totalSize());
  EXPECT_TRUE(p->checkFreeSpace());
}

// When the tree cannot satisfy a request, the lists are flushed and the
// coalesced space used before the pool asks the arena for more. For a request
// above the quick-list bound, all of them.
TEST_F(MVFFTest, QuickListsAreFlushedBeforeExtending) {
  MVFFPool* p = pool(Args().size(MPS_KEY_EXTEND_BY, kGrain));
  std::vector<Addr> blocks(kGrain / 64);
  for (Addr& b : blocks)
    ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  ASSERT_EQ(p->totalSize(), kGrain);
  ASSERT_EQ(p->freeSize(), 0u);
  // 16 blocks of each of two sizes on the lists.
  for (Size i = 8; i < 24; ++i)
    p->free(blocks[i], 64);
  for (Size i = 24; i < 40; i += 2)
    p->free(blocks[i], 128);
  EXPECT_EQ(p->quickSize(), 32 * 64u);
  const Size big = 2 * MVFFPool::kQuickMaxSize;
  ASSERT_EQ(big, 32 * 64u);
  Addr a;
  ASSERT_EQ(p->alloc(&a, big), Res::ok);
  EXPECT_EQ(a, blocks[8]) << "the blocks, coalesced";
  EXPECT_EQ(p->totalSize(), kGrain) << "no new memory";
  EXPECT_EQ(p->quickSize(), 0u);
  EXPECT_EQ(p->freeSize(), 0u);
  EXPECT_TRUE(p->checkFreeSpace());
}

// For a request within the bound, the lists keep their newest kQuickKeep
// blocks of each size (the memory held back across an extension, at most the
// budget); the older ones are flushed.
TEST_F(MVFFTest, SmallRequestsKeepTheNewestQuickListedBlocks) {
  MVFFPool* p = pool(Args().size(MPS_KEY_EXTEND_BY, kGrain));
  std::vector<Addr> blocks(kGrain / 64);
  for (Addr& b : blocks)
    ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  const Size n = 2 * MVFFPool::kQuickKeep;
  ASSERT_LE(n, MVFFPool::kQuickDepth);
  for (Size i = 8; i < 8 + n; ++i)
    p->free(blocks[i], 64);
  EXPECT_EQ(p->quickSize(), n * 64);
  // The oldest kQuickKeep blocks coalesce into exactly the space asked for.
  Addr a;
  ASSERT_EQ(p->alloc(&a, MVFFPool::kQuickKeep * 64), Res::ok);
  EXPECT_EQ(a, blocks[8]);
  EXPECT_EQ(p->totalSize(), kGrain);
  EXPECT_EQ(p->quickSize(), MVFFPool::kQuickKeep * 64);
  EXPECT_TRUE(p->checkFreeSpace());
  // Nothing else fits: the pool extends and the newest blocks stay listed.
  Addr b;
  ASSERT_EQ(p->alloc(&b, MVFFPool::kQuickKeep * 64), Res::ok);
  EXPECT_EQ(p->totalSize(), 2 * kGrain);
  EXPECT_EQ(p->quickSize(), MVFFPool::kQuickKeep * 64);
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  EXPECT_EQ(a, blocks[8 + n - 1]) << "the last freed";
  p->free(a, 64);
  p->free(b, MVFFPool::kQuickKeep * 64);
  // When the arena can give no more, the kept blocks are flushed too.
  ASSERT_EQ(arena()->setCommitLimit(arena()->committed()), Res::ok);
  std::vector<Addr> more;
  while (p->alloc(&a, MVFFPool::kQuickKeep * 64) == Res::ok)
    more.push_back(a);
  EXPECT_EQ(p->quickSize(), 0u);
  EXPECT_EQ(p->freeSize(), 0u) << "everything used";
  EXPECT_TRUE(p->checkFreeSpace());
  ASSERT_EQ(arena()->setCommitLimit(~Size(0)), Res::ok);
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

// SPARE bounds the free memory kept: when the free fraction passes it, the
// pool gives back whole grains in runs of at least minReturn() until the
// fraction is down to SPARE/2 (hysteresis). Freeing in address order keeps
// the free space in long runs.
TEST_F(MVFFTest, SpareFractionBoundsTheFreeMemoryKept) {
  const double spare = 0.5;
  MVFFPool* p = pool(Args().real(MPS_KEY_SPARE, spare));
  EXPECT_EQ(p->minReturn(), p->extendBy());
  std::vector<Addr> blocks(64);
  for (Addr& b : blocks)
    ASSERT_EQ(p->alloc(&b, kGrain), Res::ok);
  ASSERT_EQ(p->totalSize(), 64 * kGrain);
  Size shrinks = 0;
  for (Size i = 0; i < 56; ++i) {
    Size totalBefore = p->totalSize();
    p->free(blocks[i], kGrain);
    double free = double(p->freeSize()), total = double(p->totalSize());
    ASSERT_LE(free, spare * total + double(p->minReturn()));
    if (p->totalSize() < totalBefore) {
      ++shrinks;
      // A whole run of at least minReturn, and enough of them to bring the
      // free fraction well below SPARE.
      ASSERT_GE(totalBefore - p->totalSize(), p->minReturn());
      ASSERT_LE(free, spare / 2 * total + double(kGrain));
    }
  }
  EXPECT_LT(p->totalSize(), 64 * kGrain);
  EXPECT_GE(shrinks, 1u);
  EXPECT_LE(shrinks, 3u);
  EXPECT_TRUE(p->checkFreeSpace());
}

// Alternating allocation and freeing across the threshold gives memory back
// at most once, not on every crossing.
TEST_F(MVFFTest, AlternatingNearTheThresholdDoesNotChurn) {
  for (Size block : {Size(64), Size(kGrain), Size(4 * kGrain)}) {
    MVFFPool* p = pool(Args().real(MPS_KEY_SPARE, 0.5));
    std::vector<Addr> blocks;
    Addr a;
    while (p->totalSize() < 32 * p->extendBy()) {
      ASSERT_EQ(p->alloc(&a, block), Res::ok);
      blocks.push_back(a);
    }
    // Free from the top down until just under the threshold.
    while (double(p->freeSize() + block) <= 0.5 * double(p->totalSize())) {
      p->free(blocks.back(), block);
      blocks.pop_back();
    }
    Size changes = 0, total = p->totalSize();
    for (int i = 0; i < 1000; ++i) {
      p->free(blocks.back(), block);  // over the threshold
      blocks.pop_back();
      ASSERT_EQ(p->alloc(&a, block), Res::ok);
      blocks.push_back(a);
      if (p->totalSize() != total) ++changes, total = p->totalSize();
    }
    EXPECT_LE(changes, 2u) << "block " << block;
    EXPECT_TRUE(p->checkFreeSpace());
    destroy(p);
  }
}

// SPARE 0.0: every whole free grain goes back at once, even while other
// blocks live.
TEST_F(MVFFTest, SpareZeroGivesBackWholeGrainsAtOnce) {
  MVFFPool* p = pool(Args().real(MPS_KEY_SPARE, 0.0).size(MPS_KEY_EXTEND_BY, 16 * kGrain));
  EXPECT_EQ(p->minReturn(), kGrain);
  Addr a, b, c;
  ASSERT_EQ(p->alloc(&a, 3 * kGrain), Res::ok);
  ASSERT_EQ(p->alloc(&b, 3 * kGrain), Res::ok);
  ASSERT_EQ(p->alloc(&c, 64), Res::ok);
  Size total = p->totalSize();
  p->free(b, 3 * kGrain);
  // b's grains and the unused grains of the extent.
  EXPECT_LE(p->totalSize(), total - 3 * kGrain);
  EXPECT_LT(p->freeSize(), kGrain);
  // Small blocks are not held on quick lists.
  p->free(c, 64);
  EXPECT_EQ(p->quickSize(), 0u);
  EXPECT_LT(p->freeSize(), kGrain);
  p->free(a, 3 * kGrain);
  EXPECT_EQ(p->totalSize(), 0u);
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
