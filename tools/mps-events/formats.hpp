// The converter's outputs (design/mps-events.md): text (one event a line),
// JSON lines, an SQLite database with one table per event kind, and the
// HTML report. Each takes a parsed stream, complete or cut short; callers
// decide whether a stream with an error is worth converting.
#pragma once

#include <ostream>
#include <string>

#include "stream.hpp"

namespace mps::events {

// `source` names the stream's file in headers and titles.
void writeText(const Stream& s, const std::string& source, std::ostream& out);
void writeJsonLines(const Stream& s, const std::string& source, std::ostream& out);
// Replaces any file at `path`. False with `message` set on an SQLite error.
bool writeSqlite(const Stream& s, const std::string& source, const std::string& path,
                 std::string& message);
void writeHtml(const Stream& s, const std::string& source, std::ostream& out);

// Fields shown in hexadecimal in text: those that hold addresses.
bool isAddressField(std::string_view name);
// Text escaped for a JSON string, without the quotes. The stream does not
// promise UTF-8, so every byte outside printable ASCII becomes \u00XX.
std::string jsonEscape(std::string_view text);
// Wall-clock time of the stream's start as ISO 8601 UTC.
std::string startWallClock(const Stream& s);

}  // namespace mps::events
