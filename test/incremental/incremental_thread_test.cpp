// Several mutator threads on one shared object while incremental
// collections (pause time 0) are in progress: every thread reads every slot
// of the shared object, writes its own slots with new young objects, and
// copies references into slots every thread writes. The shared object sits
// in one segment, so a thread's access to it while it is grey faults, and
// the fault handler scans it with the other threads stopped; meanwhile the
// main thread starts collections and steps them. Every object a thread
// reaches must be intact, and at the end each thread's slots hold what it
// last wrote. Short enough for ThreadSanitizer (label threaded).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "incremental_heap.hpp"

namespace mps::test {
namespace {

constexpr int kThreads = 3;
constexpr size_t kOwned = 48;  // slot i is written only by thread i % kThreads
constexpr size_t kSlots = 64;  // slots kOwned.. are written by every thread

// A child in slot i, version v: id ((i + 1) << 32) | (v << 1), one
// reference, to a leaf with id (child's id | 1).
mps_word_t childId(size_t slot, mps_word_t version) {
  return (mps_word_t(slot + 1) << 32) | (version << 1);
}

mps_addr_t loadRef(mps_addr_t* p) {
  return std::atomic_ref<mps_addr_t>(*p).load(std::memory_order_acquire);
}
void storeRef(mps_addr_t* p, mps_addr_t v) {
  std::atomic_ref<mps_addr_t>(*p).store(v, std::memory_order_release);
}

struct Shared {
  mps_arena_t arena = nullptr;
  mps_pool_t pool = nullptr;
  mps_addr_t root[1] = {nullptr};  // the shared object (an exact root)
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::atomic<size_t> errors{0};
  std::atomic<size_t> ops{0};
  mps_word_t versions[kOwned] = {};  // each written by its slot's owner only
};

// Whether `c`, read from slot `slot` (any owned slot if slot >= kOwned),
// is an intact child; reports the first few that are not.
bool checkChild(Shared* sh, const Object* c, size_t slot) {
  auto bad = [&](const char* what) {
    if (sh->errors.fetch_add(1) < 10)
      ADD_FAILURE() << "slot " << slot << ": " << what << " (object at "
                    << static_cast<const void*>(c) << ")";
    return false;
  };
  if (c == nullptr) return slot >= kOwned ? true : bad("null");
  if (tagOf(c) != kObjectTag) return bad("not an object: forwarded or overwritten");
  mps_word_t id = c->id;
  size_t from = size_t(id >> 32);
  if ((id & 1) != 0 || from == 0 || from > kOwned) return bad("not a child's id");
  if (slot < kOwned && from != slot + 1) return bad("a child of another slot");
  if (refCount(c) != 1) return bad("a child with the wrong reference count");
  auto* leaf = static_cast<const Object*>(loadRef(const_cast<mps_addr_t*>(&c->refs[0])));
  if (leaf == nullptr || tagOf(leaf) != kObjectTag) return bad("a child's leaf is not an object");
  if (leaf->id != (id | 1) || refCount(leaf) != 0) return bad("a child's leaf is not its own");
  return true;
}

void mutatorThread(Shared* sh, int t, uint64_t seed) {
  Mutator m(sh->arena, sh->pool, __builtin_frame_address(0));
  if (!m.ok()) {
    sh->errors.fetch_add(1);
    ADD_FAILURE() << "thread " << t << " could not register";
    sh->ready.fetch_add(1);
    return;
  }
  Rng rng(seed);
  sh->ready.fetch_add(1);
  size_t ops = 0;
  while (!sh->stop.load(std::memory_order_relaxed)) {
    auto* shared = static_cast<Object*>(loadRef(&sh->root[0]));
    // Reads of every kind of slot.
    for (int k = 0; k < 8; ++k) {
      size_t i = rng.below(kSlots);
      checkChild(sh, obj(loadRef(&shared->refs[i])), i);
    }
    // A new version of one of this thread's slots (young into old).
    if (rng.below(2) == 0) {
      size_t i = size_t(t) + kThreads * rng.below(kOwned / kThreads);
      mps_word_t id = childId(i, ++sh->versions[i]);
      Object* leaf = allocObject(m.ap, id | 1, 0);
      Object* child = allocObject(m.ap, id, 1);  // leaf: pinned by this stack
      if (leaf == nullptr || child == nullptr) {
        sh->errors.fetch_add(1);
        ADD_FAILURE() << "out of memory";
        break;
      }
      child->refs[0] = leaf;
      shared = static_cast<Object*>(loadRef(&sh->root[0]));
      storeRef(&shared->refs[i], child);
      // Read back: only this thread writes slot i.
      auto* back = obj(loadRef(&shared->refs[i]));
      if (checkChild(sh, back, i) && back->id != id) {
        sh->errors.fetch_add(1);
        ADD_FAILURE() << "slot " << i << " lost this thread's write";
      }
    }
    // Copies into the slots every thread writes.
    if (rng.below(2) == 0) {
      size_t from = rng.below(kOwned);
      storeRef(&shared->refs[kOwned + rng.below(kSlots - kOwned)], loadRef(&shared->refs[from]));
    }
    // Garbage: fills that start collections and advance them.
    for (int k = 0; k < 8; ++k) {
      if (allocObject(m.ap, 0xdead, 2) == nullptr) {
        sh->errors.fetch_add(1);
        ADD_FAILURE() << "out of memory";
        break;
      }
    }
    ++ops;
  }
  sh->ops.fetch_add(ops);
}

TEST(IncrementalThreads, SharedObjectTouchedByAllThreadsDuringCollections) {
  IncConfig config;
  config.kind = PoolKind::amc;
  config.workers = 2;
  config.pauseTime = 0.0;
  IncHeap heap(config, {256, 0.8}, {2048, 0.5}, __builtin_frame_address(0));
  ASSERT_TRUE(heap.ok());
  Shared sh;
  sh.arena = heap.arena;
  sh.pool = heap.poc.pool;
  // The shared object and its first children, allocated by this (registered)
  // thread, rooted through heap.slots[0] and sh.root.
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, heap.arena, mps_rank_exact(), 0, sh.root, 1), MPS_RES_OK);
  {
    Object* shared = allocObject(heap.ap(), 1, kSlots);
    ASSERT_NE(shared, nullptr);
    sh.root[0] = shared;
    for (size_t i = 0; i < kOwned; ++i) {
      Object* leaf = allocObject(heap.ap(), childId(i, 0) | 1, 0);
      Object* child = allocObject(heap.ap(), childId(i, 0), 1);
      ASSERT_NE(child, nullptr);
      child->refs[0] = leaf;
      static_cast<Object*>(sh.root[0])->refs[i] = child;
    }
  }
  // Ballast: enough live data that a full collection takes many
  // increments at pause time 0.
  for (size_t s = 0; s < 8; ++s)
    ASSERT_TRUE(heap.makeList(s, 1000));
  // Old: promoted by a collection before the threads start.
  ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  heap.drain();
  heap.gcs.clear();
  mps_arena_release(heap.arena);  // mps_arena_collect left it parked

