// MVT (pools-mvt-snc.md): keywords and their defaults, the variadic form,
// allocation through allocation points and mps_free, temporal placement,
// reuse under the fragmentation limit, the reserve, large blocks and the
// commit limit.
#include <cstdint>
#include <map>

#include "mpscmv2.h"
#include "mvt_fixture.hpp"
#include "seed.hpp"

namespace mps::test {
namespace {

constexpr size_t KiB = 1024;

TEST_F(MVTTest, DefaultsFollowTheDocumentation) {
  mps_pool_t p = pool();
  core::MVTPool* c = coreMVT(p);
  EXPECT_EQ(c->alignment(), size_t(MPS_PF_ALIGN));
  EXPECT_EQ(c->minSize(), size_t(MPS_PF_ALIGN));
  EXPECT_EQ(c->meanSize(), 32u);
  EXPECT_EQ(c->maxSize(), 8192u);
  EXPECT_EQ(c->reserveDepth(), 1024u);
  EXPECT_EQ(c->fragLimit(), 0.3);
  EXPECT_EQ(c->reserveLimit(), 1024u * 32u);
  EXPECT_EQ(c->spanSize(), 64 * KiB);
  EXPECT_EQ(mps_pool_total_size(p), 0u);
  EXPECT_EQ(mps_pool_free_size(p), 0u);
  // Allocation points and mps_free; no mps_alloc.
  EXPECT_FALSE(c->poolClass()->has(core::kPoolAttrAlloc));
  EXPECT_TRUE(c->poolClass()->has(core::kPoolAttrFree));
  EXPECT_TRUE(c->poolClass()->has(core::kPoolAttrBuffer));
  EXPECT_TRUE(c->checkSpans());
}

TEST_F(MVTTest, KeywordsAreTaken) {
  MVTOptions o;
  o.align = 32;
  o.minSize = 32;
  o.meanSize = 128;
  o.maxSize = 65536;
  o.reserveDepth = 10;
  o.fragLimit = 0.5;
  core::MVTPool* c = coreMVT(pool(o));
  EXPECT_EQ(c->alignment(), 32u);
  EXPECT_EQ(c->minSize(), 32u);
  EXPECT_EQ(c->meanSize(), 128u);
  EXPECT_EQ(c->maxSize(), 65536u);
  EXPECT_EQ(c->reserveDepth(), 10u);
  EXPECT_EQ(c->fragLimit(), 0.5);
  EXPECT_EQ(c->reserveLimit(), 1280u);
  // Spans hold four of the largest blocks expected.
  EXPECT_EQ(c->spanSize(), 256 * KiB);
  // The extremes the documentation allows.
  o = MVTOptions();
  o.reserveDepth = 0;
  o.fragLimit = 1.0;
  o.minSize = o.meanSize = o.maxSize = 8;
  c = coreMVT(pool(o));
  EXPECT_EQ(c->reserveLimit(), 0u);
  EXPECT_EQ(c->fragLimit(), 1.0);
  EXPECT_EQ(c->spanSize(), 64 * KiB);
  o.maxSize = ~size_t(0);
  o.meanSize = 64;
  o.reserveDepth = long(~0ul >> 1);
  c = coreMVT(pool(o));
  EXPECT_EQ(c->spanSize(), core::MVTPool::kMaxSpanSize);
  EXPECT_EQ(c->reserveLimit(), ~size_t(0));  // saturated
}

TEST_F(MVTTest, VariadicFormTakesTheFragLimitAsAPercentage) {
  mps_pool_t p = nullptr;
  ASSERT_EQ(mps_pool_create(&p, arena_, mps_class_mvt(), size_t(16), size_t(64), size_t(1024),
                            mps_word_t(100), mps_word_t(45)),
            MPS_RES_OK);
  pools_.push_back(p);
  core::MVTPool* c = coreMVT(p);
  EXPECT_EQ(c->minSize(), 16u);
  EXPECT_EQ(c->meanSize(), 64u);
  EXPECT_EQ(c->maxSize(), 1024u);
  EXPECT_EQ(c->reserveDepth(), 100u);
  EXPECT_DOUBLE_EQ(c->fragLimit(), 0.45);
  // mps_ap_create reads no argument for MVT; a surplus one is ignored.
  mps_ap_t a = nullptr;
  ASSERT_EQ(mps_ap_create(&a, p, mps_rank_exact()), MPS_RES_OK);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
  mps_free(p, q, 64);
  mps_ap_destroy(a);
}

TEST_F(MVTTest, OldHeaderNameAndDeprecatedSizeMacros) {
  // mpscmv2.h (included above) brings in mpscmvt.h.
  mps_pool_class_t (*f)(void) = mps_class_mvt;
  EXPECT_EQ(f(), mps_class_mvt());
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 256), MPS_RES_OK);
  EXPECT_EQ(mps_mvt_size(p), mps_pool_total_size(p));
  EXPECT_EQ(mps_mvt_free_size(p), mps_pool_free_size(p));
  EXPECT_EQ(mps_mvt_size(p) - mps_mvt_free_size(p), 256u);
  mps_free(p, q, 256);
}

