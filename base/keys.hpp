// Keyword arguments: the key objects behind MPS_KEY_* and lookup in a list.
//
// A key is the address of a constant mps_key_s; keys compare by address. Each
// carries its name so that a missing required key can be reported by name.
#pragma once

#include "base/check.hpp"
#include "mps.h"

struct mps_key_s {
  mps::core::Sig sig;
  const char* name;
};

namespace mps::core {

constexpr Sig kKeySig = 0x519CE7u;

// The value for `key` in an MPS_KEY_ARGS_END-terminated list, or null.
inline const mps_arg_s* findArg(const mps_arg_s* args, mps_key_t key) {
  if (args == nullptr) return nullptr;
  for (; args->key != MPS_KEY_ARGS_END; ++args) {
    MPS_AVER(args->key != nullptr && args->key->sig == kKeySig);
    if (args->key == key) return args;
  }
  return nullptr;
}

// The value of an optional key or `fallback`. `member` is the val field.
#define MPS_ARG_OPTIONAL(args, KEY, member, fallback)                       \
  ([&] {                                                                    \
    const mps_arg_s* found_ = ::mps::core::findArg((args), MPS_KEY_##KEY); \
    return found_ != nullptr ? found_->val.member : (fallback);              \
  }())

// The value of a required key; its absence is a checked error naming the key.
#define MPS_ARG_REQUIRED(args, KEY, member)                                 \
  ([&] {                                                                    \
    const mps_arg_s* found_ = ::mps::core::findArg((args), MPS_KEY_##KEY); \
    if (found_ == nullptr)                                                  \
      ::mps::core::assertFail(__FILE__, __LINE__, "MPS_KEY_" #KEY);         \
    return found_->val.member;                                              \
  }())

}  // namespace mps::core
