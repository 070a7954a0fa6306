// The message queue (messages/message.hpp) driven directly on a core arena:
// type enabling, posting, per-type and overall order, ownership, the
// preallocation that lets posting never fail, and cleanup.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "assertions.hpp"
#include "core_arena.hpp"
#include "messages/message.hpp"
#include "mpslib.h"

namespace {

using namespace mps::core;
using mps::test::ArenaGuard;
using mps::test::makeVMArena;

// A message its poster makes and owns, standing in for the finalization
// messages to come: the queue must handle it through post() and the
// discarded() hook alone.
class PostedMessage final : public Message {
 public:
  PostedMessage(MessageQueue* queue, int id) : Message(queue, MessageType::finalization), id(id) {}
  int id;
  int discards = 0;

 private:
  void discarded() override { ++discards; }
};

class MessageQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(arena.get(), nullptr);
    queue = new MessageQueue(arena.get());
  }
  void TearDown() override {
    if (queue != nullptr) finishQueue();
  }
  void finishQueue() {
    queue->finish();
    EXPECT_EQ(queue->allocatedCount(), 0u);
    delete queue;
    queue = nullptr;
  }

  // One collection as the collector reports it.
  void collection(const char* why, Size live, Size condemned, Size notCondemned) {
    ASSERT_EQ(queue->reserveForCollection(), Res::ok);
    queue->postGCStart(why);
    queue->postGC(live, condemned, notCondemned);
  }

  Message* getOrNull(MessageType type) {
    Message* m = nullptr;
    return queue->get(&m, type) ? m : nullptr;
  }

  // Drains the queue in overall order, as the Scheme example does.
  std::vector<MessageType> drainTypes() {
    std::vector<MessageType> types;
    MessageType type;
    while (queue->queueType(&type)) {
      types.push_back(type);
      Message* m = getOrNull(type);
      EXPECT_NE(m, nullptr);
      if (m == nullptr) break;
      queue->discard(m);
    }
    return types;
  }

  ArenaGuard arena{makeVMArena()};
  MessageQueue* queue = nullptr;
};

constexpr MessageType kAllTypes[] = {MessageType::finalization, MessageType::gc,
                                     MessageType::gcStart};

TEST(MessageType, ValuesMatchTheHeader) {
  EXPECT_EQ(indexOf(MessageType::finalization), unsigned(mps_message_type_finalization()));
  EXPECT_EQ(indexOf(MessageType::gc), unsigned(mps_message_type_gc()));
  EXPECT_EQ(indexOf(MessageType::gcStart), unsigned(mps_message_type_gc_start()));
  EXPECT_EQ(int(mps_message_type_finalization()), 0);
  EXPECT_EQ(int(mps_message_type_gc()), 1);
  EXPECT_EQ(int(mps_message_type_gc_start()), 2);
  EXPECT_TRUE(isMessageType(2));
  EXPECT_FALSE(isMessageType(3));
}

TEST_F(MessageQueueTest, NoTypeIsEnabledAtFirstAndNothingIsPosted) {
  for (MessageType t : kAllTypes) EXPECT_FALSE(queue->isEnabled(t));
  collection("test", 1, 2, 3);
  EXPECT_FALSE(queue->poll());
  EXPECT_EQ(queue->queuedCount(), 0u);
  MessageType type;
  EXPECT_FALSE(queue->queueType(&type));
  EXPECT_EQ(getOrNull(MessageType::gc), nullptr);
  // The reserved messages were kept for the next collection.
  EXPECT_TRUE(queue->hasSpare(MessageType::gc));
  EXPECT_TRUE(queue->hasSpare(MessageType::gcStart));
  EXPECT_EQ(queue->allocatedCount(), 2u);
  collection("again", 1, 2, 3);
  EXPECT_EQ(queue->allocatedCount(), 2u);
  EXPECT_EQ(queue->droppedCount(), 0u);
}

