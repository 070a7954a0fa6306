// Generational (sticky-mark) AMS and LO (design/ams.md .ms.sticky), the
// collection of young objects only, and the knobs of the collector that
// shape a collection's cost:
//  - a seeded model of a mutator that keeps storing references to young
//    objects into old ones between nursery collections (the classic
//    write-barrier bug), with 1 and 2 workers, with the barrier policy and
//    with every protectable segment protected; the checked build's heap
//    verifier runs after every collection;
//  - LO leaves referred to only from old AMS objects;
//  - the serial start of marking (.trace.serial) against parallel marking
//    from the start: the same survivors, AMS and AMC;
//  - the barrier policy (.shield.policy): a small older generation is never
//    protected, a large one is, and GC messages report the barrier's cost.
#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <set>
#include <vector>

#include "amc_support.hpp"
#include "seed.hpp"
#include "shield/shield.hpp"

namespace mps::test {
namespace {

core::Collector* collectorOf(mps_arena_t arena) {
  return core::Collector::of(reinterpret_cast<core::Arena*>(arena));
}

// An arena with a generational AMS pool (generation 0 of a two-generation
// client chain) and an LO pool for leaves on the same generation, and an
// exact table root. Parked: collections happen when the test says.
class GenHeap {
 public:
  static constexpr size_t kRoots = 64;

  GenHeap(unsigned workers, mps_gen_param_s gen0, mps_gen_param_s gen1) : roots(kRoots, nullptr) {
    ok_ = makeParkedArena(&arena, workers) == MPS_RES_OK;
    if (!ok_) return;
    ok_ = makeFormat(&fmt, arena) == MPS_RES_OK && makeFormat(&leafFmt, arena, true) == MPS_RES_OK;
    mps_gen_param_s gens[2] = {gen0, gen1};
    ok_ = ok_ && mps_chain_create(&chain, arena, 2, gens) == MPS_RES_OK;
    if (!ok_) return;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      ok_ = ok_ && mps_pool_create_k(&ams, arena, mps_class_ams(), args) == MPS_RES_OK;
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, leafFmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      MPS_ARGS_ADD(args, MPS_KEY_GEN, 0u);
      ok_ = ok_ && mps_pool_create_k(&lo, arena, mps_class_lo(), args) == MPS_RES_OK;
    }
    MPS_ARGS_END(args);
    ok_ = ok_ && mps_ap_create_k(&ap, ams, mps_args_none) == MPS_RES_OK;
    ok_ = ok_ && mps_ap_create_k(&leafAp, lo, mps_args_none) == MPS_RES_OK;
    ok_ = ok_ && mps_root_create_table(&root, arena, mps_rank_exact(), 0, roots.data(), kRoots) ==
                     MPS_RES_OK;
  }
  ~GenHeap() {
    if (root) mps_root_destroy(root);
    if (ap) mps_ap_destroy(ap);
    if (leafAp) mps_ap_destroy(leafAp);
    if (ams) mps_pool_destroy(ams);
    if (lo) mps_pool_destroy(lo);
    if (chain) mps_chain_destroy(chain);
    if (fmt) mps_fmt_destroy(fmt);
    if (leafFmt) mps_fmt_destroy(leafFmt);
    if (arena) mps_arena_destroy(arena);
  }
  GenHeap(const GenHeap&) = delete;
  GenHeap& operator=(const GenHeap&) = delete;

  bool ok() const { return ok_; }
  core::Collector* collector() const { return collectorOf(arena); }
  mps_res_t nursery() { return collectGenerations(arena, chain, 0); }
  mps_res_t full() { return collectGenerations(arena, chain, 1); }
  std::set<mps_word_t> survivors() const {
    auto ids = walkIds(arena);
    return std::set<mps_word_t>(ids.begin(), ids.end());
  }

  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr, leafFmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t ams = nullptr, lo = nullptr;
  mps_ap_t ap = nullptr, leafAp = nullptr;
  mps_root_t root = nullptr;
  std::vector<mps_addr_t> roots;

