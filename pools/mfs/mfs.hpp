// MFS: manual pool of fixed-size units (pools-mfs.md).
//
// Free units form a stack linked through their first word, so alloc and free
// are a pop and a push. Memory comes from the arena in extents of
// `extendBy` bytes and goes back only when the pool is destroyed, so the pool
// never holds more than its peak population (plus one extent).
#pragma once

#include "arena/arena.hpp"
#include "arena/pool.hpp"

namespace mps::core {

class MFSPool final : public Pool {
 public:
  static constexpr Size kDefaultExtendBy = 65536;

  MFSPool(Arena* arena, const PoolClass* poolClass);
  ~MFSPool() override;
  Res init(const mps_arg_s* args);

  MPS_FORCE_INLINE Res alloc(Addr* pOut, Size size) override {
    MPS_AVER_ALWAYS(size == unroundedUnitSize_);
    return allocUnit(pOut);
  }

  void free(Addr p, Size size) override {
    MPS_AVER_ALWAYS(size == unroundedUnitSize_);
    MPS_AVER_ALWAYS(p != nullptr && isAligned(p, alignment_));
    MPS_AVER(arena_->poolOf(p) == this);
    freeUnit(p);
  }

  // The fast paths: a pop and a push, with the extension out of line.
  MPS_FORCE_INLINE Res allocUnit(Addr* pOut) {
    if (MPS_UNLIKELY(freeList_ == nullptr)) {
      Res res = extend();
      if (res != Res::ok) return res;
    }
    FreeUnit* unit = freeList_;
    freeList_ = unit->next;
    --freeUnits_;
    *pOut = reinterpret_cast<Addr>(unit);
    return Res::ok;
  }
  MPS_FORCE_INLINE void freeUnit(Addr p) {
    FreeUnit* unit = reinterpret_cast<FreeUnit*>(p);
    unit->next = freeList_;
    freeList_ = unit;
    ++freeUnits_;
  }

  Size totalSize() const override { return totalSize_; }
  Size freeSize() const override { return freeUnits_ * unitSize_; }
  bool check() const override;
  Size fixedSize() const override { return unroundedUnitSize_; }

  Size unitSize() const { return unitSize_; }
  Size unroundedUnitSize() const { return unroundedUnitSize_; }

  // Deprecated variadic creation: extend-by, then unit size.
  static void varargs(mps_arg_s* args, va_list ap);

 private:
  struct FreeUnit {
    FreeUnit* next;
  };
  // Extents are linked through a header at their base so finish() can give
  // them back without another data structure.
  struct Extent {
    Extent* next;
    Size size;
  };

  MPS_NOINLINE Res extend();

  Size unroundedUnitSize_ = 0;  // what clients pass to alloc and free
  Size unitSize_ = 0;           // rounded to the alignment, at least a word
  Size extendBy_ = 0;
  FreeUnit* freeList_ = nullptr;
  Size freeUnits_ = 0;
  Size totalSize_ = 0;
  Extent* extents_ = nullptr;
};

extern const PoolClass kPoolClassMFS;

}  // namespace mps::core
