// Bad input through the C interface (issue 2, "Bad input"; errors.md): each
// client mistake is a test expecting its specific assertion report from the
// plinth, or its result code. Checks compiled only into checked builds
// (MPS_AVER) are guarded by MPS_CHECKED; MPS_AVER_ALWAYS ones run in every
// build. Also the plinth hook mps_lib_assert_fail_install.

#include <gtest/gtest.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>

#include "assertions.hpp"
#include "core_arena.hpp"
#include "mps.h"
#include "mpsacl.h"
#include "mpsavm.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpslib.h"

namespace {

using mps::test::assertionReport;
using mps::test::assertionReportContaining;

constexpr const char* kDoubleFree =
    "block being freed is not already free (double free or wrong size)";
constexpr const char* kNotThePools = "block being freed belongs to the pool";

class Misuse : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mps_arena_create_k(&arena_, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
    ASSERT_EQ(mps_pool_create(&mfs_, arena_, mps_class_mfs(), size_t(65536), size_t(24)),
              MPS_RES_OK);
    ASSERT_EQ(mps_pool_create_k(&mvff_, arena_, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  }
  void TearDown() override {
    if (mvff_ != nullptr) mps_pool_destroy(mvff_);
    if (mfs_ != nullptr) mps_pool_destroy(mfs_);
    mps_arena_destroy(arena_);
  }
  mps_arena_t arena_ = nullptr;
  mps_pool_t mfs_ = nullptr, mvff_ = nullptr;
};

using MisuseDeathTest = Misuse;

// Free with a wrong size ------------------------------------------------------------

TEST_F(MisuseDeathTest, MFSFreeWithAWrongSizeNamesTheUnitSize) {
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, mfs_, 24), MPS_RES_OK);
  EXPECT_DEATH(mps_free(mfs_, p, 32), assertionReport("size == unroundedUnitSize_"));
  EXPECT_DEATH(mps_alloc(&p, mfs_, 23), assertionReport("size == unroundedUnitSize_"));
}

TEST_F(MisuseDeathTest, MVFFFreeWithAWrongSizeOverlappingFreeSpace) {
  mps_addr_t a = nullptr, b = nullptr;
  ASSERT_EQ(mps_alloc(&a, mvff_, 64), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&b, mvff_, 64), MPS_RES_OK);
  char* lo = std::min(static_cast<char*>(a), static_cast<char*>(b));
  char* hi = std::max(static_cast<char*>(a), static_cast<char*>(b));
  ASSERT_EQ(hi - lo, 64);  // neighbours, whichever way the pool allocates
  mps_free(mvff_, hi, 64);
  // The lower block with the upper one's size added runs into free space.
  EXPECT_DEATH(mps_free(mvff_, lo, 128), assertionReportContaining(kDoubleFree));
  mps_free(mvff_, lo, 64);
}

TEST_F(MisuseDeathTest, MVFFDoubleFree) {
  mps_addr_t a = nullptr, keep = nullptr;
  ASSERT_EQ(mps_alloc(&a, mvff_, 100), MPS_RES_OK);
  ASSERT_EQ(mps_alloc(&keep, mvff_, 100), MPS_RES_OK);
  mps_free(mvff_, a, 100);
  EXPECT_DEATH(mps_free(mvff_, a, 100), assertionReportContaining(kDoubleFree));
  // Partly free: a sub-range of a freed block.
  EXPECT_DEATH(mps_free(mvff_, static_cast<char*>(a) + 16, 16),
               assertionReportContaining(kDoubleFree));
  mps_free(mvff_, keep, 100);
}

// Free of an address the pool never gave out ---------------------------------------

