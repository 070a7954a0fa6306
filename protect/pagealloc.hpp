// PageAllocator<T>: a standard allocator that maps whole pages straight from
// the operating system, for the collector's working memory (grey stacks and
// packets, the lists of a trace).
//
// Why not the C heap: while a collection runs, every other registered thread
// is stopped wherever it was, possibly inside malloc or free holding a lock of
// the C library's allocator. A collector that then called malloc could wait
// for that lock forever (manual/design/roots-and-threads.md, .thread.heap).
// mmap and munmap take no lock a stopped thread can hold. Each allocation is
// one mapping, so this suits a few large, growing arrays, not many small
// objects; containers that churn keep their storage for reuse instead.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>

#include "base/types.hpp"

namespace mps::core {

template <class T>
class PageAllocator {
 public:
  using value_type = T;

  PageAllocator() noexcept = default;
  template <class U>
  PageAllocator(const PageAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    void* p =
        ::mmap(nullptr, bytesFor(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T*>(p);
  }

  void deallocate(T* p, std::size_t n) noexcept { ::munmap(p, bytesFor(n)); }

  template <class U>
  bool operator==(const PageAllocator<U>&) const noexcept {
    return true;
  }

 private:
  static std::size_t bytesFor(std::size_t n) {
    // Page alignment suits any T (mmap returns page-aligned memory); the
    // length is rounded up only so that munmap sees the same one.
    constexpr std::size_t kPage = 4096;
    std::size_t bytes = n * sizeof(T);
    return (bytes + kPage - 1) & ~(kPage - 1);
  }
};

}  // namespace mps::core
