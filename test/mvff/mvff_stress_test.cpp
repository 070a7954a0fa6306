// Seeded model-based stress of MVFF: a shadow map of live blocks checks that
// blocks never overlap, are aligned, keep their contents, and that free plus
// allocated bytes always equal the pool's total. Each configuration (keyword
// combination, optional commit limit) is drawn from the seed, which is printed.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "mvff_fixture.hpp"
#include "seed.hpp"

namespace mps::test {
namespace {

struct Block {
  Size size;     // as requested
  Size rounded;  // as the pool counts it
  unsigned char fill;
};

// Sizes mostly small, some medium, a few bigger than the extend-by size.
Size randomSize(Rng& rng) {
  unsigned kind = unsigned(rng.below(100));
  if (kind < 80) return Size(rng.between(1, 512));
  if (kind < 97) return Size(rng.between(513, 16384));
  return Size(rng.between(16385, 300000));
}

void fillBlock(Addr p, Size size, unsigned char fill) {
  // Every byte of small blocks; for big ones the ends and a stride.
  if (size <= 4096) {
    std::memset(p, fill, size);
    return;
  }
  std::memset(p, fill, 64);
  std::memset(p + size - 64, fill, 64);
  for (Size i = 64; i < size - 64; i += 4096)
    p[i] = std::byte(fill);
}

bool blockIntact(Addr p, Size size, unsigned char fill) {
  auto ok = [&](Size i) { return p[i] == std::byte(fill); };
  if (size <= 4096) {
    for (Size i = 0; i < size; ++i)
      if (!ok(i)) return false;
    return true;
  }
  for (Size i = 0; i < 64; ++i)
    if (!ok(i) || !ok(size - 1 - i)) return false;
  for (Size i = 64; i < size - 64; i += 4096)
    if (!ok(i)) return false;
  return true;
}

class MVFFStress : public MVFFTest {
 protected:
  void run(std::uint64_t seed, int steps) {
    Rng rng(seed);
    Size align = Size(8) << rng.below(6);  // 8 .. 256
    const double spares[] = {0.0, 0.25, 0.75, 1.0};
    double spare = spares[rng.below(4)];
    bool slotHigh = rng.below(2) != 0, arenaHigh = rng.below(2) != 0, firstFit = rng.below(2) != 0;
    Size extendBy = Size(rng.between(1, 32)) * 4096;
    bool limited = rng.below(3) == 0;
    SCOPED_TRACE(testing::Message()
                 << "align " << align << " spare " << spare << " slotHigh " << slotHigh
                 << " arenaHigh " << arenaHigh << " firstFit " << firstFit << " extendBy "
                 << extendBy << " limited " << limited);
    MVFFPool* p = pool(Args()
                           .align(MPS_KEY_ALIGN, align)
                           .real(MPS_KEY_SPARE, spare)
                           .size(MPS_KEY_EXTEND_BY, extendBy)
                           .boolean(MPS_KEY_MVFF_SLOT_HIGH, slotHigh)
                           .boolean(MPS_KEY_MVFF_ARENA_HIGH, arenaHigh)
                           .boolean(MPS_KEY_MVFF_FIRST_FIT, firstFit));
    ASSERT_NE(p, nullptr);
    if (limited) {
      // Tight enough that allocation fails often and the bookkeeping runs
      // short of nodes (the fallback list).
      Size room = Size(rng.between(256, 2048)) << 10;
      ASSERT_EQ(arena()->setCommitLimit(arena()->committed() + room), Res::ok);
    }

    std::map<Addr, Block> live;
    Size allocated = 0;
    Size failures = 0, maxFallback = 0, maxTotal = 0, maxQuick = 0;
    unsigned char nextFill = 1;
    // A live block chosen by a random address between the lowest and the
    // highest, so that frees spread over the whole heap.
    auto randomLive = [&] {
      Word lo = core::wordOf(live.begin()->first), hi = core::wordOf(live.rbegin()->first);
      return live.lower_bound(core::addrOf(lo + rng.below(hi - lo + 1)));
    };
    auto freeOne = [&](std::map<Addr, Block>::iterator it) {
      ASSERT_TRUE(blockIntact(it->first, it->second.size, it->second.fill))
          << "block " << static_cast<void*>(it->first) << " size " << it->second.size;
      p->free(it->first, it->second.size);
      allocated -= it->second.rounded;
      live.erase(it);
    };
    for (int step = 0; step < steps; ++step) {
      bool doAlloc = live.empty() || (live.size() < 1500 && rng.below(100) < 55);
      if (doAlloc) {
        Size size = randomSize(rng);
        Addr a;
        Res res = p->alloc(&a, size);
        if (res != Res::ok) {
          ASSERT_TRUE(limited) << "only a commit limit makes allocation fail";
          ASSERT_EQ(res, Res::commitLimit);
          ++failures;
          // Free some and carry on: sometimes (MMQA 136's shape) fill the
          // last grains with small blocks and free every other block, many
          // isolated frees while memory is exhausted, so the bookkeeping
          // runs out of nodes; else free a few at random.
          if (rng.below(3) == 0) {
            for (;;) {
              Size small = Size(rng.between(1, 128));
              if (p->alloc(&a, small) != Res::ok) break;
              Size r = core::alignUp(small, align);
              live.emplace(a, Block{small, r, 0});
              fillBlock(a, small, 0);
              allocated += r;
            }
            for (auto it = live.begin(); it != live.end() && std::next(it) != live.end();) {
              auto victim = it++;
              ++it;
              freeOne(victim);
            }
          } else {
            for (int i = 0; i < 20 && !live.empty(); ++i)
              freeOne(randomLive());
          }
          continue;
        }
        Size rounded = core::alignUp(size, align);
        ASSERT_TRUE(core::isAligned(a, align));
        ASSERT_EQ(arena()->poolOf(a), p);
        ASSERT_EQ(arena()->poolOf(a + rounded - 1), p);
        // No overlap with the live neighbours on either side.
        auto next = live.lower_bound(a);
        if (next != live.end()) {
          ASSERT_LE(a + rounded, next->first);
        }
        if (next != live.begin()) {
          auto prev = std::prev(next);
          ASSERT_LE(prev->first + prev->second.rounded, a);
        }
        unsigned char fill = nextFill++;
        if (nextFill == 0) nextFill = 1;
        fillBlock(a, size, fill);
        live.emplace(a, Block{size, rounded, fill});
        allocated += rounded;
      } else {
        freeOne(randomLive());
      }
      ASSERT_EQ(p->freeSize() + allocated, p->totalSize());
      maxFallback = std::max(maxFallback, p->fallbackSize());
      maxTotal = std::max(maxTotal, p->totalSize());
      maxQuick = std::max(maxQuick, p->quickSize());
      ASSERT_LE(p->quickSize(), p->quickBudget());
      if (step % 1000 == 0) {
        ASSERT_TRUE(p->checkFreeSpace());
      }
      // Now and then, what a consistency walk does: coalesce the quick lists.
      if (step % 1777 == 0) {
        p->flushQuickLists();
        ASSERT_EQ(p->quickSize(), 0u);
        ASSERT_EQ(p->freeSize() + allocated, p->totalSize());
      }
    }
    // What the configuration exercised, for whoever reads a failure.
    std::printf(
        "[ config   ] align %zu spare %.2f %s fit slot %s arena %s extend %zu%s: "
        "peak %zu KiB, %zu failed allocations, fallback peak %zu bytes, quick peak %zu bytes\n",
        align, spare, firstFit ? "first" : "last", slotHigh ? "high" : "low",
        arenaHigh ? "high" : "low", extendBy, limited ? " limited" : "", maxTotal >> 10, failures,
        maxFallback, maxQuick);
    while (!live.empty())
      freeOne(live.begin());
    EXPECT_EQ(p->freeSize(), p->totalSize());
    EXPECT_TRUE(p->checkFreeSpace());
    if (spare < 1.0 && p->fallbackSize() == 0) {
      EXPECT_EQ(p->totalSize(), 0u) << "everything free goes back";
    }
    destroy(p);
    ASSERT_EQ(arena()->setCommitLimit(~Size(0)), Res::ok);
  }
};

TEST_F(MVFFStress, RandomConfigurationsKeepTheModel) {
  std::uint64_t seed = testSeed(0x3FF5EED);
  Rng seeds(seed);
  for (int config = 0; config < 12; ++config) {
    std::uint64_t s = seeds.next();
    SCOPED_TRACE(testing::Message() << "configuration " << config << " (seed " << s << ")");
    run(s, 20000);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace mps::test
