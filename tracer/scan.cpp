#include "tracer/scan.hpp"

#include <cstddef>

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

Res ScanState::fix2(Addr* refIO) {
  Addr ref = *refIO;
  if (MPS_UNLIKELY(verifying)) return verifyRef(ref);
  Segment* seg = arena_->segmentOf(ref);
  if (seg == nullptr) {
    // Exact references point at objects or are null (roots.md): one into the
    // arena that no pool owns is the client's bug.
    MPS_AVER(rank_ == Rank::ambig || ref == nullptr || arena_->tractOf(ref) != nullptr ||
             !arena_->hasAddr(ref) || !"ss->rank < RankEXACT");
    return Res::ok;
  }
  if (!seg->isWhite(traces_)) return Res::ok;
  Res res = seg->fix(this, refIO);
  if (res == Res::ok) fixedSummary_ |= refSetOfAddr(*refIO, zoneShift());
  return res;
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

// Reading other threads' stacks (and the words around objects) is what a
// conservative collector does: keep the sanitizers from reporting it.
#if defined(__GNUC__)
#define MPS_NO_SANITIZE_SCAN __attribute__((no_sanitize_address)) __attribute__((no_sanitize_thread))
#else
#define MPS_NO_SANITIZE_SCAN
#endif

MPS_NO_SANITIZE_SCAN Res scanAreaWords(ScanState* ss, Word* base, Word* limit) {
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

MPS_NO_SANITIZE_SCAN Res scanAreaMasked(ScanState* ss, Word* base, Word* limit, Word mask,
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
    Res res = ss->fix2(&ref);
    if (res != Res::ok) return res;
    if (ss->rank() != Rank::ambig) *p = wordOf(ref) | tag;
  }
  return Res::ok;
}

}  // namespace mps::core
