// The client arena (arena.md, "Client arena") and the extension and
// contraction callbacks of both arena classes.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include "arena/arena.hpp"
#include "assertions.hpp"
#include "core_arena.hpp"
#include "mpsacl.h"

namespace {

using namespace mps::core;
using mps::test::ArenaGuard;
using mps::test::Args;

constexpr Size KiB = 1024, MiB = 1024 * KiB;
constexpr Size kClientGrain = 8192;  // the documented default

// A malloc'd block freed at the end of the test.
struct Block {
  explicit Block(Size n) : bytes(static_cast<std::byte*>(std::malloc(n))), size(n) {}
  ~Block() { std::free(bytes); }
  std::byte* bytes;
  Size size;
  std::byte* end() const { return bytes + size; }
};

Res makeClient(ArenaGuard& out, void* base, Size size, Args extra = Args()) {
  extra.addr(MPS_KEY_ARENA_CL_BASE, base).size(MPS_KEY_ARENA_SIZE, size);
  return Arena::create(out.out(), &kArenaClassClient, extra);
}

TEST(ClientArena, LivesEntirelyInsideItsBlock) {
  Block block(4 * MiB + 100);
  std::byte* base = block.bytes + 3;  // deliberately misaligned
  Size size = block.size - 3;
  ArenaGuard arena;
  ASSERT_EQ(makeClient(arena, base, size), Res::ok);
  EXPECT_FALSE(arena->isVirtual());
  EXPECT_EQ(arena->grainSize(), kClientGrain);
  // The arena object itself is in the block.
  EXPECT_GE(reinterpret_cast<std::byte*>(arena.get()), base);
  EXPECT_LT(reinterpret_cast<std::byte*>(arena.get()), block.end());

  Addr usable = alignUp(base, kClientGrain);
  Size usableSize = alignDown(Size(block.end() - usable), kClientGrain);
  EXPECT_EQ(arena->reserved(), usableSize);
  EXPECT_EQ(arena->committed(), Chunk::headerBytes(usableSize, log2(kClientGrain), sizeof(Arena)));
  EXPECT_EQ(arena->spareCommitted(), 0u);

  // Fill it: every grain is inside the block, none twice.
  std::set<Addr> seen;
  Addr p = nullptr;
  Res res;
  while ((res = arena->allocGrains(&p, kClientGrain, nullptr, seen.size() % 2 == 1)) == Res::ok) {
    EXPECT_GE(p, base);
    EXPECT_LE(p + kClientGrain, block.end());
    EXPECT_TRUE(isAligned(p, kClientGrain));
    EXPECT_TRUE(seen.insert(p).second);
    std::memset(p, 0x11, kClientGrain);
    ASSERT_LT(seen.size(), 1024u);
  }
  EXPECT_NE(res, Res::ok);
  Chunk* chunk = arena->chunkOf(p = *seen.begin());
  ASSERT_NE(chunk, nullptr);
  EXPECT_EQ(seen.size(), chunk->grains - chunk->firstUsable);
  EXPECT_EQ(arena->reserved(), usableSize);  // a client arena never grows by itself
  EXPECT_EQ(arena->committed(), usableSize);

  // Freed grains are simply unused: never spare.
  Size committed = arena->committed();
  arena->freeGrains(p, kClientGrain);
  EXPECT_EQ(arena->spareCommitted(), 0u);
  EXPECT_EQ(arena->committed(), committed - kClientGrain);
  Addr q = nullptr;
  ASSERT_EQ(arena->allocGrains(&q, kClientGrain, nullptr), Res::ok);
  EXPECT_EQ(q, p);
  EXPECT_EQ(arena->committed(), committed);
}

TEST(ClientArena, SpareIsAlwaysZeroAndOnlyRecorded) {
  Block block(2 * MiB);
  ArenaGuard arena;
  ASSERT_EQ(makeClient(arena, block.bytes, block.size), Res::ok);
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, 16 * kClientGrain, nullptr), Res::ok);
  arena->setSpare(1.0);
  arena->freeGrains(p, 16 * kClientGrain);
  EXPECT_EQ(arena->spareCommitted(), 0u);
  EXPECT_EQ(arena->spare(), 1.0);
  arena->setSpare(0.25);
  EXPECT_EQ(arena->spare(), 0.25);
  EXPECT_EQ(arena->spareCommitted(), 0u);
}

