// Client mistakes with SNC: each is reported by an assertion naming the
// rule (and, for frames, the entry point, the allocation point and the
// frame), or by a result code where the reference returns one.
#include <gtest/gtest.h>

#include <string>

#include "assertions.hpp"
#include "snc_fixture.hpp"

namespace mps::test {
namespace {

constexpr const char* kFrameRule =
    "foundSeg: the frame popped was pushed on this allocation point and is not popped yet";

// The report names the entry point, the allocation point and the frame
// (their addresses differ in the death test's child, which runs afresh).
std::string frameReport() {
  return assertionReport(kFrameRule) +
         " \\(in mps_ap_frame_pop: allocation point 0x[0-9a-f]+, frame 0x[0-9a-f]+\\)";
}

class SncDeathTest : public SncFixture {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    SncFixture::SetUp();
  }
};

TEST_F(SncDeathTest, PoppingAFramePushedOnAnotherAllocationPoint) {
  mps_ap_t other = nullptr;
  ASSERT_EQ(mps_ap_create_k(&other, snc, mps_args_none), MPS_RES_OK);
  ASSERT_NE(allocObject(other, 1, 0), nullptr);
  mps_frame_t frame = push(other);
  ASSERT_NE(allocObject(other, 2, 0), nullptr);
  ASSERT_NE(allocObject(sncAp, 3, 0), nullptr);
  (void)push(sncAp);
  EXPECT_DEATH(mps_ap_frame_pop(sncAp, frame), frameReport());
  pop(other, frame);
  mps_ap_destroy(other);
}

TEST_F(SncDeathTest, PoppingAFrameTwice) {
  ASSERT_NE(allocObject(sncAp, 1, 0), nullptr);
  mps_frame_t frame = push(sncAp);
  ASSERT_NE(allocObject(sncAp, 2, 0), nullptr);
  pop(sncAp, frame);
  EXPECT_DEATH(mps_ap_frame_pop(sncAp, frame), frameReport());
}

TEST_F(SncDeathTest, PoppingOutOfOrder) {
  ASSERT_NE(allocObject(sncAp, 1, 0), nullptr);
  mps_frame_t a = push(sncAp);
  ASSERT_NE(allocObject(sncAp, 2, 0), nullptr);
  mps_frame_t b = push(sncAp);
  ASSERT_NE(allocObject(sncAp, 3, 0), nullptr);
  pop(sncAp, a);  // pops b too
  EXPECT_DEATH(mps_ap_frame_pop(sncAp, b), frameReport());
}

TEST_F(SncDeathTest, PoppingSomethingNeverPushed) {
  static mps_word_t notAFrame;
  auto frame = reinterpret_cast<mps_frame_t>(&notAFrame);
  EXPECT_DEATH(mps_ap_frame_pop(sncAp, frame), frameReport());
}

TEST_F(SncDeathTest, AllocationPointsHaveRankExact) {
  mps_ap_t ap = nullptr;
  EXPECT_DEATH((void)mps_ap_create(&ap, snc, mps_rank_ambig()),
               assertionReportContaining("an SNC allocation point has rank exact"));
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_weak());
    EXPECT_DEATH((void)mps_ap_create_k(&ap, snc, args),
                 assertionReportContaining("an SNC allocation point has rank exact"));
  }
  MPS_ARGS_END(args);
}

TEST_F(SncDeathTest, PoolsNeedAFormatWithoutHeaders) {
  mps_pool_t pool = nullptr;
  EXPECT_DEATH((void)mps_pool_create_k(&pool, arena, mps_class_snc(), mps_args_none),
               assertionReport("MPS_KEY_FORMAT"));
  mps_fmt_t headed = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, movingScan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_HEADER_SIZE, sizeof(mps_word_t));
    ASSERT_EQ(mps_fmt_create_k(&headed, arena, args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  EXPECT_DEATH((void)mps_pool_create(&pool, arena, mps_class_snc(), headed),
               assertionReportContaining("an SNC pool's format has no in-band header"));
  mps_fmt_destroy(headed);
}

TEST_F(SncDeathTest, NoManualAllocation) {
  mps_addr_t p = nullptr;
  EXPECT_DEATH((void)mps_alloc(&p, snc, 32),
               assertionReportContaining("pool class supports mps_alloc"));
  Object* o = allocObject(sncAp, 1, 0);
  ASSERT_NE(o, nullptr);
  EXPECT_DEATH(mps_free(snc, o, objectSize(0)),
               assertionReportContaining("pool class supports mps_free"));
}

TEST_F(SncDeathTest, SncObjectsCannotBeFinalized) {
  Object* o = allocObject(sncAp, 1, 0);
  ASSERT_NE(o, nullptr);
  mps_addr_t ref = o;
#if MPS_CHECKED
  EXPECT_DEATH((void)mps_finalize(arena, &ref),
               assertionReportContaining("mps_finalize's block is in an automatic pool"));
#else
  EXPECT_EQ(mps_finalize(arena, &ref), MPS_RES_PARAM);
#endif
}

TEST_F(SncDeathTest, WalkingNeedsASkipMethod) {
  mps_fmt_t scanOnly = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, movingScan);
    ASSERT_EQ(mps_fmt_create_k(&scanOnly, arena, args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_pool_t pool = nullptr;
  ASSERT_EQ(mps_pool_create(&pool, arena, mps_class_snc(), scanOnly), MPS_RES_OK);
  mps_ap_t ap = nullptr;
  ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  ASSERT_NE(allocObject(ap, 1, 0), nullptr);
  EXPECT_DEATH(mps_arena_formatted_objects_walk(
                   arena, [](mps_addr_t, mps_fmt_t, mps_pool_t, void*, size_t) {}, nullptr, 0),
               assertionReportContaining("format has a skip method"));
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_fmt_destroy(scanOnly);
}

}  // namespace
}  // namespace mps::test
