// A seeded, model-based random stress of the collector: a mutator builds and
// rewires a graph of AMS objects (with LO leaves), keeping a shadow model of
// every edge; after every collection exactly the objects the model says are
// reachable from the roots survive, and every survivor's contents (id and
// references) are what the model says. The checked build's heap verifier
// also runs after each collection. Prints its seed.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "object_format.hpp"
#include "seed.hpp"

namespace mps::test {
namespace {

struct Model {
  std::map<mps_word_t, Object*> objects;               // live (not yet reclaimed)
  std::map<mps_word_t, std::vector<mps_word_t>> refs;  // id -> referent ids (0: null)
  std::set<mps_word_t> leaves;
};

void runStress(unsigned workers, uint64_t seed, std::set<mps_word_t>* finalSurvivors) {
  Rng rng(seed);
  mps_arena_t arena;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, workers);
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
  } MPS_ARGS_END(args);
  mps_fmt_t fmt, leafFmt;
  ASSERT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
  ASSERT_EQ(makeFormat(&leafFmt, arena, true), MPS_RES_OK);
  mps_gen_param_s gens[2] = {{512, 0.8}, {2048, 0.5}};
  mps_chain_t chain;
  ASSERT_EQ(mps_chain_create(&chain, arena, 2, gens), MPS_RES_OK);
  mps_pool_t ams, lo;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    ASSERT_EQ(mps_pool_create_k(&ams, arena, mps_class_ams(), args), MPS_RES_OK);
  } MPS_ARGS_END(args);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, leafFmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    MPS_ARGS_ADD(args, MPS_KEY_GEN, 1u);
    ASSERT_EQ(mps_pool_create_k(&lo, arena, mps_class_lo(), args), MPS_RES_OK);
  } MPS_ARGS_END(args);
  mps_ap_t ap, leafAp;
  ASSERT_EQ(mps_ap_create_k(&ap, ams, mps_args_none), MPS_RES_OK);
  ASSERT_EQ(mps_ap_create_k(&leafAp, lo, mps_args_none), MPS_RES_OK);
  constexpr size_t kRoots = 32;
  static mps_addr_t roots[kRoots];
  for (auto& r : roots) r = nullptr;
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, roots, kRoots), MPS_RES_OK);
  mps_arena_park(arena);  // collections happen exactly when the test says

  Model model;
  std::vector<mps_word_t> rootIds(kRoots, 0);
  mps_word_t nextId = 1;
  auto randomLive = [&]() -> mps_word_t {
    if (model.objects.empty()) return 0;
    auto it = model.objects.lower_bound(mps_word_t(rng.below(nextId)) + 1);
    if (it == model.objects.end()) it = model.objects.begin();
    return it->first;
  };

  for (int round = 0; round < 60; ++round) {
    // Allocate.
    size_t count = 500 + size_t(rng.below(2000));
    for (size_t i = 0; i < count; ++i) {
      mps_word_t id = nextId++;
      bool leaf = rng.below(5) == 0;
      size_t n = leaf ? 0 : size_t(rng.below(6));
      Object* o = allocObject(leaf ? leafAp : ap, id, n);
      ASSERT_NE(o, nullptr);
      model.objects[id] = o;
      model.refs[id] = std::vector<mps_word_t>(n, 0);
      if (leaf) model.leaves.insert(id);
    }
    // Rewire edges and roots.
    for (size_t i = 0; i < count * 2; ++i) {
      mps_word_t from = randomLive();
      if (from == 0 || model.refs[from].empty()) continue;
      size_t k = size_t(rng.below(model.refs[from].size()));
      mps_word_t to = rng.below(4) == 0 ? 0 : randomLive();
      model.refs[from][k] = to;
      model.objects[from]->refs[k] = to ? model.objects[to] : nullptr;
    }
    for (size_t r = 0; r < kRoots; ++r) {
      if (rng.below(3) != 0) continue;
      mps_word_t to = rng.below(5) == 0 ? 0 : randomLive();
      rootIds[r] = to;
      roots[r] = to ? model.objects[to] : nullptr;
    }
    if (rng.below(3) != 0) continue;

    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);

    // Reachability in the model.
    std::set<mps_word_t> reached;
    std::vector<mps_word_t> work;
    for (mps_word_t id : rootIds)
      if (id) work.push_back(id);
    while (!work.empty()) {
      mps_word_t id = work.back();
      work.pop_back();
      if (!reached.insert(id).second) continue;
      for (mps_word_t to : model.refs[id])
        if (to) work.push_back(to);
    }
    auto walked = walkIds(arena);
    std::set<mps_word_t> survivors(walked.begin(), walked.end());
    ASSERT_EQ(survivors.size(), walked.size()) << "an object was walked twice";
    ASSERT_EQ(survivors, reached) << "round " << round;
    // Forget the dead; check the contents of the living.
    for (auto it = model.objects.begin(); it != model.objects.end();) {
      if (!reached.count(it->first)) {
        model.refs.erase(it->first);
        model.leaves.erase(it->first);
        it = model.objects.erase(it);
        continue;
      }
      Object* o = it->second;
      ASSERT_EQ(o->id, it->first);
      const auto& expected = model.refs[it->first];
      ASSERT_EQ(refCount(o), expected.size());
      for (size_t k = 0; k < expected.size(); ++k)
        ASSERT_EQ(o->refs[k], expected[k] ? model.objects[expected[k]] : nullptr);
      ++it;
    }
  }
  *finalSurvivors = std::set<mps_word_t>();
  for (auto& [id, o] : model.objects) finalSurvivors->insert(id);

  mps_arena_release(arena);
  mps_root_destroy(root);
  mps_ap_destroy(ap);
  mps_ap_destroy(leafAp);
  mps_pool_destroy(ams);
  mps_pool_destroy(lo);
  mps_chain_destroy(chain);
  mps_fmt_destroy(fmt);
  mps_fmt_destroy(leafFmt);
  mps_arena_destroy(arena);
}

TEST(GcStress, RandomGraphModelOneWorker) {
  std::set<mps_word_t> survivors;
  runStress(1, testSeed(1122), &survivors);
}

TEST(GcStress, RandomGraphModelTwoWorkersMatchesOne) {
  uint64_t seed = testSeed(2026);
  std::set<mps_word_t> one, two;
  runStress(1, seed, &one);
  runStress(2, seed, &two);
  EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace mps::test
