// The telemetry event stream (telemetry.md, design/event.md), written by the
// default plinth to a file named by MPS_TELEMETRY_FILENAME and read back
// with the table of event/eventdef.hpp.
//
// The stream is opened once per process, at the first event, so each test
// runs its body in a child process of its own (a death-test child whose
// exit code says whether its expectations held).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "heap.hpp"
#include "mpscmvff.h"
#include "shield/shield.hpp"
#include "tracer/collector.hpp"
#include "mps.h"
#include "stream_reader.hpp"

namespace mps::test {
namespace {

constexpr mps_word_t kUser = mps_word_t(1) << 6;

// Runs `body` in a child process: the "threadsafe" death-test style runs
// the test again in a fresh process, so no telemetry state is inherited.
// The child's failed expectations are printed on its stderr, which the
// parent shows, and decide its exit code.
template <class Body>
void inChild(Body body) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::testing::TestPartResultArray results;
        int failures = 0;
        {
          ::testing::ScopedFakeTestPartResultReporter reporter(
              ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ALL_THREADS, &results);
          body();
        }
        for (int i = 0; i < results.size(); ++i) {
          const ::testing::TestPartResult& r = results.GetTestPartResult(i);
          if (!r.failed()) continue;
          ++failures;
          std::fprintf(stderr, "%s:%d: %s\n", r.file_name() ? r.file_name() : "?", r.line_number(),
                       r.message());
        }
        std::fflush(stderr);
        std::_Exit(failures == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

std::string streamPath(const char* name) {
  return ::testing::TempDir() + "mps-stream-" + name + "-" + std::to_string(::getpid()) + ".log";
}

// Some live objects (a list reachable from the stack) and much garbage.
__attribute__((noinline)) Object* work(mps_ap_t ap) {
  Object* head = nullptr;
  for (mps_word_t i = 0; i < 20000; ++i) {
    Object* o = allocObject(ap, i, 1);
    if (o == nullptr) return nullptr;
    if (i % 10 == 0) {
      o->refs[0] = head;
      head = o;
    }
  }
  return head;
}

// Creates a heap, collects, labels, destroys (which flushes).
void collectOnce(mps_word_t* labelOut, void** addressOut) {
  void* cold = __builtin_frame_address(0);
  Heap heap(cold);
  Object* volatile head = work(heap.ap);
  EXPECT_NE(head, nullptr);
  EXPECT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
  mps_arena_release(heap.arena);
  *labelOut = mps_telemetry_intern("a list of objects");
  *addressOut = head;
  mps_telemetry_label(head, *labelOut);
}

// Records collectOnce with the filter `control` and reads the stream back.
Stream recordCollection(const char* name, const char* control, mps_word_t* label, void** address) {
  std::string path = streamPath(name);
  ::setenv("MPS_TELEMETRY_FILENAME", path.c_str(), 1);
  ::setenv("MPS_TELEMETRY_CONTROL", control, 1);
  collectOnce(label, address);
  mps_telemetry_flush();
  Stream s = parseStream(readFile(path));
  ::unlink(path.c_str());
  return s;
}

TEST(EventStream, ACollectionIsRecordedWellFormed) {
  inChild([] {
    mps_word_t label = 0;
    void* address = nullptr;
    Stream s = recordCollection("collect", "arena pool trace seg user", &label, &address);

    EXPECT_EQ(s.header.processId, std::uint64_t(::getpid()));
    EXPECT_GT(s.header.startWallNs, std::uint64_t(1500000000) * 1000000000u);  // after 2017
    expectMonotonicPerThread(s);
    // Only the categories asked for (ref and object are off).
    for (const Record& r : s.records) {
      EXPECT_FALSE(event::criticalPath(r.kind->category)) << r.name();
    }

    // Arena, chunk, pool, segments and commit changes.
    ASSERT_EQ(s.all("ArenaCreate").size(), 1u);
    ASSERT_EQ(s.all("ArenaDestroy").size(), 1u);
    std::uint64_t arena = (*s.all("ArenaCreate")[0])["arena"];
    EXPECT_EQ((*s.all("ArenaDestroy")[0])["arena"], arena);
    EXPECT_EQ((*s.all("ArenaCreate")[0])["reserved"], std::uint64_t(32) << 20);
    EXPECT_GE(s.all("ChunkCreate").size(), 1u);
    EXPECT_EQ(s.all("ChunkCreate").size(), s.all("ChunkDestroy").size());
    EXPECT_FALSE(s.all("CommitChange").empty());
    std::vector<const Record*> pools = s.all("PoolCreate");
    ASSERT_EQ(pools.size(), 1u);
    EXPECT_EQ(pools[0]->text, "AMS");
    EXPECT_NE((*pools[0])["format"], 0u);
    ASSERT_EQ(s.all("PoolDestroy").size(), 1u);
    EXPECT_EQ((*s.all("PoolDestroy")[0])["pool"], (*pools[0])["pool"]);
    EXPECT_GE(s.all("ChainCreate").size(), 1u);
    std::vector<const Record*> segs = s.all("SegCreate");
    EXPECT_FALSE(segs.empty());
    std::uint64_t segBytes = 0, freedBytes = 0;
    for (const Record* r : segs)
      if ((*r)["pool"] == (*pools[0])["pool"]) segBytes += (*r)["size"];
    for (const Record* r : s.all("SegFree"))
      if ((*r)["pool"] == (*pools[0])["pool"]) freedBytes += (*r)["size"];
    EXPECT_EQ(segBytes, freedBytes) << "every segment of the pool is freed by its destruction";

    // One collection: start, condemn, phases, flip, workers, pause, end.
    std::vector<const Record*> starts = s.all("TraceStart");
    ASSERT_EQ(starts.size(), 1u);
    const Record& start = *starts[0];
    std::uint64_t trace = start["trace"];
    EXPECT_EQ(trace, 1u);
    EXPECT_EQ(start["arena"], arena);
    EXPECT_EQ(start["all"], 1u);
    EXPECT_FALSE(start.text.empty());
    EXPECT_GT(start["condemned"], 0u);
    std::vector<std::string> order;
    std::set<std::uint64_t> ranks;
    std::uint64_t condemnedByGen = 0, workers = 0, pause = 0, scannedBytes = 0;
    for (const Record& r : s.records) {
      if (r.kind->category != event::Category::trace) continue;
      EXPECT_EQ(r["trace"], trace) << r.name();
      EXPECT_EQ(r.thread, start.thread) << "the collecting thread emits " << r.name();
      if (order.empty() || order.back() != r.name()) order.push_back(r.name());
      if (r.name() == "TraceCondemn") condemnedByGen += r["condemned"];
      if (r.name() == "TracePhase") {
        EXPECT_TRUE(ranks.insert(r["rank"]).second);
      }
      if (r.name() == "TraceWorker") {
        ++workers;
        scannedBytes += r["bytesScanned"];
      }
      if (r.name() == "TraceGeneration") {
        EXPECT_LE(r["survived"], r["condemned"]);
        EXPECT_LE(r["promoted"], r["survived"]);
      }
      if (r.name() == "TracePause") {
        EXPECT_EQ(r["kind"], std::uint64_t(event::PauseKind::flip));
        pause = r["duration"];
      }
    }
    EXPECT_EQ(ranks, (std::set<std::uint64_t>{0, 1, 2, 3}));
    EXPECT_LE(condemnedByGen, start["condemned"]);
    std::vector<std::string> expected = {"TraceStart",  "TraceCondemn", "TracePhase",
                                         "TraceFlip",   "TracePhase",   "TraceGeneration",
                                         "TraceWorker", "TracePause",   "TraceEnd"};
    EXPECT_EQ(order, expected);
    std::vector<const Record*> ends = s.all("TraceEnd");
    ASSERT_EQ(ends.size(), 1u);
    const Record& end = *ends[0];
    EXPECT_EQ(end["condemned"], start["condemned"]);
    EXPECT_LE(end["preserved"], end["condemned"]);
    EXPECT_GT(end["preserved"], 0u) << "the list survives";
    EXPECT_EQ(end["pauseCount"], 1u);
    EXPECT_EQ(end["pauseTotal"], pause);
    EXPECT_EQ(end["pauseMax"], pause);
    EXPECT_GE(end["duration"], pause);
    EXPECT_EQ(end["workers"], workers);
    EXPECT_GT(scannedBytes, 0u) << "the list's objects were scanned";
    EXPECT_GE(end.time, start.time);
    EXPECT_FALSE(s.all("GenerationSize").empty());

    // The client's label.
    std::vector<const Record*> interns = s.all("Intern");
    ASSERT_EQ(interns.size(), 1u);
    EXPECT_EQ((*interns[0])["label"], label);
    EXPECT_EQ(interns[0]->text, "a list of objects");
    std::vector<const Record*> labels = s.all("Label");
    ASSERT_EQ(labels.size(), 1u);
    EXPECT_EQ((*labels[0])["label"], label);
    EXPECT_EQ((*labels[0])["address"], reinterpret_cast<std::uintptr_t>(address));

    // Flushed at arena destruction and by mps_telemetry_flush, with no drops.
    std::vector<const Record*> flushes = s.all("StreamFlush");
    ASSERT_GE(flushes.size(), 2u);
    EXPECT_EQ((*flushes.back())["eventsDropped"], 0u);
    EXPECT_GT((*flushes.back())["bytesWritten"], (*flushes.front())["bytesWritten"]);
  });
}

TEST(EventStream, DisabledCategoriesWriteNothing) {
  inChild([] {
    mps_word_t label = 0;
    void* address = nullptr;
    Stream s = recordCollection("trace-only", "trace", &label, &address);
    EXPECT_FALSE(s.all("TraceStart").empty());
    for (const Record& r : s.records)
      EXPECT_TRUE(r.kind->category == event::Category::trace || r.name() == "StreamFlush")
          << r.name();
  });
}

TEST(EventStream, LabelsRoundTripOnlyWithTheUserCategory) {
  inChild([] {
    std::string path = streamPath("labels");
    ::setenv("MPS_TELEMETRY_FILENAME", path.c_str(), 1);
    ::unsetenv("MPS_TELEMETRY_CONTROL");
    EXPECT_EQ(mps_telemetry_get(), 0u);
    mps_label_t hidden = mps_telemetry_intern("not recorded");
    mps_telemetry_set(kUser);
    int x = 0;
    std::string longest(255, 'y');
    mps_label_t l1 = mps_telemetry_intern("first");
    mps_label_t l2 = mps_telemetry_intern(longest.c_str());
    mps_telemetry_label(&x, l1);
    mps_telemetry_label(&x, l2);
    mps_telemetry_reset(kUser);
    mps_telemetry_label(&x, hidden);
    mps_telemetry_flush();
    Stream s = parseStream(readFile(path));
    ::unlink(path.c_str());
    std::vector<const Record*> interns = s.all("Intern");
    ASSERT_EQ(interns.size(), 2u);
    EXPECT_EQ((*interns[0])["label"], l1);
    EXPECT_EQ(interns[0]->text, "first");
    EXPECT_EQ((*interns[1])["label"], l2);
    EXPECT_EQ(interns[1]->text, longest);
    std::vector<const Record*> labels = s.all("Label");
    ASSERT_EQ(labels.size(), 2u);
    EXPECT_EQ((*labels[0])["label"], l1);
    EXPECT_EQ((*labels[1])["label"], l2);
    EXPECT_EQ((*labels[1])["address"], reinterpret_cast<std::uintptr_t>(&x));
    EXPECT_EQ(s.records.size(), 5u);  // and one StreamFlush
  });
}

TEST(EventStream, AnUnwritableFileNameTurnsTelemetryOffWithOneReport) {
  inChild([] {
    std::string report = streamPath("report");
    ::setenv("MPS_TELEMETRY_FILENAME", "/nonexistent-directory/for/mps/telemetry.log", 1);
    ::setenv("MPS_TELEMETRY_CONTROL", "all", 1);
    // The report goes through the plinth to stderr: capture it.
    std::fflush(stderr);
    int saved = ::dup(STDERR_FILENO);
    int fd = ::open(report.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ::dup2(fd, STDERR_FILENO);
    mps_word_t label = 0;
    void* address = nullptr;
    collectOnce(&label, &address);
    EXPECT_EQ(mps_telemetry_get(), 0u) << "telemetry is off";
    // Turned on again, it stays silent.
    mps_telemetry_set(kUser);
    (void)mps_telemetry_intern("nowhere to go");
    collectOnce(&label, &address);
    mps_telemetry_flush();
    std::fflush(stderr);
    ::dup2(saved, STDERR_FILENO);
    ::close(fd);
    ::close(saved);
    std::string text = readFile(report);
    ::unlink(report.c_str());
    std::size_t count = 0;
    for (std::size_t at = text.find("telemetry stream could not be opened");
         at != std::string::npos; at = text.find("telemetry stream could not be opened", at + 1))
      ++count;
    EXPECT_EQ(count, 1u) << text;
  });
}

// A write to a segment the barrier protected is recorded from inside the
// fault handler (design/event.md .event.noblock).
TEST(EventStream, ABarrierFaultIsRecordedFromTheFaultHandler) {
  inChild([] {
    std::string path = streamPath("barrier");
    ::setenv("MPS_TELEMETRY_FILENAME", path.c_str(), 1);
    ::setenv("MPS_TELEMETRY_CONTROL", "seg", 1);
    void* cold = __builtin_frame_address(0);
    std::uintptr_t written = 0;
    core::Size faults = 0;
    {
      Heap heap(cold);
      // Every segment with references is protected after a collection.
      core::Collector::of(reinterpret_cast<core::Arena*>(heap.arena))->barrierPolicy = false;
      Object* volatile head = work(heap.ap);
      ASSERT_NE(head, nullptr);
      EXPECT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
      Object* tail = head;
      while (tail->refs[0] != nullptr)
        tail = static_cast<Object*>(tail->refs[0]);
      core::Size before = core::Shield::faultCount();
      tail->refs[0] = tail;  // the oldest object, in a segment the barrier protects
      tail->refs[0] = nullptr;
      faults = core::Shield::faultCount() - before;
      written = reinterpret_cast<std::uintptr_t>(&tail->refs[0]);
    }
    Stream s = parseStream(readFile(path));
    ::unlink(path.c_str());
    std::vector<const Record*> records = s.all("BarrierFault");
    ASSERT_EQ(records.size(), faults);
    ASSERT_EQ(faults, 1u)
        << "the first write to a protected segment faults (MPS_WRITE_BARRIER unset)";
    EXPECT_EQ((*records[0])["address"], written);
    EXPECT_LE((*records[0])["segBase"], written);
    EXPECT_NE((*records[0])["mode"], 0u);
  });
}

// The critical-path categories (ref, object) record allocation, buffer
// fills and ambiguous fixes in the checked build only (telemetry.md).
TEST(EventStream, CriticalPathCategoriesOnlyInTheCheckedBuild) {
  inChild([] {
    std::string path = streamPath("critical");
    ::setenv("MPS_TELEMETRY_FILENAME", path.c_str(), 1);
    ::setenv("MPS_TELEMETRY_CONTROL", "ref object", 1);
    {
      Heap heap(__builtin_frame_address(0));
      mps_pool_t manual;
      ASSERT_EQ(mps_pool_create_k(&manual, heap.arena, mps_class_mvff(), mps_args_none),
                MPS_RES_OK);
      mps_addr_t p;
      ASSERT_EQ(mps_alloc(&p, manual, 64), MPS_RES_OK);
      mps_free(manual, p, 64);
      mps_pool_destroy(manual);
      // The stack (an ambiguous root) refers to the list.
      Object* volatile head = work(heap.ap);
      ASSERT_NE(head, nullptr);
      EXPECT_EQ(mps_arena_collect(heap.arena), MPS_RES_OK);
      mps_arena_release(heap.arena);
    }
    Stream s = parseStream(readFile(path));
    ::unlink(path.c_str());
    std::size_t expected = MPS_CHECKED ? 1 : 0;
    EXPECT_EQ(s.all("ObjectAlloc").size(), expected);
    EXPECT_EQ(s.all("ObjectFree").size(), expected);
    EXPECT_EQ(s.all("BufferFill").empty(), !MPS_CHECKED);
    EXPECT_EQ(s.all("FixAmbiguous").empty(), !MPS_CHECKED);
    for (const Record& r : s.records)
      EXPECT_TRUE(event::criticalPath(r.kind->category) || r.name() == "StreamFlush") << r.name();
  });
}

// Several threads append at once, buffers fill and are handed on while
// another thread flushes every buffer: each thread's records arrive, in
// its order, none dropped.
TEST(EventStreamThreaded, ThreadsWriteAtOnce) {
  inChild([] {
    std::string path = streamPath("threads");
    ::setenv("MPS_TELEMETRY_FILENAME", path.c_str(), 1);
    ::setenv("MPS_TELEMETRY_CONTROL", "user", 1);
    constexpr int kThreads = 4;
    constexpr mps_word_t kLabels = 20000;  // about ten buffers each
    std::atomic<int> running{kThreads};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t, &running] {
        auto* address = reinterpret_cast<void*>(std::uintptr_t(t + 1));
        for (mps_word_t k = 0; k < kLabels; ++k)
          mps_telemetry_label(address, k);
        running.fetch_sub(1);
      });
    }
    std::thread flusher([&running] {
      while (running.load() > 0)
        mps_telemetry_flush();
    });
    for (std::thread& t : threads)
      t.join();
    flusher.join();
    mps_telemetry_flush();
    Stream s = parseStream(readFile(path));
    ::unlink(path.c_str());
    expectMonotonicPerThread(s);
    std::map<std::uint64_t, mps_word_t> next;
    std::map<std::uint64_t, std::uint32_t> writer;
    for (const Record* r : s.all("Label")) {
      std::uint64_t a = (*r)["address"];
      EXPECT_EQ((*r)["label"], next[a]) << "thread " << a << "'s labels in order";
      next[a] = (*r)["label"] + 1;
      auto [it, fresh] = writer.emplace(a, r->thread);
      if (!fresh) {
        EXPECT_EQ(it->second, r->thread);
      }
    }
    for (int t = 0; t < kThreads; ++t)
      EXPECT_EQ(next[std::uint64_t(t + 1)], kLabels);
    ASSERT_FALSE(s.all("StreamFlush").empty());
    EXPECT_EQ((*s.all("StreamFlush").back())["eventsDropped"], 0u);
  });
}

}  // namespace
}  // namespace mps::test
