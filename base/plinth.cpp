// The default ("ANSI") plinth: the library's only route to its environment
// (assertion reports, clock, character output, memory primitives, the
// telemetry filter and the telemetry stream's file), built on the C library
// and POSIX.
//
// Plinth functions may run inside the protection-fault handler, so the
// ones the collector can reach there (assertion reporting, the clock, the
// memory primitives) never block and never allocate.

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>

#include <unistd.h>

#include "mpsio.h"
#include "mpslib.h"

// plinth.md: a client may supply its own plinth, or any of its functions
// (a clock in its own units, say), by defining them in its program. Weak
// definitions give way to the client's at link time, with the static
// library as with the shared one, instead of clashing with them.
#define MPS_PLINTH_REPLACEABLE [[gnu::weak]]

namespace {

// write(2) rather than stdio: the fault may have interrupted code holding a
// stdio lock. Gives up on error, as there is nowhere else to report it.
void writeAll(int fd, const char* s, std::size_t n) {
  while (n > 0) {
    ssize_t done = ::write(fd, s, n);
    if (done < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s += done;
    n -= static_cast<std::size_t>(done);
  }
}

void writeString(int fd, const char* s) {
  if (s == nullptr) s = "(null)";
  writeAll(fd, s, std::strlen(s));
}

// Buffered client output would be lost by abort(), so it is flushed first,
// keeping it ahead of the report. A stream locked by another thread, or by
// the code an assertion in a fault handler interrupted, is skipped: waiting
// for it could hang the process instead of stopping it.
void flushIfUnlocked(std::FILE* stream) {
  if (::ftrylockfile(stream) != 0) return;
  std::fflush(stream);
  ::funlockfile(stream);
}

void writeUnsigned(int fd, unsigned value) {
  char digits[3 * sizeof value + 1];
  char* p = digits + sizeof digits;
  do {
    *--p = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  writeAll(fd, p, static_cast<std::size_t>(digits + sizeof digits - p));
}

}  // namespace

extern "C" {

// C linkage, so that its type is exactly mps_lib_assert_fail_t and clients
// may reinstall it after mps_lib_assert_fail_install returns it.
static void mps_default_assert_handler(const char* file, unsigned line, const char* condition) {
  flushIfUnlocked(stdout);
  flushIfUnlocked(stderr);
  writeString(STDERR_FILENO, file);
  writeAll(STDERR_FILENO, ":", 1);
  writeUnsigned(STDERR_FILENO, line);
  writeString(STDERR_FILENO, ": MPS++ ASSERTION FAILED: ");
  writeString(STDERR_FILENO, condition);
  writeAll(STDERR_FILENO, "\n", 1);
  std::abort();
}

}  // extern "C"

namespace {

// Lock-free, so reading it from a signal handler cannot deadlock.
static_assert(std::atomic<mps_lib_assert_fail_t>::is_always_lock_free);
std::atomic<mps_lib_assert_fail_t> assertHandler{&mps_default_assert_handler};

// Telemetry categories in filter-bit order (telemetry.md).
constexpr const char* kTelemetryCategories[] = {"arena", "pool",   "trace", "seg",
                                                "ref",   "object", "user"};

bool wordEquals(const char* word, std::size_t length, const char* name) {
  if (std::strlen(name) != length) return false;
  for (std::size_t i = 0; i < length; ++i) {
    if (std::tolower(static_cast<unsigned char>(word[i])) != name[i]) return false;
  }
  return true;
}

// MPS_TELEMETRY_CONTROL is either a number (the filter itself, in any base
// strtoul accepts) or a space-separated list of category names or "all".
// Unknown names are ignored rather than rejected: the filter only selects
// diagnostics and must never stop a program from starting.
unsigned long parseTelemetryControl(const char* text) {
  while (std::isspace(static_cast<unsigned char>(*text)))
    ++text;
  if (std::isdigit(static_cast<unsigned char>(*text))) {
    char* end = nullptr;
    unsigned long value = std::strtoul(text, &end, 0);
    while (std::isspace(static_cast<unsigned char>(*end)))
      ++end;
    if (*end == '\0') return value;
  }
  unsigned long filter = 0;
  const char* p = text;
  while (*p != '\0') {
    while (std::isspace(static_cast<unsigned char>(*p)))
      ++p;
    const char* word = p;
    while (*p != '\0' && !std::isspace(static_cast<unsigned char>(*p)))
      ++p;
    std::size_t length = static_cast<std::size_t>(p - word);
    if (length == 0) break;
    if (wordEquals(word, length, "all")) {
      filter = ~0ul;
      continue;
    }
    for (unsigned bit = 0; bit < std::size(kTelemetryCategories); ++bit) {
      if (wordEquals(word, length, kTelemetryCategories[bit])) filter |= 1ul << bit;
    }
  }
  return filter;
}

}  // namespace

extern "C" {

MPS_PLINTH_REPLACEABLE int mps_lib_get_EOF(void) {
  return EOF;
}

MPS_PLINTH_REPLACEABLE mps_lib_FILE* mps_lib_get_stderr(void) {
  return reinterpret_cast<mps_lib_FILE*>(stderr);
}

MPS_PLINTH_REPLACEABLE mps_lib_FILE* mps_lib_get_stdout(void) {
  return reinterpret_cast<mps_lib_FILE*>(stdout);
}

MPS_PLINTH_REPLACEABLE int mps_lib_fputc(int c, mps_lib_FILE* stream) {
  return std::fputc(c, reinterpret_cast<std::FILE*>(stream));
}

MPS_PLINTH_REPLACEABLE int mps_lib_fputs(const char* s, mps_lib_FILE* stream) {
  return std::fputs(s, reinterpret_cast<std::FILE*>(stream));
}

MPS_PLINTH_REPLACEABLE void mps_lib_assert_fail(const char* file, unsigned line,
                                                const char* condition) {
  assertHandler.load(std::memory_order_acquire)(file, line, condition);
}

// The reference leaves installing NULL unspecified; treating it as "restore
// the default" means a later assertion can never call through null.
MPS_PLINTH_REPLACEABLE mps_lib_assert_fail_t
mps_lib_assert_fail_install(mps_lib_assert_fail_t handler) {
  if (handler == nullptr) handler = &mps_default_assert_handler;
  return assertHandler.exchange(handler, std::memory_order_acq_rel);
}

MPS_PLINTH_REPLACEABLE void*(mps_lib_memset)(void* s, int c, size_t n) {
  return std::memset(s, c, n);
}

MPS_PLINTH_REPLACEABLE void*(mps_lib_memcpy)(void* dest, const void* source, size_t n) {
  return std::memcpy(dest, source, n);
}

MPS_PLINTH_REPLACEABLE int(mps_lib_memcmp)(const void* s1, const void* s2, size_t n) {
  return std::memcmp(s1, s2, n);
}

// Microseconds of CLOCK_MONOTONIC rather than the reference's clock():
// clock() counts CPU time summed over all threads, whereas pause-time
// pacing and message time stamps want elapsed time. clock_gettime is
// async-signal-safe. With a 64-bit mps_clock_t the count never wraps in
// practice (a 32-bit one wraps after about 71 minutes).
MPS_PLINTH_REPLACEABLE mps_clock_t mps_clock(void) {
  struct timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<mps_clock_t>(now.tv_sec) * 1000000u +
         static_cast<mps_clock_t>(now.tv_nsec) / 1000u;
}

MPS_PLINTH_REPLACEABLE mps_clock_t mps_clocks_per_sec(void) {
  return 1000000u;
}

MPS_PLINTH_REPLACEABLE unsigned long mps_lib_telemetry_control(void) {
  const char* text = std::getenv("MPS_TELEMETRY_CONTROL");
  return text == nullptr ? 0 : parseTelemetryControl(text);
}

// The I/O module (mpsio.h): the telemetry stream's file. Called by the
// event writer outside signal handlers and never while the collector holds
// threads stopped (design/event.md .event.noblock), so stdio is safe here.
// The handle is the FILE itself.
MPS_PLINTH_REPLACEABLE mps_res_t mps_io_create(mps_io_t* ioReturn) {
  const char* name = std::getenv("MPS_TELEMETRY_FILENAME");
  if (name == nullptr || *name == '\0') name = "mpsio.log";
  std::FILE* file = std::fopen(name, "wb");
  if (file == nullptr) return MPS_RES_IO;
  *ioReturn = reinterpret_cast<mps_io_t>(file);
  return MPS_RES_OK;
}

MPS_PLINTH_REPLACEABLE void mps_io_destroy(mps_io_t io) {
  (void)std::fclose(reinterpret_cast<std::FILE*>(io));
}

MPS_PLINTH_REPLACEABLE mps_res_t mps_io_write(mps_io_t io, void* buf, size_t size) {
  std::size_t done = std::fwrite(buf, 1, size, reinterpret_cast<std::FILE*>(io));
  return done == size ? MPS_RES_OK : MPS_RES_IO;
}

MPS_PLINTH_REPLACEABLE mps_res_t mps_io_flush(mps_io_t io) {
  return std::fflush(reinterpret_cast<std::FILE*>(io)) == 0 ? MPS_RES_OK : MPS_RES_IO;
}

}  // extern "C"
