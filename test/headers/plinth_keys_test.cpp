// The default plinth (base/plinth.cpp) and the keyword-argument objects and
// macros (base/keys.cpp), exercised through the public headers only.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <thread>

#include "mps.h"
#include "mpsacl.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpslib.h"

namespace {

TEST(Keys, EveryKeyIsADistinctObject) {
  mps_key_t keys[] = {
      MPS_KEY_ARGS_END,
      MPS_KEY_ARENA_GRAIN_SIZE,
      MPS_KEY_ARENA_SIZE,
      MPS_KEY_ARENA_ZONED,
      MPS_KEY_ARENA_EXTENDED,
      MPS_KEY_ARENA_CONTRACTED,
      MPS_KEY_FORMAT,
      MPS_KEY_CHAIN,
      MPS_KEY_GEN,
      MPS_KEY_RANK,
      MPS_KEY_COMMIT_LIMIT,
      MPS_KEY_SPARE_COMMIT_LIMIT,
      MPS_KEY_PAUSE_TIME,
      MPS_KEY_EXTEND_BY,
      MPS_KEY_LARGE_SIZE,
      MPS_KEY_MIN_SIZE,
      MPS_KEY_MEAN_SIZE,
      MPS_KEY_MAX_SIZE,
      MPS_KEY_ALIGN,
      MPS_KEY_SPARE,
      MPS_KEY_INTERIOR,
      MPS_KEY_VMW3_TOP_DOWN,
      MPS_KEY_FMT_ALIGN,
      MPS_KEY_FMT_HEADER_SIZE,
      MPS_KEY_FMT_SCAN,
      MPS_KEY_FMT_SKIP,
      MPS_KEY_FMT_FWD,
      MPS_KEY_FMT_ISFWD,
      MPS_KEY_FMT_PAD,
      MPS_KEY_FMT_CLASS,
      MPS_KEY_AP_HASH_ARRAYS,
      MPS_KEY_POOL_DEBUG_OPTIONS,
      MPS_KEY_ARENA_CL_BASE,
      MPS_KEY_MFS_UNIT_SIZE,
      MPS_KEY_MVFF_SLOT_HIGH,
      MPS_KEY_MVFF_ARENA_HIGH,
      MPS_KEY_MVFF_FIRST_FIT,
  };
  std::sort(std::begin(keys), std::end(keys));
  EXPECT_EQ(std::adjacent_find(std::begin(keys), std::end(keys)), std::end(keys));
  EXPECT_NE(keys[0], nullptr);
}

TEST(Keys, ArgsNoneIsAnEmptyList) {
  EXPECT_EQ(mps_args_none[0].key, MPS_KEY_ARGS_END);
}

TEST(ArgsMacros, EachAddKeepsTheListTerminated) {
  MPS_ARGS_BEGIN(args) {
    EXPECT_EQ(args_i, 0u);
    EXPECT_EQ(args[0].key, MPS_KEY_ARGS_END);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, std::size_t{1} << 20);
    EXPECT_EQ(args[1].key, MPS_KEY_ARGS_END);
    MPS_ARGS_ADD(args, MPS_KEY_SPARE, 0.25);
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_FIRST_FIT, 1);
    MPS_ARGS_ADD_FIELD(args, MPS_KEY_EXTEND_BY, size, std::size_t{4096});
    EXPECT_EQ(args_i, 4u);
    EXPECT_EQ(args[0].key, MPS_KEY_ARENA_SIZE);
    EXPECT_EQ(args[0].val.size, std::size_t{1} << 20);
    EXPECT_EQ(args[1].key, MPS_KEY_SPARE);
    EXPECT_EQ(args[1].val.d, 0.25);
    EXPECT_EQ(args[2].key, MPS_KEY_MVFF_FIRST_FIT);
    EXPECT_EQ(args[2].val.b, 1);
    EXPECT_EQ(args[3].key, MPS_KEY_EXTEND_BY);
    EXPECT_EQ(args[3].val.size, 4096u);
    EXPECT_EQ(args[4].key, MPS_KEY_ARGS_END);
  }
  MPS_ARGS_END(args);
}

TEST(ArgsMacros, BlocksNest) {
  MPS_ARGS_BEGIN(outer) {
    MPS_ARGS_ADD(outer, MPS_KEY_ARENA_SIZE, std::size_t{1});
    MPS_ARGS_BEGIN(inner) {
      MPS_ARGS_ADD(inner, MPS_KEY_MFS_UNIT_SIZE, std::size_t{2});
      EXPECT_EQ(inner[0].key, MPS_KEY_MFS_UNIT_SIZE);
      EXPECT_EQ(inner[1].key, MPS_KEY_ARGS_END);
    }
    MPS_ARGS_END(inner);
    EXPECT_EQ(outer[0].key, MPS_KEY_ARENA_SIZE);
    EXPECT_EQ(outer[1].key, MPS_KEY_ARGS_END);
  }
  MPS_ARGS_END(outer);
}

TEST(ArgsMacros, HoldAtMostOneFewerThanMaxArguments) {
  MPS_ARGS_BEGIN(args) {
    for (unsigned n = 0; n < MPS_ARGS_MAX - 1; ++n)
      MPS_ARGS_ADD(args, MPS_KEY_GEN, n);
    EXPECT_EQ(args[MPS_ARGS_MAX - 2].val.u, unsigned{MPS_ARGS_MAX - 2});
    EXPECT_EQ(args[MPS_ARGS_MAX - 1].key, MPS_KEY_ARGS_END);
  }
  MPS_ARGS_END(args);
}

