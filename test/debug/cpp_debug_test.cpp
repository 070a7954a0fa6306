// The debugging classes through the C++ interface (include/mps/mps.hpp):
// VariablePool and AMSPool with `debug` set, and Pool's two checks.
#include <gtest/gtest.h>

#include <cstring>

#include "debug_support.hpp"
#include "mps/mps.hpp"

namespace mps::test {
namespace {

TEST(DebugCpp, VariablePoolWithDebugHasFencepostsAndChecks) {
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps_pool_debug_option_s options = {"fencepost", 9, "free", 4};
  mps::VariablePool pool;
  ASSERT_TRUE(mps::VariablePool::create(pool, arena, {.debug = true, .debugOptions = &options}));
  void* p;
  ASSERT_TRUE(pool.alloc(p, 24));
  EXPECT_EQ(std::memcmp(static_cast<char*>(p) + 24, "fencepost", 9), 0);
  pool.checkFenceposts();
  pool.checkFreeSpace();
  StrayWrite stray(static_cast<char*>(p) + 24);
  EXPECT_DEATH(pool.checkFenceposts(),
               fenceReport("fencepost check requested by client", static_cast<char*>(p) + 24, p));
  stray.repair();
  pool.free(p, 24);
}

TEST(DebugCpp, PlainVariablePoolHasNoFenceposts) {
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::VariablePool pool;
  ASSERT_TRUE(mps::VariablePool::create(pool, arena));
  void *a, *b;
  ASSERT_TRUE(pool.alloc(a, 24));
  ASSERT_TRUE(pool.alloc(b, 24));
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), 24);
  pool.checkFenceposts();  // nothing to check
  pool.free(a, 24);
  pool.free(b, 24);
}

}  // namespace
}  // namespace mps::test
