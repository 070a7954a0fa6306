// SNC (pools-mvt-snc.md): allocation frames free what was allocated since
// their push; objects are scanned, so their references keep AMS and AMC
// objects alive and are updated when AMC moves them; the write barrier
// keeps their segments' summaries; walking; the deprecated variadic forms.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <thread>
#include <vector>

#include "pools/snc/snc.hpp"
#include "seed.hpp"
#include "shield/shield.hpp"
#include "snc_fixture.hpp"

namespace mps::test {
namespace {

using SncTest = SncFixture;

bool walkSees(mps_arena_t arena, mps_word_t id) {
  for (mps_word_t w : walkIds(arena))
    if (w == id) return true;
  return false;
}

TEST_F(SncTest, PoolAndAllocationPointFromTheDeprecatedVariadicForms) {
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create(&pool, arena, mps_class_snc(), fmt), MPS_RES_OK);
  mps_ap_t ap = nullptr;
  ASSERT_EQ(mps_ap_create(&ap, pool, mps_rank_exact()), MPS_RES_OK);
  mps_frame_t frame = push(ap);
  Object* o = allocObject(ap, 7, 1);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(used(pool), objectSize(1));
  pop(ap, frame);
  EXPECT_EQ(used(pool), 0u);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
}

TEST_F(SncTest, PopFreesEverythingAllocatedSinceThePush) {
  ASSERT_NE(allocObject(sncAp, 1, 0), nullptr);  // below the frame: stays
  const size_t used0 = used(snc), free0 = mps_pool_free_size(snc);
  const size_t total0 = mps_pool_total_size(snc);
  mps_frame_t frame = push(sncAp);
  Object* first = nullptr;
  for (mps_word_t i = 0; i < 100; ++i) {
    Object* o = allocObject(sncAp, 100 + i, 2);
    ASSERT_NE(o, nullptr);
    if (first == nullptr) first = o;
  }
  EXPECT_EQ(used(snc), used0 + 100 * objectSize(2));
  EXPECT_EQ(mps_pool_free_size(snc), free0 - 100 * objectSize(2));
  pop(sncAp, frame);
  EXPECT_EQ(used(snc), used0);
  EXPECT_EQ(mps_pool_free_size(snc), free0);
  EXPECT_EQ(mps_pool_total_size(snc), total0);
  // Allocation goes on where the frame was pushed.
  EXPECT_EQ(allocObject(sncAp, 200, 2), first);
  EXPECT_FALSE(walkSees(arena, 100));
  EXPECT_TRUE(walkSees(arena, 1));
}

TEST_F(SncTest, NestedFramesPopInOrder) {
  std::vector<Object*> a, b, c;
  mps_frame_t fa = push(sncAp);
  for (mps_word_t i = 0; i < 10; ++i)
    a.push_back(allocObject(sncAp, 1000 + i, 1));
  const size_t afterA = used(snc);
  mps_frame_t fb = push(sncAp);
  for (mps_word_t i = 0; i < 10; ++i)
    b.push_back(allocObject(sncAp, 2000 + i, 3));
  const size_t afterB = used(snc);
  mps_frame_t fc = push(sncAp);
  for (mps_word_t i = 0; i < 10; ++i)
    c.push_back(allocObject(sncAp, 3000 + i, 0));
  auto* pool = reinterpret_cast<core::SNCPool*>(snc);
  auto* buffer = core::Buffer::of(sncAp);
  EXPECT_EQ(pool->frameDepth(buffer), 3u);
  pop(sncAp, fc);
  EXPECT_EQ(used(snc), afterB);
  for (mps_word_t i = 0; i < 10; ++i) {
    EXPECT_EQ(a[i]->id, 1000 + i);
    EXPECT_EQ(b[i]->id, 2000 + i);
  }
  pop(sncAp, fb);
  EXPECT_EQ(used(snc), afterA);
  for (mps_word_t i = 0; i < 10; ++i)
    EXPECT_EQ(a[i]->id, 1000 + i);
  pop(sncAp, fa);
  EXPECT_EQ(used(snc), 0u);
  EXPECT_EQ(pool->frameDepth(buffer), 0u);
}

TEST_F(SncTest, PoppingAnOlderFramePopsTheNewerOnes) {
  mps_frame_t fa = push(sncAp);
  ASSERT_NE(allocObject(sncAp, 1, 2), nullptr);
  (void)push(sncAp);
  ASSERT_NE(allocObject(sncAp, 2, 2), nullptr);
  (void)push(sncAp);
  ASSERT_NE(allocObject(sncAp, 3, 2), nullptr);
  pop(sncAp, fa);
  EXPECT_EQ(used(snc), 0u);
  EXPECT_EQ(reinterpret_cast<core::SNCPool*>(snc)->frameDepth(core::Buffer::of(sncAp)), 0u);
  EXPECT_TRUE(walkIds(arena).empty());
}

TEST_F(SncTest, FramesSpanningSegmentsGiveTheSegmentsBack) {
  ASSERT_NE(allocObject(sncAp, 1, 0), nullptr);
  const size_t total0 = mps_pool_total_size(snc), used0 = used(snc);
  mps_frame_t outer = push(sncAp);
  // About a megabyte in small objects: many segments.
  for (mps_word_t i = 0; i < 32768; ++i)
    ASSERT_NE(allocObject(sncAp, 10 + i, 2), nullptr);
  mps_frame_t inner = push(sncAp);
  // One object larger than a segment gets one of its own.
  const size_t bigRefs = (core::SNCPool::kDefaultSegmentSize * 3) / sizeof(mps_word_t);
  Object* big = allocObject(sncAp, 99999, bigRefs);
  ASSERT_NE(big, nullptr);
  EXPECT_GT(mps_pool_total_size(snc), total0 + (1u << 20));
  EXPECT_EQ(used(snc), used0 + 32768 * objectSize(2) + objectSize(bigRefs));
  pop(sncAp, inner);
  EXPECT_EQ(used(snc), used0 + 32768 * objectSize(2));
  pop(sncAp, outer);
  EXPECT_EQ(used(snc), used0);
  EXPECT_EQ(mps_pool_total_size(snc), total0);
}

// .snc.retire: an incremental collection in progress may hold the popped
// segments on its lists (grey, to be protected at its next yield): they
// are given back by the first frame operation after it ends, not at once.
TEST_F(SncTest, APopDuringAnIncrementalCollectionGivesItsSegmentsBackAfterIt) {
  auto* core = reinterpret_cast<core::Arena*>(arena);
  if (!core::Collector::of(core)->hasBarrier()) GTEST_SKIP() << "no barrier here";
  ASSERT_NE(allocObject(sncAp, 1, 0), nullptr);
  const size_t total0 = mps_pool_total_size(snc);
  // The frames refer to AMC objects, which the collection condemns: it
  // has the frames' segments to scan.
  for (size_t r = 0; r < kRoots; ++r) {
    exact[r] = allocObject(amcAp, 1000 + r, 0);
    ASSERT_NE(exact[r], nullptr);
  }
  // Four megabytes of frames: 64 segments, more than an increment scans
  // before it first reads the clock.
  mps_frame_t frame = push(sncAp);
  for (mps_word_t i = 0; i < 131072; ++i) {
    Object* o = allocObject(sncAp, 10 + i, 2);
    ASSERT_NE(o, nullptr);
    o->refs[0] = exact[i % kRoots];
  }
  const size_t grown = mps_pool_total_size(snc);
  ASSERT_GE(grown, total0 + (4u << 20));
  mps_arena_pause_time_set(arena, 0);
  ASSERT_EQ(mps_arena_start_collect(arena), MPS_RES_OK);
  ASSERT_TRUE(core::Collector::of(core)->inProgress())
      << "four megabytes of frames scanned in one 50 us increment";
  pop(sncAp, frame);
  EXPECT_EQ(mps_pool_total_size(snc), grown)
      << "segments popped during a collection wait for its end";
  mps_arena_park(arena);  // finishes it
  mps_frame_t again = push(sncAp);
  pop(sncAp, again);
  EXPECT_EQ(mps_pool_total_size(snc), total0);
  EXPECT_EQ(walkIds(arena).size(), 1u + kRoots);
}

TEST_F(SncTest, AFramePushedBeforeAnyAllocationIsTheBottom) {
  mps_ap_t ap = nullptr;
  ASSERT_EQ(mps_ap_create_k(&ap, snc, mps_args_none), MPS_RES_OK);
  const size_t total0 = mps_pool_total_size(snc);
  mps_frame_t bottom = push(ap);
  for (mps_word_t i = 0; i < 5000; ++i)
    ASSERT_NE(allocObject(ap, i + 1, 1), nullptr);
  EXPECT_GT(mps_pool_total_size(snc), total0);
  pop(ap, bottom);
  EXPECT_EQ(mps_pool_total_size(snc), total0);
  // And the allocation point works on.
  mps_frame_t again = push(ap);
  ASSERT_NE(allocObject(ap, 1, 1), nullptr);
  pop(ap, again);
  mps_ap_destroy(ap);
}

TEST_F(SncTest, DestroyingTheAllocationPointFreesItsObjects) {
  mps_ap_t ap = nullptr;
  ASSERT_EQ(mps_ap_create_k(&ap, snc, mps_args_none), MPS_RES_OK);
  const size_t total0 = mps_pool_total_size(snc);
  (void)push(ap);
  for (mps_word_t i = 0; i < 5000; ++i)
    ASSERT_NE(allocObject(ap, i + 1, 1), nullptr);
  (void)push(ap);
  mps_ap_destroy(ap);
  EXPECT_EQ(mps_pool_total_size(snc), total0);
}

TEST_F(SncTest, FramesBetweenReserveAndCommitFailWithAResultCode) {
  mps_frame_t frame = push(sncAp);
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_reserve(&p, sncAp, objectSize(0)), MPS_RES_OK);
  mps_frame_t other = nullptr;
  EXPECT_EQ(mps_ap_frame_push(&other, sncAp), MPS_RES_FAIL);
  EXPECT_EQ(mps_ap_frame_pop(sncAp, frame), MPS_RES_FAIL);
  static_cast<Object*>(p)->header = kObjectTag;
  static_cast<Object*>(p)->id = 5;
  ASSERT_TRUE(mps_commit(sncAp, p, objectSize(0)));
  pop(sncAp, frame);
  EXPECT_EQ(used(snc), 0u);
}