// Temporal placement: blocks allocated one after another on an allocation
// point are next to each other, in the order allocated.
TEST_F(MVTTest, ConsecutiveBlocksAreAdjacent) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  char* prev = nullptr;
  size_t prevSize = 0, breaks = 0;
  for (int i = 0; i < 1000; ++i) {
    size_t size = size_t(8 + (i * 37) % 200) / 8 * 8;
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, size), MPS_RES_OK);
    char* c = static_cast<char*>(q);
    if (prev != nullptr && c != prev + prevSize) ++breaks;
    mps_pool_t owner;
    ASSERT_TRUE(mps_addr_pool(&owner, arena_, c));
    EXPECT_EQ(owner, p);
    prev = c;
    prevSize = size;
  }
  // Only where a span ran out.
  EXPECT_EQ(breaks + 1, coreMVT(p)->spanCount());
  EXPECT_TRUE(coreMVT(p)->checkSpans());
}

TEST_F(MVTTest, AllocationAndFreeKeepTheAccounts) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  std::vector<std::pair<void*, size_t>> blocks;
  size_t allocated = 0;
  for (int i = 0; i < 5000; ++i) {
    size_t size = (1 + size_t(i) % 40) * 8;
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, size, i & 0xFF), MPS_RES_OK);
    blocks.emplace_back(q, size);
    allocated += size;
    ASSERT_EQ(mps_pool_free_size(p) + allocated, mps_pool_total_size(p));
  }
  EXPECT_TRUE(coreMVT(p)->checkSpans());
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto [q, size] = blocks[i];
    auto* c = static_cast<unsigned char*>(q);
    for (size_t k = 0; k < size; ++k)
      ASSERT_EQ(c[k], i & 0xFF);
    mps_free(p, q, size);
    allocated -= size;
    ASSERT_EQ(mps_pool_free_size(p) + allocated, mps_pool_total_size(p));
  }
  EXPECT_EQ(mps_pool_free_size(p), mps_pool_total_size(p));
  EXPECT_TRUE(coreMVT(p)->checkSpans());
}

// Sizes are rounded up to the alignment by mps_free as the reservation was.
TEST_F(MVTTest, FreeRoundsTheSizeToTheAlignment) {
  MVTOptions o;
  o.align = 64;
  mps_pool_t p = pool(o);
  mps_ap_t a = ap(p);
  void *q = nullptr, *r = nullptr;
  ASSERT_EQ(allocate(&q, a, 128), MPS_RES_OK);
  ASSERT_EQ(allocate(&r, a, 64), MPS_RES_OK);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % 64, 0u);
  EXPECT_EQ(static_cast<char*>(r), static_cast<char*>(q) + 128);
  mps_free(p, q, 100);  // 128 once rounded
  mps_free(p, r, 1);
  EXPECT_EQ(mps_pool_free_size(p), mps_pool_total_size(p));
  EXPECT_TRUE(coreMVT(p)->checkSpans());
}

