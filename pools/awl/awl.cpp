#include "pools/awl/awl.hpp"

#include "base/keys.hpp"
#include "mpscawl.h"

namespace mps::core {

namespace {

Res createAWL(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<AWLPool>(poolOut, arena, &kPoolClassAWL, args);
}

}  // namespace

const PoolClass kPoolClassAWL = {
    PoolClass::kSig,        "AWL", kPoolAttrBuffer | kPoolAttrGC, createAWL, AWLPool::varargs,
    AutoPool::rankApVarargs};

Res AWLPool::init(const mps_arg_s* args) {
  MPS_AVER_ALWAYS(findArg(args, MPS_KEY_FORMAT) != nullptr &&
                  "an AWL pool has a format (MPS_KEY_FORMAT)");
  // Like AMS, outside the default chain's nursery (chains.md).
  Res res = initMarkSweep(args, false, 1);
  if (res != Res::ok) return res;
  findDependent_ = MPS_ARG_OPTIONAL(args, AWL_FIND_DEPENDENT, addr_method, nullptr);
  return Res::ok;
}

Res AWLPool::bufferInit(Buffer* buffer, const mps_arg_s* args) {
  mps_rank_t rank = MPS_ARG_OPTIONAL(args, RANK, rank, mps_rank_t(Rank::exact));
  MPS_AVER_ALWAYS((rank == mps_rank_t(Rank::exact) || rank == mps_rank_t(Rank::weak)) &&
                  "an AWL allocation point has rank exact or weak");
  buffer->rankSet = rankSetOf(Rank(rank));
  return Res::ok;
}

void AWLPool::varargs(mps_arg_s* args, va_list ap) {
  args[0].key = MPS_KEY_FORMAT;
  args[0].val.format = va_arg(ap, mps_fmt_t);
  args[1].key = MPS_KEY_AWL_FIND_DEPENDENT;
  args[1].val.addr_method = va_arg(ap, mps_awl_find_dependent_t);
  args[2].key = MPS_KEY_ARGS_END;
}

}  // namespace mps::core
