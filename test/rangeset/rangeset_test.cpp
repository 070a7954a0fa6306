// Unit and randomized model tests of RangeSet (base/rangeset.hpp).
#include "base/rangeset.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <vector>

#include "seed.hpp"

namespace {

using mps::core::Addr;
using mps::core::Range;
using mps::core::RangeNode;
using mps::core::RangeNodeAllocator;
using mps::core::RangeSet;
using mps::core::Res;
using mps::core::Size;
using mps::core::Word;

// Ranges in these tests are never dereferenced: addresses are plain numbers.
Addr A(Word w) {
  return mps::core::addrOf(w);
}
Word W(Addr a) {
  return mps::core::wordOf(a);
}

// Nodes from malloc, counted, with failure on demand: `budget` nodes more
// may be allocated (negative: unlimited).
class TestAllocator final : public RangeNodeAllocator {
 public:
  ~TestAllocator() { EXPECT_EQ(live, 0) << "every node given back"; }
  RangeNode* allocNode() override {
    if (budget == 0) return nullptr;
    if (budget > 0) --budget;
    ++live;
    return static_cast<RangeNode*>(std::malloc(sizeof(RangeNode)));
  }
  void freeNode(RangeNode* node) override {
    --live;
    std::free(node);
  }
  long live = 0;
  long budget = -1;
};

std::vector<std::pair<Word, Word>> contents(const RangeSet& set) {
  std::vector<std::pair<Word, Word>> out;
  set.forEach([&](Range r) { out.emplace_back(W(r.base), W(r.limit)); });
  return out;
}

using Contents = std::vector<std::pair<Word, Word>>;

TEST(RangeSet, EmptySet) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  Range r;
  EXPECT_TRUE(set.isEmpty());
  EXPECT_EQ(set.count(), 0u);
  EXPECT_EQ(set.total(), 0u);
  EXPECT_FALSE(set.findFirst(&r, 1));
  EXPECT_FALSE(set.findFirst(&r, 1, true));
  EXPECT_FALSE(set.findLargest(&r));
  EXPECT_FALSE(set.findContaining(&r, A(100)));
  EXPECT_FALSE(set.overlaps(A(0), A(100)));
  EXPECT_FALSE(set.contains(A(0), A(1)));
  Addr p;
  EXPECT_FALSE(set.takeFirst(&p, 8, false, false));
  EXPECT_EQ(set.remove(A(0), A(8)), Res::fail);
  EXPECT_TRUE(set.check());
}

TEST(RangeSet, InsertCoalescesWithBothNeighbours) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  ASSERT_EQ(set.insert(A(100), A(200)), Res::ok);
  ASSERT_EQ(set.insert(A(300), A(400)), Res::ok);
  EXPECT_EQ(set.count(), 2u);
  EXPECT_EQ(alloc.live, 2);
  // Touching the lower range's limit: extends it, no new node.
  ASSERT_EQ(set.insert(A(200), A(220)), Res::ok);
  EXPECT_EQ(contents(set), (Contents{{100, 220}, {300, 400}}));
  // Touching the upper range's base.
  ASSERT_EQ(set.insert(A(280), A(300)), Res::ok);
  EXPECT_EQ(contents(set), (Contents{{100, 220}, {280, 400}}));
  EXPECT_EQ(alloc.live, 2);
  // Bridging the gap: one range, one node given back.
  ASSERT_EQ(set.insert(A(220), A(280)), Res::ok);
  EXPECT_EQ(contents(set), (Contents{{100, 400}}));
  EXPECT_EQ(set.count(), 1u);
  EXPECT_EQ(alloc.live, 1);
  EXPECT_EQ(set.total(), 300u);
  EXPECT_TRUE(set.check());
}

