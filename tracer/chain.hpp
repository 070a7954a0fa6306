// Generation chains (chains.md): when to collect, and what.
//
// A generation counts the bytes that arrived in it since it was last
// condemned (its new size). Once that passes its capacity the chain is due
// for a collection of generations 0 up to the highest one over capacity.
// Non-moving pools never promote, so their blocks stay in their generation.
#pragma once

#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"
#include "mps.h"

namespace mps::core {

class Chain;
class Collector;

class Generation {
 public:
  Chain* chain = nullptr;
  unsigned index = 0;
  Size capacity = 0;         // bytes
  double mortality = 0.5;    // moving average of measured mortality
  Size newSize = 0;          // bytes allocated (or promoted) since last condemned
  Size liveSize = 0;         // bytes that survived its last collection
  Size collections = 0;

  bool overCapacity() const { return newSize > capacity; }
  // Records a collection of this generation: `condemned` bytes of which
  // `survived` lived.
  void noteCollected(Size condemned, Size survived);
};

class Chain {
 public:
  static constexpr Sig kSig = 0x519C4A1u;
  static constexpr unsigned kMaxGenerations = 64;

  // In control memory; `params` is copied.
  static Res create(Chain** chainOut, Collector* collector, Size count,
                    const mps_gen_param_s* params);
  void destroy();
  bool check() const;

  Size count() const { return count_; }
  Collector* collector() const { return collector_; }
  Generation* gen(Size i) { return &gens_[i]; }
  const Generation* gen(Size i) const { return &gens_[i]; }
  // The highest generation over capacity, or -1.
  int highestOverCapacity() const;
  // How far over capacity, as a fraction, the most overdue generation is.
  double urgency() const;

  void use() { ++users_; }
  void release() { MPS_AVER(users_ > 0), --users_; }
  Size users() const { return users_; }

  Sig sig = kSig;
  Ring<Chain> collectorRing{this};

 private:
  Chain(Collector* collector, Size count, Generation* gens);
  Collector* collector_;
  Size count_;
  Generation* gens_;
  Size users_ = 0;
  Size objectSize_ = 0;
};

}  // namespace mps::core
