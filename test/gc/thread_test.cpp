// Registered threads: objects reachable only from a thread's stack or
// registers survive, whichever thread starts the collection; several
// mutator threads allocate and mutate while collections start from any of
// them (run under TSan by CI).
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "mutator.hpp"
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
    }
    MPS_ARGS_END(args);
    EXPECT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      EXPECT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
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
  for (size_t i = 0; i < count; ++i)
    (void)allocObject(ap, 0, 2);
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
  for (mps_word_t id : walkIds(heap.arena))
    ids.insert(id);
  for (mps_word_t id = 100; id < 150; ++id)
    EXPECT_TRUE(ids.count(id)) << id;
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
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back(body, i);
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(collections.load(), 0);
}

// A registered thread is stopped wherever it is, often inside malloc or free
// holding the lock of its malloc arena. With one malloc arena for the whole
// process (as when there are more threads than glibc makes arenas), a
// collector that called malloc while the world is stopped would wait for
// that lock forever. Collections here must all finish; a watchdog turns a
// hang into a failure.
TEST(GcThreads, CollectionsNeverWaitForAThreadStoppedInsideMalloc) {
  mallopt(M_ARENA_MAX, 1);
  Heap heap;
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, heap.pool, mps_args_none), MPS_RES_OK);
  // Enough live objects for the grey stacks to grow during each collection.
  static mps_addr_t table[1];
  mps_root_t tableRoot;
  ASSERT_EQ(mps_root_create_table(&tableRoot, heap.arena, mps_rank_exact(), 0, table, 1),
            MPS_RES_OK);
  Object* tree = nullptr;
  for (mps_word_t i = 0; i < 20000; ++i) {
    Object* o = allocObject(ap, i + 1, 2);
    ASSERT_NE(o, nullptr);
    o->refs[0] = tree;
    o->refs[1] = i % 2 ? tree : nullptr;
    tree = o;
    table[0] = tree;
  }
  std::atomic<bool> stop{false};
  std::atomic<long> mallocs{0};
  std::thread mutator([&] {
    void* cold = __builtin_frame_address(0);
    mps_thr_t thread;
    mps_root_t root;
    if (mps_thread_reg(&thread, heap.arena) != MPS_RES_OK) return;
    if (mps_root_create_thread(&root, heap.arena, thread, cold) != MPS_RES_OK) return;
    while (!stop.load(std::memory_order_relaxed)) {
      // Past the per-thread cache's sizes: every call takes the arena's lock.
      void* volatile p = std::malloc(4096 + size_t(mallocs.load() % 512));
      std::free(p);
      mallocs.fetch_add(1, std::memory_order_relaxed);
    }
    mps_root_destroy(root);
    mps_thread_dereg(thread);
  });
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 600 && !done.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done.load()) {
      std::fprintf(stderr, "watchdog: a collection waited 60 s for a stopped thread\n");
      std::_Exit(1);
    }
  });
  while (mallocs.load() == 0)
    std::this_thread::yield();
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  done = true;
  stop = true;
  mutator.join();
  watchdog.join();
  EXPECT_EQ(walkIds(heap.arena).size(), 20000u);
  mps_arena_release(heap.arena);
  mps_root_destroy(tableRoot);
  mps_ap_destroy(ap);
}

// Overwrites the dead frames below the caller, so that only what live
// frames and registers hold can keep objects alive.
__attribute__((noinline)) void scrubStack() {
  volatile char junk[4096];
  for (size_t i = 0; i < sizeof junk; ++i)
    junk[i] = 0;
}

