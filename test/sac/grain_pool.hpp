// A test-only manual pool of variable-size blocks carved from arena grains,
// so caches can be tested over a pool that takes any size (MVFF's role) and
// that checks each free against what it handed out: the size must be exactly
// the size allocated (a cache must give back class block sizes, never the
// client's size) and the block must be live (no double frees, no strays).
//
// Block memory comes only from arena grains (so arena->poolOf() knows it);
// the bookkeeping lives in ordinary containers, as it is test scaffolding.
#pragma once

#include <gtest/gtest.h>

#include <cstdarg>
#include <map>
#include <vector>

#include "arena/arena.hpp"
#include "arena/pool.hpp"
#include "base/keys.hpp"

namespace mps::test {

using core::Addr;
using core::Arena;
using core::Pool;
using core::PoolClass;
using core::Res;
using core::Size;

class GrainPool final : public Pool {
 public:
  static constexpr Size kExtentSize = 64 * 1024;

  GrainPool(Arena* arena, const PoolClass* poolClass) : Pool(arena, poolClass, 16) {}
  ~GrainPool() override {
    for (auto [base, size] : extents_)
      arena_->freeGrains(base, size);
  }
  Res init(const mps_arg_s* args) {
    alignment_ = MPS_ARG_OPTIONAL(args, ALIGN, align, core::Align(16));
    return Res::ok;
  }

  Res alloc(Addr* pOut, Size size) override {
    ++allocCalls;
    if (failAfter >= 0 && failAfter-- == 0) return Res::memory;
    EXPECT_TRUE(size > 0 && core::isAligned(size, alignment_)) << "alloc of " << size;
    Addr p;
    std::vector<Addr>& reuse = free_[size];
    if (!reuse.empty()) {
      p = reuse.back();
      reuse.pop_back();
    } else {
      if (size > Size(limit_ - next_)) {
        Size extent = core::alignUp(size > kExtentSize ? size : kExtentSize, arena_->grainSize());
        Addr base;
        Res res = arena_->allocGrains(&base, extent, this);
        if (res != Res::ok) return res;
        extents_.emplace_back(base, extent);
        total_ += extent;
        next_ = base;
        limit_ = base + extent;
      }
      p = next_;
      next_ += size;
    }
    live_[p] = size;
    allocated_ += size;
    *pOut = p;
    return Res::ok;
  }

  void free(Addr p, Size size) override {
    ++freeCalls;
    auto it = live_.find(p);
    if (it == live_.end()) {
      ADD_FAILURE() << "free of " << static_cast<void*>(p) << " (" << size
                    << " bytes): not allocated, or already freed";
      return;
    }
    if (it->second != size) {
      ADD_FAILURE() << "free of " << static_cast<void*>(p) << " with size " << size
                    << ", allocated with " << it->second;
      return;
    }
    live_.erase(it);
    allocated_ -= size;
    free_[size].push_back(p);
  }

  Size totalSize() const override { return total_; }
  Size freeSize() const override { return total_ - allocated_; }
  Size liveBlocks() const { return live_.size(); }
  Size allocatedBytes() const { return allocated_; }
  // Size the block at p was allocated with, or 0 if it is not live.
  Size liveSize(Addr p) const {
    auto it = live_.find(p);
    return it == live_.end() ? 0 : it->second;
  }

  // Instrumentation for tests.
  Size allocCalls = 0;
  Size freeCalls = 0;
  long failAfter = -1;  // >= 0: that many more allocations succeed, then Res::memory

  static void varargs(mps_arg_s* args, va_list) { args[0].key = MPS_KEY_ARGS_END; }

 private:
  std::vector<std::pair<Addr, Size>> extents_;
  Addr next_ = nullptr, limit_ = nullptr;
  Size total_ = 0, allocated_ = 0;
  std::map<Addr, Size> live_;
  std::map<Size, std::vector<Addr>> free_;
};

inline Res createGrainPool(Pool** poolOut, Arena* arena, const mps_arg_s* args);
inline Res createGrainPoolNoFree(Pool** poolOut, Arena* arena, const mps_arg_s* args);

// The pool class, and one that claims no manual allocation (an automatic
// pool's place) for the "pool must support alloc and free" rule.
inline const PoolClass kPoolClassGrain = {PoolClass::kSig, "TestGrain",
                                          core::kPoolAttrAlloc | core::kPoolAttrFree,
                                          createGrainPool, GrainPool::varargs};
inline const PoolClass kPoolClassGrainNoManual = {PoolClass::kSig, "TestGrainNoManual", 0,
                                                  createGrainPoolNoFree, GrainPool::varargs};

inline Res createGrainPool(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<GrainPool>(poolOut, arena, &kPoolClassGrain, args);
}
inline Res createGrainPoolNoFree(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<GrainPool>(poolOut, arena, &kPoolClassGrainNoManual, args);
}

}  // namespace mps::test
