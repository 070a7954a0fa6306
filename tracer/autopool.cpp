#include "tracer/autopool.hpp"

#include "base/keys.hpp"

namespace mps::core {

namespace {

Format* formatArg(const mps_arg_s* args) {
  auto* format = reinterpret_cast<Format*>(MPS_ARG_REQUIRED(args, FORMAT, format));
  MPS_AVERT(Format, format);
  return format;
}

}  // namespace

void AutoPool::useFormat(Format* format) {
  MPS_AVER_ALWAYS(isAligned(format->headerSize, sizeof(void*)) &&
                  "format header size is a multiple of the word size");
  alignment_ = format->alignment > sizeof(void*) ? format->alignment : sizeof(void*);
  format->use();
  format_ = format;
}

Res AutoPool::initFormat(const mps_arg_s* args) {
  MPS_AVER(!class_->has(kPoolAttrGC) && "a collected pool has a chain");
  useFormat(formatArg(args));
  return Res::ok;
}

Res AutoPool::initAuto(const mps_arg_s* args, bool needsFormat, unsigned defaultChainGen) {
  Format* format = needsFormat ? formatArg(args) : nullptr;
  Chain* chain = reinterpret_cast<Chain*>(MPS_ARG_OPTIONAL(args, CHAIN, chain, nullptr));
  unsigned gen = 0;
  if (chain == nullptr) {
    chain = collector()->defaultChain();
    gen = defaultChainGen;
  }
  MPS_AVERT(Chain, chain);
  gen = MPS_ARG_OPTIONAL(args, GEN, u, gen);
  MPS_AVER_ALWAYS(gen < chain->count() && "MPS_KEY_GEN names a generation of the chain");
  if (format != nullptr) useFormat(format);
  chain_ = chain;
  chain->use();
  gen_ = chain->gen(gen);
  return Res::ok;
}

AutoPool::~AutoPool() {
  MPS_AVER(segments_.isSingle());
  if (format_ != nullptr) format_->release();
  if (chain_ != nullptr) chain_->release();
}

void AutoPool::rankApVarargs(mps_arg_s* args, va_list ap) {
  args[0].key = MPS_KEY_RANK;
  args[0].val.rank = va_arg(ap, mps_rank_t);
  args[1].key = MPS_KEY_ARGS_END;
}

bool AutoPool::check() const {
  MPS_CHECKL(Pool::check());
  MPS_CHECKL(format_ == nullptr || format_->sig == Format::kSig);
  // Only a collected pool has a chain, and then a generation of it.
  MPS_CHECKL((chain_ != nullptr) == class_->has(kPoolAttrGC));
  MPS_CHECKL(chain_ == nullptr || chain_->sig == Chain::kSig);
  MPS_CHECKL((gen_ != nullptr) == (chain_ != nullptr));
  return true;
}

}  // namespace mps::core
