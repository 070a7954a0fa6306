// Ring (base/ring.hpp): intrusive doubly linked lists.

#include <gtest/gtest.h>

#include <deque>
#include <vector>

#include "assertions.hpp"
#include "base/ring.hpp"

namespace {

using mps::core::Ring;

struct Item {
  int id;
  Ring<Item> node{this};
  explicit Item(int i) : id(i) {}
};

std::vector<int> ids(Ring<Item>& head) {
  std::vector<int> out;
  head.forEach([&](Item* item) { out.push_back(item->id); });
  return out;
}

TEST(Ring, NewRingIsSingleAndConsistent) {
  Ring<Item> head;
  EXPECT_TRUE(head.isSingle());
  EXPECT_TRUE(head.check());
  EXPECT_EQ(head.length(), 0u);
  EXPECT_EQ(head.owner(), nullptr);
  Item a(1);
  EXPECT_EQ(a.node.owner(), &a);
  EXPECT_TRUE(a.node.isSingle());
}

TEST(Ring, AppendKeepsInsertionOrder) {
  Ring<Item> head;
  Item a(1), b(2), c(3);
  head.append(&a.node);
  head.append(&b.node);
  head.append(&c.node);
  EXPECT_FALSE(head.isSingle());
  EXPECT_FALSE(b.node.isSingle());
  EXPECT_EQ(head.length(), 3u);
  EXPECT_EQ(ids(head), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(head.check() && a.node.check() && b.node.check() && c.node.check());
}

TEST(Ring, RemoveUnlinksAndLeavesTheNodeSingle) {
  Ring<Item> head;
  Item a(1), b(2), c(3);
  head.append(&a.node);
  head.append(&b.node);
  head.append(&c.node);
  b.node.remove();
  EXPECT_TRUE(b.node.isSingle());
  EXPECT_TRUE(b.node.check());
  EXPECT_EQ(ids(head), (std::vector<int>{1, 3}));
  a.node.remove();
  c.node.remove();
  EXPECT_TRUE(head.isSingle());
  EXPECT_EQ(head.length(), 0u);
  // A removed node can be linked again, at the end.
  head.append(&c.node);
  head.append(&a.node);
  EXPECT_EQ(ids(head), (std::vector<int>{3, 1}));
  // Removing a single node is harmless.
  b.node.remove();
  EXPECT_TRUE(b.node.isSingle());
  EXPECT_EQ(head.length(), 2u);
}

TEST(Ring, ForEachMayRemoveTheCurrentElement) {
  Ring<Item> head;
  std::deque<Item> items;  // stable addresses: the nodes are linked in place
  for (int i = 0; i < 10; ++i)
    items.emplace_back(i);
  for (Item& item : items)
    head.append(&item.node);
  std::vector<int> seen;
  head.forEach([&](Item* item) {
    seen.push_back(item->id);
    if (item->id % 2 == 0) item->node.remove();
  });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(ids(head), (std::vector<int>{1, 3, 5, 7, 9}));
  head.forEach([](Item* item) { item->node.remove(); });
  EXPECT_TRUE(head.isSingle());
  for (Item& item : items)
    EXPECT_TRUE(item.node.isSingle());
}

TEST(Ring, ForEachOnAnEmptyRingVisitsNothing) {
  Ring<Item> head;
  int calls = 0;
  head.forEach([&](Item*) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(Ring, FirstIsTheOldestElementOrNull) {
  Ring<Item> head;
  EXPECT_EQ(head.first(), nullptr);
  Item a(1), b(2);
  head.append(&a.node);
  head.append(&b.node);
  EXPECT_EQ(head.first(), &a);
  a.node.remove();
  EXPECT_EQ(head.first(), &b);
  b.node.remove();
  EXPECT_EQ(head.first(), nullptr);
}

#if MPS_CHECKED
TEST(RingDeathTest, AppendingALinkedNodeIsCaught) {
  Ring<Item> head, other;
  Item a(1);
  other.append(&a.node);
  EXPECT_DEATH(head.append(&a.node), mps::test::assertionReport("node->isSingle()"));
}
#endif

}  // namespace