 private:
  bool ok_ = false;
};

// 1. The seeded stress model ---------------------------------------------------

struct StressParam {
  unsigned workers;
  bool barrierPolicy;  // false: every protectable segment is protected
};

void PrintTo(const StressParam& p, std::ostream* os) {
  *os << p.workers << " workers, " << (p.barrierPolicy ? "barrier policy" : "protect all");
}

class GenerationalAmsStressModel : public ::testing::TestWithParam<StressParam> {};

// The shadow heap: every object the heap must hold (live or not yet
// collectable), its references, and which of them are old (survived a
// collection: a nursery collection keeps them whatever refers to them).
struct Shadow {
  std::map<mps_word_t, Object*> objects;
  std::map<mps_word_t, std::vector<mps_word_t>> refs;  // 0: null
  std::set<mps_word_t> old;
  std::vector<mps_word_t> young;  // allocated since the last collection

  size_t bytesOf(mps_word_t id) const { return objectSize(refs.at(id).size()); }
  // What a collection keeps: everything reachable from the roots, and from
  // the old objects too when it condemns only the young ones.
  std::set<mps_word_t> survivors(const std::vector<mps_word_t>& rootIds, bool nursery) const {
    std::set<mps_word_t> reached;
    std::vector<mps_word_t> work;
    for (mps_word_t id : rootIds)
      if (id != 0) work.push_back(id);
    if (nursery) work.insert(work.end(), old.begin(), old.end());
    while (!work.empty()) {
      mps_word_t id = work.back();
      work.pop_back();
      if (!reached.insert(id).second) continue;
      for (mps_word_t to : refs.at(id))
        if (to != 0) work.push_back(to);
    }
    return reached;
  }
};

void runGenerationalStress(const StressParam& param, uint64_t seed) {
  Rng rng(seed);
  GenHeap heap(param.workers, {256, 0.8}, {1024, 0.5});
  ASSERT_TRUE(heap.ok());
  core::Collector* collector = heap.collector();
  collector->barrierPolicy = param.barrierPolicy;
  // With two workers, mark in parallel from the first grey object, or the
  // small collections here would all stay on the collecting thread.
  if (param.workers > 1) collector->serialScanBytes = 0;
#if MPS_CHECKED
  ASSERT_TRUE(collector->verifyHeap);
#endif

  Shadow model;
  std::vector<mps_word_t> rootIds(GenHeap::kRoots, 0);
  std::vector<mps_word_t> oldWithRefs;  // old objects with reference slots
  mps_word_t nextId = 1;
  auto setRef = [&](mps_word_t from, size_t k, mps_word_t to) {
    model.refs[from][k] = to;
    model.objects[from]->refs[k] = to != 0 ? model.objects[to] : nullptr;
  };
  auto randomOf = [&](const std::vector<mps_word_t>& ids) -> mps_word_t {
    return ids.empty() ? 0 : ids[rng.below(ids.size())];
  };
  std::vector<mps_word_t> all, oldList;
  size_t nurseries = 0, generationalChecks = 0, youngIntoOld = 0;
  size_t parallelCollections = 0, faults = 0;

  for (int round = 0; round < 48; ++round) {
    // Young objects: AMS objects with up to five references, and leaves.
    size_t count = 500 + size_t(rng.below(3000));
    size_t youngBytes = 0;
    for (size_t i = 0; i < count; ++i) {
      mps_word_t id = nextId++;
      bool leaf = rng.below(4) == 0;
      size_t n = leaf ? 0 : 1 + size_t(rng.below(5));
      Object* o = allocObject(leaf ? heap.leafAp : heap.ap, id, n);
      ASSERT_NE(o, nullptr);
      model.objects[id] = o;
      model.refs[id] = std::vector<mps_word_t>(n, 0);
      model.young.push_back(id);
      youngBytes += objectSize(n);
    }
    all.assign(model.young.begin(), model.young.end());
    all.insert(all.end(), oldList.begin(), oldList.end());
    // Links from young objects to anything.
    for (size_t i = 0; i < count; ++i) {
      mps_word_t from = model.young[rng.below(model.young.size())];
      if (model.refs[from].empty()) continue;
      setRef(from, size_t(rng.below(model.refs[from].size())), randomOf(all));
    }
    // The important one: old objects made to refer to young ones (often
    // the only reference to them), and sometimes to other old objects or
    // to nothing.
    if (!oldWithRefs.empty()) {
      size_t stores = count / 2;
      for (size_t i = 0; i < stores; ++i) {
        mps_word_t from = oldWithRefs[rng.below(oldWithRefs.size())];
        size_t k = size_t(rng.below(model.refs[from].size()));
        uint64_t what = rng.below(8);
        mps_word_t to = what < 6    ? model.young[rng.below(model.young.size())]
                        : what == 6 ? randomOf(oldList)
                                    : 0;
        setRef(from, k, to);
        if (what < 6) ++youngIntoOld;
      }
    }
    // Roots: mostly old objects, a few young ones, some dropped.
    for (size_t r = 0; r < GenHeap::kRoots; ++r) {
      if (rng.below(4) != 0) continue;
      uint64_t what = rng.below(8);
      mps_word_t to = what < 2                        ? 0
                      : what < 3 || model.old.empty() ? model.young[rng.below(model.young.size())]
                                                      : randomOf(oldList);
      rootIds[r] = to;
      heap.roots[r] = to != 0 ? model.objects[to] : nullptr;
    }

    // Mostly nursery collections; every few rounds a full one, either of
    // both generations of the chain or of the arena.
    bool nursery = round % 12 != 11;
    size_t oldBytes = 0;
    for (mps_word_t id : model.old)
      oldBytes += model.bytesOf(id);
    if (nursery) {
      ASSERT_EQ(heap.nursery(), MPS_RES_OK) << "round " << round;
    } else if (rng.below(2) == 0) {
      ASSERT_EQ(heap.full(), MPS_RES_OK) << "round " << round;
    } else {
      ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK) << "round " << round;
    }
    const core::Collector::Stats stats = collector->lastStats();
    if (stats.workers > 1) ++parallelCollections;
    faults += stats.faults;

    std::set<mps_word_t> expected = model.survivors(rootIds, nursery);
    std::set<mps_word_t> walked = heap.survivors();
    ASSERT_EQ(walked, expected) << "round " << round << (nursery ? " (nursery)" : " (full)");
    size_t liveYoung = 0, liveBytes = 0;
    for (mps_word_t id : expected) {
      liveBytes += model.bytesOf(id);
      if (!model.old.count(id)) liveYoung += model.bytesOf(id);
    }
    if (nursery) {
      // Only the young objects were condemned, and only they are counted
      // as surviving (promoted in place).
      EXPECT_EQ(stats.condemned, youngBytes) << "round " << round;
      EXPECT_EQ(stats.live, liveYoung) << "round " << round;
      ++nurseries;
      if (oldBytes > 2 * youngBytes) {
        // Generational: far less condemned than the heap a full collection
        // would condemn.
        EXPECT_LT(stats.condemned, (oldBytes + youngBytes) / 2) << "round " << round;
        ++generationalChecks;
      }
    } else {
      EXPECT_EQ(stats.condemned, oldBytes + youngBytes) << "round " << round;
      EXPECT_EQ(stats.live, liveBytes) << "round " << round;
    }

    // Forget the dead; every survivor holds what the model says.
    for (auto it = model.objects.begin(); it != model.objects.end();) {
      mps_word_t id = it->first;
      if (!expected.count(id)) {
        model.refs.erase(id);
        it = model.objects.erase(it);
        continue;
      }
      Object* o = it->second;
      ASSERT_EQ(o->header & 0xFF, kObjectTag) << "object " << id << ", round " << round;
      ASSERT_EQ(o->id, id) << "round " << round;
      const std::vector<mps_word_t>& want = model.refs[id];
      ASSERT_EQ(refCount(o), want.size()) << "object " << id << ", round " << round;
      for (size_t k = 0; k < want.size(); ++k)
        ASSERT_EQ(o->refs[k], want[k] != 0 ? model.objects[want[k]] : nullptr)
            << "object " << id << " slot " << k << ", round " << round;
      ++it;
    }
    model.old = expected;
    model.young.clear();
    oldList.assign(model.old.begin(), model.old.end());
    oldWithRefs.clear();
    for (mps_word_t id : oldList)
      if (!model.refs[id].empty()) oldWithRefs.push_back(id);
  }
  EXPECT_GE(nurseries, 30u);
  EXPECT_GE(generationalChecks, 5u) << "the old heap never grew big enough to compare";
  EXPECT_GT(youngIntoOld, 10000u);
  if (collector->workers() > 1) {
    EXPECT_GT(parallelCollections, 0u) << "marking never went parallel";
  }
  // Protecting everything, the stores into old objects went through the
  // write barrier (one fault per protected segment written, at least one
  // segment between most collections).
  if (!param.barrierPolicy && collector->hasBarrier()) {
    EXPECT_GE(faults, nurseries / 2);
  }
  mps_arena_release(heap.arena);
}

