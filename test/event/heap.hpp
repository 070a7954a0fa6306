// The heap of the event stream's tests: a VM arena of 32 MiB with two
// marking workers, an AMS pool of the test format (gc/object_format.hpp),
// the calling thread registered with its stack as a root, and an
// allocation point.
#pragma once

#include <gtest/gtest.h>

#include "../gc/object_format.hpp"
#include "mps.h"
#include "mpsavm.h"
#include "mpscams.h"

namespace mps::test {

// `cold`: the cold end of the calling thread's stack.
struct Heap {
  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_pool_t pool = nullptr;
  mps_thr_t thread = nullptr;
  mps_root_t root = nullptr;
  mps_ap_t ap = nullptr;

  explicit Heap(void* cold) {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(32) << 20);
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, 2u);
      EXPECT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    EXPECT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      EXPECT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    EXPECT_EQ(mps_thread_reg(&thread, arena), MPS_RES_OK);
    EXPECT_EQ(mps_root_create_thread(&root, arena, thread, cold), MPS_RES_OK);
    EXPECT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  }
  ~Heap() {
    mps_arena_park(arena);
    mps_ap_destroy(ap);
    mps_root_destroy(root);
    mps_thread_dereg(thread);
    mps_pool_destroy(pool);
    mps_fmt_destroy(fmt);
    mps_arena_destroy(arena);
  }
};

}  // namespace mps::test
