// The scan state and the fix protocol (scanning.md).
//
// A ScanState starts with the client-visible mps_ss_s, so an mps_ss_t is a
// pointer to it: MPS_FIX1 reads the zone shift and white set from it and
// accumulates the unfixed summary without a call. _mps_fix2 (stage 2) finds
// the segment of a reference in O(1) and, if it is white for this trace,
// calls the pool's fix (stage 3).
//
// Each marking worker has its own scan state, so fixes never share mutable
// state except the pools' mark bits (set atomically).
#pragma once

#include "arena/arena.hpp"
#include "arena/segment.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/types.hpp"
#include "event/event.hpp"
#include "mps.h"

namespace mps::core {

class Trace;
class Worker;

class ScanState {
 public:
  // First, so that an mps_ss_t points at the ScanState.
  mps_ss_s c;

  static constexpr Sig kSig = 0x5195CA5u;

  ScanState(Arena* arena, Trace* trace, Worker* worker);
  ~ScanState() { invalidateSig(sig); }
  ScanState(const ScanState&) = delete;
  ScanState& operator=(const ScanState&) = delete;

  static ScanState* of(mps_ss_t ss) { return reinterpret_cast<ScanState*>(ss); }
  mps_ss_t handle() { return &c; }

  Rank rank() const { return rank_; }
  void setRank(Rank rank) { rank_ = rank; }
  RefSet white() const { return c._w; }
  Shift zoneShift() const { return Shift(c._zs); }

  // Stage 1, for references the library itself scans (areas, stacks).
  MPS_FORCE_INLINE bool fix1(Word ref) {
    RefSet zone = RefSet(1) << ((ref >> c._zs) & (kWordBits - 1));
    c._ufs |= zone;
    return (c._w & zone) != 0;
  }
  // Stage 2 and 3: the reference passed stage 1. Inline, so that the C
  // interface's _mps_fix2 is the only call between a client's scan method
  // and the pool's fix.
  MPS_FORCE_INLINE Res fix2(Addr* refIO) {
    if (MPS_UNLIKELY(diverted_)) return divertedFix(refIO);
    Addr ref = *refIO;
    Segment* seg = arena_->segmentOf(ref);
    // Every reference that passed stage 1 lands in the summary with the
    // value it has after the fix (design/shield.md .shield.summary): one
    // into a white zone but not to a white object stays where it is.
    if (seg == nullptr) {
      checkUnowned(ref);
      fixedSummary_ |= refSetOfAddr(ref, zoneShift());
      return Res::ok;
    }
    if (!seg->isWhite(traces_)) {
      fixedSummary_ |= refSetOfAddr(ref, zoneShift());
      return Res::ok;
    }
    if (MPS_UNLIKELY(rank_ == Rank::weak)) return fixWeak(seg, refIO);
    // Checked build only (the ref category is on the critical path). Out of
    // line: the event's locals must not live in the frames fix2 is inlined
    // into (GCC's AddressSanitizer then left their scope poisoning behind on
    // the stack after those frames returned).
    if (MPS_EVENT_ON(FixAmbiguous) && rank_ == Rank::ambig) noteAmbiguousFix(ref);
    Res res = seg->fix(this, refIO);
    if (res == Res::ok) fixedSummary_ |= refSetOfAddr(*refIO, zoneShift());
    return res;
  }
  // Both stages.
  MPS_FORCE_INLINE Res fix12(Addr* refIO) { return fix1(wordOf(*refIO)) ? fix2(refIO) : Res::ok; }

  // The summary of the references seen since the last reset: zones of
  // references that were not white, plus the zones of those fixed.
  RefSet summary() const { return (c._ufs & ~c._w) | fixedSummary_; }
  void resetSummary() {
    c._ufs = kRefSetEmpty;
    fixedSummary_ = kRefSetEmpty;
  }

  Arena* arena() const { return arena_; }
  Trace* trace() const { return trace_; }
  Worker* worker() const { return worker_; }
  TraceSet traces() const { return traces_; }

  // Heap verification (checked builds): fix checks that a reference points
  // at a valid object instead of marking. Counts what it found. Read-only:
  // startVerifying sets it.
  bool verifying = false;
  void startVerifying() {
    verifying = true;
    diverted_ = true;
  }
  // Walks and transforms (walking.md): every reference that passes stage 1
  // goes to `hook` instead of stages 2 and 3, with the scan state at the
  // rank of what is being scanned. The hook may update *refIO (at a rank
  // other than ambiguous the scanners store it back); a result other than
  // Res::ok stops the scan, as a failed fix does.
  using FixHook = Res (*)(ScanState* ss, Addr* refIO, void* closure);
  void divert(FixHook hook, void* closure) {
    hook_ = hook;
    hookClosure_ = closure;
    diverted_ = true;
  }
  bool diverted() const { return diverted_; }
  // While a diverted scan of the library's area scanners fixes a copy of a
  // word (they fix copies, to strip tags and for aliasing), the word's
  // address; else null. A roots walk reports it as the reference's location.
  void* areaLocation = nullptr;
  Size verifyFailures = 0;
  Addr firstBadRef = nullptr;
  Addr verifyingObject = nullptr;

  bool check() const;

  Sig sig = kSig;
  Size scannedBytes = 0;  // statistics
  // Of those, bytes scanned as a remembered set (whole uncondemned
  // segments, the old objects of segments condemned for their young ones):
  // the fixed part of a collection's work, which pacing bounds
  // (.chain.pacing).
  Size rememberedBytes = 0;

 private:
  Res verifyRef(Addr ref);
  [[gnu::noinline]] Res divertedFix(Addr* refIO);
  [[gnu::noinline, gnu::cold]] void noteAmbiguousFix(Addr ref);
  // A weak reference into a white segment: a splatted one (now null) adds
  // no zone to the summary.
  [[gnu::noinline]] Res fixWeak(Segment* seg, Addr* refIO) {
    Res res = seg->fixWeak(this, refIO);
    if (res == Res::ok && *refIO != nullptr) fixedSummary_ |= refSetOfAddr(*refIO, zoneShift());
    return res;
  }
  // Exact references point at objects or are null (roots.md): one into the
  // arena that no pool owns is the client's bug (checked builds).
  void checkUnowned(Addr ref) const {
    MPS_AVER(rank_ == Rank::ambig || ref == nullptr || arena_->tractOf(ref) != nullptr ||
             !arena_->hasAddr(ref) || !"ss->rank < RankEXACT");
    (void)ref;
  }

  Arena* arena_;
  Trace* trace_;
  Worker* worker_;
  TraceSet traces_;
  Rank rank_ = Rank::exact;
  RefSet fixedSummary_ = kRefSetEmpty;
  // One flag for the verifier and the hooks, so that the fix path tests once.
  bool diverted_ = false;
  FixHook hook_ = nullptr;
  void* hookClosure_ = nullptr;
};

// Area scanners used by roots and offered to clients (mps_scan_area and
// its tagged variants). `closure` is a mps_scan_tag_s* for the tagged ones.
Res scanAreaWords(ScanState* ss, Word* base, Word* limit);
// Which words a masked scan considers: all of them (the tag bits are
// cleared for the fix and put back), those whose tag equals the pattern, or
// those whose tag is the pattern or zero.
enum class TagFilter { all, pattern, patternOrZero };
Res scanAreaMasked(ScanState* ss, Word* base, Word* limit, Word mask, Word pattern,
                   TagFilter filter);

}  // namespace mps::core
