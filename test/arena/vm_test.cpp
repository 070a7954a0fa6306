// The VM arena (arena/arena.hpp): creation from keyword arguments, reserved
// and committed accounting, grain placement, growth by new chunks, and the
// O(1) address lookup across every chunk.

#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "arena/arena.hpp"
#include "arena/chunk.hpp"
#include "arena/segment.hpp"
#include "assertions.hpp"
#include "core_arena.hpp"
#include "mpsavm.h"
#include "protect/vm.hpp"
#include "seed.hpp"

namespace {

using namespace mps::core;
using mps::test::ArenaGuard;
using mps::test::Args;
using mps::test::makeVMArena;
using mps::test::TestPool;

constexpr Size KiB = 1024, MiB = 1024 * KiB;

int gStatic;  // an address in the program's data, never in any arena

TEST(VMArena, DefaultsReserveAddressSpaceAndCommitOnlyTheHeader) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  EXPECT_TRUE(arena->isVirtual());
  EXPECT_EQ(arena->grainSize(), vm::pageSize());
  EXPECT_EQ(arena->reserved(), Size(256) * MiB);
  EXPECT_EQ(arena->committed(), Chunk::headerBytes(256 * MiB, arena->grainShift(), sizeof(Arena)));
  EXPECT_EQ(arena->spareCommitted(), 0u);
  EXPECT_EQ(arena->commitLimit(), ~Size(0));
  EXPECT_EQ(arena->spare(), 0.75);
  EXPECT_EQ(arena->poolCount(), 0u);
  // The tract table (16 bytes per grain, 1 MiB here) is not committed yet.
  Size tableBytes = (256 * MiB / arena->grainSize()) * sizeof(Tract);
  EXPECT_LT(arena->committed(), tableBytes);
  EXPECT_TRUE(isValid(arena.get()));
}

TEST(VMArena, TheFirstChunksEndsNeverShareAZone) {
  // The nursery is allocated from the bottom and older generations from
  // the top: if the two ends of the chunk shared a zone, a nursery
  // collection's white set would meet every older segment's summary.
  for (Size size : {Size(64) * MiB, Size(100) * MiB, Size(256) * MiB, Size(300) * MiB}) {
    ArenaGuard arena(makeVMArena(Args().size(MPS_KEY_ARENA_SIZE, size)));
    ASSERT_NE(arena.get(), nullptr);
    Addr low, high;
    ASSERT_EQ(arena->allocGrains(&low, arena->grainSize(), nullptr), Res::ok);
    ASSERT_EQ(arena->allocGrains(&high, arena->grainSize(), nullptr, true), Res::ok);
    Shift zs = arena->zoneShift();
    EXPECT_NE(zoneOf(low, zs), zoneOf(high, zs)) << size / MiB << " MiB";
    // At most 64 stripes from one end to the other, whole ones.
    EXPECT_LT((wordOf(high) >> zs) - (wordOf(low) >> zs), 64u) << size / MiB << " MiB";
    arena->freeGrains(low, arena->grainSize());
    arena->freeGrains(high, arena->grainSize());
  }
}

TEST(VMArena, AllocationAvoidsZonesWhileThereIsRoomElsewhere) {
  ArenaGuard arena(makeVMArena(Args().size(MPS_KEY_ARENA_SIZE, 64 * MiB)));
  ASSERT_NE(arena.get(), nullptr);
  Shift zs = arena->zoneShift();
  Addr first;
  ASSERT_EQ(arena->allocGrains(&first, arena->grainSize(), nullptr), Res::ok);
  RefSet avoid = refSetOfAddr(first, zs);
  Addr p;
  ASSERT_EQ(arena->allocGrains(&p, arena->grainSize(), nullptr, false, avoid), Res::ok);
  EXPECT_EQ(refSetOfAddr(p, zs) & avoid, 0u) << "the lowest room outside the zone";
  EXPECT_GT(p, first);
  // Every zone avoided: any room will do.
  Addr q;
  ASSERT_EQ(arena->allocGrains(&q, arena->grainSize(), nullptr, false, kRefSetUniv), Res::ok);
  arena->freeGrains(first, arena->grainSize());
  arena->freeGrains(p, arena->grainSize());
  arena->freeGrains(q, arena->grainSize());
}

