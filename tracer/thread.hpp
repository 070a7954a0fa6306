// Registered mutator threads (threads.md): the collector suspends them
// while it collects and scans their stacks and registers through their
// thread roots.
#pragma once

#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "protect/thread.hpp"

namespace mps::core {

class Collector;

class MutatorThread {
 public:
  static constexpr Sig kSig = 0x519700Du;

  explicit MutatorThread(Collector* collector) : collector(collector) {}
  ~MutatorThread() { invalidateSig(sig); }
  MutatorThread(const MutatorThread&) = delete;
  MutatorThread& operator=(const MutatorThread&) = delete;

  bool check() const { return sig == kSig && collector != nullptr; }

  Sig sig = kSig;
  Collector* collector;
  OsThread os;
  bool suspended = false;  // by the current collection
  bool dead = false;       // exited without deregistering: its stack is not scanned
  Size roots = 0;          // thread roots naming it
  Ring<MutatorThread> collectorRing{this};
};

}  // namespace mps::core
