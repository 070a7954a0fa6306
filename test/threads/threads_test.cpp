// Several threads using one arena through the C interface (arena.md: public
// entry points are thread-safe): private pools per thread, pools shared by all
// threads (MFS and MVFF), and a thread changing the commit limit and spare
// fraction and reading the accounting meanwhile.
//
// Every block is filled with a pattern naming its thread and sequence number
// and checked before it is freed, and a registry of live blocks (kept outside
// the library) refuses a block that is handed out while still live, so a
// block given to two clients at once is caught. At the end the pools' totals
// must balance. Meant to be run under ThreadSanitizer too (the tsan preset).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "mps.h"
#include "mpsacl.h"
#include "mpsavm.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "seed.hpp"

namespace {

constexpr size_t KiB = 1024;
constexpr int kThreads = 4;

// Live blocks of all threads; a second insertion of a live address is a block
// handed out twice.
class Registry {
 public:
  bool add(void* p) {
    std::lock_guard<std::mutex> guard(mutex_);
    return live_.insert(p).second;
  }
  bool remove(void* p) {
    std::lock_guard<std::mutex> guard(mutex_);
    return live_.erase(p) == 1;
  }
  size_t size() {
    std::lock_guard<std::mutex> guard(mutex_);
    return live_.size();
  }