TEST(VMArena, KeywordArgumentsAreHonoured) {
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 8 * MiB)
      .size(MPS_KEY_COMMIT_LIMIT, 64 * MiB)
      .real(MPS_KEY_SPARE, 0.5)
      .size(MPS_KEY_ARENA_GRAIN_SIZE, 4 * vm::pageSize());
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  EXPECT_EQ(arena->reserved(), 8 * MiB);
  EXPECT_EQ(arena->commitLimit(), 64 * MiB);
  EXPECT_EQ(arena->spare(), 0.5);
  EXPECT_EQ(arena->grainSize(), 4 * vm::pageSize());
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, arena->grainSize(), nullptr), Res::ok);
  EXPECT_TRUE(isAligned(p, 4 * vm::pageSize()));
}

TEST(VMArena, GrainSizeBelowThePageSizeIsRoundedUp) {
  Args args;
  args.size(MPS_KEY_ARENA_GRAIN_SIZE, 1024);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  EXPECT_EQ(arena->grainSize(), vm::pageSize());
}

TEST(VMArena, TinyArenaSizeIsRoundedUpToTheMinimum) {
  // MMQA tests 8 and 98 ask for 1 byte.
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 1);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  EXPECT_GE(arena->reserved(), kWordBits * arena->grainSize());
  Addr p = nullptr;
  EXPECT_EQ(arena->allocGrains(&p, 16 * arena->grainSize(), nullptr), Res::ok);
}

TEST(VMArena, DeprecatedSpareCommitLimitBecomesAFraction) {
  {
    Args args;
    args.size(MPS_KEY_COMMIT_LIMIT, 100 * MiB).size(MPS_KEY_SPARE_COMMIT_LIMIT, 25 * MiB);
    ArenaGuard arena(makeVMArena(args));
    ASSERT_NE(arena.get(), nullptr);
    EXPECT_DOUBLE_EQ(arena->spare(), 0.25);
  }
  {
    Args args;  // above the commit limit: 1.0
    args.size(MPS_KEY_COMMIT_LIMIT, 10 * MiB).size(MPS_KEY_SPARE_COMMIT_LIMIT, 25 * MiB);
    ArenaGuard arena(makeVMArena(args));
    ASSERT_NE(arena.get(), nullptr);
    EXPECT_EQ(arena->spare(), 1.0);
  }
  {
    Args args;  // MPS_KEY_SPARE wins
    args.size(MPS_KEY_COMMIT_LIMIT, 100 * MiB)
        .size(MPS_KEY_SPARE_COMMIT_LIMIT, 25 * MiB)
        .real(MPS_KEY_SPARE, 0.125);
    ArenaGuard arena(makeVMArena(args));
    ASSERT_NE(arena.get(), nullptr);
    EXPECT_EQ(arena->spare(), 0.125);
  }
}

TEST(VMArena, ManyArenasCoexistAndNeverShareAnAddress) {
  std::array<ArenaGuard, 12> arenas;
  for (ArenaGuard& a : arenas) {
    Args args;
    args.size(MPS_KEY_ARENA_SIZE, 1);
    ASSERT_EQ(Arena::create(a.out(), &kArenaClassVM, args), Res::ok);
  }
  for (ArenaGuard& a : arenas) {
    Addr p = nullptr;
    ASSERT_EQ(a->allocGrains(&p, a->grainSize(), nullptr), Res::ok);
    int owners = 0;
    for (ArenaGuard& b : arenas)
      owners += b->hasAddr(p);
    EXPECT_EQ(owners, 1);
  }
}

