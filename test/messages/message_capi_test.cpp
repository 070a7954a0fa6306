// The message C interface (api/message.cpp, messages.md) on arenas made by
// mps_arena_create_k. Collections are played through the collector's queue
// (as the tracer reports them) so every field is known; one test runs a real
// mps_arena_collect.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "assertions.hpp"
#include "messages/message.hpp"
#include "mps.h"
#include "mpsavm.h"
#include "mpslib.h"
#include "tracer/collector.hpp"

namespace {

using mps::core::Arena;
using mps::core::Collector;
using mps::core::MessageQueue;
using mps::core::Res;
using mps::core::Size;

class MessageCApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  }
  void TearDown() override {
    if (arena != nullptr) mps_arena_destroy(arena);
  }

  // One collection as the tracer reports it, under the arena lock.
  void collection(const char* why, Size live, Size condemned, Size notCondemned) {
    Arena* a = reinterpret_cast<Arena*>(arena);
    a->lock().claim();
    MessageQueue& queue = Collector::of(a)->messages();
    Res res = queue.reserveForCollection();
    if (res == Res::ok) {
      queue.postGCStart(why);
      queue.postGC(live, condemned, notCondemned);
    }
    a->lock().release();
    ASSERT_EQ(res, Res::ok);
  }

  void enableGCMessages() {
    mps_message_type_enable(arena, mps_message_type_gc());
    mps_message_type_enable(arena, mps_message_type_gc_start());
  }

  mps_message_t get(mps_message_type_t type) {
    mps_message_t message = nullptr;
    return mps_message_get(&message, arena, type) ? message : nullptr;
  }

  mps_arena_t arena = nullptr;
};

TEST_F(MessageCApiTest, NothingIsPostedUntilATypeIsEnabled) {
  collection("test", 1, 2, 3);
  EXPECT_FALSE(mps_message_poll(arena));
  mps_message_type_t type = 99;
  EXPECT_FALSE(mps_message_queue_type(&type, arena));
  EXPECT_EQ(type, 99u);
  mps_message_t message = reinterpret_cast<mps_message_t>(&type);
  EXPECT_FALSE(mps_message_get(&message, arena, mps_message_type_gc()));
  EXPECT_EQ(message, reinterpret_cast<mps_message_t>(&type));  // untouched
}

TEST_F(MessageCApiTest, GCStartAndGCMessagesCarryTheirFields) {
  enableGCMessages();
  static const char kWhy[] = "Client requests: immediate full collection.";
  mps_clock_t before = mps_clock();
  collection(kWhy, 1000, 4000, 16);
  EXPECT_TRUE(mps_message_poll(arena));

  mps_message_type_t type;
  ASSERT_TRUE(mps_message_queue_type(&type, arena));
  EXPECT_EQ(type, mps_message_type_gc_start());
  mps_message_t start = get(type);
  ASSERT_NE(start, nullptr);
  EXPECT_EQ(mps_message_type(arena, start), mps_message_type_gc_start());
  EXPECT_STREQ(mps_message_gc_start_why(arena, start), kWhy);
  EXPECT_GE(mps_message_clock(arena, start), before);

  ASSERT_TRUE(mps_message_queue_type(&type, arena));
  EXPECT_EQ(type, mps_message_type_gc());
  mps_message_t end = get(type);
  ASSERT_NE(end, nullptr);
  EXPECT_FALSE(mps_message_poll(arena));
  EXPECT_EQ(mps_message_type(arena, end), mps_message_type_gc());
  EXPECT_EQ(mps_message_gc_live_size(arena, end), 1000u);
  EXPECT_EQ(mps_message_gc_condemned_size(arena, end), 4000u);
  EXPECT_EQ(mps_message_gc_not_condemned_size(arena, end), 16u);
  EXPECT_GE(mps_message_clock(arena, end), mps_message_clock(arena, start));
  EXPECT_LE(mps_message_clock(arena, end), mps_clock());

  mps_message_discard(arena, start);
  mps_message_discard(arena, end);
  EXPECT_FALSE(mps_message_poll(arena));
}

TEST_F(MessageCApiTest, TheSchemeLoopSeesEveryMessageInPostOrder) {
  enableGCMessages();
  for (Size i = 0; i < 3; ++i) collection("test", i, 0, 0);
  std::vector<mps_message_type_t> types;
  std::vector<size_t> lives;
  mps_message_type_t type;
  while (mps_message_queue_type(&type, arena)) {
    mps_message_t message;
    ASSERT_TRUE(mps_message_get(&message, arena, type));
    types.push_back(mps_message_type(arena, message));
    if (type == mps_message_type_gc()) lives.push_back(mps_message_gc_live_size(arena, message));
    mps_message_discard(arena, message);
  }
  std::vector<mps_message_type_t> expected;
  for (int i = 0; i < 3; ++i) {
    expected.push_back(mps_message_type_gc_start());
    expected.push_back(mps_message_type_gc());
  }
  EXPECT_EQ(types, expected);
  EXPECT_EQ(lives, (std::vector<size_t>{0, 1, 2}));
}

