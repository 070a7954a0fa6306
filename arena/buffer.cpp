#include "arena/buffer.hpp"

#include "event/event.hpp"

namespace mps::core {

void Buffer::attach(Segment* segment, Addr bufBase, Addr bufLimit) {
  MPS_AVER(isReset());
  MPS_AVER(bufBase != nullptr && bufBase < bufLimit);
  if (segment != nullptr) {
    MPS_AVER(segment->buffer == nullptr);
    MPS_AVER(segment->base <= bufBase && bufLimit <= segment->limit);
    segment->buffer = this;
  }
  seg = segment;
  base = bufBase;
  poolLimit = bufLimit;
  trapped = false;
  ap.init = ap.alloc = bufBase;
  ap.limit = bufLimit;
}

void Buffer::detach() {
  if (seg != nullptr) seg->buffer = nullptr;
  seg = nullptr;
  base = poolLimit = initAtFlip = nullptr;
  trapped = false;
  // A zero limit sends the next reserve to fill.
  ap = mps_ap_s{nullptr, nullptr, nullptr};
}

void Buffer::trap() {
  if (isReset() || trapped) return;
  trapped = true;
  initAtFlip = init();
  ap.limit = nullptr;
}

void Buffer::empty() {
  if (isReset()) return;
  MPS_AVER_ALWAYS(!hasReservation() && "no block is reserved when an allocation point is emptied");
  pool->bufferEmpty(this);
  detach();
}

Res Buffer::fill(Addr* pOut, Size size) {
  MPS_AVERT(Buffer, this);
  MPS_AVER_ALWAYS(ap.init == ap.alloc && "reserve: the previous reservation was committed");
  MPS_AVER_ALWAYS(size > 0 && "reserve: size is not zero");
  MPS_AVER_ALWAYS(isAligned(size, pool->alignment()) &&
                  "reserve: size is a multiple of the pool's alignment");
  empty();
  Res res = pool->bufferFill(this, size);
  if (res != Res::ok) return res;
  MPS_AVER(!isReset() && Size(poolLimit - init()) >= size);
  ++fills;
  MPS_EVENT(BufferFill, pool, init(), poolLimit - init());
  *pOut = init();
  ap.alloc = init() + size;
  return Res::ok;
}

bool Buffer::trip(Addr p, Size size) {
  MPS_AVERT(Buffer, this);
  // The commit macro has already moved init to alloc.
  MPS_AVER_ALWAYS(!isReset() && "commit: the block was reserved on this allocation point");
  MPS_AVER_ALWAYS(size > 0 && "commit: size is not zero");
  MPS_AVER_ALWAYS(p + size == alloc() && ap.init == ap.alloc &&
                  "commit: the block committed is the one reserved");
  if (!trapped || init() == initAtFlip) {
    // No flip, or the block was committed before it (the collector took it
    // as an object). The buffer stays trapped until the next fill.
    return true;
  }
  // A flip happened while the block was reserved: it may hold references
  // the collector never saw. Discard it; the next fill hands the space back.
  ++trips;
  ap.init = ap.alloc = p;
  return false;
}

bool Buffer::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(pool != nullptr && pool->sig == Pool::kSig);
  if (isReset()) {
    MPS_CHECKL(ap.limit == nullptr && seg == nullptr);
  } else {
    MPS_CHECKL(seg == nullptr || seg->buffer == this);
    MPS_CHECKL(base <= init() && init() <= alloc() && alloc() <= poolLimit);
    // A debugging pool may end the client's view of the window before its
    // end, at the end of the one block reserved, so that the trailing
    // fencepost after it is never reserved (design/debug.md).
    MPS_CHECKL(trapped ? ap.limit == nullptr
                       : ap.limit == poolLimit || (alloc() <= ap.limit && ap.limit < poolLimit));
  }
  return true;
}

}  // namespace mps::core
