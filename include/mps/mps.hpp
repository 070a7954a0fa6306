// MPS++ C++ interface: RAII ownership over the same core as the C interface.
//
//   mps::Arena arena;
//   if (mps::Result r = mps::Arena::createVM(arena); !r) ...;
//   mps::VariablePool pool;
//   mps::VariablePool::create(pool, arena);
//   void* p;
//   if (pool.alloc(p, 100)) ... pool.free(p, 100);
//
// Errors are results (mps::Result), never exceptions, so the allocation paths
// stay as cheap as the C ones: every call here is an inline call to the C entry
// point, and the cache fast paths are inline too. Objects own their handle,
// move but do not copy, and destroy it in the destructor; destroy them in the
// reverse order of creation (caches, then pools, then the arena), as the C
// interface requires. handle() gives the C handle for mixing both interfaces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "mps.h"
#include "mpsacl.h"
#include "mpsavm.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpstd.h"

namespace mps {

// The outcome of an operation. Converts to true on success.
class Result {
 public:
  enum Code : int {
    ok = MPS_RES_OK,
    fail = MPS_RES_FAIL,
    resource = MPS_RES_RESOURCE,
    memory = MPS_RES_MEMORY,
    limit = MPS_RES_LIMIT,
    unimpl = MPS_RES_UNIMPL,
    io = MPS_RES_IO,
    commitLimit = MPS_RES_COMMIT_LIMIT,
    param = MPS_RES_PARAM,
  };
  constexpr Result(mps_res_t code = MPS_RES_OK) : code_(Code(code)) {}
  constexpr explicit operator bool() const { return code_ == ok; }
  constexpr Code code() const { return code_; }
  constexpr bool operator==(Code c) const { return code_ == c; }
  // A short name: "ok", "commit limit", ...
  const char* name() const;

 private:
  Code code_;
};

inline const char* Result::name() const {
  switch (code_) {
    case ok:
      return "ok";
    case fail:
      return "failure";
    case resource:
      return "resource";
    case memory:
      return "memory";
    case limit:
      return "limit";
    case unimpl:
      return "unimplemented";
    case io:
      return "i/o";
    case commitLimit:
      return "commit limit";
    case param:
      return "parameter";
  }
  return "unknown";
}

namespace detail {

// A keyword argument list built in place; add() keeps it terminated.
class ArgList {
 public:
  ArgList() { args_[0].key = MPS_KEY_ARGS_END; }
  ArgList& size(mps_key_t key, std::size_t v) { return next(key).val.size = v, *this; }
  ArgList& real(mps_key_t key, double v) { return next(key).val.d = v, *this; }
  ArgList& boolean(mps_key_t key, bool v) { return next(key).val.b = v, *this; }
  ArgList& addr(mps_key_t key, void* v) { return next(key).val.addr = v, *this; }
  operator mps_arg_s*() { return args_; }

 private:
  mps_arg_s& next(mps_key_t key) {
    mps_arg_s& arg = args_[count_];
    arg.key = key;
    args_[++count_].key = MPS_KEY_ARGS_END;
    return arg;
  }

  mps_arg_s args_[16];
  int count_ = 0;
};

// Owns a C handle of type H, destroyed by D.
template <class H, void (*Destroy)(H)>
class Owner {
 public:
  Owner() = default;
  Owner(Owner&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Owner& operator=(Owner&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Owner() { reset(); }
  Owner(const Owner&) = delete;
  Owner& operator=(const Owner&) = delete;

  H handle() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }
  // Destroys the object now (also done by the destructor).
  void reset() {
    if (handle_ != nullptr) Destroy(std::exchange(handle_, nullptr));
  }

 protected:
  H handle_ = nullptr;
};

}  // namespace detail

struct VMArenaOptions {
  std::size_t reserve = std::size_t(1) << 28;  // initial address space
  std::size_t commitLimit = SIZE_MAX;
  double spare = 0.75;        // fraction of committed memory kept for reuse
  std::size_t grainSize = 0;  // 0: the page size
};

struct ClientArenaOptions {
  std::size_t commitLimit = SIZE_MAX;
  std::size_t grainSize = 0;  // 0: the default (8 KiB)
};

class Arena : public detail::Owner<mps_arena_t, mps_arena_destroy> {
 public:
  using VMOptions = VMArenaOptions;
  using ClientOptions = ClientArenaOptions;

  // An arena on reserved virtual memory.
  static Result createVM(Arena& out, const VMOptions& options = VMOptions()) {
    out.reset();
    detail::ArgList args;
    args.size(MPS_KEY_ARENA_SIZE, options.reserve);
    args.size(MPS_KEY_COMMIT_LIMIT, options.commitLimit);
    args.real(MPS_KEY_SPARE, options.spare);
    if (options.grainSize != 0) args.size(MPS_KEY_ARENA_GRAIN_SIZE, options.grainSize);
    return out.adopt(mps_arena_create_k(&out.handle_, mps_arena_class_vm(), args));
  }

  // An arena entirely inside [base, base+size), which the client keeps alive.
  static Result createClient(Arena& out, void* base, std::size_t size,
                             const ClientOptions& options = ClientOptions()) {
    out.reset();
    detail::ArgList args;
    args.addr(MPS_KEY_ARENA_CL_BASE, base);
    args.size(MPS_KEY_ARENA_SIZE, size);
    args.size(MPS_KEY_COMMIT_LIMIT, options.commitLimit);
    if (options.grainSize != 0) args.size(MPS_KEY_ARENA_GRAIN_SIZE, options.grainSize);
    return out.adopt(mps_arena_create_k(&out.handle_, mps_arena_class_cl(), args));
  }