TEST_F(MessageCApiTest, DisablingATypeDiscardsItsQueuedMessages) {
  enableGCMessages();
  collection("test", 1, 0, 0);
  collection("test", 2, 0, 0);
  mps_message_type_disable(arena, mps_message_type_gc_start());
  mps_message_type_disable(arena, mps_message_type_gc_start());  // no-op
  mps_message_type_t type;
  ASSERT_TRUE(mps_message_queue_type(&type, arena));
  EXPECT_EQ(type, mps_message_type_gc());
  EXPECT_EQ(get(mps_message_type_gc_start()), nullptr);
  collection("test", 3, 0, 0);
  int count = 0;
  while (mps_message_t m = get(mps_message_type_gc())) {
    ++count;
    mps_message_discard(arena, m);
  }
  EXPECT_EQ(count, 3);
  EXPECT_FALSE(mps_message_poll(arena));
}

TEST_F(MessageCApiTest, DestroyingTheArenaFreesQueuedAndHeldMessages) {
  enableGCMessages();
  mps_message_type_enable(arena, mps_message_type_finalization());
  for (Size i = 0; i < 10; ++i) collection("test", i, 0, 0);
  ASSERT_NE(get(mps_message_type_gc()), nullptr);  // held, never discarded
  mps_arena_destroy(arena);
  arena = nullptr;
}

TEST_F(MessageCApiTest, ArenaCollectPostsAStartAndAnEndMessage) {
  enableGCMessages();
  mps_word_t collections = mps_collections(arena);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_arena_release(arena);
  EXPECT_EQ(mps_collections(arena), collections + 1);
  mps_message_type_t type;
  ASSERT_TRUE(mps_message_queue_type(&type, arena));
  EXPECT_EQ(type, mps_message_type_gc_start());
  mps_message_t start = get(mps_message_type_gc_start());
  ASSERT_NE(start, nullptr);
  const char* why = mps_message_gc_start_why(arena, start);
  ASSERT_NE(why, nullptr);
  EXPECT_GT(std::strlen(why), 0u);
  mps_message_t end = get(mps_message_type_gc());
  ASSERT_NE(end, nullptr);
  EXPECT_GE(mps_message_clock(arena, end), mps_message_clock(arena, start));
  EXPECT_LE(mps_message_gc_live_size(arena, end), mps_message_gc_condemned_size(arena, end));
  EXPECT_FALSE(mps_message_poll(arena));
  mps_message_discard(arena, start);
  mps_message_discard(arena, end);

  // Disabled types are not posted by later collections.
  mps_message_type_disable(arena, mps_message_type_gc_start());
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_arena_release(arena);
  EXPECT_EQ(get(mps_message_type_gc_start()), nullptr);
  end = get(mps_message_type_gc());
  ASSERT_NE(end, nullptr);
  mps_message_discard(arena, end);
}

// Misuse ----------------------------------------------------------------------------

using MessageCApiDeathTest = MessageCApiTest;

TEST_F(MessageCApiDeathTest, AccessorsOfTheWrongTypeAreReported) {
  enableGCMessages();
  collection("test", 1, 2, 3);
  mps_message_t start = get(mps_message_type_gc_start());
  mps_message_t end = get(mps_message_type_gc());
  ASSERT_NE(start, nullptr);
  ASSERT_NE(end, nullptr);
  const std::string notGC = mps::test::assertionReportContaining(
      "the message is a GC message (mps_message_type_gc())");
  EXPECT_DEATH((void)mps_message_gc_live_size(arena, start), notGC);
  EXPECT_DEATH((void)mps_message_gc_condemned_size(arena, start), notGC);
  EXPECT_DEATH((void)mps_message_gc_not_condemned_size(arena, start), notGC);
  EXPECT_DEATH((void)mps_message_gc_start_why(arena, end),
               mps::test::assertionReportContaining(
                   "the message is a GC start message (mps_message_type_gc_start())"));
  mps_message_discard(arena, start);
  mps_message_discard(arena, end);
}

TEST_F(MessageCApiDeathTest, UnknownMessageTypesAreReported) {
  const std::string report = mps::test::assertionReportContaining(
      "message type is mps_message_type_finalization(), _gc() or _gc_start()");
  EXPECT_DEATH(mps_message_type_enable(arena, 3), report);
  EXPECT_DEATH(mps_message_type_disable(arena, 1000), report);
  mps_message_t message;
  EXPECT_DEATH((void)mps_message_get(&message, arena, 7), report);
}

TEST_F(MessageCApiDeathTest, DiscardingTwiceIsReported) {
  enableGCMessages();
  collection("test", 1, 2, 3);
  mps_message_t end = get(mps_message_type_gc());
  ASSERT_NE(end, nullptr);
  mps_message_discard(arena, end);
  EXPECT_DEATH(mps_message_discard(arena, end),
               mps::test::assertionReportContaining(
                   "the message was got from this arena's queue and not yet discarded"));
}

#if MPS_CHECKED
TEST_F(MessageCApiDeathTest, ADiscardedOrForeignMessageIsReportedByTheAccessors) {
  enableGCMessages();
  collection("test", 1, 2, 3);
  mps_message_t end = get(mps_message_type_gc());
  ASSERT_NE(end, nullptr);
  const std::string report = mps::test::assertionReportContaining(
      "the message was got from this arena's queue and not yet discarded");

  mps_arena_t other;
  ASSERT_EQ(mps_arena_create_k(&other, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  EXPECT_DEATH((void)mps_message_type(other, end), report);
  EXPECT_DEATH(mps_message_discard(other, end), report);
  mps_arena_destroy(other);

  mps_message_discard(arena, end);
  EXPECT_DEATH((void)mps_message_clock(arena, end), report);
  EXPECT_DEATH((void)mps_message_gc_live_size(arena, end), report);
}
#endif

}  // namespace
