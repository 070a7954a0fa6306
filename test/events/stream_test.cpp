// The converter's stream reader (design/mps-events.md): every kind decoded
// from the table alone, events sorted by time, and a precise message naming
// the offset for each way a stream can be damaged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "stream.hpp"
#include "stream_builder.hpp"

namespace {

using mps::event::EventKind;
using mps::events::parse;
using mps::events::Stream;
using mps::test::StreamBuilder;

std::string errorOf(const Stream& s) {
  return s.error ? s.error->what() : "(no error)";
}

TEST(EventReader, DecodesEveryKindFromTheTable) {
  StreamBuilder b;
  std::uint64_t t = 0;
  for (const mps::event::KindInfo& k : mps::event::kKinds) {
    std::vector<std::uint64_t> fields;
    for (unsigned i = 0; i < mps::event::fieldCount(k.fields); ++i)
      fields.push_back(k.code * 100u + i);
    b.add(EventKind(k.code), 1 + k.code % 3, ++t, fields, k.hasText ? k.name : "");
  }
  const Stream s = parse(b.bytes());
  ASSERT_FALSE(s.error) << errorOf(s);
  ASSERT_EQ(s.events.size(), std::size(mps::event::kKinds));
  for (std::size_t i = 0; i < s.events.size(); ++i) {
    const auto& e = s.events[i];
    const mps::event::KindInfo& k = mps::event::kKinds[i];
    EXPECT_EQ(e.kind->name(), k.name);
    EXPECT_EQ(e.thread, 1u + k.code % 3);
    EXPECT_EQ(s.sinceStart(e.time), std::int64_t(i + 1));
    ASSERT_EQ(e.kind->fields.size(), mps::event::fieldCount(k.fields));
    for (unsigned f = 0; f < e.kind->fields.size(); ++f)
      EXPECT_EQ(s.field(e, f), k.code * 100u + f) << k.name << "." << e.kind->fields[f];
    EXPECT_EQ(s.text(e), k.hasText ? std::string_view(k.name) : std::string_view());
  }
  const auto& start =
      s.events[std::size_t(mps::events::findKind(40) - mps::events::kinds().data())];
  EXPECT_EQ(s.field(start, "condemned"), 40u * 100 + 5);
  EXPECT_EQ(s.field(start, "nonsense", 7), 7u);
}

TEST(EventReader, SortsEventsByTimeAcrossThreads) {
  StreamBuilder b;
  b.add(EventKind::StreamFlush, 1, 30, {1, 0});
  b.add(EventKind::StreamFlush, 1, 40, {2, 0});
  b.add(EventKind::StreamFlush, 2, 10, {3, 0});
  b.add(EventKind::StreamFlush, 2, 30, {4, 0});
  const Stream s = parse(b.bytes());
  ASSERT_FALSE(s.error) << errorOf(s);
  std::vector<std::uint64_t> order;
  for (const auto& e : s.events)
    order.push_back(s.field(e, 0u));
  EXPECT_EQ(order, (std::vector<std::uint64_t>{3, 1, 4, 2}));  // ties keep stream order
}

TEST(EventReader, HeaderOnlyIsAnEmptyRun) {
  const Stream s = parse(StreamBuilder().bytes());
  EXPECT_TRUE(s.complete()) << errorOf(s);
  EXPECT_TRUE(s.events.empty());
}

// Each damage and the message it must give.
struct Damage {
  const char* what;
  void (*apply)(std::vector<unsigned char>&);
  const char* message;
};

template <class T>
void put(std::vector<unsigned char>& b, std::size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

// The records of `base()`: a CommitChange at 64 (48 bytes), a PoolCreate at
// 112 (16 + 24 + "AMC\0" padded to 8 = 48 bytes), a StreamFlush at 160.
std::vector<unsigned char> base() {
  StreamBuilder b;
  b.add(EventKind::CommitChange, 1, 10, {1, 2, 3, 4});
  b.add(EventKind::PoolCreate, 1, 20, {1, 2, 3}, "AMC");
  b.add(EventKind::StreamFlush, 1, 30, {5, 0});
  return b.bytes();
}

const Damage kDamages[] = {
    {"empty file", [](auto& b) { b.clear(); }, "offset 0: not an MPS++ event stream (magic \"\""},
    {"text file", [](auto& b) { std::memcpy(b.data(), "hello wo", 8); },
     "offset 0: not an MPS++ event stream (magic \"hello wo\", expected \"MPS++EVT\")"},
    {"header cut", [](auto& b) { b.resize(40); },
     "offset 40: stream ends inside the file header (40 of 64 bytes)"},
    {"other version", [](auto& b) { put<std::uint32_t>(b, 8, 2); },
     "offset 8: stream format version 2, this converter reads version 1"},
    {"other header size", [](auto& b) { put<std::uint32_t>(b, 12, 72); },
     "offset 12: file header size 72, expected 64"},
    {"other byte order", [](auto& b) { put<std::uint32_t>(b, 16, 0x04030201); },
     "offset 16: stream written with the other byte order"},
    {"bad byte-order mark", [](auto& b) { put<std::uint32_t>(b, 16, 7); },
     "offset 16: byte-order mark 0x7, expected 0x1020304"},
    {"word size", [](auto& b) { put<std::uint32_t>(b, 20, 3); },
     "offset 20: word size 3 bytes, expected 4 or 8"},
    {"other table", [](auto& b) { put<std::uint64_t>(b, 24, 0x1234); },
     "offset 24: stream from another version of the event table (hash 0x1234, this "
     "converter's 0x"},
    {"no clock", [](auto& b) { put<std::uint64_t>(b, 32, 0); }, "offset 32: ticks per second is 0"},
    {"record header cut", [](auto& b) { b.resize(64 + 48 + 48 + 5); },
     "offset 160: stream ends inside a record header (5 of 16 bytes)"},
    {"record cut", [](auto& b) { b.resize(64 + 48 + 20); },
     "offset 112: stream ends inside a PoolCreate record (48 bytes, 20 remain)"},
    {"tiny size", [](auto& b) { put<std::uint16_t>(b, 112 + 2, 3); },
     "offset 112: record size 3 is smaller than a record header (16)"},
    {"unknown code", [](auto& b) { put<std::uint16_t>(b, 112, 999); },
     "offset 112: unknown event code 999 (record size 48)"},
    {"odd size", [](auto& b) { put<std::uint16_t>(b, 64 + 2, 44); },
     "offset 64: CommitChange record size 44 is not a multiple of 8"},
    {"wrong size", [](auto& b) { put<std::uint16_t>(b, 64 + 2, 40); },
     "offset 64: CommitChange record size 40, expected 48 (16-byte header and 4 fields)"},
    {"huge size", [](auto& b) { put<std::uint16_t>(b, 64 + 2, 0xfff8); },
     "offset 64: stream ends inside a CommitChange record (65528 bytes, 128 remain)"},
    {"text without NUL", [](auto& b) { std::memset(b.data() + 112 + 40, 'x', 8); },
     "offset 152: PoolCreate text has no terminating NUL within its record"},
    {"text size", [](auto& b) { put<std::uint16_t>(b, 112 + 2, 40); },
     "offset 112: PoolCreate record size 40, expected 48 to 296"},
    {"text padding",
     [](auto& b) {
       b.insert(b.begin() + 160, 8, 0);
       put<std::uint16_t>(b, 112 + 2, 56);
     },
     "offset 112: PoolCreate record size 56, but its 3-byte text needs 48"},
    {"thread 0", [](auto& b) { put<std::uint32_t>(b, 160 + 4, 0); },
     "offset 164: StreamFlush record of thread 0, expected a thread number from 1"},
};

TEST(EventReader, DamageIsReportedWithItsOffset) {
  for (const Damage& d : kDamages) {
    std::vector<unsigned char> b = base();
    d.apply(b);
    const Stream s = parse(b);
    ASSERT_TRUE(s.error) << d.what;
    EXPECT_EQ(errorOf(s).rfind(d.message, 0), 0u)
        << d.what << ":\n  got      " << errorOf(s) << "\n  expected " << d.message;
  }
}

TEST(EventReader, EventsBeforeTheFaultSurvive) {
  std::vector<unsigned char> b = base();
  put<std::uint16_t>(b, 160, 999);
  const Stream s = parse(b);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->offset, 160u);
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_EQ(s.text(s.events[1]), "AMC");
}

// A stream cut anywhere reads up to the last whole record and says where it
// stopped, unless the cut falls exactly between records.
TEST(EventReader, CutAnywhere) {
  const std::vector<unsigned char> whole = mps::test::syntheticRun(3);
  const Stream full = parse(whole);
  ASSERT_TRUE(full.complete()) << errorOf(full);
  std::vector<std::uint64_t> boundaries;
  for (const auto& e : full.events)
    boundaries.push_back(e.offset);
  std::sort(boundaries.begin(), boundaries.end());
  std::vector<std::uint64_t> ends(boundaries.begin() + 1, boundaries.end());
  ends.push_back(whole.size());
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    const Stream s = parse(std::vector<unsigned char>(whole.begin(), whole.begin() + cut));
    const bool atBoundary =
        std::binary_search(boundaries.begin(), boundaries.end(), std::uint64_t(cut));
    EXPECT_EQ(s.error.has_value(), !atBoundary) << "cut at " << cut;
    if (s.error) {
      EXPECT_LE(s.error->offset, cut) << errorOf(s);
      const bool named = errorOf(s).find("ends inside") != std::string::npos ||
                         errorOf(s).find("not an MPS++ event stream") != std::string::npos;
      EXPECT_TRUE(named) << errorOf(s);
    }
    const auto complete =
        std::size_t(std::upper_bound(ends.begin(), ends.end(), std::uint64_t(cut)) - ends.begin());
    EXPECT_EQ(s.events.size(), cut < 64 ? 0 : complete) << "cut at " << cut;
  }
}

}  // namespace
