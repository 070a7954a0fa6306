// AWL, weak references and finalization, smallest cases: a weak reference
// to an object only it refers to is splatted, one to a live object is kept;
// a registered object yields one message and stays alive while the message
// exists; a weak reference to a registered object survives until its
// message is posted.
#include <gtest/gtest.h>

#include "mpscawl.h"
#include "object_format.hpp"

namespace mps::test {
namespace {

class AwlSmokeTest : public ::testing::TestWithParam<unsigned> {
 protected:
  void SetUp() override {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(32) << 20);
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, GetParam());
      ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      ASSERT_EQ(mps_pool_create_k(&awl, arena, mps_class_awl(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_weak());
      ASSERT_EQ(mps_ap_create_k(&weakAp, awl, args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(mps_ap_create_k(&exactAp, awl, mps_args_none), MPS_RES_OK);
    ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, kSlots), MPS_RES_OK);
  }
  void TearDown() override {
    mps_root_destroy(root);
    mps_ap_destroy(weakAp);
    mps_ap_destroy(exactAp);
    mps_pool_destroy(awl);
    mps_fmt_destroy(fmt);
    mps_arena_destroy(arena);
  }

  static constexpr size_t kSlots = 4;
  mps_addr_t table[kSlots] = {};
  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_pool_t awl = nullptr;
  mps_ap_t weakAp = nullptr, exactAp = nullptr;
  mps_root_t root = nullptr;
};

TEST_P(AwlSmokeTest, WeakReferenceSplattedOnlyWhenTargetDies) {
  Object* weak = allocObject(weakAp, 1, 2);
  table[0] = weak;
  table[1] = allocObject(exactAp, 2, 0);  // strongly held
  weak->refs[0] = table[1];
  weak->refs[1] = allocObject(exactAp, 3, 0);  // held only weakly
  mps_arena_collect(arena);
  weak = static_cast<Object*>(table[0]);
  EXPECT_EQ(weak->refs[0], table[1]);
  EXPECT_EQ(weak->refs[1], nullptr);
  mps_arena_release(arena);
}

TEST_P(AwlSmokeTest, FinalizationOnceAndWeakReferenceKeptUntilPosted) {
  mps_message_type_enable(arena, mps_message_type_finalization());
  Object* weak = allocObject(weakAp, 1, 1);
  table[0] = weak;
  mps_addr_t obj = allocObject(exactAp, 7, 0);
  weak->refs[0] = obj;
  ASSERT_EQ(mps_finalize(arena, &obj), MPS_RES_OK);
  obj = nullptr;
  mps_arena_collect(arena);
  // Finalized now: the weak reference still designates it.
  mps_message_t msg;
  ASSERT_TRUE(mps_message_get(&msg, arena, mps_message_type_finalization()));
  mps_addr_t ref;
  mps_message_finalization_ref(&ref, arena, msg);
  EXPECT_EQ(static_cast<Object*>(ref)->id, 7u);
  EXPECT_EQ(static_cast<Object*>(table[0])->refs[0], ref);
  // Held by the message: survives another collection.
  mps_arena_collect(arena);
  mps_message_finalization_ref(&ref, arena, msg);
  EXPECT_EQ(static_cast<Object*>(ref)->id, 7u);
  EXPECT_EQ(static_cast<Object*>(table[0])->refs[0], ref);
  mps_message_discard(arena, msg);
  mps_arena_collect(arena);
  EXPECT_EQ(static_cast<Object*>(table[0])->refs[0], nullptr);
  mps_message_t none;
  EXPECT_FALSE(mps_message_get(&none, arena, mps_message_type_finalization()));
  mps_arena_release(arena);
}

INSTANTIATE_TEST_SUITE_P(Workers, AwlSmokeTest, ::testing::Values(1u, 2u));

}  // namespace
}  // namespace mps::test
