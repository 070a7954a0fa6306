// Chunks, tracts and the chunk map.
//
// A chunk is one contiguous run of address space (a VM reservation or a client
// block) divided into grains. Its first grains hold its own header and bit
// tables; then comes the tract table, one Tract per grain, which is committed
// lazily as the grains it describes are allocated. The chunk map finds the
// chunk of an address with two array loads.
#pragma once

#include "base/bittable.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"

namespace mps::core {

class Arena;
class Pool;

// What the arena knows of one allocated grain. `pool` is null for the arena's
// own control memory. `owner` belongs to the pool (later: its segment).
struct Tract {
  Pool* pool;
  void* owner;
};

class Chunk {
 public:
  static constexpr Sig kSig = 0x519C4A2Bu;

  Sig sig = kSig;
  Arena* arena;
  Addr base;   // first grain (aligned to the grain size)
  Addr limit;  // one past the last grain
  Shift grainShift;
  Size grains;
  Size firstUsable;  // grains below hold the header, bit tables and tract table
  Size tableFirst;   // grains [tableFirst, firstUsable) hold the tract table
  BitTable allocated;  // grain is in use (by a pool, the arena, or overhead)
  BitTable committed;  // grain's memory is committed
  Tract* tracts;
  Addr reservedBase;  // what to give back: the whole reservation or block
  Size reservedSize;
  bool ownsAddressSpace;  // VM reservation (released) or client block (kept)
  Ring<Chunk> arenaRing{this};

  // Lays out a chunk over [base, base+size): the header at `base`, committed
  // by the caller up to headerBytes(). `extraBytes` are left free right after
  // the Chunk object, at extraSpace() (the first chunk holds the arena there).
  // Res::memory if the block is too small.
  static Res layout(Chunk** chunkOut, Arena* arena, Addr base, Size size, Shift grainShift,
                    Size extraBytes = 0);
  // Bytes at the start of a chunk of `size` bytes that must be committed
  // before layout() (header, extra space and bit tables), rounded to grains.
  static Size headerBytes(Size size, Shift grainShift, Size extraBytes = 0);
  static Addr extraSpace(Addr base) { return base + alignUp(sizeof(Chunk), 64); }

  Size indexOf(const void* p) const { return Size(wordOf(p) - wordOf(base)) >> grainShift; }
  Addr addrOf(Size index) const { return base + (index << grainShift); }
  bool contains(const void* p) const { return p >= base && p < limit; }

  // Grains of the tract table that describe grains [first, limit).
  Size tableGrainBase(Size first) const;
  Size tableGrainLimit(Size limit) const;

  Tract* allocatedTractOf(const void* p) {
    Size i = indexOf(p);
    return i >= firstUsable && allocated.get(i) ? &tracts[i] : nullptr;
  }

  bool check() const;
};

// Maps an address to its chunk: a two-level table indexed by the address's
// 1 MiB granule. VM chunks are granule aligned, so each granule has at most
// one chunk; client blocks are not, so a granule shared by two client chunks
// is marked and resolved by a search of the (few) chunks.
class ChunkMap {
 public:
  static constexpr Shift kGranuleShift = 20;
  static constexpr Size kGranule = Size(1) << kGranuleShift;
  static constexpr Shift kAddressBits = 47;
  static constexpr Shift kLeafBits = 16;
  static constexpr Shift kRootBits = kAddressBits - kGranuleShift - kLeafBits;

  ChunkMap() = default;
  ChunkMap(const ChunkMap&) = delete;
  ChunkMap& operator=(const ChunkMap&) = delete;
  ~ChunkMap();

  MPS_FORCE_INLINE Chunk* lookup(const void* p) const {
    Word w = wordOf(p);
    if (MPS_UNLIKELY((w >> kAddressBits) != 0)) return nullptr;
    Chunk** leaf = root_[w >> (kGranuleShift + kLeafBits)];
    if (leaf == nullptr) return nullptr;
    Chunk* chunk = leaf[(w >> kGranuleShift) & ((Size(1) << kLeafBits) - 1)];
    if (MPS_LIKELY(chunk == nullptr || chunk->contains(p))) return chunk;
    return lookupShared(p);
  }

  // Records every granule of [chunk->base, chunk->limit). Res::memory if a
  // leaf cannot be allocated, or Res::resource beyond the address bits.
  Res insert(Chunk* chunk);
  void remove(Chunk* chunk);
  void setChunks(Ring<Chunk>* chunks) { chunks_ = chunks; }

 private:
  Chunk* lookupShared(const void* p) const;
  Chunk*** leafFor(Word w, bool create);

  Chunk** root_[Size(1) << kRootBits] = {};
  Ring<Chunk>* chunks_ = nullptr;
};

}  // namespace mps::core
