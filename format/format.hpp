// Object formats (format.md): the client's description of its objects.
//
// A format is shared by the pools that use it; it counts them so that
// destroying a format still in use is reported. Methods the client did not
// supply are replaced by stubs that report the call, so a pool that needs a
// method the format lacks fails loudly at the first use instead of jumping
// through a null pointer.
#pragma once

#include "base/check.hpp"
#include "base/res.hpp"
#include "base/types.hpp"
#include "mps.h"

namespace mps::core {

class Format {
 public:
  static constexpr Sig kSig = 0x519F0A7u;

  // Reads MPS_KEY_FMT_* (format.md); unsupplied methods become stubs.
  explicit Format(const mps_arg_s* args);
  ~Format() { invalidateSig(sig); }
  Format(const Format&) = delete;
  Format& operator=(const Format&) = delete;

  bool check() const;

  // Client address <-> base of the block (in-band headers).
  Addr clientOf(Addr base) const { return base + headerSize; }
  Addr baseOf(Addr client) const { return client - headerSize; }
  // The block size of the object at client address `p`.
  Size sizeOf(Addr p) const { return Size(static_cast<Addr>(skip(p)) - p); }

  bool hasScan() const { return scanSupplied; }
  bool hasSkip() const { return skipSupplied; }
  bool hasMoving() const { return fwdSupplied && isfwdSupplied && padSupplied; }

  // Pools using the format.
  void use() { ++users; }
  void release() { MPS_AVER(users > 0), --users; }

  Sig sig = kSig;
  Align alignment;
  Size headerSize;
  mps_fmt_scan_t scan;
  mps_fmt_skip_t skip;
  mps_fmt_fwd_t fwd;
  mps_fmt_isfwd_t isfwd;
  mps_fmt_pad_t pad;
  mps_fmt_class_t klass;
  bool scanSupplied, skipSupplied, fwdSupplied, isfwdSupplied, padSupplied;
  Size users = 0;
  void* arenaLink = nullptr;  // the owning collector's bookkeeping
};

}  // namespace mps::core