// A span whose blocks are all freed goes to the reserve (within its depth)
// and is used again whole; beyond the depth it goes back to the arena.
TEST_F(MVTTest, EmptySpansGoToTheReserveThenBack) {
  MVTOptions o;
  o.meanSize = 64;
  o.reserveDepth = 1024;  // 64 KiB: one span
  mps_pool_t p = pool(o);
  core::MVTPool* c = coreMVT(p);
  mps_ap_t a1 = ap(p), a2 = ap(p), a3 = ap(p);
  // Three allocation points, three spans.
  std::vector<void*> b1, b2, b3;
  for (int i = 0; i < 100; ++i) {
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a1, 64), MPS_RES_OK);
    b1.push_back(q);
    ASSERT_EQ(allocate(&q, a2, 64), MPS_RES_OK);
    b2.push_back(q);
    ASSERT_EQ(allocate(&q, a3, 64), MPS_RES_OK);
    b3.push_back(q);
  }
  EXPECT_EQ(c->spanCount(), 3u);
  EXPECT_EQ(mps_pool_total_size(p), 3 * 64 * KiB);
  destroyAp(a1);
  destroyAp(a2);
  destroyAp(a3);
  for (void* q : b1)
    mps_free(p, q, 64);
  EXPECT_EQ(c->reserveSize(), 64 * KiB);  // kept
  for (void* q : b2)
    mps_free(p, q, 64);
  EXPECT_EQ(c->reserveSize(), 64 * KiB);  // the reserve is full: given back
  EXPECT_EQ(mps_pool_total_size(p), 2 * 64 * KiB);
  for (void* q : b3)
    mps_free(p, q, 64);
  EXPECT_EQ(mps_pool_total_size(p), 64 * KiB);
  EXPECT_EQ(mps_pool_free_size(p), 64 * KiB);
  EXPECT_TRUE(c->checkSpans());
  // The reserve is used whole before the arena is asked.
  mps_ap_t a = ap(p);
  size_t taken = c->spansTaken();
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
  EXPECT_EQ(c->spansTaken(), taken);
  EXPECT_EQ(c->reserveSize(), 0u);
  EXPECT_EQ(static_cast<char*>(a->limit) - static_cast<char*>(q), ptrdiff_t(64 * KiB));
  mps_free(p, q, 64);
  EXPECT_TRUE(c->checkSpans());
}

TEST_F(MVTTest, ReserveDepthZeroGivesEverythingBack) {
  MVTOptions o;
  o.reserveDepth = 0;
  mps_pool_t p = pool(o);
  mps_ap_t a = ap(p);
  std::vector<void*> blocks;
  for (int i = 0; i < 3000; ++i) {
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
    blocks.push_back(q);
  }
  destroyAp(a);
  for (void* q : blocks)
    mps_free(p, q, 64);
  EXPECT_EQ(mps_pool_total_size(p), 0u);
  EXPECT_EQ(mps_pool_free_size(p), 0u);
  EXPECT_TRUE(coreMVT(p)->checkSpans());
}

// The unused tail of a window is free space again when the buffer is
// emptied, and the buffer's next window starts there.
TEST_F(MVTTest, EmptyingGivesTheTailBackAndTheSweepGoesOn) {
  mps_pool_t p = pool();
  core::MVTPool* c = coreMVT(p);
  mps_ap_t a = ap(p);
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) {
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, 1024), MPS_RES_OK);  // fills one span exactly
    blocks.push_back(q);
  }
  char* base = static_cast<char*>(blocks[0]);
  EXPECT_EQ(a->limit, base + 64 * KiB);
  // Holes at 10..19 (10 KiB) and 40..41 (2 KiB).
  for (int i = 10; i < 20; ++i)
    mps_free(p, blocks[size_t(i)], 1024);
  for (int i = 40; i < 42; ++i)
    mps_free(p, blocks[size_t(i)], 1024);
  // The next reserve needs a new window: the span has no room left after
  // the window's end, so (not fragmented: 12 KiB of 64 KiB free) a new span.
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 2048), MPS_RES_OK);
  EXPECT_EQ(c->spanCount(), 2u);
  char* second = static_cast<char*>(q);
  // Reserve 1 KiB, then empty the buffer: the tail of the second span is
  // free again.
  ASSERT_EQ(allocate(&q, a, 1024), MPS_RES_OK);
  EXPECT_EQ(static_cast<char*>(q), second + 2048);
  destroyAp(a);
  EXPECT_EQ(mps_pool_free_size(p), 12 * KiB + 64 * KiB - 3 * KiB);
  EXPECT_TRUE(c->checkSpans());
  // A new allocation point goes on nowhere in particular; while the pool
  // is not fragmented it takes the emptiest span with room if it is at
  // least 3/4 free (the second), from its first free run.
  a = ap(p);
  ASSERT_EQ(allocate(&q, a, 4096), MPS_RES_OK);
  EXPECT_EQ(static_cast<char*>(q), second + 3 * KiB);
  EXPECT_EQ(c->spanCount(), 2u);
  mps_free(p, q, 4096);
}

