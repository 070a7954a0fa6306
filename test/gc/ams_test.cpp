// The collector through the C interface, on AMS and LO pools: survivors
// against a shadow model of the object graph, roots of every kind, the
// allocation-point protocol across a flip, errors from scan methods,
// workers, and generations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <vector>

#include "object_format.hpp"
#include "seed.hpp"

namespace mps::test {
namespace {

class AmsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scanControl() = ScanControl{};
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
      ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
    mps_gen_param_s gens[1] = {{size_t(1) << 20, 0.5}};  // 1 GiB: no automatic collection
    ASSERT_EQ(mps_chain_create(&chain, arena, 1, gens), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  }

  void TearDown() override {
    for (mps_root_t r : roots)
      mps_root_destroy(r);
    if (ap) mps_ap_destroy(ap);
    if (pool) mps_pool_destroy(pool);
    if (chain) mps_chain_destroy(chain);
    if (fmt) mps_fmt_destroy(fmt);
    if (arena) mps_arena_destroy(arena);
  }

  void addExactTable(mps_addr_t* table, size_t count) {
    mps_root_t root;
    ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, count), MPS_RES_OK);
    roots.push_back(root);
  }

  std::set<mps_word_t> survivors() {
    auto ids = walkIds(arena);
    return std::set<mps_word_t>(ids.begin(), ids.end());
  }

  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t pool = nullptr;
  mps_ap_t ap = nullptr;
  std::vector<mps_root_t> roots;
};

// A random graph; the roots table holds some objects; the model computes
// reachability; after a collection exactly the reachable objects remain.
void randomGraphSurvivors(AmsTest* t, mps_arena_t arena, mps_ap_t ap, uint64_t seed,
                          std::set<mps_word_t>* expectedOut, std::vector<mps_addr_t>* table) {
  Rng rng(seed);
  const size_t n = 3000;
  std::vector<Object*> objects;
  std::vector<std::vector<size_t>> edges(n);
  for (size_t i = 0; i < n; ++i) {
    size_t refs = size_t(rng.below(5));
    Object* o = allocObject(ap, i, refs);
    ASSERT_NE(o, nullptr);
    objects.push_back(o);
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < refCount(objects[i]); ++k) {
      if (rng.below(3) == 0) continue;  // some null references
      size_t j = size_t(rng.below(n));
      objects[i]->refs[k] = objects[j];
      edges[i].push_back(j);
    }
  }
  std::vector<size_t> work;
  for (size_t r = 0; r < table->size(); ++r) {
    size_t i = size_t(rng.below(n));
    (*table)[r] = objects[i];
    work.push_back(i);
  }
  std::vector<bool> reached(n, false);
  while (!work.empty()) {
    size_t i = work.back();
    work.pop_back();
    if (reached[i]) continue;
    reached[i] = true;
    for (size_t j : edges[i])
      work.push_back(j);
  }
  for (size_t i = 0; i < n; ++i)
    if (reached[i]) expectedOut->insert(i);
  (void)t;
  (void)arena;
}

TEST_F(AmsTest, WeakRootsKeepSurvivorsAndLoseTheRest) {
  // Objects 1..4: 1 and 3 are held by an exact root as well, 2 and 4 only
  // weakly; object 5 is reachable only through object 3's first field.
  Object* objects[6] = {};
  for (mps_word_t i = 1; i <= 5; ++i)
    objects[i] = allocObject(ap, i, i == 3 ? 1 : 0);
  objects[3]->refs[0] = objects[5];
  static mps_addr_t strong[2];
  static mps_addr_t weak[5];
  strong[0] = objects[1];
  strong[1] = objects[3];
  weak[0] = objects[1];
  weak[1] = objects[2];
  weak[2] = objects[3];
  weak[3] = objects[4];
  weak[4] = objects[5];
  addExactTable(strong, 2);
  mps_root_t weakRoot;
  ASSERT_EQ(mps_root_create_table(&weakRoot, arena, mps_rank_weak(), 0, weak, 5), MPS_RES_OK);
  roots.push_back(weakRoot);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(weak[0], objects[1]);
  EXPECT_EQ(weak[1], nullptr);  // only weakly held: gone, and the slot says so
  EXPECT_EQ(weak[2], objects[3]);
  EXPECT_EQ(weak[3], nullptr);
  EXPECT_EQ(weak[4], objects[5]);  // strongly reachable through an object
  EXPECT_EQ(survivors(), (std::set<mps_word_t>{1, 3, 5}));
  // A weak reference never keeps anything: dropping the strong root lets
  // the next collection take every object and clear every weak slot.
  strong[0] = strong[1] = nullptr;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  for (mps_addr_t w : weak)
    EXPECT_EQ(w, nullptr);
  EXPECT_TRUE(survivors().empty());
  mps_arena_release(arena);
}

