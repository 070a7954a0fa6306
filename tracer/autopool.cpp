#include "tracer/autopool.hpp"

#include "base/keys.hpp"

namespace mps::core {

Res AutoPool::initAuto(const mps_arg_s* args, bool needsFormat, unsigned defaultChainGen) {
  Format* format = nullptr;
  if (needsFormat) {
    format = reinterpret_cast<Format*>(MPS_ARG_REQUIRED(args, FORMAT, format));
    MPS_AVERT(Format, format);
  }
  Chain* chain = reinterpret_cast<Chain*>(MPS_ARG_OPTIONAL(args, CHAIN, chain, nullptr));
  unsigned gen = 0;
  if (chain == nullptr) {
    chain = collector()->defaultChain();
    gen = defaultChainGen;
  }
  MPS_AVERT(Chain, chain);
  gen = MPS_ARG_OPTIONAL(args, GEN, u, gen);
  MPS_AVER_ALWAYS(gen < chain->count() && "MPS_KEY_GEN names a generation of the chain");
  if (format != nullptr) {
    MPS_AVER_ALWAYS(isAligned(format->headerSize, sizeof(void*)) &&
                    "format header size is a multiple of the word size");
    alignment_ = format->alignment > sizeof(void*) ? format->alignment : sizeof(void*);
    format->use();
  }
  format_ = format;
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

bool AutoPool::check() const {
  MPS_CHECKL(Pool::check());
  MPS_CHECKL(format_ == nullptr || format_->sig == Format::kSig);
  MPS_CHECKL(chain_ != nullptr && chain_->sig == Chain::kSig);
  MPS_CHECKL(gen_ != nullptr);
  return true;
}

}  // namespace mps::core