TEST(RangeSet, InsertDetectsEveryKindOfOverlap) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  ASSERT_EQ(set.insert(A(100), A(200)), Res::ok);
  ASSERT_EQ(set.insert(A(300), A(400)), Res::ok);
  Contents before = contents(set);
  const std::pair<Word, Word> bad[] = {
      {100, 200},  // the same range (double free)
      {150, 160},  // inside
      {50, 101},   // over the base
      {199, 250},  // over the limit
      {50, 450},   // around both
      {190, 310},  // from one into the next
      {220, 301},  // into the upper one's base
      {399, 400},  // the last unit
  };
  for (auto [b, l] : bad) {
    EXPECT_EQ(set.insert(A(b), A(l)), Res::fail) << b << ".." << l;
    EXPECT_EQ(contents(set), before);
  }
  EXPECT_EQ(set.total(), 200u);
  EXPECT_TRUE(set.check());
}

TEST(RangeSet, RemoveTrimsSplitsAndDeletes) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  ASSERT_EQ(set.insert(A(100), A(200)), Res::ok);
  ASSERT_EQ(set.remove(A(100), A(120)), Res::ok);  // low end
  ASSERT_EQ(set.remove(A(180), A(200)), Res::ok);  // high end
  EXPECT_EQ(contents(set), (Contents{{120, 180}}));
  ASSERT_EQ(set.remove(A(140), A(150)), Res::ok);  // middle: a split
  EXPECT_EQ(contents(set), (Contents{{120, 140}, {150, 180}}));
  EXPECT_EQ(alloc.live, 2);
  ASSERT_EQ(set.remove(A(120), A(140)), Res::ok);  // whole range
  EXPECT_EQ(contents(set), (Contents{{150, 180}}));
  EXPECT_EQ(alloc.live, 1);
  // Not within one range.
  EXPECT_EQ(set.remove(A(140), A(160)), Res::fail);
  EXPECT_EQ(set.remove(A(170), A(190)), Res::fail);
  EXPECT_EQ(set.remove(A(180), A(190)), Res::fail);
  EXPECT_EQ(set.remove(A(10), A(20)), Res::fail);
  EXPECT_EQ(set.total(), 30u);
  EXPECT_TRUE(set.check());
}

TEST(RangeSet, FindFirstLowAndHighUseTheMaxima) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  // Sizes 10, 50, 20, 50, 10 at increasing addresses.
  const std::pair<Word, Word> ranges[] = {
      {1000, 1010}, {2000, 2050}, {3000, 3020}, {4000, 4050}, {5000, 5010}};
  for (auto [b, l] : ranges)
    ASSERT_EQ(set.insert(A(b), A(l)), Res::ok);
  Range r;
  ASSERT_TRUE(set.findFirst(&r, 10));
  EXPECT_EQ(W(r.base), 1000u);
  ASSERT_TRUE(set.findFirst(&r, 10, true));
  EXPECT_EQ(W(r.base), 5000u);
  ASSERT_TRUE(set.findFirst(&r, 11));
  EXPECT_EQ(W(r.base), 2000u);
  ASSERT_TRUE(set.findFirst(&r, 11, true));
  EXPECT_EQ(W(r.base), 4000u);
  ASSERT_TRUE(set.findFirst(&r, 20, true));
  EXPECT_EQ(W(r.base), 4000u);
  ASSERT_TRUE(set.findFirst(&r, 50));
  EXPECT_EQ(W(r.base), 2000u);
  EXPECT_FALSE(set.findFirst(&r, 51));
  EXPECT_FALSE(set.findFirst(&r, 51, true));
  ASSERT_TRUE(set.findLargest(&r));
  EXPECT_EQ(W(r.base), 2000u);  // the lowest of the two largest
  EXPECT_EQ(r.size(), 50u);
  ASSERT_TRUE(set.findContaining(&r, A(3019)));
  EXPECT_EQ(W(r.base), 3000u);
  EXPECT_FALSE(set.findContaining(&r, A(3020)));
  EXPECT_FALSE(set.findContaining(&r, A(999)));
}