// A collection between reserve and commit makes the commit fail, as on
// every pool with references (the block was never scanned); the block is
// discarded and the position is where it was. Here the block was the first
// in its segment, so a frame pushed then lies at the segment's base, and a
// pop to it leaves the segment empty: a request too large for it gives the
// segment back rather than leaving it empty on the stack.
TEST_F(SncTest, ACommitAfterACollectionFailsAndAnEmptiedSegmentIsGivenBack) {
  mps_ap_t ap = nullptr;
  ASSERT_EQ(mps_ap_create_k(&ap, snc, mps_args_none), MPS_RES_OK);
  const size_t total0 = mps_pool_total_size(snc);
  mps_addr_t p = nullptr;
  ASSERT_EQ(mps_reserve(&p, ap, objectSize(0)), MPS_RES_OK);
  static_cast<Object*>(p)->header = kObjectTag;
  static_cast<Object*>(p)->id = 1;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_FALSE(mps_commit(ap, p, objectSize(0)));
  EXPECT_EQ(used(snc), 0u);
  mps_frame_t frame = push(ap);
  EXPECT_EQ(static_cast<void*>(frame), p);  // the segment's base
  for (mps_word_t i = 0; i < 100; ++i)
    ASSERT_EQ(allocObject(ap, i + 1, 1), i == 0 ? p : static_cast<char*>(p) + i * objectSize(1));
  pop(ap, frame);
  EXPECT_EQ(used(snc), 0u);
  EXPECT_EQ(mps_pool_total_size(snc), total0 + core::SNCPool::kDefaultSegmentSize);
  const size_t bigRefs = 2 * core::SNCPool::kDefaultSegmentSize / sizeof(mps_word_t);
  ASSERT_NE(allocObject(ap, 2, bigRefs), nullptr);
  const size_t grain = reinterpret_cast<core::Arena*>(arena)->grainSize();
  EXPECT_EQ(mps_pool_total_size(snc), total0 + core::alignUp(objectSize(bigRefs), grain));
  mps_ap_destroy(ap);
  EXPECT_EQ(mps_pool_total_size(snc), total0);
}

