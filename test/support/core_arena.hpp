// Helpers for tests that drive the core (namespace mps::core) directly:
// keyword lists, an owning arena handle, and a minimal pool class.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "arena/arena.hpp"
#include "arena/pool.hpp"
#include "mps.h"
#include "mpsacl.h"
#include "mpstd.h"

namespace mps::test {

// A keyword argument list built by chained calls; always terminated.
class Args {
 public:
  Args() { args_.push_back(end()); }
  Args& size(mps_key_t key, std::size_t v) { return add(key).val.size = v, *this; }
  Args& real(mps_key_t key, double v) { return add(key).val.d = v, *this; }
  Args& boolean(mps_key_t key, bool v) { return add(key).val.b = v, *this; }
  Args& addr(mps_key_t key, void* v) { return add(key).val.addr = v, *this; }
  Args& fun(mps_key_t key, mps_fun_t v) { return add(key).val.fun = v, *this; }
  Args& align(mps_key_t key, std::size_t v) { return add(key).val.align = v, *this; }
  mps_arg_s* get() { return args_.data(); }
  operator mps_arg_s*() { return args_.data(); }

 private:
  static mps_arg_s end() {
    mps_arg_s a{};
    a.key = MPS_KEY_ARGS_END;
    return a;
  }
  mps_arg_s& add(mps_key_t key) {
    args_.back().key = key;
    args_.push_back(end());
    return args_[args_.size() - 2];
  }
  std::vector<mps_arg_s> args_;
};

// Owns a core arena; destroys it at the end of the scope.
class ArenaGuard {
 public:
  ArenaGuard() = default;
  explicit ArenaGuard(core::Arena* arena) : arena_(arena) {}
  ~ArenaGuard() {
    if (arena_ != nullptr) arena_->destroy();
  }
  ArenaGuard(const ArenaGuard&) = delete;
  ArenaGuard& operator=(const ArenaGuard&) = delete;
  core::Arena* operator->() const { return arena_; }
  core::Arena* get() const { return arena_; }
  core::Arena** out() { return &arena_; }
  core::Arena* release() {
    core::Arena* a = arena_;
    arena_ = nullptr;
    return a;
  }

 private:
  core::Arena* arena_ = nullptr;
};

// A VM arena with the given keyword arguments; fails the test if it cannot
// be created.
inline core::Arena* makeVMArena(mps_arg_s* args = mps_args_none) {
  core::Arena* arena = nullptr;
  core::Res res = core::Arena::create(&arena, &core::kArenaClassVM, args);
  EXPECT_EQ(res, core::Res::ok);
  return res == core::Res::ok ? arena : nullptr;
}

// A pool that owns nothing, for tests of the generic pool machinery: grains
// given to it in tests are tagged with it, and its class is whatever the test
// needs (e.g. one without mps_alloc).
class TestPool final : public core::Pool {
 public:
  TestPool(core::Arena* arena, const core::PoolClass* poolClass)
      : Pool(arena, poolClass, MPS_PF_ALIGN) {}
  core::Res init(const mps_arg_s*) { return core::Res::ok; }
  core::Size totalSize() const override { return 0; }
  core::Size freeSize() const override { return 0; }

  static void varargs(mps_arg_s* args, va_list) { args[0].key = MPS_KEY_ARGS_END; }
};

template <const core::PoolClass* C>
core::Res createTestPool(core::Pool** poolOut, core::Arena* arena, const mps_arg_s* args) {
  return core::Pool::make<TestPool>(poolOut, arena, C, args);
}

// A class of TestPool with no attributes: it supports neither mps_alloc nor
// mps_free, so the C interface must refuse both.
inline const core::PoolClass kTestPoolClassNone = {
    core::PoolClass::kSig, "TEST-NONE", 0, createTestPool<&kTestPoolClassNone>, TestPool::varargs};

inline mps_pool_class_t toHandle(const core::PoolClass* c) {
  return reinterpret_cast<mps_pool_class_t>(const_cast<core::PoolClass*>(c));
}

}  // namespace mps::test
