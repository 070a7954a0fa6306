// C entry points for the roots walk and transforms (walking.md). The heap
// walkers (mps_pool_walk and the deprecated ones) are in gc.cpp.
#include <cstddef>

#include "api/handles.hpp"
#include "mps.h"
#include "tracer/autopool.hpp"
#include "tracer/collector.hpp"
#include "tracer/root.hpp"
#include "tracer/walk.hpp"

using mps::core::Addr;
using mps::core::Collector;
using mps::core::Root;
using mps::core::Segment;
using mps::core::Size;
using mps::core::Transform;
using mps::core::Word;
using namespace mps::api;

namespace {

Transform* toTransform(mps_transform_t t) {
  return reinterpret_cast<Transform*>(t);
}

// Clears the stack below the caller's frame. Earlier calls (the client's
// mps_transform_add_oldnew, which passes old references around in registers
// that callees save on the stack) leave old references in memory that the
// transform's own frames then occupy without writing every word; the first
// pass would read them as ambiguous references from the thread's stack and
// refuse the transform for nothing.
[[gnu::noinline]] void wipeStackBelow() {
  volatile Word scratch[2048];
  for (Size i = 0; i < sizeof scratch / sizeof scratch[0]; ++i)
    scratch[i] = 0;
}

// mps_transform_apply's body, below the wiped stack.
[[gnu::noinline]] mps_res_t applyTransform(mps_bool_t* appliedOut, mps_transform_t handle) {
  MPS_AVER_ALWAYS(appliedOut != NULL);
  Transform* transform = toTransform(handle);
  MPS_API_AVER_SIG(Transform, transform);
  ArenaEntry entry(transform->collector()->arena());
  MPS_AVERT(Transform, transform);
  bool applied = false;
  Res res = transform->apply(&applied);
  if (res != Res::ok) return toRes(res);
  *appliedOut = applied ? 1 : 0;
  return MPS_RES_OK;
}

struct RootsStepper {
  mps_roots_stepper_t f;
  void* p;
  size_t s;
};

}  // namespace

extern "C" {

void mps_arena_roots_walk(mps_arena_t handle, mps_roots_stepper_t f, void* p, size_t s) {
  MPS_AVER_ALWAYS(f != NULL && "the roots stepper is not null");
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Collector* collector = collectorOf(arena);
  MPS_AVER_ALWAYS(collector->isParked() && "the arena is parked for mps_arena_roots_walk");
  RootsStepper stepper{f, p, s};
  mps::core::walkRootReferences(
      collector,
      [](Addr* location, Root* root, void* closure) {
        auto* st = static_cast<RootsStepper*>(closure);
        st->f(reinterpret_cast<mps_addr_t*>(location), reinterpret_cast<mps_root_t>(root), st->p,
              st->s);
      },
      &stepper);
}

mps_res_t mps_transform_create(mps_transform_t* transformOut, mps_arena_t handle) {
  MPS_AVER_ALWAYS(transformOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Collector* collector = collectorOf(arena);
  MPS_AVER_ALWAYS(collector->isParked() && "the arena is parked when a transform is created");
  Transform* transform;
  Res res = Transform::create(&transform, collector);
  if (res != Res::ok) return toRes(res);
  *transformOut = reinterpret_cast<mps_transform_t>(transform);
  return MPS_RES_OK;
}

mps_res_t mps_transform_add_oldnew(mps_transform_t handle, mps_addr_t* oldArray,
                                   mps_addr_t* newArray, size_t count) {
  Transform* transform = toTransform(handle);
  MPS_API_AVER_SIG(Transform, transform);
  MPS_AVER_ALWAYS((count == 0 || (oldArray != NULL && newArray != NULL)) &&
                  "mps_transform_add_oldnew is given arrays of count references");
  Arena* arena = transform->collector()->arena();
  ArenaEntry entry(arena);
  MPS_AVERT(Transform, transform);
  MPS_AVER_ALWAYS(!transform->applied() && "pairs are added to a transform before it is applied");
  // All or nothing: room for every pair first, so that a failure adds none.
  Res res = transform->reserve(count);
  if (res != Res::ok) return toRes(res);
  for (size_t i = 0; i < count; ++i) {
    Addr oldRef = static_cast<Addr>(oldArray[i]);
    // walking.md: old references are objects of automatically managed
    // pools. The segment test is cheap; the object test checked builds only.
    Segment* seg = arena->segmentOf(oldRef);
    MPS_AVER_ALWAYS(seg != nullptr && mps::core::isAutoPool(seg->pool) &&
                    "a transform's old reference is in an automatically managed pool");
    MPS_AVER(seg->isObjectNow(oldRef) && "a transform's old reference is the address of an object");
    res = transform->add(oldRef, static_cast<Addr>(newArray[i]));
    if (res == Res::fail)
      mps::core::assertFail(__FILE__, __LINE__,
                            "a transform's old reference is added to it at most once");
    MPS_AVER(res == Res::ok);
  }
  return MPS_RES_OK;
}

mps_res_t mps_transform_apply(mps_bool_t* appliedOut, mps_transform_t handle) {
  // This frame holds nothing but the arguments: the work, and every frame
  // the passes scan below it, lies in the wiped part of the stack.
  wipeStackBelow();
  return applyTransform(appliedOut, handle);
}

void mps_transform_destroy(mps_transform_t handle) {
  Transform* transform = toTransform(handle);
  MPS_API_AVER_SIG(Transform, transform);
  ArenaEntry entry(transform->collector()->arena());
  transform->destroy();
}

}  // extern "C"