TEST_F(SncTest, FramesOnOtherClassesAreAcceptedAndFreeNothing) {
  mps_frame_t frame = push(amcAp);
  Object* o = allocObject(amcAp, 5, 0);
  ASSERT_NE(o, nullptr);
  exact[0] = o;
  pop(amcAp, frame);
  frame = push(amsAp);
  ASSERT_NE(allocObject(amsAp, 6, 0), nullptr);
  pop(amsAp, frame);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(static_cast<Object*>(exact[0])->id, 5u);
}

TEST_F(SncTest, ReferencesFromSncObjectsKeepAmsObjectsAlive) {
  mps_frame_t frame = push(sncAp);
  Object* holder = allocObject(sncAp, 1, 3);
  ASSERT_NE(holder, nullptr);
  for (size_t i = 0; i < 3; ++i) {
    Object* target = allocObject(amsAp, 100 + i, 0);
    ASSERT_NE(target, nullptr);
    holder->refs[i] = target;
  }
  ASSERT_NE(allocObject(amsAp, 200, 0), nullptr);  // referred to by nothing
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  std::map<mps_word_t, Object*> byId = objectsById(arena);
  for (mps_word_t id : {100, 101, 102}) {
    ASSERT_EQ(byId.count(id), 1u) << id;
    EXPECT_EQ(byId[id], holder->refs[id - 100]);  // AMS never moves
  }
  EXPECT_EQ(byId.count(200), 0u);
  // Popped, the holder keeps nothing alive (MMQA 147/148).
  pop(sncAp, frame);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  byId = objectsById(arena);
  EXPECT_EQ(byId.count(100), 0u);
  EXPECT_EQ(byId.count(1), 0u);
}