TEST(VMArena, CommittedGrowsByWholeGrainsAndTheTractTableLazily) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  const Size grain = arena->grainSize();
  Size c0 = arena->committed();

  // The first grain also commits the page of the tract table describing it.
  Addr a = nullptr;
  ASSERT_EQ(arena->allocGrains(&a, grain, nullptr), Res::ok);
  EXPECT_EQ(arena->committed(), c0 + 2 * grain);

  // Its neighbours are described by the same table page.
  Addr b = nullptr;
  ASSERT_EQ(arena->allocGrains(&b, 3 * grain, nullptr), Res::ok);
  EXPECT_EQ(arena->committed(), c0 + 5 * grain);

  // The top of the chunk needs a different table page.
  Addr c = nullptr;
  ASSERT_EQ(arena->allocGrains(&c, grain, nullptr, true), Res::ok);
  EXPECT_EQ(arena->committed(), c0 + 7 * grain);

  EXPECT_EQ(arena->reserved(), 256 * MiB);  // no growth
  EXPECT_EQ(arena->spareCommitted(), 0u);

  // The memory is really committed, writable and zero-filled.
  for (Addr p : {a, b, c}) {
    EXPECT_EQ(p[0], std::byte{0});
    std::memset(p, 0xA5, grain);
  }
  std::memset(b, 0x5A, 3 * grain);
  EXPECT_EQ(a[grain - 1], std::byte{0xA5});
  EXPECT_EQ(c[grain - 1], std::byte{0xA5});
}

TEST(VMArena, AllocGrainsPlacesLowOrHigh) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  const Size grain = arena->grainSize();
  TestPool pool(arena.get(), &mps::test::kTestPoolClassNone);

  Addr low1 = nullptr, low2 = nullptr, high1 = nullptr, high2 = nullptr;
  ASSERT_EQ(arena->allocGrains(&low1, 2 * grain, &pool), Res::ok);
  ASSERT_EQ(arena->allocGrains(&high1, 2 * grain, &pool, true), Res::ok);
  ASSERT_EQ(arena->allocGrains(&low2, grain, &pool), Res::ok);
  ASSERT_EQ(arena->allocGrains(&high2, grain, &pool, true), Res::ok);
  Chunk* chunk = arena->chunkOf(low1);
  ASSERT_NE(chunk, nullptr);
  EXPECT_EQ(low1, chunk->addrOf(chunk->firstUsable));
  EXPECT_EQ(low2, low1 + 2 * grain);
  EXPECT_EQ(high1 + 2 * grain, chunk->limit);
  EXPECT_EQ(high2 + grain, high1);

  // A freed low run is the lowest fit again; a bigger request skips it.
  arena->freeGrains(low1, 2 * grain);
  Addr again = nullptr, bigger = nullptr;
  ASSERT_EQ(arena->allocGrains(&bigger, 3 * grain, &pool), Res::ok);
  EXPECT_EQ(bigger, low2 + grain);
  ASSERT_EQ(arena->allocGrains(&again, 2 * grain, &pool), Res::ok);
  EXPECT_EQ(again, low1);

  // Free and reallocate high: the highest fit.
  arena->freeGrains(high1, 2 * grain);
  ASSERT_EQ(arena->allocGrains(&again, grain, &pool, true), Res::ok);
  EXPECT_EQ(again, high1 + grain);
}

TEST(VMArena, GrainsAreTaggedWithTheirPool) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  const Size grain = arena->grainSize();
  TestPool p1(arena.get(), &mps::test::kTestPoolClassNone);
  TestPool p2(arena.get(), &mps::test::kTestPoolClassNone);
  Addr a = nullptr, b = nullptr, control = nullptr;
  ASSERT_EQ(arena->allocGrains(&a, 4 * grain, &p1), Res::ok);
  ASSERT_EQ(arena->allocGrains(&b, grain, &p2), Res::ok);
  ASSERT_EQ(arena->allocGrains(&control, grain, nullptr), Res::ok);
  for (Size off : {Size(0), Size(1), grain, 4 * grain - 1})
    EXPECT_EQ(arena->poolOf(a + off), &p1);
  EXPECT_EQ(arena->poolOf(b), &p2);
  EXPECT_EQ(arena->poolOf(b + grain - 1), &p2);
  EXPECT_EQ(arena->poolOf(control), nullptr);
  ASSERT_NE(arena->tractOf(control), nullptr);  // allocated, to no pool
  EXPECT_EQ(arena->tractOf(control)->pool, nullptr);
  // Unallocated grains and the chunk's own header have no tract.
  Chunk* chunk = arena->chunkOf(a);
  EXPECT_EQ(arena->tractOf(chunk->limit - 1), nullptr);
  EXPECT_EQ(arena->tractOf(chunk->base), nullptr);
  EXPECT_EQ(arena->poolOf(chunk->base), nullptr);
  EXPECT_TRUE(arena->hasAddr(chunk->base));       // in the arena nonetheless
  EXPECT_TRUE(arena->hasAddr(chunk->limit - 1));  // allocated or not
  // Freed grains lose their pool.
  arena->freeGrains(a, 4 * grain);
  EXPECT_EQ(arena->poolOf(a), nullptr);
  EXPECT_EQ(arena->tractOf(a + grain), nullptr);
  EXPECT_TRUE(arena->hasAddr(a));
}

