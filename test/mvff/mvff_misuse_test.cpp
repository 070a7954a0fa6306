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

// Blocks above the quick-list bound are freed into the tree, which reports
// any overlap with free space at once, in every build.
constexpr Size kBig = 2048;

TEST_F(MVFFMisuse, DoubleFree) {
  MVFFPool* p = pool();
  ASSERT_GT(kBig, p->quickMaxSize());
  Addr a, b;
  ASSERT_EQ(p->alloc(&a, kBig), Res::ok);
  ASSERT_EQ(p->alloc(&b, kBig), Res::ok);
  p->free(a, kBig);
  EXPECT_DEATH(p->free(a, kBig), assertionReportContaining(kAlreadyFree));
}

TEST_F(MVFFMisuse, DoubleFreeOfACoalescedBlock) {
  MVFFPool* p = pool();
  Addr a, b, c;
  ASSERT_EQ(p->alloc(&a, kBig), Res::ok);
  ASSERT_EQ(p->alloc(&b, kBig), Res::ok);
  ASSERT_EQ(p->alloc(&c, kBig), Res::ok);
  p->free(a, kBig);
  p->free(b, kBig);  // coalesces with a's free space
  EXPECT_DEATH(p->free(a, kBig), assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(p->free(b, kBig), assertionReportContaining(kAlreadyFree));
}

TEST_F(MVFFMisuse, WrongSizeOverlappingFreeSpace) {
  MVFFPool* p = pool();
  Addr a, b;
  ASSERT_EQ(p->alloc(&a, kBig), Res::ok);
  ASSERT_EQ(p->alloc(&b, kBig), Res::ok);  // just above a (low ends first)
  ASSERT_EQ(a + kBig, b);
  p->free(b, kBig);
  EXPECT_DEATH(p->free(a, 2 * kBig), assertionReportContaining(kAlreadyFree));
}

// Small blocks go on the quick lists. Every build reports a free that
// overlaps the block freed last (if nothing was allocated since), the double
// free of the block last freed of its size, and of any block still carrying
// the free mark (in its second word), whether quick-listed or in the tree.
TEST_F(MVFFMisuse, DoubleFreeOfAQuickListedBlock) {
  MVFFPool* p = pool();
  Addr a, b, c, other;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  ASSERT_EQ(p->alloc(&c, 64), Res::ok);
  p->free(a, 64);
  EXPECT_EQ(p->quickSize(), 64u);
  // Freed last.
  EXPECT_DEATH(p->free(a, 64), assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(p->free(a + 16, 16), assertionReportContaining(kAlreadyFree));
  ASSERT_EQ(p->alloc(&other, 256), Res::ok);
  // The last of its size.
  EXPECT_DEATH(p->free(a, 64), assertionReportContaining(kAlreadyFree));
  p->free(b, 64);
  ASSERT_EQ(p->alloc(&other, 256), Res::ok);
  // Marked.
  EXPECT_DEATH(p->free(a, 64), assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(p->free(a, 48), assertionReportContaining(kAlreadyFree));  // another size
  p->flushQuickLists();  // a and b coalesce in the tree
  EXPECT_EQ(p->quickSize(), 0u);
  EXPECT_DEATH(p->free(a, 64), assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(p->free(b, 64), assertionReportContaining(kAlreadyFree));
}

TEST_F(MVFFMisuse, DoubleFreeOfAOneWordBlock) {
  MVFFPool* p = pool(Args().align(MPS_KEY_ALIGN, sizeof(void*)));
  Addr a, b, other;
  ASSERT_EQ(p->alloc(&a, sizeof(void*)), Res::ok);
  ASSERT_EQ(p->alloc(&b, sizeof(void*)), Res::ok);
  p->free(a, sizeof(void*));
  ASSERT_EQ(p->alloc(&other, 256), Res::ok);
  EXPECT_DEATH(p->free(a, sizeof(void*)), assertionReportContaining(kAlreadyFree));
}

// A block whose mark the client overwrote after freeing it (a use after
// free as well as a double free), or a wrong size overlapping a quick-listed
// block, after another allocation: checked builds report it at the free,
// release builds at the latest when the quick lists are next flushed into
// the tree.
TEST_F(MVFFMisuse, QuickListedDoubleFreesAreReportedByTheFlushAtTheLatest) {
  MVFFPool* p = pool();
  Addr a, b, c, other;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  ASSERT_EQ(p->alloc(&c, 64), Res::ok);
  ASSERT_EQ(a + 64, b);
  ASSERT_EQ(b + 64, c);
  p->free(a, 64);
  p->free(c, 64);
  ASSERT_EQ(p->alloc(&other, 256), Res::ok);
  EXPECT_DEATH(
      {
        reinterpret_cast<Word*>(a)[1] = 0;
        p->free(a, 64);
        p->flushQuickLists();
      },
      assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(
      {
        p->free(b, 128);  // runs into c
        p->flushQuickLists();
      },
      assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(
      {
        p->free(b, 128);
        p->destroy();  // the flush at destroy
      },
      assertionReportContaining(kAlreadyFree));
}

#if MPS_CHECKED
// Checked builds report at the free any overlap with quick-listed blocks.
TEST_F(MVFFMisuse, CheckedBuildsReportOverlapsWithQuickListedBlocksAtOnce) {
  MVFFPool* p = pool();
  Addr a, b, c;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);
  ASSERT_EQ(p->alloc(&b, 64), Res::ok);
  ASSERT_EQ(p->alloc(&c, kBig), Res::ok);
  p->free(b, 64);
  Addr other;
  ASSERT_EQ(p->alloc(&other, 256), Res::ok);  // b is no longer the block freed last
  EXPECT_DEATH(p->free(a, 128), assertionReportContaining(kAlreadyFree));
  EXPECT_DEATH(p->free(a, kBig), assertionReportContaining(kAlreadyFree));  // the tree path
  p->free(a, 64);
  ASSERT_EQ(p->alloc(&other, 256), Res::ok);
  reinterpret_cast<Word*>(a)[1] = 0;
  EXPECT_DEATH(p->free(a, 64), assertionReportContaining(kAlreadyFree));
}
#endif

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
  MVFFPool* p = pool(Args().size(MPS_KEY_EXTEND_BY, 4096).boolean(MPS_KEY_MVFF_SLOT_HIGH, true));
  Addr a;
  ASSERT_EQ(p->alloc(&a, 64), Res::ok);  // the top of the pool's only grain
  ASSERT_TRUE(core::isAligned(a + 64, 4096));
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
