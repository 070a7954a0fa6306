// Shared set-up for the MVFF core tests: a VM arena and MVFF pools in it.
#pragma once

#include <gtest/gtest.h>

#include "core_arena.hpp"
#include "mpscmvff.h"
#include "pools/mvff/mvff.hpp"

namespace mps::test {

using core::Addr;
using core::Arena;
using core::MVFFPool;
using core::Pool;
using core::Res;
using core::Size;
using core::Word;

// Creates an MVFF pool in `arena`; null (and a test failure) if creation
// fails.
inline MVFFPool* makeMVFF(Arena* arena, mps_arg_s* args = mps_args_none) {
  Pool* pool = nullptr;
  Res res = core::kPoolClassMVFF.create(&pool, arena, args);
  EXPECT_EQ(res, Res::ok);
  return res == Res::ok ? static_cast<MVFFPool*>(pool) : nullptr;
}

// A VM arena (64 MiB unless told) destroyed with the fixture, after every
// pool the test made through pool().
class MVFFTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto it = pools_.rbegin(); it != pools_.rend(); ++it)
      (*it)->destroy();
    pools_.clear();
  }

  void makeArena(Args args = Args()) {
    if (arena_.get() == nullptr) *arena_.out() = makeVMArena(args);
    ASSERT_NE(arena_.get(), nullptr);
  }
  Arena* arena() {
    if (arena_.get() == nullptr) makeArena(Args().size(MPS_KEY_ARENA_SIZE, Size(64) << 20));
    return arena_.get();
  }
  MVFFPool* pool(Args args = Args()) {
    MVFFPool* p = makeMVFF(arena(), args);
    if (p != nullptr) pools_.push_back(p);
    return p;
  }
  // Destroys a pool made by pool() before the end of the test.
  void destroy(MVFFPool* p) {
    for (auto it = pools_.begin(); it != pools_.end(); ++it) {
      if (*it == p) {
        pools_.erase(it);
        break;
      }
    }
    p->destroy();
  }

  ArenaGuard arena_;  // declared first: destroyed after the pools

 private:
  std::vector<MVFFPool*> pools_;
};

}  // namespace mps::test