// Asserts that every lookup of a foreign address gives nothing.
void expectForeign(const Arena* arena, const void* p) {
  EXPECT_FALSE(arena->hasAddr(p)) << p;
  EXPECT_EQ(arena->chunkOf(p), nullptr) << p;
  EXPECT_EQ(arena->tractOf(p), nullptr) << p;
  EXPECT_EQ(arena->poolOf(p), nullptr) << p;
}

TEST(VMArena, ForeignAddressesAreNotInTheArena) {
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 1 * MiB);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, arena->grainSize(), nullptr), Res::ok);
  Chunk* chunk = arena->chunkOf(p);
  ASSERT_NE(chunk, nullptr);

  int local = 0;
  void* heap = std::malloc(64);
  expectForeign(arena.get(), nullptr);
  expectForeign(arena.get(), &local);
  expectForeign(arena.get(), heap);
  expectForeign(arena.get(), &gStatic);
  expectForeign(arena.get(), reinterpret_cast<void*>(&expectForeign));
  // Just outside the only chunk, on both sides.
  expectForeign(arena.get(), chunk->base - 1);
  expectForeign(arena.get(), chunk->limit);
  expectForeign(arena.get(), chunk->limit + arena->grainSize());
  // Addresses beyond any user address space.
  expectForeign(arena.get(), reinterpret_cast<void*>(~Word(0)));
  expectForeign(arena.get(), reinterpret_cast<void*>(Word(1) << 63));
  expectForeign(arena.get(), reinterpret_cast<void*>((Word(1) << 47) + wordOf(p)));
  std::free(heap);

  // The first and last byte of the chunk are in.
  EXPECT_EQ(arena->chunkOf(chunk->base), chunk);
  EXPECT_EQ(arena->chunkOf(chunk->limit - 1), chunk);

  // Another arena's memory is foreign too.
  ArenaGuard other(makeVMArena(args));
  ASSERT_NE(other.get(), nullptr);
  Addr q = nullptr;
  ASSERT_EQ(other->allocGrains(&q, other->grainSize(), nullptr), Res::ok);
  expectForeign(arena.get(), q);
  expectForeign(other.get(), p);
}

TEST(VMArena, GrowsByNewChunksAndFindsAddressesInEveryChunk) {
  mps::test::Rng rng(mps::test::testSeed(77));
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 1 * MiB);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  const Size grain = arena->grainSize();
  TestPool pool(arena.get(), &mps::test::kTestPoolClassNone);

  struct Block {
    Addr base = nullptr;
    Size size;
    unsigned char fill;
  };
  std::vector<Block> blocks;
  Size total = 0;
  // Ten times the initial reservation, in runs of 1..32 grains.
  while (total < 10 * MiB) {
    Block b{nullptr, (1 + rng.below(32)) * grain, static_cast<unsigned char>(rng.next())};
    ASSERT_EQ(arena->allocGrains(&b.base, b.size, &pool, rng.below(2) == 0), Res::ok);
    std::memset(b.base, b.fill, b.size);
    blocks.push_back(b);
    total += b.size;
  }
  EXPECT_GT(arena->reserved(), 10 * MiB);

  std::set<Chunk*> chunks;
  for (const Block& b : blocks) {
    Chunk* chunk = arena->chunkOf(b.base);
    ASSERT_NE(chunk, nullptr);
    EXPECT_TRUE(chunk->contains(b.base) && chunk->contains(b.base + b.size - 1));
    EXPECT_EQ(arena->chunkOf(b.base + b.size - 1), chunk);
    EXPECT_EQ(arena->poolOf(b.base), &pool);
    EXPECT_EQ(arena->poolOf(b.base + b.size / 2), &pool);
    EXPECT_EQ(arena->poolOf(b.base + b.size - 1), &pool);
    EXPECT_TRUE(arena->hasAddr(b.base));
    // Contents are intact: no block overlaps another.
    ASSERT_EQ(static_cast<unsigned char>(b.base[0]), b.fill);
    ASSERT_EQ(static_cast<unsigned char>(b.base[b.size - 1]), b.fill);
    chunks.insert(chunk);
  }
  EXPECT_GE(chunks.size(), 10u);

  Size reservedSum = 0;
  for (Chunk* chunk : chunks) {
    reservedSum += chunk->reservedSize;
    EXPECT_EQ(arena->chunkOf(chunk->base), chunk);
    EXPECT_EQ(arena->chunkOf(chunk->limit - 1), chunk);
    // Just outside a chunk is another chunk or nothing, never this chunk.
    for (const void* outside :
         {static_cast<const void*>(chunk->base - 1), static_cast<const void*>(chunk->limit)}) {
      Chunk* found = arena->chunkOf(outside);
      EXPECT_NE(found, chunk);
      if (found != nullptr) {
        EXPECT_TRUE(found->contains(outside));
      }
    }
  }
  EXPECT_EQ(reservedSum, arena->reserved());  // every chunk holds a block

  for (const Block& b : blocks)
    arena->freeGrains(b.base, b.size);
  for (const Block& b : blocks)
    EXPECT_EQ(arena->poolOf(b.base), nullptr);
}