 private:
  std::mutex mutex_;
  std::set<void*> live_;
};

struct Block {
  mps_pool_t pool = nullptr;
  void* p = nullptr;
  size_t size;
  std::uint64_t tag;
};

void fill(const Block& b) {
  auto* words = static_cast<std::uint64_t*>(b.p);
  for (size_t i = 0; i < b.size / sizeof(std::uint64_t); ++i)
    words[i] = b.tag + i;
  auto* bytes = static_cast<unsigned char*>(b.p);
  for (size_t i = b.size / 8 * 8; i < b.size; ++i)
    bytes[i] = static_cast<unsigned char>(b.tag);
}

bool intact(const Block& b) {
  auto* words = static_cast<const std::uint64_t*>(b.p);
  for (size_t i = 0; i < b.size / sizeof(std::uint64_t); ++i)
    if (words[i] != b.tag + i) return false;
  auto* bytes = static_cast<const unsigned char*>(b.p);
  for (size_t i = b.size / 8 * 8; i < b.size; ++i)
    if (bytes[i] != static_cast<unsigned char>(b.tag)) return false;
  return true;
}

// What one worker thread found; checked on the main thread.
struct Outcome {
  long allocs = 0, frees = 0, commitLimitFailures = 0;
  long corrupted = 0, handedOutTwice = 0, otherFailures = 0;
};

// A pool and the size its blocks are requested with (0: random sizes).
struct Target {
  mps_pool_t pool = nullptr;
  size_t fixedSize;
};

// Random allocation and freeing in `targets` until `ops` operations are done,
// then frees everything still held.
void work(int id, std::uint64_t seed, const std::vector<Target>& targets, int ops,
          Registry& registry, Outcome& out) {
  mps::test::Rng rng(seed + std::uint64_t(id) * 7919);
  std::vector<Block> held;
  std::uint64_t sequence = 0;
  auto release = [&](size_t index) {
    Block b = held[index];
    held[index] = held.back();
    held.pop_back();
    if (!intact(b)) ++out.corrupted;
    if (!registry.remove(b.p)) ++out.handedOutTwice;
    mps_free(b.pool, b.p, b.size);
    ++out.frees;
  };
  for (int op = 0; op < ops; ++op) {
    if (held.empty() || rng.below(100) < 55) {
      const Target& t = targets[rng.below(targets.size())];
      size_t size = t.fixedSize != 0 ? t.fixedSize : 8 + rng.below(rng.below(8) ? 200 : 5000);
      mps_addr_t p = nullptr;
      mps_res_t res = mps_alloc(&p, t.pool, size);
      if (res == MPS_RES_COMMIT_LIMIT) {
        ++out.commitLimitFailures;
        if (!held.empty()) release(rng.below(held.size()));
        continue;
      }
      if (res != MPS_RES_OK) {
        ++out.otherFailures;
        continue;
      }
      ++out.allocs;
      Block b{t.pool, p, size, (std::uint64_t(id) << 56) | (++sequence << 16)};
      if (!registry.add(p)) ++out.handedOutTwice;
      fill(b);
      held.push_back(b);
    } else {
      release(rng.below(held.size()));
    }
  }
  while (!held.empty())
    release(held.size() - 1);
}

void expectClean(const Outcome& o, int id) {
  EXPECT_EQ(o.corrupted, 0) << "thread " << id;
  EXPECT_EQ(o.handedOutTwice, 0) << "thread " << id;
  EXPECT_EQ(o.otherFailures, 0) << "thread " << id;
  EXPECT_EQ(o.allocs, o.frees) << "thread " << id;
  EXPECT_GT(o.allocs, 100) << "thread " << id;
}

mps_pool_t makeMFS(mps_arena_t arena, size_t unit, size_t extendBy) {
  mps_pool_t pool = nullptr;
  EXPECT_EQ(mps_pool_create(&pool, arena, mps_class_mfs(), extendBy, unit), MPS_RES_OK);
  return pool;
}

mps_pool_t makeMVFF(mps_arena_t arena) {
  mps_pool_t pool = nullptr;
  EXPECT_EQ(mps_pool_create_k(&pool, arena, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  return pool;
}

// An MFS pool holding no blocks has every unit of every extent free.
void expectMFSBalanced(mps_pool_t pool, size_t unit, size_t extendBy) {
  size_t total = mps_pool_total_size(pool);
  ASSERT_EQ(total % extendBy, 0u);
  size_t header = 2 * sizeof(void*);
  size_t rounded = (unit + 7) / 8 * 8;
  EXPECT_EQ(mps_pool_free_size(pool), total / extendBy * ((extendBy - header) / rounded) * rounded);
}

class Threads : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mps_arena_create_k(&arena_, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  }
  void TearDown() override { mps_arena_destroy(arena_); }
  size_t inUse() const { return mps_arena_committed(arena_) - mps_arena_spare_committed(arena_); }
  mps_arena_t arena_ = nullptr;
  Registry registry_;
};

TEST_F(Threads, PrivatePoolsInOneArena) {
  const std::uint64_t seed = mps::test::testSeed(1001);
  // Warm up the arena's own structures so the balance below is tight.
  {
    mps_pool_t a = makeMFS(arena_, 48, 8 * KiB), b = makeMVFF(arena_);
    mps_pool_destroy(a);
    mps_pool_destroy(b);
  }
  const size_t before = inUse();
  std::vector<Outcome> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id) {
    threads.emplace_back([&, id] {
      mps_pool_t mfs = makeMFS(arena_, 48, 8 * KiB);
      mps_pool_t mvff = makeMVFF(arena_);
      if (mfs == nullptr || mvff == nullptr) return;
      work(id, seed, {{mfs, 48}, {mvff, 0}}, 20000, registry_, outcomes[id]);
      // Each private pool balances on its own.
      expectMFSBalanced(mfs, 48, 8 * KiB);
      EXPECT_EQ(mps_pool_free_size(mvff), mps_pool_total_size(mvff));
      mps_pool_destroy(mfs);
      mps_pool_destroy(mvff);
    });
  }
  for (std::thread& t : threads)
    t.join();
  for (int id = 0; id < kThreads; ++id)
    expectClean(outcomes[id], id);
  EXPECT_EQ(registry_.size(), 0u);
  // The pools' memory is back: at most the arena's control memory for the
  // extra pool objects that existed at once remains in use.
  EXPECT_LE(inUse(), before + 4 * 4096);
  EXPECT_LE(mps_arena_spare_committed(arena_), mps_arena_committed(arena_));
}

TEST_F(Threads, SharedMFSAndMVFFPools) {
  const std::uint64_t seed = mps::test::testSeed(2002);
  mps_pool_t mfs = makeMFS(arena_, 40, 16 * KiB);
  mps_pool_t mvff = makeMVFF(arena_);
  ASSERT_NE(mfs, nullptr);
  ASSERT_NE(mvff, nullptr);
  std::vector<Outcome> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id)
    threads.emplace_back([&, id] {
      work(id, seed, {{mfs, 40}, {mvff, 0}}, 30000, registry_, outcomes[id]);
    });
  for (std::thread& t : threads)
    t.join();
  for (int id = 0; id < kThreads; ++id)
    expectClean(outcomes[id], id);
  EXPECT_EQ(registry_.size(), 0u);
  expectMFSBalanced(mfs, 40, 16 * KiB);
  EXPECT_EQ(mps_pool_free_size(mvff), mps_pool_total_size(mvff));
  mps_pool_destroy(mfs);
  mps_pool_destroy(mvff);
}

