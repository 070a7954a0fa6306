// AssertReport: the text of reports that name the entry point and object
// (base/check.hpp): addresses in lowercase hex, decimal numbers, the
// "(in function: kind address" context, and text cut short, never overrun.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "assertions.hpp"
#include "base/check.hpp"

namespace mps::core {
namespace {

TEST(AssertReport, ComposesRuleContextAddressesAndNumbers) {
  AssertReport report;
  report.text("thread has no thread roots")
      .in("mps_thread_dereg", "thread", reinterpret_cast<void*>(std::uintptr_t(0x5630a8c0)))
      .text(" has ")
      .number(12)
      .text(" thread roots)");
  EXPECT_STREQ(report.str(),
               "thread has no thread roots (in mps_thread_dereg: thread 0x5630a8c0 has 12 thread "
               "roots)");
}

TEST(AssertReport, WritesZeroAndTheLargestValues) {
  AssertReport report;
  report.address(nullptr).text(" ").number(0).text(" ").address(
      reinterpret_cast<void*>(~std::uintptr_t(0)));
  report.text(" ").number(~std::uint64_t(0));
  EXPECT_STREQ(report.str(), "0x0 0 0xffffffffffffffff 18446744073709551615");
}

TEST(AssertReport, CutsLongTextShort) {
  AssertReport report;
  std::string longText(1000, 'x');
  report.text(longText.c_str()).text("tail").address(&report);
  std::string out = report.str();
  EXPECT_EQ(out.size(), 319u);  // the buffer less its terminator
  EXPECT_EQ(out, std::string(319, 'x'));
}

TEST(AssertReportDeathTest, FailGoesToThePlinthWithTheComposedText) {
  EXPECT_DEATH(misuseFail("f.cpp", 7, "a rule", "mps_something", "pool", nullptr),
               mps::test::assertionReport("f.cpp", "a rule (in mps_something: pool 0x0)"));
}

}  // namespace
}  // namespace mps::core