TEST_F(SncTest, ReferencesFromSncObjectsAreUpdatedWhenAmcMovesTheirTargets) {
  std::vector<Object*> holders;
  std::vector<void*> before;
  for (mps_word_t i = 0; i < 200; ++i) {
    Object* holder = allocObject(sncAp, i + 1, 2);
    ASSERT_NE(holder, nullptr);
    Object* target = allocObject(amcAp, 1000 + i, 1);
    Object* next = allocObject(amcAp, 5000 + i, 0);  // reachable through the target only
    ASSERT_TRUE(target != nullptr && next != nullptr);
    target->refs[0] = next;
    holder->refs[0] = target;
    holder->refs[1] = i > 0 ? holders.back() : nullptr;  // SNC to SNC
    holders.push_back(holder);
    before.push_back(target);
  }
  for (int collection = 0; collection < 3; ++collection) {
    ASSERT_EQ(collection == 1 ? collectGenerations(arena, chain, 0) : mps_arena_collect(arena),
              MPS_RES_OK);
    size_t moved = 0;
    for (mps_word_t i = 0; i < 200; ++i) {
      auto* target = static_cast<Object*>(holders[i]->refs[0]);
      ASSERT_EQ(tagOf(target), kObjectTag) << i;
      ASSERT_EQ(target->id, 1000 + i);
      auto* next = static_cast<Object*>(target->refs[0]);
      ASSERT_EQ(tagOf(next), kObjectTag) << i;
      ASSERT_EQ(next->id, 5000 + i);
      EXPECT_EQ(holders[i]->refs[1], i > 0 ? holders[i - 1] : nullptr);  // SNC never moves
      moved += target != before[i];
      before[i] = target;
    }
    if (collection == 0) {
      EXPECT_EQ(moved, 200u) << "a full collection moved every target";
    }
  }
}