TEST_F(MisuseDeathTest, MVFFFreeOfAnotherPoolsBlockOrAStackAddress) {
  mps_addr_t theirs = nullptr;
  ASSERT_EQ(mps_alloc(&theirs, mfs_, 24), MPS_RES_OK);
  mps_addr_t mine = nullptr;
  ASSERT_EQ(mps_alloc(&mine, mvff_, 24), MPS_RES_OK);
  alignas(16) char local[64];
  EXPECT_DEATH(mps_free(mvff_, theirs, 24), assertionReportContaining(kNotThePools));
  EXPECT_DEATH(mps_free(mvff_, local, 24), assertionReportContaining(kNotThePools));
  EXPECT_DEATH(mps_free(mvff_, static_cast<char*>(mine) + 1, 8),
               assertionReportContaining("aligned to the pool alignment"));
}

#if MPS_CHECKED
TEST_F(MisuseDeathTest, MFSFreeOfAnotherPoolsBlockOrAStackAddress) {
  mps_addr_t theirs = nullptr;
  ASSERT_EQ(mps_alloc(&theirs, mvff_, 24), MPS_RES_OK);
  alignas(16) char local[64];
  EXPECT_DEATH(mps_free(mfs_, theirs, 24), assertionReport("arena_->poolOf(p) == this"));
  EXPECT_DEATH(mps_free(mfs_, local, 24), assertionReport("arena_->poolOf(p) == this"));
}
#endif

TEST_F(MisuseDeathTest, MFSFreeOfAMisalignedAddress) {
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, mfs_, 24), MPS_RES_OK);
  EXPECT_DEATH(mps_free(mfs_, static_cast<char*>(p) + 3, 24),
               assertionReport("p != nullptr && isAligned(p, alignment_)"));
}

// Zero size -------------------------------------------------------------------------

TEST_F(MisuseDeathTest, ZeroSizeAllocAndFree) {
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, mvff_, 8), MPS_RES_OK);
  for (mps_pool_t pool : {mfs_, mvff_}) {
    EXPECT_DEATH(mps_alloc(&p, pool, 0), assertionReport("api/pool.cpp", "size > 0"));
    EXPECT_DEATH(mps_free(pool, p, 0), assertionReport("api/pool.cpp", "size > 0"));
  }
}

// A class that does not support the call --------------------------------------------

TEST_F(MisuseDeathTest, AllocAndFreeOnAClassWithoutThem) {
  // No manual class lacks mps_alloc yet, so a test class registered through
  // the core stands in for one (as AMC will).
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create_k(&pool, arena_, mps::test::toHandle(&mps::test::kTestPoolClassNone),
                              mps_args_none),
            MPS_RES_OK);
  mps_addr_t p = nullptr;
  EXPECT_DEATH(mps_alloc(&p, pool, 16),
               assertionReportContaining("\"pool class supports mps_alloc\""));
  ASSERT_EQ(mps_alloc(&p, mvff_, 16), MPS_RES_OK);
  EXPECT_DEATH(mps_free(pool, p, 16),
               assertionReportContaining("\"pool class supports mps_free\""));
  mps_pool_destroy(pool);
}

// Destroying things still in use ----------------------------------------------------

TEST_F(MisuseDeathTest, DestroyingAnArenaThatStillHasPools) {
  EXPECT_DEATH(mps_arena_destroy(arena_), assertionReportContaining("arena has no pools"));
  mps_pool_destroy(mfs_);
  mfs_ = nullptr;
  EXPECT_DEATH(mps_arena_destroy(arena_), assertionReportContaining("arena has no pools"));
}

TEST_F(MisuseDeathTest, DestroyingAPoolWithAnAttachedCache) {
  mps_sac_class_s classes[] = {{16, 10, 1}, {64, 10, 1}};
  mps_sac_t sac = nullptr;
  ASSERT_EQ(mps_sac_create(&sac, mvff_, 2, classes), MPS_RES_OK);
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_sac_alloc(&p, sac, 16, 0), MPS_RES_OK);
  mps_sac_free(sac, p, 16);
  EXPECT_DEATH(mps_pool_destroy(mvff_),
               assertionReportContaining("pool has no segregated allocation caches"));
  mps_sac_destroy(sac);
  mps_pool_destroy(mvff_);  // fine once the cache is gone
  mvff_ = nullptr;
}

