// A seeded mutation fuzz of the converter's reader (design/mps-events.md):
// at least a million damaged streams (bit flips, cuts, corrupted size and
// code fields, random bytes, splices of two streams, overwritten runs), each
// of which must either parse or fail with a message naming an offset inside
// the input; never crash, hang or read outside it (the asan preset runs this
// too). A sample of those that parse go through every writer, so the
// report's arithmetic meets nonsense values as well.
//
// MPS_FUZZ_INPUTS sets the count (default 1,000,000); MPS_TEST_SEED the seed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <sstream>

#include "formats.hpp"
#include "seed.hpp"
#include "stream_builder.hpp"

namespace {

using mps::event::EventKind;
using mps::events::parse;
using mps::test::Rng;

struct Seed {
  std::vector<unsigned char> bytes;
  std::vector<std::size_t> records;  // offsets of its records
};

Seed seedOf(std::vector<unsigned char> bytes) {
  Seed s{std::move(bytes), {}};
  const auto parsed = parse(s.bytes);
  for (const auto& e : parsed.events)
    s.records.push_back(e.offset);
  std::sort(s.records.begin(), s.records.end());
  return s;
}

std::vector<Seed> seeds() {
  std::vector<Seed> out;
  out.push_back(seedOf(mps::test::syntheticRun(1)));
  mps::test::StreamBuilder b;
  b.add(EventKind::Intern, 2, 5, {1}, "a label of some length, to cross a word");
  b.add(EventKind::PoolCreate, 1, 6, {1, 2, 3}, "");
  b.add(EventKind::TraceEnd, 1, 9, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  b.add(EventKind::TracePause, 1, 3, {1, 1, 9, ~0ull});
  out.push_back(seedOf(b.bytes()));
  out.push_back(seedOf(mps::test::StreamBuilder().bytes()));
  return out;
}

std::uint64_t interestingValue(Rng& rng) {
  static const std::uint64_t values[] = {0,  1,   7,   8,      15,     16,     17,         24,   40,
                                         48, 255, 256, 0x7fff, 0xfff8, 0xffff, 0xffffffff, ~0ull};
  return rng.below(4) == 0 ? rng.next() : values[rng.below(std::size(values))];
}

void mutate(std::vector<unsigned char>& b, const Seed& seed, const std::vector<Seed>& all,
            Rng& rng) {
  auto somewhere = [&] { return b.empty() ? 0 : std::size_t(rng.below(b.size())); };
  auto aRecord = [&]() -> std::size_t {
    if (seed.records.empty()) return somewhere();
    return seed.records[rng.below(seed.records.size())];
  };
  auto store = [&](std::size_t at, std::uint64_t v, std::size_t bytes) {
    for (std::size_t i = 0; i < bytes && at + i < b.size(); ++i)
      b[at + i] = (v >> (8 * i)) & 0xff;
  };
  switch (rng.below(9)) {
    case 0:  // bit flips
      for (std::uint64_t n = rng.between(1, 8); n > 0 && !b.empty(); --n)
        b[somewhere()] ^= std::uint8_t(1u << rng.below(8));
      break;
    case 1:  // cut anywhere
      b.resize(somewhere());
      break;
    case 2:  // a record's size
      store(aRecord() + 2, interestingValue(rng), 2);
      break;
    case 3:  // a record's code, or its thread
      store(aRecord() + (rng.below(2) ? 0 : 4),
            rng.below(3) ? rng.below(160) : interestingValue(rng), rng.below(2) ? 2 : 4);
      break;
    case 4:  // a header field
      store(8 + 4 * std::size_t(rng.below(14)), interestingValue(rng), rng.below(2) ? 4 : 8);
      break;
    case 5: {  // random bytes, with or without a plausible header
      const std::size_t n = std::size_t(rng.below(400));
      if (rng.below(2))
        b.resize(std::min(b.size(), std::size_t(64)));
      else
        b.clear();
      for (std::size_t i = 0; i < n; ++i)
        b.push_back(std::uint8_t(rng.next()));
      break;
    }
    case 6: {  // splice: this one's start, another's records
      const Seed& other = all[rng.below(all.size())];
      const std::size_t from =
          other.records.empty() ? 64 : other.records[rng.below(other.records.size())];
      b.resize(std::min(b.size(), aRecord()));
      if (from < other.bytes.size())
        b.insert(b.end(), other.bytes.begin() + std::ptrdiff_t(from), other.bytes.end());
      break;
    }
    case 7:  // overwrite a run
      for (std::size_t at = somewhere(), n = std::size_t(rng.between(1, 32));
           n > 0 && at < b.size(); --n, ++at)
        b[at] = std::uint8_t(rng.below(3) == 0 ? 0 : rng.next());
      break;
    case 8:  // duplicate or drop a byte range
      if (!b.empty()) {
        const std::size_t at = somewhere(),
                          n = std::min<std::size_t>(rng.between(1, 24), b.size() - at);
        if (rng.below(2))
          b.insert(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at),
                   b.begin() + std::ptrdiff_t(at + n));
        else
          b.erase(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at + n));
      }
      break;
  }
}

std::uint64_t inputCount() {
  if (const char* env = std::getenv("MPS_FUZZ_INPUTS")) return std::strtoull(env, nullptr, 0);
  return 1'000'000;
}

TEST(EventStreamFuzz, RandomMutationsParseOrFailWithAMessage) {
  Rng rng(mps::test::testSeed(0x5eedfa11));
  const std::uint64_t inputs = inputCount();
  const std::vector<Seed> all = seeds();
  const auto began = std::chrono::steady_clock::now();
  std::uint64_t parsed = 0, failed = 0, written = 0;
  std::vector<unsigned char> b;
  for (std::uint64_t i = 0; i < inputs; ++i) {
    const Seed& seed = all[rng.below(all.size())];
    b = seed.bytes;
    for (std::uint64_t m = rng.between(1, 3); m > 0; --m)
      mutate(b, seed, all, rng);
    const std::size_t size = b.size();
    const auto s = parse(std::move(b));
    if (s.error) {
      ++failed;
      ASSERT_LE(s.error->offset, size) << "input " << i << ": " << s.error->what();
      ASSERT_FALSE(s.error->expected.empty()) << "input " << i;
    } else {
      ++parsed;
    }
    for (const auto& e : s.events)
      ASSERT_LE(e.offset + e.kind->fixedBytes(), size) << "input " << i;
    if (i % 997 == 0 && s.headerValid) {
      std::ostringstream out;
      mps::events::writeText(s, "fuzz", out);
      mps::events::writeJsonLines(s, "fuzz", out);
      mps::events::writeHtml(s, "fuzz", out);
      ++written;
      ASSERT_FALSE(out.str().empty());
    }
    b = {};
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf(
      "[ fuzz     ] %llu inputs in %.2f s: %llu parsed, %llu failed with a message, "
      "%llu through every writer\n",
      static_cast<unsigned long long>(inputs), seconds, static_cast<unsigned long long>(parsed),
      static_cast<unsigned long long>(failed), static_cast<unsigned long long>(written));
  EXPECT_GT(parsed, 0u);
  EXPECT_GT(failed, 0u);
}

}  // namespace