TEST_P(GenerationalAmsStressModel, YoungReferencesStoredInOldObjectsSurviveNurseryCollections) {
  runGenerationalStress(GetParam(), testSeed(4711));
}

INSTANTIATE_TEST_SUITE_P(Workers, GenerationalAmsStressModel,
                         ::testing::Values(StressParam{1, true}, StressParam{2, true},
                                           StressParam{1, false}, StressParam{2, false}),
                         [](const ::testing::TestParamInfo<StressParam>& info) {
                           return std::to_string(info.param.workers) + "Workers" +
                                  (info.param.barrierPolicy ? "Policy" : "ProtectAll");
                         });

// 2. LO leaves referred to only from old AMS objects -----------------------------

class GenerationalLo : public ::testing::TestWithParam<bool> {};

TEST_P(GenerationalLo, LeavesReferredToOnlyFromOldObjectsSurviveNurseryCollections) {
  GenHeap heap(1, {256, 0.8}, {1024, 0.5});
  ASSERT_TRUE(heap.ok());
  heap.collector()->barrierPolicy = GetParam();
  // Old AMS objects: a list of 4000 (slot 0 the next, slot 1 free), kept
  // by a root and made old by a nursery collection.
  std::vector<Object*> olds;
  Object* head = nullptr;
  for (mps_word_t i = 1; i <= 4000; ++i) {
    Object* o = allocObject(heap.ap, i, 2);
    ASSERT_NE(o, nullptr);
    o->refs[0] = head;
    head = o;
    olds.push_back(o);
  }
  heap.roots[0] = head;
  ASSERT_EQ(heap.nursery(), MPS_RES_OK);
  std::set<mps_word_t> previous;
  for (mps_word_t round = 1; round <= 4; ++round) {
    // Leaves hung from every third old object, and as many leaves that
    // nothing refers to.
    std::set<mps_word_t> hung, garbage;
    for (size_t i = 0; i < olds.size(); i += 3) {
      mps_word_t id = round * 100000 + i;
      Object* leaf = allocObject(heap.leafAp, id, 0);
      ASSERT_NE(leaf, nullptr);
      olds[i]->refs[1] = leaf;
      hung.insert(id);
      ASSERT_NE(allocObject(heap.leafAp, id + 50000, 0), nullptr);
      garbage.insert(id + 50000);
    }
    ASSERT_EQ(heap.nursery(), MPS_RES_OK);
    EXPECT_LT(heap.collector()->lastStats().condemned, size_t(128) << 10) << "round " << round;
    std::set<mps_word_t> ids = heap.survivors();
    for (size_t i = 0; i < olds.size(); i += 3) {
      auto* leaf = static_cast<Object*>(olds[i]->refs[1]);
      ASSERT_EQ(leaf->header, kObjectTag) << "round " << round;
      ASSERT_EQ(leaf->id, round * 100000 + i) << "round " << round;
    }
    for (mps_word_t id : hung)
      ASSERT_TRUE(ids.count(id)) << "leaf " << id << " freed, round " << round;
    for (mps_word_t id : garbage)
      ASSERT_FALSE(ids.count(id)) << "young garbage leaf " << id << " kept, round " << round;
    // The previous round's leaves, no longer referred to, are old: only a
    // full collection frees them.
    for (mps_word_t id : previous)
      ASSERT_TRUE(ids.count(id)) << "old leaf " << id << " freed by a nursery collection";
    previous.insert(hung.begin(), hung.end());
  }
  ASSERT_EQ(heap.full(), MPS_RES_OK);
  std::set<mps_word_t> ids = heap.survivors();
  size_t leaves = 0;
  for (mps_word_t id : ids)
    if (id > 100000) ++leaves;
  EXPECT_EQ(leaves, (olds.size() + 2) / 3) << "only the last round's leaves are referred to";
  mps_arena_release(heap.arena);
}

