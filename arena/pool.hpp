// The generic pool interface. A pool is an allocation policy; its class plugs
// into the arena through this interface, so the arena (and later the tracer)
// never knows which class it is talking to.
#pragma once

#include <cstdarg>
#include <new>

#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"
#include "mps.h"

namespace mps::core {

class Arena;
class Buffer;
class Pool;

// What a pool class supports; the C interface checks these before dispatching
// so a call a class does not support gets a report naming the rule.
enum PoolAttr : unsigned {
  kPoolAttrAlloc = 1u << 0,   // mps_alloc
  kPoolAttrFree = 1u << 1,    // mps_free
  kPoolAttrBuffer = 1u << 2,  // allocation points
  kPoolAttrGC = 1u << 3,      // garbage collected
  kPoolAttrMoving = 1u << 4,  // may move objects
  // Its segments hold references the collector scans, though the pool is
  // not garbage collected (SNC): an automatic pool to the tracer, but its
  // objects are never condemned and cannot be finalized.
  kPoolAttrScan = 1u << 5,
  // Allocation frames free memory (SNC): mps_ap_frame_push and _pop go to
  // the class under the arena lock; for the other classes they are hints
  // answered without the lock (allocation.md: frames are cheap).
  kPoolAttrFrames = 1u << 6,
};

// The most arguments a class converts from the deprecated variadic form.
constexpr int kPoolVarargsMax = 16;

struct PoolClass {
  static constexpr Sig kSig = 0x519C7A55u;
  Sig sig;
  const char* name;
  unsigned attrs;
  // Creates an instance in the arena's control memory.
  Res (*create)(Pool** poolOut, Arena* arena, const mps_arg_s* args);
  // Converts the deprecated mps_pool_create variadic arguments into keyword
  // arguments (at most kPoolVarargsMax, terminated by MPS_KEY_ARGS_END).
  void (*varargs)(mps_arg_s* argsOut, va_list varargs);
  // The same for mps_ap_create; null for classes that read no argument
  // (surplus arguments are then ignored).
  void (*apVarargs)(mps_arg_s* argsOut, va_list varargs) = nullptr;

  bool check() const { return name != nullptr && create != nullptr && varargs != nullptr; }
  bool has(PoolAttr a) const { return (attrs & a) != 0; }
};

class Pool {
 public:
  static constexpr Sig kSig = 0x519B0011u;

  Pool(Arena* arena, const PoolClass* poolClass, Align alignment);
  virtual ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Creates a pool of class T in control memory. T's constructor takes
  // (Arena*, const PoolClass*, args...) and T::init(args) may fail.
  template <class T, class... A>
  static Res make(Pool** poolOut, Arena* arena, const PoolClass* poolClass, A&&... a);

  // Finishes the pool, returning all its memory to the arena, and frees it.
  // The caller holds the arena lock.
  void destroy();

  // Manual allocation. Only classes with kPoolAttrAlloc/Free override these;
  // the C interface never calls them on other classes.
  virtual Res alloc(Addr* pOut, Size size);
  virtual void free(Addr p, Size size);

  // Allocation points (classes with kPoolAttrBuffer). bufferInit reads the
  // class's keyword arguments (e.g. MPS_KEY_RANK); bufferFill attaches a
  // window of at least `size` bytes to a reset buffer; bufferEmpty takes
  // back [init, poolLimit) before the buffer is detached. Locked.
  virtual Res bufferInit(Buffer* buffer, const mps_arg_s* args);
  virtual Res bufferFill(Buffer* buffer, Size size);
  virtual void bufferEmpty(Buffer* buffer);
  // The allocation point is being destroyed, after bufferEmpty: the class
  // lets go of its per-buffer state. Locked.
  virtual void bufferFinish(Buffer* /*buffer*/) {}
  // Allocation frames (allocation.md). framePush stores a handle for the
  // allocation point's current position; framePop pops that frame and every
  // newer one. Only SNC frees anything: the other classes take frames as
  // hints they ignore. No block is reserved on the buffer. Locked.
  virtual Res framePush(Buffer* buffer, mps_frame_t* frameOut);
  virtual Res framePop(Buffer* buffer, mps_frame_t frame);
  void addBuffer(Buffer* buffer);
  void removeBuffer(Buffer* buffer);
  Size bufferCount() const { return buffers_.length(); }
  template <class F>
  void forEachBuffer(F&& f) const {
    buffers_.forEach(f);
  }

  // Bytes obtained from the arena, and the part of it not allocated.
  virtual Size totalSize() const = 0;
  virtual Size freeSize() const = 0;

  virtual bool check() const;

  // The one block size a fixed-size pool (MFS) accepts, or 0 if any size.
  // A segregated allocation cache uses it to reject classes it cannot fill.
  virtual Size fixedSize() const { return 0; }

  // Memory the pool keeps unused only to reuse it soon (a mark-sweep pool's
  // empty segments): gives it all back to the arena, where it becomes spare,
  // and returns how many bytes. The arena calls it when the commit limit
  // refuses a request or the client sets the spare fraction to zero. Locked.
  virtual Size releaseCached() { return 0; }
  // Whether the arena may commit free grains beside this pool's requests
  // ahead of need (.arena.commit.ahead): pools that allocate and free
  // segments at a high rate (the automatic ones) want fewer system calls;
  // manual pools keep committed memory exactly to what they asked for.
  virtual bool commitsAhead() const { return false; }

  Arena* arena() const { return arena_; }
  const PoolClass* poolClass() const { return class_; }
  Align alignment() const { return alignment_; }

  // Segregated allocation caches attached to this pool; a pool must not be
  // destroyed while any remain.
  Size attachedCaches() const { return caches_; }
  void attachCache() { ++caches_; }
  void detachCache() { MPS_AVER(caches_ > 0), --caches_; }

  Sig sig = kSig;

 protected:
  Arena* arena_;
  const PoolClass* class_;
  Align alignment_;

 private:
  friend class Arena;
  Ring<Pool> arenaRing_{this};
  Ring<Buffer> buffers_{nullptr};
  Size objectSize_ = 0;  // control memory holding this object
  Size caches_ = 0;

  static Res allocObject(void** pOut, Arena* arena, Size size);
  static void freeObject(Arena* arena, void* p, Size size);
  void attach(Size objectSize);
};

template <class T, class... A>
Res Pool::make(Pool** poolOut, Arena* arena, const PoolClass* poolClass, A&&... a) {
  void* p;
  Res res = allocObject(&p, arena, sizeof(T));
  if (res != Res::ok) return res;
  T* pool = new (p) T(arena, poolClass);
  res = pool->init(static_cast<A&&>(a)...);
  if (res != Res::ok) {
    pool->~T();
    freeObject(arena, p, sizeof(T));
    return res;
  }
  pool->attach(sizeof(T));
  *poolOut = pool;
  return Res::ok;
}

}  // namespace mps::core