TEST(RangeSet, TakeFirstChoosesTheRangeAndTheEnd) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  ASSERT_EQ(set.insert(A(1000), A(1100)), Res::ok);
  ASSERT_EQ(set.insert(A(2000), A(2100)), Res::ok);
  Addr p;
  ASSERT_TRUE(set.takeFirst(&p, 10, false, false));  // lowest range, low end
  EXPECT_EQ(W(p), 1000u);
  ASSERT_TRUE(set.takeFirst(&p, 10, false, true));  // lowest range, high end
  EXPECT_EQ(W(p), 1090u);
  ASSERT_TRUE(set.takeFirst(&p, 10, true, false));  // highest range, low end
  EXPECT_EQ(W(p), 2000u);
  ASSERT_TRUE(set.takeFirst(&p, 10, true, true));  // highest range, high end
  EXPECT_EQ(W(p), 2090u);
  EXPECT_EQ(contents(set), (Contents{{1010, 1090}, {2010, 2090}}));
  // An exact fit deletes the node.
  ASSERT_TRUE(set.takeFirst(&p, 80, false, true));
  EXPECT_EQ(W(p), 1010u);
  EXPECT_EQ(alloc.live, 1);
  EXPECT_FALSE(set.takeFirst(&p, 81, false, true));
  EXPECT_EQ(set.total(), 80u);
  EXPECT_TRUE(set.check());
}

TEST(RangeSet, OverlapsAndContains) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  ASSERT_EQ(set.insert(A(100), A(200)), Res::ok);
  ASSERT_EQ(set.insert(A(300), A(400)), Res::ok);
  EXPECT_TRUE(set.overlaps(A(150), A(160)));
  EXPECT_TRUE(set.overlaps(A(50), A(101)));
  EXPECT_TRUE(set.overlaps(A(199), A(300)));
  EXPECT_TRUE(set.overlaps(A(0), A(1000)));
  EXPECT_FALSE(set.overlaps(A(200), A(300)));
  EXPECT_FALSE(set.overlaps(A(0), A(100)));
  EXPECT_FALSE(set.overlaps(A(400), A(500)));
  EXPECT_TRUE(set.contains(A(100), A(200)));
  EXPECT_TRUE(set.contains(A(350), A(351)));
  EXPECT_FALSE(set.contains(A(150), A(350)));
  EXPECT_FALSE(set.contains(A(99), A(150)));
  EXPECT_FALSE(set.contains(A(250), A(260)));
}

TEST(RangeSet, NodeAllocationFailureLeavesTheSetUnchanged) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  ASSERT_EQ(set.insert(A(100), A(200)), Res::ok);
  ASSERT_EQ(set.insert(A(300), A(400)), Res::ok);
  alloc.budget = 0;
  Contents before = contents(set);
  // An isolated range needs a node.
  EXPECT_EQ(set.insert(A(500), A(600)), Res::memory);
  EXPECT_EQ(contents(set), before);
  // So does splitting a range.
  EXPECT_EQ(set.remove(A(120), A(130)), Res::memory);
  EXPECT_EQ(contents(set), before);
  EXPECT_EQ(set.total(), 200u);
  EXPECT_EQ(set.count(), 2u);
  EXPECT_TRUE(set.check());
  // Overlap is still reported as such, not as a memory failure.
  EXPECT_EQ(set.insert(A(150), A(600)), Res::fail);
  // What needs no node still works: coalescing, trimming, deleting.
  EXPECT_EQ(set.insert(A(200), A(250)), Res::ok);
  EXPECT_EQ(set.insert(A(250), A(300)), Res::ok);
  EXPECT_EQ(contents(set), (Contents{{100, 400}}));
  EXPECT_EQ(set.remove(A(100), A(150)), Res::ok);
  Addr p;
  EXPECT_TRUE(set.takeFirst(&p, 250, false, false));
  EXPECT_TRUE(set.isEmpty());
  EXPECT_TRUE(set.check());
  alloc.budget = -1;
  EXPECT_EQ(set.insert(A(500), A(600)), Res::ok);
}

