#include "pools/ams/ams.hpp"

#include "base/keys.hpp"
#include "mpscams.h"

namespace mps::core {

namespace {

Res createAMS(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<AMSPool>(poolOut, arena, &kPoolClassAMS, args);
}

}  // namespace

const PoolClass kPoolClassAMS = {
    PoolClass::kSig,        "AMS", kPoolAttrBuffer | kPoolAttrGC, createAMS, AMSPool::varargs,
    AutoPool::rankApVarargs};

Res AMSPool::init(const mps_arg_s* args) {
  // Non-moving objects stay out of the default chain's nursery (chains.md).
  Res res = initMarkSweep(args, false, 1);
  if (res != Res::ok) return res;
  supportAmbiguous_ = MPS_ARG_OPTIONAL(args, AMS_SUPPORT_AMBIGUOUS, b, mps_bool_t(1)) != 0;
  return Res::ok;
}

Res AMSPool::bufferInit(Buffer* buffer, const mps_arg_s* args) {
  mps_rank_t rank = MPS_ARG_OPTIONAL(args, RANK, rank, mps_rank_t(Rank::exact));
  MPS_AVER_ALWAYS(rank < kRankCount && "MPS_KEY_RANK is a rank");
  Rank r = Rank(rank);
  if (r == Rank::ambig)
    MPS_AVER_ALWAYS(supportAmbiguous_ &&
                    "an ambiguous allocation point needs MPS_KEY_AMS_SUPPORT_AMBIGUOUS");
  MPS_AVER_ALWAYS(r != Rank::final && "an AMS allocation point has rank ambiguous, exact or weak");
  // Weak is accepted, as the reference does (pools-ams.md), and scanned as
  // exact: AMS objects hold no weak references.
  if (r == Rank::weak) r = Rank::exact;
  buffer->rankSet = rankSetOf(r);
  return Res::ok;
}

void AMSPool::varargs(mps_arg_s* args, va_list ap) {
  args[0].key = MPS_KEY_FORMAT;
  args[0].val.format = va_arg(ap, mps_fmt_t);
  args[1].key = MPS_KEY_CHAIN;
  args[1].val.chain = va_arg(ap, mps_chain_t);
  args[2].key = MPS_KEY_AMS_SUPPORT_AMBIGUOUS;
  args[2].val.b = va_arg(ap, mps_bool_t);
  args[3].key = MPS_KEY_ARGS_END;
}

}  // namespace mps::core