TEST(VMArena, OneRequestBiggerThanAnyChunkGetsAChunkOfItsOwn) {
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 1 * MiB);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  Size before = arena->reserved();
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, 5 * MiB, nullptr), Res::ok);
  EXPECT_GE(arena->reserved(), before + 5 * MiB);
  EXPECT_EQ(arena->chunkOf(p), arena->chunkOf(p + 5 * MiB - 1));
  std::memset(p, 1, 5 * MiB);
  arena->freeGrains(p, 5 * MiB);
}

TEST(VMArena, GrowthHonoursTheDesiredIncrement) {
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 1 * MiB);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  arena->setGrowth(16 * MiB, 0);
  Size before = arena->reserved();
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, 2 * MiB, nullptr), Res::ok);
  EXPECT_EQ(arena->reserved(), before + 16 * MiB);
  // The rest of the new chunk serves later requests without growing.
  ASSERT_EQ(arena->allocGrains(&p, 8 * MiB, nullptr), Res::ok);
  EXPECT_EQ(arena->reserved(), before + 16 * MiB);
}

TEST(VMArena, GrowthWithAnUnalignedDesiredIncrementStillWorks) {
  // mps_arena_vm_growth takes any byte count; the new chunk must still be a
  // whole number of chunk-map granules (and pages).
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 1 * MiB);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  arena->setGrowth(16 * MiB + 12345, 0);
  Size before = arena->reserved();
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, 2 * MiB, nullptr), Res::ok);
  EXPECT_EQ(arena->reserved(), before + 17 * MiB);
  EXPECT_TRUE(isValid(arena.get()));
}

TEST(VMArena, GrowthWithGrainsBiggerThanTheChunkMapGranule) {
  // New chunks must be aligned to, and a multiple of, the grain as well as
  // the chunk map's granule, like the first one.
  const Size grain = 4 * MiB;
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 64 * grain).size(MPS_KEY_ARENA_GRAIN_SIZE, grain);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  ASSERT_EQ(arena->grainSize(), grain);
  arena->setGrowth(101 * MiB, 0);
  std::vector<Addr> blocks;
  Size before = arena->reserved();
  while (arena->reserved() == before) {
    Addr p = nullptr;
    ASSERT_EQ(arena->allocGrains(&p, grain, nullptr), Res::ok);
    EXPECT_TRUE(isAligned(p, grain));
    blocks.push_back(p);
  }
  for (int i = 0; i < 4; ++i) {
    Addr p = nullptr;
    ASSERT_EQ(arena->allocGrains(&p, 3 * grain, nullptr), Res::ok);
    EXPECT_TRUE(isAligned(p, grain));
    std::memset(p, 0x5A, 3 * grain);
  }
  EXPECT_TRUE(isValid(arena.get()));
}

TEST(VMArena, ArenaSizeIsRoundedToGrainsBiggerThanTheGranule) {
  const Size grain = 4 * MiB;
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 301 * MiB).size(MPS_KEY_ARENA_GRAIN_SIZE, grain);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  EXPECT_EQ(arena->reserved(), 304 * MiB);
  EXPECT_TRUE(isValid(arena.get()));
}