TEST_F(MessageQueueTest, EnableAndDisableAreIdempotent) {
  queue->enable(MessageType::gc);
  queue->enable(MessageType::gc);
  EXPECT_TRUE(queue->isEnabled(MessageType::gc));
  EXPECT_FALSE(queue->isEnabled(MessageType::gcStart));
  EXPECT_FALSE(queue->isEnabled(MessageType::finalization));
  queue->disable(MessageType::gc);
  queue->disable(MessageType::gc);
  queue->disable(MessageType::gcStart);
  for (MessageType t : kAllTypes) EXPECT_FALSE(queue->isEnabled(t));
}

TEST_F(MessageQueueTest, GetHandsOverTheMessageWithItsContents) {
  queue->enable(MessageType::gc);
  queue->enable(MessageType::gcStart);
  static const char kWhy[] = "Client requests: immediate full collection.";
  mps_clock_t before = mps_clock();
  collection(kWhy, 100, 400, 7);
  mps_clock_t after = mps_clock();
  EXPECT_TRUE(queue->poll());
  EXPECT_EQ(queue->queuedCount(), 2u);

  MessageType type;
  ASSERT_TRUE(queue->queueType(&type));
  EXPECT_EQ(type, MessageType::gcStart);
  EXPECT_EQ(getOrNull(MessageType::finalization), nullptr);

  Message* start = getOrNull(MessageType::gcStart);
  ASSERT_NE(start, nullptr);
  EXPECT_TRUE(queue->holds(start));
  EXPECT_EQ(start->type(), MessageType::gcStart);
  EXPECT_EQ(GCStartMessage::from(*start).why(), kWhy);  // the same static string
  EXPECT_GE(start->clock(), before);
  EXPECT_LE(start->clock(), after);

  Message* end = getOrNull(MessageType::gc);
  ASSERT_NE(end, nullptr);
  EXPECT_FALSE(queue->poll());
  EXPECT_EQ(queue->heldCount(), 2u);
  const GCMessage& gc = GCMessage::from(*end);
  EXPECT_EQ(gc.liveSize(), 100u);
  EXPECT_EQ(gc.condemnedSize(), 400u);
  EXPECT_EQ(gc.notCondemnedSize(), 7u);
  EXPECT_GE(end->clock(), start->clock());
  EXPECT_LE(end->clock(), after);

  queue->discard(start);
  queue->discard(end);
  EXPECT_EQ(queue->heldCount(), 0u);
  EXPECT_FALSE(queue->holds(start));
  EXPECT_FALSE(queue->poll());
}

TEST_F(MessageQueueTest, EachTypeIsFirstInFirstOutAndOverallOrderIsPostOrder) {
  queue->enable(MessageType::gc);
  queue->enable(MessageType::gcStart);
  for (Size i = 0; i < 5; ++i) collection("test", i, 10 * i, 0);
  EXPECT_EQ(queue->queuedCount(MessageType::gc), 5u);
  EXPECT_EQ(queue->queuedCount(MessageType::gcStart), 5u);

  // Taking GC messages first does not disturb the order of the rest.
  for (Size i = 0; i < 2; ++i) {
    Message* m = getOrNull(MessageType::gc);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(GCMessage::from(*m).liveSize(), i);
    queue->discard(m);
  }
  std::vector<MessageType> expected = {MessageType::gcStart, MessageType::gcStart,
                                       MessageType::gcStart, MessageType::gc,
                                       MessageType::gcStart, MessageType::gc,
                                       MessageType::gcStart, MessageType::gc};
  EXPECT_EQ(drainTypes(), expected);
  EXPECT_FALSE(queue->poll());
}

TEST_F(MessageQueueTest, ClocksFollowPostOrder) {
  queue->enable(MessageType::gc);
  for (Size i = 0; i < 4; ++i) collection("test", i, 0, 0);
  mps_clock_t last = 0;
  while (Message* m = getOrNull(MessageType::gc)) {
    EXPECT_GE(m->clock(), last);
    last = m->clock();
    queue->discard(m);
  }
}

