#include "pools/snc/snc.hpp"

#include <new>

#include "base/keys.hpp"
#include "mpscsnc.h"
#include "shield/shield.hpp"

namespace mps::core {

namespace {

Res createSNC(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<SNCPool>(poolOut, arena, &kPoolClassSNC, args);
}

// The tracer calls these only on white segments, and SNC segments never
// are (wantsCondemn).
[[noreturn]] void neverCondemned(const char* file, unsigned line) {
  assertFail(file, line, "an SNC segment is never condemned");
}

}  // namespace

const PoolClass kPoolClassSNC = {PoolClass::kSig,
                                 "SNC",
                                 kPoolAttrBuffer | kPoolAttrScan | kPoolAttrFrames,
                                 createSNC,
                                 SNCPool::varargs,
                                 AutoPool::rankApVarargs};

// Segments ------------------------------------------------------------------

SNCSegment::SNCSegment(SNCPool* pool, Addr segBase, Addr segLimit, SNCSegment* belowSeg)
    : Segment(pool, segBase, segLimit), top(segBase), below(belowSeg), sncPool_(pool) {
  rankSet = rankSetOf(Rank::exact);
}

Res SNCSegment::whiten(Trace*) {
  neverCondemned(__FILE__, __LINE__);
}
Res SNCSegment::fix(ScanState*, Addr*) {
  neverCondemned(__FILE__, __LINE__);
}
Res SNCSegment::fixWeak(ScanState*, Addr*) {
  neverCondemned(__FILE__, __LINE__);
}
bool SNCSegment::isPreserved(Addr) const {
  neverCondemned(__FILE__, __LINE__);
}
Res SNCSegment::scanObject(ScanState* ss, Addr object) {
  // The whole segment, queued as grey work by an incremental trace's
  // remembered set (no object of it is ever grey on its own).
  if (object == nullptr) return scan(ss);
  neverCondemned(__FILE__, __LINE__);
}
bool SNCSegment::reclaim(Trace*) {
  neverCondemned(__FILE__, __LINE__);
}
void SNCSegment::release() {
  neverCondemned(__FILE__, __LINE__);
}

Res SNCSegment::scan(ScanState* ss) {
  // The objects lie end to end from the base: one call of the format's
  // scan method covers them all, and no skip method is needed.
  Addr limit = objectsLimit();
  if (limit == base) return Res::ok;
  ss->setRank(Rank::exact);
  ss->scannedBytes += Size(limit - base);
  ss->rememberedBytes += Size(limit - base);
  return Res(sncPool_->format()->scan(ss->handle(), base, limit));
}

void SNCSegment::walk(ObjectVisitor f, void* closure) {
  const mps_fmt_skip_t skip = sncPool_->format()->skip;
  Addr limit = objectsLimit();
  for (Addr p = base; p < limit;) {
    Addr next = static_cast<Addr>(skip(p));
    MPS_AVER_ALWAYS(next > p && next <= limit &&
                    "format skip method steps to the next object within the segment");
    f(this, p, closure);
    p = next;
  }
}

bool SNCSegment::isObject(Addr p) const {
  Addr limit = objectsLimit();
  if (p < base || p >= limit || !isAligned(Size(p - base), sncPool_->alignment())) return false;
  const Format* format = sncPool_->format();
  // A format without a skip method (the pool needs none to scan) cannot
  // tell the objects apart: any aligned address among them may be one.
  if (!format->hasSkip()) return true;
  // Checked builds' heap verifier only: a walk from the base.
  for (Addr q = base; q <= p;) {
    if (q == p) return true;
    Addr next = static_cast<Addr>(format->skip(q));
    MPS_AVER_ALWAYS(next > q && next <= limit &&
                    "format skip method steps to the next object within the segment");
    q = next;
  }
  return false;
}

bool SNCSegment::findObject(Addr p, Addr* clientOut) {
  Addr limit = objectsLimit();
  if (p < base || p >= limit) return false;
  const Format* format = sncPool_->format();
  // Without a skip method the objects cannot be told apart (as isObject).
  if (!format->hasSkip()) return false;
  // SNC formats have no in-band header: client and block addresses agree.
  for (Addr q = base; q < limit;) {
    Addr next = static_cast<Addr>(format->skip(q));
    MPS_AVER_ALWAYS(next > q && next <= limit &&
                    "format skip method steps to the next object within the segment");
    if (p < next) {
      *clientOut = q;
      return true;
    }
    q = next;
  }
  return false;
}

bool SNCSegment::check() const {
  MPS_CHECKL(Segment::check());
  MPS_CHECKL(sncSig == kSNCSig);
  MPS_CHECKL(base <= top && top <= limit);
  MPS_CHECKL(rankSet == rankSetOf(Rank::exact));
  MPS_CHECKL(white == 0);
  return true;
}

// Pools ---------------------------------------------------------------------

Res SNCPool::init(const mps_arg_s* args) {
  Res res = initFormat(args);
  if (res != Res::ok) return res;
  // The objects are scanned as one run from a segment's base, and popped
  // frames free them at their base pointers (pools-mvt-snc.md, format.md).
  MPS_AVER_ALWAYS(format_->headerSize == 0 && "an SNC pool's format has no in-band header");
  return Res::ok;
}

SNCPool::~SNCPool() {
  // Every allocation point freed its stack when it was destroyed.
  segments_.forEach([&](Segment* seg) { freeSegment(static_cast<SNCSegment*>(seg)); });
}

Res SNCPool::newSegment(SNCSegment** segOut, Size size, SNCSegment* below) {
  Size grain = arena_->grainSize();
  Size segSize = alignUp(size > kDefaultSegmentSize ? size : kDefaultSegmentSize, grain);
  Addr base;
  Res res = arena_->allocGrains(&base, segSize, this);
  if (res != Res::ok && segSize > alignUp(size, grain)) {
    // Short of memory: a segment just big enough may still fit.
    segSize = alignUp(size, grain);
    res = arena_->allocGrains(&base, segSize, this);
  }
  if (res != Res::ok) return res;
  void* p;
  res = arena_->controlAlloc(&p, sizeof(SNCSegment));
  if (res != Res::ok) {
    arena_->freeGrains(base, segSize);
    return res;
  }
  auto* seg = new (p) SNCSegment(this, base, base + segSize, below);
  arena_->setOwner(base, segSize, seg);
  addSegment(seg);
  totalSize_ += segSize;
  *segOut = seg;
  return Res::ok;
}

void SNCPool::freeSegment(SNCSegment* seg) {
  Shield::release(seg);
  MPS_AVER(seg->buffer == nullptr);
  Addr base = seg->base;
  Size size = seg->size();
  removeSegment(seg);
  seg->~SNCSegment();
  arena_->controlFree(seg, sizeof(SNCSegment));
  arena_->freeGrains(base, size);
  totalSize_ -= size;
}

void SNCPool::popSegments(Stack* stack, SNCSegment* keep) {
  freeRetired();
  while (stack->top != keep) {
    SNCSegment* seg = stack->top;
    MPS_AVER(seg != nullptr && "the frame's segment is on its allocation point's stack");
    stack->top = seg->below;
    if (collector()->inProgress()) {
      // .snc.retire: an incremental collection in progress may hold the
      // segment on its lists (grey, yield candidates, lifted) until it
      // ends: emptied now (nothing left to scan), freed after it.
      seg->top = seg->base;
      seg->below = retired_;
      retired_ = seg;
      continue;
    }
    freeSegment(seg);
  }
}

void SNCPool::freeRetired() {
  if (retired_ == nullptr || collector()->inProgress()) return;
  while (retired_ != nullptr) {
    SNCSegment* seg = retired_;
    retired_ = seg->below;
    freeSegment(seg);
  }
}

void SNCPool::attachAt(Buffer* buffer, SNCSegment* seg) {
  // The client is about to write into it: lift the barrier now rather than
  // at the first store's fault.
  if (seg->protMode != kShieldNone || seg->summary != kRefSetUniv) Shield::dropBarrier(seg);
  buffer->attach(seg, seg->top, seg->limit);
}

Res SNCPool::bufferInit(Buffer* buffer, const mps_arg_s* args) {
  mps_rank_t rank = MPS_ARG_OPTIONAL(args, RANK, rank, mps_rank_t(Rank::exact));
  MPS_AVER_ALWAYS(rank == mps_rank_t(Rank::exact) && "an SNC allocation point has rank exact");
  void* p;
  Res res = arena_->controlAlloc(&p, sizeof(Stack));
  if (res != Res::ok) return res;
  buffer->poolData = new (p) Stack{};
  buffer->rankSet = rankSetOf(Rank::exact);
  return Res::ok;
}

void SNCPool::bufferFinish(Buffer* buffer) {
  Stack* stack = stackOf(buffer);
  MPS_AVER(buffer->isReset());
  popSegments(stack, nullptr);
  if (stack->frames != nullptr) arena_->controlFree(stack->frames, stack->capacity * sizeof(Frame));
  stack->~Stack();
  arena_->controlFree(stack, sizeof(Stack));
  buffer->poolData = nullptr;
}

Res SNCPool::bufferFill(Buffer* buffer, Size size) {
  MPS_AVER(buffer->isReset());
  if (sizeTooLarge(size, arena_->grainSize())) return Res::resource;
  Stack* stack = stackOf(buffer);
  freeRetired();
  SNCSegment* seg = stack->top;
  // A segment the collection in progress has still to scan is not given
  // out: attaching drops its protection, the read barrier with it, and
  // the client could then load a reference to a white object from its
  // unscanned frames. Its free tail waits, as a full one's does.
  if (seg != nullptr && (seg->grey != 0 || Size(seg->limit - seg->top) < size)) {
    // No room left on top: a new segment. The old one's free tail waits
    // for a pop to come back to it. An empty top segment (a pop went back
    // to its base) that no frame names is given back first.
    bool named = stack->depth > 0 && stack->frames[stack->depth - 1].seg == seg;
    if (seg->top == seg->base && !named) popSegments(stack, seg->below);
    seg = nullptr;
  }
  if (seg == nullptr) {
    Res res = newSegment(&seg, size, stack->top);
    if (res != Res::ok) return res;
    stack->top = seg;
  }
  attachAt(buffer, seg);
  return Res::ok;
}

void SNCPool::bufferEmpty(Buffer* buffer) {
  auto* seg = static_cast<SNCSegment*>(buffer->seg);
  MPS_AVER(seg != nullptr && seg->buffer == buffer);
  // The unused part stays the segment's free tail: a later fill or pop
  // attaches the buffer there again.
  seg->top = buffer->init();
}

Res SNCPool::growFrames(Stack* stack) {
  Size capacity = stack->capacity == 0 ? 8 : 2 * stack->capacity;
  void* p;
  Res res = arena_->controlAlloc(&p, capacity * sizeof(Frame));
  if (res != Res::ok) return res;
  auto* frames = static_cast<Frame*>(p);
  for (Size i = 0; i < stack->depth; ++i)
    frames[i] = stack->frames[i];
  if (stack->frames != nullptr) arena_->controlFree(stack->frames, stack->capacity * sizeof(Frame));
  stack->frames = frames;
  stack->capacity = capacity;
  return Res::ok;
}

Res SNCPool::framePush(Buffer* buffer, mps_frame_t* frameOut) {
  Stack* stack = stackOf(buffer);
  if (stack->depth == stack->capacity) {
    Res res = growFrames(stack);
    if (res != Res::ok) return res;
  }
  // The position: where the buffer stands, or the top of the stack if the
  // buffer has none (a fill failed), or the bottom of an empty stack.
  Frame frame{nullptr, stack->top};
  // The buffer's window is always in the top segment (.snc.stack).
  MPS_AVER(buffer->isReset() || buffer->seg == stack->top);
  if (!buffer->isReset())
    frame = Frame{buffer->init(), static_cast<SNCSegment*>(buffer->seg)};
  else if (stack->top != nullptr)
    frame.position = stack->top->top;
  stack->frames[stack->depth++] = frame;
  // The handle is the position: a frame pushed on another allocation point
  // (another stack's segments) is never found by pop.
  *frameOut = reinterpret_cast<mps_frame_t>(frame.position);
  return Res::ok;
}

Res SNCPool::framePop(Buffer* buffer, mps_frame_t handle) {
  Stack* stack = stackOf(buffer);
  Addr position = reinterpret_cast<Addr>(handle);
  // Usually the newest frame; an older one pops the newer ones too.
  Size i = stack->depth;
  while (i > 0 && stack->frames[i - 1].position != position)
    --i;
  if (i == 0) {
    // Pushed on another allocation point, popped already (or an older
    // frame was), or never a frame: popping would free what the client
    // does not expect (the reference asserts `foundSeg`).
    AssertReport()
        .text(
            "foundSeg: the frame popped was pushed on this allocation point and is not popped yet")
        .in("mps_ap_frame_pop", "allocation point", buffer->handle())
        .text(", frame ")
        .address(handle)
        .text(")")
        .fail(__FILE__, __LINE__);
  }
  Frame frame = stack->frames[i - 1];
  stack->depth = i - 1;
  buffer->empty();  // its segment records where its objects end
  popSegments(stack, frame.seg);
  if (frame.seg == nullptr) return Res::ok;  // the bottom: everything is popped
  MPS_AVER(frame.seg->base <= frame.position && frame.position <= frame.seg->top);
  frame.seg->top = frame.position;
  // Allocation goes on from the frame, inline.
  // (Not if the collection in progress has still to scan it: the next
  // reserve fills elsewhere, as bufferFill says.)
  if (frame.position < frame.seg->limit && frame.seg->grey == 0) attachAt(buffer, frame.seg);
  return Res::ok;
}

Size SNCPool::frameDepth(const Buffer* buffer) const {
  return stackOf(buffer)->depth;
}

Size SNCPool::freeSize() const {
  Size free = 0;
  segments_.forEach([&](Segment* s) {
    auto* seg = static_cast<SNCSegment*>(s);
    free += Size(seg->limit - seg->objectsLimit());
  });
  return free;
}

bool SNCPool::check() const {
  MPS_CHECKL(AutoPool::check());
  MPS_CHECKL(format_ != nullptr);
  MPS_CHECKL(chain_ == nullptr);
  return true;
}

void SNCPool::varargs(mps_arg_s* args, va_list ap) {
  args[0].key = MPS_KEY_FORMAT;
  args[0].val.format = va_arg(ap, mps_fmt_t);
  args[1].key = MPS_KEY_ARGS_END;
}

}  // namespace mps::core
