// The no-barrier mode (issue 11): with MPS_KEY_ARENA_BARRIER false, or the
// environment variable MPS_BARRIER=0 (or the older MPS_WRITE_BARRIER=0) when
// the arena is created, no page is ever protected: every collection stops
// the world once (one pause), nothing faults, and the heap stays whole under
// the same mutator as the incremental stress test, at a pause time that
// would otherwise make collections incremental.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>

#include "incremental_heap.hpp"

namespace mps::test {
namespace {

// Sets an environment variable for the scope, restoring what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

enum class How { keyword, env, oldEnv };

void PrintTo(How how, std::ostream* os) {
  *os << (how == How::keyword ? "keyword" : how == How::env ? "MPS_BARRIER" : "MPS_WRITE_BARRIER");
}

using NoBarrierParam = std::tuple<PoolKind, How>;

class NoBarrier : public ::testing::TestWithParam<NoBarrierParam> {};

TEST_P(NoBarrier, EveryCollectionIsOnePauseWithoutFaults) {
  auto [kind, how] = GetParam();
  IncConfig config;
  config.kind = kind;
  config.workers = 1;
  config.pauseTime = 0.001;
  if (how == How::keyword) {
    if (!kHaveBarrierKeyword) GTEST_FAIL() << "MPS_KEY_ARENA_BARRIER is not declared in mps.h";
    config.barrier = 0;
  }
  std::optional<ScopedEnv> env;
  if (how == How::env) env.emplace("MPS_BARRIER", "0");
  if (how == How::oldEnv) env.emplace("MPS_WRITE_BARRIER", "0");
  IncHeap heap(config, {256, 0.8}, {2048, 0.5}, __builtin_frame_address(0));
  env.reset();  // read at creation only
  ASSERT_TRUE(heap.ok());
  EXPECT_FALSE(collectorOf(heap.arena)->hasBarrier());
  Rng rng(testSeed(0xba5 + uint64_t(kind == PoolKind::amc)));

  size_t ops = runMutator(heap, rng, 10000, 8, 10.0);
  ASSERT_EQ(heap.failures(), 0u);
  // A client-requested collection too (mps_arena_start_collect would be
  // incremental with the barrier): finished before it returns.
  ASSERT_EQ(mps_arena_start_collect(heap.arena), MPS_RES_OK);
  EXPECT_FALSE(collecting(heap.arena)) << "a collection was left in progress without a barrier";
  ASSERT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  EXPECT_GE(heap.drain(), 2u);
  EXPECT_GT(heap.verify("after mps_arena_collect"), 0u);
  EXPECT_EQ(heap.failures(), 0u);

  std::printf("[ stats    ] %zu ops, %zu collections\n", ops, heap.gcs.size());
  EXPECT_GE(heap.gcs.size(), 8u) << "too few collections to show anything";
  size_t n = 0;
  for (const GcRecord& r : heap.gcs) {
    EXPECT_EQ(r.pauses, 1u) << "collection " << n << " paused " << r.pauses << " times";
    EXPECT_EQ(r.faults, 0u) << "collection " << n;
    EXPECT_EQ(r.protections, 0u) << "collection " << n << ": pages were protected";
    ++n;
  }
}

std::string paramName(const ::testing::TestParamInfo<NoBarrierParam>& info) {
  auto [kind, how] = info.param;
  std::string name = kind == PoolKind::amc ? "AMC_" : "AMS_";
  return name + (how == How::keyword ? "keyword"
                 : how == How::env   ? "MPS_BARRIER"
                                     : "MPS_WRITE_BARRIER");
}

INSTANTIATE_TEST_SUITE_P(Modes, NoBarrier,
                         ::testing::Combine(::testing::Values(PoolKind::amc, PoolKind::ams),
                                            ::testing::Values(How::keyword, How::env, How::oldEnv)),
                         paramName);

// The same mutator with the barrier (the default, and the keyword true)
// makes some collections incremental: the mode above is what removes them.
TEST(NoBarrierControl, WithTheBarrierSomeCollectionsPauseMoreThanOnce) {
  for (int barrier : {-1, 1}) {
    SCOPED_TRACE(barrier < 0 ? "default" : "MPS_KEY_ARENA_BARRIER true");
    if (barrier > 0 && !kHaveBarrierKeyword)
      GTEST_FAIL() << "MPS_KEY_ARENA_BARRIER is not declared in mps.h";
    IncConfig config;
    config.kind = PoolKind::amc;
    config.pauseTime = 0.0;
    config.barrier = barrier;
    IncHeap heap(config, {256, 0.8}, {2048, 0.5}, __builtin_frame_address(0));
    ASSERT_TRUE(heap.ok());
    EXPECT_TRUE(collectorOf(heap.arena)->hasBarrier());
    Rng rng(testSeed(0xba7));
    runMutator(heap, rng, 10000, 8, 6.0);
    ASSERT_EQ(heap.failures(), 0u);
    EXPECT_GE(heap.gcs.size(), 8u);
    EXPECT_GT(heap.incrementalCollections(), 0u);
  }
}

}  // namespace
}  // namespace mps::test
