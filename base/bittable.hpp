// Bit tables over caller-provided storage (the arena keeps them inside its
// chunks, so they need no allocation). Range operations work a word at a time.
#pragma once

#include <atomic>

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
  // Single bits and ranges are read and written as relaxed atomic words
  // (plain moves on the machines we build for): during a parallel
  // collection a worker that allocates to-space changes the arena's tables
  // (under a lock) while others read them without one (design/amc.md
  // .amc.tospace). Writers still exclude each other by locking.
  bool get(Size i) const { return (word(i / kWordBits).load(kRelaxed) >> (i % kWordBits)) & 1; }
  void set(Size i) { store(i / kWordBits, Word(1) << (i % kWordBits), 0); }
  void reset(Size i) { store(i / kWordBits, 0, Word(1) << (i % kWordBits)); }

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
  static constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
  std::atomic_ref<Word> word(Size w) const { return std::atomic_ref<Word>(words_[w]); }
  // words_[w] = (words_[w] | set) & ~clear, by its one writer.
  void store(Size w, Word set, Word clear) {
    std::atomic_ref<Word> a = word(w);
    a.store((a.load(kRelaxed) | set) & ~clear, kRelaxed);
  }
  Word* words_ = nullptr;
  Size bits_ = 0;
};

}  // namespace mps::core
