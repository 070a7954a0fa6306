// Seeded model-based stress of MVT: several allocation points on one pool,
// blocks of random sizes (a few above the large-span threshold, some of
// those freed in parts), random frees; a shadow map checks that blocks never
// overlap, are aligned, belong to the pool and keep their contents, and that
// free plus allocated bytes always equal the pool's total. Each
// configuration (keywords, optional commit limit) is drawn from the seed,
// which is printed.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>

#include "mvt_fixture.hpp"
#include "seed.hpp"

namespace mps::test {
namespace {

struct Block {
  size_t size;  // rounded to the alignment
  unsigned char fill;
};

void fillBlock(char* p, size_t size, unsigned char fill) {
  if (size <= 4096) {
    std::memset(p, fill, size);
    return;
  }
  std::memset(p, fill, 64);
  std::memset(p + size - 64, fill, 64);
  for (size_t i = 64; i < size - 64; i += 4096)
    p[i] = char(fill);
}

bool blockIntact(const char* p, size_t size, unsigned char fill) {
  auto ok = [&](size_t i) { return static_cast<unsigned char>(p[i]) == fill; };
  if (size <= 4096) {
    for (size_t i = 0; i < size; ++i)
      if (!ok(i)) return false;
    return true;
  }
  for (size_t i = 0; i < 64; ++i)
    if (!ok(i) || !ok(size - 1 - i)) return false;
  for (size_t i = 64; i < size - 64; i += 4096)
    if (!ok(i)) return false;
  return true;
}

class MVTStress : public MVTTest {
 protected:
  void run(std::uint64_t seed, int steps) {
    Rng rng(seed);
    MVTOptions o;
    o.align = size_t(8) << rng.below(4);  // 8 .. 64
    const double fragLimits[] = {0.1, 0.3, 0.6, 1.0};
    o.fragLimit = fragLimits[rng.below(4)];
    const long depths[] = {0, 16, 1024, 100000};
    o.reserveDepth = depths[rng.below(4)];
    o.minSize = o.align;
    o.meanSize = size_t(rng.between(1, 16)) * o.align;
    o.maxSize = o.meanSize * size_t(rng.between(1, 512));
    bool limited = rng.below(3) == 0;
    SCOPED_TRACE(testing::Message() << "align " << o.align << " fragLimit " << o.fragLimit
                                    << " depth " << o.reserveDepth << " mean " << o.meanSize
                                    << " max " << o.maxSize << " limited " << limited);
    mps_pool_t p = pool(o);
    ASSERT_NE(p, nullptr);
    core::MVTPool* c = coreMVT(p);
    if (limited) {
      size_t room = size_t(rng.between(512, 4096)) << 10;
      ASSERT_EQ(mps_arena_commit_limit_set(arena_, mps_arena_committed(arena_) + room), MPS_RES_OK);
    }
    const int kAps = 3;
    mps_ap_t aps[kAps];
    for (auto& a : aps)
      a = ap(p);

    std::map<char*, Block> live;
    size_t allocated = 0, failures = 0, peak = 0, partial = 0;
    unsigned char nextFill = 1;
    auto randomLive = [&] {
      auto it = live.lower_bound(live.begin()->first +
                                 rng.below(size_t(live.rbegin()->first - live.begin()->first) + 1));
      return it == live.end() ? live.begin() : it;
    };
    auto freeOne = [&](std::map<char*, Block>::iterator it) {
      ASSERT_TRUE(blockIntact(it->first, it->second.size, it->second.fill))
          << "block " << static_cast<void*>(it->first) << " size " << it->second.size;
      char* base = it->first;
      Block b = it->second;
      live.erase(it);
      // Large blocks are sometimes freed in two parts, the second half
      // first (the part inside the span is found by its search).
      if (b.size > c->largeSize() && rng.below(2) == 0) {
        size_t half = b.size / 2 / o.align * o.align;
        mps_free(p, base + half, b.size - half);
        ASSERT_TRUE(c->check());
        mps_free(p, base, half);
        ++partial;
      } else {
        mps_free(p, base, b.size);
      }
      allocated -= b.size;
    };
    for (int step = 0; step < steps; ++step) {
      if (live.empty() || (live.size() < 2000 && rng.below(100) < 55)) {
        size_t size;
        unsigned kind = unsigned(rng.below(1000));
        if (kind < 900)
          size = size_t(rng.between(1, 2 * o.meanSize));
        else if (kind < 995)
          size = size_t(rng.between(1, o.maxSize));
        else
          size = size_t(rng.between(1, 400000));
        size = (size + o.align - 1) / o.align * o.align;
        mps_ap_t a = aps[rng.below(kAps)];
        mps_addr_t q;
        mps_res_t res = mps_reserve(&q, a, size);
        if (res != MPS_RES_OK) {
          ASSERT_TRUE(limited) << "only a commit limit makes allocation fail";
          ASSERT_EQ(res, MPS_RES_COMMIT_LIMIT);
          ++failures;
          for (int i = 0; i < 30 && !live.empty(); ++i)
            freeOne(randomLive());
          continue;
        }
        // Partly initialised: the pool never reads the block.
        static_cast<char*>(q)[0] = 0;
        ASSERT_TRUE(mps_commit(a, q, size));
        char* b = static_cast<char*>(q);
        ASSERT_EQ(reinterpret_cast<std::uintptr_t>(b) % o.align, 0u);
        mps_pool_t owner;
        ASSERT_TRUE(mps_addr_pool(&owner, arena_, b + size - 1));
        ASSERT_EQ(owner, p);
        auto next = live.lower_bound(b);
        if (next != live.end()) {
          ASSERT_LE(b + size, next->first);
        }
        if (next != live.begin()) {
          auto prev = std::prev(next);
          ASSERT_LE(prev->first + prev->second.size, b);
        }
        unsigned char fill = nextFill++;
        if (nextFill == 0) nextFill = 1;
        fillBlock(b, size, fill);
        live.emplace(b, Block{size, fill});
        allocated += size;
      } else {
        freeOne(randomLive());
      }
      ASSERT_EQ(mps_pool_free_size(p) + allocated, mps_pool_total_size(p));
      peak = std::max(peak, mps_pool_total_size(p));
      if (step % 1000 == 0) {
        ASSERT_TRUE(c->checkSpans());
      }
      // Now and then an allocation point goes and another comes.
      if (rng.below(300) == 0) {
        mps_ap_t& a = aps[rng.below(kAps)];
        destroyAp(a);
        a = ap(p);
      }
    }
    std::printf(
        "[ config   ] align %zu frag %.1f depth %ld mean %zu max %zu%s: peak %zu KiB, %zu "
        "spans taken, %zu fills, %zu failed, %zu freed in parts\n",
        o.align, o.fragLimit, o.reserveDepth, o.meanSize, o.maxSize, limited ? " limited" : "",
        peak >> 10, c->spansTaken(), c->fills(), failures, partial);
    while (!live.empty())
      freeOne(live.begin());
    for (auto& a : aps)
      destroyAp(a);
    EXPECT_EQ(mps_pool_free_size(p), mps_pool_total_size(p));
    // Only the reserve is left, and it stops growing once it reaches its
    // limit.
    size_t total = mps_pool_total_size(p);
    EXPECT_EQ(c->reserveSize(), total);
    EXPECT_TRUE(total == 0 || total - c->spanSize() < c->reserveLimit());
    EXPECT_TRUE(c->checkSpans());
    destroyPool(p);
    ASSERT_EQ(mps_arena_commit_limit_set(arena_, ~size_t(0)), MPS_RES_OK);
  }
};

TEST_F(MVTStress, RandomConfigurationsKeepTheModel) {
  std::uint64_t seed = testSeed(0x3F75EED);
  Rng seeds(seed);
  for (int config = 0; config < 10; ++config) {
    std::uint64_t s = seeds.next();
    SCOPED_TRACE(testing::Message() << "configuration " << config << " (seed " << s << ")");
    run(s, 15000);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace mps::test
