#include "pools/ams/amsdebug.hpp"

#include <new>

#include "base/keys.hpp"
#include "mpscams.h"
#include "shield/shield.hpp"

namespace mps::core {

namespace {

Res createAMSDebug(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<AMSDebugPool>(poolOut, arena, &kPoolClassAMSDebug, args);
}

// Exposes a segment while the pool reads or writes its memory outside a
// collection (the shield may protect it: design/shield.md).
class Exposed {
 public:
  explicit Exposed(Segment* seg) : seg_(seg) { Shield::expose(seg_); }
  ~Exposed() { Shield::cover(seg_); }
  Exposed(const Exposed&) = delete;
  Exposed& operator=(const Exposed&) = delete;

 private:
  Segment* seg_;
};

}  // namespace

const PoolClass kPoolClassAMSDebug = {
    PoolClass::kSig, "AMS debug",           kPoolAttrBuffer | kPoolAttrGC,
    createAMSDebug,  AMSDebugPool::varargs, AutoPool::rankApVarargs};

Res AMSDebugPool::init(const mps_arg_s* args) {
  Res res = AMSPool::init(args);
  if (res != Res::ok) return res;
  res = debug_.init(arena_, args, alignment_);
  if (res != Res::ok) return res;
  Size fence = debug_.fenceSize();
  if (fence != 0) {
    void* p;
    res = arena_->controlAlloc(&p, sizeof(Format));
    if (res != Res::ok) return res;
    mps_arg_s formatArgs[3];
    formatArgs[0].key = MPS_KEY_FMT_ALIGN;
    formatArgs[0].val.align = format_->alignment;
    formatArgs[1].key = MPS_KEY_FMT_HEADER_SIZE;
    formatArgs[1].val.size = format_->headerSize + fence;
    formatArgs[2].key = MPS_KEY_ARGS_END;
    blockFormat_ = new (p) Format(formatArgs);
    blockFormat_->scan = format_->scan;
    blockFormat_->skip = format_->skip;
    blockFormat_->fwd = format_->fwd;
    blockFormat_->isfwd = format_->isfwd;
    blockFormat_->pad = format_->pad;
    blockFormat_->klass = format_->klass;
    blockFormat_->scanSupplied = format_->scanSupplied;
    blockFormat_->skipSupplied = format_->skipSupplied;
    blockFormat_->fwdSupplied = format_->fwdSupplied;
    blockFormat_->isfwdSupplied = format_->isfwdSupplied;
    blockFormat_->padSupplied = format_->padSupplied;
    setBlockFences(blockFormat_, fence, fence);
    exactWindows_ = true;
  }
  debugHooks_ = true;
  return Res::ok;
}

AMSDebugPool::~AMSDebugPool() {
  // debugging.md: every fencepost is verified when the pool is destroyed.
  checkFenceposts(PoolDebug::kFenceOnDestroy, "mps_pool_destroy");
  if (blockFormat_ != nullptr) {
    blockFormat_->~Format();
    arena_->controlFree(blockFormat_, sizeof(Format));
  }
  debug_.finish();
}

void AMSDebugPool::varargs(mps_arg_s* args, va_list ap) {
  PoolDebug::varargs(args, ap, AMSPool::varargs);
}

Res AMSDebugPool::bufferFill(Buffer* buffer, Size size) {
  Size fence = debug_.fenceSize();
  if (sizeTooLarge(size, 2 * fence)) return Res::resource;
  Res res = MarkSweepPool::bufferFill(buffer, size + 2 * fence);
  if (res != Res::ok) return res;
  // The fill lifted the segment's barrier: the window is writable.
  Addr base = buffer->base, limit = buffer->poolLimit;
  if (debug_.splats()) {
    if (Addr bad = debug_.badFreeByte(base, limit))
      PoolDebug::freeFail(__FILE__, __LINE__, PoolDebug::kFreeOnReuse, bad, base, limit,
                          "mps_reserve", this);
  }
  if (fence != 0) {
    MPS_AVER(Size(limit - base) == size + 2 * fence);
    debug_.writeFence(base, fence);
    debug_.writeFence(limit - fence, fence);
    // The client's view: the object alone (.debug.ams.window).
    buffer->ap.init = buffer->ap.alloc = base + fence;
    buffer->ap.limit = limit - fence;
  }
  return Res::ok;
}

void AMSDebugPool::bufferEmpty(Buffer* buffer) {
  Segment* seg = buffer->seg;
  Addr base = buffer->base, limit = buffer->poolLimit;
  Size fence = debug_.fenceSize();
  if (fence != 0) {
    // One block: committed (it is the client's, fenceposts and all) or not
    // (a trip discarded it: the whole window goes back).
    bool committed = buffer->init() == limit - fence;
    MPS_AVER(committed || buffer->init() == base + fence);
    buffer->ap.init = buffer->ap.alloc = committed ? limit : base;
  }
  Addr unused = buffer->init();
  MarkSweepPool::bufferEmpty(buffer);
  if (debug_.splats() && unused < limit) {
    Exposed exposed(seg);
    debug_.splat(unused, limit);
  }
}

Addr AMSDebugPool::checkObject(Addr client, const char* check, const char* function) const {
  Size fence = debug_.fenceSize();
  Addr objectBase = format_->baseOf(client);
  Addr end = format_->baseOf(static_cast<Addr>(format_->skip(client)));
  Addr bad = debug_.badFenceByte(objectBase - fence, fence);
  if (bad == nullptr) bad = debug_.badFenceByte(end, fence);
  if (bad != nullptr)
    PoolDebug::fenceFail(__FILE__, __LINE__, check, bad, client, Size(end - objectBase), function,
                         this);
  return end + fence;
}

void AMSDebugPool::reclaimed(Addr base, Addr limit) {
  // The dead blocks' fenceposts, then their space (the segment is exposed
  // for the collection).
  if (debug_.fenceSize() != 0) {
    for (Addr block = base; block < limit;)
      block = checkObject(blockFormat_->clientOf(block), PoolDebug::kFenceOnReclaim, "collection");
  }
  if (debug_.splats()) debug_.splat(base, limit);
}

void AMSDebugPool::segmentMade(Addr base, Addr limit) {
  if (debug_.splats()) debug_.splat(base, limit);
}

void AMSDebugPool::checkFenceposts(const char* check, const char* function) {
  if (debug_.fenceSize() == 0) return;
  struct Closure {
    const AMSDebugPool* pool;
    const char* check;
    const char* function;
  } closure{this, check, function};
  forEachSegment([&](Segment* seg) {
    Exposed exposed(seg);
    seg->walk(
        [](Segment*, Addr object, void* c) {
          auto* cl = static_cast<Closure*>(c);
          cl->pool->checkObject(object, cl->check, cl->function);
        },
        &closure);
  });
}

void AMSDebugPool::checkFreeSpaceTemplate(const char* check, const char* function) {
  if (!debug_.splats()) return;
  auto checkRuns = [&](MarkSweepSegment* seg) {
    Exposed exposed(seg);
    seg->forEachFreeRun([&](Addr base, Addr limit) {
      if (Addr bad = debug_.badFreeByte(base, limit))
        PoolDebug::freeFail(__FILE__, __LINE__, check, bad, base, limit, function, this);
    });
  };
  forEachSegment([&](Segment* seg) { checkRuns(static_cast<MarkSweepSegment*>(seg)); });
  forEachCachedSegment(checkRuns);
}

}  // namespace mps::core
