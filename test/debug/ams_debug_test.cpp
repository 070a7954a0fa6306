// AMS debug through the C interface (debugging.md): fenceposts around
// objects allocated on allocation points, kept consistent with the format
// through collections (the heap verifier of checked builds runs in each);
// overruns caught on request and when a dead object is reclaimed; writes
// into reclaimed space caught on request and on reuse; option misuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "debug_support.hpp"
#include "object_format.hpp"
#include "seed.hpp"

namespace mps::test {
namespace {

mps_pool_debug_option_s gAmsOptions = {"fencepost", 9, "free", 4};

class AMSDebugTest : public ::testing::Test {
 protected:
  void SetUp() override {
    arena = makeTestArena();
    ASSERT_NE(arena, nullptr);
    ASSERT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
    mps_gen_param_s gens[1] = {{size_t(1) << 20, 0.5}};  // no automatic collection
    ASSERT_EQ(mps_chain_create(&chain, arena, 1, gens), MPS_RES_OK);
  }
  void TearDown() override {
    if (root != nullptr) mps_root_destroy(root);
    if (ap != nullptr) mps_ap_destroy(ap);
    if (pool != nullptr) mps_pool_destroy(pool);
    mps_chain_destroy(chain);
    mps_fmt_destroy(fmt);
    mps_arena_destroy(arena);
  }
  void makePool(mps_pool_debug_option_s* options = &gAmsOptions) {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      if (options != nullptr) MPS_ARGS_ADD(args, MPS_KEY_POOL_DEBUG_OPTIONS, options);
      ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams_debug(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
    ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, kTable), MPS_RES_OK);
  }
  // Allocates three objects with `refs` references, the middle one
  // unreachable (the others keep its segment in use), and returns it.
  Object* deadBetweenLiveOnes(size_t refs) {
    table[0] = allocObject(ap, 1, refs);
    Object* dead = allocObject(ap, 2, refs);
    table[1] = allocObject(ap, 3, refs);
    return dead;
  }
  std::set<mps_word_t> survivors() {
    auto ids = walkIds(arena);
    return std::set<mps_word_t>(ids.begin(), ids.end());
  }

  static constexpr size_t kTable = 64;
  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t pool = nullptr;
  mps_ap_t ap = nullptr;
  mps_root_t root = nullptr;
  mps_addr_t table[kTable] = {};
};

TEST_F(AMSDebugTest, ExactlyTheReachableObjectsSurviveAndTheFencepostsHold) {
  makePool();
  Rng rng(testSeed(0xA35DEB));
  const size_t n = 3000;
  for (int round = 0; round < 3; ++round) {
    std::vector<Object*> objects;
    std::vector<std::vector<size_t>> edges(n);
    for (size_t i = 0; i < n; ++i) {
      Object* o = allocObject(ap, i, size_t(rng.below(5)));
      ASSERT_NE(o, nullptr);
      objects.push_back(o);
    }
    for (size_t i = 0; i < n; ++i)
      for (size_t k = 0; k < refCount(objects[i]); ++k) {
        size_t j = size_t(rng.below(n));
        objects[i]->refs[k] = objects[j];
        edges[i].push_back(j);
      }
    std::vector<size_t> work;
    for (size_t r = 0; r < kTable; ++r) {
      size_t i = size_t(rng.below(n));
      table[r] = objects[i];
      work.push_back(i);
    }
    std::set<mps_word_t> expected;
    while (!work.empty()) {
      size_t i = work.back();
      work.pop_back();
      if (!expected.insert(i).second) continue;
      for (size_t j : edges[i])
        work.push_back(j);
    }
    mps_pool_check_fenceposts(pool);
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    EXPECT_EQ(survivors(), expected);
    mps_pool_check_fenceposts(pool);
    mps_pool_check_free_space(pool);
    mps_arena_release(arena);
    std::fill(table, table + kTable, nullptr);
  }
}

TEST_F(AMSDebugTest, ObjectsAreFencedAndTheFormatSeesOnlyTheObject) {
  makePool();
  Object* a = allocObject(ap, 1, 2);
  Object* b = allocObject(ap, 2, 2);
  table[0] = a;
  table[1] = b;
  char* end = reinterpret_cast<char*>(a) + objectSize(2);
  EXPECT_EQ(std::string(end, 9), "fencepost");
  EXPECT_GE(reinterpret_cast<char*>(b), end + 2 * 16);  // a's trail, b's lead
  EXPECT_EQ(std::string(reinterpret_cast<char*>(b) - 16, 9), "fencepost");
  mps_addr_t found;
  mps_fmt_t f;
  EXPECT_TRUE(mps_addr_fmt(&f, arena, a));
  EXPECT_EQ(f, fmt);  // the client's own format
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), (std::set<mps_word_t>{1, 2}));
  (void)found;
}