TEST_F(AmsTest, ExactlyTheReachableObjectsSurvive) {
  uint64_t seed = testSeed(20261122);
  static mps_addr_t table[16];
  std::vector<mps_addr_t> tableCopy(16, nullptr);
  std::set<mps_word_t> expected;
  randomGraphSurvivors(this, arena, ap, seed, &expected, &tableCopy);
  std::copy(tableCopy.begin(), tableCopy.end(), table);
  addExactTable(table, 16);
  size_t freeBefore = mps_pool_free_size(pool);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), expected);
  EXPECT_GT(mps_pool_free_size(pool), freeBefore);
  // A second collection changes nothing.
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), expected);
  mps_arena_release(arena);
}

TEST_F(AmsTest, FreeSizeGrowsByTheSizeOfTheDeadObjects) {
  static mps_addr_t table[1];
  Object* keep = allocObject(ap, 1, 2);
  size_t deadBytes = 0;
  for (mps_word_t i = 2; i < 500; ++i) {
    size_t refs = i % 7;
    ASSERT_NE(allocObject(ap, i, refs), nullptr);
    deadBytes += objectSize(refs);
  }
  table[0] = keep;
  addExactTable(table, 1);
  // Hand the buffer back so its unused tail is free space before and after.
  mps_ap_destroy(ap);
  ap = nullptr;
  size_t freeBefore = mps_pool_free_size(pool);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(mps_pool_free_size(pool) - freeBefore, deadBytes);
  EXPECT_EQ(survivors(), std::set<mps_word_t>{1});
  mps_arena_release(arena);
}

TEST_F(AmsTest, OneWorkerAndManyGiveTheSameSurvivors) {
  uint64_t seed = testSeed(77);
  static mps_addr_t table[16];
  std::vector<mps_addr_t> tableCopy(16, nullptr);
  std::set<mps_word_t> expected;
  randomGraphSurvivors(this, arena, ap, seed, &expected, &tableCopy);
  std::copy(tableCopy.begin(), tableCopy.end(), table);
  addExactTable(table, 16);
  mps_arena_gc_workers_set(arena, 1);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  std::set<mps_word_t> one = survivors();
  mps_arena_gc_workers_set(arena, 4);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), one);
  EXPECT_EQ(one, expected);
  mps_arena_release(arena);
}

// Parallel marking moves grey objects between workers in packets: a long
// list (one grey object at a time, nothing to share, the other workers idle
// throughout) and a wide tree (thousands of grey objects, shared in many
// packets) must both survive whole, with any number of workers, and the
// garbage between them must go.
TEST_F(AmsTest, ParallelMarkingKeepsListsAndWideTreesWhole) {
  static mps_addr_t table[2];
  const size_t listLength = 20000;
  Object* head = nullptr;
  mps_word_t id = 0;
  std::set<mps_word_t> expected;
  for (size_t i = 0; i < listLength; ++i) {
    Object* o = allocObject(ap, id, 1);
    ASSERT_NE(o, nullptr);
    o->refs[0] = head;
    head = o;
    expected.insert(id++);
    ASSERT_NE(allocObject(ap, 1000000 + i, 1), nullptr);  // garbage
  }
  // A tree of fan-out 8, breadth first: level k has 8^k nodes.
  std::vector<Object*> level{allocObject(ap, id, 8)};
  expected.insert(id++);
  Object* root = level[0];
  for (int depth = 0; depth < 4; ++depth) {
    std::vector<Object*> next;
    for (Object* parent : level) {
      for (size_t k = 0; k < 8; ++k) {
        Object* child = allocObject(ap, id, depth < 3 ? 8 : 0);
        ASSERT_NE(child, nullptr);
        expected.insert(id++);
        parent->refs[k] = child;
        next.push_back(child);
      }
    }
    level.swap(next);
  }
  table[0] = head;
  table[1] = root;
  addExactTable(table, 2);
  for (unsigned workers : {2u, 4u, 1u, 3u}) {
    mps_arena_gc_workers_set(arena, workers);
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    EXPECT_EQ(survivors(), expected) << workers << " workers";
  }
  mps_arena_release(arena);
}