INSTANTIATE_TEST_SUITE_P(Barrier, GenerationalLo, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Policy" : "ProtectAll");
                         });

// 3. Serial start against parallel marking -------------------------------------

struct ProgramRun {
  std::vector<std::multiset<mps_word_t>> survivors;  // after each collection
  std::vector<size_t> live;
  std::vector<unsigned> workers;
  std::vector<bool> full;
  unsigned collectorWorkers = 0;
};

// A seeded program on one pool (AMS or AMC) of a two-generation chain, in an
// arena with two workers: rounds of wide trees, lists and garbage, random
// links and roots, then a nursery or a full collection.
void runProgram(PoolKind kind, uint64_t seed, core::Size serialScanBytes, ProgramRun* out) {
  Rng rng(seed);
  mps_arena_t arena;
  ASSERT_EQ(makeParkedArena(&arena, 2), MPS_RES_OK);
  core::Collector* collector = collectorOf(arena);
  collector->serialScanBytes = serialScanBytes;
  out->collectorWorkers = collector->workers();
  PoolOnChain heap;
  ASSERT_EQ(makePoolOnChain(&heap, arena, kind, {512, 0.8}, {2048, 0.5}), MPS_RES_OK);
  mps_pool_t pool = heap.pool;
  mps_chain_t chain = heap.chain;
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  constexpr size_t kTable = 32;
  std::vector<mps_addr_t> roots(kTable, nullptr);
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, roots.data(), kTable),
            MPS_RES_OK);

  mps_word_t nextId = 1;
  for (int round = 0; round < 12; ++round) {
    std::vector<Object*> fresh;
    // A wide tree (fan-out 8, 3 or 4 levels): thousands of grey objects
    // to share between workers.
    int depth = 3 + int(rng.below(2));
    std::vector<Object*> level{allocObject(ap, nextId++, 8)};
    ASSERT_NE(level[0], nullptr);
    fresh.push_back(level[0]);
    for (int d = 0; d < depth; ++d) {
      std::vector<Object*> next;
      for (Object* parent : level) {
        for (size_t k = 0; k < 8; ++k) {
          Object* child = allocObject(ap, nextId++, d + 1 < depth ? 8 : 2);
          ASSERT_NE(child, nullptr);
          parent->refs[k] = child;
          next.push_back(child);
          fresh.push_back(child);
        }
      }
      level.swap(next);
    }
    // A list and some garbage.
    Object* head = nullptr;
    for (size_t i = 0, n = 500 + size_t(rng.below(2000)); i < n; ++i) {
      Object* o = allocObject(ap, nextId++, 2);
      ASSERT_NE(o, nullptr);
      o->refs[0] = head;
      head = o;
      fresh.push_back(o);
      if (rng.below(2) == 0) {
        ASSERT_NE(allocObject(ap, nextId++, size_t(rng.below(4))), nullptr);
      }
    }
    // Random links among this round's objects (slot 1 of list cells, the
    // leaf slots of the tree).
    for (size_t i = 0; i < fresh.size() / 4; ++i) {
      Object* from = fresh[rng.below(fresh.size())];
      if (refCount(from) < 2 || from->refs[1] != nullptr) continue;
      from->refs[1] = fresh[rng.below(fresh.size())];
    }
    // Roots: this round's tree and list, and some objects from before
    // dropped.
    roots[(2 * round) % kTable] = fresh[0];
    roots[(2 * round + 1) % kTable] = head;
    if (rng.below(3) == 0) roots[rng.below(kTable)] = nullptr;

    bool full = rng.below(3) == 0 || round == 11;
    ASSERT_EQ(full ? mps_arena_collect(arena) : collectGenerations(arena, chain, 0), MPS_RES_OK);
    const core::Collector::Stats& stats = collector->lastStats();
    auto ids = walkIds(arena);
    out->survivors.emplace_back(ids.begin(), ids.end());
    out->live.push_back(stats.live);
    out->workers.push_back(stats.workers);
    out->full.push_back(full);
  }
  mps_arena_release(arena);
  mps_root_destroy(root);
  mps_ap_destroy(ap);
  destroyPoolOnChain(&heap);
  mps_arena_destroy(arena);
}

