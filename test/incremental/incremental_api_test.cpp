// The entry points that drive incremental collections (issue 11):
// mps_arena_step with a zero and a large interval while a collection is in
// progress, and with none in progress; mps_arena_start_collect followed by
// mps_arena_park or mps_arena_collect; allocation ramps during an
// incremental collection and the full collection after a collect-all ramp
// (what test/gc/walk_test.cpp's AllocPatterns tests do not cover); and a
// SIGSEGV outside every arena's protected segments, which must reach the
// handler the client installed before creating the arena.
#include <gtest/gtest.h>

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>

#include "incremental_heap.hpp"

namespace mps::test {
namespace {

constexpr size_t kLists = 48;
constexpr size_t kListLength = 1500;  // about 72000 objects of 32 bytes: 2.3 MB live

// A heap whose collections start only when asked (a nursery far larger than
// what the tests allocate), with pause time 0 unless told otherwise, and
// kLists lists of kListLength objects, promoted by one full collection.
class IncrementalApi : public ::testing::Test {
 protected:
  void make(double pause = 0.0, PoolKind kind = PoolKind::amc,
            mps_gen_param_s nursery = {size_t(256) << 10, 0.8}) {
    IncConfig config;
    config.kind = kind;
    config.workers = 1;
    // Built parked (collections of a small nursery at pause time 0 would
    // make building slow); the pause time is the test's from then on.
    config.pauseTime = 0.1;
    heap = std::make_unique<IncHeap>(config, nursery, mps_gen_param_s{size_t(512) << 10, 0.5},
                                     __builtin_frame_address(0));
    ASSERT_TRUE(heap->ok());
    rng = std::make_unique<Rng>(testSeed(0xa91));
    mps_arena_park(heap->arena);
    for (size_t s = 0; s < kLists; ++s)
      ASSERT_TRUE(heap->makeList(s, kListLength));
    ASSERT_EQ(mps_arena_collect(heap->arena), MPS_RES_OK);
    mps_arena_pause_time_set(heap->arena, pause);
    ASSERT_GT(heap->drain(), 0u);
    ASSERT_GE(heap->verify("after building the heap"), kLists * kListLength);
    heap->gcs.clear();
    heap->starts.clear();
    mps_arena_release(heap->arena);  // mps_arena_collect left it parked
  }
  void TearDown() override { heap.reset(); }

  // Starts a full collection; fails the test unless it is still in progress
  // after its first increment (the precondition of the tests below).
  void startCollection() {
    ASSERT_EQ(mps_arena_start_collect(heap->arena), MPS_RES_OK);
    ASSERT_TRUE(collecting(heap->arena))
        << "a full collection of " << kLists * kListLength
        << " objects finished in its first increment at pause time 0";
  }
  // A few mutator operations between increments (no collection starts from
  // them: the nursery is large).
  void mutate(int ops) {
    for (int i = 0; i < ops; ++i)
      heap->step(*rng);
    ASSERT_EQ(heap->failures(), 0u);
  }
  mps_word_t collections() const { return mps_collections(heap->arena); }

