#include "pools/mfs/mfs.hpp"

#include "base/keys.hpp"
#include "mpscmfs.h"
#include "mpstd.h"

namespace mps::core {

namespace {

Res createMFS(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<MFSPool>(poolOut, arena, &kPoolClassMFS, args);
}

// MFS units are aligned like any general-purpose allocation.
constexpr Align kMFSAlign = MPS_PF_ALIGN;

}  // namespace

const PoolClass kPoolClassMFS = {PoolClass::kSig, "MFS", kPoolAttrAlloc | kPoolAttrFree,
                                 createMFS, MFSPool::varargs};

MFSPool::MFSPool(Arena* arena, const PoolClass* poolClass) : Pool(arena, poolClass, kMFSAlign) {}

Res MFSPool::init(const mps_arg_s* args) {
  unroundedUnitSize_ = MPS_ARG_REQUIRED(args, MFS_UNIT_SIZE, size);
  extendBy_ = MPS_ARG_OPTIONAL(args, EXTEND_BY, size, kDefaultExtendBy);
  MPS_AVER_ALWAYS(unroundedUnitSize_ > 0);
  MPS_AVER_ALWAYS(extendBy_ > 0);
  if (sizeTooLarge(unroundedUnitSize_, arena_->grainSize())) return Res::resource;
  Size unit = unroundedUnitSize_ < sizeof(FreeUnit) ? sizeof(FreeUnit) : unroundedUnitSize_;
  unitSize_ = alignUp(unit, alignment_);
  Size header = alignUp(sizeof(Extent), alignment_);
  // An extent holds at least one unit beside its header; round to grains.
  if (extendBy_ < header + unitSize_) extendBy_ = header + unitSize_;
  if (sizeTooLarge(extendBy_, arena_->grainSize())) return Res::resource;
  extendBy_ = alignUp(extendBy_, arena_->grainSize());
  return Res::ok;
}

MFSPool::~MFSPool() {
  while (extents_ != nullptr) {
    Extent* extent = extents_;
    extents_ = extent->next;
    arena_->freeGrains(reinterpret_cast<Addr>(extent), extent->size);
  }
}

Res MFSPool::extend() {
  Addr base;
  Res res = arena_->allocGrains(&base, extendBy_, this);
  if (res != Res::ok) return res;
  Extent* extent = reinterpret_cast<Extent*>(base);
  extent->next = extents_;
  extent->size = extendBy_;
  extents_ = extent;
  totalSize_ += extendBy_;
  // Push the units highest first so that allocation proceeds upwards.
  Addr first = base + alignUp(sizeof(Extent), alignment_);
  Size count = Size(base + extendBy_ - first) / unitSize_;
  for (Size i = count; i-- > 0;) freeUnit(first + i * unitSize_);
  return Res::ok;
}

bool MFSPool::check() const {
  MPS_CHECKL(Pool::check());
  MPS_CHECKL(unitSize_ >= unroundedUnitSize_ && isAligned(unitSize_, alignment_));
  MPS_CHECKL(unitSize_ >= sizeof(FreeUnit));
  MPS_CHECKL(extendBy_ >= unitSize_ && isAligned(extendBy_, arena_->grainSize()));
  MPS_CHECKL(freeUnits_ * unitSize_ <= totalSize_);
  return true;
}

void MFSPool::varargs(mps_arg_s* args, va_list ap) {
  args[0].key = MPS_KEY_EXTEND_BY;
  args[0].val.size = va_arg(ap, size_t);
  args[1].key = MPS_KEY_MFS_UNIT_SIZE;
  args[1].val.size = va_arg(ap, size_t);
  args[2].key = MPS_KEY_ARGS_END;
}

}  // namespace mps::core