// Other argument checks -------------------------------------------------------------

TEST_F(MisuseDeathTest, NullOutputPointers) {
  EXPECT_DEATH(mps_alloc(nullptr, mvff_, 8), assertionReport("pOut != NULL"));
  EXPECT_DEATH(mps_arena_create_k(nullptr, mps_arena_class_vm(), mps_args_none),
               assertionReport("arenaOut != NULL"));
  EXPECT_DEATH(mps_pool_create_k(nullptr, arena_, mps_class_mfs(), mps_args_none),
               assertionReport("poolOut != NULL"));
  EXPECT_DEATH(mps_addr_pool(nullptr, arena_, this), assertionReport("poolOut != NULL"));
}

TEST_F(MisuseDeathTest, SpareOutsideZeroToOne) {
  EXPECT_DEATH(mps_arena_spare_set(arena_, 1.5),
               assertionReport("fraction >= 0.0 && fraction <= 1.0"));
  EXPECT_DEATH(mps_arena_spare_set(arena_, -1.0),
               assertionReport("fraction >= 0.0 && fraction <= 1.0"));
}

TEST_F(MisuseDeathTest, MVFFCreationArgumentsAreChecked) {
  mps_pool_t pool = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ALIGN, 24);
    EXPECT_DEATH(mps_pool_create_k(&pool, arena_, mps_class_mvff(), args),
                 assertionReport("isPowerOfTwo(align)"));
  }
  MPS_ARGS_END(args);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, 0);
    EXPECT_DEATH(mps_pool_create_k(&pool, arena_, mps_class_mvff(), args),
                 assertionReport("extendBy_ > 0"));
  }
  MPS_ARGS_END(args);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_MEAN_SIZE, 0);
    EXPECT_DEATH(mps_pool_create_k(&pool, arena_, mps_class_mvff(), args),
                 assertionReport("meanSize_ > 0"));
  }
  MPS_ARGS_END(args);
}

TEST_F(MisuseDeathTest, MFSCreationWithoutAUnitSize) {
  mps_pool_t pool = nullptr;
  EXPECT_DEATH(mps_pool_create_k(&pool, arena_, mps_class_mfs(), mps_args_none),
               assertionReport("MPS_KEY_MFS_UNIT_SIZE"));
}

#if MPS_CHECKED
// What reports a pool handle that is no pool: the library's signature check,
// or, under UBSan, its vptr check, which stops the program at the first
// member access through such a pointer, before the library can look.
std::string badPoolReport() {
#if MPS_TEST_UBSAN
  return "runtime error: member access within address .* which does not point to an object "
         "of type 'Pool'";
#else
  return assertionReport("check of Pool pool");
#endif
}

TEST_F(MisuseDeathTest, GarbageHandlesAreCaughtInCheckedBuilds) {
  alignas(64) static char garbage[4096];
  std::memset(garbage, 0, sizeof garbage);
  auto pool = reinterpret_cast<mps_pool_t>(garbage);
  auto arena = reinterpret_cast<mps_arena_t>(garbage);
  mps_addr_t p = nullptr;
  EXPECT_DEATH(mps_alloc(&p, pool, 8), badPoolReport());
  EXPECT_DEATH(mps_pool_destroy(pool), badPoolReport());
  EXPECT_DEATH(mps_arena_committed(arena), assertionReport("check of Arena arena"));
  EXPECT_DEATH(mps_arena_destroy(arena), assertionReport("check of Arena arena"));
  // A destroyed pool's handle.
  mps_pool_t dead = nullptr;
  ASSERT_EQ(mps_pool_create(&dead, arena_, mps_class_mfs(), size_t(4096), size_t(8)), MPS_RES_OK);
  mps_pool_destroy(dead);
  EXPECT_DEATH(mps_alloc(&p, dead, 8), badPoolReport());
}

