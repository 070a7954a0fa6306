// Seeded randomized model tests: random class layouts and random sequences of
// allocations, frees and flushes through both the mps.h macros and the C
// equivalents, against a shadow set of live blocks. Checks that blocks never
// overlap, keep their contents, are aligned and are live in the pool at their
// class size, and that the pool's accounting balances after every flush.
// Rerun a failure with MPS_TEST_SEED=<printed seed>.

#include <cstring>
#include <map>

#include "pools/mvff/mvff.hpp"
#include "sac_fixture.hpp"

namespace mps::test {
namespace {

using SacStress = SacTest;

struct LiveBlock {
  Size requested;  // what the client asked for and wrote
  Size extent;     // what the cache must have handed out: the class size
  std::uint8_t pattern;
};

class Model {
 public:
  Model(SegregatedCache* cache, const std::vector<mps_sac_class_s>& classes, Rng& rng)
      : cache_(cache), classes_(classes), rng_(rng), align_(cache->pool()->alignment()) {}

  // The size a request of `size` bytes really gets.
  Size extentOf(Size size) const {
    for (const auto& c : classes_)
      if (c.mps_block_size >= size) return c.mps_block_size;
    return core::alignUp(size, align_);
  }

  void alloc(Size size) {
    Addr p = nullptr;
    if (rng_.below(2) == 0) {
      mps_res_t res;
      mps_addr_t q = nullptr;
      MPS_SAC_ALLOC_FAST(res, q, cache_->external(), size, 0);
      ASSERT_EQ(res, MPS_RES_OK);
      p = static_cast<Addr>(q);
    } else {
      ASSERT_EQ(cache_->alloc(&p, size), Res::ok);
    }
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(core::isAligned(p, align_));
    Size extent = extentOf(size);
    ASSERT_EQ(cache_->pool()->arena()->poolOf(p), cache_->pool());
    if (auto* grain = dynamic_cast<GrainPool*>(cache_->pool())) {
      ASSERT_EQ(grain->liveSize(p), extent) << "block not live in the pool at its class size";
    }
    auto next = live_.lower_bound(p);
    if (next != live_.end()) {
      ASSERT_LE(p + extent, next->first) << "overlaps the next block";
    }
    if (next != live_.begin()) {
      auto prev = std::prev(next);
      ASSERT_LE(prev->first + prev->second.extent, p) << "overlaps the previous block";
    }
    auto pattern = static_cast<std::uint8_t>(++serial_);
    std::memset(p, pattern, size);
    live_[p] = {size, extent, pattern};
    order_.push_back(p);
    liveExtents_ += extent;
  }

  void freeRandom() {
    Size k = rng_.below(order_.size());
    Addr p = order_[k];
    order_[k] = order_.back();
    order_.pop_back();
    auto it = live_.find(p);
    LiveBlock block = it->second;
    live_.erase(it);
    liveExtents_ -= block.extent;
    for (Size i = 0; i < block.requested; ++i)
      ASSERT_EQ(std::to_integer<std::uint8_t>(p[i]), block.pattern) << "contents changed";
    if (rng_.below(2) == 0) {
      MPS_SAC_FREE_FAST(cache_->external(), p, block.requested);
    } else {
      cache_->free(p, block.requested);
    }
  }