TEST(ClientArena, GrainSizeKeyIsHonoured) {
  Block block(1 * MiB);
  ArenaGuard arena;
  Args args;
  args.size(MPS_KEY_ARENA_GRAIN_SIZE, 4096);
  ASSERT_EQ(makeClient(arena, block.bytes, block.size, args), Res::ok);
  EXPECT_EQ(arena->grainSize(), 4096u);
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, 4096, nullptr), Res::ok);
  EXPECT_TRUE(isAligned(p, 4096));
}

TEST(ClientArena, BlockTooSmallFailsWithMemory) {
  // Grow the block a grain at a time: every size below the smallest that
  // works fails with Res::memory, and the smallest holds exactly one grain.
  Block block(64 * kClientGrain);
  std::byte* base = alignUp(block.bytes, kClientGrain);
  Size n = 0;
  for (n = 0; n < 48; ++n) {
    ArenaGuard arena;
    Res res = makeClient(arena, base, n * kClientGrain);
    if (res == Res::ok) {
      Addr p = nullptr;
      EXPECT_EQ(arena->allocGrains(&p, kClientGrain, nullptr), Res::ok);
      EXPECT_NE(arena->allocGrains(&p, kClientGrain, nullptr), Res::ok);
      break;
    }
    EXPECT_EQ(res, Res::memory) << n << " grains";
  }
  EXPECT_GT(n, 1u);
  EXPECT_LT(n, 48u);
  // Less than a grain once aligned, and a block wholly inside one grain.
  ArenaGuard arena;
  EXPECT_EQ(makeClient(arena, base + 1, kClientGrain), Res::memory);
  EXPECT_EQ(makeClient(arena, base + 1, 100), Res::memory);
}

TEST(ClientArena, ExtendAddsABlockThatServesLaterAllocations) {
  Block first(1 * MiB), second(2 * MiB + 5), tiny(kClientGrain);
  ArenaGuard arena;
  ASSERT_EQ(makeClient(arena, first.bytes, first.size), Res::ok);
  Addr p = nullptr;
  while (arena->allocGrains(&p, kClientGrain, nullptr) == Res::ok) {
  }
  Size reserved = arena->reserved();

  // Too small for a chunk's header and table: refused, nothing changes.
  EXPECT_EQ(arena->extend(tiny.bytes, tiny.size), Res::memory);
  EXPECT_EQ(arena->reserved(), reserved);

  Size committed = arena->committed();
  ASSERT_EQ(arena->extend(second.bytes, second.size), Res::ok);
  Addr usable = alignUp(second.bytes, kClientGrain);
  Size usableSize = alignDown(Size(second.end() - usable), kClientGrain);
  EXPECT_EQ(arena->reserved(), reserved + usableSize);
  EXPECT_EQ(arena->committed(), committed + Chunk::headerBytes(usableSize, log2(kClientGrain)));
  EXPECT_TRUE(arena->hasAddr(usable));

  int count = 0;
  while (arena->allocGrains(&p, 4 * kClientGrain, nullptr) == Res::ok) {
    EXPECT_GE(p, second.bytes);
    EXPECT_LE(p + 4 * kClientGrain, second.end());
    std::memset(p, 0x22, 4 * kClientGrain);
    ++count;
  }
  EXPECT_GE(count, 50);
}

