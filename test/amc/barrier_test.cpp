// The write barrier (manual/design/shield.md): after a collection, segments
// of older generations are protected with summaries narrowed to what they
// refer to; a nursery collection passes over those whose summary misses the
// nursery; the first write to a protected segment faults, widens its
// summary and lifts the protection, so the next nursery collection scans it
// and keeps what the write made reachable. The checked build's verifier
// catches a summary that does not cover a segment's references.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "amc_support.hpp"
#include "assertions.hpp"
#include "protect/vm.hpp"
#include "seed.hpp"
#include "shield/shield.hpp"

namespace mps::test {
namespace {

constexpr size_t kRoots = 256;

class BarrierTest : public ::testing::Test {
 protected:
  void make(unsigned workers = 1) {
    ASSERT_EQ(makeParkedArena(&arena, workers), MPS_RES_OK);
    // The mechanism, not the policy: protect whatever can be protected.
    collector()->barrierPolicy = false;
    ASSERT_EQ(makeMovingFormat(&fmt, arena), MPS_RES_OK);
    mps_gen_param_s gens[2] = {{1024, 0.8}, {4096, 0.5}};
    ASSERT_EQ(mps_chain_create(&chain, arena, 2, gens), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      ASSERT_EQ(mps_pool_create_k(&amc, arena, mps_class_amc(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(mps_ap_create_k(&ap, amc, mps_args_none), MPS_RES_OK);
    for (auto& r : roots)
      r = nullptr;
    ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, roots, kRoots), MPS_RES_OK);
  }
  void TearDown() override {
    if (arena == nullptr) return;
    mps_root_destroy(root);
    mps_ap_destroy(ap);
    mps_pool_destroy(amc);
    mps_chain_destroy(chain);
    mps_fmt_destroy(fmt);
    mps_arena_destroy(arena);
  }

  core::Collector* collector() const {
    return core::Collector::of(reinterpret_cast<core::Arena*>(arena));
  }
  core::Segment* segmentOf(void* p) const {
    return reinterpret_cast<core::Arena*>(arena)->segmentOf(p);
  }

  // A list of `length` objects with ids firstId.. (the head has the last),
  // linked through slot 0; slot 1 is free for the tests. Null if out of memory.
  Object* makeList(mps_word_t firstId, size_t length) {
    Object* head = nullptr;
    for (size_t i = 0; i < length; ++i) {
      Object* o = allocObject(ap, firstId + i, 2);
      if (o == nullptr) return nullptr;
      o->refs[0] = head;
      head = o;
    }
    return head;
  }

  // Old objects: `count` lists of `length` objects, each list's head in a
  // root, promoted out of the nursery by one nursery collection.
  void makeOldLists(size_t count, size_t length) {
    for (size_t l = 0; l < count; ++l) {
      roots[l] = makeList(l * length + 1, length);
      ASSERT_NE(roots[l], nullptr);
    }
    ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
    for (size_t l = 0; l < count; ++l)
      ASSERT_EQ(generationOf(arena, roots[l]), 1);
  }

  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t amc = nullptr;
  mps_ap_t ap = nullptr;
  mps_root_t root = nullptr;
  void* roots[kRoots];
};

TEST_F(BarrierTest, OlderSegmentsAreProtectedWithNarrowSummaries) {
  make();
  ASSERT_TRUE(collector()->hasBarrier());
  makeOldLists(8, 2000);
  core::Segment* seg = segmentOf(roots[0]);
  ASSERT_NE(seg, nullptr);
  EXPECT_EQ(seg->protMode, unsigned(core::kShieldWrite));
  EXPECT_NE(seg->summary, core::kRefSetUniv);
  // The summary holds the zones of what the segment refers to: here only
  // the older generation itself (and null, zone 0).
  core::Shift zs = reinterpret_cast<core::Arena*>(arena)->zoneShift();
  auto* o = static_cast<Object*>(roots[0]);
  ASSERT_NE(o->refs[0], nullptr);
  EXPECT_NE(seg->summary & core::refSetOfAddr(o->refs[0], zs), 0u);
}

TEST_F(BarrierTest, NurseryCollectionsPassOverOlderSegmentsNobodyWrote) {
  make();
  makeOldLists(16, 4000);
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < 20000; ++i)
      ASSERT_NE(allocObject(ap, 1000000 + i, 2), nullptr);  // garbage
    ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
    const core::Collector::Stats& stats = collector()->lastStats();
    EXPECT_GT(stats.segmentsSkipped, 0u) << "round " << round;
    EXPECT_EQ(stats.segmentsScanned, 0u) << "round " << round << ": nothing was written";
  }
  for (size_t l = 0; l < 16; ++l)
    EXPECT_EQ(static_cast<Object*>(roots[l])->id, (l + 1) * 4000);
}

TEST_F(BarrierTest, AWriteToAnOlderObjectIsSeenByTheNextNurseryCollection) {
  make();
  makeOldLists(4, 4000);
  auto* old = static_cast<Object*>(roots[2]);
  core::Segment* seg = segmentOf(old);
  ASSERT_EQ(seg->protMode, unsigned(core::kShieldWrite));
  Object* young = allocObject(ap, 77, 0);
  ASSERT_NE(young, nullptr);
  core::Size faultsBefore = core::Shield::faultCount();
  old->refs[1] = young;  // faults once: the barrier
  EXPECT_EQ(core::Shield::faultCount(), faultsBefore + 1);
  EXPECT_EQ(seg->protMode, unsigned(core::kShieldNone));
  EXPECT_EQ(seg->summary, core::kRefSetUniv);
  old->refs[1] = young;  // no fault now
  EXPECT_EQ(core::Shield::faultCount(), faultsBefore + 1);

  ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  EXPECT_GE(collector()->lastStats().segmentsScanned, 1u);
  EXPECT_EQ(roots[2], static_cast<void*>(old)) << "a nursery collection moved an older object";
  auto* moved = static_cast<Object*>(old->refs[1]);
  ASSERT_NE(moved, young) << "the young object was not copied out of the nursery";
  EXPECT_EQ(tagOf(moved), kObjectTag);
  EXPECT_EQ(moved->id, 77u);
  EXPECT_EQ(generationOf(arena, moved), 1);
  // Scanned again, the segment is protected again with a summary that now
  // includes where the young object went.
  EXPECT_EQ(seg->protMode, unsigned(core::kShieldWrite));
  core::Shift zs = reinterpret_cast<core::Arena*>(arena)->zoneShift();
  EXPECT_NE(seg->summary & core::refSetOfAddr(moved, zs), 0u);
}

TEST_F(BarrierTest, ManyWritesFromSeveralWorkersKeepTheGraph) {
  make(2);
  makeOldLists(32, 500);
  Rng rng(testSeed(2024));
  std::vector<Object*> olds;
  for (size_t l = 0; l < 32; ++l)
    for (auto* o = static_cast<Object*>(roots[l]); o != nullptr;
         o = static_cast<Object*>(o->refs[0]))
      olds.push_back(o);
  for (int round = 0; round < 5; ++round) {
    // Young objects hung from random old ones (slot 1), replacing what was
    // there: the barrier must see every one of these writes.
    std::vector<std::pair<Object*, mps_word_t>> expect;
    for (size_t i = 0; i < 3000; ++i) {
      Object* old = olds[size_t(rng.below(olds.size()))];
      mps_word_t id = 5000000 + round * 10000 + i;
      Object* young = allocObject(ap, id, 0);
      ASSERT_NE(young, nullptr);
      old->refs[1] = young;
    }
    for (Object* old : olds)
      if (old->refs[1] != nullptr) expect.emplace_back(old, static_cast<Object*>(old->refs[1])->id);
    ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
    for (auto& [old, id] : expect) {
      auto* y = static_cast<Object*>(old->refs[1]);
      ASSERT_EQ(tagOf(y), kObjectTag) << "round " << round;
      ASSERT_EQ(y->id, id) << "round " << round;
    }
  }
}

TEST_F(BarrierTest, StartMessagesTellNurseryCollectionsFromOlderOnes) {
  // What the demo and the benchmark sort pause times by.
  make();
  mps_message_type_enable(arena, mps_message_type_gc_start());
  mps_arena_release(arena);
  size_t nursery = 0, older = 0;
  // Live lists of 64 KiB each, kept in the roots: the older generation
  // (4 MiB) fills up too.
  for (size_t l = 0; l < 160 && (nursery == 0 || older == 0); ++l) {
    Object* head = makeList(1, 2048);
    ASSERT_NE(head, nullptr);
    roots[l % kRoots] = head;
    mps_message_t m;
    while (mps_message_get(&m, arena, mps_message_type_gc_start())) {
      std::string why = mps_message_gc_start_why(arena, m);
      if (why == "Generation 0 of a chain has reached capacity.")
        ++nursery;
      else if (why == "Older generations of a chain have reached capacity.")
        ++older;
      else
        ADD_FAILURE() << "unexpected reason: " << why;
      mps_message_discard(arena, m);
    }
  }
  mps_arena_park(arena);
  EXPECT_GT(nursery, 0u);
  EXPECT_GT(older, 0u);
}

TEST_F(BarrierTest, ReadOnlyWalksKeepTheProtectionAndPoolWalkDropsIt) {
  make();
  makeOldLists(2, 2000);
  core::Segment* seg = segmentOf(roots[0]);
  ASSERT_EQ(seg->protMode, unsigned(core::kShieldWrite));
  size_t visited = 0;
  mps_arena_formatted_objects_walk(
      arena, [](mps_addr_t, mps_fmt_t, mps_pool_t, void* p, size_t) { ++*static_cast<size_t*>(p); },
      &visited, 0);
  EXPECT_GE(visited, 4000u);
  EXPECT_EQ(seg->protMode, unsigned(core::kShieldWrite)) << "a read-only walk lifted the barrier";
  mps_amc_apply(
      amc, [](mps_addr_t, void*, size_t) {}, nullptr, 0);
  EXPECT_EQ(seg->protMode, unsigned(core::kShieldWrite));

  // mps_pool_walk's scanner may store references: here it hangs a young
  // object from every old one, and the next nursery collection must keep
  // them all.
  static Object* young;
  young = allocObject(ap, 4242, 0);
  ASSERT_NE(young, nullptr);
  ASSERT_EQ(mps_pool_walk(
                amc,
                [](mps_ss_t, void* base, void*, void*) -> mps_res_t {
                  auto* o = static_cast<Object*>(base);
                  if (tagOf(o) == kObjectTag && refCount(o) == 2) o->refs[1] = young;
                  return MPS_RES_OK;
                },
                nullptr),
            MPS_RES_OK);
  EXPECT_EQ(seg->protMode, unsigned(core::kShieldNone));
  EXPECT_EQ(seg->summary, core::kRefSetUniv);
  ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  auto* o = static_cast<Object*>(roots[0]);
  auto* y = static_cast<Object*>(o->refs[1]);
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(tagOf(y), kObjectTag);
  EXPECT_EQ(y->id, 4242u);
  // Out of the barrier since the walk: protected again after the collection
  // that scanned it.
  EXPECT_EQ(seg->protMode, unsigned(core::kShieldWrite)) << "scanned again, protected again";
}

TEST_F(BarrierTest, DisabledByTheEnvironmentEverySegmentIsScanned) {
  ::setenv("MPS_WRITE_BARRIER", "0", 1);
  make();
  ::unsetenv("MPS_WRITE_BARRIER");
  EXPECT_FALSE(collector()->hasBarrier());
  makeOldLists(8, 4000);
  EXPECT_EQ(segmentOf(roots[0])->protMode, unsigned(core::kShieldNone));
  EXPECT_EQ(segmentOf(roots[0])->summary, core::kRefSetUniv);
  ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  EXPECT_EQ(collector()->lastStats().segmentsSkipped, 0u);
  EXPECT_GT(collector()->lastStats().segmentsScanned, 0u);
}

TEST_F(BarrierTest, AFaultOutsideEverySegmentIsNotTheBarriers) {
  // A write to protected memory that no segment owns is left to the
  // default action: the process dies as it would without the library.
  make();
  EXPECT_DEATH(
      {
        core::Addr page;
        ASSERT_EQ(core::vm::reserve(&page, core::vm::pageSize(), core::vm::pageSize()),
                  core::Res::ok);
        ASSERT_EQ(core::vm::commit(page, core::vm::pageSize()), core::Res::ok);
        core::vm::protect(page, core::vm::pageSize(), core::vm::Access::readOnly);
        *reinterpret_cast<volatile int*>(page) = 1;
      },
      "");
}

#if MPS_CHECKED
TEST_F(BarrierTest, VerifierCatchesASummaryThatMissesAReference) {
  // Simulate a barrier that failed to see a write: lift the protection
  // behind the shield's back, then write an old-to-young reference. The
  // next nursery collection passes over the segment (its summary says it
  // cannot refer to the nursery), and the verifier must say so.
  make();
  makeOldLists(4, 4000);
  auto* old = static_cast<Object*>(roots[1]);
  core::Segment* seg = segmentOf(old);
  ASSERT_EQ(seg->protMode, unsigned(core::kShieldWrite));
  EXPECT_DEATH(
      {
        core::vm::protect(seg->base, seg->size(), core::vm::Access::readWrite);
        old->refs[1] = allocObject(ap, 99, 0);
        (void)collectGenerations(arena, chain, 0);
      },
      "summary covers every zone its references point into");
}
#endif

}  // namespace
}  // namespace mps::test