TEST_F(SncTest, ExactRootsMayReferToSncObjects) {
  mps_frame_t frame = push(sncAp);
  for (size_t i = 0; i < kRoots; ++i) {
    Object* o = allocObject(sncAp, i + 1, 1);
    ASSERT_NE(o, nullptr);
    o->refs[0] = allocObject(amcAp, 100 + i, 0);
    exact[i] = o;
  }
  // The checked build's verifier checks that each root designates an object.
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  for (size_t i = 0; i < kRoots; ++i) {
    auto* o = static_cast<Object*>(exact[i]);
    EXPECT_EQ(o->id, i + 1);
    EXPECT_EQ(static_cast<Object*>(o->refs[0])->id, 100 + i);
  }
  for (auto& r : exact)
    r = nullptr;
  pop(sncAp, frame);
}

TEST_F(SncTest, WritesIntoProtectedSegmentsAreSeenByTheNextCollection) {
  auto* core = reinterpret_cast<core::Arena*>(arena);
  if (!core::Collector::of(core)->hasBarrier()) GTEST_SKIP() << "no write barrier here";
  // Three segments of SNC objects that refer to nothing, with a frame
  // pushed near the start of the first.
  std::vector<Object*> objects;
  mps_frame_t frame = nullptr;
  const size_t n = 3 * core::SNCPool::kDefaultSegmentSize / objectSize(2);
  for (mps_word_t i = 0; i < n; ++i) {
    if (i == 10) frame = push(sncAp);
    objects.push_back(allocObject(sncAp, i + 1, 2));
    ASSERT_NE(objects.back(), nullptr);
  }
  core::Segment* first = core->segmentOf(objects[0]);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->buffer, nullptr);
  // Nursery collections (of some garbage: a collection that condemns
  // nothing scans nothing) until the barrier protects the old segment.
  for (int i = 0; i < 8 && first->protMode == core::kShieldNone; ++i) {
    ASSERT_NE(allocObject(amcAp, 0, 4), nullptr);
    ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  }
  ASSERT_NE(first->protMode, unsigned(core::kShieldNone)) << "the old SNC segment is protected";
  // A young AMC object stored only in the old SNC object: the store faults,
  // the summary widens, and the nursery collection finds the reference.
  Object* young = allocObject(amcAp, 424242, 0);
  ASSERT_NE(young, nullptr);
  const size_t faults = core::Shield::faultCount();
  objects[0]->refs[1] = young;
  EXPECT_GT(core::Shield::faultCount(), faults);
  ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  auto* now = static_cast<Object*>(objects[0]->refs[1]);
  ASSERT_EQ(tagOf(now), kObjectTag);
  EXPECT_EQ(now->id, 424242u);
  // Protected again, then a pop back into it: the allocation point's
  // window there is unprotected at once (no fault per store), and what is
  // stored into the new objects is seen by the next collection.
  for (int i = 0; i < 8 && first->protMode == core::kShieldNone; ++i) {
    ASSERT_NE(allocObject(amcAp, 0, 4), nullptr);
    ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  }
  ASSERT_NE(first->protMode, unsigned(core::kShieldNone));
  pop(sncAp, frame);
  EXPECT_EQ(first->protMode, unsigned(core::kShieldNone));
  const size_t faultsBefore = core::Shield::faultCount();
  Object* fresh = allocObject(sncAp, 777, 2);
  ASSERT_EQ(fresh, objects[10]);  // where the frame was pushed
  fresh->refs[0] = allocObject(amcAp, 515151, 0);
  EXPECT_EQ(core::Shield::faultCount(), faultsBefore);
  ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  auto* target = static_cast<Object*>(fresh->refs[0]);
  ASSERT_EQ(tagOf(target), kObjectTag);
  EXPECT_EQ(target->id, 515151u);
  EXPECT_EQ(used(snc), 11 * objectSize(2));
}

