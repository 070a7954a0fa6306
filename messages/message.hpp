// The arena's message queue (messages.md; design: manual/design/messages.md).
//
// The collector reports what happened asynchronously (a collection started,
// a collection finished, a block became finalizable) by posting messages
// that the client polls for. A message is in exactly one of these states:
//
//   spare     owned by the queue, constructed, waiting to be posted;
//   queued    posted, in its type's FIFO, owned by the queue;
//   held      got by the client, owned by the client until it discards it;
//   detached  owned by whoever posts it (a message the queue did not make,
//             such as a finalization message, before it is posted).
//
// Posting never fails and never allocates: GC-start and GC messages are
// made ahead by reserveForCollection(), before a collection starts, and other
// messages are made by their poster. Only enabled types are posted.
//
// Locking: every method is called with the arena lock held.
#pragma once

#include <cstdint>

#include "arena/arena.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"
#include "mps.h"

namespace mps::core {

class MessageQueue;

// Pauses of the mutators (design/tracer.md .pause.timing): how many, and
// their total and longest duration in seconds.
struct PauseSummary {
  Size count = 0;
  double seconds = 0, maxSeconds = 0;
  void add(double pause) {
    ++count;
    seconds += pause;
    if (pause > maxSeconds) maxSeconds = pause;
  }
};

// The values are fixed by mps.h (mps_message_type_finalization() and so on)
// and index the queue's per-type tables.
enum class MessageType : unsigned {
  finalization = _mps_MESSAGE_TYPE_FINALIZATION,
  gc = _mps_MESSAGE_TYPE_GC,
  gcStart = _mps_MESSAGE_TYPE_GC_START,
};
constexpr unsigned kMessageTypeCount = 3;

constexpr bool isMessageType(unsigned type) {
  return type < kMessageTypeCount;
}
constexpr unsigned indexOf(MessageType type) {
  return static_cast<unsigned>(type);
}
// The name used in reports ("gc", "gc start", "finalization").
const char* messageTypeName(MessageType type);

class Message {
 public:
  static constexpr Sig kSig = 0x519E55A6u;

  enum class State : unsigned char { detached, spare, queued, held };

  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  MessageType type() const { return type_; }
  // mps_clock() when the message was posted (0 for finalization messages,
  // as in the reference).
  mps_clock_t clock() const { return clock_; }
  MessageQueue* queue() const { return queue_; }
  State state() const { return state_; }
  // Got by the client and not yet discarded: the accessors' precondition.
  bool isHeld() const { return state_ == State::held; }
  bool check() const;

  Sig sig = kSig;

 protected:
  Message(MessageQueue* queue, MessageType type);
  virtual ~Message();

  // The queue is done with the message: the client discarded it, its type
  // was disabled while it was queued, or the queue is being finished (arena
  // destruction). The message is detached when this is called and must not
  // be used by the queue again. GC-start and GC messages go back to their
  // queue (recycle); a finalization message drops its hold on its block and
  // frees itself.
  virtual void discarded() = 0;

 private:
  friend class MessageQueue;

  Ring<Message> ring_{this};  // the type's FIFO while queued, the held ring while held
  MessageQueue* queue_;
  MessageType type_;
  State state_ = State::detached;
  std::uint64_t serial_ = 0;  // post order across all types
  mps_clock_t clock_ = 0;
};

// Reports when a collection started (mps_message_type_gc_start()).
class GCStartMessage final : public Message {
 public:
  // `message` as a GC-start message; a checked error if it is another type.
  static const GCStartMessage& from(const Message& message);

  // A static English string: why the collection started.
  const char* why() const { return why_; }

 private:
  friend class MessageQueue;
  explicit GCStartMessage(MessageQueue* queue) : Message(queue, MessageType::gcStart) {}
  void discarded() override;

  const char* why_ = "";
};

// Reports the results of a finished collection (mps_message_type_gc()).
class GCMessage final : public Message {
 public:
  // `message` as a GC message; a checked error if it is another type.
  static const GCMessage& from(const Message& message);

  Size liveSize() const { return live_; }
  Size condemnedSize() const { return condemned_; }
  Size notCondemnedSize() const { return notCondemned_; }
  // The write barrier's cost since the previous collection ended (this
  // collection and the mutator's run before it): protection changes,
  // write faults resolved, and the seconds both took.
  struct BarrierCost {
    Size protections = 0;
    Size faults = 0;
    double seconds = 0;
  };
  const BarrierCost& barrierCost() const { return barrier_; }
  // The collection's pauses (every kind: flip, increment, barrier, finish).
  const PauseSummary& pauses() const { return pauses_; }

 private:
  friend class MessageQueue;
  explicit GCMessage(MessageQueue* queue) : Message(queue, MessageType::gc) {}
  void discarded() override;

  Size live_ = 0;
  Size condemned_ = 0;
  Size notCondemned_ = 0;
  BarrierCost barrier_;
  PauseSummary pauses_;
};

// A finalization message (finalization.md), which is also the registration
// it comes from: mps_finalize makes one, detached, for each registration, so
// that posting it when its block is found finalizable allocates nothing.
// While registered it is on the collector's registry (tracer/); once posted
// the queue owns it, and it frees itself when discarded. `ref` is the
// block's client address, kept up to date by the collector when it moves.
class FinalizationMessage final : public Message {
 public:
  // Makes a detached message for `ref` in the arena's control memory.
  static Res make(FinalizationMessage** out, MessageQueue* queue, Addr ref);
  // `message` as a finalization message; a checked error if it is another
  // type.
  static FinalizationMessage& from(Message& message);
  static const FinalizationMessage& from(const Message& message);
  // Frees a detached message (a registration removed by mps_definalize or
  // forgotten with its pool).
  void destroy();

