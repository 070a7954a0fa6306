// The base of automatically managed pool classes: a format, a chain and a
// generation, and the ring of the pool's segments the tracer walks. A pool
// that is scanned but never collected (SNC) is one too, with a format and
// segments but no chain.
#pragma once

#include "arena/arena.hpp"
#include "arena/pool.hpp"
#include "arena/segment.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "format/format.hpp"
#include "tracer/chain.hpp"
#include "tracer/collector.hpp"

namespace mps::core {

class Trace;

class AutoPool : public Pool {
 public:
  AutoPool(Arena* arena, const PoolClass* poolClass) : Pool(arena, poolClass, sizeof(void*)) {}
  ~AutoPool() override;
  bool commitsAhead() const override { return true; }

  // Reads MPS_KEY_FORMAT (required when `needsFormat`), MPS_KEY_CHAIN (the
  // arena's default chain if absent) and MPS_KEY_GEN (default 0 with a
  // chain, `defaultChainGen` with the default chain). Takes the format's
  // alignment.
  Res initAuto(const mps_arg_s* args, bool needsFormat, unsigned defaultChainGen);
  // Reads MPS_KEY_FORMAT alone (required), for a pool that is scanned but
  // not collected (kPoolAttrScan: SNC), which has no chain or generation.
  // Takes the format's alignment.
  Res initFormat(const mps_arg_s* args);

  Format* format() const { return format_; }
  Chain* chain() const { return chain_; }
  Generation* gen() const { return gen_; }
  Collector* collector() const { return Collector::of(arena_); }

  void addSegment(Segment* seg) {
    MPS_AVER(seg->poolRing.isSingle() && "a segment is on one ring at a time");
    segments_.append(&seg->poolRing);
  }
  void removeSegment(Segment* seg) { seg->poolRing.remove(); }
  Size segmentCount() const { return segments_.length(); }
  template <class F>
  void forEachSegment(F&& f) const {
    segments_.forEach(f);
  }

  // Marking of `trace` begins (after condemn, before the roots are
  // scanned) / has ended (before reclaim; `abandoned` if a scan failed). A
  // moving pool sets up and closes its per-worker to-space buffers here.
  virtual void traceBegin(Trace* /*trace*/) {}
  virtual void traceEnd(Trace* /*trace*/, bool /*abandoned*/) {}
  // The trace is about to bring in more marking workers (it marked on the
  // collecting thread alone until now), which read the arena's tables
  // while one of them may allocate (Arena::setConcurrentReaders): a moving
  // pool makes sure now that its to-space need not grow the arena.
  virtual void traceGoesParallel(Trace* /*trace*/) {}
  // An incremental trace lets the mutator run until its next piece
  // (Trace::yieldToMutator) / takes up its work again: a moving pool makes
  // its half-filled to-space segments parsable in between (the read
  // barrier scans a grey segment whole) and takes the tails back after.
  virtual void traceYield(Trace* /*trace*/) {}
  virtual void traceResume(Trace* /*trace*/) {}

  bool check() const override;

  // mps_ap_create(&ap, pool, rank): the deprecated variadic form of the
  // classes whose allocation points take a rank (AMS, AWL, SNC).
  static void rankApVarargs(mps_arg_s* args, va_list ap);

 protected:
  // Takes `format` for the pool: its alignment, and a use of it.
  void useFormat(Format* format);

  Format* format_ = nullptr;
  Chain* chain_ = nullptr;
  Generation* gen_ = nullptr;
  Ring<Segment> segments_;
};

// Whether a pool is an AutoPool: its segments take part in tracing, scanned
// and perhaps condemned (the tracer's business).
inline bool isAutoPool(const Pool* pool) {
  return pool->poolClass()->has(kPoolAttrGC) || pool->poolClass()->has(kPoolAttrScan);
}
// Whether a pool is garbage collected: its objects die when unreachable, and
// may be registered for finalization.
inline bool isCollected(const Pool* pool) {
  return pool->poolClass()->has(kPoolAttrGC);
}

// Calls f(AutoPool*) for each automatic pool of `arena`.
template <class F>
void forEachAutoPool(Arena* arena, F&& f) {
  arena->forEachPool([&](Pool* pool) {
    if (isAutoPool(pool)) f(static_cast<AutoPool*>(pool));
  });
}

}  // namespace mps::core
