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
//
// Freed mappings are kept for reuse (PageCache): a collection builds and
// drops the same arrays every time, and each fresh mapping costs page
// faults, and each munmap takes the address-space lock and interrupts the
// other cores running the process to flush their TLBs (with this cache and
// batched protection changes, the demo's collections took a fifth less
// time: manual/design/roots-and-threads.md). The
// cache holds a few blocks of each power-of-two size, up to kPageCacheBytes
// in all; its lock is a std::mutex, which never allocates, and is only
// ever tried (a busy cache is bypassed).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <mutex>
#include <new>

#include "base/types.hpp"

namespace mps::core {

// The process-wide cache of freed page blocks behind PageAllocator.
class PageCache {
 public:
  static constexpr std::size_t kPage = 4096;
  static constexpr std::size_t kPageCacheBytes = std::size_t(16) << 20;

  // A block of at least `bytes` (rounded up to a power of two of pages).
  static void* take(std::size_t bytes) {
    std::size_t cls = classOf(bytes);
    // try_lock, never lock: the holder may be a thread this collection
    // has stopped (collecting another arena); then the cache is skipped.
    std::unique_lock<std::mutex> guard(lock(), std::try_to_lock);
    if (cls < kClasses && guard.owns_lock()) {
      Bin& bin = bins()[cls];
      if (bin.count > 0) {
        cachedBytes() -= sizeOf(cls);
        return bin.blocks[--bin.count];
      }
    }
    void* p = ::mmap(nullptr, cls < kClasses ? sizeOf(cls) : roundToPages(bytes),
                     PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }

  // Gives back a block from take(bytes).
  static void give(void* p, std::size_t bytes) {
    std::size_t cls = classOf(bytes);
    std::unique_lock<std::mutex> guard(lock(), std::try_to_lock);
    if (cls < kClasses && guard.owns_lock()) {
      Bin& bin = bins()[cls];
      if (bin.count < kBlocksPerClass && cachedBytes() + sizeOf(cls) <= kPageCacheBytes) {
        bin.blocks[bin.count++] = p;
        cachedBytes() += sizeOf(cls);
        return;
      }
    }
    ::munmap(p, cls < kClasses ? sizeOf(cls) : roundToPages(bytes));
  }

 private:
  static constexpr std::size_t kClasses = 16;  // 4 KiB .. 128 MiB
  static constexpr std::size_t kBlocksPerClass = 32;
  struct Bin {
    void* blocks[kBlocksPerClass];
    std::size_t count = 0;
  };

  static std::size_t roundToPages(std::size_t bytes) { return (bytes + kPage - 1) & ~(kPage - 1); }
  static std::size_t sizeOf(std::size_t cls) { return kPage << cls; }
  // The size class of `bytes`, or kClasses or more for blocks too big to keep.
  static std::size_t classOf(std::size_t bytes) {
    std::size_t cls = 0;
    while (cls < kClasses && sizeOf(cls) < bytes)
      ++cls;
    return cls;
  }
  // Function-local statics: usable from other statics' constructors.
  static std::mutex& lock() {
    static std::mutex m;
    return m;
  }
  static Bin* bins() {
    static Bin b[kClasses];
    return b;
  }
  static std::size_t& cachedBytes() {
    static std::size_t n = 0;
    return n;
  }
};

template <class T>
class PageAllocator {
 public:
  using value_type = T;

  PageAllocator() noexcept = default;
  template <class U>
  PageAllocator(const PageAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T) / 2) throw std::bad_array_new_length();
    void* p = PageCache::take(n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }

  void deallocate(T* p, std::size_t n) noexcept { PageCache::give(p, n * sizeof(T)); }

  template <class U>
  bool operator==(const PageAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace mps::core
