#include "format/format.hpp"

#include "base/keys.hpp"
#include "mpstd.h"

namespace mps::core {

namespace {

// Stubs for methods the client did not supply: a pool that calls one needs a
// method its format lacks, which is the client's configuration error.
mps_res_t noScan(mps_ss_t, mps_addr_t, mps_addr_t) {
  assertFail(__FILE__, __LINE__, "format has a scan method: the pool scans its objects");
}
mps_addr_t noSkip(mps_addr_t) {
  assertFail(__FILE__, __LINE__, "format has a skip method: the pool needs object sizes");
}
void noFwd(mps_addr_t, mps_addr_t) {
  assertFail(__FILE__, __LINE__, "format has a forward method: the pool moves objects");
}
mps_addr_t noIsfwd(mps_addr_t) {
  assertFail(__FILE__, __LINE__, "format has an is-forwarded method: the pool moves objects");
}
void noPad(mps_addr_t, size_t) {
  assertFail(__FILE__, __LINE__, "format has a pad method: the pool pads free space");
}
// The default class method: the object's first word, as telemetry expects.
mps_addr_t firstWordClass(mps_addr_t p) { return *static_cast<mps_addr_t*>(p); }

}  // namespace

Format::Format(const mps_arg_s* args) {
  alignment = MPS_ARG_OPTIONAL(args, FMT_ALIGN, align, mps_align_t(MPS_PF_ALIGN));
  headerSize = MPS_ARG_OPTIONAL(args, FMT_HEADER_SIZE, size, size_t(0));
  mps_fmt_scan_t s = MPS_ARG_OPTIONAL(args, FMT_SCAN, fmt_scan, mps_fmt_scan_t(nullptr));
  mps_fmt_skip_t k = MPS_ARG_OPTIONAL(args, FMT_SKIP, fmt_skip, mps_fmt_skip_t(nullptr));
  mps_fmt_fwd_t f = MPS_ARG_OPTIONAL(args, FMT_FWD, fmt_fwd, mps_fmt_fwd_t(nullptr));
  mps_fmt_isfwd_t i = MPS_ARG_OPTIONAL(args, FMT_ISFWD, fmt_isfwd, mps_fmt_isfwd_t(nullptr));
  mps_fmt_pad_t p = MPS_ARG_OPTIONAL(args, FMT_PAD, fmt_pad, mps_fmt_pad_t(nullptr));
  mps_fmt_class_t c = MPS_ARG_OPTIONAL(args, FMT_CLASS, fmt_class, mps_fmt_class_t(nullptr));
  scanSupplied = s != nullptr;
  skipSupplied = k != nullptr;
  fwdSupplied = f != nullptr;
  isfwdSupplied = i != nullptr;
  padSupplied = p != nullptr;
  scan = s != nullptr ? s : noScan;
  skip = k != nullptr ? k : noSkip;
  fwd = f != nullptr ? f : noFwd;
  isfwd = i != nullptr ? i : noIsfwd;
  pad = p != nullptr ? p : noPad;
  klass = c != nullptr ? c : firstWordClass;
}

bool Format::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(isPowerOfTwo(alignment));
  MPS_CHECKL(scan != nullptr && skip != nullptr && fwd != nullptr && isfwd != nullptr &&
             pad != nullptr && klass != nullptr);
  return true;
}

}  // namespace mps::core
