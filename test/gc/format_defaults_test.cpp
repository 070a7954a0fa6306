// Formats with methods missing (format.md): every formatted pool class is
// created with a format of an alignment alone, as the reference allows; a
// pool that never needs a method never calls it, and the first call of a
// missing one reports it by name.
#include <gtest/gtest.h>

#include "assertions.hpp"
#include "moving_format.hpp"
#include "mpscawl.h"
#include "mpscsnc.h"

namespace mps::test {
namespace {

class FormatDefaults : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
    mps_arena_park(arena);
    ASSERT_EQ(mps_fmt_create_k(&bare, arena, mps_args_none), MPS_RES_OK);
  }
  void TearDown() override {
    mps_fmt_destroy(bare);
    mps_arena_destroy(arena);
  }
  mps_pool_t pool(mps_pool_class_t poolClass, mps_fmt_t format) {
    mps_pool_t p = nullptr;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, format);
      EXPECT_EQ(mps_pool_create_k(&p, arena, poolClass, args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    return p;
  }
  mps_arena_t arena = nullptr;
  mps_fmt_t bare = nullptr;  // an alignment, nothing else
};

using FormatDefaultsDeathTest = FormatDefaults;

TEST_F(FormatDefaults, EveryFormattedClassAcceptsAFormatOfAnAlignmentAlone) {
  for (mps_pool_class_t c : {mps_class_ams(), mps_class_lo(), mps_class_awl(), mps_class_amc(),
                             mps_class_amcz(), mps_class_snc()}) {
    mps_pool_t p = pool(c, bare);
    ASSERT_NE(p, nullptr);
    mps_ap_t ap = nullptr;
    ASSERT_EQ(mps_ap_create_k(&ap, p, mps_args_none), MPS_RES_OK);
    mps_frame_t frame = nullptr;
    ASSERT_EQ(mps_ap_frame_push(&frame, ap), MPS_RES_OK);
    ASSERT_EQ(mps_ap_frame_pop(ap, frame), MPS_RES_OK);
    // Collections, walks and sizes need no method of a pool with no objects.
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    mps_arena_formatted_objects_walk(
        arena, [](mps_addr_t, mps_fmt_t, mps_pool_t, void*, size_t) {}, nullptr, 0);
    EXPECT_EQ(mps_pool_walk(p, mps_scan_area, nullptr), MPS_RES_OK);
    EXPECT_EQ(mps_pool_free_size(p), mps_pool_total_size(p));
    mps_ap_destroy(ap);
    mps_pool_destroy(p);
  }
}

// The methods each class calls, and only those, are enough.
TEST_F(FormatDefaults, LeafPoolsNeedNoScanMethodAndNonMovingPoolsNoForwarding) {
  mps_fmt_t skipOnly = nullptr, scanAndSkip = nullptr;
  ASSERT_EQ(makeFormat(&skipOnly, arena, true), MPS_RES_OK);
  ASSERT_EQ(makeFormat(&scanAndSkip, arena), MPS_RES_OK);
  mps_fmt_t leafMoving = nullptr;
  ASSERT_EQ(makeMovingFormat(&leafMoving, arena, true), MPS_RES_OK);
  mps_pool_t lo = pool(mps_class_lo(), skipOnly), ams = pool(mps_class_ams(), scanAndSkip),
             amcz = pool(mps_class_amcz(), leafMoving);
  static mps_addr_t table[3];
  mps_root_t root = nullptr;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, 3), MPS_RES_OK);
  mps_pool_t pools[3] = {lo, ams, amcz};
  for (int i = 0; i < 3; ++i) {
    mps_ap_t ap = nullptr;
    ASSERT_EQ(mps_ap_create_k(&ap, pools[i], mps_args_none), MPS_RES_OK);
    for (mps_word_t id = 1; id <= 1000; ++id) {
      Object* o = allocObject(ap, id, 0);
      ASSERT_NE(o, nullptr);
      if (id == 1000) table[i] = o;
    }
    mps_ap_destroy(ap);
  }
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(static_cast<Object*>(table[i])->id, 1000u);
  mps_root_destroy(root);
  mps_pool_destroy(lo);
  mps_pool_destroy(ams);
  mps_pool_destroy(amcz);
  mps_fmt_destroy(skipOnly);
  mps_fmt_destroy(scanAndSkip);
  mps_fmt_destroy(leafMoving);
}

// A fixed format (mps_fmt_create_fixed) has no skip method: a mark-sweep
// pool takes it, and says so when it first needs an object's size.
TEST_F(FormatDefaultsDeathTest, AFixedFormatServesUntilAnObjectSizeIsNeeded) {
  mps_fmt_fixed_s fixed = {sizeof(mps_word_t), testScan, nullptr, nullptr, nullptr};
  mps_fmt_t format = nullptr;
  ASSERT_EQ(mps_fmt_create_fixed(&format, arena, &fixed), MPS_RES_OK);
  mps_pool_t ams = pool(mps_class_ams(), format);
  ASSERT_NE(ams, nullptr);
  mps_ap_t ap = nullptr;
  ASSERT_EQ(mps_ap_create_k(&ap, ams, mps_args_none), MPS_RES_OK);
  // (The child allocates: the parent must still be able to tear down.)
  EXPECT_DEATH(
      {
        (void)allocObject(ap, 1, 0);
        (void)mps_arena_collect(arena);
      },
      assertionReportContaining("format has a skip method: the pool needs object sizes"));
  mps_ap_destroy(ap);
  mps_pool_destroy(ams);
  mps_fmt_destroy(format);
}

TEST_F(FormatDefaultsDeathTest, ABareFormatReportsTheFirstMissingMethodByName) {
  mps_pool_t lo = pool(mps_class_lo(), bare);
  mps_ap_t ap = nullptr;
  ASSERT_EQ(mps_ap_create_k(&ap, lo, mps_args_none), MPS_RES_OK);
  // Handing the buffer back records its objects' starts: a skip.
  EXPECT_DEATH(
      {
        (void)allocObject(ap, 1, 0);
        mps_ap_destroy(ap);
      },
      assertionReportContaining("format has a skip method"));
  mps_ap_destroy(ap);
  mps_pool_destroy(lo);
}

// AMC without forwarding methods: created, allocated in, and reported when
// it first copies an object or pads a buffer's tail.
TEST_F(FormatDefaultsDeathTest, AnAmcFormatWithoutForwardingMethods) {
  mps_fmt_t plain = nullptr;
  ASSERT_EQ(makeFormat(&plain, arena), MPS_RES_OK);
  mps_pool_t amc = pool(mps_class_amc(), plain);
  ASSERT_NE(amc, nullptr);
  static mps_addr_t table[1];
  mps_root_t root = nullptr;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, 1), MPS_RES_OK);
  mps_ap_t ap = nullptr;
  ASSERT_EQ(mps_ap_create_k(&ap, amc, mps_args_none), MPS_RES_OK);
  EXPECT_DEATH(
      {
        table[0] = allocObject(ap, 1, 0);
        (void)mps_arena_collect(arena);
      },
      assertionReportContaining("format has a forward method: the pool moves objects"));
  EXPECT_DEATH(
      {
        (void)allocObject(ap, 1, 0);
        mps_ap_destroy(ap);
      },
      assertionReportContaining("format has a pad method"));
  mps_ap_destroy(ap);
  mps_root_destroy(root);
  mps_pool_destroy(amc);
  mps_fmt_destroy(plain);
}

}  // namespace
}  // namespace mps::test
