// Roots (roots.md): where the collector starts. Each root has a rank
// (ambiguous or exact here; weak later) and a way to find its references.
#pragma once

#include "arena/segment.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"
#include "mps.h"

namespace mps::core {

class Collector;
class MutatorThread;
class ScanState;

class Root {
 public:
  static constexpr Sig kSig = 0x5192007u;

  enum class Kind {
    area,        // [base, limit) scanned by an area scanner (tables too)
    areaTagged,  // the same, the scanner gets the root's tag as closure
    formatted,   // [base, limit) of formatted objects, a format scan method
    function,    // a client function (mps_root_create)
    thread,      // a registered thread's stack and registers
  };

  // Fills in a root; the C interface allocates it in control memory.
  Root(Collector* collector, Kind kind, Rank rank, mps_rm_t mode);
  ~Root() { invalidateSig(sig); }
  Root(const Root&) = delete;
  Root& operator=(const Root&) = delete;

  Res scan(ScanState* ss);
  bool check() const;

  Rank rank() const { return rank_; }
  Kind kind() const { return kind_; }
  Collector* collector() const { return collector_; }

  Sig sig = kSig;
  Ring<Root> collectorRing{this};

  // Kind-specific description (public: filled in by the creators).
  void* base = nullptr;
  void* limit = nullptr;
  mps_area_scan_t areaScan = nullptr;
  void* closure = nullptr;
  mps_scan_tag_s tag{0, 0};
  mps_fmt_scan_t formatScan = nullptr;
  mps_root_scan_t functionScan = nullptr;
  void* functionP = nullptr;
  size_t functionS = 0;
  MutatorThread* thread = nullptr;
  void* coldEnd = nullptr;
  // The library's own word scanner for this area (faster than calling the
  // client-visible function): set when areaScan is one of mps_scan_area*.
  enum class Builtin { none, words, tagged, taggedOrZero } builtin = Builtin::none;

 private:
  Res scanArea(ScanState* ss, void* areaBase, void* areaLimit);
  Res scanThread(ScanState* ss);

  Collector* collector_;
  Kind kind_;
  Rank rank_;
  mps_rm_t mode_;
};

}  // namespace mps::core