// Thread B keeps a list only in a local of its own frame and waits; thread
// A collects while B is suspended; then the roles swap. Both lists survive,
// the garbage goes.
TEST(GcThreads, ALocalOfAnotherSuspendedThreadKeepsItsObjects) {
  Heap heap;
  std::atomic<int> phase{0};
  std::atomic<bool> bIntact{false};
  auto waitFor = [&](int p) {
    while (phase.load() < p)
      std::this_thread::yield();
  };
  std::thread b([&] {
    Mutator m(heap.arena, heap.pool, __builtin_frame_address(0));
    ASSERT_TRUE(m.ok());
    mps_ap_t ap = m.ap;
    Object* volatile head = makeList(ap, 100, 30);
    makeGarbage(ap, 500);
    scrubStack();
    phase = 1;  // A collects
    waitFor(2);
    bIntact = listIntact(head, 100, 30);
    // B collects while A waits with its own list.
    waitFor(3);
    EXPECT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
    mps_arena_release(heap.arena);
    phase = 4;
    waitFor(5);
  });
  void* cold = __builtin_frame_address(0);
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, heap.arena), MPS_RES_OK);
  mps_root_t root;
  ASSERT_EQ(mps_root_create_thread(&root, heap.arena, thread, cold), MPS_RES_OK);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, heap.pool, mps_args_none), MPS_RES_OK);
  waitFor(1);
  ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  std::set<mps_word_t> ids;
  for (mps_word_t id : walkIds(heap.arena))
    ids.insert(id);
  for (mps_word_t id = 100; id < 130; ++id)
    EXPECT_TRUE(ids.count(id)) << id;
  EXPECT_LT(ids.size(), 60u) << "the garbage was not collected";
  mps_arena_release(heap.arena);
  phase = 2;
  Object* volatile head = makeList(ap, 200, 30);
  makeGarbage(ap, 500);
  scrubStack();
  phase = 3;  // B collects
  waitFor(4);
  EXPECT_TRUE(listIntact(head, 200, 30));
  ids.clear();
  for (mps_word_t id : walkIds(heap.arena))
    ids.insert(id);
  for (mps_word_t id = 200; id < 230; ++id)
    EXPECT_TRUE(ids.count(id)) << id;
  phase = 5;
  b.join();
  EXPECT_TRUE(bIntact.load());
  mps_ap_destroy(ap);
  mps_root_destroy(root);
  mps_thread_dereg(thread);
}

#if defined(__x86_64__)
// An object whose address another thread holds only in a register (r12,
// callee-saved) survives a collection while that thread is suspended; an
// object whose address it holds nowhere (only scrambled) is collected.
// One asm statement unscrambles the address into r12 and waits, calling
// out to a function that sleeps briefly (so the suspend signal is taken at
// once, even under ThreadSanitizer, which delivers signals in blocking
// calls): the compiler never sees the address, so it keeps no copy; the
// callees keep r12 or save it in their frames, below the waiting frame.
constexpr mps_word_t kScramble = 0xA5A5A5A5A5A5A5A0u;  // also in the asm below
std::atomic<bool> registerTestGo{false};

extern "C" __attribute__((noinline, used)) int mpsTestRegisterWait() {
  if (registerTestGo.load()) return 1;
  std::this_thread::sleep_for(std::chrono::microseconds(50));
  return 0;
}

__attribute__((noinline)) mps_word_t allocScrambled(mps_ap_t ap, mps_word_t id) {
  return reinterpret_cast<mps_word_t>(allocObject(ap, id, 0)) ^ kScramble;
}

TEST(GcThreads, AnObjectHeldOnlyInAnotherThreadsRegisterSurvives) {
  Heap heap;
  registerTestGo = false;
  std::atomic<char> ready{0};
  std::atomic<mps_word_t> result{0};
  std::thread b([&] {
    Mutator m(heap.arena, heap.pool, __builtin_frame_address(0));
    ASSERT_TRUE(m.ok());
    mps_ap_t ap = m.ap;
    mps_word_t scrambled = allocScrambled(ap, 1);
    (void)allocScrambled(ap, 2);  // the control: held nowhere
    makeGarbage(ap, 100);
    scrubStack();
    mps_word_t out;
    // r13 keeps the stack pointer while the stack is realigned for calls
    // (and moved past the red zone).
    char* readyFlag = reinterpret_cast<char*>(&ready);
    asm volatile(
        "movq %[s], %%r12\n\t"
        "movabsq $0xA5A5A5A5A5A5A5A0, %%r13\n\t"  // kScramble
        "xorq %%r13, %%r12\n\t"
        "movb $1, %[ready]\n\t"
        "movq %%rsp, %%r13\n\t"
        "subq $128, %%rsp\n\t"
        "andq $-16, %%rsp\n\t"
        "1: call mpsTestRegisterWait\n\t"
        "testl %%eax, %%eax\n\t"
        "je 1b\n\t"
        "movq %%r13, %%rsp\n\t"
        "movq %%r12, %[out]\n\t"
        : [out] "=m"(out), [ready] "=m"(*readyFlag)
        : [s] "r"(scrambled)
        : "r12", "r13", "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1",
          "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "xmm13", "xmm14", "xmm15", "memory", "cc");
    result = out;
  });
  while (ready.load() == 0)
    std::this_thread::yield();
  ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  std::set<mps_word_t> ids;
  for (mps_word_t id : walkIds(heap.arena))
    ids.insert(id);
  registerTestGo = true;
  b.join();
  EXPECT_TRUE(ids.count(1)) << "the object held in a register was collected";
  EXPECT_FALSE(ids.count(2)) << "the control object survived: the test proves nothing";
  ASSERT_NE(result.load(), 0u);
  EXPECT_EQ(reinterpret_cast<Object*>(result.load())->id, 1u);
  mps_arena_release(heap.arena);
}
#endif

}  // namespace
}  // namespace mps::test
