// Client mistakes with the collector's interface: each is reported by an
// assertion naming the violated rule (checked builds), never corruption.
#include <gtest/gtest.h>

#include "moving_format.hpp"
#include "mpscawl.h"
#include "mpscsnc.h"
#include "object_format.hpp"
#include "assertions.hpp"

namespace mps::test {
namespace {

class GcMisuseDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
    ASSERT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  }
  void TearDown() override {
    mps_ap_destroy(ap);
    mps_pool_destroy(pool);
    mps_fmt_destroy(fmt);
    mps_arena_destroy(arena);
  }
  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_pool_t pool = nullptr;
  mps_ap_t ap = nullptr;
};

TEST_F(GcMisuseDeathTest, CommitWithoutReserve) {
  mps_addr_t p = reinterpret_cast<mps_addr_t>(mps_word_t(4096));
  EXPECT_DEATH((mps_commit)(ap, p, 16),
               assertionReportContaining("commit: the block committed is the one reserved"));
}

TEST_F(GcMisuseDeathTest, ReserveTwice) {
  mps_addr_t p;
  ASSERT_EQ(mps_reserve(&p, ap, 16), MPS_RES_OK);
  EXPECT_DEATH((mps_reserve)(&p, ap, 16),
               assertionReportContaining("reserve: the previous reservation was committed"));
  static_cast<Object*>(p)->header = kObjectTag;
  ASSERT_TRUE(mps_commit(ap, p, 16));
}

TEST_F(GcMisuseDeathTest, DestroyingAnAllocationPointBetweenReserveAndCommit) {
  mps_addr_t p;
  ASSERT_EQ(mps_reserve(&p, ap, 16), MPS_RES_OK);
  EXPECT_DEATH(mps_ap_destroy(ap), assertionReportContaining("allocation point has no reserved "
                                                             "block"));
  static_cast<Object*>(p)->header = kObjectTag;
  ASSERT_TRUE(mps_commit(ap, p, 16));
}

TEST_F(GcMisuseDeathTest, ReserveOfZeroBytesOrAnUnalignedSize) {
  mps_addr_t p;
  EXPECT_DEATH((mps_reserve)(&p, ap, 0), assertionReportContaining("reserve: size is not zero"));
  EXPECT_DEATH(mps_reserve(&p, ap, 12),
               assertionReportContaining("size is a multiple of the pool's alignment"));
  // The function form checks on every call, even when the buffer has room
  // (the macro's fast path would take the size without a look).
  ASSERT_EQ(mps_reserve(&p, ap, objectSize(0)), MPS_RES_OK);
  static_cast<Object*>(p)->header = kObjectTag;
  static_cast<Object*>(p)->id = 1;
  ASSERT_TRUE(mps_commit(ap, p, objectSize(0)));
  EXPECT_DEATH((mps_reserve)(&p, ap, 12),
               assertionReportContaining("reserve: size is a multiple of the pool's alignment"));
}

TEST_F(GcMisuseDeathTest, ATopBitSizeFailsWithAResultCode) {
  mps_addr_t p;
  EXPECT_EQ(mps_ap_fill(&p, ap, ~size_t(0) - 7), MPS_RES_RESOURCE);
}