class SerialAndParallelMarkingRandom : public ::testing::TestWithParam<PoolKind> {};

TEST_P(SerialAndParallelMarkingRandom, GiveTheSameSurvivors) {
  uint64_t seed = testSeed(8128);
  ProgramRun serial, parallel;
  runProgram(GetParam(), seed, ~core::Size(0), &serial);
  if (HasFatalFailure()) return;
  runProgram(GetParam(), seed, 0, &parallel);
  if (HasFatalFailure()) return;
  ASSERT_EQ(serial.survivors.size(), parallel.survivors.size());
  for (size_t i = 0; i < serial.survivors.size(); ++i) {
    EXPECT_EQ(serial.survivors[i], parallel.survivors[i]) << "collection " << i;
    EXPECT_EQ(serial.live[i], parallel.live[i]) << "collection " << i;
    EXPECT_GT(serial.survivors[i].size(), 1000u) << "collection " << i;
  }
  for (size_t i = 0; i < serial.workers.size(); ++i)
    EXPECT_EQ(serial.workers[i], 1u)
        << "collection " << i << " (" << (serial.full[i] ? "full" : "nursery")
        << ") went parallel with serialScanBytes = ~0";
  if (parallel.collectorWorkers < 2) GTEST_SKIP() << "the collector has one worker";
  for (size_t i = 0; i < parallel.workers.size(); ++i)
    if (parallel.full[i]) {
      EXPECT_EQ(parallel.workers[i], 2u) << "collection " << i << " stayed serial";
    }
}

