// The special traces of a parked arena (walking.md) and the other arena
// entry points of issue 10: mps_arena_roots_walk (MMQA test 122's counts,
// locations, thread roots, what is not reported), transforms on AMS and AMC
// (roots and objects of every rank, ambiguous references refusing the
// whole transform, the result codes, misuse), mps_addr_object's answers for
// every kind of address, mps_arena_postmortem (protection lifted, no more
// collections, callable from an assertion handler inside the library), the
// pause time, and allocation patterns.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <set>
#include <vector>

#include "amc_support.hpp"
#include "assertions.hpp"
#include "mpscawl.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpslib.h"
#include "shield/shield.hpp"
#include "tracer/autopool.hpp"
#include "tracer/chain.hpp"
#include "tracer/collector.hpp"

namespace mps::test {
namespace {

core::Collector* collectorOf(mps_arena_t arena) {
  return core::Collector::of(reinterpret_cast<core::Arena*>(arena));
}

// A parked arena with a pool of the test's kind and one allocation point,
// and helpers for roots that the fixture destroys.
class Heap {
 public:
  explicit Heap(PoolKind kind, mps_gen_param_s nursery = {size_t(1) << 10, 0.5}) {
    EXPECT_EQ(makeParkedArena(&arena, 2), MPS_RES_OK);
    EXPECT_EQ(makePoolOnChain(&poc, arena, kind, nursery, {size_t(8) << 10, 0.5}), MPS_RES_OK);
    EXPECT_EQ(mps_ap_create_k(&ap, poc.pool, mps_args_none), MPS_RES_OK);
  }
  ~Heap() {
    mps_arena_park(arena);
    for (mps_root_t r : roots)
      mps_root_destroy(r);
    if (thread != nullptr) mps_thread_dereg(thread);
    mps_ap_destroy(ap);
    destroyPoolOnChain(&poc);
    mps_arena_destroy(arena);
  }
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  mps_root_t table(mps_rank_t rank, mps_addr_t* base, size_t count) {
    mps_root_t root = nullptr;
    EXPECT_EQ(mps_root_create_table(&root, arena, rank, 0, base, count), MPS_RES_OK);
    roots.push_back(root);
    return root;
  }
  Object* alloc(mps_word_t id, size_t refs) {
    Object* o = allocObject(ap, id, refs);
    EXPECT_NE(o, nullptr);
    return o;
  }
  std::set<mps_word_t> ids() {
    auto all = walkIds(arena);
    return std::set<mps_word_t>(all.begin(), all.end());
  }