  void freeAll() {
    while (!order_.empty()) {
      freeRandom();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  Size liveCount() const { return order_.size(); }
  Size liveExtents() const { return liveExtents_; }

 private:
  SegregatedCache* cache_;
  const std::vector<mps_sac_class_s>& classes_;
  Rng& rng_;
  Align align_;
  std::map<Addr, LiveBlock> live_;
  std::vector<Addr> order_;
  Size liveExtents_ = 0;
  Size serial_ = 0;
};

std::vector<mps_sac_class_s> randomClasses(Rng& rng, Align align) {
  Size count = rng.between(1, 12);
  std::vector<mps_sac_class_s> classes;
  Size size = 0;
  for (Size c = 0; c < count; ++c) {
    size = size == 0 ? align * rng.between(1, 3) : size + align * rng.between(1, 8);
    unsigned frequency = rng.below(5) == 0 ? 0 : unsigned(rng.between(1, 100));
    classes.push_back({size, rng.below(6) == 0 ? 0 : rng.between(1, 200), frequency});
  }
  return classes;
}

TEST_F(SacStress, RandomModelOverAVariableSizePool) {
  Rng rng(testSeed(0x5AC5EED));
  for (int round = 0; round < 6; ++round) {
    Align align = Align(8) << rng.below(3);
    GrainPool* pool = grainPool(align);
    auto classes = randomClasses(rng, align);
    SegregatedCache* cache = makeCache(pool, classes);
    ASSERT_NE(cache, nullptr);
    Model model(cache, classes, rng);
    Size largest = classes.back().mps_block_size;
    Size maxLive = rng.between(10, 3000);
    for (int step = 0; step < 40000; ++step) {
      Size op = rng.below(1000);
      if (op < 3) {
        cache->flush();
        // With nothing cached, the pool holds exactly the client's blocks.
        ASSERT_EQ(pool->allocatedBytes(), model.liveExtents());
        ASSERT_EQ(pool->liveBlocks(), model.liveCount());
        ASSERT_EQ(pool->totalSize() - pool->freeSize(), model.liveExtents());
      } else if (model.liveCount() == 0 || (op < 520 && model.liveCount() < maxLive)) {
        Size size = rng.below(12) == 0 ? largest + rng.between(1, 400) : rng.between(1, largest);
        model.alloc(size);
      } else {
        model.freeRandom();
      }
      if (HasFatalFailure()) {
        ADD_FAILURE() << "round " << round << " step " << step;
        return;
      }
      if (step % 4999 == 0) {
        ASSERT_TRUE(cache->check());
      }
    }
    model.freeAll();
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(cache->check());
    destroyCache(cache);
    EXPECT_EQ(pool->liveBlocks(), 0u);
    EXPECT_EQ(pool->freeSize(), pool->totalSize());
    EXPECT_EQ(pool->attachedCaches(), 0u);
  }
}

TEST_F(SacStress, RandomModelOverMFS) {
  Rng rng(testSeed(0x5AC3F5));
  MFSPool* pool = mfsPool(64);
  // Measure one extent: its size and how many bytes of units it holds, so the
  // bytes in use can be told from the pool's totals.
  Addr unit = nullptr;
  ASSERT_EQ(pool->alloc(&unit, 64), Res::ok);
  Size extentBytes = pool->totalSize();
  Size extentCapacity = pool->freeSize() + pool->unitSize();
  pool->free(unit, 64);
  auto inUse = [&] { return pool->totalSize() / extentBytes * extentCapacity - pool->freeSize(); };

  std::vector<mps_sac_class_s> classes{{64, rng.between(1, 100), 1}};
  SegregatedCache* cache = makeCache(pool, classes);
  Model model(cache, classes, rng);
  for (int step = 0; step < 40000; ++step) {
    if (model.liveCount() == 0 || (rng.below(100) < 52 && model.liveCount() < 2000))
      model.alloc(rng.between(1, 64));
    else
      model.freeRandom();
    ASSERT_FALSE(HasFatalFailure()) << "step " << step;
    if (step % 997 == 0) {
      cache->flush();
      ASSERT_EQ(inUse(), model.liveExtents());
    }
  }
  model.freeAll();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(cache->check());
  destroyCache(cache);
  EXPECT_EQ(inUse(), 0u);
}

// The pool the caches are made for: checks sizes and double frees itself, and
// may hand grains back to the arena, so only in-use bytes are compared.
TEST_F(SacStress, RandomModelOverMVFF) {
  Rng rng(testSeed(0x5ACF1F));
  for (int round = 0; round < 3; ++round) {
    Align align = Align(8) << rng.below(3);
    mps_arg_s args[] = {{MPS_KEY_ALIGN, {.align = align}}, {MPS_KEY_ARGS_END, {}}};
    Pool* pool = nullptr;
    ASSERT_EQ(core::kPoolClassMVFF.create(&pool, arena_, args), Res::ok);
    pools_.push_back(pool);
    ASSERT_EQ(pool->alignment(), align);
    auto inUse = [&] { return pool->totalSize() - pool->freeSize(); };
    auto classes = randomClasses(rng, align);
    SegregatedCache* cache = makeCache(pool, classes);
    Model model(cache, classes, rng);
    Size largest = classes.back().mps_block_size;
    Size maxLive = rng.between(10, 3000);
    for (int step = 0; step < 30000; ++step) {
      Size op = rng.below(1000);
      if (op < 3) {
        cache->flush();
        ASSERT_EQ(inUse(), model.liveExtents()) << "round " << round << " step " << step;
      } else if (model.liveCount() == 0 || (op < 520 && model.liveCount() < maxLive)) {
        model.alloc(rng.below(12) == 0 ? largest + rng.between(1, 400) : rng.between(1, largest));
      } else {
        model.freeRandom();
      }
      ASSERT_FALSE(HasFatalFailure()) << "round " << round << " step " << step;
    }
    model.freeAll();
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(cache->check());
    destroyCache(cache);
    EXPECT_EQ(inUse(), 0u);
    forgetPool(pool);
    pool->destroy();
  }
}

}  // namespace
}  // namespace mps::test