INSTANTIATE_TEST_SUITE_P(Pools, SerialAndParallelMarkingRandom,
                         ::testing::Values(PoolKind::ams, PoolKind::amc),
                         [](const ::testing::TestParamInfo<PoolKind>& info) {
                           return std::string(info.param == PoolKind::ams ? "Ams" : "Amc");
                         });

// 5. The barrier policy ---------------------------------------------------------

// Old AMS objects: `count` lists of `length` objects (slot 0 the next, slot
// 1 free), each head in a root, made old by a nursery collection.
std::vector<Object*> makeOldLists(GenHeap& heap, size_t count, size_t length) {
  std::vector<Object*> all;
  mps_word_t id = 1;
  for (size_t l = 0; l < count; ++l) {
    Object* head = nullptr;
    for (size_t i = 0; i < length; ++i) {
      Object* o = allocObject(heap.ap, id++, 2);
      if (o == nullptr) return {};
      o->refs[0] = head;
      head = o;
      all.push_back(o);
    }
    heap.roots[l] = head;
  }
  if (heap.nursery() != MPS_RES_OK) return {};
  return all;
}

// How many of the segments holding `objects` are protected.
size_t protectedSegments(const GenHeap& heap, const std::vector<Object*>& objects) {
  std::set<core::Segment*> segs;
  for (Object* o : objects)
    segs.insert(reinterpret_cast<core::Arena*>(heap.arena)->segmentOf(o));
  size_t n = 0;
  for (core::Segment* seg : segs) {
    if (seg->protMode != core::kShieldNone) ++n;
  }
  return n;
}

// Young garbage, then a nursery collection; returns the barrier's cost as
// the collection's GC message reports it.
struct BarrierCost {
  size_t protections = 0, faults = 0;
  double seconds = -1;
};
BarrierCost nurseryWithMessage(GenHeap& heap, mps_word_t firstId) {
  mps_message_t m;
  while (mps_message_get(&m, heap.arena, mps_message_type_gc()))
    mps_message_discard(heap.arena, m);  // earlier collections'
  for (mps_word_t i = 0; i < 3000; ++i)
    EXPECT_NE(allocObject(heap.ap, firstId + i, 2), nullptr);
  EXPECT_EQ(heap.nursery(), MPS_RES_OK);
  BarrierCost cost;
  size_t messages = 0;
  while (mps_message_get(&m, heap.arena, mps_message_type_gc())) {
    mps_message_gc_barrier(heap.arena, m, &cost.protections, &cost.faults, &cost.seconds);
    mps_message_discard(heap.arena, m);
    ++messages;
  }
  EXPECT_EQ(messages, 1u);
  const core::Collector::Stats& stats = heap.collector()->lastStats();
  EXPECT_EQ(cost.protections, stats.protections);
  EXPECT_EQ(cost.faults, stats.faults);
  EXPECT_GE(cost.seconds, 0.0);
  return cost;
}

