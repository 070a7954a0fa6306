// The calling thread as a mutator of an arena: registered, its stack (from
// `cold` down) an ambiguous root, and an allocation point on `pool`; all
// undone at the end of the scope, in reverse order.
#pragma once

#include "mps.h"

namespace mps::test {

class Mutator {
 public:
  Mutator(mps_arena_t arena, mps_pool_t pool, void* cold) {
    ok_ = mps_thread_reg(&thread_, arena) == MPS_RES_OK;
    ok_ = ok_ && mps_root_create_thread(&root_, arena, thread_, cold) == MPS_RES_OK;
    ok_ = ok_ && mps_ap_create_k(&ap, pool, mps_args_none) == MPS_RES_OK;
  }
  ~Mutator() {
    if (ap != nullptr) mps_ap_destroy(ap);
    if (root_ != nullptr) mps_root_destroy(root_);
    if (thread_ != nullptr) mps_thread_dereg(thread_);
  }
  Mutator(const Mutator&) = delete;
  Mutator& operator=(const Mutator&) = delete;
  // Whether every step succeeded.
  bool ok() const { return ok_; }

  mps_ap_t ap = nullptr;

 private:
  bool ok_ = false;
  mps_thr_t thread_ = nullptr;
  mps_root_t root_ = nullptr;
};

}  // namespace mps::test