TEST_F(AmsTest, AmbiguousRootsToForeignFreeAndInteriorAddressesAreHarmless) {
  Object* interiorOnly = allocObject(ap, 1, 3);
  Object* exactHit = allocObject(ap, 2, 0);
  Object* dead = allocObject(ap, 3, 0);
  void* foreign = std::malloc(64);
  static mps_addr_t table[8];
  table[0] = foreign;
  table[1] = reinterpret_cast<char*>(interiorOnly) + 8;  // interior: ignored
  table[2] = exactHit;
  table[3] = reinterpret_cast<mps_addr_t>(mps_word_t(0xdeadbeef));
  table[4] = nullptr;
  table[5] = reinterpret_cast<mps_addr_t>(mps_word_t(1) << 46);  // unmapped
  table[6] = reinterpret_cast<char*>(exactHit) + 3;              // unaligned
  table[7] = nullptr;
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_ambig(), 0, table, 8), MPS_RES_OK);
  roots.push_back(root);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), std::set<mps_word_t>{2});
  // The dead object's address, now free space, does not bring it back.
  table[7] = dead;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), std::set<mps_word_t>{2});
  std::free(foreign);
  mps_arena_release(arena);
}

TEST_F(AmsTest, MaskedAndTaggedRootsConsiderOnlyTheirTags) {
  Object* a = allocObject(ap, 1, 0);
  Object* b = allocObject(ap, 2, 0);
  Object* c = allocObject(ap, 3, 0);
  static mps_addr_t masked[2];
  masked[0] = a;                               // tag 0: a root
  masked[1] = reinterpret_cast<char*>(b) + 1;  // tag 1: ignored
  static mps_word_t tagged[1];
  tagged[0] = reinterpret_cast<mps_word_t>(c) | 2;  // pattern 2
  mps_root_t r1, r2;
  ASSERT_EQ(mps_root_create_table_masked(&r1, arena, mps_rank_exact(), 0, masked, 2, 7),
            MPS_RES_OK);
  ASSERT_EQ(mps_root_create_area_tagged(&r2, arena, mps_rank_exact(), 0, tagged, tagged + 1,
                                        mps_scan_area_tagged, 7, 2),
            MPS_RES_OK);
  roots.push_back(r1);
  roots.push_back(r2);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), (std::set<mps_word_t>{1, 3}));
  EXPECT_EQ(tagged[0], reinterpret_cast<mps_word_t>(c) | 2);  // retagged
  mps_arena_release(arena);
}

TEST_F(AmsTest, FunctionAndFormattedRoots) {
  Object* a = allocObject(ap, 1, 0);
  Object* b = allocObject(ap, 2, 0);
  allocObject(ap, 3, 0);
  static mps_addr_t slot;
  slot = a;
  mps_root_t r1;
  ASSERT_EQ(mps_root_create(
                &r1, arena, mps_rank_exact(), 0,
                [](mps_ss_t ss, void* p, size_t) -> mps_res_t {
                  mps_res_t res = MPS_RES_OK;
                  MPS_SCAN_BEGIN(ss) {
                    res = MPS_FIX12(ss, static_cast<mps_addr_t*>(p));
                  }
                  MPS_SCAN_END(ss);
                  return res;
                },
                &slot, 0),
            MPS_RES_OK);
  roots.push_back(r1);
  // A formatted root: one object outside the heap referring to b.
  static mps_word_t rootObject[3];
  rootObject[0] = (mps_word_t(1) << 8) | kObjectTag;
  rootObject[1] = 99;
  rootObject[2] = reinterpret_cast<mps_word_t>(b);
  mps_root_t r2;
  ASSERT_EQ(
      mps_root_create_fmt(&r2, arena, mps_rank_exact(), 0, testScan, rootObject, rootObject + 3),
      MPS_RES_OK);
  roots.push_back(r2);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), (std::set<mps_word_t>{1, 2}));
  mps_arena_release(arena);
}