TEST(GenerationalBarrierPolicy, ASmallOlderGenerationIsNeverProtected) {
  GenHeap heap(1, {256, 0.8}, {size_t(64) << 10, 0.5});
  ASSERT_TRUE(heap.ok());
  ASSERT_TRUE(heap.collector()->hasBarrier());
  ASSERT_TRUE(heap.collector()->barrierPolicy);
  mps_message_type_enable(heap.arena, mps_message_type_gc());
  // About 256 KiB of old objects: less than barrierMinBytes (1 MiB).
  std::vector<Object*> olds = makeOldLists(heap, 8, 1000);
  ASSERT_FALSE(olds.empty());
  for (int i = 0; i < 8; ++i) {
    BarrierCost cost = nurseryWithMessage(heap, 1000000 + i * 10000);
    EXPECT_EQ(protectedSegments(heap, olds), 0u) << "collection " << i;
    EXPECT_EQ(cost.faults, 0u) << "collection " << i;
  }
  // Writes into the old objects fault nowhere.
  for (Object* o : olds)
    o->refs[1] = o;
  BarrierCost cost = nurseryWithMessage(heap, 2000000);
  EXPECT_EQ(cost.faults, 0u);
  EXPECT_EQ(protectedSegments(heap, olds), 0u);
  mps_arena_release(heap.arena);
}

TEST(GenerationalBarrierPolicy, ALargeOlderGenerationIsProtectedAfterAFewCollections) {
  GenHeap heap(1, {256, 0.8}, {size_t(64) << 10, 0.5});
  ASSERT_TRUE(heap.ok());
  ASSERT_TRUE(heap.collector()->barrierPolicy);
  mps_message_type_enable(heap.arena, mps_message_type_gc());
  // About 2 MiB of old objects: more than barrierMinBytes (1 MiB).
  std::vector<Object*> olds = makeOldLists(heap, 16, 4000);
  ASSERT_FALSE(olds.empty());
  ASSERT_GT(olds.size() * objectSize(2), heap.collector()->barrierMinBytes);
  // .shield.defer: new segments are scanned unprotected for a few
  // collections first.
  size_t firstProtected = 0, protections = 0;
  for (size_t i = 1; i <= core::Segment::kBarrierDeferNew + 2; ++i) {
    BarrierCost cost = nurseryWithMessage(heap, 1000000 + i * 10000);
    protections += cost.protections;
    EXPECT_EQ(cost.faults, 0u) << "collection " << i << ": nothing was written";
    if (firstProtected == 0 && protectedSegments(heap, olds) > 0) firstProtected = i;
  }
  EXPECT_GE(firstProtected, size_t(core::Segment::kBarrierDeferNew))
      << "protected before the deferral ran out";
  ASSERT_NE(firstProtected, 0u) << "never protected";
  EXPECT_GT(protections, 0u);
  // Once protected, unwritten, the segments stay protected and a nursery
  // collection passes over them.
  BarrierCost quiet = nurseryWithMessage(heap, 2000000);
  EXPECT_EQ(quiet.faults, 0u);
  EXPECT_GT(heap.collector()->lastStats().segmentsSkipped, 0u);
  size_t protectedBefore = protectedSegments(heap, olds);
  EXPECT_GT(protectedBefore, 0u);
  // Young objects stored into old ones: the writes fault, the next message
  // says so, and the young objects survive.
  std::vector<std::pair<Object*, mps_word_t>> hung;
  for (size_t i = 0; i < olds.size(); i += 97) {
    Object* young = allocObject(heap.ap, 3000000 + i, 0);
    ASSERT_NE(young, nullptr);
    olds[i]->refs[1] = young;
    hung.emplace_back(olds[i], 3000000 + i);
  }
  EXPECT_LT(protectedSegments(heap, olds), protectedBefore);
  BarrierCost written = nurseryWithMessage(heap, 4000000);
  EXPECT_GT(written.faults, 0u);
  EXPECT_GT(heap.collector()->lastStats().segmentsScanned, 0u);
  for (auto& [old, id] : hung) {
    auto* y = static_cast<Object*>(old->refs[1]);
    ASSERT_EQ(y->header, kObjectTag);
    ASSERT_EQ(y->id, id);
  }
  mps_arena_release(heap.arena);
}

