// BitTable (base/bittable.hpp) against a brute-force model: every range
// operation and search, on sizes around word boundaries, with random contents
// drawn from a printed seed.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "base/bittable.hpp"
#include "seed.hpp"

namespace {

using mps::core::BitTable;
using mps::core::kWordBits;
using mps::core::Size;
using mps::core::Word;

constexpr Word kCanary = 0xC0FFEE0DDF00Dull;

// A table over its own storage with a canary word after it, beside a model.
class Table {
 public:
  explicit Table(Size bits) : storage_(BitTable::wordsFor(bits) + 1, ~Word(0)), model_(bits) {
    storage_.back() = kCanary;
    table_ = BitTable(storage_.data(), bits);
  }

  BitTable& table() { return table_; }
  std::vector<bool>& model() { return model_; }
  Size size() const { return model_.size(); }
  bool canaryIntact() const { return storage_.back() == kCanary; }

  void setRange(Size base, Size limit) {
    table_.setRange(base, limit);
    for (Size i = base; i < limit; ++i)
      model_[i] = true;
  }
  void resetRange(Size base, Size limit) {
    table_.resetRange(base, limit);
    for (Size i = base; i < limit; ++i)
      model_[i] = false;
  }

  // Model answers.
  bool modelAll(Size base, Size limit, bool value) const {
    for (Size i = base; i < limit; ++i)
      if (model_[i] != value) return false;
    return true;
  }
  Size modelCount(Size base, Size limit) const {
    Size n = 0;
    for (Size i = base; i < limit; ++i)
      n += model_[i];
    return n;
  }
  Size modelNext(Size from, Size limit, bool value) const {
    for (Size i = from; i < limit; ++i)
      if (model_[i] == value) return i;
    return limit;
  }
  Size modelPrevEnd(Size base, Size limit, bool value) const {
    for (Size i = limit; i > base; --i)
      if (model_[i - 1] == value) return i;
    return base;
  }
  bool modelFindRun(Size* found, Size base, Size limit, Size length, bool high) const {
    if (limit < base + length) return false;
    if (!high) {
      for (Size s = base; s + length <= limit; ++s)
        if (modelAll(s, s + length, false)) return *found = s, true;
    } else {
      for (Size s = limit - length + 1; s-- > base;)
        if (modelAll(s, s + length, false)) return *found = s, true;
    }
    return false;
  }

  // Every bit agrees with the model.
  ::testing::AssertionResult matchesModel() const {
    for (Size i = 0; i < size(); ++i)
      if (table_.get(i) != model_[i])
        return ::testing::AssertionFailure() << "bit " << i << " is " << table_.get(i);
    return ::testing::AssertionSuccess();
  }