TEST_F(AMSDebugTest, BufferOverrunIsCaughtOnRequestAndNamed) {
  makePool();
  Object* o = allocObject(ap, 1, 2);
  table[0] = o;
  char* end = reinterpret_cast<char*>(o) + objectSize(2);
  StrayWrite stray(end + 2);
  EXPECT_DEATH(mps_pool_check_fenceposts(pool),
               fenceReport("fencepost check requested by client", end + 2, o));
  stray.repair();
}

TEST_F(AMSDebugTest, BufferUnderrunIsCaughtOnRequestAndNamed) {
  makePool();
  Object* o = allocObject(ap, 1, 0);
  table[0] = o;
  char* base = reinterpret_cast<char*>(o);
  StrayWrite stray(base - 3);
  EXPECT_DEATH(mps_pool_check_fenceposts(pool),
               fenceReport("fencepost check requested by client", base - 3, o));
  stray.repair();
}

TEST_F(AMSDebugTest, OverrunOfADeadObjectIsCaughtWhenItIsReclaimed) {
  makePool();
  Object* dead = deadBetweenLiveOnes(1);
  char* end = reinterpret_cast<char*>(dead) + objectSize(1);
  StrayWrite stray(end + 0);
  EXPECT_DEATH((void)mps_arena_collect(arena),
               fenceReport("fencepost check on reclaim", end, dead));
  stray.repair();
}

TEST_F(AMSDebugTest, UseAfterFreeIsCaughtOnRequestAndNamed) {
  makePool();
  Object* dead = deadBetweenLiveOnes(2);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_arena_release(arena);
  EXPECT_EQ(survivors(), (std::set<mps_word_t>{1, 3}));
  mps_pool_check_free_space(pool);
  char* p = reinterpret_cast<char*>(dead) + 8;
  StrayWrite stray(p);  // a write through a dangling pointer
  EXPECT_DEATH(mps_pool_check_free_space(pool),
               freeReport("free space check requested by client", p));
  stray.repair();
}

TEST_F(AMSDebugTest, UseAfterFreeIsCaughtWhenTheSpaceIsReused) {
  makePool();
  Object* dead = deadBetweenLiveOnes(2);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_arena_release(arena);
  char* p = reinterpret_cast<char*>(dead) + 8;
  StrayWrite stray(p);
  // The next fill searches from the segment's start: the dead block's space
  // is the first free run.
  EXPECT_DEATH((void)allocObject(ap, 4, 2), freeReport("free space corrupted on reuse", p));
  stray.repair();
}

TEST_F(AMSDebugTest, VariadicCreationTakesTheOptionsFirst) {
  ASSERT_EQ(
      mps_pool_create(&pool, arena, mps_class_ams_debug(), &gAmsOptions, fmt, chain, (mps_bool_t)1),
      MPS_RES_OK);
  ASSERT_EQ(mps_ap_create(&ap, pool, mps_rank_exact()), MPS_RES_OK);
  Object* o = allocObject(ap, 1, 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(o) + objectSize(0), 9), "fencepost");
}

TEST_F(AMSDebugTest, DefaultOptionsAndNoFenceposts) {
  makePool(nullptr);
  Object* o = allocObject(ap, 1, 0);
  table[0] = o;
  EXPECT_EQ(std::string(reinterpret_cast<char*>(o) + objectSize(0), 8), "POSTPOST");
  mps_ap_destroy(ap);
  ap = nullptr;
  mps_pool_destroy(pool);
  pool = nullptr;
  mps_root_destroy(root);
  root = nullptr;
  mps_pool_debug_option_s splatOnly = {nullptr, 0, "FREE", 4};
  makePool(&splatOnly);
  Object* a = allocObject(ap, 1, 0);
  Object* b = allocObject(ap, 2, 0);
  EXPECT_EQ(reinterpret_cast<char*>(b), reinterpret_cast<char*>(a) + objectSize(0));
  table[0] = a;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_pool_check_free_space(pool);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(b), 4), "FREE");
}