// A size too large to be a real request (the top bit set) is a result
// code, MPS_RES_RESOURCE, in every build and on every class, from the
// function and macro forms of reserve alike: compat-notes.md and MMQA argerr
// 59 (a checked build must not assert). Nothing is reserved, and the
// allocation point works on.
TEST_F(GcMisuseDeathTest, ReservingATopBitSizeReturnsResourceOnEveryClass) {
  mps_fmt_t moving = nullptr;
  ASSERT_EQ(makeMovingFormat(&moving, arena), MPS_RES_OK);
  const size_t top = size_t(1) << (sizeof(size_t) * 8 - 1);
  const mps_word_t collections = mps_collections(arena);  // the arena is not parked
  for (mps_pool_class_t c : {mps_class_ams(), mps_class_lo(), mps_class_awl(), mps_class_amc(),
                             mps_class_amcz(), mps_class_snc()}) {
    mps_pool_t p2 = nullptr;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, moving);
      ASSERT_EQ(mps_pool_create_k(&p2, arena, c, args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    mps_ap_t ap2 = nullptr;
    ASSERT_EQ(mps_ap_create_k(&ap2, p2, mps_args_none), MPS_RES_OK);
    for (size_t size : {top, top + 64, ~size_t(0) - 7}) {
      mps_addr_t q = nullptr;
      EXPECT_EQ((mps_reserve)(&q, ap2, size), MPS_RES_RESOURCE) << size;
      EXPECT_EQ(mps_reserve(&q, ap2, size), MPS_RES_RESOURCE) << size;
      mps_res_t res = MPS_RES_OK;
      MPS_RESERVE_BLOCK(res, q, ap2, size);
      EXPECT_EQ(res, MPS_RES_RESOURCE) << size;
      EXPECT_EQ(ap2->init, ap2->alloc);
    }
    // Refused at once: no collection was tried to find the memory.
    EXPECT_EQ(mps_collections(arena), collections);
    EXPECT_NE(allocObject(ap2, 1, 0), nullptr);
    mps_ap_destroy(ap2);
    mps_pool_destroy(p2);
  }
  mps_fmt_destroy(moving);
}

TEST_F(GcMisuseDeathTest, DestroyingAPoolWithAllocationPoints) {
  EXPECT_DEATH(mps_pool_destroy(pool), assertionReportContaining("pool has no allocation points"));
}

TEST_F(GcMisuseDeathTest, DestroyingAFormatInUse) {
  EXPECT_DEATH(mps_fmt_destroy(fmt), assertionReportContaining("format is not used by any pool"));
}

TEST_F(GcMisuseDeathTest, DestroyingAChainInUse) {
  mps_gen_param_s gens[1] = {{1024, 0.5}};
  mps_chain_t chain;
  ASSERT_EQ(mps_chain_create(&chain, arena, 1, gens), MPS_RES_OK);
  mps_pool_t p2;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    ASSERT_EQ(mps_pool_create_k(&p2, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  EXPECT_DEATH(mps_chain_destroy(chain),
               assertionReportContaining("chain is not used by any pool"));
  mps_pool_destroy(p2);
  mps_chain_destroy(chain);
}

TEST_F(GcMisuseDeathTest, AnExactReferenceToANonObject) {
  mps_addr_t p;
  ASSERT_EQ(mps_reserve(&p, ap, objectSize(2)), MPS_RES_OK);
  static_cast<Object*>(p)->header = (2 << 8) | kObjectTag;
  static_cast<Object*>(p)->id = 1;
  static_cast<Object*>(p)->refs[0] = static_cast<Object*>(p)->refs[1] = nullptr;
  ASSERT_TRUE(mps_commit(ap, p, objectSize(2)));
  static mps_addr_t table[1];
  table[0] = static_cast<char*>(p) + 16;  // inside the object
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, 1), MPS_RES_OK);
  EXPECT_DEATH(mps_arena_collect(arena), assertionReportContaining("ss->rank == RankAMBIG"));
  mps_root_destroy(root);
}

TEST_F(GcMisuseDeathTest, BadRanksAndRootModes) {
  static mps_addr_t table[1];
  mps_root_t root;
  EXPECT_DEATH(mps_root_create_table(&root, arena, 4, 0, table, 1),
               assertionReportContaining("rank is a rank"));
  EXPECT_DEATH(mps_root_create_table(&root, arena, 2, 0, table, 1),  // the internal final rank
               assertionReportContaining("rank is a rank"));
  EXPECT_DEATH(mps_root_create_table(&root, arena, mps_rank_exact(), 8, table, 1),
               assertionReportContaining("root mode is a root mode"));
}

TEST_F(GcMisuseDeathTest, DestroyingAnArenaWithRootsOrThreads) {
  static mps_addr_t table[1];
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, 1), MPS_RES_OK);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_fmt_destroy(fmt);
  EXPECT_DEATH(mps_arena_destroy(arena), assertionReportContaining("arena has no roots"));
  mps_root_destroy(root);
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, arena), MPS_RES_OK);
  EXPECT_DEATH(mps_arena_destroy(arena), assertionReportContaining("arena has no threads"));
  mps_thread_dereg(thread);
  // Recreate what TearDown destroys.
  ASSERT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
}