TEST_F(AmsTest, CommitFailsExactlyWhenAFlipIntervened) {
  mps_addr_t p;
  size_t size = objectSize(0);
  ASSERT_EQ(mps_reserve(&p, ap, size), MPS_RES_OK);
  auto* o = static_cast<Object*>(p);
  o->header = kObjectTag;
  o->id = 1;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_FALSE(mps_commit(ap, p, size));
  // The retry succeeds and the object stands.
  do {
    ASSERT_EQ(mps_reserve(&p, ap, size), MPS_RES_OK);
    o = static_cast<Object*>(p);
    o->header = kObjectTag;
    o->id = 2;
  } while (!mps_commit(ap, p, size));
  static mps_addr_t table[1];
  table[0] = p;
  addExactTable(table, 1);
  // Committed before the flip: the commit stands.
  ASSERT_EQ(mps_reserve(&p, ap, size), MPS_RES_OK);
  static_cast<Object*>(p)->header = kObjectTag;
  static_cast<Object*>(p)->id = 3;
  ap->init = ap->alloc;  // commit by hand, as some clients do
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_TRUE(ap->limit != 0 || mps_ap_trip(ap, p, size));
  EXPECT_EQ(survivors(), std::set<mps_word_t>{2});
  mps_arena_release(arena);
}

TEST_F(AmsTest, AScanErrorIsReportedAndNothingIsFreed) {
  for (mps_word_t i = 0; i < 100; ++i)
    ASSERT_NE(allocObject(ap, i, 1), nullptr);
  static mps_addr_t table[1];
  table[0] = nullptr;
  addExactTable(table, 1);
  Object* kept = allocObject(ap, 1000, 0);
  table[0] = kept;
  std::set<mps_word_t> before = survivors();
  // Let the pool scan: a reachable object with references.
  Object* parent = allocObject(ap, 1001, 1);
  parent->refs[0] = kept;
  table[0] = parent;
  scanControl().failAfter = 0;
  EXPECT_EQ(mps_arena_collect(arena), MPS_RES_FAIL);
  scanControl().failAfter = -1;
  before.insert(1001);
  EXPECT_EQ(survivors(), before);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), (std::set<mps_word_t>{1000, 1001}));
  mps_arena_release(arena);
}

TEST_F(AmsTest, GenerationOverCapacityIsCollectedAutomatically) {
  mps_gen_param_s gens[1] = {{256, 0.9}};  // 256 KiB
  mps_chain_t small;
  ASSERT_EQ(mps_chain_create(&small, arena, 1, gens), MPS_RES_OK);
  mps_pool_t p2;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, small);
    ASSERT_EQ(mps_pool_create_k(&p2, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t ap2;
  ASSERT_EQ(mps_ap_create_k(&ap2, p2, mps_args_none), MPS_RES_OK);
  mps_word_t before = mps_collections(arena);
  for (mps_word_t i = 0; i < 200000; ++i)
    ASSERT_NE(allocObject(ap2, i, 2), nullptr);  // ~6 MB
  EXPECT_GE(mps_collections(arena) - before, 5u);
  EXPECT_LT(mps_pool_total_size(p2), size_t(4) << 20);
  mps_ap_destroy(ap2);
  mps_pool_destroy(p2);
  mps_chain_destroy(small);
}

TEST_F(AmsTest, PoolWalkVisitsEveryObjectWithAnEmptyWhiteSet) {
  for (mps_word_t i = 1; i <= 100; ++i)
    ASSERT_NE(allocObject(ap, i, i % 3), nullptr);
  mps_arena_park(arena);
  struct Seen {
    std::set<mps_word_t> ids;
    size_t areas = 0;
  } seen;
  mps_res_t res = mps_pool_walk(
      pool,
      [](mps_ss_t ss, void* base, void* limit, void* closure) -> mps_res_t {
        auto* s = static_cast<Seen*>(closure);
        ++s->areas;
        for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
          auto* o = reinterpret_cast<Object*>(p);
          s->ids.insert(o->id);
          MPS_SCAN_BEGIN(ss) {
            for (size_t i = 0; i < refCount(o); ++i)
              if (MPS_FIX1(ss, o->refs[i])) return MPS_RES_FAIL;  // white set is empty
          }
          MPS_SCAN_END(ss);
          p += objectSize(refCount(o));
        }
        return MPS_RES_OK;
      },
      &seen);
  EXPECT_EQ(res, MPS_RES_OK);
  EXPECT_EQ(seen.ids.size(), 100u);
  EXPECT_GE(seen.areas, 1u);
  mps_arena_release(arena);
}

