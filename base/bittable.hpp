// Bit tables over caller-provided storage (the arena keeps them inside its
// chunks, so they need no allocation). Range operations work a word at a time.
#pragma once

#include "base/types.hpp"

namespace mps::core {

class BitTable {
 public:
  static constexpr Size wordsFor(Size bits) { return (bits + kWordBits - 1) / kWordBits; }
  static constexpr Size bytesFor(Size bits) { return wordsFor(bits) * sizeof(Word); }

  BitTable() = default;
  // `storage` holds bytesFor(bits) bytes; all bits start reset.
  BitTable(Word* storage, Size bits);

  Size size() const { return bits_; }
  Word* words() const { return words_; }
  bool get(Size i) const { return (words_[i / kWordBits] >> (i % kWordBits)) & 1; }
  void set(Size i) { words_[i / kWordBits] |= Word(1) << (i % kWordBits); }
  void reset(Size i) { words_[i / kWordBits] &= ~(Word(1) << (i % kWordBits)); }

  // Ranges are [base, limit).
  void setRange(Size base, Size limit);
  void resetRange(Size base, Size limit);
  bool isRangeSet(Size base, Size limit) const;
  bool isRangeReset(Size base, Size limit) const;
  Size countSet(Size base, Size limit) const;

  // Finds the lowest (or, with `high`, highest) run of `length` reset bits
  // inside [base, limit); stores its first index. False if there is none.
  bool findResetRun(Size* foundOut, Size base, Size limit, Size length, bool high) const;

  // Finds the first set (or reset) bit at or after `from` and before `limit`;
  // returns limit when there is none.
  Size nextSet(Size from, Size limit) const;
  Size nextReset(Size from, Size limit) const;
  // The last set (or reset) bit before `limit` and at or after `base`, plus
  // one; returns base when there is none.
  Size prevSetEnd(Size base, Size limit) const;
  Size prevResetEnd(Size base, Size limit) const;

 private:
  Word* words_ = nullptr;
  Size bits_ = 0;
};

}  // namespace mps::core