TEST_F(GcMisuseDeathTest, AnAmbiguousAllocationPointWithoutAmbiguousSupport) {
  mps_pool_t p2;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_AMS_SUPPORT_AMBIGUOUS, 0);
    ASSERT_EQ(mps_pool_create_k(&p2, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t ambig;
  EXPECT_DEATH((void)mps_ap_create(&ambig, p2, mps_rank_ambig()),
               assertionReportContaining(
                   "an ambiguous allocation point needs MPS_KEY_AMS_SUPPORT_AMBIGUOUS"));
  mps_pool_destroy(p2);
}

TEST_F(GcMisuseDeathTest, ThreadRootsAreAmbiguousAndRegisterRootsUseStackScanAmbig) {
  void* cold = __builtin_frame_address(0);
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, arena), MPS_RES_OK);
  mps_root_t root;
  EXPECT_DEATH(mps_root_create_thread_tagged(&root, arena, mps_rank_exact(), 0, thread,
                                             mps_scan_area_tagged, 7, 0, cold),
               assertionReportContaining("a thread root is ambiguous"));
  EXPECT_DEATH(mps_root_create_thread_scanned(&root, arena, mps_rank_ambig(), MPS_RM_CONST, thread,
                                              mps_scan_area, nullptr, cold),
               assertionReportContaining("root mode is 0 for a thread root"));
  mps_reg_scan_t notStackScanAmbig = [](mps_ss_t, mps_thr_t, void*, size_t) -> mps_res_t {
    return MPS_RES_OK;
  };
  EXPECT_DEATH(
      mps_root_create_reg(&root, arena, mps_rank_ambig(), 0, thread, notStackScanAmbig, cold, 0),
      assertionReportContaining("reg_scan is mps_stack_scan_ambig"));
  EXPECT_DEATH(mps_stack_scan_ambig(nullptr, thread, cold, 0),
               assertionReportContaining("mps_stack_scan_ambig is only passed to "
                                         "mps_root_create_reg"));
  // Deregistering a thread that still has a root: the report names the
  // entry point, the thread and its roots.
  ASSERT_EQ(mps_root_create_thread(&root, arena, thread, cold), MPS_RES_OK);
  EXPECT_DEATH(mps_thread_dereg(thread),
               assertionReport("thread has no thread roots: destroy its roots before "
                               "deregistering it") +
                   " \\(in mps_thread_dereg: thread 0x[0-9a-f]+ has 1 thread root\\)");
  mps_root_t second;
  ASSERT_EQ(mps_root_create_thread(&second, arena, thread, cold), MPS_RES_OK);
  EXPECT_DEATH(mps_thread_dereg(thread),
               assertionReportContaining("(in mps_thread_dereg: thread 0x") +
                   "[0-9a-f]+ has 2 thread roots\\)");
  mps_root_destroy(second);
  mps_root_destroy(root);
  mps_thread_dereg(thread);
}

// Destroying the arena with a thread still registered, and its thread root
// still there: the report names the root and its thread.
TEST_F(GcMisuseDeathTest, DestroyingAnArenaWithAThreadAndItsRootLeft) {
  void* cold = __builtin_frame_address(0);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_fmt_destroy(fmt);
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, arena), MPS_RES_OK);
  mps_root_t root;
  ASSERT_EQ(mps_root_create_thread(&root, arena, thread, cold), MPS_RES_OK);
  EXPECT_DEATH(mps_arena_destroy(arena),
               assertionReport("arena has no roots: destroy every root before its arena") +
                   " \\(in mps_arena_destroy: arena 0x[0-9a-f]+; root 0x[0-9a-f]+, the thread "
                   "root of thread 0x[0-9a-f]+, is left\\)");
  mps_root_destroy(root);
  EXPECT_DEATH(mps_arena_destroy(arena),
               assertionReport("arena has no threads: deregister every thread before "
                               "destroying its arena") +
                   " \\(in mps_arena_destroy: arena 0x[0-9a-f]+; thread 0x[0-9a-f]+ is still "
                   "registered\\)");
  mps_thread_dereg(thread);
  // Recreate what TearDown destroys.
  ASSERT_EQ(makeFormat(&fmt, arena), MPS_RES_OK);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
}

#if MPS_CHECKED
// A stale allocation point: the signature check names the entry point.
TEST_F(GcMisuseDeathTest, AStaleAllocationPointIsReportedWithTheEntryPoint) {
  mps_ap_t stale = nullptr;
  ASSERT_EQ(mps_ap_create_k(&stale, pool, mps_args_none), MPS_RES_OK);
  mps_ap_destroy(stale);
  mps_addr_t p;
  EXPECT_DEATH((mps_reserve)(&p, stale, 16), assertionReport("check of Buffer toBuffer(ap)") +
                                                 " \\(in mps_reserve: handle 0x[0-9a-f]+\\)");
  mps_frame_t frame;
  EXPECT_DEATH((void)mps_ap_frame_push(&frame, stale),
               assertionReport("check of Buffer buffer") +
                   " \\(in mps_ap_frame_push: handle 0x[0-9a-f]+\\)");
}
#endif

TEST_F(GcMisuseDeathTest, WalkingAPoolOfAnUnparkedArena) {
  mps_arena_release(arena);
  EXPECT_DEATH((void)mps_pool_walk(pool, mps_scan_area, nullptr),
               assertionReportContaining("the arena is parked for mps_pool_walk"));
}

TEST_F(GcMisuseDeathTest, AnExactReferenceFromAFormattedObjectToANonObject) {
  Object* target = allocObject(ap, 1, 3);
  Object* holder = allocObject(ap, 2, 1);
  ASSERT_TRUE(target && holder);
  holder->refs[0] = reinterpret_cast<char*>(target) + 2 * sizeof(mps_word_t);  // interior
  static mps_addr_t table[1];
  table[0] = holder;
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, 1), MPS_RES_OK);
  EXPECT_DEATH(mps_arena_collect(arena), assertionReportContaining("ss->rank == RankAMBIG"));
  mps_root_destroy(root);
}

}  // namespace
}  // namespace mps::test
