// Location dependencies (ld.md; design: manual/design/amc.md .amc.ld).
//
// An LD records the collector's moving epoch when it was reset and the zones
// of the addresses added since. It is stale when a collection since that
// epoch moved objects out of one of those zones. Only reset takes the arena
// lock; add, merge and the staleness tests read the collector's epoch and
// history, which a moving collection updates before it publishes a new
// epoch (Collector::noteMoved).
#include "api/handles.hpp"
#include "arena/segment.hpp"
#include "mps.h"
#include "tracer/collector.hpp"

using mps::core::Collector;
using mps::core::RefSet;
using mps::core::Word;
using namespace mps::api;

namespace {

Collector* ldCollector(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  MPS_API_AVER_SIG(Arena, arena);
  return collectorOf(arena);
}

void checkLd(const mps_ld_s* ld, const Collector* c) {
  MPS_AVER_ALWAYS(ld != NULL);
  // An LD that was never reset is detected by an epoch from the future.
  MPS_AVER(ld->_epoch <= c->ldEpoch() && "the location dependency was reset with mps_ld_reset");
  (void)c;
}

}  // namespace

extern "C" {

void mps_ld_reset(mps_ld_t ld, mps_arena_t handle) {
  MPS_AVER_ALWAYS(ld != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  ld->_epoch = Collector::of(arena)->ldEpoch();
  ld->_rs = mps::core::kRefSetEmpty;
}

void mps_ld_add(mps_ld_t ld, mps_arena_t handle, mps_addr_t addr) {
  Collector* c = ldCollector(handle);
  checkLd(ld, c);
  ld->_rs |= mps::core::refSetOfAddr(addr, c->arena()->zoneShift());
}

void mps_ld_merge(mps_ld_t dest, mps_arena_t handle, mps_ld_t src) {
  Collector* c = ldCollector(handle);
  checkLd(dest, c);
  checkLd(src, c);
  dest->_rs |= src->_rs;
  // The older epoch: the merged LD must see every move either one would.
  if (src->_epoch < dest->_epoch) dest->_epoch = src->_epoch;
}

mps_bool_t mps_ld_isstale_any(mps_ld_t ld, mps_arena_t handle) {
  Collector* c = ldCollector(handle);
  checkLd(ld, c);
  RefSet moved = c->movedSince(ld->_epoch);
  return (moved & ld->_rs) != 0 ? 1 : 0;
}

mps_bool_t mps_ld_isstale(mps_ld_t ld, mps_arena_t handle, mps_addr_t) {
  // Answers for the whole LD: a false positive for an address is allowed.
  return mps_ld_isstale_any(ld, handle);
}

}  // extern "C"
