// The C++ RAII interface (include/mps/mps.hpp): results, arenas of both
// classes, fixed and variable pools, ownership (moves, reset, destruction
// order) and mixing with the C handles.

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "arena/arena.hpp"
#include "assertions.hpp"
#include "mps/mps.hpp"

namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;

// The number of pools in an arena, read from the core behind the handle.
std::size_t poolCount(const mps::Arena& arena) {
  return reinterpret_cast<mps::core::Arena*>(arena.handle())->poolCount();
}

// Results --------------------------------------------------------------------------

static_assert(!std::is_copy_constructible_v<mps::Arena>);
static_assert(std::is_nothrow_move_constructible_v<mps::Arena>);
static_assert(std::is_nothrow_move_assignable_v<mps::FixedPool>);
static_assert(!std::is_copy_assignable_v<mps::VariablePool>);
static_assert(!std::is_copy_assignable_v<mps::TemporalPool>);
static_assert(bool(mps::Result()));
static_assert(!mps::Result(MPS_RES_FAIL));

TEST(Result, CodesNamesAndTruth) {
  struct Case {
    mps_res_t code;
    mps::Result::Code value;
    const char* name;
  } cases[] = {
      {MPS_RES_OK, mps::Result::ok, "ok"},
      {MPS_RES_FAIL, mps::Result::fail, "failure"},
      {MPS_RES_RESOURCE, mps::Result::resource, "resource"},
      {MPS_RES_MEMORY, mps::Result::memory, "memory"},
      {MPS_RES_LIMIT, mps::Result::limit, "limit"},
      {MPS_RES_UNIMPL, mps::Result::unimpl, "unimplemented"},
      {MPS_RES_IO, mps::Result::io, "i/o"},
      {MPS_RES_COMMIT_LIMIT, mps::Result::commitLimit, "commit limit"},
      {MPS_RES_PARAM, mps::Result::param, "parameter"},
  };
  for (const Case& c : cases) {
    mps::Result r(c.code);
    EXPECT_EQ(r.code(), c.value);
    EXPECT_TRUE(r == c.value);
    EXPECT_EQ(bool(r), c.code == MPS_RES_OK);
    EXPECT_STREQ(r.name(), c.name);
  }
  EXPECT_STREQ(mps::Result(99).name(), "unknown");
}

// Arenas ---------------------------------------------------------------------------

TEST(CppArena, CreateVMWithDefaultsAndOptions) {
  mps::Arena arena;
  EXPECT_FALSE(arena);
  ASSERT_TRUE(mps::Arena::createVM(arena));
  EXPECT_TRUE(arena);
  EXPECT_EQ(arena.reserved(), 256 * MiB);
  EXPECT_EQ(arena.commitLimit(), SIZE_MAX);
  EXPECT_EQ(arena.spare(), 0.75);
  EXPECT_GT(arena.committed(), 0u);

  mps::Arena small;
  mps::Arena::VMOptions options;
  options.reserve = 8 * MiB;
  options.commitLimit = 100 * MiB;
  options.spare = 0.25;
  ASSERT_TRUE(mps::Arena::createVM(small, options));
  EXPECT_EQ(small.reserved(), 8 * MiB);
  EXPECT_EQ(small.commitLimit(), 100 * MiB);
  EXPECT_EQ(small.spare(), 0.25);
  small.setSpare(0.5);
  EXPECT_EQ(small.spare(), 0.5);
  EXPECT_TRUE(small.setCommitLimit(50 * MiB));
  EXPECT_EQ(small.commitLimit(), 50 * MiB);
  EXPECT_EQ(small.setCommitLimit(0), mps::Result::fail);
  EXPECT_EQ(small.commitLimit(), 50 * MiB);
}

TEST(CppArena, FailedCreationLeavesTheObjectEmpty) {
  mps::Arena arena;
  mps::Arena::VMOptions options;
  options.commitLimit = 16 * KiB;
  mps::Result r = mps::Arena::createVM(arena, options);
  EXPECT_EQ(r, mps::Result::commitLimit);
  EXPECT_FALSE(r);
  EXPECT_FALSE(arena);
  EXPECT_EQ(arena.handle(), nullptr);
}

