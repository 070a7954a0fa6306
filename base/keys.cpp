// The key objects behind the MPS_KEY_* macros, the empty argument list and
// the bounds-checked store used by the MPS_ARGS_* macros.
//
// Client object code refers to these symbols by name through macro
// expansions, so each has C linkage and exactly its reference spelling.
// Every key of the interface is defined here, including those whose class
// headers declare them in later issues, so that one definition exists per
// key whichever headers a client includes.

#include "base/keys.hpp"

#include "base/check.hpp"
#include "mps.h"
#include "mpsacl.h"
#include "mpscmfs.h"
#include "mpscmvff.h"

// The name is the key's public macro name: the reference reports a missing
// required key with exactly that string as the assertion condition.
#define MPS_DEFINE_KEY(NAME) \
  extern "C" const mps_key_s _mps_key_##NAME = {::mps::core::kKeySig, "MPS_KEY_" #NAME}

// The terminator is a key like any other so that list walkers can check
// every element's signature uniformly.
MPS_DEFINE_KEY(ARGS_END);

MPS_DEFINE_KEY(ARENA_GRAIN_SIZE);
MPS_DEFINE_KEY(ARENA_SIZE);
MPS_DEFINE_KEY(ARENA_ZONED);
MPS_DEFINE_KEY(ARENA_GC_WORKERS);
MPS_DEFINE_KEY(ARENA_BARRIER);
MPS_DEFINE_KEY(FORMAT);
MPS_DEFINE_KEY(CHAIN);
MPS_DEFINE_KEY(GEN);
MPS_DEFINE_KEY(RANK);
MPS_DEFINE_KEY(COMMIT_LIMIT);
MPS_DEFINE_KEY(SPARE_COMMIT_LIMIT);
MPS_DEFINE_KEY(PAUSE_TIME);
MPS_DEFINE_KEY(EXTEND_BY);
MPS_DEFINE_KEY(LARGE_SIZE);
MPS_DEFINE_KEY(MIN_SIZE);
MPS_DEFINE_KEY(MEAN_SIZE);
MPS_DEFINE_KEY(MAX_SIZE);
MPS_DEFINE_KEY(ALIGN);
MPS_DEFINE_KEY(SPARE);
MPS_DEFINE_KEY(INTERIOR);
MPS_DEFINE_KEY(VMW3_TOP_DOWN);
MPS_DEFINE_KEY(FMT_ALIGN);
MPS_DEFINE_KEY(FMT_HEADER_SIZE);
MPS_DEFINE_KEY(FMT_SCAN);
MPS_DEFINE_KEY(FMT_SKIP);
MPS_DEFINE_KEY(FMT_FWD);
MPS_DEFINE_KEY(FMT_ISFWD);
MPS_DEFINE_KEY(FMT_PAD);
MPS_DEFINE_KEY(FMT_CLASS);
MPS_DEFINE_KEY(POOL_DEBUG_OPTIONS);

// Lower-case object names, as in the reference, for link compatibility.
extern "C" const mps_key_s _mps_key_arena_extended = {::mps::core::kKeySig,
                                                      "MPS_KEY_ARENA_EXTENDED"};
extern "C" const mps_key_s _mps_key_arena_contracted = {::mps::core::kKeySig,
                                                        "MPS_KEY_ARENA_CONTRACTED"};
extern "C" const mps_key_s _mps_key_ap_hash_arrays = {::mps::core::kKeySig,
                                                      "MPS_KEY_AP_HASH_ARRAYS"};

// Class-specific keys (mpsacl.h, mpscmfs.h, mpscmvff.h, mpscams.h,
// mpscawl.h, mpscmvt.h).
MPS_DEFINE_KEY(ARENA_CL_BASE);
MPS_DEFINE_KEY(MFS_UNIT_SIZE);
MPS_DEFINE_KEY(MVFF_SLOT_HIGH);
MPS_DEFINE_KEY(MVFF_ARENA_HIGH);
MPS_DEFINE_KEY(MVFF_FIRST_FIT);
MPS_DEFINE_KEY(AMS_SUPPORT_AMBIGUOUS);
MPS_DEFINE_KEY(AWL_FIND_DEPENDENT);
MPS_DEFINE_KEY(MVT_RESERVE_DEPTH);
MPS_DEFINE_KEY(MVT_FRAG_LIMIT);

#undef MPS_DEFINE_KEY

extern "C" {

// Not const: the header declares it as a plain array, and C clients pass it
// where a modifiable mps_arg_s[] is expected. The library never writes it.
mps_arg_s mps_args_none[1] = {{MPS_KEY_ARGS_END, {}}};

void _mps_args_set_key(mps_arg_s args[MPS_ARGS_MAX], unsigned i, mps_key_t key) {
  // Checked in every build: the array lives on the client's stack, and an
  // overflow (more than MPS_ARGS_MAX - 1 adds, or an add after
  // MPS_ARGS_DONE) would silently corrupt it.
  MPS_AVER_ALWAYS(i < MPS_ARGS_MAX);
  MPS_AVER(args != nullptr);
  args[i].key = key;
}

}  // extern "C"