// When scattered free space passes the fragmentation limit, fills reuse
// holes in the emptiest spans instead of taking new memory.
TEST_F(MVTTest, FragmentationLimitMakesFillsReuseHoles) {
  mps_pool_t p = pool();
  core::MVTPool* c = coreMVT(p);
  mps_ap_t a = ap(p);
  std::vector<void*> blocks;
  for (int i = 0; i < 4 * 1024; ++i) {  // 4 spans of 64-byte blocks
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
    blocks.push_back(q);
  }
  ASSERT_EQ(c->spanCount(), 4u);
  // Free every other block of the first two spans: holes of 64 bytes, a
  // quarter of the pool.
  for (size_t i = 0; i < 2048; i += 2)
    mps_free(p, blocks[i], 64);
  EXPECT_FALSE(c->fragmented());  // 0.25 <= 0.3
  // Then half of the third span's blocks (in pairs): 37.5% free.
  for (size_t i = 2048; i < 3072; i += 4) {
    mps_free(p, blocks[i], 64);
    mps_free(p, blocks[i + 1], 64);
  }
  EXPECT_TRUE(c->fragmented());
  size_t total = mps_pool_total_size(p);
  // Fills now reuse holes: 128-byte blocks fit the third span's pairs.
  std::vector<void*> more;
  for (int i = 0; i < 256; ++i) {
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, 128), MPS_RES_OK);
    more.push_back(q);
  }
  EXPECT_EQ(mps_pool_total_size(p), total);
  for (void* q : more) {
    EXPECT_GE(static_cast<char*>(q), static_cast<char*>(blocks[2048]));
    EXPECT_LT(static_cast<char*>(q), static_cast<char*>(blocks[3071]));
  }
  // The third span's holes are filled, and the pool is within the limit
  // again (a quarter free): temporal fit takes a new span rather than the
  // single holes of the first two.
  EXPECT_FALSE(c->fragmented());
  for (int i = 0; i < 512; ++i) {
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
    more.push_back(q);
  }
  EXPECT_EQ(mps_pool_total_size(p), total + 64 * KiB);
  EXPECT_TRUE(c->checkSpans());
}

// With frag limit 1.0 fills never take holes (always temporal fit) while
// there is memory; under the commit limit they take any hole first.
TEST_F(MVTTest, FragLimitOneNeverReusesHolesUntilMemoryRunsOut) {
  MVTOptions o;
  o.fragLimit = 1.0;
  o.reserveDepth = 0;
  mps_pool_t p = pool(o);
  core::MVTPool* c = coreMVT(p);
  mps_ap_t a = ap(p);
  std::vector<void*> blocks;
  for (int i = 0; i < 4 * 1024; ++i) {
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
    blocks.push_back(q);
  }
  for (size_t i = 0; i < blocks.size(); i += 2)
    mps_free(p, blocks[i], 64);  // half free, in single holes
  size_t total = mps_pool_total_size(p);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 64 * 16), MPS_RES_OK);
  EXPECT_GT(mps_pool_total_size(p), total);
  mps_free(p, q, 64 * 16);
  destroyAp(a);
  a = ap(p);
  // No more memory (none spare either): the holes are used.
  mps_arena_spare_set(arena_, 0.0);
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, mps_arena_committed(arena_)), MPS_RES_OK);
  total = mps_pool_total_size(p);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
    blocks.push_back(q);
  }
  EXPECT_EQ(mps_pool_total_size(p), total);
  EXPECT_TRUE(c->checkSpans());
  mps_arena_commit_limit_set(arena_, ~size_t(0));
}