TEST(VMArena, GrowthThenCommitFailureLeavesTheArenaAsItWas) {
  // The new chunk's header fits under the commit limit but the request does
  // not: allocGrains fails, and must not keep the chunk it added for it.
  Args args;
  args.size(MPS_KEY_ARENA_SIZE, 1 * MiB);
  ArenaGuard arena(makeVMArena(args));
  ASSERT_NE(arena.get(), nullptr);
  ASSERT_EQ(arena->setCommitLimit(arena->committed() + 64 * KiB), Res::ok);
  const Size reserved = arena->reserved(), committed = arena->committed();
  for (int i = 0; i < 3; ++i) {
    Addr p = nullptr;
    EXPECT_EQ(arena->allocGrains(&p, 4 * MiB, nullptr), Res::commitLimit);
    EXPECT_EQ(arena->reserved(), reserved);
    EXPECT_EQ(arena->committed(), committed);
    EXPECT_EQ(arena->spareCommitted(), 0u);
  }
  EXPECT_TRUE(isValid(arena.get()));
}

TEST(VMArena, HugeRequestsFailWithResource) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  Size committed = arena->committed(), reserved = arena->reserved();
  const Size grain = arena->grainSize();
  Addr p = nullptr;
  EXPECT_EQ(arena->allocGrains(&p, alignDown(~Size(0), grain), nullptr), Res::resource);
  EXPECT_EQ(arena->allocGrains(&p, Size(1) << 62, nullptr), Res::resource);
  EXPECT_EQ(arena->committed(), committed);
  EXPECT_EQ(arena->reserved(), reserved);
  EXPECT_EQ(arena->allocGrains(&p, grain, nullptr), Res::ok);
}

// Death tests: client mistakes reported through the plinth.

TEST(VMArenaDeathTest, DestroyingAnArenaWithAPoolIsCaught) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  Pool* pool = nullptr;
  ASSERT_EQ(mps::test::kTestPoolClassNone.create(&pool, arena.get(), mps_args_none), Res::ok);
  EXPECT_EQ(arena->poolCount(), 1u);
  EXPECT_DEATH(arena->destroy(), mps::test::assertionReportContaining("arena has no pools"));
  pool->destroy();
  EXPECT_EQ(arena->poolCount(), 0u);
}

TEST(VMArenaDeathTest, SpareOutsideZeroToOneIsCaught) {
  Args args;
  args.real(MPS_KEY_SPARE, 1.5);
  Arena* arena = nullptr;
  EXPECT_DEATH(Arena::create(&arena, &kArenaClassVM, args),
               mps::test::assertionReport("spare >= 0.0 && spare <= 1.0"));
  ArenaGuard good(makeVMArena());
  ASSERT_NE(good.get(), nullptr);
  EXPECT_DEATH(good->setSpare(-0.1),
               mps::test::assertionReport("fraction >= 0.0 && fraction <= 1.0"));
  EXPECT_DEATH(good->setSpare(1.01),
               mps::test::assertionReport("fraction >= 0.0 && fraction <= 1.0"));
}

TEST(VMArenaDeathTest, GrainSizeNotAPowerOfTwoIsCaught) {
  Args args;
  args.size(MPS_KEY_ARENA_GRAIN_SIZE, 3 * 4096);
  Arena* arena = nullptr;
  EXPECT_DEATH(Arena::create(&arena, &kArenaClassVM, args),
               mps::test::assertionReport("isPowerOfTwo(grainSize)"));
}

TEST(VMArenaDeathTest, GrowthBelowItsMinimumIsCaught) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  EXPECT_DEATH(arena->setGrowth(1 * MiB, 2 * MiB),
               mps::test::assertionReport("desired >= minimum"));
}

TEST(VMArenaDeathTest, ExtendingAVMArena) {
  ArenaGuard arena(makeVMArena());
  ASSERT_NE(arena.get(), nullptr);
  static std::byte block[64 * 1024];
#if MPS_CHECKED
  EXPECT_DEATH(arena->extend(block, sizeof block), "ASSERTION FAILED: .*client arenas only");
#else
  EXPECT_EQ(arena->extend(block, sizeof block), Res::unimpl);
#endif
}

}  // namespace
