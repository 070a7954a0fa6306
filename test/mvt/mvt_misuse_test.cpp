// Client mistakes MVT reports, each with the rule it names: keyword values
// out of range, mps_alloc (MVT allocates only through allocation points),
// and frees of memory that is not an allocated block.
#include <cstdlib>

#include "assertions.hpp"
#include "mvt_fixture.hpp"

namespace mps::test {
namespace {

using MVTDeathTest = MVTTest;

const char* const kAlreadyFree =
    "block being freed is not already free (double free or wrong size)";
const char* const kBelongs = "block being freed belongs to the pool";
const char* const kWithin = "block being freed lies within the pool's memory";
const char* const kAligned = "block being freed is aligned to the pool alignment";
const char* const kUnused =
    "block being freed is not in the unused part of an allocation point's buffer";

// Creating a pool with these options dies with `rule`.
void expectCreationDies(mps_arena_t arena, const MVTOptions& o, const char* rule) {
  EXPECT_DEATH(
      {
        mps_pool_t p;
        MVTTest::create(&p, arena, o);
      },
      assertionReportContaining(rule));
}

TEST_F(MVTDeathTest, KeywordRules) {
  MVTOptions o;
  o.fragLimit = 0.0;
  expectCreationDies(arena_, o, "MPS_KEY_MVT_FRAG_LIMIT is in (0.0, 1.0]");
  o.fragLimit = 1.01;
  expectCreationDies(arena_, o, "MPS_KEY_MVT_FRAG_LIMIT is in (0.0, 1.0]");
  // A negative value means "not given" to the fixture: pass it by hand.
  EXPECT_DEATH(
      {
        mps_pool_t p;
        MPS_ARGS_BEGIN(args) {
          MPS_ARGS_ADD(args, MPS_KEY_MVT_FRAG_LIMIT, -0.5);
          mps_pool_create_k(&p, arena_, mps_class_mvt(), args);
        }
        MPS_ARGS_END(args);
      },
      assertionReportContaining("MPS_KEY_MVT_FRAG_LIMIT is in (0.0, 1.0]"));

  o = MVTOptions();
  o.meanSize = 16;
  o.minSize = 32;
  expectCreationDies(arena_, o, "MPS_KEY_MEAN_SIZE is at least MPS_KEY_MIN_SIZE");
  o = MVTOptions();
  o.meanSize = 1024;
  o.maxSize = 512;
  expectCreationDies(arena_, o, "MPS_KEY_MAX_SIZE is at least MPS_KEY_MEAN_SIZE");
  EXPECT_DEATH(
      {
        mps_pool_t p;
        MPS_ARGS_BEGIN(args) {
          MPS_ARGS_ADD(args, MPS_KEY_MIN_SIZE, size_t(0));
          mps_pool_create_k(&p, arena_, mps_class_mvt(), args);
        }
        MPS_ARGS_END(args);
      },
      assertionReportContaining("MPS_KEY_MIN_SIZE is greater than zero"));

  o = MVTOptions();
  o.align = 24;
  expectCreationDies(arena_, o, "MPS_KEY_ALIGN is a power of two");
  o.align = sizeof(void*) / 2;
  expectCreationDies(arena_, o, "MPS_KEY_ALIGN is at least the size of a pointer");
}

TEST_F(MVTDeathTest, AlignmentAboveTheGrainSize) {
  MVTOptions o;
  o.align = size_t(1) << 24;  // above any VM grain (the page size)
  expectCreationDies(arena_, o, "MPS_KEY_ALIGN is at most the arena grain size");
}

TEST_F(MVTDeathTest, VariadicFragLimitOfZeroPercent) {
  EXPECT_DEATH(
      {
        mps_pool_t p;
        mps_pool_create(&p, arena_, mps_class_mvt(), size_t(8), size_t(32), size_t(8192),
                        mps_word_t(1024), mps_word_t(0));
      },
      assertionReportContaining("MPS_KEY_MVT_FRAG_LIMIT is in (0.0, 1.0]"));
}

TEST_F(MVTDeathTest, MpsAllocIsNotSupported) {
  mps_pool_t p = pool();
  mps_addr_t q;
  EXPECT_DEATH(mps_alloc(&q, p, 64), assertionReportContaining("pool class supports mps_alloc"));
}

TEST_F(MVTDeathTest, DestroyingAPoolWithAnAllocationPoint) {
  mps_pool_t p = pool();
  ap(p);
  EXPECT_DEATH(mps_pool_destroy(p),
               assertionReport("pool has no allocation points: destroy them before the pool"));
}

TEST_F(MVTDeathTest, DoubleFree) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  void *x = nullptr, *y = nullptr, *z = nullptr;
  ASSERT_EQ(allocate(&x, a, 64), MPS_RES_OK);
  ASSERT_EQ(allocate(&y, a, 64), MPS_RES_OK);
  ASSERT_EQ(allocate(&z, a, 64), MPS_RES_OK);
  mps_free(p, y, 64);
  EXPECT_DEATH(mps_free(p, y, 64), assertionReportContaining(kAlreadyFree));
  // Wrong sizes running into free space.
  EXPECT_DEATH(mps_free(p, x, 128), assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(mps_free(p, static_cast<char*>(z) - 64, 128),
               assertionReportContaining(kAlreadyFree));
  // Across a word of the bitmap (more than 64 units).
  void* big = nullptr;
  ASSERT_EQ(allocate(&big, a, 4096), MPS_RES_OK);
  mps_free(p, big, 4096);
  EXPECT_DEATH(mps_free(p, big, 4096), assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(mps_free(p, static_cast<char*>(big) + 1024, 8),
               assertionReportContaining(kAlreadyFree));
}

TEST_F(MVTDeathTest, DoubleFreeInALargeSpan) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  void* big = nullptr;
  const size_t size = 200 * 1024;
  ASSERT_EQ(allocate(&big, a, size), MPS_RES_OK);
  destroyAp(a);
  mps_free(p, big, size / 2);
  // A large span counts its free bytes: freeing more than is allocated.
  EXPECT_DEATH(mps_free(p, static_cast<char*>(big) + size / 2, size),
               assertionReportContaining(kWithin));
  mps_free(p, static_cast<char*>(big) + size / 2, size / 4);
  EXPECT_DEATH(mps_free(p, big, size / 2 + 8), assertionReportContaining(kAlreadyFree));
}

TEST_F(MVTDeathTest, FreeOfTheUnusedPartOfABuffer) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  void* x = nullptr;
  ASSERT_EQ(allocate(&x, a, 64), MPS_RES_OK);
  EXPECT_DEATH(mps_free(p, a->init, 64), assertionReportContaining(kUnused));
  // A reserved block is not allocated until it is committed.
  mps_addr_t r;
  ASSERT_EQ(mps_reserve(&r, a, 64), MPS_RES_OK);
  EXPECT_DEATH(mps_free(p, r, 64), assertionReportContaining(kUnused));
  ASSERT_TRUE(mps_commit(a, r, 64));
  // Spanning the committed block and the unused part.
  EXPECT_DEATH(mps_free(p, x, 256), assertionReportContaining(kUnused));
}

TEST_F(MVTDeathTest, ForeignAndMisalignedAddresses) {
  mps_pool_t p = pool(), other = pool();
  mps_ap_t a = ap(p), b = ap(other);
  void *x = nullptr, *y = nullptr;
  ASSERT_EQ(allocate(&x, a, 64), MPS_RES_OK);
  ASSERT_EQ(allocate(&y, b, 64), MPS_RES_OK);
  EXPECT_DEATH(mps_free(p, y, 64), assertionReportContaining(kBelongs));
  void* heap = std::malloc(64);
  EXPECT_DEATH(mps_free(p, heap, 64), assertionReportContaining(kBelongs));
  std::free(heap);
  EXPECT_DEATH(mps_free(p, static_cast<char*>(x) + 4, 32), assertionReportContaining(kAligned));
  // Running past the end of the span.
  EXPECT_DEATH(mps_free(p, x, size_t(1) << 20), assertionReportContaining(kWithin));
  EXPECT_DEATH(mps_free(p, x, ~size_t(0)), assertionReportContaining(kWithin));
}

TEST_F(MVTDeathTest, ReserveOfAMisalignedSize) {
  MVTOptions o;
  o.align = 16;
  mps_pool_t p = pool(o);
  mps_ap_t a = ap(p);
  mps_addr_t q;
  EXPECT_DEATH((mps_reserve)(&q, a, 24),
               assertionReportContaining("reserve: size is a multiple of the pool's alignment"));
}

}  // namespace
}  // namespace mps::test