TEST_F(MessageQueueTest, DisabledTypesAreNeverQueued) {
  queue->enable(MessageType::gc);
  collection("test", 1, 2, 3);
  EXPECT_EQ(queue->queuedCount(MessageType::gc), 1u);
  EXPECT_EQ(queue->queuedCount(MessageType::gcStart), 0u);
  EXPECT_EQ(getOrNull(MessageType::gcStart), nullptr);
  MessageType type;
  ASSERT_TRUE(queue->queueType(&type));
  EXPECT_EQ(type, MessageType::gc);

  PostedMessage fin(queue, 1);
  EXPECT_FALSE(queue->post(&fin));  // finalization is disabled: the poster keeps it
  EXPECT_EQ(fin.state(), Message::State::detached);
  EXPECT_EQ(queue->queuedCount(), 1u);
  EXPECT_EQ(fin.discards, 0);
}

TEST_F(MessageQueueTest, DisablingDiscardsQueuedMessagesOfThatTypeOnly) {
  queue->enable(MessageType::gc);
  queue->enable(MessageType::gcStart);
  collection("test", 1, 0, 0);
  Message* held = getOrNull(MessageType::gc);
  ASSERT_NE(held, nullptr);
  for (Size i = 2; i <= 4; ++i) collection("test", i, 0, 0);
  EXPECT_EQ(queue->queuedCount(MessageType::gc), 3u);

  queue->disable(MessageType::gc);
  EXPECT_EQ(queue->queuedCount(MessageType::gc), 0u);
  EXPECT_EQ(queue->queuedCount(MessageType::gcStart), 4u);
  EXPECT_EQ(getOrNull(MessageType::gc), nullptr);
  // One discarded message became the spare, the others went back to control
  // memory; the client's message is untouched.
  EXPECT_TRUE(queue->hasSpare(MessageType::gc));
  EXPECT_TRUE(queue->holds(held));
  EXPECT_EQ(GCMessage::from(*held).liveSize(), 1u);
  EXPECT_EQ(queue->allocatedCount(), 4u + 1u + 1u);  // GC start queued + spare; held; spare
  queue->discard(held);

  // Collections while disabled post nothing; enabling again starts afresh.
  collection("test", 5, 0, 0);
  EXPECT_EQ(queue->queuedCount(MessageType::gc), 0u);
  queue->enable(MessageType::gc);
  collection("test", 6, 0, 0);
  Message* m = getOrNull(MessageType::gc);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(GCMessage::from(*m).liveSize(), 6u);
  queue->discard(m);
}

TEST_F(MessageQueueTest, DiscardedMessagesAreReused) {
  queue->enable(MessageType::gc);
  queue->enable(MessageType::gcStart);
  collection("one", 1, 0, 0);
  Message* start = getOrNull(MessageType::gcStart);
  Message* end = getOrNull(MessageType::gc);
  ASSERT_NE(start, nullptr);
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(queue->allocatedCount(), 2u);
  queue->discard(start);
  queue->discard(end);
  Size committed = arena->committed();
  for (int i = 0; i < 10; ++i) {
    collection("more", Size(i), 0, 0);
    EXPECT_EQ(drainTypes().size(), 2u);
  }
  EXPECT_EQ(queue->allocatedCount(), 2u);
  EXPECT_EQ(arena->committed(), committed);
}

