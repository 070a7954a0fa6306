// Incremental collection under a busy mutator (issue 11): collections start
// from allocation (chain capacity, at fills of the allocation point) and
// advance by increments at later fills; between increments the mutator
// loads through the heap (checking every object it passes against the
// model), stores young and old references into objects the collector may
// already have scanned, and replaces subtrees. After every collection (its
// GC message) and at the end the whole reachable graph is verified against
// the model. Over AMC and AMS, one and two marking workers, and pause times
// of 0, 1 ms and 100 ms; with the shorter ones some collections must have
// paused more than once (the test exercised increments).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ostream>
#include <tuple>

#include "incremental_heap.hpp"

namespace mps::test {
namespace {

using StressParam = std::tuple<PoolKind, unsigned, double>;

class IncrementalStress : public ::testing::TestWithParam<StressParam> {};

TEST_P(IncrementalStress, HeapMatchesModelAfterEveryCollection) {
  auto [kind, workers, pause] = GetParam();
  IncConfig config;
  config.kind = kind;
  config.workers = workers;
  config.pauseTime = pause;
  // A 256 KiB nursery: a collection every few thousand objects.
  IncHeap heap(config, {256, 0.8}, {2048, 0.5}, __builtin_frame_address(0));
  ASSERT_TRUE(heap.ok());
  uint64_t seed = testSeed(0x1c0ffee + uint64_t(kind == PoolKind::amc) * 100 + workers * 10 +
                           uint64_t(pause * 1000));
  Rng rng(seed);

  // Increments of pause time 0 are short and the mutator runs between
  // them: such collections take longer, and the test sees fewer of them.
  size_t minCollections = pause == 0 ? 3 : pause < 0.01 ? 6 : 20;
  auto start = std::chrono::steady_clock::now();
  size_t ops = runMutator(heap, rng, 60000, minCollections, 8.0);
  double mutatorSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(heap.failures(), 0u) << "after " << ops << " operations (seed " << seed << ")";

  // The end: a full collection finishes whatever is in progress.
  start = std::chrono::steady_clock::now();
  ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  double collectSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(collecting(heap.arena));
  EXPECT_GT(heap.drain(), 0u) << "mps_arena_collect posted no GC message";
  size_t live = heap.verify("after mps_arena_collect");
  EXPECT_EQ(heap.failures(), 0u);
  EXPECT_GT(live, 0u);

  size_t incremental = heap.incrementalCollections();
  size_t pauses = 0;
  double pauseTotal = 0, pauseMax = 0;
  for (const GcRecord& r : heap.gcs) {
    pauses += r.pauses;
    pauseTotal += r.pauseTotal;
    pauseMax = std::max(pauseMax, r.pauseMax);
  }
  std::printf(
      "[ stats    ] %zu ops, %zu collections (%zu with more than one pause, %zu pauses), "
      "%zu faults, %zu verifications, %zu live objects at the end; %.1f s mutator, %.1f s "
      "final collection; pauses %.3f s in all, %.1f ms at most\n",
      ops, heap.gcs.size(), incremental, pauses, heap.totalFaults(), heap.verifications, live,
      mutatorSeconds, collectSeconds, pauseTotal, pauseMax * 1e3);
  // Preconditions: collections came from allocation, and were verified.
  EXPECT_GE(heap.gcs.size(), minCollections) << "too few collections in the time allowed";
  EXPECT_GE(heap.verifications, minCollections);
  for (const GcRecord& r : heap.gcs)
    EXPECT_GE(r.pauses, 1u) << "a collection reported no pause";
  if (pause <= 0.001) {
    EXPECT_GT(incremental, 0u) << "no collection ran in more than one increment at pause time "
                               << pause;
  }
}

std::string paramName(const ::testing::TestParamInfo<StressParam>& info) {
  auto [kind, workers, pause] = info.param;
  std::string name = kind == PoolKind::amc ? "AMC" : "AMS";
  name += "_" + std::to_string(workers) + "workers_pause";
  name += pause == 0 ? "0" : pause < 0.01 ? "1ms" : "100ms";
  return name;
}

INSTANTIATE_TEST_SUITE_P(Pools, IncrementalStress,
                         ::testing::Combine(::testing::Values(PoolKind::amc, PoolKind::ams),
                                            ::testing::Values(1u, 2u),
                                            ::testing::Values(0.0, 0.001, 0.1)),
                         paramName);

}  // namespace
}  // namespace mps::test
