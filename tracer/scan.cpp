#include "tracer/scan.hpp"

#include <cstddef>

#include "protect/thread.hpp"  // MPS_NO_SANITIZE_STACK_SCAN: conservative reads
#include "tracer/trace.hpp"

namespace mps::core {

ScanState::ScanState(Arena* arena, Trace* trace, Worker* worker)
    : arena_(arena), trace_(trace), worker_(worker), traces_(trace != nullptr ? 1u : 0u) {
  c._zs = arena->zoneShift();
  c._w = trace != nullptr ? trace->white() : kRefSetEmpty;
  c._ufs = kRefSetEmpty;
  // ScanState is not standard layout (offsetof is not allowed), so check at
  // run time that the client's mps_ss_t is the object's address.
  MPS_AVER(static_cast<void*>(&c) == static_cast<void*>(this));
}

bool ScanState::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(arena_ != nullptr);
  MPS_CHECKL(c._zs == arena_->zoneShift());
  return true;
}

Res ScanState::verifyRef(Addr ref) {
  if (rank_ == Rank::ambig) return Res::ok;
  Segment* seg = arena_->segmentOf(ref);
  // A reference into arena memory no pool holds (a freed segment: e.g. the
  // old copy of a moved object) is as bad as one to a non-object.
  bool bad = seg == nullptr
                 ? ref != nullptr && arena_->hasAddr(ref) && arena_->tractOf(ref) == nullptr
                 : !seg->isObject(ref);
  if (bad) {
    if (verifyFailures == 0) firstBadRef = ref;
    ++verifyFailures;
  }
  return Res::ok;
}

void ScanState::noteAmbiguousFix(Addr ref) {
  MPS_EVENT(FixAmbiguous, arena_, ref);
}

Res ScanState::divertedFix(Addr* refIO) {
  if (verifying) return verifyRef(*refIO);
  return hook_(this, refIO, hookClosure_);
}

namespace {

// The area scanners under a diverted scan state (walks, transforms): they
// tell the hook where each word is, and store a word back only if the hook
// changed the reference, so that a roots walk's stepper may write through
// the location it is given.
MPS_NO_SANITIZE_STACK_SCAN Res scanAreaDiverted(ScanState* ss, Word* base, Word* limit, Word mask,
                                                Word pattern, TagFilter filter) {
  for (Word* p = base; p < limit; ++p) {
    Word w = *p;
    Word tag = w & mask;
    if (filter != TagFilter::all && tag != pattern &&
        !(filter == TagFilter::patternOrZero && tag == 0))
      continue;
    Word untagged = w ^ tag;
    if (!ss->fix1(untagged)) continue;
    Addr ref = addrOf(untagged);
    // A tagged word does not hold the reference itself.
    ss->areaLocation = tag == 0 ? p : nullptr;
    Res res = ss->fix2(&ref);
    ss->areaLocation = nullptr;
    if (res != Res::ok) return res;
    if (ss->rank() != Rank::ambig && ref != addrOf(untagged)) *p = wordOf(ref) | tag;
  }
  return Res::ok;
}

}  // namespace

MPS_NO_SANITIZE_STACK_SCAN Res scanAreaWords(ScanState* ss, Word* base, Word* limit) {
  if (MPS_UNLIKELY(ss->diverted())) return scanAreaDiverted(ss, base, limit, 0, 0, TagFilter::all);
  for (Word* p = base; p < limit; ++p) {
    Word w = *p;
    if (!ss->fix1(w)) continue;
    Addr ref = addrOf(w);
    Res res = ss->fix2(&ref);
    if (res != Res::ok) return res;
    if (ss->rank() != Rank::ambig) *p = wordOf(ref);
  }
  return Res::ok;
}

MPS_NO_SANITIZE_STACK_SCAN Res scanAreaMasked(ScanState* ss, Word* base, Word* limit, Word mask,
                                              Word pattern, TagFilter filter) {
  if (MPS_UNLIKELY(ss->diverted())) return scanAreaDiverted(ss, base, limit, mask, pattern, filter);
  for (Word* p = base; p < limit; ++p) {
    Word w = *p;
    Word tag = w & mask;
    if (filter != TagFilter::all && tag != pattern &&
        !(filter == TagFilter::patternOrZero && tag == 0))
      continue;
    Word untagged = w ^ tag;
    if (!ss->fix1(untagged)) continue;
    Addr ref = addrOf(untagged);
    Res res = ss->fix2(&ref);
    if (res != Res::ok) return res;
    if (ss->rank() != Rank::ambig) *p = wordOf(ref) | tag;
  }
  return Res::ok;
}

}  // namespace mps::core
