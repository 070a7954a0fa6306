// Regressions found in review of the rank phases:
// - a dependent object that dies while the object naming it lives: its
//   segment is freed by reclaim, after which the trace must not touch it
//   (the dependents are covered when marking ends);
// - a young weak object of a generational AWL pool, condemned with its
//   segment for its young objects, is scanned once in the weak phase, not
//   once for the segment and once more as a grey object.
#include <gtest/gtest.h>

#include <map>

#include "amc_support.hpp"
#include "mpscawl.h"
#include "object_format.hpp"

namespace mps::test {
namespace {

// The dependent of an object is what its first reference designates.
mps_addr_t firstRefIsDependent(mps_addr_t p) {
  auto* o = static_cast<Object*>(p);
  return refCount(o) > 0 ? o->refs[0] : nullptr;
}

std::map<mps_word_t, int>& scansById() {
  static std::map<mps_word_t, int> scans;
  return scans;
}

// testScan, counting the objects it scans by id.
mps_res_t countingScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
    auto* o = reinterpret_cast<Object*>(p);
    ++scansById()[o->id];
    p += objectSize(refCount(o));
  }
  return testScan(ss, base, limit);
}

struct AwlHeap {
  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t awl = nullptr;
  mps_ap_t weakAp = nullptr, exactAp = nullptr;
  mps_root_t root = nullptr;
  mps_addr_t slots[4] = {};

  // `generations`: a client chain of that many (the pool in generation 0),
  // or the default chain if 0.
  void create(unsigned generations) {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(32) << 20);
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, 1u);
      ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(mps_word_t));
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, countingScan);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, testSkip);
      ASSERT_EQ(mps_fmt_create_k(&fmt, arena, args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    mps_gen_param_s gens[2] = {{size_t(1) << 20, 0.5}, {size_t(1) << 20, 0.5}};
    if (generations > 0) {
      ASSERT_EQ(mps_chain_create(&chain, arena, generations, gens), MPS_RES_OK);
    }
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_AWL_FIND_DEPENDENT, firstRefIsDependent);
      if (chain != nullptr) {
        MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      }
      ASSERT_EQ(mps_pool_create_k(&awl, arena, mps_class_awl(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_weak());
      ASSERT_EQ(mps_ap_create_k(&weakAp, awl, args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(mps_ap_create_k(&exactAp, awl, mps_args_none), MPS_RES_OK);
    ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, slots, 4), MPS_RES_OK);
  }
  ~AwlHeap() {
    if (root) mps_root_destroy(root);
    if (weakAp) mps_ap_destroy(weakAp);
    if (exactAp) mps_ap_destroy(exactAp);
    if (awl) mps_pool_destroy(awl);
    if (chain) mps_chain_destroy(chain);
    if (fmt) mps_fmt_destroy(fmt);
    if (arena) mps_arena_destroy(arena);
  }
};

TEST(AwlRegression, ADependentThatDiesWhileItsReferrerLives) {
  AwlHeap heap;
  ASSERT_NO_FATAL_FAILURE(heap.create(0));
  // Keep no empty segment: a freed segment's memory goes back at once.
  mps_arena_spare_set(heap.arena, 0.0);
  for (int round = 0; round < 3; ++round) {
    // W (weak, rooted) names D as its dependent and refers to it only
    // weakly; D is large (a segment of its own) and otherwise dead.
    Object* w = allocObject(heap.weakAp, 1, 1);
    ASSERT_NE(w, nullptr);
    heap.slots[0] = w;
    // D from an allocation point of its own, destroyed at once, so that no
    // buffer keeps D's segment.
    mps_ap_t dAp;
    ASSERT_EQ(mps_ap_create_k(&dAp, heap.awl, mps_args_none), MPS_RES_OK);
    Object* d = allocObject(dAp, 2, 40000);
    ASSERT_NE(d, nullptr);
    w->refs[0] = d;
    d = nullptr;
    mps_ap_destroy(dAp);
    ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
    w = static_cast<Object*>(heap.slots[0]);
    EXPECT_EQ(w->refs[0], nullptr) << "the dead dependent's weak reference is splatted";
    mps_arena_release(heap.arena);
  }
}

TEST(AwlRegression, AYoungWeakObjectIsScannedOnceByANurseryCollection) {
  AwlHeap heap;
  ASSERT_NO_FATAL_FAILURE(heap.create(2));
  // An old weak object, then (in the same segment, after promotion) a young
  // one; both rooted, both referring weakly to a rooted exact object.
  Object* target = allocObject(heap.exactAp, 100, 0);
  heap.slots[0] = target;
  Object* old = allocObject(heap.weakAp, 1, 1);
  old->refs[0] = target;
  heap.slots[1] = old;
  ASSERT_EQ(collectGenerations(heap.arena, heap.chain, 0), MPS_RES_OK);
  Object* young = allocObject(heap.weakAp, 2, 1);
  young->refs[0] = heap.slots[0];
  heap.slots[2] = young;
  scansById().clear();
  ASSERT_EQ(collectGenerations(heap.arena, heap.chain, 0), MPS_RES_OK);
  int verifierScans = MPS_CHECKED ? 1 : 0;  // the heap verifier scans each object once more
  EXPECT_EQ(scansById()[2], 1 + verifierScans) << "the young weak object";
  EXPECT_LE(scansById()[1], 1 + verifierScans) << "the old weak object";
  EXPECT_EQ(static_cast<Object*>(heap.slots[2])->refs[0], heap.slots[0]);
  EXPECT_EQ(static_cast<Object*>(heap.slots[1])->refs[0], heap.slots[0]);
  mps_arena_release(heap.arena);
}

}  // namespace
}  // namespace mps::test
