// The C demo's exact MMU (examples/mmu.h): hand-worked cases, and agreement
// with the converter's minimumMutatorUtilisation (tools/mps-events), which
// mps_gc_bench uses, on random pauses.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "analysis.hpp"
#include "mmu.h"

namespace {

double cMmu(const std::vector<mmu_interval_s>& p, double s, double e, double w) {
  return mmu(p.data(), p.size(), s, e, w);
}

TEST(MmuC, HandWorkedCases) {
  // A run of 10 s with one pause [2, 3).
  std::vector<mmu_interval_s> one{{2, 3}};
  EXPECT_DOUBLE_EQ(cMmu(one, 0, 10, 0.5), 0.0);  // a window inside the pause
  EXPECT_DOUBLE_EQ(cMmu(one, 0, 10, 1), 0.0);    // the pause exactly
  EXPECT_DOUBLE_EQ(cMmu(one, 0, 10, 2), 0.5);    // half of it paused at worst
  EXPECT_DOUBLE_EQ(cMmu(one, 0, 10, 4), 0.75);
  EXPECT_DOUBLE_EQ(cMmu(one, 0, 10, 10), 0.9);  // the whole run
  EXPECT_DOUBLE_EQ(cMmu(one, 0, 10, 20), 0.9);  // longer than the run: the run
  // Two pauses [1, 2) and [3, 4): a 3 s window [1, 4) holds both.
  std::vector<mmu_interval_s> two{{1, 2}, {3, 4}};
  EXPECT_DOUBLE_EQ(cMmu(two, 0, 10, 3), 1.0 / 3);
  EXPECT_DOUBLE_EQ(cMmu(two, 0, 10, 2), 0.5);
  EXPECT_DOUBLE_EQ(cMmu(two, 0, 10, 5), 0.6);
  // A pause at the start of the run: windows do not reach before it.
  std::vector<mmu_interval_s> first{{0, 1}};
  EXPECT_DOUBLE_EQ(cMmu(first, 0, 4, 2), 0.5);
  // No pauses; no window.
  EXPECT_DOUBLE_EQ(cMmu({}, 0, 10, 1), 1.0);
  EXPECT_DOUBLE_EQ(cMmu(one, 0, 10, 0), 1.0);
}

TEST(MmuC, AgreesWithTheConverter) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> gap(0, 0.02), length(0, 0.005);
  for (int run = 0; run < 200; ++run) {
    std::vector<mmu_interval_s> c;
    std::vector<mps::events::Interval> cpp;
    double t = gap(rng);
    int n = int(rng() % 40);
    for (int i = 0; i < n; ++i) {
      double s = t, e = t + length(rng);
      c.push_back({s, e});
      cpp.push_back({s, e});
      t = e + gap(rng);
    }
    double end = t + gap(rng);
    for (double w : {1e-3, 1e-2, 1e-1, 1.0})
      EXPECT_NEAR(cMmu(c, 0, end, w), mps::events::minimumMutatorUtilisation(cpp, 0, end, w), 1e-12)
          << "run " << run << " window " << w;
  }
}

}  // namespace
