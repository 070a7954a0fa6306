// AMC and AMCZ: copying, pinning by ambiguous references, generations, the
// allocation point's commit after a flip, location dependencies, parallel
// copying, the commit limit during a collection, introspection and the
// checked build's heap verifier.
#include <gtest/gtest.h>

#include <cstring>

#include "amc_support.hpp"
#include "assertions.hpp"
#include "mpscmvff.h"
#include "seed.hpp"

namespace mps::test {
namespace {

constexpr size_t kExactRoots = 64;
constexpr size_t kAmbigRoots = 16;

class AmcTest : public ::testing::Test {
 protected:
  void make(unsigned workers = 1) {
    ASSERT_EQ(makeParkedArena(&arena, workers), MPS_RES_OK);
    ASSERT_EQ(makeMovingFormat(&fmt, arena), MPS_RES_OK);
    ASSERT_EQ(makeMovingFormat(&leafFmt, arena, true), MPS_RES_OK);
    mps_gen_param_s gens[3] = {{256, 0.8}, {512, 0.5}, {1024, 0.5}};
    ASSERT_EQ(mps_chain_create(&chain, arena, 3, gens), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      ASSERT_EQ(mps_pool_create_k(&amc, arena, mps_class_amc(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, leafFmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      ASSERT_EQ(mps_pool_create_k(&amcz, arena, mps_class_amcz(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(mps_ap_create_k(&ap, amc, mps_args_none), MPS_RES_OK);
    ASSERT_EQ(mps_ap_create_k(&leafAp, amcz, mps_args_none), MPS_RES_OK);
    for (auto& r : exact)
      r = nullptr;
    for (auto& r : ambig)
      r = nullptr;
    ASSERT_EQ(mps_root_create_table(&exactRoot, arena, mps_rank_exact(), 0, exact, kExactRoots),
              MPS_RES_OK);
    ASSERT_EQ(mps_root_create_table(&ambigRoot, arena, mps_rank_ambig(), 0, ambig, kAmbigRoots),
              MPS_RES_OK);
  }
  void TearDown() override {
    if (arena == nullptr) return;
    mps_root_destroy(exactRoot);
    mps_root_destroy(ambigRoot);
    mps_ap_destroy(ap);
    mps_ap_destroy(leafAp);
    mps_pool_destroy(amc);
    mps_pool_destroy(amcz);
    mps_chain_destroy(chain);
    mps_fmt_destroy(fmt);
    mps_fmt_destroy(leafFmt);
    mps_arena_destroy(arena);
  }
  // A list of `n` objects (ids first..first+n-1), each also pointing at a
  // leaf, held by exact[slot].
  Object* makeList(size_t slot, mps_word_t first, size_t n) {
    for (size_t i = n; i-- > 0;) {
      Object* o = allocObject(ap, first + i, 2);
      if (o == nullptr) return nullptr;
      o->refs[0] = exact[slot];
      exact[slot] = o;
      Object* leaf = allocObject(leafAp, first + i + 1000000, 0);
      if (leaf == nullptr) return nullptr;
      static_cast<Object*>(exact[slot])->refs[1] = leaf;
    }
    return static_cast<Object*>(exact[slot]);
  }
  // An AMS pool in generation `gen` of the chain, with an allocation point
  // of ambiguous rank: its objects' references pin what they designate.
  void makeAmbiguousAms(unsigned gen, mps_pool_t* poolOut, mps_ap_t* apOut) {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      MPS_ARGS_ADD(args, MPS_KEY_GEN, gen);
      ASSERT_EQ(mps_pool_create_k(poolOut, arena, mps_class_ams(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_ambig());
      ASSERT_EQ(mps_ap_create_k(apOut, *poolOut, args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
  }
  void expectList(size_t slot, mps_word_t first, size_t n) {
    auto* o = static_cast<Object*>(exact[slot]);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_NE(o, nullptr);
      ASSERT_EQ(tagOf(o), kObjectTag);
      ASSERT_EQ(o->id, first + i);
      auto* leaf = static_cast<Object*>(o->refs[1]);
      ASSERT_EQ(tagOf(leaf), kObjectTag);
      ASSERT_EQ(leaf->id, first + i + 1000000);
      o = static_cast<Object*>(o->refs[0]);
    }
    ASSERT_EQ(o, nullptr);
  }

  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr, leafFmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t amc = nullptr, amcz = nullptr;
  mps_ap_t ap = nullptr, leafAp = nullptr;
  mps_root_t exactRoot = nullptr, ambigRoot = nullptr;
  static inline mps_addr_t exact[kExactRoots];
  static inline mps_addr_t ambig[kAmbigRoots];
};

TEST_F(AmcTest, CopiesSurvivorsAndUpdatesExactReferences) {
  make();
  Object* head = makeList(0, 1, 2000);
  ASSERT_NE(head, nullptr);
  for (int i = 0; i < 3000; ++i)
    ASSERT_NE(allocObject(ap, 5000000 + i, 1), nullptr);  // garbage
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_NE(exact[0], static_cast<void*>(head)) << "the list head was not moved";
  expectList(0, 1, 2000);
  EXPECT_EQ(objectsById(arena).size(), 4000u) << "garbage survived or survivors were lost";
  // Again: objects move between collections too.
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  expectList(0, 1, 2000);
  EXPECT_EQ(objectsById(arena).size(), 4000u);
}

TEST_F(AmcTest, WeakRootsFollowMovedObjectsAndLoseDeadOnes) {
  make();
  Object* kept = allocObject(ap, 1, 0);
  Object* dropped = allocObject(ap, 2, 0);
  Object* pinned = allocObject(ap, 3, 0);
  ASSERT_TRUE(kept != nullptr && dropped != nullptr && pinned != nullptr);
  exact[0] = kept;
  ambig[0] = pinned;
  static mps_addr_t weak[3];
  weak[0] = kept;
  weak[1] = dropped;
  weak[2] = pinned;
  mps_root_t weakRoot;
  ASSERT_EQ(mps_root_create_table(&weakRoot, arena, mps_rank_weak(), 0, weak, 3), MPS_RES_OK);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_NE(exact[0], static_cast<void*>(kept)) << "the strongly held object was not moved";
  EXPECT_EQ(weak[0], exact[0]);                    // follows the copy
  EXPECT_EQ(weak[1], nullptr);                     // only weakly held: dead and splatted
  EXPECT_EQ(weak[2], static_cast<void*>(pinned));  // pinned: kept in place
  EXPECT_EQ(static_cast<Object*>(weak[0])->id, 1u);
  mps_root_destroy(weakRoot);
  ambig[0] = nullptr;
  exact[0] = nullptr;
}

TEST_F(AmcTest, AmbiguousReferencesPinTheirObjects) {
  make();
  ASSERT_NE(makeList(0, 1, 500), nullptr);
  // Pin some objects of the list, by base and by interior pointer.
  std::vector<Object*> pinned;
  auto* o = static_cast<Object*>(exact[0]);
  for (int i = 0; o != nullptr; ++i, o = static_cast<Object*>(o->refs[0]))
    if (i % 100 == 7) pinned.push_back(o);
  for (size_t i = 0; i < pinned.size(); ++i)
    ambig[i] = i % 2 == 0 ? static_cast<void*>(pinned[i])
                          : static_cast<void*>(reinterpret_cast<char*>(pinned[i]) + 8);
  std::vector<mps_word_t> ids;
  for (Object* p : pinned)
    ids.push_back(p->id);
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    for (size_t i = 0; i < pinned.size(); ++i) {
      ASSERT_EQ(tagOf(pinned[i]), kObjectTag) << "a pinned object was moved";
      ASSERT_EQ(pinned[i]->id, ids[i]);
    }
    expectList(0, 1, 500);
  }
  // The pinned objects are still on the list at their own addresses.
  std::set<Object*> onList;
  for (o = static_cast<Object*>(exact[0]); o != nullptr; o = static_cast<Object*>(o->refs[0]))
    onList.insert(o);
  for (Object* p : pinned)
    EXPECT_TRUE(onList.count(p));
}

// A stack reference (thread root) pins too.
TEST_F(AmcTest, StackReferencePinsObject) {
  make();
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, arena), MPS_RES_OK);
  void* cold = __builtin_frame_address(0);
  mps_root_t stackRoot;
  ASSERT_EQ(mps_root_create_thread(&stackRoot, arena, thread, cold), MPS_RES_OK);
  Object* volatile onStack = allocObject(ap, 77, 1);
  ASSERT_NE(onStack, nullptr);
  Object* child = allocObject(ap, 78, 0);
  onStack->refs[0] = child;
  Object* before = onStack;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(onStack, before);
  EXPECT_EQ(onStack->id, 77u);
  auto* c = static_cast<Object*>(onStack->refs[0]);
  ASSERT_EQ(tagOf(c), kObjectTag);
  EXPECT_EQ(c->id, 78u);
  mps_root_destroy(stackRoot);
  mps_thread_dereg(thread);
}

TEST_F(AmcTest, CommitFailsExactlyWhenAFlipIntervened) {
  make();
  size_t size = objectSize(1);
  mps_addr_t p;
  ASSERT_EQ(mps_reserve(&p, ap, size), MPS_RES_OK);
  auto* o = static_cast<Object*>(p);
  o->header = (mps_word_t(1) << 8) | kObjectTag;
  o->id = 1;
  o->refs[0] = nullptr;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_FALSE(mps_commit(ap, p, size)) << "commit succeeded after a flip";
  // The retry succeeds, and a commit with no flip in between succeeds.
  Object* again = allocObject(ap, 2, 1);
  ASSERT_NE(again, nullptr);
  exact[0] = again;
  ASSERT_EQ(mps_reserve(&p, ap, size), MPS_RES_OK);
  std::memcpy(p, again, size);
  EXPECT_TRUE(mps_commit(ap, p, size));
  // AMCZ allocation points are never trapped: a leaf commit stands.
  mps_addr_t q;
  ASSERT_EQ(mps_reserve(&q, leafAp, objectSize(0)), MPS_RES_OK);
  static_cast<Object*>(q)->header = kObjectTag;
  static_cast<Object*>(q)->id = 3;
  ambig[0] = q;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_TRUE(mps_commit(leafAp, q, objectSize(0)));
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(static_cast<Object*>(q)->id, 3u);
  EXPECT_EQ(static_cast<Object*>(exact[0])->id, 2u);
}

TEST_F(AmcTest, SurvivorsArePromotedAndOldToYoungReferencesUpdated) {
  make();
  Object* old = allocObject(ap, 1, 1);
  ASSERT_NE(old, nullptr);
  exact[0] = old;
  EXPECT_EQ(generationOf(arena, exact[0]), 0);
  ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  EXPECT_EQ(generationOf(arena, exact[0]), 1);
  void* inGen1 = exact[0];
  // A young object referenced only from the old one (remembered set).
  Object* young = allocObject(ap, 2, 0);
  ASSERT_NE(young, nullptr);
  static_cast<Object*>(exact[0])->refs[0] = young;
  ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  EXPECT_EQ(exact[0], inGen1) << "a nursery collection moved an older object";
  auto* y = static_cast<Object*>(static_cast<Object*>(exact[0])->refs[0]);
  EXPECT_NE(static_cast<void*>(y), static_cast<void*>(young)) << "the young object did not move";
  ASSERT_EQ(tagOf(y), kObjectTag);
  EXPECT_EQ(y->id, 2u);
  EXPECT_EQ(generationOf(arena, y), 1);
  ASSERT_EQ(collectGenerations(arena, chain, 1), MPS_RES_OK);
  EXPECT_EQ(generationOf(arena, exact[0]), 2);
  // The last generation promotes into itself.
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(generationOf(arena, exact[0]), 2);
  EXPECT_EQ(static_cast<Object*>(exact[0])->id, 1u);
  EXPECT_EQ(static_cast<Object*>(static_cast<Object*>(exact[0])->refs[0])->id, 2u);
}

TEST_F(AmcTest, LocationDependencyIsStaleOnlyAfterAMove) {
  make();
  Object* o = allocObject(ap, 1, 0);
  ASSERT_NE(o, nullptr);
  exact[0] = o;
  mps_ld_s ld, empty, merged;
  mps_ld_reset(&ld, arena);
  mps_ld_reset(&empty, arena);
  mps_ld_add(&ld, arena, o);
  EXPECT_FALSE(mps_ld_isstale(&ld, arena, o));
  EXPECT_FALSE(mps_ld_isstale_any(&ld, arena));
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_NE(exact[0], static_cast<void*>(o)) << "the object did not move";
  EXPECT_TRUE(mps_ld_isstale(&ld, arena, o));
  EXPECT_TRUE(mps_ld_isstale_any(&ld, arena));
  EXPECT_FALSE(mps_ld_isstale_any(&empty, arena)) << "an LD with no adds is never stale";
  // Merging keeps the older epoch: the merge is stale too.
  mps_ld_reset(&merged, arena);
  mps_ld_add(&merged, arena, exact[0]);
  EXPECT_FALSE(mps_ld_isstale_any(&merged, arena));
  mps_ld_merge(&merged, arena, &ld);
  EXPECT_TRUE(mps_ld_isstale_any(&merged, arena));
  // After a reset, only moves after it count; many epochs later the
  // prehistory still answers.
  mps_ld_reset(&ld, arena);
  mps_ld_add(&ld, arena, exact[0]);
  EXPECT_FALSE(mps_ld_isstale_any(&ld, arena));
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_TRUE(mps_ld_isstale_any(&ld, arena));
}

TEST(AmcLd, CollectionsThatMoveNothingLeaveLdsFresh) {
  mps_arena_t arena;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_fmt_t fmt;
  ASSERT_EQ(makeMovingFormat(&fmt, arena), MPS_RES_OK);
  mps_pool_t ams;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    ASSERT_EQ(mps_pool_create_k(&ams, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, ams, mps_args_none), MPS_RES_OK);
  static mps_addr_t root[1];
  mps_root_t r;
  ASSERT_EQ(mps_root_create_table(&r, arena, mps_rank_exact(), 0, root, 1), MPS_RES_OK);
  root[0] = allocObject(ap, 1, 0);
  mps_ld_s ld;
  mps_ld_reset(&ld, arena);
  mps_ld_add(&ld, arena, root[0]);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_FALSE(mps_ld_isstale(&ld, arena, root[0]));
  mps_arena_release(arena);
  mps_root_destroy(r);
  mps_ap_destroy(ap);
  mps_pool_destroy(ams);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

// Builds a seeded random graph, collects, and returns it by id; the graph
// must not depend on the number of workers that copied it.
class AmcWorkersTest : public AmcTest {
 public:
  std::map<mps_word_t, std::vector<mps_word_t>> run(unsigned workers, uint64_t seed) {
    make(workers);
    Rng rng(seed);
    std::vector<Object*> all;
    for (mps_word_t id = 1; id <= 20000; ++id) {
      bool leaf = rng.below(4) == 0;
      Object* o = allocObject(leaf ? leafAp : ap, id, leaf ? 0 : 2 + size_t(rng.below(4)));
      EXPECT_NE(o, nullptr);
      if (o == nullptr) break;
      for (size_t k = 0; k < refCount(o); ++k)
        if (!all.empty()) o->refs[k] = all[rng.below(all.size())];
      all.push_back(o);
    }
    // The last objects reach back into the graph through random edges.
    for (size_t r = 0; r < kExactRoots; ++r)
      exact[r] = all[all.size() - 1 - r];
    EXPECT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    EXPECT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    std::vector<Object*> roots;
    for (auto r : exact)
      roots.push_back(static_cast<Object*>(r));
    auto graph = graphFrom(roots);
    EXPECT_EQ(objectsById(arena).size(), graph.size());
    TearDown();
    arena = nullptr;
    return graph;
  }
  void TestBody() override {}
};

TEST(AmcWorkers, OneAndFourWorkersGiveIdenticalGraphs) {
  uint64_t seed = testSeed(4242);
  AmcWorkersTest one, four;
  auto g1 = one.run(1, seed);
  auto g4 = four.run(4, seed);
  EXPECT_GT(g1.size(), 3000u);
  EXPECT_EQ(g1, g4);
}

TEST_F(AmcTest, CommitLimitDuringACollectionPinsInsteadOfCopying) {
  make();
  // Live data, then a commit limit with no room for a to-space.
  for (size_t slot = 0; slot < 8; ++slot)
    ASSERT_NE(makeList(slot, 1 + slot * 10000, 1500), nullptr);
  mps_arena_spare_set(arena, 0.0);
  ASSERT_EQ(mps_arena_commit_limit_set(arena, mps_arena_committed(arena)), MPS_RES_OK);
  void* head = exact[0];
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(exact[0], head) << "copied without room for a to-space";
  for (size_t slot = 0; slot < 8; ++slot)
    expectList(slot, 1 + slot * 10000, 1500);
  // Allocating live data until the limit refuses: a result code, no crash.
  mps_res_t res = MPS_RES_OK;
  for (mps_word_t id = 1000000; res == MPS_RES_OK && id < 3000000; ++id) {
    mps_addr_t p;
    res = mps_reserve(&p, ap, objectSize(1));
    if (res != MPS_RES_OK) break;
    auto* o = static_cast<Object*>(p);
    o->header = (mps_word_t(1) << 8) | kObjectTag;
    o->id = id;
    o->refs[0] = exact[8];
    if (mps_commit(ap, p, objectSize(1))) exact[8] = p;
  }
  EXPECT_EQ(res, MPS_RES_COMMIT_LIMIT);
  for (size_t slot = 0; slot < 8; ++slot)
    expectList(slot, 1 + slot * 10000, 1500);
  // Dropping the data and raising the limit makes the arena usable again.
  exact[8] = nullptr;
  ASSERT_EQ(mps_arena_commit_limit_set(arena, size_t(1) << 30), MPS_RES_OK);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_NE(makeList(9, 900000, 1000), nullptr);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  expectList(9, 900000, 1000);
  for (size_t slot = 0; slot < 8; ++slot)
    expectList(slot, 1 + slot * 10000, 1500);
}

TEST_F(AmcTest, IntrospectionAndWalking) {
  make();
  ASSERT_NE(makeList(0, 1, 100), nullptr);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  auto* o = static_cast<Object*>(exact[0]);
  EXPECT_TRUE(mps_arena_has_addr(arena, o));
  mps_pool_t pool;
  ASSERT_TRUE(mps_addr_pool(&pool, arena, o));
  EXPECT_EQ(pool, amc);
  mps_fmt_t f;
  ASSERT_TRUE(mps_addr_fmt(&f, arena, o));
  EXPECT_EQ(f, fmt);
  mps_addr_t base;
  ASSERT_EQ(mps_addr_object(&base, arena, reinterpret_cast<char*>(o) + 12), MPS_RES_OK);
  EXPECT_EQ(base, static_cast<void*>(o));
  ASSERT_EQ(mps_addr_object(&base, arena, o), MPS_RES_OK);
  EXPECT_EQ(base, static_cast<void*>(o));
  int local;
  EXPECT_EQ(mps_addr_object(&base, arena, &local), MPS_RES_FAIL);
  // mps_amc_apply and mps_pool_walk see every object once.
  size_t count = 0;
  mps_amc_apply(
      amc,
      [](mps_addr_t addr, void* p, size_t) {
        EXPECT_EQ(tagOf(addr), kObjectTag);
        ++*static_cast<size_t*>(p);
      },
      &count, 0);
  EXPECT_EQ(count, 100u);
  count = 0;
  ASSERT_EQ(mps_pool_walk(
                amcz,
                [](mps_ss_t, void* b, void* l, void* p) -> mps_res_t {
                  EXPECT_EQ(tagOf(b), kObjectTag);
                  EXPECT_EQ(static_cast<char*>(l) - static_cast<char*>(b),
                            ptrdiff_t(objectSize(0)));
                  ++*static_cast<size_t*>(p);
                  return MPS_RES_OK;
                },
                &count),
            MPS_RES_OK);
  EXPECT_EQ(count, 100u);
  EXPECT_EQ(objectsById(arena).size(), 200u);
}

// With MPS_KEY_INTERIOR false only an object's own address pins it.
TEST_F(AmcTest, WithoutInteriorOnlyBasePointersPin) {
  make();
  mps_pool_t pool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    MPS_ARGS_ADD(args, MPS_KEY_INTERIOR, mps_bool_t(0));
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_amc(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t bap;
  ASSERT_EQ(mps_ap_create_k(&bap, pool, mps_args_none), MPS_RES_OK);
  Object* byBase = allocObject(bap, 1, 0);
  Object* byInterior = allocObject(bap, 2, 0);
  ASSERT_TRUE(byBase != nullptr && byInterior != nullptr);
  exact[0] = byBase;
  exact[1] = byInterior;
  ambig[0] = byBase;
  ambig[1] = reinterpret_cast<char*>(byInterior) + 8;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(exact[0], static_cast<void*>(byBase)) << "a base pointer did not pin";
  EXPECT_NE(exact[1], static_cast<void*>(byInterior)) << "an interior pointer pinned";
  EXPECT_EQ(static_cast<Object*>(exact[1])->id, 2u);
  ambig[0] = ambig[1] = nullptr;
  exact[0] = exact[1] = nullptr;
  mps_ap_destroy(bap);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_pool_destroy(pool);
}

// An ambiguous reference held in an uncondemned AMS object (ambiguous
// allocation point) pins the AMC object it designates, even though an exact
// root to the same object is scanned in the same collection.
TEST_F(AmcTest, AmbiguousHeapReferencesInOlderSegmentsPin) {
  make();
  mps_pool_t ams;
  mps_ap_t ambigAp;
  makeAmbiguousAms(2, &ams, &ambigAp);  // generation 2: not condemned by nursery collections
  Object* holder = allocObject(ambigAp, 1, 1);
  Object* target = allocObject(ap, 2, 0);
  ASSERT_TRUE(holder != nullptr && target != nullptr);
  holder->refs[0] = target;
  exact[0] = holder;
  exact[1] = target;
  ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  EXPECT_EQ(exact[1], static_cast<void*>(target)) << "an ambiguously referenced object moved";
  EXPECT_EQ(holder->refs[0], static_cast<void*>(target));
  EXPECT_EQ(tagOf(target), kObjectTag);
  EXPECT_EQ(target->id, 2u);
  exact[0] = exact[1] = nullptr;
  mps_ap_destroy(ambigAp);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_pool_destroy(ams);
}

// The same with the ambiguous holder condemned too (a full collection): it
// is reached only through an exact reference, after the exact root to the
// target may already have been fixed, so the collection must not move it.
TEST_F(AmcTest, AmbiguousHeapReferencesInCondemnedSegmentsPin) {
  make();
  mps_pool_t ams;
  mps_ap_t ambigAp;
  makeAmbiguousAms(0, &ams, &ambigAp);
  std::vector<Object*> targets;
  std::vector<Object*> holders;
  for (mps_word_t i = 0; i < 200; ++i) {
    Object* holder = allocObject(ambigAp, 1000 + i, 1);
    Object* target = allocObject(ap, 2000 + i, 0);
    ASSERT_TRUE(holder != nullptr && target != nullptr);
    holder->refs[0] = target;
    holders.push_back(holder);
    targets.push_back(target);
  }
  // Exact roots to the targets come first, the holders only through a list
  // of exact AMC objects scanned later.
  for (size_t i = 0; i < 8 && i < kExactRoots - 1; ++i)
    exact[i] = targets[i * 25];
  Object* list = nullptr;
  for (Object* h : holders) {
    Object* cell = allocObject(ap, 9, 2);
    ASSERT_NE(cell, nullptr);
    cell->refs[0] = list;
    cell->refs[1] = h;
    list = cell;
  }
  exact[kExactRoots - 1] = list;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  for (size_t i = 0; i < holders.size(); ++i) {
    ASSERT_EQ(holders[i]->refs[0], static_cast<void*>(targets[i])) << i;
    ASSERT_EQ(tagOf(targets[i]), kObjectTag) << "an ambiguously referenced object moved: " << i;
    ASSERT_EQ(targets[i]->id, 2000 + i);
  }
  for (size_t i = 0; i < kExactRoots; ++i)
    exact[i] = nullptr;
  mps_ap_destroy(ambigAp);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_pool_destroy(ams);
}

// An object of at least MPS_KEY_LARGE_SIZE has a segment of its own and is
// promoted in place, not copied.
TEST_F(AmcTest, LargeObjectsArePromotedInPlace) {
  make();
  size_t refs = 32768 / sizeof(mps_word_t);
  Object* big = allocObject(ap, 1, refs);
  ASSERT_NE(big, nullptr);
  Object* small = allocObject(ap, 2, 0);
  big->refs[refs - 1] = small;
  exact[0] = big;
  ASSERT_EQ(collectGenerations(arena, chain, 0), MPS_RES_OK);
  EXPECT_EQ(exact[0], static_cast<void*>(big)) << "a large object was copied";
  EXPECT_EQ(generationOf(arena, big), 1);
  EXPECT_NE(big->refs[refs - 1], static_cast<void*>(small)) << "its referent did not move";
  EXPECT_EQ(static_cast<Object*>(big->refs[refs - 1])->id, 2u);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(exact[0], static_cast<void*>(big));
  EXPECT_EQ(big->id, 1u);
  EXPECT_EQ(objectsById(arena).size(), 2u);
}

// Allocation on an MPS_KEY_AP_HASH_ARRAYS point does not fill the nursery.
TEST_F(AmcTest, HashArrayAllocationDoesNotCountTowardTheNursery) {
  make();
  mps_ap_t hashAp;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_AP_HASH_ARRAYS, mps_bool_t(1));
    ASSERT_EQ(mps_ap_create_k(&hashAp, amc, args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  core::Generation* nursery = reinterpret_cast<core::Chain*>(chain)->gen(0);
  size_t before = nursery->newSize;
  for (mps_word_t i = 0; i < 20000; ++i)
    ASSERT_NE(allocObject(hashAp, i, 4), nullptr);
  EXPECT_EQ(nursery->newSize, before);
  for (mps_word_t i = 0; i < 20000; ++i)
    ASSERT_NE(allocObject(ap, i, 4), nullptr);
  EXPECT_GT(nursery->newSize, before);
  mps_ap_destroy(hashAp);
}

// A scan method that fails before anything moved: the collection is
// abandoned, pins are forgotten, and the next collection is whole.
TEST_F(AmcTest, ScanFailureBeforeAnythingMovedIsAbandonedCleanly) {
  make();
  Object* a = allocObject(ap, 1, 1);
  Object* b = allocObject(ap, 2, 0);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  a->refs[0] = b;
  ambig[0] = a;
  scanControl().failAfter = 0;
  EXPECT_EQ(mps_arena_collect(arena), MPS_RES_FAIL);
  scanControl().failAfter = -1;
  EXPECT_EQ(tagOf(a), kObjectTag);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(a->id, 1u);
  auto* child = static_cast<Object*>(a->refs[0]);
  ASSERT_EQ(tagOf(child), kObjectTag);
  EXPECT_EQ(child->id, 2u);
  EXPECT_EQ(objectsById(arena).size(), 2u);
}

TEST(AmcCreate, DeprecatedVarargsCreation) {
  mps_arena_t arena;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_fmt_t fmt;
  ASSERT_EQ(makeMovingFormat(&fmt, arena), MPS_RES_OK);
  mps_gen_param_s gens[1] = {{1024, 0.5}};
  mps_chain_t chain;
  ASSERT_EQ(mps_chain_create(&chain, arena, 1, gens), MPS_RES_OK);
  mps_pool_t pool;
  ASSERT_EQ(mps_pool_create(&pool, arena, mps_class_amc(), fmt, chain), MPS_RES_OK);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create(&ap, pool, mps_rank_exact()), MPS_RES_OK);
  EXPECT_NE(allocObject(ap, 1, 0), nullptr);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_chain_destroy(chain);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

// Misuse and the heap verifier.

class AmcDeathTest : public AmcTest {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// A format without forwarding methods is accepted (format.md: the
// reference checks nothing at creation); its first copy reports the method
// it lacks.
TEST_F(AmcDeathTest, FormatWithoutForwardingIsReportedAtTheFirstCopy) {
  make();
  mps_fmt_t plain;
  ASSERT_EQ(makeFormat(&plain, arena), MPS_RES_OK);
  mps_pool_t pool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, plain);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_amc(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t plainAp;
  ASSERT_EQ(mps_ap_create_k(&plainAp, pool, mps_args_none), MPS_RES_OK);
  EXPECT_DEATH(
      {
        exact[0] = allocObject(plainAp, 1, 0);
        (void)mps_arena_collect(arena);
      },
      assertionReportContaining("format has a forward method: the pool moves objects"));
  mps_ap_destroy(plainAp);
  mps_pool_destroy(pool);
  mps_fmt_destroy(plain);
}

TEST_F(AmcDeathTest, LargeSizeBelowExtendByIsRejected) {
  make();
  mps_pool_t pool;
  EXPECT_DEATH(
      {
        MPS_ARGS_BEGIN(args) {
          MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
          MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, size_t(65536));
          MPS_ARGS_ADD(args, MPS_KEY_LARGE_SIZE, size_t(4096));
          (void)mps_pool_create_k(&pool, arena, mps_class_amc(), args);
        }
        MPS_ARGS_END(args);
      },
      assertionReportContaining("MPS_KEY_LARGE_SIZE is at least MPS_KEY_EXTEND_BY"));
}

#if MPS_CHECKED
TEST_F(AmcDeathTest, ExactReferenceInsideAnObjectIsReported) {
  make();
  EXPECT_DEATH(
      {
        Object* o = allocObject(ap, 1, 3);
        exact[0] = reinterpret_cast<char*>(o) + 16;
        (void)mps_arena_collect(arena);
      },
      assertionReportContaining("an exact reference points at an object"));
}

// A root that forgets to fix its reference during the collection (so it
// keeps pointing at the old copy) and reports it when the verifier asks.
struct HiddenRef {
  mps_addr_t ref = nullptr;
  int calls = 0;
};

mps_res_t scanHidden(mps_ss_t ss, void* p, size_t) {
  auto* h = static_cast<HiddenRef*>(p);
  if (h->calls++ == 0) return MPS_RES_OK;
  mps_res_t res;
  MPS_SCAN_BEGIN(ss) {
    res = MPS_FIX12(ss, &h->ref);
  }
  MPS_SCAN_END(ss);
  return res;
}

TEST_F(AmcDeathTest, VerifierCatchesAReferenceToAnOldCopy) {
  make();
  EXPECT_DEATH(
      {
        Object* o = allocObject(ap, 1, 0);
        exact[0] = o;
        static HiddenRef hidden;
        hidden.ref = o;
        mps_root_t r;
        (void)mps_root_create(&r, arena, mps_rank_exact(), 0, scanHidden, &hidden, 0);
        (void)mps_arena_collect(arena);
      },
      assertionReportContaining("heap verifier"));
}
#endif

}  // namespace
}  // namespace mps::test