TEST(ClientArena, BlocksSharingAGranuleAreToldApart) {
  // Two client chunks in one 1 MiB granule of the chunk map, with a gap:
  // lookups must still name the right chunk, and the gap nothing.
  Block block(4 * MiB);
  std::byte* base = alignUp(block.bytes, MiB) + 64 * KiB;
  std::byte* mid = base + 320 * KiB;
  std::byte* second = mid + 2 * kClientGrain;  // a two-grain gap
  ArenaGuard arena;
  ASSERT_EQ(makeClient(arena, base, Size(mid - base)), Res::ok);
  ASSERT_EQ(arena->extend(second, 320 * KiB), Res::ok);
  Chunk* c1 = arena->chunkOf(base);
  Chunk* c2 = arena->chunkOf(second);
  ASSERT_NE(c1, nullptr);
  ASSERT_NE(c2, nullptr);
  EXPECT_NE(c1, c2);
  EXPECT_EQ(arena->chunkOf(mid - 1), c1);
  EXPECT_EQ(arena->chunkOf(second + 320 * KiB - 1), c2);
  for (const std::byte* out : {base - 1, mid, mid + kClientGrain, second - 1, second + 320 * KiB,
                               alignUp(block.bytes, MiB)}) {
    EXPECT_FALSE(arena->hasAddr(out)) << static_cast<const void*>(out);
    EXPECT_EQ(arena->poolOf(out), nullptr);
  }
  Addr p = nullptr, q = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, kClientGrain, nullptr), Res::ok);
  ASSERT_EQ(arena->allocGrains(&q, kClientGrain, nullptr, true), Res::ok);
  EXPECT_EQ(arena->chunkOf(p), c1);
  EXPECT_TRUE(arena->chunkOf(q) == c1 || arena->chunkOf(q) == c2);
}

TEST(ClientArena, CommitLimitApplies) {
  Block block(2 * MiB);
  ArenaGuard arena;
  ASSERT_EQ(makeClient(arena, block.bytes, block.size), Res::ok);
  Addr p = nullptr;
  ASSERT_EQ(arena->allocGrains(&p, kClientGrain, nullptr), Res::ok);
  ASSERT_EQ(arena->setCommitLimit(arena->committed() + 2 * kClientGrain), Res::ok);
  Addr a = nullptr, b = nullptr;
  EXPECT_EQ(arena->allocGrains(&a, 3 * kClientGrain, nullptr), Res::commitLimit);
  ASSERT_EQ(arena->allocGrains(&a, 2 * kClientGrain, nullptr), Res::ok);
  EXPECT_EQ(arena->allocGrains(&b, kClientGrain, nullptr), Res::commitLimit);
  arena->freeGrains(a, 2 * kClientGrain);
  EXPECT_EQ(arena->allocGrains(&b, kClientGrain, nullptr), Res::ok);
  EXPECT_EQ(arena->setCommitLimit(0), Res::fail);
}

// errors.md: a client arena without room for a request lacks memory
// (MPS_RES_MEMORY), whatever the request's size, up to the largest a chunk
// could ever hold; beyond that every arena class lacks address space
// (MPS_RES_RESOURCE). A sweep over sizes from one grain to the largest, on
// an empty arena and on one with a grain in use.
TEST(ClientArena, RequestsThatDoNotFitFailWithMemoryUpToTheLargestChunk) {
  Block block(1 * MiB);
  ArenaGuard arena;
  ASSERT_EQ(makeClient(arena, block.bytes, block.size), Res::ok);
  Chunk* chunk = nullptr;
  Addr first = nullptr;
  ASSERT_EQ(arena->allocGrains(&first, kClientGrain, nullptr), Res::ok);
  chunk = arena->chunkOf(first);
  ASSERT_NE(chunk, nullptr);
  const Size freeGrains = chunk->grains - chunk->firstUsable - 1;
  const Size maxRequest = alignDown(~Size(0), kClientGrain);
  std::vector<Size> sizes;
  for (Size grains = 1; grains <= freeGrains + 2; ++grains)
    sizes.push_back(grains * kClientGrain);
  for (unsigned shift = 20; shift < sizeof(Size) * 8; ++shift) {
    Size s = Size(1) << shift;
    for (Size size : {s - kClientGrain, s, s + kClientGrain})
      if (size >= kClientGrain && size <= maxRequest)
        sizes.push_back(alignDown(size, kClientGrain));
  }
  sizes.push_back(alignDown(Arena::kMaxChunkRequest, kClientGrain));
  sizes.push_back(alignUp(Arena::kMaxChunkRequest, kClientGrain));
  sizes.push_back(maxRequest);
  Size committed = arena->committed();
  for (Size size : sizes) {
    Addr p = nullptr;
    Res res = arena->allocGrains(&p, size, nullptr);
    Res expected = size <= freeGrains * kClientGrain ? Res::ok
                   : size <= Arena::kMaxChunkRequest ? Res::memory
                                                     : Res::resource;
    EXPECT_EQ(res, expected) << size << " bytes";
    if (res == Res::ok) {
      arena->freeGrains(p, size);
    } else {
      EXPECT_EQ(p, nullptr);
      EXPECT_EQ(arena->committed(), committed) << "a failure leaves the arena as it was";
    }
  }
  // A full arena fails every size the same way.
  Addr rest = nullptr;
  ASSERT_EQ(arena->allocGrains(&rest, freeGrains * kClientGrain, nullptr), Res::ok);
  Addr p = nullptr;
  EXPECT_EQ(arena->allocGrains(&p, kClientGrain, nullptr), Res::memory);
  EXPECT_EQ(arena->allocGrains(&p, Size(1) << 40, nullptr), Res::memory);
  EXPECT_EQ(arena->allocGrains(&p, maxRequest, nullptr), Res::resource);
}

