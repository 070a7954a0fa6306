#include "tracer/root.hpp"

#include "protect/thread.hpp"
#include "tracer/scan.hpp"
#include "tracer/thread.hpp"

namespace mps::core {

Root::Root(Collector* collector, Kind kind, Rank rank, mps_rm_t mode)
    : collector_(collector), kind_(kind), rank_(rank), mode_(mode) {}

bool Root::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(collector_ != nullptr);
  MPS_CHECKL(unsigned(rank_) < kRankCount);
  switch (kind_) {
    case Kind::area:
    case Kind::areaTagged:
      MPS_CHECKL(base != nullptr && base < limit && areaScan != nullptr);
      break;
    case Kind::formatted:
      MPS_CHECKL(base != nullptr && base < limit && formatScan != nullptr);
      break;
    case Kind::function:
      MPS_CHECKL(functionScan != nullptr);
      break;
    case Kind::thread:
      MPS_CHECKL(thread != nullptr && coldEnd != nullptr && areaScan != nullptr);
      break;
  }
  return true;
}

Res Root::scanArea(ScanState* ss, void* areaBase, void* areaLimit) {
  Word* b = static_cast<Word*>(areaBase);
  Word* l = static_cast<Word*>(areaLimit);
  switch (builtin) {
    case Builtin::words:
      return scanAreaWords(ss, b, l);
    case Builtin::tagged:
      return scanAreaMasked(ss, b, l, tag.mask, tag.pattern, TagFilter::pattern);
    case Builtin::taggedOrZero:
      return scanAreaMasked(ss, b, l, tag.mask, tag.pattern, TagFilter::patternOrZero);
    case Builtin::none:
      break;
  }
  // Tagged roots pass their tag (the creator points closure at it).
  return Res(areaScan(ss->handle(), areaBase, areaLimit, closure));
}

namespace {

struct CurrentThreadScan {
  Root* root;
  ScanState* ss;
  void* cold;
  Res res;
};

}  // namespace

Res Root::scanThread(ScanState* ss) {
  MutatorThread* t = thread;
  if (t->dead) return Res::ok;
  if (t->os.isCurrent()) {
    // The caller's own stack: spill its registers onto the stack first, then
    // scan from there to the cold end.
    CurrentThreadScan state{this, ss, coldEnd, Res::ok};
    withCurrentContext(
        [](void* hot, const void* regsBase, const void* regsLimit, void* closure) {
          auto* s = static_cast<CurrentThreadScan*>(closure);
          Word* lo = static_cast<Word*>(hot);
          lo = reinterpret_cast<Word*>(alignUp(wordOf(lo), sizeof(Word)));
          if (regsBase != nullptr && regsBase < regsLimit) {
            s->res = s->root->scanArea(s->ss, const_cast<void*>(regsBase),
                                       const_cast<void*>(regsLimit));
            if (s->res != Res::ok) return;
          }
          if (lo < static_cast<Word*>(s->cold))
            s->res = s->root->scanArea(s->ss, lo, s->cold);
        },
        &state);
    return state.res;
  }
  MPS_AVER(t->suspended);
  const void* rb = t->os.registersBase();
  const void* rl = t->os.registersLimit();
  if (rb != nullptr && rb < rl) {
    Word* b = reinterpret_cast<Word*>(alignUp(wordOf(rb), sizeof(Word)));
    Word* l = reinterpret_cast<Word*>(alignDown(wordOf(rl), sizeof(Word)));
    if (b < l) {
      Res res = scanArea(ss, b, l);
      if (res != Res::ok) return res;
    }
  }
  Word* hot = reinterpret_cast<Word*>(alignUp(wordOf(t->os.stackHot()), sizeof(Word)));
  if (hot < static_cast<Word*>(coldEnd)) return scanArea(ss, hot, coldEnd);
  return Res::ok;
}

Res Root::scan(ScanState* ss) {
  ss->setRank(rank_);
  switch (kind_) {
    case Kind::area:
    case Kind::areaTagged:
      return scanArea(ss, base, limit);
    case Kind::formatted:
      return Res(formatScan(ss->handle(), base, limit));
    case Kind::function:
      return Res(functionScan(ss->handle(), functionP, functionS));
    case Kind::thread:
      return scanThread(ss);
  }
  return Res::ok;
}

}  // namespace mps::core
