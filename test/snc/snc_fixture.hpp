// A parked arena with an SNC pool (the moving test format, which SNC reads
// only with scan and skip), an AMC pool and an AMS pool on one two-generation
// chain, and an exact table root: for tests of frames and of references from
// SNC objects into the collected pools.
#pragma once

#include <gtest/gtest.h>

#include "amc_support.hpp"
#include "mpscsnc.h"

namespace mps::test {

class SncFixture : public ::testing::Test {
 protected:
  static constexpr size_t kRoots = 16;

  void SetUp() override { make(); }
  void make(unsigned workers = 2) {
    ASSERT_EQ(makeParkedArena(&arena, workers), MPS_RES_OK);
    ASSERT_EQ(makeMovingFormat(&fmt, arena), MPS_RES_OK);
    ASSERT_EQ(makeFormat(&plainFmt, arena), MPS_RES_OK);
    mps_gen_param_s gens[2] = {{256, 0.8}, {1024, 0.5}};
    ASSERT_EQ(mps_chain_create(&chain, arena, 2, gens), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      ASSERT_EQ(mps_pool_create_k(&snc, arena, mps_class_snc(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      ASSERT_EQ(mps_pool_create_k(&amc, arena, mps_class_amc(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, plainFmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      MPS_ARGS_ADD(args, MPS_KEY_GEN, 0);
      ASSERT_EQ(mps_pool_create_k(&ams, arena, mps_class_ams(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(mps_ap_create_k(&sncAp, snc, mps_args_none), MPS_RES_OK);
    ASSERT_EQ(mps_ap_create_k(&amcAp, amc, mps_args_none), MPS_RES_OK);
    ASSERT_EQ(mps_ap_create_k(&amsAp, ams, mps_args_none), MPS_RES_OK);
    for (auto& r : exact)
      r = nullptr;
    ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, exact, kRoots), MPS_RES_OK);
  }
  void TearDown() override {
    if (arena == nullptr) return;
    mps_root_destroy(root);
    if (sncAp != nullptr) mps_ap_destroy(sncAp);
    mps_ap_destroy(amcAp);
    mps_ap_destroy(amsAp);
    mps_pool_destroy(snc);
    mps_pool_destroy(amc);
    mps_pool_destroy(ams);
    mps_chain_destroy(chain);
    mps_fmt_destroy(fmt);
    mps_fmt_destroy(plainFmt);
    mps_arena_destroy(arena);
  }

  // Bytes of the pool holding objects.
  static size_t used(mps_pool_t pool) {
    return mps_pool_total_size(pool) - mps_pool_free_size(pool);
  }
  mps_frame_t push(mps_ap_t ap) {
    mps_frame_t frame = nullptr;
    EXPECT_EQ(mps_ap_frame_push(&frame, ap), MPS_RES_OK);
    return frame;
  }
  void pop(mps_ap_t ap, mps_frame_t frame) { EXPECT_EQ(mps_ap_frame_pop(ap, frame), MPS_RES_OK); }

  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr, plainFmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t snc = nullptr, amc = nullptr, ams = nullptr;
  mps_ap_t sncAp = nullptr, amcAp = nullptr, amsAp = nullptr;
  mps_root_t root = nullptr;
  mps_addr_t exact[kRoots];
};

}  // namespace mps::test
