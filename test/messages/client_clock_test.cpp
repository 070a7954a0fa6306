// mps_message_clock is in the units of the plinth's mps_clock (messages.md),
// including a client's own: this program supplies mps_clock and
// mps_clocks_per_sec in place of the default plinth's (plinth.md), a clock
// in thousandths of a second that jumps by one tick per call, and checks
// that the time stamps of GC and GC-start messages are readings of it.
// Built twice, against the static and the shared library: the client's
// definitions must win over the library's in both.
#include <gtest/gtest.h>

#include "mps.h"
#include "mpsavm.h"
#include "mpscams.h"
#include "mpslib.h"

namespace {

constexpr mps_clock_t kEpoch = 7000000000u;
mps_clock_t ticks = 0;  // readings so far

}  // namespace

extern "C" mps_clock_t mps_clock(void) {
  return kEpoch + ++ticks;
}

extern "C" mps_clock_t mps_clocks_per_sec(void) {
  return 1000;
}

namespace {

extern "C" mps_res_t scanNothing(mps_ss_t, mps_addr_t, mps_addr_t) {
  return MPS_RES_OK;
}
extern "C" mps_addr_t skipWord(mps_addr_t p) {
  return static_cast<char*>(p) + sizeof(mps_word_t);
}

TEST(ClientClock, MessageTimeStampsAreReadingsOfTheClientsClock) {
  mps_arena_t arena;
  ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  mps_message_type_enable(arena, mps_message_type_gc());
  mps_message_type_enable(arena, mps_message_type_gc_start());
  mps_fmt_t fmt;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, scanNothing);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, skipWord);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(mps_word_t));
    ASSERT_EQ(mps_fmt_create_k(&fmt, arena, args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_pool_t pool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);

  for (int i = 0; i < 3; ++i) {
    mps_clock_t before = mps_clock();
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    mps_clock_t after = mps_clock();
    mps_message_t start, end;
    ASSERT_TRUE(mps_message_get(&start, arena, mps_message_type_gc_start()));
    ASSERT_TRUE(mps_message_get(&end, arena, mps_message_type_gc()));
    mps_clock_t s = mps_message_clock(arena, start), e = mps_message_clock(arena, end);
    // Readings of this clock, taken in order during the collection.
    EXPECT_GT(s, before);
    EXPECT_LT(s, e);
    EXPECT_LT(e, after);
    mps_message_discard(arena, start);
    mps_message_discard(arena, end);
  }
  mps_arena_park(arena);
  mps_pool_destroy(pool);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

}  // namespace
