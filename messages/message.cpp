#include "messages/message.hpp"

#include <new>

#include "mpslib.h"

namespace mps::core {

const char* messageTypeName(MessageType type) {
  switch (type) {
    case MessageType::finalization:
      return "finalization";
    case MessageType::gc:
      return "gc";
    case MessageType::gcStart:
      return "gc start";
  }
  return "unknown";
}

// Message --------------------------------------------------------------------------

Message::Message(MessageQueue* queue, MessageType type) : queue_(queue), type_(type) {
  MPS_AVER(queue != nullptr);
  MPS_AVER(isMessageType(indexOf(type)));
}

Message::~Message() {
  invalidateSig(sig);
}

bool Message::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(queue_ != nullptr);
  MPS_CHECKL(isMessageType(indexOf(type_)));
  MPS_CHECKL(ring_.check());
  // Linked exactly when queued or held.
  MPS_CHECKL(ring_.isSingle() == (state_ == State::detached || state_ == State::spare));
  return true;
}

const GCStartMessage& GCStartMessage::from(const Message& message) {
  MPS_AVER_ALWAYS(message.type() == MessageType::gcStart &&
                  "the message is a GC start message (mps_message_type_gc_start())");
  return static_cast<const GCStartMessage&>(message);
}

void GCStartMessage::discarded() {
  queue()->recycle(this);
}

const GCMessage& GCMessage::from(const Message& message) {
  MPS_AVER_ALWAYS(message.type() == MessageType::gc &&
                  "the message is a GC message (mps_message_type_gc())");
  return static_cast<const GCMessage&>(message);
}

void GCMessage::discarded() {
  queue()->recycle(this);
}

Res FinalizationMessage::make(FinalizationMessage** out, MessageQueue* queue, Addr ref) {
  MPS_AVERT(MessageQueue, queue);
  void* p;
  Res res = queue->arena()->controlAlloc(&p, sizeof(FinalizationMessage));
  if (res != Res::ok) return res;
  *out = new (p) FinalizationMessage(queue, ref);
  ++queue->finalizationAllocated_;
  return Res::ok;
}

FinalizationMessage& FinalizationMessage::from(Message& message) {
  MPS_AVER_ALWAYS(message.type() == MessageType::finalization &&
                  "the message is a finalization message (mps_message_type_finalization())");
  return static_cast<FinalizationMessage&>(message);
}

const FinalizationMessage& FinalizationMessage::from(const Message& message) {
  return from(const_cast<Message&>(message));
}

void FinalizationMessage::destroy() {
  MPS_AVER(state() == State::detached && registryRing.isSingle());
  MessageQueue* q = queue();
  MPS_AVER(q->finalizationAllocated_ > 0);
  --q->finalizationAllocated_;
  this->~FinalizationMessage();
  q->arena()->controlFree(this, sizeof(FinalizationMessage));
}

// MessageQueue ---------------------------------------------------------------------

MessageQueue::MessageQueue(Arena* arena) : arena_(arena) {
  MPS_AVER(arena != nullptr);
}

MessageQueue::~MessageQueue() {
  MPS_AVER(finished_ && "the message queue was finished before it is destroyed");
  invalidateSig(sig);
}

void MessageQueue::finish() {
  MPS_AVERT(MessageQueue, this);
  for (unsigned t = 0; t < kMessageTypeCount; ++t) {
    enabled_[t] = false;  // a hook below must not get anything posted
    while (Message* m = queued_[t].first()) {
      unqueue(m);
      m->discarded();
    }
  }
  while (Message* m = held_.first()) {
    m->ring_.remove();
    m->state_ = State::detached;
    m->discarded();
  }
  // Spares last: the hooks above have put GC messages back there.
  for (Message*& spare : spare_) {
    if (spare != nullptr) {
      freeMessage(spare);
      spare = nullptr;
    }
  }
  MPS_AVER(allocated_ == 0);
  finished_ = true;
}

bool MessageQueue::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(arena_ != nullptr);
  Size total = 0;
  for (unsigned t = 0; t < kMessageTypeCount; ++t) {
    MPS_CHECKL(queued_[t].check());
    MPS_CHECKL(queued_[t].isSingle() == (queuedCount_[t] == 0));
    total += queuedCount_[t];
    if (spare_[t] != nullptr) {
      MPS_CHECKL(spare_[t]->state_ == State::spare);
      MPS_CHECKL(indexOf(spare_[t]->type_) == t);
    }
  }
  MPS_CHECKL(total == queuedTotal_);
  MPS_CHECKL(held_.check());
  MPS_CHECKL(spare_[indexOf(MessageType::finalization)] == nullptr);
  return true;
}

void MessageQueue::disable(MessageType type) {
  MPS_AVERT(MessageQueue, this);
  unsigned t = indexOf(type);
  enabled_[t] = false;
  while (Message* m = queued_[t].first()) {
    unqueue(m);
    m->discarded();
  }
}

bool MessageQueue::queueType(MessageType* typeOut) const {
  MPS_AVER(typeOut != nullptr);
  // The oldest message is the head of one of the FIFOs: the one posted first.
  const Message* oldest = nullptr;
  for (const Ring<Message>& fifo : queued_) {
    const Message* head = fifo.first();
    if (head != nullptr && (oldest == nullptr || head->serial_ < oldest->serial_)) oldest = head;
  }
  if (oldest == nullptr) return false;
  *typeOut = oldest->type_;
  return true;
}

