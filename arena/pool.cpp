#include "arena/pool.hpp"

#include "arena/arena.hpp"
#include "arena/buffer.hpp"

namespace mps::core {

Pool::Pool(Arena* arena, const PoolClass* poolClass, Align alignment)
    : arena_(arena), class_(poolClass), alignment_(alignment) {}

Pool::~Pool() {
  invalidateSig(sig);
}

Res Pool::allocObject(void** pOut, Arena* arena, Size size) {
  return arena->controlAlloc(pOut, size);
}

void Pool::freeObject(Arena* arena, void* p, Size size) {
  arena->controlFree(p, size);
}

void Pool::attach(Size objectSize) {
  objectSize_ = objectSize;
  arena_->addPool(this);
}

void Pool::destroy() {
  MPS_AVERT(Pool, this);
  if (caches_ != 0)
    assertFail(__FILE__, __LINE__,
               "pool has no segregated allocation caches: destroy them before the pool");
  if (!buffers_.isSingle())
    assertFail(__FILE__, __LINE__, "pool has no allocation points: destroy them before the pool");
  Arena* arena = arena_;
  Size objectSize = objectSize_;
  arena->removePool(this);
  this->~Pool();  // the class's destructor returns its memory to the arena
  freeObject(arena, this, objectSize);
}

Res Pool::alloc(Addr*, Size) {
  assertFail(__FILE__, __LINE__, "pool class supports mps_alloc");
}

void Pool::free(Addr, Size) {
  assertFail(__FILE__, __LINE__, "pool class supports mps_free");
}

Res Pool::bufferInit(Buffer*, const mps_arg_s*) {
  assertFail(__FILE__, __LINE__, "pool class supports allocation points");
}

Res Pool::bufferFill(Buffer*, Size) {
  assertFail(__FILE__, __LINE__, "pool class supports allocation points");
}

void Pool::bufferEmpty(Buffer*) {
  assertFail(__FILE__, __LINE__, "pool class supports allocation points");
}

Res Pool::framePush(Buffer* buffer, mps_frame_t* frameOut) {
  // The allocation point's position: opaque to the client, never read back.
  *frameOut = reinterpret_cast<mps_frame_t>(buffer->init());
  return Res::ok;
}

Res Pool::framePop(Buffer*, mps_frame_t) {
  return Res::ok;
}

void Pool::addBuffer(Buffer* buffer) {
  buffers_.append(&buffer->poolRing);
}

void Pool::removeBuffer(Buffer* buffer) {
  MPS_AVER(buffer->pool == this);
  buffer->poolRing.remove();
}

bool Pool::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(arena_ != nullptr && arena_->sig == Arena::kSig);
  MPS_CHECKL(class_ != nullptr && class_->sig == PoolClass::kSig);
  MPS_CHECKL(isPowerOfTwo(alignment_));
  return true;
}

}  // namespace mps::core