TEST(RangeSet, ClearGivesEveryNodeBack) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  for (Word i = 0; i < 1000; ++i)
    ASSERT_EQ(set.insert(A(i * 100), A(i * 100 + 50)), Res::ok);
  EXPECT_EQ(alloc.live, 1000);
  set.clear();
  EXPECT_EQ(alloc.live, 0);
  EXPECT_TRUE(set.isEmpty());
  EXPECT_EQ(set.total(), 0u);
  EXPECT_TRUE(set.check());
}

TEST(RangeSet, ForEachStopsWhenAsked) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  for (Word i = 1; i <= 10; ++i)
    ASSERT_EQ(set.insert(A(i * 100), A(i * 100 + 50)), Res::ok);
  int seen = 0;
  EXPECT_FALSE(set.forEach([&](Range) { return ++seen < 3; }));
  EXPECT_EQ(seen, 3);
  EXPECT_TRUE(set.forEach([](Range) { return true; }));
}

// Ascending insertion is the worst case for an unbalanced tree (a list):
// with 200000 ranges that would take ~10^10 steps; balanced it is instant.
// The first-fit searches at the end each cross the whole address range.
TEST(RangeSet, StaysBalancedUnderSequentialInsertion) {
  TestAllocator alloc;
  RangeSet set(&alloc);
  constexpr Word kN = 200000;
  for (Word i = 0; i < kN; ++i)
    ASSERT_EQ(set.insert(A(i * 64), A(i * 64 + 32)), Res::ok);
  ASSERT_EQ(set.insert(A(kN * 64), A(kN * 64 + 4096)), Res::ok);
  EXPECT_TRUE(set.check());
  Range r;
  for (Word i = 0; i < kN; ++i) {
    ASSERT_TRUE(set.findFirst(&r, 33));
    ASSERT_EQ(W(r.base), kN * 64);
  }
  for (Word i = kN; i-- > 0;)
    ASSERT_EQ(set.remove(A(i * 64), A(i * 64 + 32)), Res::ok);
  EXPECT_EQ(set.count(), 1u);
  EXPECT_TRUE(set.check());
}

// The model: a std::map from base to limit, kept coalesced by hand, and
// searched linearly.
class Model {
 public:
  bool overlaps(Word b, Word l) const {
    auto it = m_.lower_bound(l);
    if (it == m_.begin()) return false;
    --it;
    return it->second > b;
  }
  void insert(Word b, Word l) {
    auto next = m_.lower_bound(b);
    if (next != m_.end() && next->first == l) {
      l = next->second;
      next = m_.erase(next);
    }
    if (next != m_.begin()) {
      auto prev = std::prev(next);
      if (prev->second == b) {
        prev->second = l;
        return;
      }
    }
    m_[b] = l;
  }
  // The range holding [b, l), or end().
  std::map<Word, Word>::const_iterator holding(Word b, Word l) const {
    auto it = m_.upper_bound(b);
    if (it == m_.begin()) return m_.end();
    --it;
    return it->second >= l && it->second > b ? it : m_.end();
  }
  void remove(Word b, Word l) {
    auto it = m_.upper_bound(b);
    --it;
    Word base = it->first, limit = it->second;
    m_.erase(it);
    if (base < b) m_[base] = b;
    if (l < limit) m_[l] = limit;
  }
  bool findFirst(Word* b, Word* l, Size size, bool high) const {
    if (high) {
      for (auto it = m_.rbegin(); it != m_.rend(); ++it)
        if (it->second - it->first >= size) return *b = it->first, *l = it->second, true;
    } else {
      for (auto& [base, limit] : m_)
        if (limit - base >= size) return *b = base, *l = limit, true;
    }
    return false;
  }
  Size total() const {
    Size t = 0;
    for (auto& [b, l] : m_)
      t += l - b;
    return t;
  }
  const std::map<Word, Word>& map() const { return m_; }

 private:
  std::map<Word, Word> m_;
};

