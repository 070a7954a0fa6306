// Telemetry control (telemetry.md): the filter word starts from the
// plinth's reading of MPS_TELEMETRY_CONTROL and is changed bit by bit,
// labels are handed out whether or not the user category is on, and
// labelling and flushing write the stream (test/event reads it back in
// detail). And the version string that MPS exports without declaring it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "assertions.hpp"
#include "mps.h"

// Not in any header, as in MPS: clients declare them.
extern "C" char MPSVersionString[];
extern "C" char* MPSVersion(void);

namespace {

TEST(Telemetry, FilterLabelsAndFlush) {
  // The first telemetry call of the process reads the environment (ctest
  // runs each test in its own process).
  ::setenv("MPS_TELEMETRY_CONTROL", "arena user", 1);
  std::string stream = ::testing::TempDir() + "capi-telemetry-" + std::to_string(::getpid());
  ::setenv("MPS_TELEMETRY_FILENAME", stream.c_str(), 1);
  const mps_word_t user = mps_word_t(1) << 6;
  mps_word_t initial = mps_telemetry_get();
  if (initial != 0) {
    EXPECT_EQ(initial, user | 1u);
  }
  mps_telemetry_reset(~mps_word_t(0));
  EXPECT_EQ(mps_telemetry_get(), 0u);
  mps_telemetry_set(user);
  mps_telemetry_set(4);
  EXPECT_EQ(mps_telemetry_get(), user | 4);
  mps_telemetry_reset(4);
  EXPECT_EQ(mps_telemetry_get(), user);

  std::set<mps_label_t> labels;
  for (int i = 0; i < 100; ++i) {
    mps_label_t label = mps_telemetry_intern(("label " + std::to_string(i)).c_str());
    EXPECT_NE(label, 0u);
    EXPECT_TRUE(labels.insert(label).second);
    mps_telemetry_label(&labels, label);
  }
  mps_telemetry_reset(user);
  EXPECT_NE(mps_telemetry_intern("with the user category off"), 0u);
  mps_telemetry_flush();
  std::string longest(255, 'x');
  EXPECT_NE(mps_telemetry_intern(longest.c_str()), 0u);
  // The user category was on: the stream was opened and flushed. (Run
  // after other tests of this executable in one process, the filter and
  // the stream are those of the first telemetry call.)
  if (initial != 0) {
    std::FILE* file = std::fopen(stream.c_str(), "rb");
    ASSERT_NE(file, nullptr);
    char magic[8] = {};
    EXPECT_EQ(std::fread(magic, 1, sizeof magic, file), sizeof magic);
    EXPECT_EQ(std::memcmp(magic, "MPS++EVT", 8), 0);
    std::fclose(file);
    ::unlink(stream.c_str());
  }
}

TEST(TelemetryDeathTest, ALabelHasAtMost255Characters) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::string tooLong(256, 'x');
  EXPECT_DEATH(
      (void)mps_telemetry_intern(tooLong.c_str()),
      mps::test::assertionReportContaining("a telemetry label is a string of at most 255"));
}

TEST(Version, StringAndFunctionAgree) {
  ASSERT_NE(MPSVersion(), nullptr);
  EXPECT_EQ(MPSVersion(), MPSVersionString);
  EXPECT_EQ(std::strncmp(MPSVersionString, "@(#)MPS++ ", 10), 0) << MPSVersionString;
}

}  // namespace
