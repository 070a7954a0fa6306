// Basic scalar types of the core and the address arithmetic on them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/config.hpp"

namespace mps::core {

using Addr = std::byte*;  // an address in managed memory
using Word = std::uintptr_t;
using Size = std::size_t;
using Align = std::size_t;  // always a power of two
using Shift = unsigned;

constexpr unsigned kWordBits = sizeof(Word) * 8;

constexpr bool isPowerOfTwo(Word x) { return x != 0 && (x & (x - 1)) == 0; }
constexpr Word alignUp(Word x, Align a) { return (x + a - 1) & ~(Word(a) - 1); }
constexpr Word alignDown(Word x, Align a) { return x & ~(Word(a) - 1); }
constexpr bool isAligned(Word x, Align a) { return (x & (a - 1)) == 0; }
constexpr Shift log2(Word x) { return unsigned(kWordBits - 1 - __builtin_clzl(x)); }

inline Addr addrOf(Word w) { return reinterpret_cast<Addr>(w); }
inline Word wordOf(const void* p) { return reinterpret_cast<Word>(p); }
inline Addr alignUp(Addr p, Align a) { return addrOf(alignUp(wordOf(p), a)); }
inline Addr alignDown(Addr p, Align a) { return addrOf(alignDown(wordOf(p), a)); }
inline bool isAligned(const void* p, Align a) { return isAligned(wordOf(p), a); }

// True when size + a rounded up would overflow: such sizes cannot be satisfied
// and must fail with a result code, never wrap.
constexpr bool sizeTooLarge(Size size, Align a) { return size > ~Size(0) - a; }

}  // namespace mps::core