// The allocation-point protocol across a flip, on one-block windows: a
// reservation the collector never saw is discarded (its whole window goes
// back), a retry stands, and so does a block committed before the flip.
TEST_F(AMSDebugTest, CommitFailsExactlyWhenAFlipIntervened) {
  makePool();
  mps_addr_t p;
  size_t size = objectSize(0);
  ASSERT_EQ(mps_reserve(&p, ap, size), MPS_RES_OK);
  static_cast<Object*>(p)->header = kObjectTag;
  static_cast<Object*>(p)->id = 1;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_FALSE(mps_commit(ap, p, size));
  do {
    ASSERT_EQ(mps_reserve(&p, ap, size), MPS_RES_OK);
    static_cast<Object*>(p)->header = kObjectTag;
    static_cast<Object*>(p)->id = 2;
  } while (!mps_commit(ap, p, size));
  table[0] = p;
  ASSERT_EQ(mps_reserve(&p, ap, size), MPS_RES_OK);
  static_cast<Object*>(p)->header = kObjectTag;
  static_cast<Object*>(p)->id = 3;
  ap->init = ap->alloc;  // committed by hand before the flip
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_TRUE(ap->limit != 0 || mps_ap_trip(ap, p, size));
  EXPECT_EQ(survivors(), std::set<mps_word_t>{2});
  mps_arena_release(arena);
  mps_pool_check_fenceposts(pool);
  mps_pool_check_free_space(pool);
}

// Two allocation points (exact and ambiguous rank), objects of random sizes
// linked at random, incremental collections in steps between the
// allocations: survivors match the model, and every fencepost and all free
// space stay intact.
TEST_F(AMSDebugTest, IncrementalCollectionsWithTwoAllocationPoints) {
  makePool();
  mps_ap_t ambig;
  ASSERT_EQ(mps_ap_create(&ambig, pool, mps_rank_ambig()), MPS_RES_OK);
  Rng rng(testSeed(0xA35DEB2));
  const size_t n = 4000;
  // Every object stays alive while the test links new ones to old ones
  // (an ambiguous root over the list), until the final collection.
  std::vector<Object*> objects;
  objects.reserve(n);
  mps_root_t all;
  ASSERT_EQ(mps_root_create_area(&all, arena, mps_rank_ambig(), 0, objects.data(),
                                 objects.data() + n, mps_scan_area, nullptr),
            MPS_RES_OK);
  std::vector<std::vector<size_t>> edges;
  for (size_t i = 0; i < n; ++i) {
    Object* o = allocObject(rng.below(2) == 0 ? ap : ambig, i, size_t(rng.below(4)));
    ASSERT_NE(o, nullptr);
    edges.emplace_back();
    for (size_t k = 0; k < refCount(o) && !objects.empty(); ++k) {
      size_t j = size_t(rng.below(objects.size()));
      o->refs[k] = objects[j];
      edges[i].push_back(j);
    }
    objects.push_back(o);
    if (i % 64 == 0) table[rng.below(kTable)] = o;
    if (i % 1000 == 500) {
      ASSERT_EQ(mps_arena_start_collect(arena), MPS_RES_OK);
    }
    if (i % 100 == 0) (void)mps_arena_step(arena, 0.0001, 1.0);
  }
  mps_root_destroy(all);
  std::set<mps_word_t> expected;
  std::vector<size_t> work;
  for (mps_addr_t r : table)
    if (r != nullptr) work.push_back(size_t(static_cast<Object*>(r)->id));
  while (!work.empty()) {
    size_t i = work.back();
    work.pop_back();
    if (!expected.insert(i).second) continue;
    for (size_t j : edges[i])
      work.push_back(j);
  }
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  std::set<mps_word_t> found = survivors();
  // Ambiguous references may keep more alive, never less.
  EXPECT_TRUE(std::includes(found.begin(), found.end(), expected.begin(), expected.end()));
  mps_pool_check_fenceposts(pool);
  mps_pool_check_free_space(pool);
  mps_arena_release(arena);
  mps_ap_destroy(ambig);
}

using AMSDebugMisuse = AMSDebugTest;

TEST_F(AMSDebugMisuse, FreeTemplateSizeMustDivideTheAlignment) {
  mps_pool_debug_option_s bad = {"post", 4, "sixteen-bytes!!!", 16};
  EXPECT_DEATH(makePool(&bad),
               assertionReportContaining("debug options: free_size divides the pool alignment"));
}

TEST(AMSPlain, PlainAMSHasNoFencepostsAndTheChecksDoNothing) {
  mps_arena_t arena;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_fmt_t fmt;
  ASSERT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
  mps_pool_t pool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  Object* a = allocObject(ap, 1, 1);
  Object* b = allocObject(ap, 2, 1);
  EXPECT_EQ(reinterpret_cast<char*>(b), reinterpret_cast<char*>(a) + objectSize(1));
  mps_pool_check_fenceposts(pool);
  mps_pool_check_free_space(pool);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

}  // namespace
}  // namespace mps::test
