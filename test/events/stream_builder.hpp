// Telemetry streams made by tests, from the shared contract's structs
// (event/eventdef.hpp), for the converter's tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "event/eventdef.hpp"

namespace mps::test {

class StreamBuilder {
 public:
  static constexpr std::uint64_t kTicksPerSecond = 1'000'000'000;  // nanoseconds
  static constexpr std::uint64_t kStart = 5'000'000'000;

  StreamBuilder() {
    std::memcpy(header.magic, event::kMagic, sizeof header.magic);
    header.version = event::kFormatVersion;
    header.headerBytes = event::kHeaderBytes;
    header.byteOrderMark = event::kByteOrderMark;
    header.wordBytes = sizeof(void*);
    header.tableHash = event::tableHash();
    header.ticksPerSecond = kTicksPerSecond;
    header.startTime = kStart;
    header.startWallNs = 1796000000ull * 1000000000ull;
    header.processId = 4242;
  }

  // Appends a record; `time` is ticks since the stream's start.
  StreamBuilder& add(event::EventKind kind, std::uint32_t thread, std::uint64_t time,
                     std::initializer_list<std::uint64_t> fields, std::string_view text = {}) {
    return add(kind, thread, time, std::span<const std::uint64_t>(fields.begin(), fields.size()),
               text);
  }
  StreamBuilder& add(event::EventKind kind, std::uint32_t thread, std::uint64_t time,
                     std::span<const std::uint64_t> fields, std::string_view text = {}) {
    const event::KindInfo* info = event::findKind(std::uint16_t(kind));
    if (info == nullptr || event::fieldCount(info->fields) != fields.size())
      throw std::logic_error("StreamBuilder::add: wrong field count");
    std::vector<unsigned char> r(sizeof(event::RecordHeader) + 8 * fields.size());
    std::size_t at = sizeof(event::RecordHeader);
    for (std::uint64_t f : fields) {
      std::memcpy(r.data() + at, &f, 8);
      at += 8;
    }
    if (info->hasText) {
      r.insert(r.end(), text.begin(), text.end());
      r.push_back(0);
      while (r.size() % event::kRecordAlign != 0)
        r.push_back(0);
    }
    event::RecordHeader h{std::uint16_t(kind), std::uint16_t(r.size()), thread, kStart + time};
    std::memcpy(r.data(), &h, sizeof h);
    records_.insert(records_.end(), r.begin(), r.end());
    return *this;
  }

  std::vector<unsigned char> bytes() const {
    std::vector<unsigned char> out(event::kHeaderBytes, 0);
    std::memcpy(out.data(), &header, sizeof header);
    out.insert(out.end(), records_.begin(), records_.end());
    return out;
  }

  event::FileHeader header{};

 private:
  std::vector<unsigned char> records_;
};

// A plausible run: an arena, a chain of two generations, an AMC pool and an
// MVFF pool with labels, `collections` collections with pauses, three
// marking workers, commit changes and generation sizes, on two threads.
inline std::vector<unsigned char> syntheticRun(unsigned collections = 12) {
  using K = event::EventKind;
  StreamBuilder b;
  const std::uint64_t arena = 0x7f0000001000, chain = 0x7f0000002000, amc = 0x7f0000003000,
                      mvff = 0x7f0000004000, format = 0x7f0000005000;
  const std::uint64_t ms = 1'000'000;
  b.add(K::ArenaCreate, 1, 1000, {arena, 256u << 20, ~std::uint64_t(0), 0});
  b.add(K::Intern, 1, 1100, {1}, "the heap");
  b.add(K::Label, 1, 1200, {amc, 1});
  b.add(K::Intern, 1, 1300, {2}, "objects");
  b.add(K::Label, 1, 1400, {format, 2});
  b.add(K::ChainCreate, 1, 2000, {arena, chain, 2});
  b.add(K::PoolCreate, 1, 3000, {arena, amc, format}, "AMC");
  b.add(K::PoolCreate, 1, 3500, {arena, mvff, 0}, "MVFF");
  std::uint64_t committed = 1u << 20, t = 1 * ms;
  std::uint64_t gen0 = 0, gen1 = 0;
  for (unsigned i = 1; i <= collections; ++i) {
    for (int k = 0; k < 4; ++k) {
      t += 2 * ms + (i * 37 + k * 11) % 5 * ms / 3;
      committed += (1u << 20) + (i % 3) * (1u << 18);
      gen0 += 3u << 20;
      b.add(K::CommitChange, 1 + k % 2, t, {arena, committed, 0, ~std::uint64_t(0)});
      b.add(K::GenerationSize, 1, t + 10, {arena, chain, 0, 8u << 20, gen0, 1u << 20});
      b.add(K::SegCreate, 1, t + 20, {arena, amc, 0x7f0010000000 + t, 1u << 16});
    }
    const bool major = i % 4 == 0;
    const std::uint64_t start = t + ms / 2, trace = i;
    b.add(K::TraceStart, 1, start,
          {arena, trace, chain, major ? 1u : 0u, major ? 1u : 0u, gen0 + (major ? gen1 : 0)},
          major ? "the whole heap is full" : "generation 0 of a chain has reached capacity");
    b.add(K::TraceCondemn, 1, start + 1000, {arena, trace, chain, 0, gen0});
    std::uint64_t flipPause = 300'000 + i * 20'000 + (major ? 2 * ms : 0);
    b.add(K::TracePause, 1, start + flipPause, {arena, trace, 0, flipPause});
    b.add(K::TraceFlip, 1, start + flipPause, {arena, trace, 40});
    for (std::uint64_t w = 0; w < 3; ++w)
      b.add(K::TraceWorker, 2, start + flipPause + 100 + w,
            {arena, trace, w, 1000 * (w + 3) * i, 800 * (w + 2) * i, 40000 * (w + 3) * i});
    b.add(K::TracePhase, 1, start + flipPause + 200, {arena, trace, 1, 400'000, 12});
    const std::uint64_t incPause = 150'000 + i * 5'000;
    const std::uint64_t end = start + flipPause + ms + incPause;
    b.add(K::TracePause, 1, end, {arena, trace, 1, incPause});
    b.add(K::TraceGeneration, 1, end, {arena, trace, chain, 0, gen0, gen0 / 4, gen0 / 4});
    const std::uint64_t survived = gen0 / 4;
    gen1 += survived;
    b.add(K::TraceEnd, 1, end,
          {arena, trace, gen0, 1u << 20, survived, gen0 - survived, end - start,
           flipPause + incPause, flipPause, 2, 3, 0});
    gen0 = 0;
    b.add(K::GenerationSize, 1, end + 10, {arena, chain, 0, 8u << 20, 0, 0});
    b.add(K::GenerationSize, 1, end + 20, {arena, chain, 1, 32u << 20, gen1, survived});
    committed -= committed / 3;
    b.add(K::CommitChange, 1, end + 30, {arena, committed, 1u << 20, ~std::uint64_t(0)});
    t = end;
  }
  b.add(K::PoolDestroy, 1, t + ms, {arena, mvff});
  b.add(K::StreamFlush, 1, t + ms + 10, {4096, 0});
  return b.bytes();
}

}  // namespace mps::test