TEST(CppArena, ClientArenaInsideItsBlocks) {
  std::vector<char> block(4 * MiB), more(2 * MiB), tiny(16 * KiB);
  mps::Arena failed;
  EXPECT_EQ(mps::Arena::createClient(failed, tiny.data(), tiny.size()), mps::Result::memory);
  EXPECT_FALSE(failed);

  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createClient(arena, block.data(), block.size()));
  EXPECT_LE(arena.reserved(), block.size());
  EXPECT_TRUE(arena.hasAddr(block.data() + block.size() / 2));
  EXPECT_FALSE(arena.hasAddr(more.data()));
  ASSERT_TRUE(arena.extend(more.data(), more.size()));
  EXPECT_TRUE(arena.hasAddr(more.data() + more.size() / 2));
  EXPECT_EQ(arena.spareCommitted(), 0u);

  mps::FixedPool pool;
  ASSERT_TRUE(mps::FixedPool::create(pool, arena, 100));
  std::vector<void*> blocks;
  void* p = nullptr;
  while (pool.alloc(p)) {
    auto* c = static_cast<char*>(p);
    bool inFirst = c >= block.data() && c + 100 <= block.data() + block.size();
    bool inSecond = c >= more.data() && c + 100 <= more.data() + more.size();
    ASSERT_TRUE(inFirst || inSecond);
    blocks.push_back(p);
  }
  EXPECT_GT(blocks.size() * 100, 5 * MiB);
  for (void* b : blocks)
    pool.free(b);
}

// Pools ----------------------------------------------------------------------------

class CppPools : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(mps::Arena::createVM(arena_)); }
  mps::Arena arena_;
};

TEST_F(CppPools, FixedPoolAllocatesUnitsOfItsSize) {
  mps::FixedPool pool;
  EXPECT_FALSE(pool);
  ASSERT_TRUE(mps::FixedPool::create(pool, arena_, 40, 8192));
  EXPECT_TRUE(pool);
  EXPECT_EQ(pool.unitSize(), 40u);
  EXPECT_EQ(pool.totalSize(), 0u);
  std::vector<void*> units;
  for (int i = 0; i < 1000; ++i) {
    void* p = nullptr;
    ASSERT_TRUE(pool.alloc(p));
    std::memset(p, i & 0xFF, 40);
    units.push_back(p);
  }
  EXPECT_EQ(pool.totalSize() % 8192, 0u);
  EXPECT_LE(pool.freeSize() + 1000 * 40, pool.totalSize());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(static_cast<unsigned char*>(units[i])[39], i & 0xFF);
    EXPECT_TRUE(arena_.hasAddr(units[i]));
  }
  for (void* p : units)
    pool.free(p);
  void* again = nullptr;
  ASSERT_TRUE(pool.alloc(again));
  EXPECT_EQ(again, units.back());  // LIFO reuse
  pool.free(again);
}

TEST_F(CppPools, VariablePoolWithOptionsAndResults) {
  mps::VariablePool pool;
  mps::VariablePool::Options options;
  options.extendBy = 32 * KiB;
  options.align = 32;
  ASSERT_TRUE(mps::VariablePool::create(pool, arena_, options));
  void* p = nullptr;
  ASSERT_TRUE(pool.alloc(p, 100));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 32, 0u);
  EXPECT_EQ(pool.totalSize(), 32 * KiB);
  EXPECT_EQ(pool.freeSize(), 32 * KiB - 128);
  void* huge = nullptr;
  EXPECT_EQ(pool.alloc(huge, SIZE_MAX / 2 + 1), mps::Result::resource);
  EXPECT_EQ(huge, nullptr);
  pool.free(p, 100);
  EXPECT_EQ(pool.freeSize(), pool.totalSize());
}

TEST_F(CppPools, TemporalPoolAllocatesThroughAnAllocationPoint) {
  mps::TemporalPool pool;
  mps::TemporalPool::Options options;
  options.meanSize = options.maxSize = 64;
  options.fragLimit = 0.5;
  ASSERT_TRUE(mps::TemporalPool::create(pool, arena_, options));
  mps::AllocationPoint ap;
  ASSERT_TRUE(mps::AllocationPoint::create(ap, pool));
  std::vector<std::uint64_t*> blocks;
  for (int i = 0; i < 100; ++i) {
    std::uint64_t* p = nullptr;
    ASSERT_TRUE(ap.allocate(p, 64, [i](std::uint64_t* q) { q[0] = std::uint64_t(i); }));
    if (!blocks.empty()) {
      EXPECT_EQ(p, blocks.back() + 8);  // next to each other
    }
    blocks.push_back(p);
  }
  EXPECT_EQ(pool.totalSize() - pool.freeSize(), 100u * 64);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(*blocks[std::size_t(i)], std::uint64_t(i));
    pool.free(blocks[std::size_t(i)], 64);
  }
  EXPECT_EQ(pool.freeSize(), pool.totalSize());
}

