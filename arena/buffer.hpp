// Allocation buffers: the core of an allocation point (allocation.md).
//
// The client's mps_ap_t points at the mps_ap_s that starts a Buffer, so the
// inline reserve and commit macros work on the buffer's three words without
// a call. A buffer is a window [base, poolLimit) of pool memory: committed
// objects in [base, ap.init), at most one reserved block in [ap.init,
// ap.alloc), free space up to the limit.
//
// The collector traps a buffer at a flip by setting ap.limit to 0 and
// remembering ap.init ("init at flip"): the collector treats [base, init at
// flip) as committed objects. The next reserve goes to fill (which hands the
// buffer back and takes a new one). A commit sees the zero limit and calls
// trip: if init has moved since the flip, the block was reserved across the
// flip and never scanned, so trip discards it and returns false (the client
// retries); otherwise the block was committed before the flip and stands.
// The true limit stays in poolLimit.
#pragma once

#include "arena/pool.hpp"
#include "arena/segment.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"
#include "mps.h"

namespace mps::core {

class Buffer {
 public:
  static constexpr Sig kSig = 0x519B0FFEu;

  explicit Buffer(Pool* pool) : pool(pool) { ap = mps_ap_s{nullptr, nullptr, nullptr}; }
  ~Buffer() { invalidateSig(sig); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  static Buffer* of(mps_ap_t ap) { return reinterpret_cast<Buffer*>(ap); }
  mps_ap_t handle() { return &ap; }

  Addr init() const { return static_cast<Addr>(ap.init); }
  Addr alloc() const { return static_cast<Addr>(ap.alloc); }
  // Reset: no window. (A manual pool's window lies in no segment, so the
  // window's base, not the segment, says whether there is one.)
  bool isReset() const { return base == nullptr; }
  bool hasReservation() const { return ap.init != ap.alloc; }
  bool isTrapped() const { return trapped; }

  // Gives the buffer [base, limit) of `segment` (the pool's fill). Manual
  // pools, which have no segments, pass null.
  void attach(Segment* segment, Addr bufBase, Addr bufLimit);
  // Forgets the window (the pool's empty has taken back [init, poolLimit)).
  void detach();
  // A flip happened: make the next reserve and any pending commit take the
  // slow path, and remember how far objects were committed. Idempotent.
  void trap();
  // The end of the committed objects the collector may scan.
  Addr scanLimit() const { return trapped ? initAtFlip : init(); }

  // The slow path of reserve: hands the rest of the window back to the pool,
  // gets a new one holding at least `size` bytes, and reserves the block.
  // Locked.
  Res fill(Addr* pOut, Size size);
  // The slow path of commit (ap.limit was 0): true if the block [p, p+size)
  // stands; false if a flip intervened since the reserve, in which case the
  // block is discarded (the buffer stays trapped, and the next fill hands the
  // space back) and the client must retry. Locked.
  bool trip(Addr p, Size size);
  // Hands the unused part back to the pool and resets the buffer. Locked.
  void empty();

  bool check() const;

  // First: mps_ap_t points here.
  mps_ap_s ap;
  Sig sig = kSig;
  Pool* pool;
  Segment* seg = nullptr;     // the segment the window lies in; null when reset or manual
  Addr base = nullptr;        // start of the window
  Addr poolLimit = nullptr;   // end of the window (ap.limit is 0 when trapped)
  Addr initAtFlip = nullptr;  // ap.init when trapped
  // The pool has counted the objects committed before this as new bytes of
  // its generation (chains.md). The mark-sweep pools count what a buffer
  // committed when the buffer is emptied, not its whole window when it is
  // filled, so that many allocation points holding windows at once do not
  // look like a generation over capacity (design/ams.md .ms.accounting).
  Addr accountedTo = nullptr;
  bool trapped = false;
  RankSet rankSet = kRankSetEmpty;  // ranks of the references in its objects
  // Allocation patterns begun on the allocation point and not yet ended
  // (allocation.md): ramps, and ramps after which everything is collected.
  unsigned ramps = 0;
  unsigned rampsCollectAll = 0;
  bool inRamp() const { return ramps + rampsCollectAll != 0; }
  unsigned poolFlags = 0;  // the pool class's own per-buffer options
  // The pool class's own per-buffer state (SNC: its stack; MVT: the
  // window's span).
  void* poolData = nullptr;
  Ring<Buffer> poolRing{this};
  Size fills = 0;  // statistics
  Size trips = 0;
};

}  // namespace mps::core