TEST_F(SncTest, WalksSeeTheObjectsOfLiveFrames) {
  mps_frame_t frame = push(sncAp);
  for (mps_word_t i = 0; i < 50; ++i)
    ASSERT_NE(allocObject(sncAp, i + 1, 1), nullptr);
  std::pair<mps_pool_t, size_t> count{snc, 0};
  mps_arena_formatted_objects_walk(
      arena,
      [](mps_addr_t, mps_fmt_t, mps_pool_t pool, void* p, size_t s) {
        auto* c = static_cast<std::pair<mps_pool_t, size_t>*>(p);
        if (pool == c->first) ++c->second;
        EXPECT_EQ(s, 7u);
      },
      &count, 7);
  EXPECT_EQ(count.second, 50u);
  size_t scanned = 0;
  ASSERT_EQ(mps_pool_walk(
                snc,
                [](mps_ss_t, void* base, void* limit, void* closure) -> mps_res_t {
                  *static_cast<size_t*>(closure) +=
                      size_t(static_cast<char*>(limit) - static_cast<char*>(base));
                  return MPS_RES_OK;
                },
                &scanned),
            MPS_RES_OK);
  EXPECT_EQ(scanned, 50 * objectSize(1));
  mps_fmt_t found = nullptr;
  mps_addr_t some = nullptr;
  ASSERT_EQ(mps_reserve(&some, sncAp, objectSize(0)), MPS_RES_OK);
  static_cast<Object*>(some)->header = kObjectTag;
  ASSERT_TRUE(mps_commit(sncAp, some, objectSize(0)));
  EXPECT_TRUE(mps_addr_fmt(&found, arena, some));
  EXPECT_EQ(found, fmt);
  pop(sncAp, frame);
  EXPECT_TRUE(walkIds(arena).empty());
}

TEST_F(SncTest, SizesWithTheTopBitSetFailWithResourceAndLeaveTheStackAlone) {
  mps_frame_t frame = push(sncAp);
  Object* kept = allocObject(sncAp, 1, 1);
  ASSERT_NE(kept, nullptr);
  const size_t used0 = used(snc), total0 = mps_pool_total_size(snc);
  const size_t top = size_t(1) << (sizeof(size_t) * 8 - 1);
  for (size_t size : {top, top + 64, SIZE_MAX - 7}) {
    mps_addr_t p = nullptr;
    EXPECT_EQ((mps_reserve)(&p, sncAp, size), MPS_RES_RESOURCE) << size;
    EXPECT_EQ(mps_reserve(&p, sncAp, size), MPS_RES_RESOURCE) << size;
    EXPECT_EQ(mps_ap_fill(&p, sncAp, size), MPS_RES_RESOURCE) << size;
  }
  EXPECT_EQ(used(snc), used0);
  EXPECT_EQ(mps_pool_total_size(snc), total0);
  Object* next = allocObject(sncAp, 2, 1);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(reinterpret_cast<char*>(next), reinterpret_cast<char*>(kept) + objectSize(1));
  pop(sncAp, frame);
  EXPECT_EQ(used(snc), 0u);
}