TEST_F(MessageQueueTest, ReservedMessagesArePostedWithTheCommitLimitReached) {
  queue->enable(MessageType::gc);
  queue->enable(MessageType::gcStart);
  ASSERT_EQ(queue->reserveForCollection(), Res::ok);

  // No more memory at all: every free control block of the messages' size
  // class is taken and nothing more may be committed.
  ASSERT_EQ(arena->setCommitLimit(arena->committed()), Res::ok);
  std::vector<void*> blocks;
  for (;;) {
    void* p;
    if (arena->controlAlloc(&p, sizeof(GCMessage)) != Res::ok) break;
    blocks.push_back(p);
    ASSERT_LT(blocks.size(), 100000u);
  }

  queue->postGCStart("test");
  queue->postGC(1, 2, 3);
  EXPECT_EQ(queue->queuedCount(), 2u);

  // The client holds both, so the next collection has to allocate: it is
  // refused before it starts, and the queue is unchanged.
  Message* start = getOrNull(MessageType::gcStart);
  Message* end = getOrNull(MessageType::gc);
  ASSERT_NE(start, nullptr);
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(queue->reserveForCollection(), Res::commitLimit);
  EXPECT_EQ(queue->heldCount(), 2u);
  EXPECT_EQ(queue->queuedCount(), 0u);

  // Discarding gives them back as spares: the next reservation needs no memory.
  queue->discard(start);
  queue->discard(end);
  ASSERT_EQ(queue->reserveForCollection(), Res::ok);
  queue->postGCStart("after");
  queue->postGC(4, 5, 6);
  EXPECT_EQ(queue->queuedCount(), 2u);

  for (void* p : blocks) arena->controlFree(p, sizeof(GCMessage));
}

TEST_F(MessageQueueTest, GCMessagesBeyondTheLimitAreNotPosted) {
  queue->enable(MessageType::gc);
  queue->enable(MessageType::gcStart);
  EXPECT_EQ(queue->gcQueueLimit(), MessageQueue::kDefaultGCQueueLimit);
  queue->setGCQueueLimit(2);
  for (Size i = 0; i < 5; ++i) collection("test", i, 0, 0);
  EXPECT_EQ(queue->queuedCount(MessageType::gc), 2u);
  EXPECT_EQ(queue->queuedCount(MessageType::gcStart), 2u);
  EXPECT_EQ(queue->droppedCount(), 6u);
  EXPECT_EQ(queue->allocatedCount(), 6u);  // 4 queued + 2 spare: no growth
  // The oldest are kept.
  Message* m = getOrNull(MessageType::gc);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(GCMessage::from(*m).liveSize(), 0u);
  queue->discard(m);
  collection("test", 9, 0, 0);
  EXPECT_EQ(queue->queuedCount(MessageType::gc), 2u);
}

TEST_F(MessageQueueTest, PostedMessagesGoThroughTheHook) {
  queue->enable(MessageType::finalization);
  queue->enable(MessageType::gc);
  PostedMessage a(queue, 1), b(queue, 2), c(queue, 3);
  EXPECT_TRUE(queue->post(&a));
  collection("between", 0, 0, 0);
  EXPECT_TRUE(queue->post(&b));
  EXPECT_TRUE(queue->post(&c));
  EXPECT_EQ(a.state(), Message::State::queued);
  EXPECT_EQ(a.clock(), 0u);  // only GC messages carry a time

  std::vector<const Message*> live;
  queue->forEachLive([&](Message* m) { live.push_back(m); });
  EXPECT_EQ(live.size(), 4u);

  Message* m = getOrNull(MessageType::finalization);
  ASSERT_EQ(m, &a);
  EXPECT_EQ(a.discards, 0);
  queue->discard(m);
  EXPECT_EQ(a.discards, 1);
  EXPECT_EQ(a.state(), Message::State::detached);

  MessageType type;
  ASSERT_TRUE(queue->queueType(&type));
  EXPECT_EQ(type, MessageType::gc);

  // A poster may take its messages back, queued or held, without the hook.
  ASSERT_EQ(getOrNull(MessageType::finalization), &b);
  queue->withdraw(&b);
  queue->withdraw(&c);
  EXPECT_EQ(b.discards + c.discards, 0);
  EXPECT_EQ(queue->queuedCount(MessageType::finalization), 0u);
  EXPECT_EQ(queue->heldCount(), 0u);

  // Disabling runs the hook of the queued ones.
  EXPECT_TRUE(queue->post(&b));
  queue->disable(MessageType::finalization);
  EXPECT_EQ(b.discards, 1);
  EXPECT_FALSE(queue->post(&c));
}