TEST(StaleHandleDeathTest, DestroyedClientArenaIsCaught) {
  // A client arena's memory outlives it, so its handle still points at
  // readable memory: the signature must have been cleared.
  alignas(8192) static char block[1 << 20];
  mps_arena_t arena = nullptr;
  ASSERT_EQ(mps_arena_create(&arena, mps_arena_class_cl(), sizeof block, (mps_addr_t)block),
            MPS_RES_OK);
  mps_arena_destroy(arena);
  EXPECT_DEATH(mps_arena_committed(arena), assertionReport("check of Arena arena"));
  EXPECT_DEATH(mps_arena_destroy(arena), assertionReport("check of Arena arena"));
}

TEST_F(MisuseDeathTest, ExtendingAVMArena) {
  static char block[65536];
  EXPECT_DEATH(mps_arena_extend(arena_, block, sizeof block),
               assertionReportContaining("client arenas only"));
}
#endif

// The plinth's assertion handler ----------------------------------------------------

std::jmp_buf gJump;
std::string gFile, gCondition;
unsigned gLine = 0;
int gCalls = 0;

extern "C" void recordAndJump(const char* file, unsigned line, const char* condition) {
  ++gCalls;
  gFile = file;
  gLine = line;
  gCondition = condition;
  std::longjmp(gJump, 1);
}

extern "C" void reportAndAbort(const char* file, unsigned line, const char* condition) {
  std::fprintf(stderr, "custom handler: file=%s line=%u condition=%s\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

// Restores the default handler however the test ends.
struct HandlerScope {
  explicit HandlerScope(mps_lib_assert_fail_t h) : previous(mps_lib_assert_fail_install(h)) {}
  ~HandlerScope() { mps_lib_assert_fail_install(previous); }
  mps_lib_assert_fail_t previous;
};

TEST_F(Misuse, InstalledHandlerReceivesFileLineAndCondition) {
  gCalls = 0;
  {
    HandlerScope scope(&recordAndJump);
    EXPECT_NE(scope.previous, nullptr);
    // Installing returns the handler it replaces.
    EXPECT_EQ(mps_lib_assert_fail_install(&recordAndJump), &recordAndJump);
    mps_addr_t p = nullptr;
    // The zero-size check comes before the arena lock is taken, so jumping
    // out of the handler leaves the arena usable.
    if (setjmp(gJump) == 0) {
      mps_alloc(&p, mvff_, 0);
      ADD_FAILURE() << "the handler was not called";
    }
  }
  EXPECT_EQ(gCalls, 1);
  EXPECT_EQ(gCondition, "size > 0");
  EXPECT_GT(gLine, 0u);
  ASSERT_GE(gFile.size(), std::strlen("api/pool.cpp"));
  EXPECT_EQ(gFile.substr(gFile.size() - std::strlen("api/pool.cpp")), "api/pool.cpp");
  // The arena and pool carry on.
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, mvff_, 32), MPS_RES_OK);
  mps_free(mvff_, p, 32);
}

TEST_F(MisuseDeathTest, InstalledHandlerReplacesTheDefaultReport) {
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_alloc(&p, mfs_, 24), MPS_RES_OK);
  EXPECT_DEATH(
      {
        mps_lib_assert_fail_install(&reportAndAbort);
        mps_free(mfs_, p, 25);
      },
      "custom handler: file=[^ ]*pools/mfs/mfs\\.hpp line=[0-9]+ "
      "condition=size == unroundedUnitSize_");
  // Without the custom handler, the default report.
  EXPECT_DEATH(mps_free(mfs_, p, 25),
               assertionReport("pools/mfs/mfs.hpp", "size == unroundedUnitSize_"));
}

TEST(Plinth, InstallingNullRestoresTheDefault) {
  mps_lib_assert_fail_t original = mps_lib_assert_fail_install(&reportAndAbort);
  EXPECT_EQ(mps_lib_assert_fail_install(nullptr), &reportAndAbort);
  mps_lib_assert_fail_t restored = mps_lib_assert_fail_install(original);
  EXPECT_EQ(restored, original);  // null meant the default, which was the original
}

}  // namespace
