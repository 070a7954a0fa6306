// Spare committed memory and the commit limit of the VM arena (arena.md,
// "Memory accounting"), including the MMQA expectations listed there.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "arena/arena.hpp"
#include "core_arena.hpp"
#include "protect/vm.hpp"
#include "seed.hpp"

namespace {

using namespace mps::core;
using mps::test::ArenaGuard;
using mps::test::Args;
using mps::test::makeVMArena;

constexpr Size KiB = 1024, MiB = 1024 * KiB;

Arena* arenaWithSpare(double spare, Size size = 0) {
  Args args;
  args.real(MPS_KEY_SPARE, spare);
  if (size != 0) args.size(MPS_KEY_ARENA_SIZE, size);
  return makeVMArena(args);
}

// In use = committed and not spare.
Size inUse(const Arena* arena) {
  return arena->committed() - arena->spareCommitted();
}

TEST(Spare, FreedGrainsStayCommittedWithSpareOne) {
  ArenaGuard arena(arenaWithSpare(1.0));
  ASSERT_NE(arena.get(), nullptr);
  const Size grain = arena->grainSize();
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, 32 * grain, nullptr), Res::ok);
  Size committed = arena->committed();
  arena->freeGrains(p, 32 * grain);
  EXPECT_EQ(arena->committed(), committed);
  EXPECT_EQ(arena->spareCommitted(), 32 * grain);

  // Reallocation reuses the spare grains: nothing new is committed.
  Addr q = nullptr;
  ASSERT_EQ(arena->allocGrains(&q, 32 * grain, nullptr), Res::ok);
  EXPECT_EQ(q, p);
  EXPECT_EQ(arena->committed(), committed);
  EXPECT_EQ(arena->spareCommitted(), 0u);

  // Part of a spare run.
  arena->freeGrains(q, 32 * grain);
  ASSERT_EQ(arena->allocGrains(&q, 8 * grain, nullptr), Res::ok);
  EXPECT_EQ(arena->committed(), committed);
  EXPECT_EQ(arena->spareCommitted(), 24 * grain);
}

TEST(Spare, SpareOneLetsMegabytesAccumulateAndSmallerFractionsTrimIt) {
  // MMQA test 165.
  ArenaGuard arena(arenaWithSpare(1.0));
  ASSERT_NE(arena.get(), nullptr);
  std::vector<Addr> blocks(64);
  for (Addr& b : blocks)
    ASSERT_EQ(arena->allocGrains(&b, 128 * KiB, nullptr), Res::ok);
  for (Addr b : blocks)
    arena->freeGrains(b, 128 * KiB);
  EXPECT_EQ(arena->spareCommitted(), 8 * MiB);

  arena->setSpare(0.01);
  EXPECT_EQ(arena->spare(), 0.01);
  EXPECT_LE(double(arena->spareCommitted()), 0.01 * double(arena->committed()));

  arena->setSpare(0.0);
  EXPECT_EQ(arena->spare(), 0.0);
  EXPECT_EQ(arena->spareCommitted(), 0u);
}

TEST(Spare, SetSpareZeroReleasesAllSpare) {
  ArenaGuard arena(arenaWithSpare(1.0));
  ASSERT_NE(arena.get(), nullptr);
  const Size grain = arena->grainSize();
  Addr keep = nullptr, p = nullptr;
  ASSERT_EQ(arena->allocGrains(&keep, grain, nullptr), Res::ok);
  ASSERT_EQ(arena->allocGrains(&p, 40 * grain, nullptr), Res::ok);
  Size committed = arena->committed();
  arena->freeGrains(p, 40 * grain);
  ASSERT_EQ(arena->spareCommitted(), 40 * grain);
  arena->setSpare(0.0);
  EXPECT_EQ(arena->spareCommitted(), 0u);
  EXPECT_EQ(arena->committed(), committed - 40 * grain);
  // With no spare allowed, freeing uncommits at once.
  Addr q = nullptr;
  ASSERT_EQ(arena->allocGrains(&q, 10 * grain, nullptr), Res::ok);
  EXPECT_EQ(arena->committed(), committed - 30 * grain);
  std::memset(q, 0xEE, 10 * grain);
  arena->freeGrains(q, 10 * grain);
  EXPECT_EQ(arena->committed(), committed - 40 * grain);
  EXPECT_EQ(arena->spareCommitted(), 0u);
  // The uncommitted grains come back as fresh zero-filled memory.
  std::byte* bytes = q;
  ASSERT_EQ(arena->allocGrains(&q, 10 * grain, nullptr), Res::ok);
  EXPECT_EQ(q, bytes);
  EXPECT_EQ(q[0], std::byte{0});
}

