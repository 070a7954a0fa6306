// Threads allocating in AMC while another thread collects: each mutator
// thread builds a list held by its own exact root slot, its stack scanned
// ambiguously (so whatever it holds in locals is pinned), and checks the list
// after every few allocations. Short: it also runs under ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "amc_support.hpp"
#include "mutator.hpp"
#include "seed.hpp"
#include "shield/shield.hpp"
#include "tracer/collector.hpp"

namespace mps::test {
namespace {

// An AMC pool of moving-format objects on a two-generation chain, and an
// exact root over `heads`, in a parked arena with two marking workers.
struct ThreadHeap {
  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t pool = nullptr;
  mps_root_t root = nullptr;

  void create(size_t nurseryKiB, size_t olderKiB, mps_addr_t* heads, size_t count) {
    ASSERT_EQ(makeParkedArena(&arena, 2), MPS_RES_OK);
    ASSERT_EQ(makeMovingFormat(&fmt, arena), MPS_RES_OK);
    mps_gen_param_s gens[2] = {{nurseryKiB, 0.8}, {olderKiB, 0.5}};
    ASSERT_EQ(mps_chain_create(&chain, arena, 2, gens), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_amc(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    for (size_t i = 0; i < count; ++i)
      heads[i] = nullptr;
    ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, heads, count), MPS_RES_OK);
  }
  void destroy() {
    mps_arena_park(arena);
    mps_root_destroy(root);
    mps_pool_destroy(pool);
    mps_chain_destroy(chain);
    mps_fmt_destroy(fmt);
    mps_arena_destroy(arena);
  }
};

constexpr int kThreads = 3;
constexpr mps_word_t kObjects = 4000;

struct Shared {
  mps_arena_t arena;
  mps_pool_t pool;
  mps_addr_t heads[kThreads];
  // Start gate: every mutator is registered before the first collection,
  // so collections overlap the mutators however the threads are scheduled.
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<int> done{0};
  std::atomic<bool> failed{false};
};

void checkList(Shared* s, int t, mps_word_t n) {
  auto* o = static_cast<Object*>(s->heads[t]);
  for (mps_word_t id = n; id >= 1; --id) {
    if (o == nullptr || tagOf(o) != kObjectTag || o->id != id * kThreads + mps_word_t(t)) {
      s->failed = true;
      return;
    }
    o = static_cast<Object*>(o->refs[0]);
  }
  if (o != nullptr) s->failed = true;
}

// The body of mutator(): the thread stays registered until it returns.
void mutate(Shared* s, int t) {
  Mutator m(s->arena, s->pool, __builtin_frame_address(0));
  mps_ap_t ap = m.ap;
  s->ready++;
  if (!m.ok()) {
    s->failed = true;
    return;
  }
  while (!s->go.load())
    std::this_thread::yield();
  for (mps_word_t id = 1; id <= kObjects && !s->failed; ++id) {
    size_t size = objectSize(1);
    mps_addr_t p;
    do {
      if (mps_reserve(&p, ap, size) != MPS_RES_OK) {
        s->failed = true;
        break;
      }
      auto* o = static_cast<Object*>(p);
      o->header = (mps_word_t(1) << 8) | kObjectTag;
      o->id = id * kThreads + mps_word_t(t);
      o->refs[0] = s->heads[t];
    } while (!mps_commit(ap, p, size));
    s->heads[t] = p;
    if (id % 500 == 0) checkList(s, t, id);
  }
}

void mutator(Shared* s, int t) {
  mutate(s, t);
  s->done++;  // deregistered by now: the test may destroy the pool
}

TEST(AmcThreads, MutatorsAllocateWhileAnotherThreadCollects) {
  static Shared s;
  ThreadHeap heap;
  ASSERT_NO_FATAL_FAILURE(heap.create(128, 512, s.heads, kThreads));
  s.arena = heap.arena;
  s.pool = heap.pool;
  mps_arena_release(s.arena);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back(mutator, &s, t);
  while (s.ready.load() < kThreads)
    std::this_thread::yield();
  s.go = true;
  // At least one collection runs while every mutator is registered and
  // allocating (or about to): a loop that tested `done` first could find
  // them all finished on a loaded machine and collect nothing.
  do {
    ASSERT_EQ(mps_arena_collect(s.arena), MPS_RES_OK);
    mps_arena_release(s.arena);
    std::this_thread::yield();
  } while (s.done.load() < kThreads);
  for (auto& th : threads)
    th.join();
  EXPECT_FALSE(s.failed.load());
  ASSERT_EQ(mps_arena_collect(s.arena), MPS_RES_OK);
  for (int t = 0; t < kThreads; ++t)
    checkList(&s, t, kObjects);
  EXPECT_FALSE(s.failed.load());
  heap.destroy();
}

// The write barrier with several mutators: each thread hangs young objects
// from random objects of its own older list (stores into protected
// segments, shared between the threads since promotion interleaves their
// objects) while the main thread runs nursery collections. Every store must
// be seen: at the end each older object's slot 1 holds the last young
// object stored there.
constexpr int kStoreThreads = 3;
constexpr size_t kOldLength = 400;
constexpr int kStores = 3000;

struct StoreShared {
  mps_arena_t arena;
  mps_pool_t pool;
  mps_addr_t heads[kStoreThreads];
  std::vector<mps_word_t> expected[kStoreThreads];  // young ids by list position
  std::atomic<int> ready{0};
  std::atomic<int> done{0};
  std::atomic<bool> failed{false};
};

Object* nthOf(StoreShared* s, int t, size_t n) {
  auto* o = static_cast<Object*>(s->heads[t]);
  for (size_t i = 0; i < n && o != nullptr; ++i)
    o = static_cast<Object*>(o->refs[0]);
  return o;
}

bool checkStores(StoreShared* s, int t) {
  for (size_t i = 0; i < kOldLength; ++i) {
    Object* o = nthOf(s, t, i);
    if (o == nullptr || tagOf(o) != kObjectTag) return false;
    auto* y = static_cast<Object*>(o->refs[1]);
    mps_word_t want = s->expected[t][i];
    if (want == 0 ? y != nullptr : (y == nullptr || tagOf(y) != kObjectTag || y->id != want))
      return false;
  }
  return true;
}

// The body of storer(): the thread stays registered until it returns.
void store(StoreShared* s, int t) {
  Mutator m(s->arena, s->pool, __builtin_frame_address(0));
  mps_ap_t ap = m.ap;
  if (!m.ok()) {
    s->failed = true;
    s->ready++;
    return;
  }
  for (size_t i = 0; i < kOldLength && !s->failed; ++i) {
    Object* o = allocObject(ap, 1000000 * mps_word_t(t + 1) + i, 2);
    if (o == nullptr) {
      s->failed = true;
      break;
    }
    o->refs[0] = s->heads[t];
    s->heads[t] = o;
  }
  s->expected[t].assign(kOldLength, 0);
  s->ready++;
  // Wait for a collection that promotes the list.
  while (s->ready.load() <= kStoreThreads && !s->failed)
    std::this_thread::yield();
  Rng rng(testSeed(77) + mps_word_t(t));
  for (int k = 1; k <= kStores && !s->failed; ++k) {
    mps_word_t id = 10000000 * mps_word_t(t + 1) + mps_word_t(k);
    Object* young = allocObject(ap, id, 0);
    if (young == nullptr) {
      s->failed = true;
      break;
    }
    size_t n = size_t(rng.below(kOldLength));
    Object* old = nthOf(s, t, n);
    old->refs[1] = young;
    s->expected[t][n] = id;
    if (k % 1000 == 0 && !checkStores(s, t)) s->failed = true;
  }
}

void storer(StoreShared* s, int t) {
  store(s, t);
  s->done++;
}

TEST(AmcThreads, StoresIntoOlderObjectsFromSeveralThreadsAreAllSeen) {
  static StoreShared s;
  ThreadHeap heap;
  ASSERT_NO_FATAL_FAILURE(heap.create(256, 8192, s.heads, kStoreThreads));
  s.arena = heap.arena;
  s.pool = heap.pool;
  // The barrier's mechanism under threads: every older segment protected.
  core::Collector::of(reinterpret_cast<core::Arena*>(s.arena))->barrierPolicy = false;
  mps_chain_t chain = heap.chain;
  core::Size faultsBefore = core::Shield::faultCount();
  std::vector<std::thread> threads;
  for (int t = 0; t < kStoreThreads; ++t)
    threads.emplace_back(storer, &s, t);
  while (s.ready.load() < kStoreThreads)
    std::this_thread::yield();
  // Promote every list, then let the stores begin. The arena is parked:
  // only these nursery collections run.
  ASSERT_EQ(collectGenerations(s.arena, chain, 0), MPS_RES_OK);
  s.ready++;
  int collections = 0;
  while (s.done.load() < kStoreThreads) {
    ASSERT_EQ(collectGenerations(s.arena, chain, 0), MPS_RES_OK);
    ++collections;
    std::this_thread::yield();
  }
  for (auto& th : threads)
    th.join();
  EXPECT_FALSE(s.failed.load());
  EXPECT_GT(collections, 0);
  EXPECT_GT(core::Shield::faultCount(), faultsBefore) << "no store met the barrier";
  ASSERT_EQ(collectGenerations(s.arena, chain, 0), MPS_RES_OK);
  for (int t = 0; t < kStoreThreads; ++t)
    EXPECT_TRUE(checkStores(&s, t)) << "thread " << t;
  heap.destroy();
}

}  // namespace
}  // namespace mps::test