TEST_F(Threads, PerThreadCachesOverASharedPool) {
  // A cache belongs to one thread; its fills and empties meet the other
  // threads' in the shared pool.
  const std::uint64_t seed = mps::test::testSeed(4004);
  mps_pool_t pool = makeMVFF(arena_);
  ASSERT_NE(pool, nullptr);
  std::vector<Outcome> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id)
    threads.emplace_back([&, id] {
      Outcome& out = outcomes[id];
      mps_sac_class_s classes[] = {{16, 40, 8}, {32, 40, 8}, {64, 20, 4}, {256, 10, 1}};
      mps_sac_t sac = nullptr;
      if (mps_sac_create(&sac, pool, 4, classes) != MPS_RES_OK) {
        ++out.otherFailures;
        return;
      }
      mps::test::Rng rng(seed + std::uint64_t(id));
      std::vector<Block> held;
      std::uint64_t sequence = 0;
      for (int op = 0; op < 30000; ++op) {
        if (held.empty() || rng.below(100) < 52) {
          size_t size = 1 + rng.below(rng.below(10) ? 256 : 2000);
          mps_res_t res;
          mps_addr_t p = nullptr;
          MPS_SAC_ALLOC_FAST(res, p, sac, size, 0);
          if (res != MPS_RES_OK) {
            ++out.otherFailures;
            continue;
          }
          ++out.allocs;
          Block b{pool, p, size, (std::uint64_t(id) << 56) | (++sequence << 16)};
          if (!registry_.add(p)) ++out.handedOutTwice;
          fill(b);
          held.push_back(b);
        } else {
          size_t i = rng.below(held.size());
          Block b = held[i];
          held[i] = held.back();
          held.pop_back();
          if (!intact(b)) ++out.corrupted;
          if (!registry_.remove(b.p)) ++out.handedOutTwice;
          MPS_SAC_FREE_FAST(sac, b.p, b.size);
          ++out.frees;
        }
      }
      for (const Block& b : held) {
        if (!intact(b)) ++out.corrupted;
        if (!registry_.remove(b.p)) ++out.handedOutTwice;
        mps_sac_free(sac, b.p, b.size);
        ++out.frees;
      }
      mps_sac_flush(sac);
      mps_sac_destroy(sac);
    });
  for (std::thread& t : threads)
    t.join();
  for (int id = 0; id < kThreads; ++id)
    expectClean(outcomes[id], id);
  EXPECT_EQ(registry_.size(), 0u);
  EXPECT_EQ(mps_pool_free_size(pool), mps_pool_total_size(pool));
  mps_pool_destroy(pool);
}