TEST_F(MessageQueueTest, FinishFreesQueuedHeldAndSpareMessages) {
  // A first round makes the control memory the messages need, a second one
  // must fit in it exactly: everything the first made was given back.
  auto round = [&] {
    queue->enable(MessageType::gc);
    queue->enable(MessageType::gcStart);
    queue->enable(MessageType::finalization);
    for (Size i = 0; i < 200; ++i) collection("test", i, 0, 0);
    Message* held[3];
    for (Message*& m : held) {
      m = getOrNull(MessageType::gc);
      ASSERT_NE(m, nullptr);
    }
    EXPECT_EQ(queue->allocatedCount(), 400u);
    PostedMessage queued(queue, 1), got(queue, 2);
    ASSERT_TRUE(queue->post(&queued));
    ASSERT_TRUE(queue->post(&got));
    ASSERT_EQ(getOrNull(MessageType::finalization), &queued);
    finishQueue();  // checks allocatedCount() == 0
    EXPECT_EQ(queued.discards, 1);
    EXPECT_EQ(got.discards, 1);
    queue = new MessageQueue(arena.get());
  };
  Size before = arena->committed();
  round();
  Size afterFirst = arena->committed();
  EXPECT_GT(afterFirst, before);
  round();
  EXPECT_EQ(arena->committed(), afterFirst);
}

TEST_F(MessageQueueTest, FinishWithNothingMadeIsFine) {
  finishQueue();
  queue = new MessageQueue(arena.get());
  queue->enable(MessageType::gc);
  ASSERT_EQ(queue->reserveForCollection(), Res::ok);
  EXPECT_EQ(queue->allocatedCount(), 2u);
}

// Misuse ----------------------------------------------------------------------------

using MessageQueueDeathTest = MessageQueueTest;

TEST_F(MessageQueueDeathTest, WrongTypeForAnAccessorIsReported) {
  queue->enable(MessageType::gc);
  queue->enable(MessageType::gcStart);
  collection("test", 1, 2, 3);
  Message* start = getOrNull(MessageType::gcStart);
  Message* end = getOrNull(MessageType::gc);
  ASSERT_NE(start, nullptr);
  ASSERT_NE(end, nullptr);
  EXPECT_DEATH((void)GCMessage::from(*start).liveSize(),
               mps::test::assertionReportContaining(
                   "the message is a GC message (mps_message_type_gc())"));
  EXPECT_DEATH((void)GCStartMessage::from(*end).why(),
               mps::test::assertionReportContaining(
                   "the message is a GC start message (mps_message_type_gc_start())"));
  queue->discard(start);
  queue->discard(end);
}

TEST_F(MessageQueueDeathTest, DiscardingTwiceIsReported) {
  queue->enable(MessageType::gc);
  collection("test", 1, 2, 3);
  Message* m = getOrNull(MessageType::gc);
  ASSERT_NE(m, nullptr);
  queue->discard(m);
  EXPECT_DEATH(queue->discard(m),
               mps::test::assertionReportContaining(
                   "the message was got from this arena's queue and not yet discarded"));
}

TEST_F(MessageQueueDeathTest, DiscardingAQueuedMessageIsReported) {
  queue->enable(MessageType::gc);
  collection("test", 1, 2, 3);
  Message* m = nullptr;
  queue->forEachLive([&](Message* live) { m = live; });
  ASSERT_NE(m, nullptr);
  EXPECT_DEATH(queue->discard(m),
               mps::test::assertionReportContaining(
                   "the message was got from this arena's queue and not yet discarded"));
}

#if MPS_CHECKED
TEST_F(MessageQueueDeathTest, PostingWithoutReservingIsReported) {
  queue->enable(MessageType::gc);
  EXPECT_DEATH(queue->postGC(1, 2, 3),
               mps::test::assertionReportContaining(
                   "the collection reserved its messages (reserveForCollection)"));
}
#endif

}  // namespace
