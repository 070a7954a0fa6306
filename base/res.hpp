// Result codes. The values are those of mps_res_t so that the C interface can
// pass them through unchanged.
#pragma once

namespace mps::core {

enum class Res : int {
  ok = 0,
  fail = 1,         // unspecified failure
  resource = 2,     // address space or another non-memory resource
  memory = 3,       // the OS (or a client block) could not supply memory
  limit = 4,        // an internal limit was reached
  unimpl = 5,       // not implemented for this object
  io = 6,           // plinth I/O failed
  commitLimit = 7,  // would exceed the arena's commit limit
  param = 8,        // illegal parameter value
};

inline bool isOk(Res r) { return r == Res::ok; }

}  // namespace mps::core