TEST_F(AmsTest, AmbiguousAllocationPointObjectsAreScannedConservatively) {
  mps_ap_t ambigAp;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_ambig());
    ASSERT_EQ(mps_ap_create_k(&ambigAp, pool, args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  Object* holder = allocObject(ambigAp, 1, 3);
  Object* target = allocObject(ap, 2, 0);
  allocObject(ap, 3, 0);
  holder->refs[0] = target;
  holder->refs[1] = reinterpret_cast<mps_addr_t>(mps_word_t(0x1234567));  // not a pointer
  holder->refs[2] = reinterpret_cast<char*>(target) + 8;                  // interior
  static mps_addr_t table[1];
  table[0] = holder;
  addExactTable(table, 1);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivors(), (std::set<mps_word_t>{1, 2}));
  // Ambiguous references are never updated.
  EXPECT_EQ(holder->refs[1], reinterpret_cast<mps_addr_t>(mps_word_t(0x1234567)));
  mps_arena_release(arena);
  mps_ap_destroy(ambigAp);
}

// The test format with a one-word in-band header before each object: skip
// and scan step over whole blocks (header included) in client pointers.
extern "C" mps_addr_t headerSkip(mps_addr_t p) {
  return static_cast<char*>(p) + sizeof(mps_word_t) + objectSize(refCount(static_cast<Object*>(p)));
}
extern "C" mps_res_t headerScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
    char* next = static_cast<char*>(headerSkip(p));
    mps_res_t res = testScan(ss, p, p + objectSize(refCount(reinterpret_cast<Object*>(p))));
    if (res != MPS_RES_OK) return res;
    p = next;
  }
  return MPS_RES_OK;
}

TEST(AmsHeaders, InBandHeadersUseClientPointers) {
  // Objects carry a one-word header before the client pointer; the format
  // methods and every reference see client pointers.
  mps_arena_t arena;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_fmt_auto_header_s h = {sizeof(mps_word_t), headerScan, headerSkip, nullptr, nullptr, nullptr,
                             sizeof(mps_word_t)};
  mps_fmt_t fmt;
  ASSERT_EQ(mps_fmt_create_auto_header(&fmt, arena, &h), MPS_RES_OK);
  mps_pool_t pool;
  ASSERT_EQ(mps_pool_create(&pool, arena, mps_class_ams(), fmt, NULL, 1), MPS_RES_OK);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create(&ap, pool, mps_rank_exact()), MPS_RES_OK);
  auto alloc = [&](mps_word_t id, size_t refs) {
    size_t size = sizeof(mps_word_t) + objectSize(refs);
    mps_addr_t p;
    Object* o;
    do {
      EXPECT_EQ(mps_reserve(&p, ap, size), MPS_RES_OK);
      *static_cast<mps_word_t*>(p) = 0xABCD;  // the header
      o = reinterpret_cast<Object*>(static_cast<mps_word_t*>(p) + 1);
      o->header = (mps_word_t(refs) << 8) | kObjectTag;
      o->id = id;
      for (size_t i = 0; i < refs; ++i)
        o->refs[i] = nullptr;
    } while (!mps_commit(ap, p, size));
    return o;
  };
  Object* a = alloc(1, 1);
  Object* b = alloc(2, 0);
  alloc(3, 0);
  a->refs[0] = b;
  static mps_addr_t table[1];
  table[0] = a;
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, 1), MPS_RES_OK);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  auto ids = walkIds(arena);
  EXPECT_EQ(std::set<mps_word_t>(ids.begin(), ids.end()), (std::set<mps_word_t>{1, 2}));
  mps_fmt_t found;
  EXPECT_TRUE(mps_addr_fmt(&found, arena, b));
  EXPECT_EQ(found, fmt);
  mps_arena_release(arena);
  mps_root_destroy(root);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

