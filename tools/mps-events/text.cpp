// Text and JSON-lines output: one event a line (design/mps-events.md).
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "formats.hpp"

namespace mps::events {
namespace {

void appendf(std::string& out, const char* fmt, auto... args) {
  char buf[128];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) out.append(buf, std::size_t(std::min(n, int(sizeof buf) - 1)));
}

// Text for one line within double quotes: `"` and `\` after a backslash,
// control bytes (and, when `asciiOnly`, bytes above 0x7e) as `format`.
std::string backslashEscape(std::string_view text, const char* format, bool asciiOnly) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f || (asciiOnly && c > 0x7f)) {
      appendf(out, format, unsigned(c));
    } else {
      out += char(c);
    }
  }
  return out;
}

std::string textEscape(std::string_view text) {
  return backslashEscape(text, "\\x%02x", false);
}

}  // namespace

bool isAddressField(std::string_view name) {
  for (std::string_view a :
       {"arena", "pool", "chain", "format", "base", "address", "segBase", "ref"})
    if (name == a) return true;
  return false;
}

// Bytes outside ASCII are escaped one by one: the stream does not promise
// UTF-8, and JSON must be.
std::string jsonEscape(std::string_view text) {
  return backslashEscape(text, "\\u%04x", true);
}

std::string startWallClock(const Stream& s) {
  std::time_t secs = std::time_t(s.header.startWallNs / 1000000000u);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return "?";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                unsigned(s.header.startWallNs / 1000000u % 1000u));
  return buf;
}

void writeText(const Stream& s, const std::string& source, std::ostream& out) {
  const event::FileHeader& h = s.header;
  std::string line;
  if (s.headerValid) {
    line = "# MPS++ event stream " + source + ": format " + std::to_string(h.version) + ", ";
    appendf(line, "table 0x%016" PRIx64 ", %u-byte words, process %" PRIu64 ", ", h.tableHash,
            h.wordBytes, h.processId);
    appendf(line, "%" PRIu64 " ticks/s, started ", h.ticksPerSecond);
    line += startWallClock(s) + "\n# seconds thread kind fields [\"text\"]\n";
    out << line;
  }
  for (const Event& e : s.events) {
    line.clear();
    appendf(line, "%.9f %u %s", s.secondsAt(e), e.thread, e.kind->info->name);
    for (unsigned i = 0; i < e.kind->fields.size(); ++i) {
      const std::string& name = e.kind->fields[i];
      line += ' ';
      line += name;
      appendf(line, isAddressField(name) ? "=0x%" PRIx64 : "=%" PRIu64, s.field(e, i));
    }
    if (e.kind->hasText()) line += " \"" + textEscape(s.text(e)) + "\"";
    line += '\n';
    out << line;
  }
}

void writeJsonLines(const Stream& s, const std::string& source, std::ostream& out) {
  const event::FileHeader& h = s.header;
  std::string line;
  if (s.headerValid) {
    line = "{\"stream\":{\"file\":\"" + jsonEscape(source) + "\"";
    appendf(line, ",\"version\":%u,\"tableHash\":%" PRIu64 ",\"wordBytes\":%u", h.version,
            h.tableHash, h.wordBytes);
    appendf(line, ",\"ticksPerSecond\":%" PRIu64 ",\"startTime\":%" PRIu64, h.ticksPerSecond,
            h.startTime);
    appendf(line, ",\"startWallNs\":%" PRIu64 ",\"processId\":%" PRIu64, h.startWallNs,
            h.processId);
    line += ",\"startWallClock\":\"" + startWallClock(s) + "\"}}\n";
    out << line;
  }
  for (const Event& e : s.events) {
    line = "{\"event\":\"";
    line += e.kind->info->name;
    appendf(line, "\",\"code\":%u,\"time\":%" PRId64 ",\"thread\":%u,\"fields\":{",
            unsigned(e.kind->code()), s.sinceStart(e.time), e.thread);
    for (unsigned i = 0; i < e.kind->fields.size(); ++i) {
      if (i > 0) line += ',';
      line += '"' + e.kind->fields[i] + "\":";
      appendf(line, "%" PRIu64, s.field(e, i));
    }
    line += '}';
    if (e.kind->hasText()) line += ",\"text\":\"" + jsonEscape(s.text(e)) + '"';
    line += "}\n";
    out << line;
  }
}

}  // namespace mps::events