TEST(GenerationalBarrierPolicy, BarrierMinBytesDecidesWhatIsLarge) {
  // The same small older generation as above, protected once the
  // threshold is below its size.
  GenHeap heap(1, {256, 0.8}, {size_t(64) << 10, 0.5});
  ASSERT_TRUE(heap.ok());
  heap.collector()->barrierMinBytes = 64 << 10;
  mps_message_type_enable(heap.arena, mps_message_type_gc());
  std::vector<Object*> olds = makeOldLists(heap, 8, 1000);
  ASSERT_FALSE(olds.empty());
  for (size_t i = 1; i <= core::Segment::kBarrierDeferNew + 2; ++i)
    (void)nurseryWithMessage(heap, 1000000 + i * 10000);
  EXPECT_GT(protectedSegments(heap, olds), 0u);
  mps_arena_release(heap.arena);
}

}  // namespace
}  // namespace mps::test

namespace mps::test {
namespace {

// .ms.sticky.abandon: a full collection that fails after whitening has
// cleared the mark bits of old objects. An old object X referred to only by
// an old object P of another chain's pool (not condemned by that failed
// collection, so P keeps its narrow summary, built when every young object
// was condemned) must survive the next nursery collection, which must not
// take X for young.
TEST(GenerationalAbandon, OldObjectsSurviveANurseryCollectionAfterAFailedFullOne) {
  GenHeap heap(1, {256, 0.8}, {1024, 0.5});
  ASSERT_TRUE(heap.ok());
  heap.collector()->barrierPolicy = false;  // P's segment protected, narrow summary
  // A second chain, and an AMS pool on it holding P.
  mps_gen_param_s gens[2] = {{256, 0.8}, {1024, 0.5}};
  mps_chain_t other;
  ASSERT_EQ(mps_chain_create(&other, heap.arena, 2, gens), MPS_RES_OK);
  mps_pool_t holder;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, heap.fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, other);
    ASSERT_EQ(mps_pool_create_k(&holder, heap.arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t holderAp;  // destroyed once P is allocated
  ASSERT_EQ(mps_ap_create_k(&holderAp, holder, mps_args_none), MPS_RES_OK);

  Object* x = allocObject(heap.ap, 1, 0);
  Object* p = allocObject(holderAp, 2, 1);
  ASSERT_NE(x, nullptr);
  ASSERT_NE(p, nullptr);
  p->refs[0] = x;
  heap.roots[0] = p;
  // No buffer in P's segment: it can keep a narrow summary.
  mps_ap_destroy(holderAp);
  // Both old now (promoted in place), P's segment protected.
  ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  mps_arena_park(heap.arena);
  ASSERT_EQ(heap.nursery(), MPS_RES_OK);
  // A young object in X's segment (a buffer attached: condemned by the next
  // nursery collection for its young objects).
  ASSERT_NE(allocObject(heap.ap, 3, 0), nullptr);
  // Chain A's full collection fails in a root scan, after whitening and
  // before the remembered set (so P's segment is left as it was).
  static bool failRoot = false;
  mps_root_t failing;
  static mps_addr_t area[1] = {nullptr};
  ASSERT_EQ(mps_root_create_area(
                &failing, heap.arena, mps_rank_exact(), 0, area, area + 1,
                [](mps_ss_t, void*, void*, void*) -> mps_res_t {
                  return failRoot ? MPS_RES_FAIL : MPS_RES_OK;
                },
                nullptr),
            MPS_RES_OK);
  failRoot = true;
  EXPECT_EQ(heap.full(), MPS_RES_FAIL);
  failRoot = false;
  mps_root_destroy(failing);
  EXPECT_TRUE(heap.collector()->stickyMarksLost);
  ASSERT_EQ(heap.nursery(), MPS_RES_OK);
  std::set<mps_word_t> alive = heap.survivors();
  EXPECT_TRUE(alive.count(1)) << "X was freed while P refers to it";
  EXPECT_EQ(p->refs[0], x);
  EXPECT_EQ(x->id, 1u);
  // A full collection of every segment marks afresh: sticky again.
  ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  EXPECT_FALSE(heap.collector()->stickyMarksLost);
  EXPECT_TRUE(heap.survivors().count(1));

  mps_arena_park(heap.arena);
  heap.roots[0] = heap.roots[1] = nullptr;
  mps_pool_destroy(holder);
  mps_chain_destroy(other);
}

}  // namespace
}  // namespace mps::test