TEST_F(CppPools, CommitLimitIsAResultNotAnException) {
  mps::VariablePool pool;
  ASSERT_TRUE(mps::VariablePool::create(pool, arena_));
  ASSERT_TRUE(arena_.setCommitLimit(arena_.committed() + 1 * MiB));
  std::vector<void*> blocks;
  mps::Result r;
  void* p = nullptr;
  while ((r = pool.alloc(p, 64 * KiB)))
    blocks.push_back(p);
  EXPECT_EQ(r, mps::Result::commitLimit);
  EXPECT_STREQ(r.name(), "commit limit");
  pool.free(blocks.back(), 64 * KiB);
  blocks.pop_back();
  EXPECT_TRUE(pool.alloc(p, 64 * KiB));
  blocks.push_back(p);
  for (void* b : blocks)
    pool.free(b, 64 * KiB);
}

TEST_F(CppPools, HandlesMixWithTheCInterface) {
  mps::FixedPool pool;
  ASSERT_TRUE(mps::FixedPool::create(pool, arena_, 16));
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, pool.handle(), 16), MPS_RES_OK);
  mps_pool_t owner = nullptr;
  EXPECT_TRUE(mps_addr_pool(&owner, arena_.handle(), p));
  EXPECT_EQ(owner, pool.handle());
  pool.free(p);
}

TEST_F(CppPools, AllocationCacheInFrontOfAVariablePool) {
  mps::VariablePool pool;
  ASSERT_TRUE(mps::VariablePool::create(pool, arena_));
  const mps::SizeClass classes[] = {{16, 32, 4}, {64, 16, 2}, {256, 8, 1}};
  mps::AllocationCache cache;
  EXPECT_FALSE(cache);
  ASSERT_TRUE(mps::AllocationCache::create(cache, pool, classes));
  EXPECT_TRUE(cache);
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t size : {1, 16, 17, 64, 100, 256, 1000, 5000}) {
    for (int i = 0; i < 50; ++i) {
      void* p = nullptr;
      ASSERT_TRUE(cache.alloc(p, size)) << size;
      std::memset(p, int(size & 0xFF), size);
      blocks.emplace_back(p, size);
    }
  }
  for (auto& [p, size] : blocks) {
    ASSERT_EQ(static_cast<unsigned char*>(p)[size - 1], size & 0xFF);
    mps_pool_t owner = nullptr;
    ASSERT_TRUE(mps_addr_pool(&owner, arena_.handle(), p));
    ASSERT_EQ(owner, pool.handle());
  }
  for (auto& [p, size] : blocks)
    cache.free(p, size);
  // Cached blocks still count as allocated in the pool until flushed.
  EXPECT_LT(pool.freeSize(), pool.totalSize());
  cache.flush();
  EXPECT_EQ(pool.freeSize(), pool.totalSize());
  // A cache moves like the other handles.
  mps::AllocationCache moved(std::move(cache));
  EXPECT_FALSE(cache);  // NOLINT(bugprone-use-after-move)
  void* p = nullptr;
  ASSERT_TRUE(moved.alloc(p, 64));
  moved.free(p, 64);
  // Reverse order of creation: the cache before its pool.
}

TEST_F(CppPools, AllocationCacheOverAFixedPool) {
  mps::FixedPool pool;
  ASSERT_TRUE(mps::FixedPool::create(pool, arena_, 32));
  const mps::SizeClass classes[] = {{32, 100, 1}};
  mps::AllocationCache cache;
  ASSERT_TRUE(mps::AllocationCache::create(cache, pool, classes));
  void* a = nullptr;
  void* b = nullptr;
  ASSERT_TRUE(cache.alloc(a, 32));
  ASSERT_TRUE(cache.alloc(b, 32));
  EXPECT_NE(a, b);
  cache.free(a, 32);
  void* c = nullptr;
  ASSERT_TRUE(cache.alloc(c, 32));
  EXPECT_EQ(c, a);  // straight back from the cache
  cache.free(b, 32);
  cache.free(c, 32);
  cache.reset();
  EXPECT_EQ(pool.freeSize() % 32, 0u);
}

TEST(CppOwnershipDeathTest, DestroyingAPoolBeforeItsCacheIsCaught) {
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::VariablePool pool;
  ASSERT_TRUE(mps::VariablePool::create(pool, arena));
  const mps::SizeClass classes[] = {{32, 8, 1}};
  mps::AllocationCache cache;
  ASSERT_TRUE(mps::AllocationCache::create(cache, pool, classes));
  EXPECT_DEATH(pool.reset(),
               mps::test::assertionReportContaining("pool has no segregated allocation caches"));
}