TEST(RangeSet, RandomOperationsMatchAModel) {
  mps::test::Rng rng(mps::test::testSeed(0x5E7A11CE));
  TestAllocator alloc;
  RangeSet set(&alloc);
  Model model;
  constexpr Word kBase = 0x100000, kUnits = 4096, kUnit = 16;
  for (int step = 0; step < 40000; ++step) {
    // Node allocation fails now and then; the set must stay exact.
    alloc.budget = rng.below(8) == 0 ? 0 : -1;
    unsigned op = unsigned(rng.below(10));
    if (op < 4) {
      Word b = kBase + rng.below(kUnits) * kUnit;
      Word l = b + rng.between(1, 16) * kUnit;
      Res res = set.insert(A(b), A(l));
      if (model.overlaps(b, l)) {
        ASSERT_EQ(res, Res::fail);
      } else if (res == Res::memory) {
        ASSERT_EQ(alloc.budget, 0);
      } else {
        ASSERT_EQ(res, Res::ok);
        model.insert(b, l);
      }
    } else if (op < 7 && !model.map().empty()) {
      // Remove a random subrange of a random present range (found through
      // the model by a random address), or a range that is not held.
      Word probe = kBase + rng.below(kUnits) * kUnit;
      auto it = model.map().upper_bound(probe);
      if (it != model.map().begin()) --it;
      Word units = (it->second - it->first) / kUnit;
      Word b = it->first + rng.below(units) * kUnit;
      Word l = b + rng.between(1, (it->second - b) / kUnit) * kUnit;
      if (rng.below(10) == 0) l += kUnit;  // sometimes too long
      Res res = set.remove(A(b), A(l));
      if (model.holding(b, l) == model.map().end()) {
        ASSERT_EQ(res, Res::fail);
      } else if (res == Res::memory) {
        ASSERT_EQ(alloc.budget, 0);
        ASSERT_TRUE(it->first < b && l < it->second) << "only a split needs a node";
      } else {
        ASSERT_EQ(res, Res::ok);
        model.remove(b, l);
      }
    } else if (op < 9) {
      Size size = rng.between(1, 24) * kUnit;
      bool searchHigh = rng.below(2) != 0, fromHighEnd = rng.below(2) != 0;
      Word mb, ml;
      bool expected = model.findFirst(&mb, &ml, size, searchHigh);
      Range r;
      ASSERT_EQ(set.findFirst(&r, size, searchHigh), expected);
      if (expected) {
        ASSERT_EQ(W(r.base), mb);
        ASSERT_EQ(W(r.limit), ml);
        Addr p;
        ASSERT_TRUE(set.takeFirst(&p, size, searchHigh, fromHighEnd));
        Word taken = fromHighEnd ? ml - size : mb;
        ASSERT_EQ(W(p), taken);
        model.remove(taken, taken + size);
      }
    } else {
      Word b = kBase + rng.below(kUnits) * kUnit;
      Word l = b + rng.between(1, 32) * kUnit;
      ASSERT_EQ(set.overlaps(A(b), A(l)), model.overlaps(b, l));
      ASSERT_EQ(set.contains(A(b), A(l)), model.holding(b, l) != model.map().end());
      Range r;
      Word lb, ll;
      bool any = model.findFirst(&lb, &ll, 1, false);
      ASSERT_EQ(set.findLargest(&r), any);
      if (any) {
        Size largest = 0;
        Word largestBase = 0;
        for (auto& [mb, ml] : model.map())
          if (ml - mb > largest) largest = ml - mb, largestBase = mb;
        ASSERT_EQ(W(r.base), largestBase);
      }
    }
    ASSERT_TRUE(set.check());
    ASSERT_EQ(set.total(), model.total());
    ASSERT_EQ(set.count(), model.map().size());
    ASSERT_EQ(Size(alloc.live), set.count());
    if (step % 1000 == 0) {
      Contents expected(model.map().begin(), model.map().end());
      ASSERT_EQ(contents(set), expected);
    }
  }
  alloc.budget = -1;
}

}  // namespace
