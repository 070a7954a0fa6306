// C entry points for the message queue (messages.md).
//
// A message handle is the core Message's address. Every entry takes the
// arena lock; the accessors also require a message the client got from this
// arena and has not discarded, and a type-specific accessor a message of its
// type.
#include "api/handles.hpp"
#include "messages/message.hpp"
#include "tracer/collector.hpp"

using mps::core::Collector;
using mps::core::GCMessage;
using mps::core::GCStartMessage;
using mps::core::Message;
using mps::core::MessageQueue;
using mps::core::MessageType;
using namespace mps::api;

namespace {

Message* toMessage(mps_message_t m) {
  return reinterpret_cast<Message*>(m);
}
mps_message_t toHandle(Message* m) {
  return reinterpret_cast<mps_message_t>(m);
}

MessageQueue& queueOf(Arena* arena) {
  Collector* collector = Collector::of(arena);
  MPS_AVER_ALWAYS(collector != nullptr && "the arena has a collector");
  MessageQueue& queue = collector->messages();
  MPS_AVERT(MessageQueue, &queue);
  return queue;
}

// A type the client names: any other value would index past the queue's
// tables, so it is checked in every build.
MessageType checkedType(mps_message_type_t type) {
  MPS_AVER_ALWAYS(mps::core::isMessageType(type) &&
                  "message type is mps_message_type_finalization(), _gc() or _gc_start()");
  return MessageType(type);
}

// The message behind `handle`, which the client got from `arena` and has not
// yet discarded (checked builds).
const Message& heldMessage(Arena* arena, mps_message_t handle) {
  (void)arena;  // only checked builds look at it
  Message* message = toMessage(handle);
  MPS_API_AVER_SIG(Message, message);
  MPS_AVERT(Message, message);
  MPS_AVER(queueOf(arena).holds(message) &&
           "the message was got from this arena's queue and not yet discarded");
  return *message;
}

}  // namespace

extern "C" {

void mps_message_type_enable(mps_arena_t handle, mps_message_type_t type) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  queueOf(arena).enable(checkedType(type));
}

void mps_message_type_disable(mps_arena_t handle, mps_message_type_t type) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  queueOf(arena).disable(checkedType(type));
}

mps_bool_t mps_message_poll(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return queueOf(arena).poll();
}

mps_bool_t mps_message_queue_type(mps_message_type_t* typeOut, mps_arena_t handle) {
  MPS_AVER_ALWAYS(typeOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  MessageType type;
  if (!queueOf(arena).queueType(&type)) return 0;
  *typeOut = static_cast<mps_message_type_t>(type);
  return 1;
}

mps_bool_t mps_message_get(mps_message_t* messageOut, mps_arena_t handle, mps_message_type_t type) {
  MPS_AVER_ALWAYS(messageOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Message* message;
  if (!queueOf(arena).get(&message, checkedType(type))) return 0;
  *messageOut = toHandle(message);
  return 1;
}

void mps_message_discard(mps_arena_t handle, mps_message_t messageHandle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Message* message = toMessage(messageHandle);
  MPS_API_AVER_SIG(Message, message);
  queueOf(arena).discard(message);
}

mps_message_type_t mps_message_type(mps_arena_t handle, mps_message_t message) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return static_cast<mps_message_type_t>(heldMessage(arena, message).type());
}

mps_clock_t mps_message_clock(mps_arena_t handle, mps_message_t message) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return heldMessage(arena, message).clock();
}

size_t mps_message_gc_live_size(mps_arena_t handle, mps_message_t message) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return GCMessage::from(heldMessage(arena, message)).liveSize();
}

size_t mps_message_gc_condemned_size(mps_arena_t handle, mps_message_t message) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return GCMessage::from(heldMessage(arena, message)).condemnedSize();
}

size_t mps_message_gc_not_condemned_size(mps_arena_t handle, mps_message_t message) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return GCMessage::from(heldMessage(arena, message)).notCondemnedSize();
}

void mps_message_gc_barrier(mps_arena_t handle, mps_message_t message, size_t* protectionsOut,
                            size_t* faultsOut, double* secondsOut) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  const GCMessage::BarrierCost& cost = GCMessage::from(heldMessage(arena, message)).barrierCost();
  if (protectionsOut != nullptr) *protectionsOut = cost.protections;
  if (faultsOut != nullptr) *faultsOut = cost.faults;
  if (secondsOut != nullptr) *secondsOut = cost.seconds;
}

void mps_message_gc_pauses(mps_arena_t handle, mps_message_t message, size_t* countOut,
                           double* totalOut, double* maxOut) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  const mps::core::PauseSummary& p = GCMessage::from(heldMessage(arena, message)).pauses();
  if (countOut != nullptr) *countOut = p.count;
  if (totalOut != nullptr) *totalOut = p.seconds;
  if (maxOut != nullptr) *maxOut = p.maxSeconds;
}

void mps_message_finalization_ref(mps_addr_t* refOut, mps_arena_t handle, mps_message_t message) {
  MPS_AVER_ALWAYS(refOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  *refOut = mps::core::FinalizationMessage::from(heldMessage(arena, message)).ref;
}

const char* mps_message_gc_start_why(mps_arena_t handle, mps_message_t message) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return GCStartMessage::from(heldMessage(arena, message)).why();
}

}  // extern "C"