// Spare memory is kept up to the fraction and no further below it than one
// grain: keeping one more grain of what was freed would pass the limit.
::testing::AssertionResult spareIsWithinAndUpToTheFraction(const Arena* arena, Size freed) {
  double fraction = arena->spare(), grain = double(arena->grainSize());
  double spare = double(arena->spareCommitted()), committed = double(arena->committed());
  if (spare > fraction * committed)
    return ::testing::AssertionFailure()
           << "spare " << spare << " above " << fraction << " of " << committed;
  if (spare < double(freed) && spare + grain <= fraction * (committed + grain))
    return ::testing::AssertionFailure()
           << "spare " << spare << " of " << freed << " freed, but " << fraction << " of "
           << committed << " allows another grain";
  return ::testing::AssertionSuccess();
}

TEST(Spare, SpareStaysWithinTheFractionOfCommitted) {
  mps::test::Rng rng(mps::test::testSeed(165));
  for (double fraction : {0.0, 0.1, 0.5, 0.75, 1.0}) {
    ArenaGuard arena(arenaWithSpare(fraction));
    ASSERT_NE(arena.get(), nullptr);
    const Size grain = arena->grainSize();
    // Single grains, every fourth one kept, so spare comes in single grains.
    std::vector<Addr> freed, kept;
    for (int i = 0; i < 400; ++i) {
      Addr p = nullptr;
      ASSERT_EQ(arena->allocGrains(&p, grain, nullptr), Res::ok);
      (i % 4 == 0 ? kept : freed).push_back(p);
    }
    for (Size i = freed.size(); i > 1; --i)
      std::swap(freed[i - 1], freed[rng.below(i)]);
    Size used = inUse(arena.get()), freedBytes = 0;
    for (Addr p : freed) {
      arena->freeGrains(p, grain);
      used -= grain;
      freedBytes += grain;
      EXPECT_EQ(inUse(arena.get()), used);
      ASSERT_TRUE(spareIsWithinAndUpToTheFraction(arena.get(), freedBytes))
          << "fraction " << fraction;
    }
  }
}

TEST(Spare, FreeingOneLargeRunKeepsSpareUpToTheFraction) {
  for (double fraction : {0.1, 0.5, 0.75, 0.9}) {
    ArenaGuard arena(arenaWithSpare(fraction));
    ASSERT_NE(arena.get(), nullptr);
    Addr keep = nullptr, p = nullptr;
    ASSERT_EQ(arena->allocGrains(&keep, 64 * KiB, nullptr), Res::ok);
    ASSERT_EQ(arena->allocGrains(&p, 4 * MiB, nullptr), Res::ok);
    arena->freeGrains(p, 4 * MiB);
    EXPECT_GT(arena->spareCommitted(), 0u) << "fraction " << fraction;
    EXPECT_TRUE(spareIsWithinAndUpToTheFraction(arena.get(), 4 * MiB)) << "fraction " << fraction;
    // Lowering the fraction trims to the new one, no further.
    arena->setSpare(fraction / 2);
    EXPECT_TRUE(spareIsWithinAndUpToTheFraction(arena.get(), 4 * MiB)) << "fraction " << fraction;
  }
}

