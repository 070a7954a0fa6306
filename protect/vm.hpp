// The operating system's virtual memory, behind the smallest interface the
// arena needs. Preconditions are checked in checked builds.
//
//   reserve   address space only: no memory is used until commit.
//   commit    makes [base, base+size) readable, writable and zero-filled.
//   decommit  gives the memory back to the OS; the range stays reserved and
//             reads as zero when committed again.
//   release   gives the address space back.
//   protect   sets the access the mutator has to committed memory (the
//             shield's barrier): read and write, read only, or none.
// All ranges are page aligned (pageSize()).
#pragma once

#include "base/res.hpp"
#include "base/types.hpp"

namespace mps::core::vm {

Size pageSize();

// Reserves `size` bytes aligned to `align` (a power of two, at least a page).
// Res::resource when the address space cannot be had.
Res reserve(Addr* baseOut, Size size, Align align);
void release(Addr base, Size size);

// Res::memory when the OS refuses.
Res commit(Addr base, Size size);
void decommit(Addr base, Size size);

enum class Access { readWrite, readOnly, none };
// Async-signal-safe (one mprotect): the barrier's fault handler calls it.
void protect(Addr base, Size size, Access access);

}  // namespace mps::core::vm
