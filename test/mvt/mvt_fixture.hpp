// Shared set-up for the MVT tests: a VM arena made through the C interface,
// MVT pools and allocation points in it, and the core pool behind a handle
// for the consistency walk (checkSpans) and the policy's counters.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "mps.h"
#include "mpsavm.h"
#include "mpscmvt.h"
#include "mpstd.h"
#include "pools/mvt/mvt.hpp"

namespace mps::test {

inline core::MVTPool* coreMVT(mps_pool_t pool) {
  return reinterpret_cast<core::MVTPool*>(pool);
}

// The keywords of an MVT pool; zero or negative means "not given".
struct MVTOptions {
  size_t align = 0;
  size_t minSize = 0;
  size_t meanSize = 0;
  size_t maxSize = 0;
  long reserveDepth = -1;
  double fragLimit = -1.0;
};

class MVTTest : public ::testing::Test {
 public:
  static mps_res_t create(mps_pool_t* out, mps_arena_t arena, const MVTOptions& o);

 protected:
  void SetUp() override {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
      ASSERT_EQ(mps_arena_create_k(&arena_, mps_arena_class_vm(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
  }
  void TearDown() override {
    for (mps_ap_t ap : aps_)
      mps_ap_destroy(ap);
    for (mps_pool_t pool : pools_)
      mps_pool_destroy(pool);
    mps_arena_destroy(arena_);
  }

  mps_pool_t pool(const MVTOptions& o = MVTOptions()) {
    mps_pool_t p = nullptr;
    EXPECT_EQ(create(&p, arena_, o), MPS_RES_OK);
    if (p != nullptr) pools_.push_back(p);
    return p;
  }
  void destroyPool(mps_pool_t p) {
    for (auto it = pools_.begin(); it != pools_.end(); ++it)
      if (*it == p) {
        pools_.erase(it);
        break;
      }
    mps_pool_destroy(p);
  }
  mps_ap_t ap(mps_pool_t pool) {
    mps_ap_t a = nullptr;
    EXPECT_EQ(mps_ap_create_k(&a, pool, mps_args_none), MPS_RES_OK);
    if (a != nullptr) aps_.push_back(a);
    return a;
  }
  void destroyAp(mps_ap_t a) {
    for (auto it = aps_.begin(); it != aps_.end(); ++it)
      if (*it == a) {
        aps_.erase(it);
        break;
      }
    mps_ap_destroy(a);
  }
  // The reserve/commit protocol for `size` bytes (a multiple of the
  // alignment), writing `fill` into the block.
  static mps_res_t allocate(void** pOut, mps_ap_t a, size_t size, int fill = 0x5A) {
    mps_addr_t p;
    do {
      mps_res_t res = mps_reserve(&p, a, size);
      if (res != MPS_RES_OK) return res;
      std::memset(p, fill, size);
    } while (!mps_commit(a, p, size));
    *pOut = p;
    return MPS_RES_OK;
  }

  mps_arena_t arena_ = nullptr;
  std::vector<mps_pool_t> pools_;
  std::vector<mps_ap_t> aps_;
};

inline mps_res_t MVTTest::create(mps_pool_t* out, mps_arena_t arena, const MVTOptions& o) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    if (o.align != 0) MPS_ARGS_ADD(args, MPS_KEY_ALIGN, o.align);
    if (o.minSize != 0) MPS_ARGS_ADD(args, MPS_KEY_MIN_SIZE, o.minSize);
    if (o.meanSize != 0) MPS_ARGS_ADD(args, MPS_KEY_MEAN_SIZE, o.meanSize);
    if (o.maxSize != 0) MPS_ARGS_ADD(args, MPS_KEY_MAX_SIZE, o.maxSize);
    if (o.reserveDepth >= 0)
      MPS_ARGS_ADD(args, MPS_KEY_MVT_RESERVE_DEPTH, mps_word_t(o.reserveDepth));
    if (o.fragLimit >= 0.0) MPS_ARGS_ADD(args, MPS_KEY_MVT_FRAG_LIMIT, o.fragLimit);
    res = mps_pool_create_k(out, arena, mps_class_mvt(), args);
  }
  MPS_ARGS_END(args);
  return res;
}

}  // namespace mps::test