TEST(ClientArenaDeathTest, MissingRequiredKeysAreNamed) {
  Block block(1 * MiB);
  Arena* arena = nullptr;
  {
    Args args;
    args.size(MPS_KEY_ARENA_SIZE, block.size);
    EXPECT_DEATH(Arena::create(&arena, &kArenaClassClient, args),
                 mps::test::assertionReport("MPS_KEY_ARENA_CL_BASE"));
  }
  {
    Args args;
    args.addr(MPS_KEY_ARENA_CL_BASE, block.bytes);
    EXPECT_DEATH(Arena::create(&arena, &kArenaClassClient, args),
                 mps::test::assertionReport("MPS_KEY_ARENA_SIZE"));
  }
}

TEST(ClientArenaDeathTest, ExtendWithZeroSizeIsCaught) {
  Block block(1 * MiB);
  ArenaGuard arena;
  ASSERT_EQ(makeClient(arena, block.bytes, block.size), Res::ok);
  EXPECT_DEATH(arena->extend(block.bytes, 0), mps::test::assertionReport("blockSize > 0"));
}

TEST(ClientArenaDeathTest, ExtendWithAnOverlappingBlockIsCaught) {
  // A block already in the arena (or overlapping one) would be handed out
  // twice and its header written over live memory.
  Block block(4 * MiB);
  std::byte* base = alignUp(block.bytes, kClientGrain);
  ArenaGuard arena;
  ASSERT_EQ(makeClient(arena, base, 1 * MiB), Res::ok);
  ASSERT_EQ(arena->extend(base + 2 * MiB, 1 * MiB), Res::ok);
  EXPECT_DEATH(arena->extend(base, 1 * MiB), mps::test::assertionReportContaining("overlap"));
  EXPECT_DEATH(arena->extend(base + 1 * MiB - kClientGrain, 1 * MiB),
               mps::test::assertionReportContaining("overlap"));
  EXPECT_DEATH(arena->extend(base + 1 * MiB + 512 * KiB, 1 * MiB),
               mps::test::assertionReportContaining("overlap"));
  // Adjacent is fine.
  EXPECT_EQ(arena->extend(base + 1 * MiB, 1 * MiB), Res::ok);
}

// Callbacks -----------------------------------------------------------------------

struct Event {
  mps_arena_t arena = nullptr;
  void* base = nullptr;
  size_t size;
  bool operator<(const Event& o) const {
    return std::tie(arena, base, size) < std::tie(o.arena, o.base, o.size);
  }
  bool operator==(const Event& o) const {
    return arena == o.arena && base == o.base && size == o.size;
  }
};
std::vector<Event> gExtended, gContracted;

void onExtended(mps_arena_t arena, void* base, size_t size) {
  gExtended.push_back({arena, base, size});
}
void onContracted(mps_arena_t arena, void* base, size_t size) {
  gContracted.push_back({arena, base, size});
}