// A format of a scan method alone serves SNC (skip is needed only to walk
// the objects), in the checked build too: the verifier then accepts any
// aligned address among the objects (format.md, default methods).
TEST_F(SncTest, AFormatWithOnlyAScanMethodServes) {
  mps_fmt_t scanOnly = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(mps_word_t));
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, movingScan);
    ASSERT_EQ(mps_fmt_create_k(&scanOnly, arena, args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create(&pool, arena, mps_class_snc(), scanOnly), MPS_RES_OK);
  mps_ap_t ap = nullptr;
  ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  mps_frame_t frame = push(ap);
  Object* holder = allocObject(ap, 1, 1);
  ASSERT_NE(holder, nullptr);
  holder->refs[0] = allocObject(amcAp, 77, 0);
  exact[0] = holder;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(static_cast<Object*>(holder->refs[0])->id, 77u);
  exact[0] = nullptr;
  pop(ap, frame);
  EXPECT_EQ(used(pool), 0u);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_fmt_destroy(scanOnly);
}

// A random program on two allocation points of one SNC pool, against a
// shadow model: frames pushed and popped at random (older ones too), SNC
// objects referring to new AMC and AMS objects and to older SNC objects of
// the same allocation point, full and nursery collections between.
TEST_F(SncTest, RandomFramesAgainstAShadowModel) {
  Rng rng(testSeed(20240611));
  struct Shadow {
    Object* object;
    mps_word_t id;
    std::vector<mps_word_t> targets;  // expected ids of the referents (0: null)
  };
  struct Model {
    mps_ap_t ap = nullptr;
    std::vector<Shadow> objects;
    std::vector<std::pair<mps_frame_t, size_t>> frames;  // handle, objects below
  };
  Model models[2];
  ASSERT_EQ(mps_ap_create_k(&models[0].ap, snc, mps_args_none), MPS_RES_OK);
  models[1].ap = sncAp;
  mps_word_t nextId = 1;
  auto check = [&] {
    size_t bytes = 0;
    for (Model& m : models) {
      for (const Shadow& s : m.objects) {
        ASSERT_EQ(s.object->id, s.id);
        bytes += objectSize(s.targets.size());
        for (size_t i = 0; i < s.targets.size(); ++i) {
          auto* t = static_cast<Object*>(s.object->refs[i]);
          if (s.targets[i] == 0) {
            ASSERT_EQ(t, nullptr);
            continue;
          }
          ASSERT_NE(t, nullptr);
          ASSERT_EQ(tagOf(t), kObjectTag) << "object " << s.id << " ref " << i;
          ASSERT_EQ(t->id, s.targets[i]) << "object " << s.id << " ref " << i;
        }
      }
    }
    ASSERT_EQ(used(snc), bytes);
  };
  for (int step = 0; step < 20000; ++step) {
    Model& m = models[rng.below(2)];
    unsigned op = unsigned(rng.below(100));
    if (op < 10) {
      mps_frame_t f = nullptr;
      ASSERT_EQ(mps_ap_frame_push(&f, m.ap), MPS_RES_OK);
      m.frames.emplace_back(f, m.objects.size());
    } else if (op < 17 && !m.frames.empty()) {
      // Mostly the newest frame, sometimes an older one.
      size_t k = rng.below(4) == 0 ? rng.below(m.frames.size()) : m.frames.size() - 1;
      ASSERT_EQ(mps_ap_frame_pop(m.ap, m.frames[k].first), MPS_RES_OK);
      m.objects.resize(m.frames[k].second);
      m.frames.resize(k);
    } else if (op < 98) {
      size_t refs = size_t(rng.between(0, 3));
      Shadow s{nullptr, nextId++, {}};
      Object* o = allocObject(m.ap, s.id, refs);
      ASSERT_NE(o, nullptr);
      s.object = o;
      for (size_t i = 0; i < refs; ++i) {
        unsigned kind = unsigned(rng.below(4));
        Object* t = nullptr;
        if (kind == 0) {
          t = allocObject(amcAp, nextId++, 0);
        } else if (kind == 1) {
          t = allocObject(amsAp, nextId++, 0);
        } else if (kind == 2 && !m.objects.empty()) {
          t = m.objects[rng.below(m.objects.size())].object;
        }
        o->refs[i] = t;
        s.targets.push_back(t != nullptr ? t->id : 0);
      }
      m.objects.push_back(s);
    } else {
      ASSERT_EQ(rng.below(2) == 0 ? mps_arena_collect(arena) : collectGenerations(arena, chain, 0),
                MPS_RES_OK);
      check();
      if (HasFatalFailure()) return;
    }
  }
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  check();
  EXPECT_GT(mps_collections(arena), 200u);
  mps_ap_destroy(models[0].ap);
}

