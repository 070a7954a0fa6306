// Client mistakes MVFF must report, each with the rule it names
// (pools-mvff.md, "mps_free errors detected"; MMQA conerr 23 and 59).
#include <cstdlib>

#include "assertions.hpp"
#include "mvff_fixture.hpp"

namespace mps::test {
namespace {

using MVFFMisuse = MVFFTest;

const char* const kAlreadyFree =
    "block being freed is not already free (double free or wrong size)";
const char* const kBelongs = "block being freed belongs to the pool";
const char* const kWithin = "block being freed lies within the pool's memory";
const char* const kAligned = "block being freed is aligned to the pool alignment";

TEST_F(MVFFMisuse, DoubleFree) {
  MVFFPool* p = pool();
  Addr a, b;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  p->free(a, 64);
  EXPECT_DEATH(p->free(a, 64), assertionReportContaining(kAlreadyFree));
}

TEST_F(MVFFMisuse, DoubleFreeOfACoalescedBlock) {
  MVFFPool* p = pool();
  Addr a, b, c;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  ASSERT_EQ(p->alloc(&c, 64), Res::ok);
  p->free(a, 64);
  p->free(b, 64);  // coalesces with a's free space
  EXPECT_DEATH(p->free(a, 64), assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(p->free(b, 64), assertionReportContaining(kAlreadyFree));
}

TEST_F(MVFFMisuse, WrongSizeOverlappingFreeSpace) {
  MVFFPool* p = pool();
  Addr a, b;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);  // just below a (high ends first)
  ASSERT_EQ(b + 64, a);
  p->free(a, 64);
  EXPECT_DEATH(p->free(b, 128), assertionReportContaining(kAlreadyFree));
}

TEST_F(MVFFMisuse, ForeignAddress) {
  MVFFPool* p = pool();
  MVFFPool* other = pool();
  Addr a;
  ASSERT_EQ(other->alloc(&a, 64), Res::ok);
  EXPECT_DEATH(p->free(a, 64), assertionReportContaining(kBelongs));
  void* heap = std::malloc(64);
  EXPECT_DEATH(p->free(static_cast<Addr>(heap), 64), assertionReportContaining(kBelongs));
  std::free(heap);
  // The pool's own bookkeeping lives in control memory, not in the pool.
  EXPECT_DEATH(p->free(reinterpret_cast<Addr>(p), 64), assertionReportContaining(kBelongs));
}

TEST_F(MVFFMisuse, MisalignedAddress) {
  MVFFPool* p = pool(Args().align(MPS_KEY_ALIGN, 16));
  Addr a;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  EXPECT_DEATH(p->free(a + 8, 32), assertionReportContaining(kAligned));
}

TEST_F(MVFFMisuse, SizeRunningPastThePoolsMemory) {
  MVFFPool* p = pool(Args().size(MPS_KEY_EXTEND_BY, 4096));
  Addr a;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);  // the top of the pool's only grain
  EXPECT_DEATH(p->free(a, 128), assertionReportContaining(kWithin));
  EXPECT_DEATH(p->free(a, Size(1) << 40), assertionReportContaining(kWithin));
  EXPECT_DEATH(p->free(a, ~Size(0)), assertionReportContaining(kWithin));
}

#if MPS_CHECKED
// The ends of the range are the pool's but the middle is not: only the
// checked build looks at every byte's owner (through the owned-grain set).
TEST_F(MVFFMisuse, SizeSpanningAnotherPoolsMemory) {
  MVFFPool* p = pool(Args().size(MPS_KEY_EXTEND_BY, 4096));
  MVFFPool* other = pool(Args().size(MPS_KEY_EXTEND_BY, 4096));
  Addr w, a, b, c;
  // The first extents come after each pool's node slab; later ones
  // alternate between the pools.
  ASSERT_EQ(p->alloc(&w, 4096), Res::ok);
  ASSERT_EQ(other->alloc(&w, 4096), Res::ok);
  ASSERT_EQ(p->alloc(&a, 4096), Res::ok);
  ASSERT_EQ(other->alloc(&b, 4096), Res::ok);
  ASSERT_EQ(p->alloc(&c, 4096), Res::ok);
  if (!(a + 4096 == b && b + 4096 == c)) GTEST_SKIP() << "grains not interleaved";
  EXPECT_DEATH(p->free(a, 3 * 4096), assertionReportContaining(kWithin));
}
#endif

TEST_F(MVFFMisuse, BadAlignmentKeyword) {
  Arena* a = arena();
  EXPECT_DEATH(makeMVFF(a, Args().align(MPS_KEY_ALIGN, 24)),
               assertionReport("isPowerOfTwo(align)"));
  EXPECT_DEATH(makeMVFF(a, Args().align(MPS_KEY_ALIGN, sizeof(void*) / 2)),
               assertionReport("align >= sizeof(void*)"));
  EXPECT_DEATH(makeMVFF(a, Args().align(MPS_KEY_ALIGN, 2 * 65536)),
               assertionReport("align <= grain"));
}

TEST_F(MVFFMisuse, BadSizeKeywords) {
  Arena* a = arena();
  EXPECT_DEATH(makeMVFF(a, Args().size(MPS_KEY_EXTEND_BY, 0)), assertionReport("extendBy_ > 0"));
  EXPECT_DEATH(makeMVFF(a, Args().size(MPS_KEY_MEAN_SIZE, 0)), assertionReport("meanSize_ > 0"));
  EXPECT_DEATH(makeMVFF(a, Args().real(MPS_KEY_SPARE, 1.5)),
               assertionReport("spare_ >= 0.0 && spare_ <= 1.0"));
}

}  // namespace
}  // namespace mps::test
