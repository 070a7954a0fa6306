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
  Size capacity = 0;       // bytes
  double mortality = 0.5;  // moving average of measured mortality
  Size newSize = 0;        // bytes allocated (or promoted) since last condemned
  // Bytes that survived its last collection and stayed in it (those
  // promoted to the next generation are that one's new bytes).
  Size liveSize = 0;
  Size collections = 0;
  // Bytes that arrived by promotion during the last collection (whether or
  // not this generation was condemned by it), and newSize when that
  // collection began: the collector predicts the next collection from them.
  Size arrivedLastTrace = 0;
  Size newSizeAtTraceStart = 0;
  // What the mutator allocated in it while an incremental trace let it
  // run: new bytes the trace did not condemn, which stay new after it.
  Size newDuringTrace = 0;

  // .chain.pacing: the generation is due once its new bytes exceed its
  // capacity and also kLivePacing times what stayed live in it, so that a
  // generation whose capacity is small next to its live data does not mark
  // the same live data over and over: each of its collections marks at
  // most about (1 + 1/kLivePacing) bytes per byte that arrived since the
  // last (design/tracer.md, "Pacing").
  static constexpr double kLivePacing = 0.5;
  // And, for the fixed part of a collection's work (the remembered set it
  // scans whatever it condemns), once its new bytes reach what the last
  // collection of it up to this generation scanned as remembered set,
  // times kWorkPacing: a client's small nursery then costs at most about
  // two bytes of remembered set scanned per byte allocated, instead of the
  // whole remembered set every few kilobytes. (At 1.0 the demo's 16 MiB
  // nursery grew by half, and its maximum RSS with it.)
  static constexpr double kWorkPacing = 0.5;
  // Bytes of remembered set scanned by the last collection whose highest
  // condemned generation was this one.
  Size workBytes = 0;
  Size trigger() const {
    Size paced = Size(double(liveSize) * kLivePacing);
    Size work = Size(double(workBytes) * kWorkPacing);
    if (work > paced) paced = work;
    return paced > capacity ? paced : capacity;
  }
  bool overCapacity() const { return newSize > trigger(); }
  // Records a collection of this generation: `condemned` bytes of which
  // `survived` lived, `stayed` of them in this generation.
  void noteCollected(Size condemned, Size survived, Size stayed);
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
  // The highest generation the chain's next collection is expected to
  // condemn: generation 0 is always condemned; an older one if its new
  // bytes plus as many as arrived in the last collection will pass its
  // trigger. The write barrier does not protect segments of those
  // (design/shield.md .shield.policy).
  int predictedNextTop() const;

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