 private:
  std::vector<Word> storage_;
  BitTable table_;
  std::vector<bool> model_;
};

// Sizes chosen to put range ends on, just before and just after word edges.
const Size kSizes[] = {1, 2, 63, 64, 65, 127, 128, 129, 200, 640, 1000};

TEST(BitTable, StartsResetWhateverTheStorageHeld) {
  for (Size bits : kSizes) {
    Table t(bits);  // storage was all ones before construction
    EXPECT_TRUE(t.table().isRangeReset(0, bits)) << bits;
    EXPECT_EQ(t.table().countSet(0, bits), 0u) << bits;
    EXPECT_EQ(t.table().size(), bits);
    EXPECT_TRUE(t.canaryIntact());
  }
}

TEST(BitTable, WordsForRoundsUpToWholeWords) {
  EXPECT_EQ(BitTable::wordsFor(0), 0u);
  EXPECT_EQ(BitTable::wordsFor(1), 1u);
  EXPECT_EQ(BitTable::wordsFor(kWordBits), 1u);
  EXPECT_EQ(BitTable::wordsFor(kWordBits + 1), 2u);
  EXPECT_EQ(BitTable::bytesFor(kWordBits + 1), 2 * sizeof(Word));
}

TEST(BitTable, SingleBitsAreIndependent) {
  Table t(200);
  for (Size i : {Size(0), Size(63), Size(64), Size(127), Size(128), Size(199)}) {
    t.table().set(i);
    t.model()[i] = true;
  }
  EXPECT_TRUE(t.matchesModel());
  t.table().reset(64);
  t.model()[64] = false;
  EXPECT_TRUE(t.matchesModel());
  EXPECT_EQ(t.table().countSet(0, 200), 5u);
}

TEST(BitTable, EveryRangeAcrossWordBoundaries) {
  // Exhaustive over all [base, limit) of a three-word table: set one range
  // over a reset table and reset one range over a set table.
  const Size bits = 3 * kWordBits - 5;
  for (Size base = 0; base <= bits; base += 1) {
    for (Size limit = base; limit <= bits; limit += (limit % 7) + 1) {
      Table t(bits);
      t.setRange(base, limit);
      ASSERT_TRUE(t.matchesModel()) << "setRange " << base << " " << limit;
      EXPECT_EQ(t.table().countSet(0, bits), limit - base);
      EXPECT_TRUE(t.table().isRangeSet(base, limit));
      EXPECT_EQ(t.table().isRangeReset(0, bits), base == limit);
      t.setRange(0, bits);
      t.resetRange(base, limit);
      ASSERT_TRUE(t.matchesModel()) << "resetRange " << base << " " << limit;
      EXPECT_TRUE(t.table().isRangeReset(base, limit));
      EXPECT_EQ(t.table().countSet(0, bits), bits - (limit - base));
      EXPECT_TRUE(t.canaryIntact());
    }
  }
}

TEST(BitTable, EmptyRangesAreBothSetAndReset) {
  Table t(130);
  t.setRange(10, 100);
  EXPECT_TRUE(t.table().isRangeSet(64, 64));
  EXPECT_TRUE(t.table().isRangeReset(64, 64));
  EXPECT_EQ(t.table().countSet(64, 64), 0u);
  t.setRange(5, 5);
  t.resetRange(50, 50);
  EXPECT_TRUE(t.matchesModel());
}

TEST(BitTable, FindResetRunInAFullTableFails) {
  Table t(200);
  t.setRange(0, 200);
  Size found = 12345;
  EXPECT_FALSE(t.table().findResetRun(&found, 0, 200, 1, false));
  EXPECT_FALSE(t.table().findResetRun(&found, 0, 200, 1, true));
  EXPECT_EQ(found, 12345u);
}

TEST(BitTable, FindResetRunLowAndHighPickTheExtremeRuns) {
  Table t(256);
  t.setRange(0, 256);
  t.resetRange(10, 20);    // 10 bits inside word 0
  t.resetRange(60, 70);    // 10 bits across words 0 and 1
  t.resetRange(120, 200);  // 80 bits across words 1..3
  Size found;
  ASSERT_TRUE(t.table().findResetRun(&found, 0, 256, 10, false));
  EXPECT_EQ(found, 10u);
  ASSERT_TRUE(t.table().findResetRun(&found, 0, 256, 10, true));
  EXPECT_EQ(found, 190u);  // highest start: the run ends at 200
  ASSERT_TRUE(t.table().findResetRun(&found, 0, 256, 11, false));
  EXPECT_EQ(found, 120u);
  ASSERT_TRUE(t.table().findResetRun(&found, 21, 256, 10, false));
  EXPECT_EQ(found, 60u);
  ASSERT_TRUE(t.table().findResetRun(&found, 0, 69, 5, true));
  EXPECT_EQ(found, 64u);  // limited to [0, 69): the run [64, 69)
  EXPECT_FALSE(t.table().findResetRun(&found, 0, 256, 81, false));
  EXPECT_FALSE(t.table().findResetRun(&found, 0, 256, 81, true));
  // A run exactly as long as the window.
  ASSERT_TRUE(t.table().findResetRun(&found, 120, 200, 80, true));
  EXPECT_EQ(found, 120u);
  ASSERT_TRUE(t.table().findResetRun(&found, 120, 200, 80, false));
  EXPECT_EQ(found, 120u);
}

// Random contents, then every query over random windows against the model.
TEST(BitTable, RandomizedAgainstModel) {
  mps::test::Rng rng(mps::test::testSeed(20240611));
  for (int round = 0; round < 150; ++round) {
    Size bits = kSizes[rng.below(std::size(kSizes))] + rng.below(3);
    Table t(bits);
    // Mostly-set or mostly-reset tables give short and long runs.
    bool dense = rng.below(2) == 0;
    for (int op = 0; op < 40; ++op) {
      Size a = rng.below(bits + 1), b = rng.below(bits + 1);
      if (a > b) std::swap(a, b);
      if (b - a > bits / 4 + 1 && rng.below(2)) b = a + rng.below(bits / 4 + 2);
      if (b > bits) b = bits;
      switch (rng.below(4)) {
        case 0:
          if (dense)
            t.setRange(a, b);
          else
            t.resetRange(a, b);
          break;
        case 1:
          if (dense)
            t.resetRange(a, b);
          else
            t.setRange(a, b);
          break;
        case 2:
          t.setRange(a, b);
          break;
        default:
          t.resetRange(a, b);
          break;
      }
    }
    ASSERT_TRUE(t.matchesModel()) << "round " << round;
    ASSERT_TRUE(t.canaryIntact());

    for (int q = 0; q < 200; ++q) {
      Size a = rng.below(bits + 1), b = rng.below(bits + 1);
      if (a > b) std::swap(a, b);
      const BitTable& bt = t.table();
      ASSERT_EQ(bt.isRangeSet(a, b), t.modelAll(a, b, true)) << a << " " << b;
      ASSERT_EQ(bt.isRangeReset(a, b), t.modelAll(a, b, false)) << a << " " << b;
      ASSERT_EQ(bt.countSet(a, b), t.modelCount(a, b)) << a << " " << b;
      ASSERT_EQ(bt.nextSet(a, b), t.modelNext(a, b, true)) << a << " " << b;
      ASSERT_EQ(bt.nextReset(a, b), t.modelNext(a, b, false)) << a << " " << b;
      ASSERT_EQ(bt.prevSetEnd(a, b), t.modelPrevEnd(a, b, true)) << a << " " << b;
      ASSERT_EQ(bt.prevResetEnd(a, b), t.modelPrevEnd(a, b, false)) << a << " " << b;
      Size length = 1 + rng.below(rng.below(2) ? 4 : bits);
      for (bool high : {false, true}) {
        Size found = ~Size(0), expected = ~Size(0);
        bool ok = bt.findResetRun(&found, a, b, length, high);
        bool modelOk = t.modelFindRun(&expected, a, b, length, high);
        ASSERT_EQ(ok, modelOk) << "findResetRun [" << a << ", " << b << ") length " << length
                               << (high ? " high" : " low");
        if (ok) {
          ASSERT_EQ(found, expected) << "findResetRun [" << a << ", " << b << ") length " << length
                                     << (high ? " high" : " low");
        }
      }
    }
  }
}

#if MPS_CHECKED
TEST(BitTableDeathTest, RangeBeyondTheTableIsCaught) {
  std::vector<Word> storage(BitTable::wordsFor(100));
  BitTable t(storage.data(), 100);
  EXPECT_DEATH(t.setRange(50, 101), "ASSERTION FAILED: base <= limit && limit <= bits_");
  EXPECT_DEATH(t.resetRange(60, 50), "ASSERTION FAILED: base <= limit && limit <= bits_");
  Size found;
  EXPECT_DEATH(t.findResetRun(&found, 0, 100, 0, false), "ASSERTION FAILED: .*length > 0");
}
#endif

}  // namespace
