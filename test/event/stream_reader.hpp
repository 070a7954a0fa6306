// A small reader of the telemetry stream for tests, built on the table of
// event/eventdef.hpp only (as the converter is): it checks the file header
// and that every record is well formed and of a known kind, and returns the
// records with their fields named.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "event/eventdef.hpp"

namespace mps::test {

struct Record {
  const event::KindInfo* kind = nullptr;
  std::uint32_t thread = 0;
  std::uint64_t time = 0;
  std::map<std::string, std::uint64_t> fields;
  std::vector<std::uint64_t> values;  // in the table's order
  std::string text;

  std::string name() const { return kind->name; }
  std::uint64_t operator[](const std::string& field) const {
    auto it = fields.find(field);
    EXPECT_NE(it, fields.end()) << kind->name << " has no field " << field;
    return it == fields.end() ? 0 : it->second;
  }
};

struct Stream {
  event::FileHeader header{};
  std::vector<Record> records;

  std::vector<const Record*> all(const std::string& kind) const {
    std::vector<const Record*> out;
    for (const Record& r : records)
      if (r.name() == kind) out.push_back(&r);
    return out;
  }
};

inline std::vector<std::string> fieldNames(const char* fields) {
  std::vector<std::string> names;
  std::istringstream in(fields);
  for (std::string name; in >> name;)
    names.push_back(name);
  return names;
}

// Parses `bytes` (a whole stream); every problem is a test failure.
inline Stream parseStream(const std::string& bytes) {
  Stream s;
  if (bytes.size() < event::kHeaderBytes) {
    ADD_FAILURE() << "stream of " << bytes.size() << " bytes has no header";
    return s;
  }
  std::memcpy(&s.header, bytes.data(), sizeof s.header);
  EXPECT_EQ(std::memcmp(s.header.magic, event::kMagic, sizeof event::kMagic), 0);
  EXPECT_EQ(s.header.version, event::kFormatVersion);
  EXPECT_EQ(s.header.headerBytes, event::kHeaderBytes);
  EXPECT_EQ(s.header.byteOrderMark, event::kByteOrderMark);
  EXPECT_EQ(s.header.wordBytes, sizeof(void*));
  EXPECT_EQ(s.header.tableHash, event::tableHash());
  EXPECT_EQ(s.header.ticksPerSecond, 1000000000u);
  std::size_t at = s.header.headerBytes;
  while (at < bytes.size()) {
    if (bytes.size() - at < sizeof(event::RecordHeader)) {
      ADD_FAILURE() << "a truncated record header at offset " << at;
      break;
    }
    event::RecordHeader h;
    std::memcpy(&h, bytes.data() + at, sizeof h);
    const event::KindInfo* kind = event::findKind(h.code);
    if (kind == nullptr) {
      ADD_FAILURE() << "unknown event code " << h.code << " at offset " << at;
      break;
    }
    std::vector<std::string> names = fieldNames(kind->fields);
    std::size_t fixed = sizeof h + names.size() * 8;
    if (h.size < fixed || h.size % event::kRecordAlign != 0 || at + h.size > bytes.size() ||
        (!kind->hasText && h.size != fixed) || (kind->hasText && h.size == fixed)) {
      ADD_FAILURE() << kind->name << " record of bad size " << h.size << " at offset " << at;
      break;
    }
    Record r;
    r.kind = kind;
    r.thread = h.thread;
    r.time = h.time;
    EXPECT_GE(h.thread, 1u) << kind->name;
    for (std::size_t i = 0; i < names.size(); ++i) {
      std::uint64_t v;
      std::memcpy(&v, bytes.data() + at + sizeof h + 8 * i, 8);
      r.fields[names[i]] = v;
      r.values.push_back(v);
    }
    if (kind->hasText) {
      const char* text = bytes.data() + at + fixed;
      std::size_t room = h.size - fixed;
      std::size_t n = strnlen(text, room);
      EXPECT_LT(n, room) << kind->name << " text is NUL-terminated within its record";
      EXPECT_LT(n, event::kMaxTextBytes);
      r.text.assign(text, n);
      // Padding is NULs.
      for (std::size_t i = n; i < room; ++i)
        EXPECT_EQ(text[i], '\0');
    }
    s.records.push_back(std::move(r));
    at += h.size;
  }
  return s;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Times never go backwards within one thread's records, nor before the
// header's start.
inline void expectMonotonicPerThread(const Stream& s) {
  std::map<std::uint32_t, std::uint64_t> last;
  for (const Record& r : s.records) {
    EXPECT_GE(r.time, s.header.startTime) << r.name();
    auto [it, fresh] = last.emplace(r.thread, r.time);
    if (!fresh) {
      EXPECT_GE(r.time, it->second) << r.name() << " of thread " << r.thread;
      it->second = r.time;
    }
  }
}

}  // namespace mps::test