  std::unique_ptr<IncHeap> heap;
  std::unique_ptr<Rng> rng;
};

// mps_arena_step ---------------------------------------------------------------------

TEST_F(IncrementalApi, StepWithZeroIntervalAdvancesTheCollectionInProgress) {
  ASSERT_NO_FATAL_FAILURE(make());
  ASSERT_NO_FATAL_FAILURE(startCollection());
  size_t steps = 0;
  while (collecting(heap->arena) && steps < 1000000) {
    EXPECT_TRUE(mps_arena_step(heap->arena, 0.0, 1.0)) << "a collection is in progress";
    ++steps;
    if (steps % 16 == 0) mutate(1);
  }
  EXPECT_FALSE(collecting(heap->arena)) << "steps of interval 0 never finished the collection";
  EXPECT_GT(steps, 0u);
  ASSERT_EQ(heap->drain(), 1u);
  EXPECT_GT(heap->gcs[0].pauses, 1u);
  EXPECT_GT(heap->verify("after stepping"), 0u);
  EXPECT_EQ(heap->failures(), 0u);
}

TEST_F(IncrementalApi, StepWithLargeIntervalFinishesTheCollectionInProgress) {
  ASSERT_NO_FATAL_FAILURE(make());
  ASSERT_NO_FATAL_FAILURE(startCollection());
  mutate(20);
  EXPECT_TRUE(mps_arena_step(heap->arena, 30.0, 1.0));
  EXPECT_FALSE(collecting(heap->arena));
  EXPECT_GE(heap->drain(), 1u);
  EXPECT_GT(heap->verify("after a long step"), 0u);
  EXPECT_EQ(heap->failures(), 0u);
}

TEST_F(IncrementalApi, StepWithNothingInProgressStartsAFullCollectionOnlyIfItFits) {
  ASSERT_NO_FATAL_FAILURE(make());
  ASSERT_FALSE(collecting(heap->arena));
  // Something allocated since the last collection (else there is nothing a
  // collection could reclaim): a few fills' worth.
  for (int i = 0; i < 5000; ++i)
    ASSERT_NE(heap->alloc(2), nullptr);
  ASSERT_FALSE(collecting(heap->arena));
  mps_word_t before = collections();
  // No time at all: nothing fits.
  EXPECT_FALSE(mps_arena_step(heap->arena, 0.0, 0.0));
  EXPECT_EQ(collections(), before);
  EXPECT_FALSE(collecting(heap->arena));
  EXPECT_EQ(heap->drain(), 0u);
  // A minute fits a collection of a few megabytes.
  EXPECT_TRUE(mps_arena_step(heap->arena, 60.0, 1.0));
  mps_arena_park(heap->arena);
  EXPECT_GT(collections(), before);
  EXPECT_GE(heap->drain(), 1u);
  mps_arena_release(heap->arena);
  EXPECT_GT(heap->verify("after a step"), 0u);
  EXPECT_EQ(heap->failures(), 0u);
}

// mps_arena_start_collect, then park or collect ----------------------------------------

TEST_F(IncrementalApi, StartCollectThenParkFinishesIt) {
  ASSERT_NO_FATAL_FAILURE(make());
  mps_word_t before = collections();
  ASSERT_NO_FATAL_FAILURE(startCollection());
  mutate(50);  // between increments: loads, stores, new objects (black)
  mps_arena_park(heap->arena);
  EXPECT_FALSE(collecting(heap->arena));
  EXPECT_TRUE(collectorOf(heap->arena)->isClamped());
  EXPECT_GT(collections(), before);
  ASSERT_GE(heap->drain(), 1u) << "the GC message of the parked collection has not arrived";
  EXPECT_GT(heap->gcs.back().pauses, 1u);
  EXPECT_GT(heap->verify("after park"), 0u);
  // Parked: allocation starts nothing, even past the nursery's capacity.
  mps_word_t parked = collections();
  for (int i = 0; i < 20000; ++i)
    ASSERT_NE(heap->alloc(2), nullptr);
  EXPECT_EQ(collections(), parked);
  EXPECT_FALSE(collecting(heap->arena));
  mps_arena_release(heap->arena);
  EXPECT_FALSE(collectorOf(heap->arena)->isClamped());
  EXPECT_EQ(heap->failures(), 0u);
}

TEST_F(IncrementalApi, CollectWhileOneIsInProgress) {
  ASSERT_NO_FATAL_FAILURE(make());
  mps_word_t before = collections();
  ASSERT_NO_FATAL_FAILURE(startCollection());
  mutate(50);
  ASSERT_EQ(mps_arena_collect(heap->arena), MPS_RES_OK);
  EXPECT_FALSE(collecting(heap->arena));
  EXPECT_TRUE(collectorOf(heap->arena)->isParked());
  EXPECT_GT(collections(), before);
  ASSERT_GE(heap->drain(), 1u);
  EXPECT_GT(heap->verify("after mps_arena_collect"), 0u);
  // And the arena goes on: allocation, another collection.
  mutate(200);
  ASSERT_EQ(mps_arena_collect(heap->arena), MPS_RES_OK);
  EXPECT_GE(heap->drain(), 1u);
  EXPECT_GT(heap->verify("after a second mps_arena_collect"), 0u);
  EXPECT_EQ(heap->failures(), 0u);
}

// Objects allocated while a collection is in progress are black: that
// collection keeps them even if nothing refers to them; the next one
// reclaims them (all but any a stale stack word may pin).
TEST_F(IncrementalApi, ObjectsAllocatedDuringACollectionSurviveIt) {
  ASSERT_NO_FATAL_FAILURE(make(0.0, PoolKind::ams));
  ASSERT_NO_FATAL_FAILURE(startCollection());
  constexpr mps_word_t kFirst = mps_word_t(1) << 40;
  constexpr mps_word_t kCount = 3000;
  // Unreachable as soon as allocated; fills may advance the collection.
  size_t during = 0;
  for (mps_word_t i = 0; i < kCount; ++i) {
    bool inProgress = collecting(heap->arena);
    ASSERT_NE(allocObject(heap->ap(), kFirst + i, 1), nullptr);
    during += inProgress;
  }
  ASSERT_GE(during, kCount / 4) << "the collection finished before most of the allocations";
  auto unrooted = [&] {
    size_t n = 0;
    for (mps_word_t id : walkIds(heap->arena))
      n += id >= kFirst && id < kFirst + kCount;
    return n;
  };
  mps_arena_park(heap->arena);
  ASSERT_GE(heap->drain(), 1u);
  EXPECT_EQ(unrooted(), kCount) << "the collection in progress reclaimed objects allocated black";
  ASSERT_EQ(mps_arena_collect(heap->arena), MPS_RES_OK);
  EXPECT_LE(unrooted(), 2u) << "the next collection kept unreachable objects";
  EXPECT_GT(heap->verify("at the end"), 0u);
  mps_arena_release(heap->arena);
  EXPECT_EQ(heap->failures(), 0u);
}

// A collection started from allocation (the nursery over capacity), in
// progress when the client asks for a full collection.
TEST_F(IncrementalApi, CollectWhileACollectionStartedByAllocationIsInProgress) {
  ASSERT_NO_FATAL_FAILURE((make(0.0, PoolKind::amc, {1024, 0.8})));
  // The nursery filled past its capacity with objects that all survive,
  // parked (so that no collection starts in between); released, the next
  // poll starts its collection, which has more than a megabyte to copy:
  // more than its first increment does at pause time 0.
  mps_arena_park(heap->arena);
  for (size_t i = 0; i < 40000; ++i)
    ASSERT_TRUE(heap->makeList(kLists + i % 8, 1));
  mps_arena_release(heap->arena);
  bool inProgress = collecting(heap->arena);
  for (int i = 0; i < 4096 && !inProgress; ++i) {
    ASSERT_TRUE(heap->makeList(kLists + size_t(i) % 8, 1));
    inProgress = collecting(heap->arena);
  }
  ASSERT_TRUE(inProgress) << "allocation never left a collection in progress";
  ASSERT_EQ(mps_arena_collect(heap->arena), MPS_RES_OK);
  EXPECT_FALSE(collecting(heap->arena));
  EXPECT_GE(heap->drain(), 1u);
  EXPECT_GT(heap->verify("after mps_arena_collect"), 0u);
  EXPECT_EQ(heap->failures(), 0u);
}

// Ramps --------------------------------------------------------------------------------

bool mentionsRamp(const std::string& why) {
  std::string lower(why);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return lower.find("ramp") != std::string::npos;
}

// A ramp opened while an incremental collection is in progress, a lot
// allocated in it (kept alive), closed: the collection in progress finishes
// and the heap is whole.
TEST_F(IncrementalApi, RampDuringAnIncrementalCollection) {
  ASSERT_NO_FATAL_FAILURE(make());
  ASSERT_NO_FATAL_FAILURE(startCollection());
  ASSERT_EQ(mps_ap_alloc_pattern_begin(heap->ap(), mps_alloc_pattern_ramp()), MPS_RES_OK);
  for (size_t s = 0; s < 8; ++s)
    ASSERT_TRUE(heap->makeList(kLists + s, 4000));
  mutate(500);
  ASSERT_EQ(mps_ap_alloc_pattern_end(heap->ap(), mps_alloc_pattern_ramp()), MPS_RES_OK);
  mps_arena_park(heap->arena);
  EXPECT_FALSE(collecting(heap->arena));
  ASSERT_GE(heap->drain(), 1u);
  EXPECT_GT(heap->gcs.front().pauses, 1u);
  // (The mutator's operations replace some of the lists.)
  EXPECT_GT(heap->verify("after the ramp"), 0u);
  mps_arena_release(heap->arena);
  EXPECT_EQ(heap->failures(), 0u);
}

// After a collect-all ramp ends, a full collection follows: its GC start
// message gives the ramp as the reason, and it condemns the whole heap.
TEST_F(IncrementalApi, CollectAllRampEndsWithAFullCollection) {
  ASSERT_NO_FATAL_FAILURE((make(0.1, PoolKind::amc, {64, 0.8})));
  ASSERT_EQ(mps_ap_alloc_pattern_begin(heap->ap(), mps_alloc_pattern_ramp_collect_all()),
            MPS_RES_OK);
  for (size_t s = 0; s < 8; ++s)
    ASSERT_TRUE(heap->makeList(kLists + s, 4000));
  ASSERT_EQ(mps_ap_alloc_pattern_end(heap->ap(), mps_alloc_pattern_ramp_collect_all()), MPS_RES_OK);
  // The full collection runs now, or starts at a later fill and advances by
  // increments: allocate until its start message has arrived.
  auto sawRamp = [&] {
    return std::any_of(heap->starts.begin(), heap->starts.end(), mentionsRamp);
  };
  heap->drain();
  for (int i = 0; i < 100000 && !sawRamp(); ++i) {
    ASSERT_NE(heap->alloc(2), nullptr);
    heap->drain();
  }
  mps_arena_park(heap->arena);
  heap->drain();
  std::printf("[ stats    ] %zu collections after the ramp\n", heap->gcs.size());
  for (const std::string& why : heap->starts)
    std::printf("[ start    ] %s\n", why.c_str());
  EXPECT_TRUE(sawRamp()) << "no collection started for the end of the collect-all ramp";
  // One of the collections condemned at least the whole live heap.
  size_t liveBytes = (kLists * kListLength + 8 * 4000) * objectSize(2);
  size_t maxCondemned = 0;
  for (const GcRecord& r : heap->gcs)
    maxCondemned = std::max(maxCondemned, r.condemned);
  EXPECT_GE(maxCondemned, liveBytes);
  EXPECT_GE(heap->verify("after the collect-all ramp"), kLists * kListLength + 8 * 4000);
  mps_arena_release(heap->arena);
  EXPECT_EQ(heap->failures(), 0u);
}
// .trace.pacing.thrash: a mutator that does nothing but walk the heap
// during a collection at pause time 0 meets grey segment after grey
// segment with hardly any work in between. Each such hit marks for twice
// as long as the one before, so the collection ends after a few dozen
// hits, not one per 50 us increment of all the marking there is.
TEST_F(IncrementalApi, AMutatorWalkingGreyObjectsEndsTheCollectionInFewHits) {
  ASSERT_NO_FATAL_FAILURE(make());
  ASSERT_NO_FATAL_FAILURE(startCollection());
  size_t walks = 0;
  while (collecting(heap->arena) && walks < 1000) {
    ASSERT_GT(heap->verify("walking the heap during a collection"), 0u);
    ++walks;
  }
  EXPECT_FALSE(collecting(heap->arena))
      << "a thousand walks of the heap did not end the collection";
  ASSERT_EQ(heap->drain(), 1u);
  const GcRecord& gc = heap->gcs[0];
  std::printf("walks %zu, barrier faults %zu, pauses %zu, longest %.3f ms, in all %.3f ms\n", walks,
              size_t(gc.faults), size_t(gc.pauses), gc.pauseMax * 1e3, gc.pauseTotal * 1e3);
  EXPECT_LE(gc.faults, 40u);
  EXPECT_EQ(heap->failures(), 0u);
}

// A foreign SIGSEGV ----------------------------------------------------------------------

sigjmp_buf segvJump;
volatile sig_atomic_t segvCount = 0;
void* volatile segvAddr = nullptr;

extern "C" void clientSegvHandler(int sig, siginfo_t* info, void*) {
  if (sig == SIGSEGV) {
    segvCount = segvCount + 1;
    segvAddr = info->si_addr;
  }
  siglongjmp(segvJump, 1);
}

// Touches `p` (a read, or a write); true if the client's handler caught it.
bool touchCaught(volatile char* p, bool write) {
  if (sigsetjmp(segvJump, 1) == 0) {
    if (write)
      *p = 1;
    else
      (void)*p;
    return false;
  }
  return true;
}

// The scenario runs in a child process of its own (a death test in the
// threadsafe style re-executes the binary for this test alone): the client's
// handler must be installed before any arena of the process installs the
// barrier's, which earlier tests in the same process would have done. It
// reports what failed on stderr and exits with 0 only if all went well.
class ForeignSegvScenario : public IncrementalApi {
 public:
  void TestBody() override {}
  int run() {
    struct sigaction sa = {}, saved = {};
    sa.sa_sigaction = clientSegvHandler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &saved) != 0) return report("sigaction failed");
    size_t pageSize = size_t(sysconf(_SC_PAGESIZE));
    page_ =
        static_cast<char*>(mmap(nullptr, pageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (page_ == MAP_FAILED) return report("mmap failed");

    make();  // after the client's handler: the arena chains to it
    if (::testing::Test::HasFatalFailure()) return report("could not make the heap");
    if (!caught("no collection in progress")) return 1;
    if (mps_arena_start_collect(heap->arena) != MPS_RES_OK) return report("start_collect failed");
    if (!collecting(heap->arena))
      return report("the collection finished in its first increment at pause time 0");
    // Grey segments are protected now.
    if (!caught("a collection in progress")) return 1;
    // The arena's own faults do not reach the client's handler.
    int count = int(segvCount);
    for (int i = 0; i < 200; ++i)
      heap->step(*rng);
    if (heap->verify("during the collection") == 0) return report("heap damaged");
    if (int(segvCount) != count) return report("a barrier fault reached the client's handler");
    while (mps_arena_step(heap->arena, 0.001, 1.0) && collecting(heap->arena)) {
    }
    if (mps_arena_collect(heap->arena) != MPS_RES_OK) return report("collect failed");
    mps_arena_release(heap->arena);
    if (heap->drain() == 0) return report("no GC message");
    if (heap->totalFaults() == 0) return report("the heap accesses never hit the barrier");
    if (!caught("after collections")) return 1;
    for (int i = 0; i < 500; ++i)
      heap->step(*rng);
    if (mps_arena_collect(heap->arena) != MPS_RES_OK) return report("collect failed");
    heap->drain();
    if (heap->verify("at the end") == 0 || heap->failures() != 0) return report("heap damaged");
    if (int(segvCount) != count + 2) return report("the client's handler ran unexpectedly");
    heap.reset();
    if (!caught("after the arena is destroyed")) return 1;
    munmap(page_, pageSize);
    sigaction(SIGSEGV, &saved, nullptr);
    return 0;
  }

 private:
  static int report(const char* what) {
    std::fprintf(stderr, "foreign SIGSEGV: %s\n", what);
    return 1;
  }
  // The client's handler runs for a read and a write of the page, with the
  // page's address.
  bool caught(const char* when) {
    for (bool write : {false, true}) {
      int count = int(segvCount);
      segvAddr = nullptr;
      bool jumped = touchCaught(page_ + 8, write);
      void* addr = segvAddr;
      if (!jumped || int(segvCount) != count + 1 || addr != page_ + 8) {
        std::fprintf(stderr, "foreign SIGSEGV (%s, %s): the client's handler %s\n", when,
                     write ? "write" : "read",
                     !jumped ? "did not run" : "ran with the wrong address");
        return false;
      }
    }
    return true;
  }
  char* page_ = nullptr;
};

TEST(ForeignSegv, ReachesTheClientsHandlerAndTheArenaGoesOn) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ForeignSegvScenario scenario;
        int status = scenario.run();
        std::fflush(nullptr);
        _exit(status);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace mps::test
