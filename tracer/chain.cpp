#include "tracer/chain.hpp"

#include <new>

#include "event/event.hpp"
#include "tracer/collector.hpp"

namespace mps::core {

void Generation::noteCollected(Size condemned, Size survived, Size stayed) {
  if (condemned > 0) {
    // Weight the latest observation as the reference does, so that one odd
    // collection does not swing the estimate.
    double measured = 1.0 - double(survived) / double(condemned);
    if (measured < 0.0) measured = 0.0;
    mortality = 0.6 * mortality + 0.4 * measured;
  }
  newSize = 0;
  liveSize = stayed;
  ++collections;
}

Chain::Chain(Collector* collector, Size count, Generation* gens)
    : collector_(collector), count_(count), gens_(gens) {}

Res Chain::create(Chain** chainOut, Collector* collector, Size count,
                  const mps_gen_param_s* params) {
  MPS_AVER_ALWAYS(count > 0 && "chain has at least one generation");
  MPS_AVER_ALWAYS(count <= kMaxGenerations && "chain has at most 64 generations");
  MPS_AVER_ALWAYS(params != nullptr);
  for (Size i = 0; i < count; ++i) {
    MPS_AVER_ALWAYS(params[i].mps_capacity > 0 && "generation capacity is positive");
    MPS_AVER_ALWAYS(params[i].mps_mortality >= 0.0 && params[i].mps_mortality <= 1.0 &&
                    "generation mortality is within [0, 1]");
  }
  Size bytes = sizeof(Chain) + count * sizeof(Generation);
  void* p;
  Res res = collector->arena()->controlAlloc(&p, bytes);
  if (res != Res::ok) return res;
  auto* gens = reinterpret_cast<Generation*>(static_cast<Chain*>(p) + 1);
  for (Size i = 0; i < count; ++i) {
    new (&gens[i]) Generation();
    gens[i].index = unsigned(i);
    gens[i].capacity = params[i].mps_capacity << 10;
    gens[i].mortality = params[i].mps_mortality;
  }
  Chain* chain = new (p) Chain(collector, count, gens);
  for (Size i = 0; i < count; ++i)
    gens[i].chain = chain;
  chain->objectSize_ = bytes;
  collector->addChain(chain);
  MPS_EVENT(ChainCreate, collector->arena(), chain, count);
  *chainOut = chain;
  return Res::ok;
}

void Chain::destroy() {
  MPS_AVERT(Chain, this);
  if (users_ != 0)
    assertFail(__FILE__, __LINE__, "chain is not used by any pool: destroy its pools first");
  Collector* collector = collector_;
  Size bytes = objectSize_;
  collectorRing.remove();
  for (Size i = 0; i < count_; ++i)
    gens_[i].~Generation();
  invalidateSig(sig);
  this->~Chain();
  collector->arena()->controlFree(this, bytes);
}

bool Chain::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(count_ > 0 && count_ <= kMaxGenerations);
  MPS_CHECKL(gens_ != nullptr);
  return true;
}

int Chain::highestOverCapacity() const {
  for (Size i = count_; i-- > 0;)
    if (gens_[i].overCapacity()) return int(i);
  return -1;
}

int Chain::predictedNextTop() const {
  for (Size i = count_; i-- > 1;) {
    const Generation& g = gens_[i];
    if (g.newSize + g.arrivedLastTrace > g.trigger()) return int(i);
  }
  return 0;
}

double Chain::urgency() const {
  double worst = 0.0;
  for (Size i = 0; i < count_; ++i) {
    // Polled at every allocation point fill, in arenas with manual pools
    // only as well: nothing new costs no division.
    if (gens_[i].newSize == 0) continue;
    double u = double(gens_[i].newSize) / double(gens_[i].trigger());
    if (u > worst) worst = u;
  }
  return worst;
}

}  // namespace mps::core
