#include "base/bittable.hpp"

#include <cstring>

#include "base/check.hpp"

namespace mps::core {

namespace {

// Bits [lo, hi) of a word set, 0 <= lo <= hi <= kWordBits.
inline Word maskBetween(unsigned lo, unsigned hi) {
  Word upper = hi == kWordBits ? ~Word(0) : (Word(1) << hi) - 1;
  return upper & ~((Word(1) << lo) - 1);
}

// Applies f(wordIndex, mask) to each word touched by [base, limit).
template <class F>
inline void forWords(Size base, Size limit, F f) {
  while (base < limit) {
    Size w = base / kWordBits;
    unsigned lo = unsigned(base % kWordBits);
    Size wordEnd = (w + 1) * kWordBits;
    unsigned hi = limit >= wordEnd ? kWordBits : unsigned(limit % kWordBits);
    if (!f(w, maskBetween(lo, hi))) return;
    base = w * kWordBits + hi;
  }
}

}  // namespace

BitTable::BitTable(Word* storage, Size bits) : words_(storage), bits_(bits) {
  std::memset(storage, 0, bytesFor(bits));
}

void BitTable::setRange(Size base, Size limit) {
  MPS_AVER(base <= limit && limit <= bits_);
  forWords(base, limit, [&](Size w, Word m) { return store(w, m, 0), true; });
}

void BitTable::resetRange(Size base, Size limit) {
  MPS_AVER(base <= limit && limit <= bits_);
  forWords(base, limit, [&](Size w, Word m) { return store(w, 0, m), true; });
}

bool BitTable::isRangeSet(Size base, Size limit) const {
  MPS_AVER(base <= limit && limit <= bits_);
  bool all = true;
  forWords(base, limit, [&](Size w, Word m) { return all = (words_[w] & m) == m; });
  return all;
}

bool BitTable::isRangeReset(Size base, Size limit) const {
  MPS_AVER(base <= limit && limit <= bits_);
  bool none = true;
  forWords(base, limit, [&](Size w, Word m) { return none = (words_[w] & m) == 0; });
  return none;
}

Size BitTable::countSet(Size base, Size limit) const {
  MPS_AVER(base <= limit && limit <= bits_);
  Size n = 0;
  forWords(base, limit, [&](Size w, Word m) {
    n += Size(__builtin_popcountl(words_[w] & m));
    return true;
  });
  return n;
}

Size BitTable::nextSet(Size from, Size limit) const {
  while (from < limit) {
    Size w = from / kWordBits;
    Word bits = words_[w] & ~((Word(1) << (from % kWordBits)) - 1);
    if (bits != 0) {
      Size i = w * kWordBits + Size(__builtin_ctzl(bits));
      return i < limit ? i : limit;
    }
    from = (w + 1) * kWordBits;
  }
  return limit;
}

Size BitTable::nextReset(Size from, Size limit) const {
  while (from < limit) {
    Size w = from / kWordBits;
    Word bits = ~words_[w] & ~((Word(1) << (from % kWordBits)) - 1);
    if (bits != 0) {
      Size i = w * kWordBits + Size(__builtin_ctzl(bits));
      return i < limit ? i : limit;
    }
    from = (w + 1) * kWordBits;
  }
  return limit;
}

Size BitTable::prevSetEnd(Size base, Size limit) const {
  while (limit > base) {
    Size w = (limit - 1) / kWordBits;
    unsigned hi = unsigned(limit - w * kWordBits);  // 1..kWordBits
    Word bits = words_[w] & maskBetween(0, hi);
    if (bits != 0) {
      Size end = w * kWordBits + Size(kWordBits - __builtin_clzl(bits));
      return end > base ? end : base;
    }
    limit = w * kWordBits;
  }
  return base;
}

Size BitTable::prevResetEnd(Size base, Size limit) const {
  while (limit > base) {
    Size w = (limit - 1) / kWordBits;
    unsigned hi = unsigned(limit - w * kWordBits);
    Word bits = ~words_[w] & maskBetween(0, hi);
    if (bits != 0) {
      Size end = w * kWordBits + Size(kWordBits - __builtin_clzl(bits));
      return end > base ? end : base;
    }
    limit = w * kWordBits;
  }
  return base;
}

bool BitTable::findResetRun(Size* foundOut, Size base, Size limit, Size length, bool high) const {
  MPS_AVER(base <= limit && limit <= bits_ && length > 0);
  if (!high) {
    Size start = nextReset(base, limit);
    while (limit - start >= length) {
      Size end = nextSet(start, start + length);
      if (end == start + length) {
        *foundOut = start;
        return true;
      }
      start = nextReset(end, limit);
    }
    return false;
  }
  Size end = prevResetEnd(base, limit);
  while (end - base >= length) {
    Size start = prevSetEnd(end - length, end);
    if (start == end - length) {
      *foundOut = start;
      return true;
    }
    end = prevResetEnd(base, start);
  }
  return false;
}

}  // namespace mps::core
