// Unit tests of the cache's client-visible layout (sac.md): the binary
// contract the inline macros of mps.h rely on.

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "sac_fixture.hpp"

namespace mps::test {
namespace {

// The class sac.md assigns to a request: the smallest whose block size is at
// least `size` (so the smallest for 0), or the overlarge class (== count)
// above the largest.
Size expectedClass(const std::vector<mps_sac_class_s>& classes, Size size) {
  for (Size c = 0; c < classes.size(); ++c)
    if (classes[c].mps_block_size >= size) return c;
  return classes.size();
}

// The entry the header's own search macro picks for a size not known at
// compile time (not inlined, so that a constant argument stays unknown): the
// class table, or the search for sizes beyond it.
[[gnu::noinline]] Size macroFind(mps_sac_t sac, Size size) {
  Size i;
  _mps_SAC_FIND(sac, size, i, size);
  return i;
}

// The same for a size known at compile time, which always searches.
template <Size kSize>
Size macroFindConstant(mps_sac_t sac) {
  Size i;
  _mps_SAC_FIND(sac, kSize, i, kSize);
  return i;
}

std::vector<mps_sac_class_s> classesOf(std::initializer_list<Size> sizes,
                                       std::initializer_list<unsigned> frequencies) {
  std::vector<mps_sac_class_s> classes;
  auto f = frequencies.begin();
  Size count = 4;
  for (Size size : sizes)
    classes.push_back({size, count++, f != frequencies.end() ? *f++ : 1});
  return classes;
}

using SacLayout = SacTest;

// The handle is the start of the public struct, which comes first.
static_assert(offsetof(_mps_sac_s, _middle) == 0);
static_assert(sizeof(_mps_sac_freelist_block_s) == 4 * sizeof(void*));

TEST_F(SacLayout, MiddleClassIsWhereHalfTheFrequencyIsReached) {
  auto classes = classesOf({16, 32, 48, 64, 128}, {1, 1, 10, 1, 1});
  SegregatedCache* cache = makeCache(grainPool(), classes);
  mps_sac_t sac = cache->external();
  const auto* lists = SegregatedCache::entriesOf(sac);

  // Running totals 1, 2, 12 of 14: class 2 (48 bytes) is the middle.
  EXPECT_EQ(cache->middleClass(), 2u);
  EXPECT_EQ(sac->_middle, 48u);
  EXPECT_EQ(sac->_trapped, 0);
  // Even entries: the classes above the middle ascending, then the sentinel.
  EXPECT_EQ(lists[0]._size, 64u);
  EXPECT_EQ(lists[0]._count_max, classes[3].mps_cached_count);
  EXPECT_EQ(lists[2]._size, 128u);
  EXPECT_EQ(lists[2]._count_max, classes[4].mps_cached_count);
  EXPECT_EQ(lists[4]._size, SIZE_MAX);
  EXPECT_EQ(lists[4]._count, 0u);
  EXPECT_EQ(lists[4]._count_max, 0u);
  // Odd entries: the middle and below descending, each with the next smaller
  // class's size, 0 for the smallest.
  EXPECT_EQ(lists[1]._size, 32u);
  EXPECT_EQ(lists[1]._count_max, classes[2].mps_cached_count);
  EXPECT_EQ(lists[3]._size, 16u);
  EXPECT_EQ(lists[3]._count_max, classes[1].mps_cached_count);
  EXPECT_EQ(lists[5]._size, 0u);
  EXPECT_EQ(lists[5]._count_max, classes[0].mps_cached_count);
  // Never fewer entries than the declared array, which code compiled with an
  // earlier mps.h reads whole.
  EXPECT_EQ(cache->entries(), 2 * MPS_SAC_CLASS_LIMIT);
  for (Size i = 0; i < 6; ++i) {
    EXPECT_EQ(lists[i]._count, 0u);
    if (i != 4) {
      EXPECT_EQ(lists[i]._blocks, nullptr);
    }
  }
  // Past the last class, each side keeps its order: overlarge even, 0 odd.
  for (Size i = 6; i < cache->entries(); ++i) {
    EXPECT_EQ(lists[i]._size, i % 2 == 0 ? SIZE_MAX : 0u) << "entry " << i;
    EXPECT_EQ(lists[i]._count_max, 0u) << "entry " << i;
  }
  EXPECT_TRUE(cache->check());
}

TEST_F(SacLayout, NoFrequenciesMeansEqualOnes) {
  auto classes = classesOf({16, 32, 48, 64}, {0, 0, 0, 0});
  SegregatedCache* cache = makeCache(grainPool(), classes);
  EXPECT_EQ(cache->middleClass(), 1u);
  EXPECT_EQ(cache->external()->_middle, 32u);
}

TEST_F(SacLayout, FrequencyOnSmallestLeavesOnlyItBelowTheMiddle) {
  auto classes = classesOf({16, 32, 48, 64}, {100, 1, 1, 1});
  SegregatedCache* cache = makeCache(grainPool(), classes);
  const auto* lists = SegregatedCache::entriesOf(cache->external());
  EXPECT_EQ(cache->middleClass(), 0u);
  EXPECT_EQ(lists[1]._size, 0u);
  EXPECT_EQ(lists[0]._size, 32u);
  EXPECT_EQ(lists[2]._size, 48u);
  EXPECT_EQ(lists[4]._size, 64u);
  EXPECT_EQ(lists[6]._size, SIZE_MAX);
  EXPECT_EQ(cache->entries(), 2 * MPS_SAC_CLASS_LIMIT);
  EXPECT_TRUE(cache->check());
}

TEST_F(SacLayout, FrequencyOnLargestPutsTheSentinelFirst) {
  auto classes = classesOf({16, 32, 48, 64}, {1, 1, 1, 100});
  SegregatedCache* cache = makeCache(grainPool(), classes);
  const auto* lists = SegregatedCache::entriesOf(cache->external());
  EXPECT_EQ(cache->middleClass(), 3u);
  EXPECT_EQ(lists[0]._size, SIZE_MAX);
  EXPECT_EQ(lists[1]._size, 48u);
  EXPECT_EQ(lists[3]._size, 32u);
  EXPECT_EQ(lists[5]._size, 16u);
  EXPECT_EQ(lists[7]._size, 0u);
  EXPECT_EQ(cache->entries(), 2 * MPS_SAC_CLASS_LIMIT);
  EXPECT_TRUE(cache->check());
}

TEST_F(SacLayout, SingleClass) {
  SegregatedCache* cache = makeCache(grainPool(), {{64, 10, 1}});
  const auto* lists = SegregatedCache::entriesOf(cache->external());
  EXPECT_EQ(cache->external()->_middle, 64u);
  EXPECT_EQ(lists[0]._size, SIZE_MAX);
  EXPECT_EQ(lists[1]._size, 0u);
  EXPECT_EQ(lists[1]._count_max, 10u);
  EXPECT_EQ(cache->entries(), 2 * MPS_SAC_CLASS_LIMIT);
  EXPECT_EQ(macroFind(cache->external(), 0), 1u);
  EXPECT_EQ(macroFind(cache->external(), 1), 1u);
  EXPECT_EQ(macroFind(cache->external(), 64), 1u);
  EXPECT_EQ(macroFind(cache->external(), 65), 0u);
}

TEST_F(SacLayout, HandleLeadsBackToTheCache) {
  SegregatedCache* cache = makeCache(grainPool(), classesOf({16, 32, 64}, {1, 2, 3}));
  EXPECT_EQ(SegregatedCache::ofExternal(cache->external()), cache);
  // The class table comes just before the handle, the private part after.
  EXPECT_EQ(reinterpret_cast<std::byte*>(SegregatedCache::lookupOf(cache->external())) +
                sizeof(_mps_sac_lookup_s),
            reinterpret_cast<std::byte*>(cache->external()));
  EXPECT_GT(reinterpret_cast<std::byte*>(cache), reinterpret_cast<std::byte*>(cache->external()));
}

TEST_F(SacLayout, MoreClassesThanTheDeclaredArrayHolds) {
  std::vector<mps_sac_class_s> classes;
  for (Size c = 0; c < 40; ++c)
    classes.push_back({16 * (c + 1), c, unsigned(c % 3)});
  SegregatedCache* cache = makeCache(grainPool(), classes);
  EXPECT_GT(cache->entries(), 2 * MPS_SAC_CLASS_LIMIT);
  EXPECT_TRUE(cache->check());
  EXPECT_EQ(SegregatedCache::ofExternal(cache->external()), cache);
  for (Size size = 0; size <= 16 * 41; ++size) {
    Size i = macroFind(cache->external(), size);
    ASSERT_EQ(cache->classOfEntry(i), expectedClass(classes, size)) << "size " << size;
  }
}

TEST_F(SacLayout, TooManyClassesIsALimit) {
  std::vector<mps_sac_class_s> classes;
  for (Size c = 0; c < SegregatedCache::kClassesMax + 1; ++c)
    classes.push_back({16 * (c + 1), 1, 1});
  SegregatedCache* cache = nullptr;
  EXPECT_EQ(SegregatedCache::create(&cache, grainPool(), classes.size(), classes.data()),
            Res::limit);
  EXPECT_EQ(pools_[0]->attachedCaches(), 0u);
  classes.pop_back();
  makeCache(pools_[0], classes);
}

// For random class layouts, the header's search macro, the core's find() and
// the sac.md rule agree on every request size, including overlarge ones.
TEST_F(SacLayout, MacroSearchFindsTheSmallestClassThatFits) {
  Rng rng(testSeed(0x5AC1));
  GrainPool* pool = grainPool(8);
  for (int round = 0; round < 200; ++round) {
    Size count = rng.between(1, 20);
    std::vector<mps_sac_class_s> classes;
    Size size = 0;
    for (Size c = 0; c < count; ++c) {
      size = size == 0 ? 8 * rng.between(1, 4) : size + 8 * rng.between(1, 6);
      classes.push_back({size, rng.below(5), unsigned(rng.below(4) == 0 ? 0 : rng.below(50))});
    }
    SegregatedCache* cache = makeCache(pool, classes);
    ASSERT_NE(cache, nullptr);
    mps_sac_t sac = cache->external();
    for (Size request = 0; request <= size + 40; ++request) {
      Size i = macroFind(sac, request);
      ASSERT_EQ(i, SegregatedCache::find(sac, request));
      ASSERT_LT(i, cache->entries());
      ASSERT_EQ(cache->classOfEntry(i), expectedClass(classes, request))
          << "round " << round << " request " << request;
    }
    ASSERT_EQ(cache->classOfEntry(macroFind(sac, SIZE_MAX)), count);
    destroyCache(cache);
  }
}

// Code compiled with an earlier mps.h counted over the first
// 2 * MPS_SAC_CLASS_LIMIT entries of every cache, so for every class count up
// to the maximum and every middle class: the cache has at least that many
// entries, unused ones continue each side's order (even SIZE_MAX, odd 0), and
// the macro and the core find the right class for every request size.
TEST_F(SacLayout, EntriesAndSearchForEveryCountAndMiddle) {
  GrainPool* pool = grainPool(8);
  for (Size count = 1; count <= SegregatedCache::kClassesMax; ++count) {
    for (Size middle = 0; middle < count; ++middle) {
      std::vector<mps_sac_class_s> classes;
      for (Size c = 0; c < count; ++c)
        classes.push_back({8 * (c + 1), 2, c == middle ? 1u : 0u});
      SegregatedCache* cache = makeCache(pool, classes);
      ASSERT_NE(cache, nullptr);
      ASSERT_EQ(cache->middleClass(), middle);
      ASSERT_GE(cache->entries(), 2 * MPS_SAC_CLASS_LIMIT);
      mps_sac_t sac = cache->external();
      const auto* lists = SegregatedCache::entriesOf(sac);
      for (Size i = 0; i < cache->entries(); ++i) {
        if (cache->classOfEntry(i) != count) continue;
        ASSERT_EQ(lists[i]._size, i % 2 == 0 ? SIZE_MAX : 0u)
            << "count " << count << " middle " << middle << " entry " << i;
      }
      for (Size request : {Size(1), Size(8 * count), Size(8 * count + 1), Size(SIZE_MAX)}) {
        Size i = macroFind(sac, request);
        ASSERT_EQ(i, SegregatedCache::find(sac, request));
        ASSERT_LT(i, cache->entries());
        ASSERT_EQ(cache->classOfEntry(i), expectedClass(classes, request));
      }
      for (Size request = 0; request <= 8 * count + 9; ++request) {
        Size i = macroFind(sac, request);
        ASSERT_EQ(i, SegregatedCache::find(sac, request));
        ASSERT_LT(i, cache->entries());
        ASSERT_EQ(cache->classOfEntry(i), expectedClass(classes, request))
            << "count " << count << " middle " << middle << " request " << request;
      }
      destroyCache(cache);
    }
  }
}

// The class table (mps.h, _mps_sac_lookup_s): its slot is the largest power
// of two dividing every block size, and it reaches the largest class or 256
// slots, whichever is less.
TEST_F(SacLayout, ClassTableSlotAndReach) {
  const struct {
    std::vector<Size> sizes;
    Size shift, limit;
  } cases[] = {
      {{16, 32, 64, 128, 256, 512}, 4, 512},
      {{8, 24, 40}, 3, 40},
      {{32, 96, 160}, 5, 160},
      {{64}, 6, 64},
      {{16, 4096, 65536}, 4, 4096},            // beyond 256 slots of 16 bytes
      {{1024, 2048, 1 << 20}, 10, 256 << 10},  // 256 slots of 1 KiB
  };
  for (const auto& c : cases) {
    std::vector<mps_sac_class_s> classes;
    for (Size size : c.sizes)
      classes.push_back({size, 4, 1});
    SegregatedCache* cache = makeCache(grainPool(8), classes);
    EXPECT_EQ(cache->lookupShift(), c.shift) << "largest " << c.sizes.back();
    EXPECT_EQ(cache->lookupLimit(), c.limit) << "largest " << c.sizes.back();
    EXPECT_TRUE(cache->check());
    destroyCache(cache);
  }
}

// Every request size from 0 to one past the largest class, through the
// header's macro and the core's find(), lands in the smallest class that
// fits (the smallest for 0), and anything above the largest class in the
// overlarge sentinel; whether the size is in the class table or beyond it.
TEST_F(SacLayout, EverySizeFindsTheSmallestClassThatFits) {
  const std::vector<std::vector<Size>> layouts = {
      {16, 32, 64, 128, 256, 512},
      {8, 24, 40, 48, 120},
      {32, 96, 160},
      {64},
      {16, 4096, 65536},
      {8,   16,  24,  32,  40,  48,  56,  64,  72,  80,  88,  96,  104,
       112, 120, 128, 136, 144, 152, 160, 168, 176, 184, 192, 200, 208,
       216, 224, 232, 240, 248, 256, 264, 272, 280, 288, 296},
      {1024, 2048, Size(1) << 20},
  };
  GrainPool* pool = grainPool(8);
  for (const auto& sizes : layouts) {
    // Each layout with its middle at every class: the table must not depend on it.
    for (Size middle = 0; middle < sizes.size(); ++middle) {
      std::vector<mps_sac_class_s> classes;
      for (Size c = 0; c < sizes.size(); ++c)
        classes.push_back({sizes[c], 4, c == middle ? 1u : 0u});
      SegregatedCache* cache = makeCache(pool, classes);
      ASSERT_EQ(cache->middleClass(), middle);
      mps_sac_t sac = cache->external();
      Size largest = sizes.back();
      auto expectFound = [&](Size request) {
        Size i = macroFind(sac, request);
        ASSERT_EQ(i, SegregatedCache::find(sac, request)) << "request " << request;
        ASSERT_EQ(i, SegregatedCache::search(sac, request)) << "request " << request;
        ASSERT_LT(i, cache->entries());
        ASSERT_EQ(cache->classOfEntry(i), expectedClass(classes, request))
            << "largest " << largest << " middle " << middle << " request " << request;
      };
      Size exhaustive = largest <= 65536 ? largest + 1 : cache->lookupLimit() + 4096;
      for (Size request = 0; request <= exhaustive && !HasFatalFailure(); ++request)
        expectFound(request);
      // Around every class boundary, and far above the largest.
      for (Size size : sizes)
        for (Size request : {size - 1, size, size + 1})
          expectFound(request);
      for (Size request : {largest + 1, 2 * largest, SIZE_MAX / 2, SIZE_MAX - 1, SIZE_MAX})
        expectFound(request);
      destroyCache(cache);
    }
  }
}

// Sizes known at compile time take MPS's search, not the table; it finds
// the same classes, 0 included.
TEST_F(SacLayout, ConstantSizesFindTheSameClasses) {
  std::vector<mps_sac_class_s> classes =
      classesOf({16, 32, 64, 128, 256, 512}, {9, 16, 32, 64, 128, 256});
  SegregatedCache* cache = makeCache(grainPool(), classes);
  mps_sac_t sac = cache->external();
  auto expectClass = [&](Size i, Size request) {
    EXPECT_EQ(i, macroFind(sac, request)) << "request " << request;
    EXPECT_EQ(cache->classOfEntry(i), expectedClass(classes, request)) << "request " << request;
  };
  expectClass(macroFindConstant<0>(sac), 0);
  expectClass(macroFindConstant<1>(sac), 1);
  expectClass(macroFindConstant<16>(sac), 16);
  expectClass(macroFindConstant<17>(sac), 17);
  expectClass(macroFindConstant<64>(sac), 64);
  expectClass(macroFindConstant<65>(sac), 65);
  expectClass(macroFindConstant<256>(sac), 256);
  expectClass(macroFindConstant<257>(sac), 257);
  expectClass(macroFindConstant<512>(sac), 512);
  expectClass(macroFindConstant<513>(sac), 513);
  expectClass(macroFindConstant<SIZE_MAX>(sac), SIZE_MAX);
}

}  // namespace
}  // namespace mps::test
