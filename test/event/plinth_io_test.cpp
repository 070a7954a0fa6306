// A client's own I/O plinth (plinth.md, mpsio.h): its mps_io_* functions
// take the place of the default ones and receive the whole stream. And the
// danger the writer is designed around (design/event.md .event.noblock): a
// collection while another registered thread is inside mps_io_write,
// holding the stream's lock, must neither wait for it nor lose events.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "heap.hpp"
#include "mps.h"
#include "mpsio.h"
#include "stream_reader.hpp"

namespace {

// The client plinth's state: every byte written, and a gate that holds a
// chosen thread inside mps_io_write.
struct ClientIo {
  std::mutex lock;  // the bytes (the library serialises writes anyway)
  std::string bytes;
  std::atomic<int> creates{0}, flushes{0}, destroys{0};
  std::atomic<std::thread::id> holdWriter{};
  std::atomic<bool> writerHeld{false};
  std::atomic<bool> release{false};
};
ClientIo gIo;

}  // namespace

extern "C" {

mps_res_t mps_io_create(mps_io_t* ioReturn) {
  gIo.creates.fetch_add(1);
  *ioReturn = reinterpret_cast<mps_io_t>(&gIo);
  return MPS_RES_OK;
}

void mps_io_destroy(mps_io_t io) {
  EXPECT_EQ(reinterpret_cast<ClientIo*>(io), &gIo);
  gIo.destroys.fetch_add(1);
}

mps_res_t mps_io_write(mps_io_t io, void* buf, size_t size) {
  EXPECT_EQ(reinterpret_cast<ClientIo*>(io), &gIo);
  if (gIo.holdWriter.load() == std::this_thread::get_id()) {
    gIo.writerHeld.store(true);
    while (!gIo.release.load())
      std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  std::lock_guard<std::mutex> guard(gIo.lock);
  gIo.bytes.append(static_cast<const char*>(buf), size);
  return MPS_RES_OK;
}

mps_res_t mps_io_flush(mps_io_t io) {
  EXPECT_EQ(reinterpret_cast<ClientIo*>(io), &gIo);
  gIo.flushes.fetch_add(1);
  return MPS_RES_OK;
}

}  // extern "C"

namespace mps::test {
namespace {

std::string captured() {
  std::lock_guard<std::mutex> guard(gIo.lock);
  return gIo.bytes;
}

// One test only: the stream opens once per process.
TEST(ClientPlinthThreaded, ReceivesTheStreamAndACollectionNeverWaitsForAWriter) {
  ::setenv("MPS_TELEMETRY_CONTROL", "arena pool trace seg user", 1);
  auto heap = std::make_unique<Heap>(__builtin_frame_address(0));
  mps_arena_t arena = heap->arena;
  EXPECT_EQ(gIo.creates.load(), 1);
  for (mps_word_t i = 0; i < 5000; ++i)
    ASSERT_NE(allocObject(heap->ap, i, 1), nullptr);
  mps_telemetry_flush();
  EXPECT_GE(gIo.flushes.load(), 1);

  // A registered thread flushes, and is held inside mps_io_write (holding
  // the stream's lock) until the collection below is over.
  std::atomic<bool> registered{false};
  std::thread writer([&] {
    mps_thr_t thread;
    ASSERT_EQ(mps_thread_reg(&thread, arena), MPS_RES_OK);
    gIo.holdWriter.store(std::this_thread::get_id());
    registered.store(true);
    mps_telemetry_label(&thread, 1);
    mps_telemetry_flush();
    mps_thread_dereg(thread);
  });
  while (!gIo.writerHeld.load())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // This thread's buffer (emptied by the flush above) is filled to the
  // brim, so that the collection's first event needs a fresh buffer and
  // hands this one on while the stream's lock is held by the writer.
  constexpr std::size_t kRecord = sizeof(event::RecordHeader) + 2 * 8;
  constexpr std::size_t kPerBuffer = (64 * 1024 - 16) / kRecord;
  for (std::size_t k = 0; k < kPerBuffer; ++k)
    mps_telemetry_label(&arena, k);
  std::size_t before = captured().size();
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_arena_release(arena);
  EXPECT_EQ(captured().size(), before) << "nothing was written while the writer held the lock";
  gIo.release.store(true);
  writer.join();

  heap.reset();  // flushes

  Stream s = parseStream(captured());
  expectMonotonicPerThread(s);
  EXPECT_EQ(s.all("TraceStart").size(), 3u);
  EXPECT_EQ(s.all("TraceEnd").size(), 3u);
  std::size_t mine = 0;
  for (const Record* r : s.all("Label"))
    if ((*r)["address"] == reinterpret_cast<std::uintptr_t>(&arena)) {
      EXPECT_EQ((*r)["label"], mine);
      ++mine;
    }
  EXPECT_EQ(mine, kPerBuffer);
  ASSERT_FALSE(s.all("StreamFlush").empty());
  EXPECT_EQ((*s.all("StreamFlush").back())["eventsDropped"], 0u);
  EXPECT_EQ(gIo.destroys.load(), 0) << "the stream stays open until the process exits";
}

}  // namespace
}  // namespace mps::test