Args callbackArgs() {
  Args args;
  args.fun(MPS_KEY_ARENA_EXTENDED, reinterpret_cast<mps_fun_t>(&onExtended))
      .fun(MPS_KEY_ARENA_CONTRACTED, reinterpret_cast<mps_fun_t>(&onContracted));
  return args;
}

// Every extension names a distinct chunk of `arena` exactly.
void expectExtensionsAreChunks(Arena* arena) {
  std::set<void*> bases;
  for (const Event& e : gExtended) {
    EXPECT_EQ(e.arena, reinterpret_cast<mps_arena_t>(arena));
    Chunk* chunk = arena->chunkOf(e.base);
    ASSERT_NE(chunk, nullptr);
    EXPECT_EQ(static_cast<void*>(chunk->reservedBase), e.base);
    EXPECT_EQ(chunk->reservedSize, e.size);
    EXPECT_TRUE(bases.insert(e.base).second);
  }
}

// The contractions are the extensions, one to one.
void expectContractionsMatch() {
  std::vector<Event> e = gExtended, c = gContracted;
  std::sort(e.begin(), e.end());
  std::sort(c.begin(), c.end());
  EXPECT_EQ(e, c);
}

TEST(ArenaCallbacks, VMArenaReportsEveryChunkOnceEachWay) {
  gExtended.clear();
  gContracted.clear();
  Args args = callbackArgs();
  args.size(MPS_KEY_ARENA_SIZE, 1 * MiB);
  Arena* arena = nullptr;
  ASSERT_EQ(Arena::create(&arena, &kArenaClassVM, args), Res::ok);
  ASSERT_EQ(gExtended.size(), 1u);  // the initial chunk, during creation
  EXPECT_EQ(gExtended[0].size, arena->reserved());
  EXPECT_TRUE(gContracted.empty());

  std::set<Chunk*> chunks;
  for (int i = 0; i < 12; ++i) {
    Addr p = nullptr;
    ASSERT_EQ(arena->allocGrains(&p, 512 * KiB, nullptr), Res::ok);
    chunks.insert(arena->chunkOf(p));
  }
  EXPECT_GE(gExtended.size(), 4u);
  EXPECT_EQ(gExtended.size(), chunks.size() + 1 - chunks.count(arena->chunkOf(gExtended[0].base)));
  expectExtensionsAreChunks(arena);
  Size sum = 0;
  for (const Event& e : gExtended)
    sum += e.size;
  EXPECT_EQ(sum, arena->reserved());
  EXPECT_TRUE(gContracted.empty());

  arena->destroy();
  expectContractionsMatch();
}

TEST(ArenaCallbacks, ClientArenaReportsItsBlocks) {
  gExtended.clear();
  gContracted.clear();
  Block b1(1 * MiB), b2(1 * MiB), b3(1 * MiB);
  Args args = callbackArgs();
  args.addr(MPS_KEY_ARENA_CL_BASE, b1.bytes).size(MPS_KEY_ARENA_SIZE, b1.size);
  Arena* arena = nullptr;
  ASSERT_EQ(Arena::create(&arena, &kArenaClassClient, args), Res::ok);
  ASSERT_EQ(gExtended.size(), 1u);
  ASSERT_EQ(arena->extend(b2.bytes, b2.size), Res::ok);
  ASSERT_EQ(arena->extend(b3.bytes, b3.size), Res::ok);
  ASSERT_EQ(gExtended.size(), 3u);
  expectExtensionsAreChunks(arena);
  for (const Event& e : gExtended) {
    bool inBlock = false;
    for (const Block* b : {&b1, &b2, &b3})
      inBlock |= static_cast<std::byte*>(e.base) >= b->bytes &&
                 static_cast<std::byte*>(e.base) + e.size <= b->end();
    EXPECT_TRUE(inBlock);
  }
  EXPECT_TRUE(gContracted.empty());
  arena->destroy();
  expectContractionsMatch();
}

}  // namespace
