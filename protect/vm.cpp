#include "protect/vm.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include "base/check.hpp"

namespace mps::core::vm {

Size pageSize() {
  static const Size size = Size(::sysconf(_SC_PAGESIZE));
  return size;
}

Res reserve(Addr* baseOut, Size size, Align align) {
  MPS_AVER(size > 0 && isAligned(size, pageSize()));
  MPS_AVER(isPowerOfTwo(align) && align >= pageSize());
  // Over-reserve by the alignment and trim both ends: mmap only promises page
  // alignment, and chunks want their own (table lookup by aligned granule).
  Size slack = align - pageSize();
  if (size > ~Size(0) - slack) return Res::resource;
  Size total = size + slack;
  void* p = ::mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return Res::resource;
  Addr raw = static_cast<Addr>(p);
  Addr base = alignUp(raw, align);
  if (base > raw) ::munmap(raw, Size(base - raw));
  Addr end = raw + total;
  if (end > base + size) ::munmap(base + size, Size(end - (base + size)));
  *baseOut = base;
  return Res::ok;
}

void release(Addr base, Size size) {
  MPS_AVER(isAligned(base, pageSize()) && isAligned(size, pageSize()));
  int rc = ::munmap(base, size);
  MPS_AVER(rc == 0);
  (void)rc;
}

Res commit(Addr base, Size size) {
  MPS_AVER(isAligned(base, pageSize()) && isAligned(size, pageSize()));
  // MAP_FIXED over our own reservation swaps PROT_NONE pages for fresh
  // zero-filled ones; it is the one call that both commits and zeroes.
  void* p =
      ::mmap(base, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) return Res::memory;
  MPS_AVER(p == base);
  return Res::ok;
}

void decommit(Addr base, Size size) {
  MPS_AVER(isAligned(base, pageSize()) && isAligned(size, pageSize()));
  // Replace with an inaccessible, unbacked mapping: the pages are returned to
  // the OS and any stray access faults instead of reading stale data.
  void* p =
      ::mmap(base, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  MPS_AVER(p == base);
  (void)p;
}

void protect(Addr base, Size size, Access access) {
  MPS_AVER(isAligned(base, pageSize()) && isAligned(size, pageSize()));
  int prot = access == Access::readWrite  ? PROT_READ | PROT_WRITE
             : access == Access::readOnly ? PROT_READ
                                          : PROT_NONE;
  int rc = ::mprotect(base, size, prot);
  // Fails only for a range that is not mapped: a bug of ours, never the client's.
  MPS_AVER(rc == 0);
  (void)rc;
}

}  // namespace mps::core::vm