  uint64_t seed = testSeed(0x7e57);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back(mutatorThread, &sh, t, seed + uint64_t(t));
  while (sh.ready.load() < kThreads)
    std::this_thread::yield();

  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  size_t started = 0, steps = 0;
  while ((started < 6 || elapsed() < 1.0) && elapsed() < 10.0 && sh.errors.load() == 0) {
    ASSERT_EQ(mps_arena_start_collect(heap.arena), MPS_RES_OK);
    ++started;
    // Step it in the smallest increments while the threads run.
    while (mps_arena_step(heap.arena, 0.0, 0.0) && elapsed() < 10.0) {
      ++steps;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    heap.drain();
  }
  sh.stop.store(true);
  for (std::thread& t : threads)
    t.join();
  mps_arena_park(heap.arena);
  heap.drain();

  EXPECT_EQ(sh.errors.load(), 0u);
  EXPECT_GE(heap.verify("at the end"), 8u * 1000u);
  EXPECT_EQ(heap.failures(), 0u);
  // Each thread's slots hold what it wrote last.
  auto* shared = static_cast<Object*>(sh.root[0]);
  ASSERT_EQ(tagOf(shared), kObjectTag);
  EXPECT_EQ(shared->id, 1u);
  for (size_t i = 0; i < kSlots; ++i) {
    auto* c = obj(shared->refs[i]);
    EXPECT_TRUE(checkChild(&sh, c, i));
    if (i < kOwned && c != nullptr) {
      EXPECT_EQ(c->id, childId(i, sh.versions[i])) << "slot " << i;
    }
  }
  std::printf(
      "[ stats    ] %zu mutator rounds, %zu collections started, %zu steps, %zu GC "
      "messages (%zu with more than one pause), %zu faults\n",
      sh.ops.load(), started, steps, heap.gcs.size(), heap.incrementalCollections(),
      heap.totalFaults());
  // Preconditions: the threads ran, collections ran in increments, and the
  // barrier was hit.
  EXPECT_GT(sh.ops.load(), 0u);
  EXPECT_GE(heap.gcs.size(), started);
  EXPECT_GT(heap.incrementalCollections(), 0u);
  EXPECT_GT(heap.totalFaults(), 0u) << "no thread ever faulted on a grey segment";
  mps_root_destroy(root);
}

}  // namespace
}  // namespace mps::test