TEST(Spare, DefaultFractionIsThreeQuarters) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  EXPECT_EQ(arena->spare(), 0.75);
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, 4 * MiB, nullptr), Res::ok);
  arena->freeGrains(p, 4 * MiB);
  EXPECT_GT(arena->spareCommitted(), 0u);
  EXPECT_TRUE(spareIsWithinAndUpToTheFraction(arena.get(), 4 * MiB));
}

// Commit limit -----------------------------------------------------------------

// An arena with no spare (so committed is exactly what is in use) whose
// first table page is already committed, limited to `room` more grains.
struct Limited {
  ArenaGuard arena;
  Size grain = 0;
  explicit Limited(Size roomGrains, double spare = 0.0) : arena(arenaWithSpare(spare)) {
    if (arena.get() == nullptr) return;
    grain = arena->grainSize();
    Addr warm = nullptr;
    EXPECT_EQ(arena->allocGrains(&warm, grain, nullptr), Res::ok);
    EXPECT_EQ(arena->setCommitLimit(arena->committed() + roomGrains * grain), Res::ok);
  }
};

TEST(CommitLimit, AllocationFailsExactlyWhenItWouldPassTheLimit) {
  Limited l(3);
  Arena* arena = l.arena.get();
  ASSERT_NE(arena, nullptr);
  const Size limit = arena->commitLimit();
  Addr a[3] = {}, extra = nullptr;
  for (Addr& p : a)
    ASSERT_EQ(arena->allocGrains(&p, l.grain, nullptr), Res::ok);
  EXPECT_EQ(arena->committed(), limit);  // reaching the limit is allowed
  EXPECT_EQ(arena->allocGrains(&extra, l.grain, nullptr), Res::commitLimit);
  EXPECT_EQ(arena->allocGrains(&extra, l.grain, nullptr, true), Res::commitLimit);
  EXPECT_EQ(arena->committed(), limit);
  EXPECT_EQ(arena->spareCommitted(), 0u);

  // Freeing makes room again.
  arena->freeGrains(a[1], l.grain);
  EXPECT_EQ(arena->committed(), limit - l.grain);
  ASSERT_EQ(arena->allocGrains(&extra, l.grain, nullptr), Res::ok);
  EXPECT_EQ(extra, a[1]);
  EXPECT_EQ(arena->committed(), limit);

  // A run needing two grains when there is room for one fails whole.
  arena->freeGrains(extra, l.grain);
  Addr two = nullptr;
  EXPECT_EQ(arena->allocGrains(&two, 2 * l.grain, nullptr), Res::commitLimit);
  EXPECT_EQ(arena->committed(), limit - l.grain);
  ASSERT_EQ(arena->allocGrains(&extra, l.grain, nullptr), Res::ok);
}

TEST(CommitLimit, MultiGrainRunMayFillTheLimitExactly) {
  Limited l(5);
  Arena* arena = l.arena.get();
  ASSERT_NE(arena, nullptr);
  Addr p = nullptr;
  EXPECT_EQ(arena->allocGrains(&p, 6 * l.grain, nullptr), Res::commitLimit);
  ASSERT_EQ(arena->allocGrains(&p, 5 * l.grain, nullptr), Res::ok);
  EXPECT_EQ(arena->committed(), arena->commitLimit());
}

TEST(CommitLimit, NewTractTablePagesCountAgainstTheLimit) {
  // High addresses need a table page of their own: one grain of room is not
  // enough for one grain there, two are.
  Limited l(1);
  Arena* arena = l.arena.get();
  ASSERT_NE(arena, nullptr);
  Addr p = nullptr;
  EXPECT_EQ(arena->allocGrains(&p, l.grain, nullptr, true), Res::commitLimit);
  ASSERT_EQ(arena->setCommitLimit(arena->commitLimit() + l.grain), Res::ok);
  EXPECT_EQ(arena->allocGrains(&p, l.grain, nullptr, true), Res::ok);
  EXPECT_EQ(arena->committed(), arena->commitLimit());
}

