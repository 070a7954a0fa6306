// amcss-style stress: a seeded random graph of formatted objects in AMC,
// AMCZ, AMS and LO pools (with MVFF blocks alongside), rewired between
// collections (full ones and nursery ones), with some objects held by
// ambiguous references (by base or interior pointer, on the stack or in an
// ambiguous table), which must neither move nor change, and the rest by exact roots. After every
// collection every object the model says is reachable is there with its id and its references as
// the model says; MVFF blocks keep their contents. Prints its seed.
#include <gtest/gtest.h>

#include <cstring>

#include "amc_support.hpp"
#include "mpscmvff.h"
#include "seed.hpp"

namespace mps::test {
namespace {

constexpr size_t kRoots = 32;
constexpr size_t kAmbig = 16;

void runStress(unsigned workers, uint64_t seed, int rounds) {
  Rng rng(seed);
  mps_arena_t arena;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, workers);
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_arena_park(arena);  // collections happen exactly when the test says
  mps_fmt_t fmt, leafFmt;
  ASSERT_EQ(makeMovingFormat(&fmt, arena), MPS_RES_OK);
  ASSERT_EQ(makeMovingFormat(&leafFmt, arena, true), MPS_RES_OK);
  mps_gen_param_s gens[3] = {{256, 0.8}, {512, 0.5}, {1024, 0.5}};
  mps_chain_t chain;
  ASSERT_EQ(mps_chain_create(&chain, arena, 3, gens), MPS_RES_OK);
  mps_pool_t pools[4];
  mps_pool_class_t classes[4] = {mps_class_amc(), mps_class_amcz(), mps_class_ams(),
                                 mps_class_lo()};
  bool leafPool[4] = {false, true, false, true};
  mps_ap_t aps[4];
  for (int i = 0; i < 4; ++i) {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, leafPool[i] ? leafFmt : fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      ASSERT_EQ(mps_pool_create_k(&pools[i], arena, classes[i], args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(mps_ap_create_k(&aps[i], pools[i], mps_args_none), MPS_RES_OK);
  }
  mps_pool_t mvff;
  ASSERT_EQ(mps_pool_create_k(&mvff, arena, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  static mps_addr_t roots[kRoots];
  static mps_addr_t ambig[kAmbig];
  // Half the ambiguous references live on this thread's stack, scanned
  // through a thread root; the others in an ambiguous table.
  void* volatile onStack[kAmbig] = {};
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, arena), MPS_RES_OK);
  mps_root_t stackRoot;
  ASSERT_EQ(mps_root_create_thread(&stackRoot, arena, thread, __builtin_frame_address(0)),
            MPS_RES_OK);
  for (auto& r : roots)
    r = nullptr;
  for (auto& r : ambig)
    r = nullptr;
  mps_root_t exactRoot, ambigRoot;
  ASSERT_EQ(mps_root_create_table(&exactRoot, arena, mps_rank_exact(), 0, roots, kRoots),
            MPS_RES_OK);
  ASSERT_EQ(mps_root_create_table(&ambigRoot, arena, mps_rank_ambig(), 0, ambig, kAmbig),
            MPS_RES_OK);

  std::map<mps_word_t, int> poolOf;
  std::map<mps_word_t, Object*> addr;                  // id -> current address
  std::map<mps_word_t, std::vector<mps_word_t>> refs;  // id -> referent ids (0: null)
  std::vector<mps_word_t> rootIds(kRoots, 0), ambigIds(kAmbig, 0);
  std::vector<void*> ambigAddrs(kAmbig, nullptr);
  std::vector<std::pair<void*, unsigned char>> blocks;  // MVFF blocks and their fill byte
  mps_word_t nextId = 1;
  auto randomLive = [&]() -> mps_word_t {
    if (addr.empty()) return 0;
    auto it = addr.lower_bound(mps_word_t(rng.below(nextId)) + 1);
    if (it == addr.end()) it = addr.begin();
    return it->first;
  };
  size_t maxSurvivors = 0, totalAllocated = 0;

  for (int round = 0; round < rounds; ++round) {
    size_t count = 300 + size_t(rng.below(1500));
    for (size_t i = 0; i < count; ++i) {
      mps_word_t id = nextId++;
      int pool = int(rng.below(10));
      pool = pool < 5 ? 0 : pool < 7 ? 1 : pool < 9 ? 2 : 3;
      size_t n = leafPool[pool] ? 0 : size_t(rng.below(6));
      // Now and then a large AMC object (at least MPS_KEY_LARGE_SIZE): it
      // gets a segment of its own and is promoted in place.
      if (pool == 0 && rng.below(300) == 0) n = 4200;
      Object* o = allocObject(aps[pool], id, n);
      ASSERT_NE(o, nullptr);
      addr[id] = o;
      poolOf[id] = pool;
      refs[id] = std::vector<mps_word_t>(n, 0);
      ++totalAllocated;
    }
    for (size_t i = 0; i < count * 2; ++i) {
      mps_word_t from = randomLive();
      if (from == 0 || refs[from].empty()) continue;
      size_t k = size_t(rng.below(refs[from].size()));
      mps_word_t to = rng.below(4) == 0 ? 0 : randomLive();
      refs[from][k] = to;
      addr[from]->refs[k] = to ? addr[to] : nullptr;
    }
    for (size_t r = 0; r < kRoots; ++r) {
      if (rng.below(3) != 0) continue;
      mps_word_t to = rng.below(5) == 0 ? 0 : randomLive();
      rootIds[r] = to;
      roots[r] = to ? addr[to] : nullptr;
    }
    for (size_t r = 0; r < kAmbig; ++r) {
      if (rng.below(4) != 0) continue;
      mps_word_t to = rng.below(3) == 0 ? 0 : randomLive();
      ambigIds[r] = to;
      // Half the ambiguous references to AMC and AMCZ objects are interior
      // pointers (AMS and LO only recognise base pointers).
      bool interior = to && poolOf[to] <= 1 && rng.below(2) == 0;
      ambigAddrs[r] = to ? reinterpret_cast<char*>(addr[to]) + (interior ? 8 : 0) : nullptr;
      if (r % 2 == 0) {
        ambig[r] = ambigAddrs[r];
        onStack[r] = nullptr;
      } else {
        ambig[r] = nullptr;
        onStack[r] = ambigAddrs[r];
      }
    }
    for (int i = 0; i < 8; ++i) {
      if (!blocks.empty() && rng.below(2) == 0) {
        size_t k = size_t(rng.below(blocks.size()));
        mps_free(mvff, blocks[k].first, 64);
        blocks.erase(blocks.begin() + std::ptrdiff_t(k));
      } else {
        mps_addr_t p;
        ASSERT_EQ(mps_alloc(&p, mvff, 64), MPS_RES_OK);
        auto fill = static_cast<unsigned char>(rng.below(256));
        std::memset(p, fill, 64);
        blocks.emplace_back(p, fill);
      }
    }
    if (rng.below(3) != 0) continue;

    unsigned kind = unsigned(rng.below(4));
    mps_res_t res = kind == 0   ? mps_arena_collect(arena)
                    : kind == 3 ? collectGenerations(arena, chain, 1)
                                : collectGenerations(arena, chain, 0);
    ASSERT_EQ(res, MPS_RES_OK);

    // Reachability in the model: exact and ambiguous roots.
    std::set<mps_word_t> reached;
    std::vector<mps_word_t> work;
    for (mps_word_t id : rootIds)
      if (id) work.push_back(id);
    for (mps_word_t id : ambigIds)
      if (id) work.push_back(id);
    while (!work.empty()) {
      mps_word_t id = work.back();
      work.pop_back();
      if (!reached.insert(id).second) continue;
      for (mps_word_t to : refs[id])
        if (to) work.push_back(to);
    }
    // Pinned objects neither moved nor changed.
    for (size_t r = 0; r < kAmbig; ++r) {
      if (!ambigIds[r]) continue;
      ASSERT_EQ(r % 2 == 0 ? ambig[r] : onStack[r], ambigAddrs[r]);
      Object* o = addr[ambigIds[r]];
      ASSERT_EQ(tagOf(o), kObjectTag) << "round " << round << ": a pinned object moved";
      ASSERT_EQ(o->id, ambigIds[r]);
    }
    // Every reachable object survived, with the right contents; addresses
    // are refreshed from the walk.
    auto walked = objectsById(arena);
    maxSurvivors = std::max(maxSurvivors, walked.size());
    for (auto it = addr.begin(); it != addr.end();) {
      if (!reached.count(it->first)) {
        refs.erase(it->first);
        it = addr.erase(it);
        continue;
      }
      auto w = walked.find(it->first);
      ASSERT_NE(w, walked.end()) << "round " << round << ": object " << it->first << " lost"
                                 << " (collection kind " << kind << ", pool " << poolOf[it->first]
                                 << ")";
      it->second = w->second;
      ++it;
    }
    for (size_t r = 0; r < kRoots; ++r)
      if (rootIds[r]) {
        ASSERT_EQ(roots[r], static_cast<void*>(addr[rootIds[r]]));
      }
    for (auto& [id, o] : addr) {
      ASSERT_EQ(o->id, id);
      const auto& expected = refs[id];
      ASSERT_EQ(refCount(o), expected.size());
      for (size_t k = 0; k < expected.size(); ++k)
        ASSERT_EQ(o->refs[k], expected[k] ? static_cast<void*>(addr[expected[k]]) : nullptr)
            << "round " << round << ": object " << id << " reference " << k;
    }
    for (auto& [p, fill] : blocks)
      for (size_t b = 0; b < 64; ++b)
        ASSERT_EQ(static_cast<unsigned char*>(p)[b], fill);
  }
  // Garbage was collected: the heap never held everything allocated.
  EXPECT_LT(maxSurvivors, totalAllocated);

  mps_root_destroy(exactRoot);
  mps_root_destroy(ambigRoot);
  mps_root_destroy(stackRoot);
  mps_thread_dereg(thread);
  for (int i = 0; i < 4; ++i) {
    mps_ap_destroy(aps[i]);
    mps_pool_destroy(pools[i]);
  }
  for (auto& [p, fill] : blocks)
    mps_free(mvff, p, 64);
  mps_pool_destroy(mvff);
  mps_chain_destroy(chain);
  mps_fmt_destroy(fmt);
  mps_fmt_destroy(leafFmt);
  mps_arena_destroy(arena);
}

TEST(AmcStress, MixedPoolsOneWorker) {
  runStress(1, testSeed(7001), 150);
}

TEST(AmcStress, MixedPoolsTwoWorkers) {
  runStress(2, testSeed(7002), 150);
}

}  // namespace
}  // namespace mps::test
