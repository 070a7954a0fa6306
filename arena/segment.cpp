#include "arena/segment.hpp"

#include "arena/buffer.hpp"

namespace mps::core {

RefSet refSetOfRange(Addr base, Addr limit, Shift zoneShift) {
  if (base >= limit) return kRefSetEmpty;
  Word first = wordOf(base) >> zoneShift;
  Word last = (wordOf(limit) - 1) >> zoneShift;
  if (last - first >= kWordBits - 1) return kRefSetUniv;
  RefSet set = kRefSetEmpty;
  for (Word z = first; z <= last; ++z) set |= RefSet(1) << (z & (kWordBits - 1));
  return set;
}

bool Segment::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(pool != nullptr && pool->sig == Pool::kSig);
  MPS_CHECKL(base < limit);
  MPS_CHECKL((grey & ~white) == grey || rankSet != kRankSetEmpty || grey == 0);
  MPS_CHECKL(buffer == nullptr || (buffer->seg == this && contains(buffer->base)));
  return true;
}

}  // namespace mps::core