TEST_F(MVTTest, LargeBlocksHaveSpansOfTheirOwn) {
  mps_pool_t p = pool();
  core::MVTPool* c = coreMVT(p);
  mps_ap_t a = ap(p);
  void* small = nullptr;
  ASSERT_EQ(allocate(&small, a, 64), MPS_RES_OK);
  size_t total = mps_pool_total_size(p);
  void* big = nullptr;
  const size_t bigSize = 1000 * KiB;
  ASSERT_GT(bigSize, c->largeSize());
  ASSERT_EQ(allocate(&big, a, bigSize), MPS_RES_OK);
  EXPECT_EQ(mps_pool_total_size(p), total + bigSize);  // a multiple of the grain
  mps_pool_t owner;
  EXPECT_TRUE(mps_addr_pool(&owner, arena_, static_cast<char*>(big) + bigSize - 1));
  EXPECT_EQ(owner, p);
  EXPECT_TRUE(c->checkSpans());
  // Freed while the buffer is still in its span: the span goes once the
  // buffer leaves.
  mps_free(p, big, bigSize);
  EXPECT_EQ(mps_pool_total_size(p), total + bigSize);
  ASSERT_EQ(allocate(&big, a, 128), MPS_RES_OK);  // the window is used up: refill
  EXPECT_EQ(mps_pool_total_size(p), total);
  mps_free(p, big, 128);
  mps_free(p, small, 64);
  // Part frees of a large block: each part counts, the span goes with the
  // last.
  ASSERT_EQ(allocate(&big, a, bigSize), MPS_RES_OK);
  destroyAp(a);
  total = mps_pool_total_size(p);
  char* b = static_cast<char*>(big);
  mps_free(p, b + 500 * KiB, 500 * KiB);  // the second half, inside the span
  EXPECT_EQ(mps_pool_total_size(p), total);
  EXPECT_TRUE(c->checkSpans());
  mps_free(p, b, 100 * KiB);
  mps_free(p, b + 100 * KiB, 400 * KiB);
  EXPECT_EQ(mps_pool_total_size(p), total - bigSize);
  EXPECT_TRUE(c->checkSpans());
}

TEST_F(MVTTest, SeveralAllocationPointsUseSeparateSpans) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p), b = ap(p);
  void *x = nullptr, *y = nullptr;
  ASSERT_EQ(allocate(&x, a, 64), MPS_RES_OK);
  ASSERT_EQ(allocate(&y, b, 64), MPS_RES_OK);
  char *xs = static_cast<char*>(x), *ys = static_cast<char*>(y);
  EXPECT_TRUE(xs + 64 * KiB <= ys || ys + 64 * KiB <= xs);
  mps_free(p, x, 64);
  mps_free(p, y, 64);
  EXPECT_TRUE(coreMVT(p)->checkSpans());
}

TEST_F(MVTTest, CommitLimitIsAResultAndThePoolStaysUsable) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
  std::vector<std::pair<void*, size_t>> live{{q, 64}};
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, mps_arena_committed(arena_) + 1024 * KiB),
            MPS_RES_OK);
  mps_res_t res = MPS_RES_OK;
  for (int i = 0; res == MPS_RES_OK; ++i) {
    size_t size = i % 50 == 0 ? 64 * KiB : 256;
    res = allocate(&q, a, size);
    if (res == MPS_RES_OK) live.emplace_back(q, size);
  }
  EXPECT_EQ(res, MPS_RES_COMMIT_LIMIT);
  EXPECT_EQ(a->init, a->alloc);
  EXPECT_TRUE(coreMVT(p)->checkSpans());
  // Free a third: the holes serve small requests; nothing more is needed.
  for (size_t i = 0; i < live.size(); i += 3)
    mps_free(p, live[i].first, live[i].second);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(allocate(&q, a, 256), MPS_RES_OK);
    live.emplace_back(q, 256);
  }
  EXPECT_TRUE(coreMVT(p)->checkSpans());
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, ~size_t(0)), MPS_RES_OK);
  ASSERT_EQ(allocate(&q, a, 2048 * KiB), MPS_RES_OK);
  mps_free(p, q, 2048 * KiB);
  for (size_t i = 0; i < live.size(); ++i)
    if (i % 3 != 0 || i >= live.size() - 100) mps_free(p, live[i].first, live[i].second);
  destroyAp(a);
  EXPECT_EQ(mps_pool_free_size(p), mps_pool_total_size(p));
  EXPECT_TRUE(coreMVT(p)->checkSpans());
}