TEST(CommitLimit, SpareIsReleasedToStayWithinTheLimit) {
  Limited l(64, 1.0);
  Arena* arena = l.arena.get();
  ASSERT_NE(arena, nullptr);
  Addr spare = nullptr;
  ASSERT_EQ(arena->allocGrains(&spare, 8 * l.grain, nullptr), Res::ok);
  arena->freeGrains(spare, 8 * l.grain);
  ASSERT_EQ(arena->spareCommitted(), 8 * l.grain);
  ASSERT_EQ(arena->setCommitLimit(arena->committed()), Res::ok);
  const Size limit = arena->commitLimit();

  // Four grains at the top need five new ones (one table page): the arena
  // gives up spare memory rather than fail.
  Addr high = nullptr;
  ASSERT_EQ(arena->allocGrains(&high, 4 * l.grain, nullptr, true), Res::ok);
  EXPECT_LE(arena->committed(), limit);
  EXPECT_LE(arena->spareCommitted(), 3 * l.grain);
  EXPECT_EQ(inUse(arena), limit - 8 * l.grain + 5 * l.grain);

  // When spare cannot cover it, the allocation fails and nothing changes.
  Size committed = arena->committed(), spareNow = arena->spareCommitted();
  Addr tooBig = nullptr;
  EXPECT_EQ(arena->allocGrains(&tooBig, 64 * l.grain, nullptr, true), Res::commitLimit);
  EXPECT_EQ(arena->committed(), committed);
  EXPECT_EQ(arena->spareCommitted(), spareNow);
}

TEST(CommitLimit, SetBelowCommittedFollowsMMQA) {
  ArenaGuard arena(arenaWithSpare(0.0));
  ASSERT_NE(arena.get(), nullptr);
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, 64 * KiB, nullptr), Res::ok);
  const Size committed = arena->committed();
  EXPECT_EQ(arena->setCommitLimit(0), Res::fail);
  EXPECT_EQ(arena->commitLimit(), ~Size(0));  // unchanged by the failure
  EXPECT_EQ(arena->setCommitLimit(committed - 1), Res::fail);
  EXPECT_EQ(arena->commitLimit(), ~Size(0));
  EXPECT_EQ(arena->setCommitLimit(committed), Res::ok);
  EXPECT_EQ(arena->commitLimit(), committed);
  Addr q = nullptr;
  EXPECT_EQ(arena->allocGrains(&q, 16 * KiB, nullptr), Res::commitLimit);
  // Raising it by 64 KiB lets a 16 KiB allocation succeed.
  EXPECT_EQ(arena->setCommitLimit(committed + 64 * KiB), Res::ok);
  EXPECT_EQ(arena->allocGrains(&q, 16 * KiB, nullptr), Res::ok);
  EXPECT_EQ(arena->committed(), committed + 16 * KiB);
  // (size_t)-1 removes the limit.
  EXPECT_EQ(arena->setCommitLimit(~Size(0)), Res::ok);
  EXPECT_EQ(arena->allocGrains(&q, 4 * MiB, nullptr), Res::ok);
}