bool MessageQueue::get(Message** messageOut, MessageType type) {
  MPS_AVER(messageOut != nullptr);
  MPS_AVERT(MessageQueue, this);
  Message* m = queued_[indexOf(type)].first();
  if (m == nullptr) return false;
  unqueue(m);
  held_.append(&m->ring_);
  m->state_ = State::held;
  *messageOut = m;
  return true;
}

void MessageQueue::discard(Message* message) {
  MPS_AVERT(Message, message);
  MPS_AVER_ALWAYS(holds(message) &&
                  "the message was got from this arena's queue and not yet discarded");
  message->ring_.remove();
  message->state_ = State::detached;
  message->discarded();
}

Res MessageQueue::reserveForCollection() {
  MPS_AVERT(MessageQueue, this);
  MPS_AVER(!finished_);
  if (spare_[indexOf(MessageType::gcStart)] == nullptr) {
    void* p;
    Res res = arena_->controlAlloc(&p, sizeof(GCStartMessage));
    if (res != Res::ok) return res;
    GCStartMessage* m = new (p) GCStartMessage(this);
    ++allocated_;
    m->state_ = State::spare;
    spare_[indexOf(MessageType::gcStart)] = m;
  }
  if (spare_[indexOf(MessageType::gc)] == nullptr) {
    // On failure the GC-start message stays spare for the next attempt.
    void* p;
    Res res = arena_->controlAlloc(&p, sizeof(GCMessage));
    if (res != Res::ok) return res;
    GCMessage* m = new (p) GCMessage(this);
    ++allocated_;
    m->state_ = State::spare;
    spare_[indexOf(MessageType::gc)] = m;
  }
  return Res::ok;
}

Message* MessageQueue::takeSpareToPost(MessageType type) {
  unsigned t = indexOf(type);
  Message* m = spare_[t];
  // The collector must reserve before it starts a collection; a release
  // build that did not just reports nothing.
  MPS_AVER(m != nullptr && "the collection reserved its messages (reserveForCollection)");
  if (m == nullptr || !enabled_[t]) return nullptr;
  if (queuedCount_[t] >= gcQueueLimit_) {
    ++dropped_;
    return nullptr;
  }
  spare_[t] = nullptr;
  m->state_ = State::detached;
  return m;
}

void MessageQueue::postGCStart(const char* why) {
  MPS_AVERT(MessageQueue, this);
  MPS_AVER(why != nullptr);
  Message* m = takeSpareToPost(MessageType::gcStart);
  if (m == nullptr) return;
  static_cast<GCStartMessage*>(m)->why_ = why;
  enqueue(m);
}

void MessageQueue::postGC(Size live, Size condemned, Size notCondemned,
                          const GCMessage::BarrierCost& barrier, const PauseSummary& pauses) {
  MPS_AVERT(MessageQueue, this);
  Message* m = takeSpareToPost(MessageType::gc);
  if (m == nullptr) return;
  GCMessage* gc = static_cast<GCMessage*>(m);
  gc->live_ = live;
  gc->condemned_ = condemned;
  gc->notCondemned_ = notCondemned;
  gc->barrier_ = barrier;
  gc->pauses_ = pauses;
  enqueue(m);
}

bool MessageQueue::post(Message* message) {
  MPS_AVERT(MessageQueue, this);
  MPS_AVERT(Message, message);
  MPS_AVER(message->queue_ == this && message->state_ == State::detached);
  if (!enabled_[indexOf(message->type_)]) return false;
  enqueue(message);
  return true;
}

void MessageQueue::withdraw(Message* message) {
  MPS_AVERT(Message, message);
  MPS_AVER(message->queue_ == this);
  MPS_AVER(message->type_ == MessageType::finalization &&
           "only a message its poster made is withdrawn");
  if (message->state_ == State::queued) {
    unqueue(message);
  } else {
    MPS_AVER(message->state_ == State::held);
    message->ring_.remove();
    message->state_ = State::detached;
  }
}

void MessageQueue::enqueue(Message* message) {
  MPS_AVER(message->state_ == State::detached && message->ring_.isSingle());
  unsigned t = indexOf(message->type_);
  message->serial_ = nextSerial_++;
  message->clock_ = message->type_ == MessageType::finalization ? 0 : mps_clock();
  queued_[t].append(&message->ring_);
  message->state_ = State::queued;
  ++queuedCount_[t];
  ++queuedTotal_;
}

void MessageQueue::unqueue(Message* message) {
  MPS_AVER(message->state_ == State::queued);
  unsigned t = indexOf(message->type_);
  MPS_AVER(queuedCount_[t] > 0);
  message->ring_.remove();
  message->state_ = State::detached;
  --queuedCount_[t];
  --queuedTotal_;
}

void MessageQueue::recycle(Message* message) {
  MPS_AVER(message->queue_ == this && message->state_ == State::detached);
  unsigned t = indexOf(message->type_);
  MPS_AVER(message->type_ == MessageType::gc || message->type_ == MessageType::gcStart);
  if (spare_[t] == nullptr && !finished_) {
    message->state_ = State::spare;
    spare_[t] = message;
  } else {
    freeMessage(message);
  }
}

void MessageQueue::freeMessage(Message* message) {
  // Only the queue's own kinds are freed here; the size is the type's.
  Size size = 0;
  switch (message->type_) {
    case MessageType::gcStart:
      size = sizeof(GCStartMessage);
      break;
    case MessageType::gc:
      size = sizeof(GCMessage);
      break;
    case MessageType::finalization:
      MPS_AVER(false && "the queue frees only the messages it made");
      return;
  }
  MPS_AVER(allocated_ > 0);
  --allocated_;
  message->~Message();
  arena_->controlFree(message, size);
}

}  // namespace mps::core
