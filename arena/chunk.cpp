#include "arena/chunk.hpp"

#include <sys/mman.h>

#include <new>

namespace mps::core {

namespace {

Size bitTablesBytes(Size grains) { return 2 * BitTable::bytesFor(grains); }

}  // namespace

Size Chunk::headerBytes(Size size, Shift grainShift, Size extraBytes) {
  Size grains = size >> grainShift;
  Size bytes = alignUp(sizeof(Chunk), 64) + alignUp(extraBytes, 64) + bitTablesBytes(grains);
  return alignUp(bytes, Size(1) << grainShift);
}

Res Chunk::layout(Chunk** chunkOut, Arena* arena, Addr base, Size size, Shift grainShift,
                  Size extraBytes) {
  Size grainSize = Size(1) << grainShift;
  MPS_AVER(isAligned(base, grainSize) && isAligned(size, grainSize));
  Size grains = size >> grainShift;
  Size header = headerBytes(size, grainShift, extraBytes);
  Size tableBytes = alignUp(grains * sizeof(Tract), grainSize);
  // The chunk must hold its header, its tract table and at least one grain.
  if (header + tableBytes + grainSize > size) return Res::memory;

  Chunk* chunk = new (base) Chunk();
  chunk->arena = arena;
  chunk->base = base;
  chunk->limit = base + size;
  chunk->grainShift = grainShift;
  chunk->grains = grains;
  chunk->tableFirst = header >> grainShift;
  chunk->firstUsable = chunk->tableFirst + (tableBytes >> grainShift);
  Addr tables = base + alignUp(sizeof(Chunk), 64) + alignUp(extraBytes, 64);
  chunk->allocated = BitTable(reinterpret_cast<Word*>(tables), grains);
  chunk->committed =
      BitTable(reinterpret_cast<Word*>(tables + BitTable::bytesFor(grains)), grains);
  chunk->tracts = reinterpret_cast<Tract*>(base + header);
  chunk->allocated.setRange(0, chunk->firstUsable);
  chunk->committed.setRange(0, chunk->tableFirst);
  *chunkOut = chunk;
  return Res::ok;
}

Size Chunk::tableGrainBase(Size first) const {
  Size byte = Size(reinterpret_cast<Addr>(&tracts[first]) - base);
  return byte >> grainShift;
}

Size Chunk::tableGrainLimit(Size lim) const {
  Size byte = Size(reinterpret_cast<Addr>(&tracts[lim]) - base);
  return alignUp(byte, Size(1) << grainShift) >> grainShift;
}

bool Chunk::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(base < limit);
  MPS_CHECKL(grains == Size(limit - base) >> grainShift);
  MPS_CHECKL(tableFirst <= firstUsable && firstUsable < grains);
  MPS_CHECKL(arenaRing.check());
  return true;
}

ChunkMap::~ChunkMap() {
  for (Chunk**& leaf : root_) {
    if (leaf != nullptr) ::munmap(leaf, sizeof(Chunk*) << kLeafBits);
    leaf = nullptr;
  }
}

Chunk*** ChunkMap::leafFor(Word w, bool create) {
  Chunk*** slot = &root_[w >> (kGranuleShift + kLeafBits)];
  if (*slot == nullptr && create) {
    // Leaves come straight from the OS, untouched until written: a leaf
    // covers 64 GiB and only the pages naming live chunks are ever backed.
    void* p = ::mmap(nullptr, sizeof(Chunk*) << kLeafBits, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    *slot = static_cast<Chunk**>(p);
  }
  return slot;
}

Res ChunkMap::insert(Chunk* chunk) {
  Word first = wordOf(chunk->base) >> kGranuleShift;
  Word last = (wordOf(chunk->limit) - 1) >> kGranuleShift;
  if ((wordOf(chunk->limit) - 1) >> kAddressBits) return Res::resource;
  for (Word g = first; g <= last; ++g) {
    Chunk*** leaf = leafFor(g << kGranuleShift, true);
    if (leaf == nullptr || *leaf == nullptr) return Res::memory;
  }
  for (Word g = first; g <= last; ++g) {
    Chunk** entry = &(*leafFor(g << kGranuleShift, false))[g & ((Word(1) << kLeafBits) - 1)];
    // A granule already naming another chunk stays as it is: lookup checks
    // containment and falls back to the search that finds this one.
    if (*entry == nullptr) *entry = chunk;
  }
  return Res::ok;
}

void ChunkMap::remove(Chunk* chunk) {
  Word first = wordOf(chunk->base) >> kGranuleShift;
  Word last = (wordOf(chunk->limit) - 1) >> kGranuleShift;
  for (Word g = first; g <= last; ++g) {
    Chunk*** leaf = leafFor(g << kGranuleShift, false);
    if (leaf == nullptr || *leaf == nullptr) continue;
    Chunk** entry = &(*leaf)[g & ((Word(1) << kLeafBits) - 1)];
    if (*entry != chunk) continue;
    *entry = nullptr;
    // Another chunk sharing this granule (client blocks) takes it over.
    if (chunks_ != nullptr) {
      chunks_->forEach([&](Chunk* other) {
        if (other != chunk && *entry == nullptr &&
            (wordOf(other->base) >> kGranuleShift) <= g &&
            ((wordOf(other->limit) - 1) >> kGranuleShift) >= g)
          *entry = other;
      });
    }
  }
}

Chunk* ChunkMap::lookupShared(const void* p) const {
  if (chunks_ == nullptr) return nullptr;
  Chunk* found = nullptr;
  chunks_->forEach([&](Chunk* chunk) {
    if (chunk->contains(p)) found = chunk;
  });
  return found;
}

}  // namespace mps::core