  mps_arena_t arena = nullptr;
  PoolOnChain poc;
  mps_ap_t ap = nullptr;
  mps_thr_t thread = nullptr;
  std::vector<mps_root_t> roots;
};

Object* obj(mps_addr_t p) {
  return static_cast<Object*>(p);
}

// The roots walk -------------------------------------------------------------------

struct Visit {
  mps_addr_t* location;
  mps_root_t root;
  mps_addr_t ref;
};
struct Visits {
  std::vector<Visit> seen;
  size_t s = 0;
};

// A thread root's locations are words of a stack, which AddressSanitizer
// fences with red zones: reading them is a conservative read, like the
// library's own stack scan.
extern "C" __attribute__((no_sanitize("address"))) void recordVisit(mps_addr_t* ref,
                                                                    mps_root_t root, void* p,
                                                                    size_t s) {
  auto* v = static_cast<Visits*>(p);
  v->s = s;
  v->seen.push_back(Visit{ref, root, *ref});
}

Visits walkRoots(mps_arena_t arena) {
  Visits v;
  mps_arena_roots_walk(arena, &recordVisit, &v, 42);
  EXPECT_TRUE(v.seen.empty() || v.s == 42u);
  return v;
}

class RootsWalk : public ::testing::TestWithParam<PoolKind> {};

// MMQA test 122: an exact masked table of three untagged references and one
// tagged with the mask, and an ambiguous table of three references and a
// null, make exactly six calls; then a thread root reports a local.
TEST_P(RootsWalk, ReportsEachReferenceToAnObjectWithItsLocationAndRoot) {
  Heap h(GetParam());
  Object* o[3];
  for (int i = 0; i < 3; ++i)
    o[i] = h.alloc(mps_word_t(i + 1), 0);
  mps_addr_t exact[4] = {o[0], o[1], o[2],
                         reinterpret_cast<mps_addr_t>(reinterpret_cast<mps_word_t>(o[0]) | 4)};
  mps_addr_t ambig[4] = {o[0], o[1], o[2], nullptr};
  mps_root_t exactRoot, ambigRoot;
  ASSERT_EQ(mps_root_create_table_masked(&exactRoot, h.arena, mps_rank_exact(), 0, exact, 4, 4),
            MPS_RES_OK);
  h.roots.push_back(exactRoot);
  ambigRoot = h.table(mps_rank_ambig(), ambig, 4);

  Visits v = walkRoots(h.arena);
  ASSERT_EQ(v.seen.size(), 6u);
  std::set<mps_addr_t*> locations;
  for (const Visit& visit : v.seen) {
    locations.insert(visit.location);
    bool inExact = visit.location >= exact && visit.location < exact + 3;
    bool inAmbig = visit.location >= ambig && visit.location < ambig + 3;
    EXPECT_TRUE(inExact || inAmbig);
    EXPECT_EQ(visit.root, inExact ? exactRoot : ambigRoot);
    EXPECT_EQ(visit.ref, *visit.location);
  }
  EXPECT_EQ(locations.size(), 6u);

  // A thread root: a reference in a local is reported (at least once: the
  // registers may hold it too), from the thread root.
  ASSERT_EQ(mps_thread_reg(&h.thread, h.arena), MPS_RES_OK);
  mps_root_t threadRoot;
  void* cold = __builtin_frame_address(0);
  ASSERT_EQ(mps_root_create_thread(&threadRoot, h.arena, h.thread, cold), MPS_RES_OK);
  h.roots.push_back(threadRoot);
  volatile mps_addr_t local = reinterpret_cast<char*>(o[1]) + sizeof(mps_word_t);
  v = walkRoots(h.arena);
  size_t fromThread = 0;
  for (const Visit& visit : v.seen)
    if (visit.root == threadRoot && visit.ref == local) ++fromThread;
  EXPECT_GE(fromThread, 1u);
  EXPECT_GE(v.seen.size(), 7u);
  local = nullptr;
}

TEST_P(RootsWalk, ReportsNothingButObjectsOfAutomaticPools) {
  Heap h(GetParam());
  Object* o = h.alloc(1, 2);
  mps_pool_t mvff;
  ASSERT_EQ(mps_pool_create_k(&mvff, h.arena, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  mps_addr_t block;
  ASSERT_EQ(mps_alloc(&block, mvff, 64), MPS_RES_OK);
  int local = 0;
  // An interior address of an object, a manual pool's block, memory outside
  // the arena, the arena's own structure, null, an object.
  mps_addr_t ambig[6] = {reinterpret_cast<char*>(o) + 3, block, &local, h.arena, nullptr, o};
  h.table(mps_rank_ambig(), ambig, 6);
  Visits v = walkRoots(h.arena);
  ASSERT_EQ(v.seen.size(), 2u);
  EXPECT_EQ(v.seen[0].location, &ambig[0]);
  EXPECT_EQ(v.seen[1].location, &ambig[5]);
  mps_free(mvff, block, 64);
  mps_pool_destroy(mvff);
}

// A client's scanning function fixes its own locations: the stepper gets
// them, may write through them, and the walk changes nothing else.
mps_addr_t slots[2];
extern "C" mps_res_t scanSlots(mps_ss_t ss, void* p, size_t s) {
  MPS_SCAN_BEGIN(ss) {
    for (size_t i = 0; i < s; ++i) {
      mps_res_t res = MPS_FIX12(ss, &static_cast<mps_addr_t*>(p)[i]);
      if (res != MPS_RES_OK) return res;
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

TEST_P(RootsWalk, AClientScannerPassesItsOwnLocations) {
  Heap h(GetParam());
  Object* ab[2] = {h.alloc(1, 0), h.alloc(2, 0)};
  slots[0] = ab[0];
  slots[1] = ab[1];
  mps_root_t root;
  ASSERT_EQ(mps_root_create(&root, h.arena, mps_rank_exact(), 0, &scanSlots, slots, 2), MPS_RES_OK);
  h.roots.push_back(root);
  mps_arena_roots_walk(
      h.arena,
      [](mps_addr_t* ref, mps_root_t, void* p, size_t) {
        // Swap what each slot refers to: both are objects, and the walk
        // must not undo the stores.
        EXPECT_TRUE(ref == &slots[0] || ref == &slots[1]);
        *ref = static_cast<Object**>(p)[ref == &slots[0] ? 1 : 0];
      },
      ab, 0);
  EXPECT_EQ(slots[0], static_cast<mps_addr_t>(ab[1]));
  EXPECT_EQ(slots[1], static_cast<mps_addr_t>(ab[0]));
  // And the collector still sees them (the heap verifier checks the rest).
  ASSERT_EQ(mps_arena_collect(h.arena), MPS_RES_OK);
  EXPECT_EQ(obj(slots[0])->id, 2u);
  EXPECT_EQ(obj(slots[1])->id, 1u);
  slots[0] = slots[1] = nullptr;
}

INSTANTIATE_TEST_SUITE_P(Pools, RootsWalk, ::testing::Values(PoolKind::ams, PoolKind::amc));

TEST(RootsWalkDeathTest, TheArenaIsParked) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Heap h(PoolKind::ams);
  mps_arena_release(h.arena);
  EXPECT_DEATH(mps_arena_roots_walk(h.arena, &recordVisit, nullptr, 0),
               assertionReportContaining("the arena is parked for mps_arena_roots_walk"));
}

// Transforms -----------------------------------------------------------------------

class Transforms : public ::testing::TestWithParam<PoolKind> {};

// old (1) and new (2), a holder (3) referring to both, old referring back
// to the holder; an exact table holds old and the holder.
TEST_P(Transforms, ReplaceEveryExactReferenceInRootsAndObjects) {
  Heap h(GetParam());
  mps_addr_t exact[2];
  h.table(mps_rank_exact(), exact, 2);
  Object* oldObj = h.alloc(1, 1);
  Object* newObj = h.alloc(2, 1);
  Object* holder = h.alloc(3, 2);
  holder->refs[0] = oldObj;
  holder->refs[1] = newObj;
  oldObj->refs[0] = holder;
  exact[0] = oldObj;
  exact[1] = holder;
  mps_word_t collections = mps_collections(h.arena);

  mps_transform_t t;
  ASSERT_EQ(mps_transform_create(&t, h.arena), MPS_RES_OK);
  mps_addr_t olds[1] = {oldObj}, news[1] = {newObj};
  ASSERT_EQ(mps_transform_add_oldnew(t, olds, news, 1), MPS_RES_OK);
  mps_bool_t applied = 7;
  ASSERT_EQ(mps_transform_apply(&applied, t), MPS_RES_OK);
  EXPECT_EQ(applied, 1);
  mps_transform_destroy(t);

  // A full collection ran and left the arena parked; objects may have
  // moved (AMC), so they are found through the roots.
  EXPECT_EQ(mps_collections(h.arena), collections + 1);
  EXPECT_TRUE(collectorOf(h.arena)->isParked());
  EXPECT_EQ(obj(exact[0])->id, 2u);
  Object* h2 = obj(exact[1]);
  EXPECT_EQ(h2->id, 3u);
  EXPECT_EQ(obj(h2->refs[0])->id, 2u);
  EXPECT_EQ(obj(h2->refs[1])->id, 2u);
  EXPECT_EQ(h.ids(), (std::set<mps_word_t>{2, 3}));
}

TEST_P(Transforms, WeakReferencesAreReplacedToo) {
  Heap h(GetParam());
  mps_addr_t exact[1], weak[1];
  h.table(mps_rank_exact(), exact, 1);
  h.table(mps_rank_weak(), weak, 1);
  Object* oldObj = h.alloc(1, 0);
  Object* newObj = h.alloc(2, 0);
  exact[0] = newObj;
  weak[0] = oldObj;
  mps_transform_t t;
  ASSERT_EQ(mps_transform_create(&t, h.arena), MPS_RES_OK);
  mps_addr_t olds[1] = {oldObj}, news[1] = {newObj};
  ASSERT_EQ(mps_transform_add_oldnew(t, olds, news, 1), MPS_RES_OK);
  mps_bool_t applied = 0;
  ASSERT_EQ(mps_transform_apply(&applied, t), MPS_RES_OK);
  EXPECT_TRUE(applied);
  mps_transform_destroy(t);
  // The weak reference now designates the new object, which the exact one
  // keeps alive: it survives the collection, the old object does not.
  EXPECT_EQ(weak[0], exact[0]);
  EXPECT_EQ(h.ids(), (std::set<mps_word_t>{2}));
}

// An ambiguous reference anywhere inside an old object (here, an ambiguous
// table's) refuses the whole transform: nothing changes, no collection
// runs, and the transform may be applied once the reference has gone.
TEST_P(Transforms, AnAmbiguousReferenceToAnOldObjectRefusesTheWholeTransform) {
  Heap h(GetParam());
  mps_addr_t exact[3], ambig[1];
  h.table(mps_rank_exact(), exact, 3);
  h.table(mps_rank_ambig(), ambig, 1);
  Object* a = h.alloc(1, 0);
  Object* b = h.alloc(2, 0);
  Object* c = h.alloc(3, 0);
  Object* d = h.alloc(4, 0);
  exact[0] = a;
  exact[1] = b;
  exact[2] = d;
  ambig[0] = reinterpret_cast<char*>(b) + sizeof(mps_word_t) + 1;
  mps_word_t collections = mps_collections(h.arena);
  mps_transform_t t;
  ASSERT_EQ(mps_transform_create(&t, h.arena), MPS_RES_OK);
  mps_addr_t olds[2] = {a, b}, news[2] = {c, d};
  ASSERT_EQ(mps_transform_add_oldnew(t, olds, news, 2), MPS_RES_OK);
  mps_bool_t applied = 7;
  ASSERT_EQ(mps_transform_apply(&applied, t), MPS_RES_OK);
  EXPECT_EQ(applied, 0);
  EXPECT_EQ(exact[0], static_cast<mps_addr_t>(a));  // all or nothing
  EXPECT_EQ(exact[1], static_cast<mps_addr_t>(b));
  EXPECT_EQ(mps_collections(h.arena), collections);

  ambig[0] = nullptr;
  ASSERT_EQ(mps_transform_apply(&applied, t), MPS_RES_OK);
  EXPECT_EQ(applied, 1);
  mps_transform_destroy(t);
  EXPECT_EQ(obj(exact[0])->id, 3u);
  EXPECT_EQ(obj(exact[1])->id, 4u);
  EXPECT_EQ(exact[1], exact[2]);
  EXPECT_EQ(h.ids(), (std::set<mps_word_t>{3, 4}));
}

// Thread stacks are ambiguous roots: a local holding an old object refuses
// the transform (walking.md: transforms suit programs whose stacks do not
// refer to the old objects).
TEST_P(Transforms, AnOldObjectOnTheStackRefusesTheTransform) {
  Heap h(GetParam());
  mps_addr_t exact[2];
  h.table(mps_rank_exact(), exact, 2);
  ASSERT_EQ(mps_thread_reg(&h.thread, h.arena), MPS_RES_OK);
  mps_root_t threadRoot;
  ASSERT_EQ(mps_root_create_thread(&threadRoot, h.arena, h.thread, __builtin_frame_address(0)),
            MPS_RES_OK);
  h.roots.push_back(threadRoot);
  exact[0] = h.alloc(1, 0);
  exact[1] = h.alloc(2, 0);
  volatile mps_addr_t local = exact[0];
  mps_transform_t t;
  ASSERT_EQ(mps_transform_create(&t, h.arena), MPS_RES_OK);
  ASSERT_EQ(mps_transform_add_oldnew(t, &exact[0], &exact[1], 1), MPS_RES_OK);
  mps_bool_t applied = 7;
  ASSERT_EQ(mps_transform_apply(&applied, t), MPS_RES_OK);
  EXPECT_EQ(applied, 0);
  EXPECT_EQ(exact[0], local);
  mps_transform_destroy(t);
  local = nullptr;
}

// With a thread root registered, a transform applies when the stack holds
// no old object: the objects are made and the pairs added by a function
// that has returned, and the exact root is not on the stack. The thread
// root's cold end is the frame of a function called on a cleared stack:
// the test's own frame may hold stale words of earlier tests, whose arenas
// lay where this one does.
mps_addr_t staticExact[2];

[[gnu::noinline]] void makeAndAddPair(Heap* h, mps_transform_t t) {
  staticExact[0] = h->alloc(1, 0);
  staticExact[1] = h->alloc(2, 0);
  ASSERT_EQ(mps_transform_add_oldnew(t, &staticExact[0], &staticExact[1], 1), MPS_RES_OK);
}

[[gnu::noinline]] void clearStackBelow() {
  volatile mps_word_t scratch[8192];
  for (size_t i = 0; i < sizeof scratch / sizeof scratch[0]; ++i)
    scratch[i] = 0;
}

[[gnu::noinline]] void applyUnderAThreadRoot(Heap* h) {
  ASSERT_EQ(mps_thread_reg(&h->thread, h->arena), MPS_RES_OK);
  mps_root_t threadRoot;
  ASSERT_EQ(mps_root_create_thread(&threadRoot, h->arena, h->thread, __builtin_frame_address(0)),
            MPS_RES_OK);
  h->roots.push_back(threadRoot);
  mps_transform_t t;
  ASSERT_EQ(mps_transform_create(&t, h->arena), MPS_RES_OK);
  makeAndAddPair(h, t);
  mps_bool_t applied = 7;
  ASSERT_EQ(mps_transform_apply(&applied, t), MPS_RES_OK);
  EXPECT_EQ(applied, 1);
  mps_transform_destroy(t);
}

TEST_P(Transforms, AppliesWithAThreadRootWhenNoFrameHoldsAnOldObject) {
  Heap h(GetParam());
  h.table(mps_rank_exact(), staticExact, 2);
  clearStackBelow();
  applyUnderAThreadRoot(&h);
  EXPECT_EQ(obj(staticExact[0])->id, 2u);
  EXPECT_EQ(staticExact[0], staticExact[1]);
  staticExact[0] = staticExact[1] = nullptr;
}

TEST_P(Transforms, ApplyNeedsAParkedArenaThatHasNotCollectedSince) {
  Heap h(GetParam());
  mps_addr_t exact[2];
  h.table(mps_rank_exact(), exact, 2);
  exact[0] = h.alloc(1, 0);
  exact[1] = h.alloc(2, 0);
  mps_transform_t t;
  ASSERT_EQ(mps_transform_create(&t, h.arena), MPS_RES_OK);
  ASSERT_EQ(mps_transform_add_oldnew(t, &exact[0], &exact[1], 1), MPS_RES_OK);
  mps_bool_t applied = 7;
  mps_arena_release(h.arena);
  EXPECT_EQ(mps_transform_apply(&applied, t), MPS_RES_LIMIT);
  EXPECT_EQ(applied, 7);
  mps_arena_park(h.arena);
  ASSERT_EQ(mps_arena_collect(h.arena), MPS_RES_OK);
  EXPECT_EQ(mps_transform_apply(&applied, t), MPS_RES_PARAM);
  EXPECT_EQ(applied, 7);
  mps_transform_destroy(t);
  EXPECT_EQ(obj(exact[0])->id, 1u);  // untouched
}

TEST_P(Transforms, ManyPairsAddedInSeveralCalls) {
  Heap h(GetParam());
  constexpr size_t kPairs = 700;
  mps_addr_t exact[1];
  h.table(mps_rank_exact(), exact, 1);
  Object* holder = h.alloc(0, 2 * kPairs);
  exact[0] = holder;
  std::vector<mps_addr_t> olds, news;
  for (size_t i = 0; i < kPairs; ++i) {
    olds.push_back(h.alloc(1 + i, 0));
    news.push_back(h.alloc(1 + kPairs + i, 0));
    holder->refs[2 * i] = olds.back();
    holder->refs[2 * i + 1] = olds.back();
  }
  mps_transform_t t;
  ASSERT_EQ(mps_transform_create(&t, h.arena), MPS_RES_OK);
  ASSERT_EQ(mps_transform_add_oldnew(t, olds.data(), news.data(), 10), MPS_RES_OK);
  ASSERT_EQ(mps_transform_add_oldnew(t, olds.data() + 10, news.data() + 10, 0), MPS_RES_OK);
  ASSERT_EQ(mps_transform_add_oldnew(t, olds.data() + 10, news.data() + 10, kPairs - 10),
            MPS_RES_OK);
  mps_bool_t applied = 0;
  ASSERT_EQ(mps_transform_apply(&applied, t), MPS_RES_OK);
  ASSERT_TRUE(applied);
  mps_transform_destroy(t);
  holder = obj(exact[0]);
  for (size_t i = 0; i < 2 * kPairs; ++i)
    ASSERT_EQ(obj(holder->refs[i])->id, 1 + kPairs + i / 2) << i;
  EXPECT_EQ(h.ids().size(), 1 + kPairs);
}

INSTANTIATE_TEST_SUITE_P(Pools, Transforms, ::testing::Values(PoolKind::ams, PoolKind::amc));

class TransformDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(TransformDeathTest, CreatedOnlyInAParkedArena) {
  Heap h(PoolKind::ams);
  mps_arena_release(h.arena);
  mps_transform_t t;
  EXPECT_DEATH((void)mps_transform_create(&t, h.arena),
               assertionReportContaining("the arena is parked when a transform is created"));
}

TEST_F(TransformDeathTest, OldReferencesAreObjectsOfAutomaticPoolsAddedOnce) {
  Heap h(PoolKind::amc);
  mps_addr_t exact[2];
  h.table(mps_rank_exact(), exact, 2);
  exact[0] = h.alloc(1, 0);
  exact[1] = h.alloc(2, 0);
  mps_transform_t t;
  ASSERT_EQ(mps_transform_create(&t, h.arena), MPS_RES_OK);
  int local;
  mps_addr_t foreign[1] = {&local};
  EXPECT_DEATH(
      (void)mps_transform_add_oldnew(t, foreign, &exact[1], 1),
      assertionReportContaining("a transform's old reference is in an automatically managed pool"));
  mps_addr_t twice[2] = {exact[0], exact[0]};
  EXPECT_DEATH(
      (void)mps_transform_add_oldnew(t, twice, twice, 2),
      assertionReportContaining("a transform's old reference is added to it at most once"));
  ASSERT_EQ(mps_transform_add_oldnew(t, &exact[0], &exact[1], 1), MPS_RES_OK);
  mps_bool_t applied = 0;
  ASSERT_EQ(mps_transform_apply(&applied, t), MPS_RES_OK);
  ASSERT_TRUE(applied);
  EXPECT_DEATH((void)mps_transform_apply(&applied, t),
               assertionReportContaining("a transform is applied at most once"));
  mps_transform_destroy(t);
}

// mps_addr_object ------------------------------------------------------------------

TEST(AddrObject, AnswersForEveryKindOfAddress) {
  Heap h(PoolKind::amc);
  mps_addr_t exact[1];
  h.table(mps_rank_exact(), exact, 1);
  Object* o = h.alloc(1, 3);
  exact[0] = o;
  const mps_addr_t sentinel = reinterpret_cast<mps_addr_t>(mps_word_t(0x5E47));
  mps_addr_t base = sentinel;
  ASSERT_EQ(mps_addr_object(&base, h.arena, o), MPS_RES_OK);
  EXPECT_EQ(base, static_cast<mps_addr_t>(o));
  base = sentinel;
  ASSERT_EQ(mps_addr_object(&base, h.arena, &o->refs[2]), MPS_RES_OK);
  EXPECT_EQ(base, static_cast<mps_addr_t>(o));
  // The rest of the allocation point's window in the segment: no object.
  base = sentinel;
  EXPECT_EQ(mps_addr_object(&base, h.arena, reinterpret_cast<char*>(o) + objectSize(3) + 64),
            MPS_RES_FAIL);
  // Outside the arena, and inside it where no pool is (its own structure).
  int local;
  EXPECT_EQ(mps_addr_object(&base, h.arena, &local), MPS_RES_FAIL);
  EXPECT_EQ(mps_addr_object(&base, h.arena, h.arena), MPS_RES_FAIL);
  EXPECT_EQ(base, sentinel);

  // Every other class cannot answer, for its objects and free space alike.
  mps_fmt_t fmt;
  ASSERT_EQ(makeFormat(&fmt, h.arena), MPS_RES_OK);
  std::vector<mps_pool_t> pools;
  for (mps_pool_class_t cls : {mps_class_ams(), mps_class_lo(), mps_class_awl()}) {
    mps_pool_t pool;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      ASSERT_EQ(mps_pool_create_k(&pool, h.arena, cls, args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    pools.push_back(pool);
    mps_ap_t ap;
    ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
    Object* x = allocObject(ap, 9, 0);
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(mps_addr_object(&base, h.arena, x), MPS_RES_UNIMPL);
    EXPECT_EQ(mps_addr_object(&base, h.arena, reinterpret_cast<char*>(x) + 256), MPS_RES_UNIMPL);
    mps_ap_destroy(ap);
  }
  mps_pool_t mvff, mfs;
  ASSERT_EQ(mps_pool_create_k(&mvff, h.arena, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_MFS_UNIT_SIZE, size_t(32));
    ASSERT_EQ(mps_pool_create_k(&mfs, h.arena, mps_class_mfs(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  for (mps_pool_t pool : {mvff, mfs}) {
    mps_addr_t block;
    ASSERT_EQ(mps_alloc(&block, pool, 32), MPS_RES_OK);
    EXPECT_EQ(mps_addr_object(&base, h.arena, block), MPS_RES_UNIMPL);
    EXPECT_EQ(mps_addr_object(&base, h.arena, static_cast<char*>(block) + 8), MPS_RES_UNIMPL);
    mps_free(pool, block, 32);
  }
  EXPECT_EQ(base, sentinel);
  mps_pool_destroy(mfs);
  mps_pool_destroy(mvff);
  for (mps_pool_t pool : pools)
    mps_pool_destroy(pool);
  mps_fmt_destroy(fmt);
}

// mps_arena_postmortem -------------------------------------------------------------

TEST(Postmortem, LiftsEveryProtectionAndStopsCollectionWork) {
  Heap h(PoolKind::amc);
  core::Collector* collector = collectorOf(h.arena);
  mps_addr_t exact[1];
  h.table(mps_rank_exact(), exact, 1);
  Object* list = nullptr;
  for (mps_word_t i = 1; i <= 2000; ++i) {
    Object* o = h.alloc(i, 1);
    o->refs[0] = list;
    list = o;
  }
  exact[0] = list;
  collector->barrierPolicy = false;  // protect whatever can be protected
  ASSERT_EQ(mps_arena_collect(h.arena), MPS_RES_OK);
  auto protectedSegments = [&] {
    size_t n = 0;
    core::forEachAutoPool(reinterpret_cast<core::Arena*>(h.arena), [&](core::AutoPool* pool) {
      pool->forEachSegment([&](core::Segment* seg) { n += seg->protMode != core::kShieldNone; });
    });
    return n;
  };
  if (collector->hasBarrier()) {
    EXPECT_GT(protectedSegments(), 0u);
  }
  mps_word_t collections = mps_collections(h.arena);

  mps_arena_postmortem(h.arena);
  EXPECT_EQ(protectedSegments(), 0u);
  EXPECT_TRUE(collector->isPostmortem());
  // Every object reads and writes without a fault.
  size_t faults = core::Shield::faultCount();
  size_t n = 0;
  for (Object* o = obj(exact[0]); o != nullptr; o = obj(o->refs[0])) {
    *static_cast<volatile mps_word_t*>(&o->id) = o->id;
    ++n;
  }
  EXPECT_EQ(n, 2000u);
  EXPECT_EQ(core::Shield::faultCount(), faults);
  // No collection starts of its own accord.
  mps_arena_release(h.arena);
  for (mps_word_t i = 0; i < 20000; ++i)
    ASSERT_NE(h.alloc(i, 4), nullptr);
  EXPECT_FALSE(mps_arena_step(h.arena, 1.0, 100.0));
  EXPECT_EQ(mps_collections(h.arena), collections);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH((void)mps_arena_collect(h.arena),
               assertionReportContaining("the arena is not in the postmortem state"));
}

mps_arena_t postmortemArena = nullptr;

extern "C" void postmortemThenExit(const char*, unsigned, const char*) {
  // Inside the library: the arena lock is held by this thread.
  mps_arena_postmortem(postmortemArena);
  _exit(collectorOf(postmortemArena)->isPostmortem() ? 7 : 8);
}

TEST(PostmortemDeathTest, CallableFromAnAssertionHandlerInsideTheLibrary) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Heap h(PoolKind::ams);
  postmortemArena = h.arena;
  EXPECT_EXIT(
      {
        (void)mps_lib_assert_fail_install(&postmortemThenExit);
        // The format is in use: the check fails with the lock held.
        mps_fmt_destroy(h.poc.fmt);
      },
      ::testing::ExitedWithCode(7), "");
}

// Pause time -----------------------------------------------------------------------

TEST(PauseTime, DefaultKeywordAndSetter) {
  mps_arena_t arena;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  EXPECT_EQ(mps_arena_pause_time(arena), 0.1);
  mps_arena_pause_time_set(arena, 0.0);
  EXPECT_EQ(mps_arena_pause_time(arena), 0.0);
  mps_arena_pause_time_set(arena, INFINITY);
  EXPECT_EQ(mps_arena_pause_time(arena), INFINITY);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(mps_arena_pause_time_set(arena, -0.5),
               assertionReportContaining("the pause time is not negative"));
  EXPECT_DEATH(mps_arena_pause_time_set(arena, NAN),
               assertionReportContaining("the pause time is not negative"));
  mps_arena_destroy(arena);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_PAUSE_TIME, 0.025);
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  EXPECT_EQ(mps_arena_pause_time(arena), 0.025);
  mps_arena_destroy(arena);
}

// Allocation patterns --------------------------------------------------------------

TEST(AllocPatterns, TokensAreConstantAndDistinct) {
  EXPECT_EQ(mps_alloc_pattern_ramp(), mps_alloc_pattern_ramp());
  EXPECT_EQ(mps_alloc_pattern_ramp_collect_all(), mps_alloc_pattern_ramp_collect_all());
  EXPECT_NE(mps_alloc_pattern_ramp(), mps_alloc_pattern_ramp_collect_all());
}

TEST(AllocPatterns, BeginAndEndNestAndEndWithoutBeginFails) {
  Heap h(PoolKind::amc);
  mps_alloc_pattern_t ramp = mps_alloc_pattern_ramp();
  mps_alloc_pattern_t all = mps_alloc_pattern_ramp_collect_all();
  EXPECT_EQ(mps_ap_alloc_pattern_end(h.ap, ramp), MPS_RES_FAIL);
  ASSERT_EQ(mps_ap_alloc_pattern_begin(h.ap, ramp), MPS_RES_OK);
  ASSERT_EQ(mps_ap_alloc_pattern_begin(h.ap, ramp), MPS_RES_OK);
  EXPECT_EQ(mps_ap_alloc_pattern_end(h.ap, all), MPS_RES_FAIL);
  EXPECT_EQ(mps_ap_alloc_pattern_end(h.ap, ramp), MPS_RES_OK);
  EXPECT_EQ(mps_ap_alloc_pattern_end(h.ap, ramp), MPS_RES_OK);
  EXPECT_EQ(mps_ap_alloc_pattern_end(h.ap, ramp), MPS_RES_FAIL);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(mps_ap_alloc_pattern_begin(h.ap, i == 1 ? all : ramp), MPS_RES_OK);
  EXPECT_EQ(mps_ap_alloc_pattern_reset(h.ap), MPS_RES_OK);
  EXPECT_EQ(mps_ap_alloc_pattern_end(h.ap, ramp), MPS_RES_FAIL);
  EXPECT_EQ(mps_ap_alloc_pattern_end(h.ap, all), MPS_RES_FAIL);
  // Destroying an allocation point ends the patterns left open on it.
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, h.poc.pool, mps_args_none), MPS_RES_OK);
  EXPECT_EQ(mps_ap_alloc_pattern_begin(ap, ramp), MPS_RES_OK);
  EXPECT_EQ(mps_ap_alloc_pattern_begin(ap, all), MPS_RES_OK);
  mps_ap_destroy(ap);
  EXPECT_EQ(mps_ap_alloc_pattern_end(h.ap, ramp), MPS_RES_FAIL);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH((void)mps_ap_alloc_pattern_begin(h.ap, reinterpret_cast<mps_alloc_pattern_t>(&ap)),
               assertionReportContaining("the allocation pattern is mps_alloc_pattern_ramp()"));
}

// A ramp keeps its allocation point's allocation from triggering nursery
// collections (AMC); once a collect-all ramp and every ramp nested with it
// have ended, a full collection runs.
TEST(AllocPatterns, RampsDeferCollectionsAndCollectAllEndsWithAFullOne) {
  Heap h(PoolKind::amc, {64, 0.9});  // a 64 KiB nursery
  mps_addr_t exact[1] = {nullptr};
  h.table(mps_rank_exact(), exact, 1);
  mps_arena_release(h.arena);
  mps_word_t before = mps_collections(h.arena);
  ASSERT_EQ(mps_ap_alloc_pattern_begin(h.ap, mps_alloc_pattern_ramp_collect_all()), MPS_RES_OK);
  ASSERT_EQ(mps_ap_alloc_pattern_begin(h.ap, mps_alloc_pattern_ramp()), MPS_RES_OK);
  for (mps_word_t i = 0; i < 20000; ++i) {  // about half a megabyte, kept alive
    Object* o = h.alloc(i, 1);
    ASSERT_NE(o, nullptr);
    o->refs[0] = exact[0];
    exact[0] = o;
  }
  EXPECT_EQ(mps_collections(h.arena), before);
  ASSERT_EQ(mps_ap_alloc_pattern_end(h.ap, mps_alloc_pattern_ramp_collect_all()), MPS_RES_OK);
  EXPECT_EQ(mps_collections(h.arena), before);  // a ramp is still open
  ASSERT_EQ(mps_ap_alloc_pattern_end(h.ap, mps_alloc_pattern_ramp()), MPS_RES_OK);
  EXPECT_EQ(mps_collections(h.arena), before + 1);
  EXPECT_FALSE(collectorOf(h.arena)->isClamped());
  // Outside a ramp, the same allocation collects the nursery.
  for (mps_word_t i = 0; i < 20000; ++i)
    ASSERT_NE(h.alloc(i, 1), nullptr);
  EXPECT_GT(mps_collections(h.arena), before + 1);
  size_t n = 0;
  for (Object* o = obj(exact[0]); o != nullptr; o = obj(o->refs[0]))
    ++n;
  EXPECT_EQ(n, 20000u);
}

}  // namespace
}  // namespace mps::test
