// The debugging mixin of the debugging pool classes (debugging.md;
// manual/design/debug.md): fenceposts around client blocks, the free
// template over free space, the checks and the reports. A debugging class
// derives from its plain class and holds one PoolDebug; the plain class's
// fast paths know nothing of it.
//
// Templates. A fencepost is the fence template repeated from its first byte
// over the fencepost's length; free space holds the free template repeated
// by address (byte `a` holds template[a % free_size]), so any part of free
// space, however it was split or coalesced, is checked against the same
// bytes. free_size must divide the pool alignment (a power of two), so free
// blocks, all aligned, start at the template's first byte.
//
// Reports go through the assertion mechanism in every build: finding the
// client's mistakes is the whole point of a debugging pool. Each names the
// check (the reference's condition text first, so MMQA harnesses matching
// it find it), the address of the first bad byte, and the block.
#pragma once

#include <cstdarg>

#include "base/check.hpp"
#include "base/res.hpp"
#include "base/types.hpp"
#include "mps.h"

namespace mps::core {

class Arena;

class PoolDebug {
 public:
  // The checks, named as the reports name them: the reference's condition
  // texts (debugging.md) where it has one, so that a harness matching those
  // finds them at the start of the report.
  static constexpr const char* kFenceOnFree = "fencepost check on free";
  static constexpr const char* kFenceOnRequest = "fencepost check requested by client";
  static constexpr const char* kFenceOnReclaim = "fencepost check on reclaim";
  static constexpr const char* kFenceOnDestroy = "fencepost check on destroy";
  static constexpr const char* kFreeOnReuse = "free space corrupted on reuse";
  static constexpr const char* kFreeOnRelease = "free space corrupted on release";
  static constexpr const char* kFreeOnRequest = "free space check requested by client";

  // Reads MPS_KEY_POOL_DEBUG_OPTIONS (default fence template "POST", free
  // template "FREE") for a pool of alignment `alignment`, copying the
  // templates into control memory. Misuse (a size without a template, a free
  // template whose size does not divide the alignment) is an assertion
  // naming the rule; Res::memory if control memory cannot be had.
  Res init(Arena* arena, const mps_arg_s* args, Align alignment);
  // Gives the copies back. Safe after a failed init.
  void finish();
  // The deprecated variadic creation of a debugging class: the options
  // pointer first, then the plain class's arguments, converted by `plain`.
  static void varargs(mps_arg_s* args, va_list ap, void (*plain)(mps_arg_s*, va_list));

  // The fencepost length before and after a block (the fence size rounded
  // up to the alignment), 0 without fenceposts; whether free space is
  // splatted.
  Size fenceSize() const { return fenceSize_; }
  bool splats() const { return freeSize_ != 0; }

  // Writes a fencepost over [base, base + size) (size at most
  // fenceSize() + alignment).
  void writeFence(Addr base, Size size) const;
  // The first byte of the fencepost [base, base + size) that differs from
  // the template, or null.
  Addr badFenceByte(Addr base, Size size) const;
  // Fills [base, limit) (aligned) with the free template / the first byte
  // there that differs from it, or null.
  void splat(Addr base, Addr limit) const;
  Addr badFreeByte(Addr base, Addr limit) const;

  // Reports a damaged fencepost: `check` is the condition text ("fencepost
  // check on free", ...), `bad` the first bad byte, [client, client + size)
  // the block, `function` the public entry point.
  [[noreturn]] static void fenceFail(const char* file, unsigned line, const char* check, Addr bad,
                                     Addr client, Size size, const char* function,
                                     const void* pool);
  // Reports free space overwritten: `bad` in the free range [base, limit).
  [[noreturn]] static void freeFail(const char* file, unsigned line, const char* check, Addr bad,
                                    Addr base, Addr limit, const char* function, const void* pool);

 private:
  // Images of the templates: the fence template repeated over imageSize_
  // bytes (the longest fencepost), the free template over freeImageSize_
  // bytes (a multiple of free_size, at least kFreeImageMin).
  static constexpr Size kFreeImageMin = 256;
  Arena* arena_ = nullptr;
  unsigned char* fenceImage_ = nullptr;
  Size imageSize_ = 0;
  unsigned char* freeImage_ = nullptr;
  Size freeImageSize_ = 0;
  Size fenceSize_ = 0;
  Size freeSize_ = 0;
};

// A debugging pool's record of its live blocks (MVFF debug): client address
// to the size it was allocated with, so that mps_free can check the size and
// the fenceposts can all be found. Open addressing with linear probing in
// control memory, at most half full; removal shifts entries back, so no
// tombstones accumulate. Out of the client's reach: an overrun cannot damage
// it.
class BlockTags {
 public:
  explicit BlockTags(Arena* arena) : arena_(arena) {}
  // Records a block; Res::memory if the table had to grow and could not.
  Res insert(Addr client, Size size);
  // Removes the block at `client` and returns its size, or 0 if there is
  // none (one probe sequence for mps_free's lookup and removal).
  Size remove(Addr client);
  Size count() const { return count_; }
  template <class F>
  void forEach(F&& f) const {
    for (Size i = 0; i < capacity_; ++i)
      if (slots_[i].client != nullptr) f(slots_[i].client, slots_[i].size);
  }
  void release();

 private:
  struct Slot {
    Addr client;
    Size size;
  };
  Size slotOf(Addr client) const {
    return Size((wordOf(client) >> 3) * Word(0x9E3779B97F4A7C15ull) >> (kWordBits - shift_));
  }
  Res grow();
  Arena* arena_;
  Slot* slots_ = nullptr;
  Size capacity_ = 0;  // a power of two, or 0
  Shift shift_ = 0;    // log2(capacity_)
  Size count_ = 0;
};

}  // namespace mps::core