TEST_F(AmsTest, GcMessagesArriveInOrderWithPlausibleSizes) {
  mps_message_type_enable(arena, mps_message_type_gc_start());
  mps_message_type_enable(arena, mps_message_type_gc());
  static mps_addr_t table[1];
  Object* kept = allocObject(ap, 1, 0);
  for (mps_word_t i = 2; i < 1000; ++i)
    allocObject(ap, i, 1);
  table[0] = kept;
  addExactTable(table, 1);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  std::vector<mps_message_type_t> types;
  std::vector<size_t> live, condemned, notCondemned;
  mps_message_t message;
  mps_message_type_t type;
  while (mps_message_queue_type(&type, arena)) {
    ASSERT_TRUE(mps_message_get(&message, arena, type));
    types.push_back(type);
    if (type == mps_message_type_gc()) {
      live.push_back(mps_message_gc_live_size(arena, message));
      condemned.push_back(mps_message_gc_condemned_size(arena, message));
      notCondemned.push_back(mps_message_gc_not_condemned_size(arena, message));
    } else {
      EXPECT_NE(mps_message_gc_start_why(arena, message), nullptr);
    }
    mps_message_discard(arena, message);
  }
  std::vector<mps_message_type_t> expected = {mps_message_type_gc_start(), mps_message_type_gc(),
                                              mps_message_type_gc_start(), mps_message_type_gc()};
  EXPECT_EQ(types, expected);
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0], objectSize(0));  // only the kept object survived
  EXPECT_EQ(condemned[0], 998 * objectSize(1) + objectSize(0));
  EXPECT_EQ(live[1], objectSize(0));
  EXPECT_EQ(condemned[1], objectSize(0));
  // Full collections condemn everything: the allocation point's unfilled
  // buffer holds no objects and is not reported as not condemned either.
  EXPECT_EQ(notCondemned[0], 0u);
  EXPECT_EQ(notCondemned[1], 0u);
  mps_arena_release(arena);
}

TEST(LoTest, LeafObjectsAreKeptByReferencesAndNeverTrapped) {
  mps_arena_t arena;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_fmt_t fmt;
  ASSERT_EQ(makeFormat(&fmt, arena, true), MPS_RES_OK);
  mps_pool_t pool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_lo(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create(&ap, pool, mps_rank_exact()), MPS_RES_OK);  // surplus rank ignored
  Object* kept = allocObject(ap, 1, 0);
  allocObject(ap, 2, 0);
  static mps_addr_t table[1];
  table[0] = kept;
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, 1), MPS_RES_OK);
  mps_addr_t p;
  ASSERT_EQ(mps_reserve(&p, ap, objectSize(0)), MPS_RES_OK);
  static_cast<Object*>(p)->header = kObjectTag;
  static_cast<Object*>(p)->id = 3;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  // Leaf allocation points are not trapped: the commit stands.
  EXPECT_TRUE(mps_commit(ap, p, objectSize(0)));
  auto ids = walkIds(arena);
  EXPECT_EQ(std::set<mps_word_t>(ids.begin(), ids.end()), (std::set<mps_word_t>{1, 3}));
  mps_arena_release(arena);
  mps_root_destroy(root);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

}  // namespace
}  // namespace mps::test
