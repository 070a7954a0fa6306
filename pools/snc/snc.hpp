// SNC: stack, no checking (pools-mvt-snc.md; design/snc.md).
//
// Each allocation point owns a stack of segments. Objects lie end to end from
// each segment's base; the newest segment is the top of the stack, and the
// allocation point's buffer, when it has one, is the free part of the top
// segment (or of the segment the last frame pop went back to). Memory comes
// back only when a frame is popped: everything the allocation point
// allocated since the matching push is freed, whether or not anything still
// refers to it ("no checking").
//
// The objects hold exact references, so the pool is an AutoPool to the
// tracer (kPoolAttrScan): its segments are scanned whole as part of the
// remembered set, with the write barrier keeping their summaries, but never
// condemned. It has no chain, and nothing in it is collected or finalized.
#pragma once

#include <cstdarg>

#include "arena/buffer.hpp"
#include "arena/segment.hpp"
#include "tracer/autopool.hpp"
#include "tracer/scan.hpp"

namespace mps::core {

extern const PoolClass kPoolClassSNC;

class SNCPool;

class SNCSegment final : public Segment {
 public:
  static constexpr Sig kSNCSig = 0x5195C5E6u;

  SNCSegment(SNCPool* pool, Addr base, Addr limit, SNCSegment* below);

  // The end of the committed objects: the attached buffer's scan limit, or
  // `top` when no buffer is attached.
  Addr objectsLimit() const { return buffer != nullptr ? buffer->scanLimit() : top; }

  // Never condemned: the objects are freed by frame pops alone.
  bool wantsCondemn(const Trace* /*trace*/) const override { return false; }
  Res whiten(Trace* trace) override;
  Res fix(ScanState* ss, Addr* refIO) override;
  Res fixWeak(ScanState* ss, Addr* refIO) override;
  bool isPreserved(Addr ref) const override;
  Res scan(ScanState* ss) override;
  Res scanObject(ScanState* ss, Addr object) override;
  bool reclaim(Trace* trace) override;
  void release() override;
  void walk(ObjectVisitor f, void* closure) override;
  bool isObject(Addr p) const override;
  bool findObject(Addr p, Addr* clientOut) override;
  bool check() const override;

  Sig sncSig = kSNCSig;
  // The end of the objects while no buffer is attached (the buffer's init
  // is recorded here when it is emptied).
  Addr top;
  // The next older segment of the same allocation point's stack.
  SNCSegment* below;

 private:
  SNCPool* sncPool_;
};

class SNCPool final : public AutoPool {
 public:
  // Segments are at least this big (rounded up to grains): a fill that
  // finds no room in the top segment takes a new one, so a segment should
  // hold many frames' worth of objects.
  static constexpr Size kDefaultSegmentSize = Size(64) << 10;

  SNCPool(Arena* arena, const PoolClass* poolClass) : AutoPool(arena, poolClass) {}
  ~SNCPool() override;

  // FORMAT (required: scan; skip only to walk the objects or verify
  // references to them; no in-band header).
  Res init(const mps_arg_s* args);
  // RANK: exact (the default) is the only rank.
  Res bufferInit(Buffer* buffer, const mps_arg_s* args) override;
  Res bufferFill(Buffer* buffer, Size size) override;
  void bufferEmpty(Buffer* buffer) override;
  // Frees the allocation point's whole stack: nothing could pop it later.
  void bufferFinish(Buffer* buffer) override;
  Res framePush(Buffer* buffer, mps_frame_t* frameOut) override;
  Res framePop(Buffer* buffer, mps_frame_t frame) override;
  Size totalSize() const override { return totalSize_; }
  Size freeSize() const override;
  bool check() const override;

  // Frames pushed on `buffer` and not popped yet (tests).
  Size frameDepth(const Buffer* buffer) const;

  static void varargs(mps_arg_s* args, va_list ap);

 private:
  // A pushed frame: the allocation point's position then, and the segment
  // it lies in (null for the bottom of an empty stack).
  struct Frame {
    Addr position;
    SNCSegment* seg;
  };
  // An allocation point's state (Buffer::poolData), in control memory.
  struct Stack {
    SNCSegment* top = nullptr;  // newest segment, linked through `below`
    Frame* frames = nullptr;    // pushed frames, oldest first
    Size depth = 0;
    Size capacity = 0;
  };
  static Stack* stackOf(const Buffer* buffer) { return static_cast<Stack*>(buffer->poolData); }

  Res newSegment(SNCSegment** segOut, Size size, SNCSegment* below);
  void freeSegment(SNCSegment* seg);
  // Frees the newest segments of `stack` down to `keep` (not included;
  // null frees them all).
  void popSegments(Stack* stack, SNCSegment* keep);
  // .snc.retire: segments popped while a collection was in progress,
  // linked through `below`; freed by the first pop or fill after it (or
  // with the pool).
  void freeRetired();
  SNCSegment* retired_ = nullptr;
  // Attaches `buffer` to the free part of `seg`, from its top.
  void attachAt(Buffer* buffer, SNCSegment* seg);
  Res growFrames(Stack* stack);

  Size totalSize_ = 0;
};

}  // namespace mps::core