TEST(CommitLimit, SetBelowCommittedSucceedsWhenReleasingSpareSuffices) {
  ArenaGuard arena(arenaWithSpare(1.0));
  ASSERT_NE(arena.get(), nullptr);
  const Size grain = arena->grainSize();
  Addr keep = nullptr, p = nullptr;
  ASSERT_EQ(arena->allocGrains(&keep, grain, nullptr), Res::ok);
  ASSERT_EQ(arena->allocGrains(&p, 16 * grain, nullptr), Res::ok);
  arena->freeGrains(p, 16 * grain);
  const Size committed = arena->committed();
  ASSERT_EQ(arena->spareCommitted(), 16 * grain);

  // Below what is in use: fails and releases nothing.
  EXPECT_EQ(arena->setCommitLimit(committed - 16 * grain - 1), Res::fail);
  EXPECT_EQ(arena->committed(), committed);
  EXPECT_EQ(arena->spareCommitted(), 16 * grain);
  EXPECT_EQ(arena->commitLimit(), ~Size(0));

  // Within the spare: succeeds by releasing spare.
  EXPECT_EQ(arena->setCommitLimit(committed - 8 * grain), Res::ok);
  EXPECT_EQ(arena->commitLimit(), committed - 8 * grain);
  EXPECT_LE(arena->committed(), committed - 8 * grain);
  EXPECT_EQ(inUse(arena.get()), committed - 16 * grain);

  // Exactly what is in use: all spare goes.
  EXPECT_EQ(arena->setCommitLimit(committed - 16 * grain), Res::ok);
  EXPECT_EQ(arena->committed(), committed - 16 * grain);
  EXPECT_EQ(arena->spareCommitted(), 0u);
}

TEST(CommitLimit, ArenaCreationWithASixteenKiBLimitFails) {
  for (Size size : {Size(0), 1 * MiB}) {
    Args args;
    args.size(MPS_KEY_COMMIT_LIMIT, 16 * KiB);
    if (size != 0) args.size(MPS_KEY_ARENA_SIZE, size);
    Arena* arena = nullptr;
    EXPECT_EQ(Arena::create(&arena, &kArenaClassVM, args), Res::commitLimit);
  }
}

TEST(CommitLimit, LimitOfExactlyTheHeaderCreatesAnArenaThatCannotAllocate) {
  Size header = Chunk::headerBytes(1 * MiB, log2(vm::pageSize()), sizeof(Arena));
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 1 * MiB).size(MPS_KEY_COMMIT_LIMIT, header);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  EXPECT_EQ(arena->committed(), header);
  Addr p = nullptr;
  EXPECT_EQ(arena->allocGrains(&p, arena->grainSize(), nullptr), Res::commitLimit);
  void* c = nullptr;
  EXPECT_EQ(arena->controlAlloc(&c, 64), Res::commitLimit);
  EXPECT_EQ(arena->committed(), header);
}

TEST(CommitLimit, GrowthFailsAtTheLimitWithoutLeaking) {
  ArenaGuard arena(arenaWithSpare(0.0, 1 * MiB));
  ASSERT_NE(arena.get(), nullptr);
  const Size grain = arena->grainSize();
  // Fill the first chunk completely.
  std::vector<Addr> blocks;
  Size before = arena->reserved();
  for (;;) {
    Addr p = nullptr;
    ASSERT_EQ(arena->allocGrains(&p, grain, nullptr), Res::ok);
    if (arena->reserved() != before) {
      arena->freeGrains(p, grain);  // that one came from a new chunk
      break;
    }
    blocks.push_back(p);
  }
  const Size reserved = arena->reserved();
  ASSERT_EQ(arena->setCommitLimit(arena->committed()), Res::ok);
  const Size committed = arena->committed();
  // The second chunk has free grains but committing one (and its table
  // page) passes the limit; a third chunk's header would too.
  for (int i = 0; i < 5; ++i) {
    Addr p = nullptr;
    EXPECT_EQ(arena->allocGrains(&p, 4 * MiB, nullptr), Res::commitLimit);
    EXPECT_EQ(arena->allocGrains(&p, grain, nullptr), Res::commitLimit);
  }
  EXPECT_EQ(arena->committed(), committed);
  EXPECT_EQ(arena->reserved(), reserved);
  // Freeing a grain in the first chunk makes room for exactly that grain.
  arena->freeGrains(blocks.back(), grain);
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, grain, nullptr), Res::ok);
  EXPECT_EQ(p, blocks.back());
}

}  // namespace
