// mps-events: converts an MPS++ telemetry stream to text, JSON lines, an
// SQLite database, or an HTML report (reference/mps-events.md).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "formats.hpp"

namespace {

constexpr int kBadStream = 1;  // exit status: the stream is damaged
constexpr int kBadUsage = 2;   // exit status: bad arguments, or a file error

constexpr const char* kUsage =
    "usage: mps-events [-o OUTPUT] [--partial] COMMAND STREAM\n"
    "\n"
    "Reads an MPS++ telemetry stream (written when MPS_TELEMETRY_CONTROL turns\n"
    "events on) and converts it. COMMAND is one of:\n"
    "  text     one event a line: seconds, thread, kind, field=value..., \"text\"\n"
    "  json     JSON lines: a {\"stream\":...} header, then one object per event\n"
    "  sqlite   an SQLite database (needs -o): tables streams and kinds, and one\n"
    "           table per event kind with columns time, thread, its fields, text\n"
    "  html     the report: one self-contained HTML page (charts are inline SVG)\n"
    "  check    read the whole stream and say whether it is sound\n"
    "\n"
    "Options:\n"
    "  -o FILE      write to FILE (default: standard output; sqlite needs a file)\n"
    "  --partial    convert a damaged or cut-short stream's events before the fault\n"
    "               and exit 0 (text and json print them anyway, and exit 1)\n"
    "  -h, --help   print this and exit\n"
    "  --version    print the event table's hash and format version and exit\n"
    "\n"
    "Times are ticks since the stream started (the header gives ticks per second)\n"
    "in json and sqlite, seconds in text. Exit status: 0 converted, 1 the stream is\n"
    "damaged (the message names the offset and what was expected there), 2 bad\n"
    "arguments or a file that cannot be read or written.\n";

int usageError(const std::string& message) {
  std::fprintf(stderr, "mps-events: %s\n%s", message.c_str(), kUsage);
  return kBadUsage;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mps::events;
  std::string command, input, output;
  bool partial = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::printf("mps-events: stream format %u, event table hash 0x%016llx, %zu event kinds\n",
                  mps::event::kFormatVersion,
                  static_cast<unsigned long long>(mps::event::tableHash()), kinds().size());
      return 0;
    } else if (arg == "--partial") {
      partial = true;
    } else if (arg == "-o") {
      if (++i == argc) return usageError("-o needs a file name");
      output = argv[i];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError("unknown option " + arg);
    } else if (command.empty()) {
      command = arg;
    } else if (input.empty()) {
      input = arg;
    } else {
      return usageError("too many arguments");
    }
  }
  if (command.empty() || input.empty()) return usageError("a command and a stream are needed");
  if (command != "text" && command != "json" && command != "sqlite" && command != "html" &&
      command != "check")
    return usageError("unknown command " + command);
  if (command == "sqlite" && output.empty()) return usageError("sqlite needs -o DATABASE");

  std::vector<unsigned char> bytes;
  std::string message;
  if (!readFile(input, bytes, message)) {
    std::fprintf(stderr, "mps-events: %s\n", message.c_str());
    return kBadUsage;
  }
  const Stream stream = parse(std::move(bytes));
  const bool damaged = stream.error.has_value();
  auto report = [&] {
    std::fprintf(stderr, "mps-events: %s: %s%s\n", input.c_str(), stream.error->what().c_str(),
                 partial ? " (converted the events before it)" : "");
  };

  if (command == "check") {
    if (damaged) {
      report();
      std::fprintf(stderr, "mps-events: %s: %zu events decoded before the fault\n", input.c_str(),
                   stream.events.size());
      return kBadStream;
    }
    std::printf("%s: %zu events, %zu bytes, format %u, process %llu: sound\n", input.c_str(),
                stream.events.size(), stream.bytes.size(), stream.header.version,
                static_cast<unsigned long long>(stream.header.processId));
    return 0;
  }
  // A report or database of part of a run could be taken for the whole: only
  // on request. Text and JSON show where the damage is by where they stop.
  if (damaged && !partial && (command == "sqlite" || command == "html")) {
    report();
    std::fprintf(stderr,
                 "mps-events: no %s written; --partial converts the %zu events before the "
                 "fault\n",
                 command.c_str(), stream.events.size());
    return kBadStream;
  }

  if (command == "sqlite") {
    if (!writeSqlite(stream, input, output, message)) {
      std::fprintf(stderr, "mps-events: %s: %s\n", output.c_str(), message.c_str());
      return kBadUsage;
    }
  } else {
    std::ofstream file;
    if (!output.empty()) {
      file.open(output, std::ios::binary | std::ios::trunc);
      if (!file) {
        std::fprintf(stderr, "mps-events: cannot write %s: %s\n", output.c_str(),
                     std::strerror(errno));
        return kBadUsage;
      }
    }
    std::ostream& out = output.empty() ? std::cout : file;
    if (command == "text") writeText(stream, input, out);
    if (command == "json") writeJsonLines(stream, input, out);
    if (command == "html") writeHtml(stream, input, out);
    out.flush();
    if (!out) {
      std::fprintf(stderr, "mps-events: error writing %s\n",
                   output.empty() ? "standard output" : output.c_str());
      return kBadUsage;
    }
  }
  if (damaged) {
    report();
    if (!partial) return kBadStream;
  }
  return 0;
}