  // Adds another block to a client arena.
  Result extend(void* base, std::size_t size) { return mps_arena_extend(handle_, base, size); }

  std::size_t reserved() const { return mps_arena_reserved(handle_); }
  std::size_t committed() const { return mps_arena_committed(handle_); }
  std::size_t spareCommitted() const { return mps_arena_spare_committed(handle_); }
  std::size_t commitLimit() const { return mps_arena_commit_limit(handle_); }
  Result setCommitLimit(std::size_t limit) { return mps_arena_commit_limit_set(handle_, limit); }
  double spare() const { return mps_arena_spare(handle_); }
  void setSpare(double fraction) { mps_arena_spare_set(handle_, fraction); }
  bool hasAddr(const void* p) const { return mps_arena_has_addr(handle_, const_cast<void*>(p)); }

 private:
  Result adopt(mps_res_t res) {
    if (res != MPS_RES_OK) handle_ = nullptr;
    return res;
  }
};

// What every pool offers.
class Pool : public detail::Owner<mps_pool_t, mps_pool_destroy> {
 public:
  std::size_t totalSize() const { return mps_pool_total_size(handle_); }
  std::size_t freeSize() const { return mps_pool_free_size(handle_); }

 protected:
  Result adopt(mps_res_t res) {
    if (res != MPS_RES_OK) handle_ = nullptr;
    return res;
  }
};

// Fixed-size blocks (MFS). For the fastest path, put an AllocationCache with
// one class of the unit size in front of it.
class FixedPool : public Pool {
 public:
  static Result create(FixedPool& out, Arena& arena, std::size_t unitSize,
                       std::size_t extendBy = 65536) {
    out.reset();
    detail::ArgList args;
    args.size(MPS_KEY_MFS_UNIT_SIZE, unitSize);
    args.size(MPS_KEY_EXTEND_BY, extendBy);
    out.unitSize_ = unitSize;
    return out.adopt(mps_pool_create_k(&out.handle_, arena.handle(), mps_class_mfs(), args));
  }
  Result alloc(void*& p) { return mps_alloc(&p, handle_, unitSize_); }
  void free(void* p) { mps_free(handle_, p, unitSize_); }
  std::size_t unitSize() const { return unitSize_; }

 private:
  std::size_t unitSize_ = 0;
};

// Options of a VariablePool (pools-mvff.md).
struct VariablePoolOptions {
  std::size_t extendBy = 65536;
  std::size_t meanSize = 32;
  std::size_t align = MPS_PF_ALIGN;
  double spare = 0.75;
  bool arenaHigh = false;
  bool slotHigh = false;
  bool firstFit = true;
};

// Variable-size blocks, first fit (MVFF).
class VariablePool : public Pool {
 public:
  using Options = VariablePoolOptions;
  static Result create(VariablePool& out, Arena& arena, const Options& o = Options()) {
    out.reset();
    detail::ArgList args;
    args.size(MPS_KEY_EXTEND_BY, o.extendBy);
    args.size(MPS_KEY_MEAN_SIZE, o.meanSize);
    args.size(MPS_KEY_ALIGN, o.align);
    args.real(MPS_KEY_SPARE, o.spare);
    args.boolean(MPS_KEY_MVFF_ARENA_HIGH, o.arenaHigh);
    args.boolean(MPS_KEY_MVFF_SLOT_HIGH, o.slotHigh);
    args.boolean(MPS_KEY_MVFF_FIRST_FIT, o.firstFit);
    return out.adopt(mps_pool_create_k(&out.handle_, arena.handle(), mps_class_mvff(), args));
  }
  Result alloc(void*& p, std::size_t size) { return mps_alloc(&p, handle_, size); }
  void free(void* p, std::size_t size) { mps_free(handle_, p, size); }
};

// A size class of an AllocationCache: blocks up to `blockSize` bytes, of which
// up to `cachedCount` are kept, requested with relative `frequency`.
struct SizeClass {
  std::size_t blockSize;
  std::size_t cachedCount;
  unsigned frequency;
};

// A segregated allocation cache in front of a manual pool (SAC). Owned by one
// thread at a time; alloc and free are inline and take no lock unless the
// cache must exchange blocks with the pool.
class AllocationCache : public detail::Owner<mps_sac_t, mps_sac_destroy> {
 public:
  static Result create(AllocationCache& out, Pool& pool, std::span<const SizeClass> classes) {
    static_assert(sizeof(SizeClass) == sizeof(mps_sac_class_s));
    out.reset();
    mps_res_t res =
        mps_sac_create(&out.handle_, pool.handle(), classes.size(),
                       reinterpret_cast<mps_sac_class_s*>(const_cast<SizeClass*>(classes.data())));
    if (res != MPS_RES_OK) out.handle_ = nullptr;
    return res;
  }
  Result alloc(void*& p, std::size_t size) {
    mps_res_t res;
    mps_addr_t block;
    // The inline search never ends for 0 bytes (a client error the macro does
    // not check); the out-of-line call reports it.
    if (size == 0) return mps_sac_alloc(&p, handle_, size, 0);
    MPS_SAC_ALLOC_FAST(res, block, handle_, size, 0);
    if (res == MPS_RES_OK) p = block;
    return res;
  }
  void free(void* p, std::size_t size) {
    if (size == 0) return mps_sac_free(handle_, p, size);  // reports it, as for alloc
    MPS_SAC_FREE_FAST(handle_, p, size);
  }
  // Returns every cached block to the pool.
  void flush() { mps_sac_flush(handle_); }
};

}  // namespace mps
