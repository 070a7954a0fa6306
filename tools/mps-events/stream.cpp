// Reading a telemetry event stream (design/mps-events.md).
#include "stream.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mps::events {
namespace {

using event::FileHeader;
using event::RecordHeader;

// The converter tabulates each kind with columns `time` and `thread` before
// its fields and `text` after them: a field of those names would collide.
constexpr bool fieldNamesAreFree() {
  for (const event::KindInfo& k : event::kKinds) {
    const char* p = k.fields;
    while (*p != '\0') {
      const char* end = p;
      while (*end != '\0' && *end != ' ')
        ++end;
      std::string_view name(p, std::size_t(end - p));
      if (name == "time" || name == "thread" || name == "text" || name.empty()) return false;
      p = *end == ' ' ? end + 1 : end;
    }
  }
  return true;
}
static_assert(fieldNamesAreFree(),
              "an event field is named time, thread or text (or is empty): mps-events would "
              "give it the same column as the record's own");

struct KindTable {
  std::vector<Kind> rows;
  std::vector<int> byCode;  // code -> index in rows, or -1
  KindTable() {
    for (const event::KindInfo& info : event::kKinds) {
      Kind k{&info, {}};
      std::string_view rest(info.fields);
      while (!rest.empty()) {
        std::size_t sp = rest.find(' ');
        k.fields.emplace_back(rest.substr(0, sp));
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      }
      if (info.code >= byCode.size()) byCode.resize(info.code + 1u, -1);
      byCode[info.code] = int(rows.size());
      rows.push_back(std::move(k));
    }
  }
};

const KindTable& table() {
  static const KindTable t;
  return t;
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The first bytes of a file as a quoted, escaped string, for "not a stream".
std::string quoted(const unsigned char* p, std::size_t n) {
  std::string s = "\"";
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char c = p[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      s += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      s += buf;
    }
  }
  return s + "\"";
}

template <class T>
T load(const std::vector<unsigned char>& bytes, std::size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

std::optional<ParseError> checkHeader(const std::vector<unsigned char>& b, FileHeader& h) {
  const std::size_t n = b.size();
  const std::size_t magicBytes = sizeof event::kMagic;
  if (n == 0 || std::memcmp(b.data(), event::kMagic, std::min(n, magicBytes)) != 0)
    return ParseError{
        0, "not an MPS++ event stream (magic " + quoted(b.data(), std::min(n, magicBytes)) +
               ", expected " +
               quoted(reinterpret_cast<const unsigned char*>(event::kMagic), magicBytes) + ")"};
  if (n < event::kHeaderBytes)
    return ParseError{n, "stream ends inside the file header (" + std::to_string(n) + " of " +
                             std::to_string(event::kHeaderBytes) + " bytes)"};
  std::memcpy(&h, b.data(), sizeof h);
  if (h.version != event::kFormatVersion)
    return ParseError{offsetof(FileHeader, version), "stream format version " +
                                                         std::to_string(h.version) +
                                                         ", this converter reads version " +
                                                         std::to_string(event::kFormatVersion)};
  if (h.headerBytes != event::kHeaderBytes)
    return ParseError{offsetof(FileHeader, headerBytes),
                      "file header size " + std::to_string(h.headerBytes) + ", expected " +
                          std::to_string(event::kHeaderBytes)};
  if (h.byteOrderMark == __builtin_bswap32(event::kByteOrderMark))
    return ParseError{offsetof(FileHeader, byteOrderMark),
                      "stream written with the other byte order (byte-order mark " +
                          hex(h.byteOrderMark) + ", expected " + hex(event::kByteOrderMark) + ")"};
  if (h.byteOrderMark != event::kByteOrderMark)
    return ParseError{
        offsetof(FileHeader, byteOrderMark),
        "byte-order mark " + hex(h.byteOrderMark) + ", expected " + hex(event::kByteOrderMark)};
  if (h.wordBytes != 4 && h.wordBytes != 8)
    return ParseError{offsetof(FileHeader, wordBytes),
                      "word size " + std::to_string(h.wordBytes) + " bytes, expected 4 or 8"};
  if (h.tableHash != event::tableHash())
    return ParseError{offsetof(FileHeader, tableHash),
                      "stream from another version of the event table (hash " + hex(h.tableHash) +
                          ", this converter's " + hex(event::tableHash()) +
                          "): convert it with the mps-events built with the library that "
                          "wrote it"};
  if (h.ticksPerSecond == 0)
    return ParseError{offsetof(FileHeader, ticksPerSecond),
                      "ticks per second is 0, expected the clock's frequency"};
  return std::nullopt;
}

// Decodes the record at `at`, or says why it cannot.
std::optional<ParseError> decodeRecord(const std::vector<unsigned char>& b, std::size_t at,
                                       Event& e, std::size_t& size) {
  constexpr std::size_t kRecordHeader = sizeof(RecordHeader);
  const std::size_t remain = b.size() - at;
  if (remain < kRecordHeader)
    return ParseError{at, "stream ends inside a record header (" + std::to_string(remain) + " of " +
                              std::to_string(kRecordHeader) + " bytes)"};
  const RecordHeader r = load<RecordHeader>(b, at);
  size = r.size;
  if (r.size < kRecordHeader)
    return ParseError{at, "record size " + std::to_string(r.size) +
                              " is smaller than a record header (" + std::to_string(kRecordHeader) +
                              ")"};
  const Kind* kind = findKind(r.code);
  if (kind == nullptr)
    return ParseError{at, "unknown event code " + std::to_string(r.code) + " (record size " +
                              std::to_string(r.size) + ")"};
  // Messages are built only on failure: this is the path for every record.
  auto name = [kind] { return std::string(kind->name()); };
  if (r.size % event::kRecordAlign != 0)
    return ParseError{at, name() + " record size " + std::to_string(r.size) +
                              " is not a multiple of " + std::to_string(event::kRecordAlign)};
  if (r.size > remain)
    return ParseError{at, "stream ends inside a " + name() + " record (" + std::to_string(r.size) +
                              " bytes, " + std::to_string(remain) + " remain)"};
  const std::size_t fixed = kind->fixedBytes();
  auto layout = [&] {
    return std::to_string(kRecordHeader) + "-byte header and " +
           std::to_string(kind->fields.size()) + " fields";
  };
  std::size_t textBytes = 0;
  if (!kind->hasText()) {
    if (r.size != fixed)
      return ParseError{at, name() + " record size " + std::to_string(r.size) + ", expected " +
                                std::to_string(fixed) + " (" + layout() + ")"};
  } else {
    const std::size_t most = fixed + (event::kMaxTextBytes + event::kRecordAlign - 1) /
                                         event::kRecordAlign * event::kRecordAlign;
    if (r.size < fixed + event::kRecordAlign || r.size > most)
      return ParseError{at, name() + " record size " + std::to_string(r.size) + ", expected " +
                                std::to_string(fixed + event::kRecordAlign) + " to " +
                                std::to_string(most) + " (" + layout() + ", then text)"};
    const unsigned char* text = b.data() + at + fixed;
    const void* nul = std::memchr(text, 0, r.size - fixed);
    if (nul == nullptr)
      return ParseError{at + fixed, name() + " text has no terminating NUL within its record"};
    textBytes = std::size_t(static_cast<const unsigned char*>(nul) - text);
    const std::size_t needed = (fixed + textBytes + 1 + event::kRecordAlign - 1) /
                               event::kRecordAlign * event::kRecordAlign;
    if (needed != r.size)
      return ParseError{at, name() + " record size " + std::to_string(r.size) + ", but its " +
                                std::to_string(textBytes) + "-byte text needs " +
                                std::to_string(needed)};
  }
  if (r.thread == 0)
    return ParseError{at + offsetof(RecordHeader, thread),
                      name() + " record of thread 0, expected a thread number from 1"};
  e = Event{kind, r.thread, r.time, at, std::uint32_t(textBytes)};
  return std::nullopt;
}

}  // namespace

std::span<const Kind> kinds() {
  return table().rows;
}

const Kind* findKind(std::uint16_t code) {
  const KindTable& t = table();
  if (code >= t.byCode.size() || t.byCode[code] < 0) return nullptr;
  return &t.rows[std::size_t(t.byCode[code])];
}

int fieldIndex(const Kind& kind, std::string_view field) {
  for (std::size_t i = 0; i < kind.fields.size(); ++i)
    if (kind.fields[i] == field) return int(i);
  return -1;
}

std::uint64_t Stream::field(const Event& e, unsigned i) const {
  return load<std::uint64_t>(bytes, e.offset + sizeof(RecordHeader) + 8 * std::size_t(i));
}

std::uint64_t Stream::field(const Event& e, std::string_view name, std::uint64_t fallback) const {
  int i = fieldIndex(*e.kind, name);
  return i < 0 ? fallback : field(e, unsigned(i));
}

std::string_view Stream::text(const Event& e) const {
  if (!e.kind->hasText()) return {};
  return {reinterpret_cast<const char*>(bytes.data() + e.offset + e.kind->fixedBytes()),
          e.textBytes};
}

double Stream::seconds(std::int64_t ticks) const {
  return header.ticksPerSecond == 0 ? 0.0 : double(ticks) / double(header.ticksPerSecond);
}

Stream parse(std::vector<unsigned char> bytes) {
  Stream s;
  s.bytes = std::move(bytes);
  s.error = checkHeader(s.bytes, s.header);
  if (s.error) return s;
  s.headerValid = true;
  std::size_t at = event::kHeaderBytes;
  while (at < s.bytes.size()) {
    Event e;
    std::size_t size = 0;
    s.error = decodeRecord(s.bytes, at, e, size);
    if (s.error) break;
    s.events.push_back(e);
    at += size;
  }
  std::stable_sort(s.events.begin(), s.events.end(),
                   [](const Event& a, const Event& b) { return a.time < b.time; });
  return s;
}

bool readFile(const std::string& path, std::vector<unsigned char>& bytes, std::string& message) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    message = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  bytes.clear();
  unsigned char buf[1 << 16];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    bytes.insert(bytes.end(), buf, buf + n);
  bool ok = std::ferror(f) == 0;
  if (!ok) message = "cannot read " + path + ": " + std::strerror(errno);
  std::fclose(f);
  return ok;
}

}  // namespace mps::events