// Threads each with their own SNC allocation point, pushing, allocating and
// popping while the others' AMC allocation triggers collections.
TEST(SncThreads, FramesOnSeveralThreadsWithCollectionsRunning) {
  mps_arena_t arena = nullptr;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_fmt_t fmt = nullptr;
  ASSERT_EQ(makeMovingFormat(&fmt, arena), MPS_RES_OK);
  mps_gen_param_s gens[2] = {{128, 0.8}, {512, 0.5}};
  mps_chain_t chain = nullptr;
  ASSERT_EQ(mps_chain_create(&chain, arena, 2, gens), MPS_RES_OK);
  mps_pool_t snc = nullptr, amc = nullptr;
  ASSERT_EQ(mps_pool_create(&snc, arena, mps_class_snc(), fmt), MPS_RES_OK);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    ASSERT_EQ(mps_pool_create_k(&amc, arena, mps_class_amc(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  const mps_word_t before = mps_collections(arena);
  auto body = [&](unsigned index, bool* ok) {
    void* cold = __builtin_frame_address(0);
    mps_thr_t thread = nullptr;
    mps_root_t root = nullptr;
    mps_ap_t sncAp = nullptr, amcAp = nullptr;
    if (mps_thread_reg(&thread, arena) != MPS_RES_OK) return;
    if (mps_root_create_thread(&root, arena, thread, cold) != MPS_RES_OK) return;
    if (mps_ap_create_k(&sncAp, snc, mps_args_none) != MPS_RES_OK) return;
    if (mps_ap_create_k(&amcAp, amc, mps_args_none) != MPS_RES_OK) return;
    bool good = true;
    for (int round = 0; round < 60 && good; ++round) {
      mps_frame_t frame = nullptr;
      good = mps_ap_frame_push(&frame, sncAp) == MPS_RES_OK;
      std::vector<Object*> holders;
      for (mps_word_t i = 0; i < 400 && good; ++i) {
        mps_word_t id = (mps_word_t(index) << 40) | (mps_word_t(round) << 20) | i;
        Object* holder = allocObject(sncAp, id, 1);
        Object* target = allocObject(amcAp, id, 2);  // some garbage beside it
        (void)allocObject(amcAp, 0, 8);
        good = holder != nullptr && target != nullptr;
        if (good) holder->refs[0] = target;
        holders.push_back(holder);
      }
      for (Object* h : holders) {
        auto* t = static_cast<Object*>(h->refs[0]);
        good = good && tagOf(t) == kObjectTag && t->id == h->id;
      }
      good = good && mps_ap_frame_pop(sncAp, frame) == MPS_RES_OK;
    }
    *ok = good;
    mps_ap_destroy(amcAp);
    mps_ap_destroy(sncAp);
    mps_root_destroy(root);
    mps_thread_dereg(thread);
  };
  bool ok[2] = {false, false};
  std::thread t0(body, 0u, &ok[0]), t1(body, 1u, &ok[1]);
  t0.join();
  t1.join();
  EXPECT_TRUE(ok[0]);
  EXPECT_TRUE(ok[1]);
  EXPECT_GT(mps_collections(arena), before);
  mps_arena_park(arena);
  EXPECT_EQ(mps_pool_total_size(snc), 0u);
  mps_pool_destroy(snc);
  mps_pool_destroy(amc);
  mps_chain_destroy(chain);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

}  // namespace
}  // namespace mps::test