  Addr ref = nullptr;
  // The collector's registry, while the message is a registration.
  Ring<FinalizationMessage> registryRing{this};
  // Set by a trace that found the block finalizable (tracer/trace.cpp).
  bool firing = false;

 private:
  FinalizationMessage(MessageQueue* queue, Addr r)
      : Message(queue, MessageType::finalization), ref(r) {}
  void discarded() override { destroy(); }
};

class MessageQueue {
 public:
  static constexpr Sig kSig = 0x519E55A9u;
  // Queued messages of each GC type beyond which new ones are not posted,
  // so a client that enables GC messages and never reads them does not grow
  // without bound. Finalization messages are never dropped.
  // (design/messages.md .messages.bound)
  static constexpr Size kDefaultGCQueueLimit = 1024;

  explicit MessageQueue(Arena* arena);
  // finish() must have been called.
  ~MessageQueue();
  MessageQueue(const MessageQueue&) = delete;
  MessageQueue& operator=(const MessageQueue&) = delete;

  // Throws away every queued and held message (calling their discarded()
  // hook), then frees the spare ones. The queue posts nothing afterwards.
  void finish();
  bool check() const;
  Arena* arena() const { return arena_; }

  // Client interface (messages.md). No type is enabled at first.
  void enable(MessageType type) { enabled_[indexOf(type)] = true; }
  // Stops posting `type` and discards the queued messages of that type
  // (messages the client holds are not affected).
  void disable(MessageType type);
  bool isEnabled(MessageType type) const { return enabled_[indexOf(type)]; }
  // True if any message is queued.
  bool poll() const { return queuedTotal_ != 0; }
  // The type of the oldest queued message; false if none is queued
  // (design/messages.md .messages.order).
  bool queueType(MessageType* typeOut) const;
  // Takes the oldest queued message of `type`; the client holds it until it
  // discards it. False if none is queued.
  bool get(Message** messageOut, MessageType type);
  // Ends the client's hold on `message` (which it got from this queue).
  void discard(Message* message);
  // True if `message` is one this queue's client holds: what the C accessors
  // require of their argument.
  bool holds(const Message* message) const {
    return message->queue_ == this && message->state_ == State::held;
  }

  // Collector interface. Makes sure one GC-start and one GC message are
  // spare, allocating them from control memory if needed; a collection must
  // not start unless this succeeds. Each collection then posts at most one
  // of each, which never fails. (design/messages.md .messages.prealloc)
  Res reserveForCollection();
  // Post the spare message of that type if the type is enabled (and its
  // queue is below the limit); otherwise the message stays spare for the
  // next collection. `why` must be a static string.
  void postGCStart(const char* why);
  void postGC(Size live, Size condemned, Size notCondemned,
              const GCMessage::BarrierCost& barrier = {}, const PauseSummary& pauses = {});

  // Posts a message made by its poster (state detached, made for this
  // queue). True if it is queued (the queue now owns it and will call its
  // discarded() hook when done with it); false if its type is disabled, in
  // which case the caller still owns it.
  bool post(Message* message);
  // Takes a queued or held message the poster made back from the queue
  // without calling its hook (for a poster that must reclaim its messages
  // early). A held message withdrawn this way must not be used by the client
  // again. Not for the queue's own GC-start and GC messages.
  void withdraw(Message* message);
  // Calls f(Message*) for every queued and held message (for instance to
  // scan what finalization messages refer to). f must not change the queue.
  template <class F>
  void forEachLive(F&& f) const {
    for (const Ring<Message>& fifo : queued_)
      fifo.forEach(f);
    held_.forEach(f);
  }

  // Counts, for tests and telemetry.
  Size queuedCount() const { return queuedTotal_; }
  Size queuedCount(MessageType type) const { return queuedCount_[indexOf(type)]; }
  Size heldCount() const { return held_.length(); }
  bool hasSpare(MessageType type) const { return spare_[indexOf(type)] != nullptr; }
  // GC-start and GC messages made from control memory and not yet freed
  // (zero after finish()).
  Size allocatedCount() const { return allocated_; }
  // Finalization messages (registrations included) made and not yet freed.
  Size finalizationCount() const { return finalizationAllocated_; }
  // GC messages not posted because their type's queue was full.
  Size droppedCount() const { return dropped_; }
  Size gcQueueLimit() const { return gcQueueLimit_; }
  void setGCQueueLimit(Size limit) { gcQueueLimit_ = limit; }

  Sig sig = kSig;

 private:
  using State = Message::State;
  friend class GCStartMessage;
  friend class GCMessage;
  friend class FinalizationMessage;

  // Takes the spare message of `type` if it may be posted now, else null.
  Message* takeSpareToPost(MessageType type);
  void enqueue(Message* message);
  // Removes a queued message from its FIFO and detaches it.
  void unqueue(Message* message);
  // Keeps a discarded GC-start or GC message as the spare of its type, or
  // frees it if there already is one.
  void recycle(Message* message);
  void freeMessage(Message* message);

  Arena* arena_;
  bool finished_ = false;
  bool enabled_[kMessageTypeCount] = {};
  Ring<Message> queued_[kMessageTypeCount];  // one FIFO per type
  Size queuedCount_[kMessageTypeCount] = {};
  Size queuedTotal_ = 0;
  Ring<Message> held_;                      // got and not yet discarded
  Message* spare_[kMessageTypeCount] = {};  // only GC-start and GC have spares
  std::uint64_t nextSerial_ = 1;
  Size gcQueueLimit_ = kDefaultGCQueueLimit;
  Size dropped_ = 0;
  Size allocated_ = 0;
  Size finalizationAllocated_ = 0;
};

}  // namespace mps::core