TEST(CppOwnership, AllocationCacheServesZeroBytesFromTheSmallestClass) {
  // As malloc(0) does: a distinct block that can be freed with the same size.
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::FixedPool pool;
  ASSERT_TRUE(mps::FixedPool::create(pool, arena, 32));
  const mps::SizeClass classes[] = {{32, 8, 1}};
  mps::AllocationCache cache;
  ASSERT_TRUE(mps::AllocationCache::create(cache, pool, classes));
  void* p = nullptr;
  void* q = nullptr;
  ASSERT_TRUE(cache.alloc(p, 0));
  ASSERT_TRUE(cache.alloc(q, 0));
  EXPECT_NE(p, nullptr);
  EXPECT_NE(p, q);
  cache.free(q, 0);
  cache.free(p, 0);
  void* r = nullptr;
  ASSERT_TRUE(cache.alloc(r, 32));
  EXPECT_EQ(r, p);  // the last block freed, on the same list
  cache.free(r, 32);
}

// Ownership ------------------------------------------------------------------------

TEST_F(CppPools, MovesTransferOwnership) {
  mps::FixedPool a;
  ASSERT_TRUE(mps::FixedPool::create(a, arena_, 32));
  mps_pool_t handle = a.handle();
  EXPECT_EQ(poolCount(arena_), 1u);

  mps::FixedPool b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(a.handle(), nullptr);
  EXPECT_EQ(b.handle(), handle);
  EXPECT_EQ(poolCount(arena_), 1u);

  // Assigning over a pool destroys the one it held.
  mps::FixedPool c;
  ASSERT_TRUE(mps::FixedPool::create(c, arena_, 32));
  EXPECT_EQ(poolCount(arena_), 2u);
  c = std::move(b);
  EXPECT_EQ(poolCount(arena_), 1u);
  EXPECT_EQ(c.handle(), handle);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)

  // Self-assignment keeps it.
  mps::FixedPool& alias = c;
  c = std::move(alias);
  EXPECT_EQ(c.handle(), handle);
  EXPECT_EQ(poolCount(arena_), 1u);

  c.reset();
  EXPECT_FALSE(c);
  EXPECT_EQ(poolCount(arena_), 0u);
  c.reset();  // harmless when empty
}

TEST(CppOwnership, ArenasMoveAndPoolsDieFirstInReverseOrder) {
  mps::Arena outer;
  {
    mps::Arena arena;
    ASSERT_TRUE(mps::Arena::createVM(arena));
    mps::FixedPool fixed;
    mps::VariablePool variable;
    ASSERT_TRUE(mps::FixedPool::create(fixed, arena, 8));
    ASSERT_TRUE(mps::VariablePool::create(variable, arena));
    EXPECT_EQ(poolCount(arena), 2u);
    // Destroyed in reverse order of declaration: pools, then the arena.
  }
  ASSERT_TRUE(mps::Arena::createVM(outer));
  mps_arena_t handle = outer.handle();
  mps::Arena moved(std::move(outer));
  EXPECT_FALSE(outer);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(moved.handle(), handle);
  mps::Arena assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.handle(), handle);
  mps::FixedPool pool;
  ASSERT_TRUE(mps::FixedPool::create(pool, assigned, 64));
  void* p = nullptr;
  ASSERT_TRUE(pool.alloc(p));
  pool.free(p);
  pool.reset();
}

TEST(CppOwnershipDeathTest, DestroyingTheArenaBeforeItsPoolsIsCaught) {
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::FixedPool pool;
  ASSERT_TRUE(mps::FixedPool::create(pool, arena, 8));
  EXPECT_DEATH(arena.reset(), mps::test::assertionReportContaining("arena has no pools"));
  EXPECT_DEATH(
      {
        mps::Arena other;
        ASSERT_TRUE(mps::Arena::createVM(other));
        mps::FixedPool wrongOrder;
        ASSERT_TRUE(mps::FixedPool::create(wrongOrder, other, 8));
        other = mps::Arena();  // assigning over the arena destroys it first
      },
      mps::test::assertionReportContaining("arena has no pools"));
}

TEST(CppOwnershipDeathTest, FixedPoolRejectsMisuseLikeTheCInterface) {
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::FixedPool pool;
  ASSERT_TRUE(mps::FixedPool::create(pool, arena, 24));
  void* p = nullptr;
  ASSERT_TRUE(pool.alloc(p));
  EXPECT_DEATH(pool.free(static_cast<char*>(p) + 1),
               mps::test::assertionReport("p != nullptr && isAligned(p, alignment_)"));
  mps::FixedPool zero;
  EXPECT_DEATH(mps::FixedPool::create(zero, arena, 0),
               mps::test::assertionReport("unroundedUnitSize_ > 0"));
  pool.free(p);
}

}  // namespace
