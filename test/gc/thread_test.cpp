// Registered threads: objects reachable only from a thread's stack or
// registers survive, whichever thread starts the collection; several
// mutator threads allocate and mutate while collections start from any of
// them (run under TSan by CI).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "object_format.hpp"
#include "seed.hpp"

namespace mps::test {
namespace {

struct Heap {
  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_pool_t pool = nullptr;

  Heap() {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, 2u);
      EXPECT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
    } MPS_ARGS_END(args);
    EXPECT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      EXPECT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
    } MPS_ARGS_END(args);
  }
  ~Heap() {
    mps_pool_destroy(pool);
    mps_fmt_destroy(fmt);
    mps_arena_destroy(arena);
  }
};

// Kept out of line so the object's address lives only in the caller's frame.
__attribute__((noinline)) Object* makeList(mps_ap_t ap, mps_word_t firstId, size_t length) {
  Object* head = nullptr;
  for (size_t i = 0; i < length; ++i) {
    Object* o = allocObject(ap, firstId + i, 1);
    if (o == nullptr) return nullptr;
    o->refs[0] = head;
    head = o;
  }
  return head;
}

__attribute__((noinline)) void makeGarbage(mps_ap_t ap, size_t count) {
  for (size_t i = 0; i < count; ++i) (void)allocObject(ap, 0, 2);
}

bool listIntact(const Object* head, mps_word_t firstId, size_t length) {
  for (size_t i = length; i-- > 0;) {
    if (head == nullptr || head->id != firstId + i) return false;
    head = static_cast<const Object*>(head->refs[0]);
  }
  return head == nullptr;
}

TEST(GcThreads, AnObjectReachableOnlyFromTheStackSurvives) {
  Heap heap;
  void* cold = __builtin_frame_address(0);
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, heap.arena), MPS_RES_OK);
  mps_root_t root;
  ASSERT_EQ(mps_root_create_thread(&root, heap.arena, thread, cold), MPS_RES_OK);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, heap.pool, mps_args_none), MPS_RES_OK);
  Object* volatile head = makeList(ap, 100, 50);
  makeGarbage(ap, 2000);
  ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  EXPECT_TRUE(listIntact(head, 100, 50));
  std::set<mps_word_t> ids;
  for (mps_word_t id : walkIds(heap.arena)) ids.insert(id);
  for (mps_word_t id = 100; id < 150; ++id) EXPECT_TRUE(ids.count(id)) << id;
  mps_arena_release(heap.arena);
  mps_ap_destroy(ap);
  mps_root_destroy(root);
  mps_thread_dereg(thread);
}

// Each thread keeps a list reachable only from its own stack, mutates it,
// makes garbage, and now and then collects; every list must stay intact.
TEST(GcThreads, FourMutatorsCollectingFromAnyThread) {
  uint64_t seed = testSeed(4242);
  Heap heap;
  constexpr int kThreads = 4;
  constexpr int kRounds = 100;
  std::atomic<int> failures{0};
  std::atomic<int> collections{0};
  auto body = [&](int index) {
    void* cold = __builtin_frame_address(0);
    Rng rng(seed + uint64_t(index));
    mps_thr_t thread;
    mps_root_t root;
    mps_ap_t ap;
    if (mps_thread_reg(&thread, heap.arena) != MPS_RES_OK ||
        mps_root_create_thread(&root, heap.arena, thread, cold) != MPS_RES_OK ||
        mps_ap_create_k(&ap, heap.pool, mps_args_none) != MPS_RES_OK) {
      ++failures;
      return;
    }
    mps_word_t base = mps_word_t(index + 1) * 1000000;
    for (int round = 0; round < kRounds; ++round) {
      size_t length = 20 + size_t(rng.below(200));
      Object* head = makeList(ap, base, length);
      makeGarbage(ap, size_t(rng.below(3000)));
      if (rng.below(4) == 0) {
        if (mps_arena_collect(heap.arena) != MPS_RES_OK) ++failures;
        mps_arena_release(heap.arena);
        ++collections;
      }
      makeGarbage(ap, 100);
      if (!listIntact(head, base, length)) ++failures;
      base += length;
    }
    mps_ap_destroy(ap);
    mps_root_destroy(root);
    mps_thread_dereg(thread);
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(body, i);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(collections.load(), 0);
}

}  // namespace
}  // namespace mps::test