// Under a commit limit the arena takes the reserve back.
TEST_F(MVTTest, TheReserveGoesBackUnderACommitLimit) {
  mps_pool_t p = pool();
  core::MVTPool* c = coreMVT(p);
  mps_ap_t a = ap(p);
  std::vector<void*> blocks;
  for (int i = 0; i < 1024; ++i) {
    void* q = nullptr;
    ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
    blocks.push_back(q);
  }
  destroyAp(a);
  for (void* q : blocks)
    mps_free(p, q, 64);
  ASSERT_EQ(c->reserveSize(), 64 * KiB);
  // Room for no new span while the reserve is held.
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, mps_arena_committed(arena_) + 16 * KiB), MPS_RES_OK);
  mps_pool_t other = pool();
  mps_ap_t b = ap(other);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, b, 64), MPS_RES_OK);
  EXPECT_EQ(c->reserveSize(), 0u);
  EXPECT_EQ(mps_pool_total_size(p), 0u);
  mps_free(other, q, 64);
  ASSERT_EQ(mps_arena_commit_limit_set(arena_, ~size_t(0)), MPS_RES_OK);
}

// Asking the arena for no spare memory at all takes the reserve too.
TEST_F(MVTTest, NoSpareMemoryMeansNoReserve) {
  mps_pool_t p = pool();
  core::MVTPool* c = coreMVT(p);
  mps_ap_t a = ap(p);
  void* q = nullptr;
  ASSERT_EQ(allocate(&q, a, 64), MPS_RES_OK);
  destroyAp(a);
  mps_free(p, q, 64);
  ASSERT_EQ(c->reserveSize(), 64 * KiB);
  mps_arena_spare_set(arena_, 0.0);
  EXPECT_EQ(c->reserveSize(), 0u);
  EXPECT_EQ(mps_pool_total_size(p), 0u);
  EXPECT_TRUE(c->checkSpans());
}

TEST_F(MVTTest, ImpossibleSizesFailWithResource) {
  mps_pool_t p = pool();
  mps_ap_t a = ap(p);
  mps_addr_t q;
  EXPECT_EQ(mps_reserve(&q, a, ~size_t(0) - MPS_PF_ALIGN + 1), MPS_RES_RESOURCE);
  EXPECT_EQ(mps_reserve(&q, a, size_t(1) << (sizeof(size_t) * 8 - 1)), MPS_RES_RESOURCE);
  EXPECT_EQ(a->init, a->alloc);
  ASSERT_EQ(mps_reserve(&q, a, 64), MPS_RES_OK);
  ASSERT_TRUE(mps_commit(a, q, 64));
  mps_free(p, q, 64);
  EXPECT_TRUE(coreMVT(p)->checkSpans());
}

// A workload of random replacement (the bench's fixed64): the pool's size
// stays within a small multiple of the live size, as the fragmentation
// limit intends.
TEST_F(MVTTest, RandomReplacementStaysWithinTheFragmentationLimit) {
  std::uint64_t seed = testSeed(0x3F7EED);
  Rng rng(seed);
  MVTOptions o;
  o.minSize = o.meanSize = o.maxSize = 64;
  mps_pool_t p = pool(o);
  core::MVTPool* c = coreMVT(p);
  mps_ap_t a = ap(p);
  const size_t n = 20000;
  std::vector<void*> slot(n);
  for (auto& s : slot)
    ASSERT_EQ(allocate(&s, a, 64), MPS_RES_OK);
  size_t peak = 0;
  for (int step = 0; step < 200000; ++step) {
    void*& s = slot[rng.below(n)];
    mps_free(p, s, 64);
    ASSERT_EQ(allocate(&s, a, 64), MPS_RES_OK);
    peak = std::max(peak, mps_pool_total_size(p));
  }
  size_t live = n * 64;
  std::printf(
      "[ mvt      ] live %zu KiB, peak %zu KiB, holes %zu KiB, %zu fills, %zu spans taken\n",
      live >> 10, peak >> 10, c->holeSize() >> 10, c->fills(), c->spansTaken());
  // Holes at most the limit, plus a span of slack for the reserve and the
  // window.
  EXPECT_LE(double(peak), double(live) / (1.0 - c->fragLimit()) + 2.0 * double(c->spanSize()));
  EXPECT_TRUE(c->checkSpans());
}

}  // namespace
}  // namespace mps::test
