// Control memory (Arena::controlAlloc/controlFree): small blocks for core
// objects, reused LIFO per size class, counted as committed memory.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "arena/arena.hpp"
#include "core_arena.hpp"
#include "seed.hpp"

namespace {

using namespace mps::core;
using mps::test::ArenaGuard;
using mps::test::makeVMArena;

TEST(ControlMemory, FreedBlocksAreReusedLastInFirstOutAndZeroed) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  void *a = nullptr, *b = nullptr, *c = nullptr;
  ASSERT_EQ(arena->controlAlloc(&a, 100), Res::ok);
  ASSERT_EQ(arena->controlAlloc(&b, 100), Res::ok);
  std::memset(a, 0xFF, 100);
  std::memset(b, 0xFF, 100);
  arena->controlFree(a, 100);
  arena->controlFree(b, 100);
  ASSERT_EQ(arena->controlAlloc(&c, 100), Res::ok);
  EXPECT_EQ(c, b);
  ASSERT_EQ(arena->controlAlloc(&c, 128), Res::ok);  // same 128-byte class
  EXPECT_EQ(c, a);
  for (int i = 0; i < 128; ++i)
    ASSERT_EQ(static_cast<unsigned char*>(c)[i], 0) << i;
}

TEST(ControlMemory, BlocksAreDistinctAlignedAndInTheArenaButInNoPool) {
  mps::test::Rng rng(mps::test::testSeed(4242));
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  std::map<std::byte*, Size> live;  // base -> size
  for (int i = 0; i < 3000; ++i) {
    if (!live.empty() && rng.below(3) == 0) {
      auto it = live.begin();
      std::advance(it, rng.below(live.size()));
      // Contents survived every other allocation.
      for (Size k = 0; k < it->second; ++k)
        ASSERT_EQ(it->first[k], std::byte(it->second & 0xFF)) << "block of " << it->second;
      arena->controlFree(it->first, it->second);
      live.erase(it);
      continue;
    }
    Size size = 1 + rng.below(rng.below(8) == 0 ? 12000 : 2048);
    void* p = nullptr;
    ASSERT_EQ(arena->controlAlloc(&p, size), Res::ok);
    auto* bytes = static_cast<std::byte*>(p);
    EXPECT_TRUE(isAligned(p, alignof(std::max_align_t)));
    EXPECT_TRUE(arena->hasAddr(bytes) && arena->hasAddr(bytes + size - 1));
    EXPECT_EQ(arena->poolOf(bytes), nullptr);
    // No overlap with a neighbour.
    auto next = live.lower_bound(bytes);
    if (next != live.end()) {
      ASSERT_LE(bytes + size, next->first);
    }
    if (next != live.begin()) {
      auto prev = std::prev(next);
      ASSERT_LE(prev->first + prev->second, bytes);
    }
    std::memset(bytes, int(size & 0xFF), size);
    live[bytes] = size;
  }
  for (auto& [p, size] : live)
    arena->controlFree(p, size);
}

TEST(ControlMemory, LargeBlocksTakeWholeGrainsAndComeBackAsSpare) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  const Size grain = arena->grainSize();
  void* warm = nullptr;
  ASSERT_EQ(arena->controlAlloc(&warm, 3 * grain), Res::ok);  // commits a table page
  Size committed = arena->committed();
  void* p = nullptr;
  ASSERT_EQ(arena->controlAlloc(&p, 3 * grain + 1), Res::ok);
  EXPECT_EQ(arena->committed(), committed + 4 * grain);
  EXPECT_TRUE(isAligned(p, grain));
  arena->controlFree(p, 3 * grain + 1);
  EXPECT_EQ(arena->spareCommitted(), 4 * grain);
  EXPECT_EQ(arena->tractOf(p), nullptr);
}

TEST(ControlMemory, CountsAgainstTheCommitLimit) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  void *a = nullptr, *b = nullptr;
  ASSERT_EQ(arena->controlAlloc(&a, 64), Res::ok);
  ASSERT_EQ(arena->setCommitLimit(arena->committed()), Res::ok);
  // The 64-byte class has blocks left; a new class needs a new grain.
  EXPECT_EQ(arena->controlAlloc(&b, 64), Res::ok);
  EXPECT_EQ(arena->controlAlloc(&b, 1000), Res::commitLimit);
  EXPECT_EQ(arena->controlAlloc(&b, 100000), Res::commitLimit);
  ASSERT_EQ(arena->setCommitLimit(~Size(0)), Res::ok);
  EXPECT_EQ(arena->controlAlloc(&b, 1000), Res::ok);
}

TEST(ControlMemory, PoolsLiveInControlMemory) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  Pool* pool = nullptr;
  ASSERT_EQ(mps::test::kTestPoolClassNone.create(&pool, arena.get(), mps_args_none), Res::ok);
  EXPECT_TRUE(arena->hasAddr(pool));
  EXPECT_EQ(arena->poolCount(), 1u);
  EXPECT_EQ(pool->arena(), arena.get());
  EXPECT_EQ(pool->poolClass(), &mps::test::kTestPoolClassNone);
  EXPECT_TRUE(isValid(pool));
  void* where = pool;
  pool->destroy();
  EXPECT_EQ(arena->poolCount(), 0u);
  // The next pool object of the same size takes the same block.
  ASSERT_EQ(mps::test::kTestPoolClassNone.create(&pool, arena.get(), mps_args_none), Res::ok);
  EXPECT_EQ(static_cast<void*>(pool), where);
  pool->destroy();
}

}  // namespace