TEST_F(Threads, CommitLimitAndAccountingChangeUnderAllocation) {
  const std::uint64_t seed = mps::test::testSeed(3003);
  mps_pool_t shared = makeMVFF(arena_);
  mps_pool_t fixed = makeMFS(arena_, 64, 8 * KiB);
  ASSERT_NE(shared, nullptr);
  ASSERT_NE(fixed, nullptr);
  // Each worker also has a pool of its own, made before the limit moves.
  std::vector<mps_pool_t> own;
  for (int id = 0; id < kThreads; ++id) {
    own.push_back(makeMFS(arena_, 24, 4 * KiB));
    ASSERT_NE(own.back(), nullptr);
  }
  const size_t baseline = mps_arena_committed(arena_);

  std::atomic<bool> done{false};
  std::atomic<long> limitSets{0}, limitFailures{0}, mismatches{0};
  std::thread controller([&] {
    mps::test::Rng rng(seed);
    while (!done.load(std::memory_order_acquire)) {
      // Read everything; values may change at any time but must be sane.
      size_t committed = mps_arena_committed(arena_);
      size_t reserved = mps_arena_reserved(arena_);
      if (committed == 0 || reserved < 256 * KiB) mismatches.fetch_add(1);
      if (mps_pool_free_size(shared) > mps_pool_total_size(shared) + 1024 * KiB)
        mismatches.fetch_add(1);  // (two reads: only a gross error counts)
      (void)mps_arena_spare_committed(arena_);
      (void)mps_arena_spare(arena_);
      // Tighten the limit to a little above what is committed now, or lift it.
      size_t limit = rng.below(3) == 0 ? SIZE_MAX : committed + rng.below(16) * 4 * KiB;
      mps_res_t res = mps_arena_commit_limit_set(arena_, limit);
      if (res == MPS_RES_OK) {
        limitSets.fetch_add(1);
      } else if (res == MPS_RES_FAIL) {
        limitFailures.fetch_add(1);  // committed grew past it meanwhile
      } else {
        mismatches.fetch_add(1);
      }
      mps_arena_spare_set(arena_, rng.below(2) ? 0.0 : 0.75);
      std::this_thread::yield();
    }
    EXPECT_EQ(mps_arena_commit_limit_set(arena_, SIZE_MAX), MPS_RES_OK);
  });

  std::vector<Outcome> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id)
    threads.emplace_back([&, id] {
      work(id, seed, {{shared, 0}, {fixed, 64}, {own[id], 24}}, 20000, registry_, outcomes[id]);
    });
  for (std::thread& t : threads)
    t.join();
  done.store(true, std::memory_order_release);
  controller.join();
  for (mps_pool_t pool : own) {
    expectMFSBalanced(pool, 24, 4 * KiB);
    mps_pool_destroy(pool);
  }

  long commitLimitFailures = 0;
  for (const Outcome& o : outcomes)
    commitLimitFailures += o.commitLimitFailures;
  std::printf("[ counts   ] %ld limits set, %ld refused, %ld allocations hit the limit\n",
              limitSets.load(), limitFailures.load(), commitLimitFailures);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(limitSets.load(), 0);
  for (int id = 0; id < kThreads; ++id) {
    EXPECT_EQ(outcomes[id].corrupted, 0);
    EXPECT_EQ(outcomes[id].handedOutTwice, 0);
    EXPECT_EQ(outcomes[id].otherFailures, 0);
    EXPECT_EQ(outcomes[id].allocs, outcomes[id].frees);
  }
  EXPECT_EQ(registry_.size(), 0u);
  EXPECT_EQ(mps_arena_commit_limit(arena_), SIZE_MAX);
  expectMFSBalanced(fixed, 64, 8 * KiB);
  EXPECT_EQ(mps_pool_free_size(shared), mps_pool_total_size(shared));
  mps_pool_destroy(shared);
  mps_pool_destroy(fixed);
  // With no spare kept, everything the pools took is back.
  mps_arena_spare_set(arena_, 0.0);
  EXPECT_LE(mps_arena_committed(arena_), baseline + 64 * KiB);
}

// mps_arena_destroy called while another thread is inside an entry (here
// mps_arena_extend, held inside by its extension callback): destroy must wait
// for the entry to finish before tearing the arena down. Under TSan this also
// checks that the lock's plain-store release publishes the entry's writes.
std::atomic<int> gInsideExtend{0};
std::atomic<bool> gContractedWhileInside{false};

void slowExtended(mps_arena_t, void*, size_t) {
  gInsideExtend.store(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  gInsideExtend.store(2);
}

void checkContracted(mps_arena_t, void*, size_t) {
  if (gInsideExtend.load() == 1) gContractedWhileInside.store(true);
}

TEST(ThreadsDestroy, DestroyWaitsForAnEntryInProgress) {
  static std::byte first[1 << 20], second[1 << 20];
  for (int round = 0; round < 5; ++round) {
    gInsideExtend.store(0);
    mps_arena_t arena = nullptr;
    mps_arg_s args[5];
    args[0].key = MPS_KEY_ARENA_CL_BASE;
    args[0].val.addr = first;
    args[1].key = MPS_KEY_ARENA_SIZE;
    args[1].val.size = sizeof first;
    args[2].key = MPS_KEY_ARENA_CONTRACTED;
    args[2].val.fun = reinterpret_cast<mps_fun_t>(checkContracted);
    args[3].key = MPS_KEY_ARENA_EXTENDED;
    args[3].val.fun = reinterpret_cast<mps_fun_t>(slowExtended);
    args[4].key = MPS_KEY_ARGS_END;
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_cl(), args), MPS_RES_OK);
    gInsideExtend.store(0);  // creation reported the first block
    std::thread other([&] {
      mps_res_t res = mps_arena_extend(arena, second, sizeof second);
      EXPECT_EQ(res, MPS_RES_OK);
    });
    while (gInsideExtend.load() == 0)
      std::this_thread::yield();
    mps_arena_destroy(arena);
    other.join();
    EXPECT_FALSE(gContractedWhileInside.load());
  }
}

}  // namespace
