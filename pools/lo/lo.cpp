#include "pools/lo/lo.hpp"

#include "base/keys.hpp"
#include "mpsclo.h"

namespace mps::core {

namespace {

Res createLO(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<LOPool>(poolOut, arena, &kPoolClassLO, args);
}

}  // namespace

const PoolClass kPoolClassLO = {PoolClass::kSig, "LO",           kPoolAttrBuffer | kPoolAttrGC,
                                createLO,        LOPool::varargs, nullptr};

Res LOPool::init(const mps_arg_s* args) { return initMarkSweep(args, true, 1); }

Res LOPool::bufferInit(Buffer* buffer, const mps_arg_s*) {
  buffer->rankSet = kRankSetEmpty;
  return Res::ok;
}

void LOPool::varargs(mps_arg_s* args, va_list ap) {
  args[0].key = MPS_KEY_FORMAT;
  args[0].val.format = va_arg(ap, mps_fmt_t);
  args[1].key = MPS_KEY_ARGS_END;
}

}  // namespace mps::core