TEST(ArgsMacrosDeathTest, OverflowIsCaught) {
  EXPECT_DEATH(
      {
        MPS_ARGS_BEGIN(args) {
          for (unsigned n = 0; n < MPS_ARGS_MAX; ++n)
            MPS_ARGS_ADD(args, MPS_KEY_GEN, n);
        }
        MPS_ARGS_END(args);
      },
      "MPS\\+\\+ ASSERTION FAILED: i < MPS_ARGS_MAX");
}

TEST(ArgsMacrosDeathTest, AddAfterDoneIsCaught) {
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_GEN, 1u);
    MPS_ARGS_DONE(args);
    EXPECT_EQ(args[1].key, MPS_KEY_ARGS_END);
    EXPECT_DEATH(MPS_ARGS_ADD(args, MPS_KEY_GEN, 2u), "i < MPS_ARGS_MAX");
  }
  MPS_ARGS_END(args);
}

// Records the last report; installed for the duration of one test.
struct Report {
  std::string file, condition;
  unsigned line = 0;
  int calls = 0;
};
Report lastReport;

extern "C" void recordingHandler(const char* file, unsigned line, const char* condition) {
  lastReport.file = file;
  lastReport.line = line;
  lastReport.condition = condition;
  ++lastReport.calls;
}

class AssertHandler : public ::testing::Test {
 protected:
  void SetUp() override {
    lastReport = Report{};
    original_ = mps_lib_assert_fail_install(nullptr);
  }
  void TearDown() override { mps_lib_assert_fail_install(original_); }
  mps_lib_assert_fail_t original_ = nullptr;
};

TEST_F(AssertHandler, InstalledHandlerReceivesTheReport) {
  mps_lib_assert_fail_t previous = mps_lib_assert_fail_install(&recordingHandler);
  EXPECT_NE(previous, nullptr);
  mps_lib_assert_fail("arena.cpp", 42, "size > 0");
  EXPECT_EQ(lastReport.calls, 1);
  EXPECT_EQ(lastReport.file, "arena.cpp");
  EXPECT_EQ(lastReport.line, 42u);
  EXPECT_EQ(lastReport.condition, "size > 0");
  EXPECT_EQ(mps_lib_assert_fail_install(previous), &recordingHandler);
}

TEST_F(AssertHandler, InstallingNullRestoresTheDefault) {
  mps_lib_assert_fail_t defaultHandler = mps_lib_assert_fail_install(&recordingHandler);
  EXPECT_EQ(mps_lib_assert_fail_install(nullptr), &recordingHandler);
  EXPECT_EQ(mps_lib_assert_fail_install(nullptr), defaultHandler);
}

TEST_F(AssertHandler, DefaultHandlerReportsAndAborts) {
  EXPECT_DEATH(mps_lib_assert_fail("pool.cpp", 7, "p != NULL"),
               "pool\\.cpp:7: MPS\\+\\+ ASSERTION FAILED: p != NULL\n");
}

TEST(Plinth, Streams) {
  EXPECT_EQ(mps_lib_EOF, EOF);
  EXPECT_EQ(static_cast<void*>(mps_lib_stderr), static_cast<void*>(stderr));
  EXPECT_EQ(static_cast<void*>(mps_lib_stdout), static_cast<void*>(stdout));

  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  auto* stream = reinterpret_cast<mps_lib_FILE*>(file);
  EXPECT_EQ(mps_lib_fputc('<', stream), '<');
  EXPECT_GE(mps_lib_fputs("plinth>", stream), 0);
  std::rewind(file);
  char text[16] = {};
  ASSERT_NE(std::fgets(text, sizeof text, file), nullptr);
  EXPECT_STREQ(text, "<plinth>");
  std::fclose(file);
}

TEST(Plinth, MemoryPrimitives) {
  char a[8];
  char b[8];
  EXPECT_EQ(mps_lib_memset(a, 'x', sizeof a), a);
  EXPECT_EQ((mps_lib_memcpy)(b, a, sizeof a), b);
  EXPECT_EQ(mps_lib_memcmp(a, b, sizeof a), 0);
  b[7] = 'y';
  EXPECT_LT(mps_lib_memcmp(a, b, sizeof a), 0);
}

TEST(Plinth, ClockIsMonotonicMicroseconds) {
  EXPECT_EQ(mps_clocks_per_sec(), 1000000u);
  mps_clock_t before = mps_clock();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  mps_clock_t elapsed = mps_clock() - before;
  EXPECT_GE(elapsed, 20000u);
  EXPECT_LT(elapsed, 20u * 1000000u);
}

class TelemetryControl : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("MPS_TELEMETRY_CONTROL"); }
  static unsigned long with(const char* value) {
    setenv("MPS_TELEMETRY_CONTROL", value, 1);
    return mps_lib_telemetry_control();
  }
};

TEST_F(TelemetryControl, DefaultsToNoEvents) {
  unsetenv("MPS_TELEMETRY_CONTROL");
  EXPECT_EQ(mps_lib_telemetry_control(), 0u);
  EXPECT_EQ(with(""), 0u);
}

TEST_F(TelemetryControl, NumbersAreTheFilter) {
  EXPECT_EQ(with("65"), 65u);
  EXPECT_EQ(with("0x41"), 65u);
  EXPECT_EQ(with(" 3 "), 3u);
}

TEST_F(TelemetryControl, NamesSelectCategories) {
  EXPECT_EQ(with("arena user"), (1u << 0) | (1u << 6));
  EXPECT_EQ(with("Pool  TRACE seg"), (1u << 1) | (1u << 2) | (1u << 3));
  EXPECT_EQ(with("ref object nonsense"), (1u << 4) | (1u << 5));
  EXPECT_EQ(with("all"), ~0ul);
}

}  // namespace
