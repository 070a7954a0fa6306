// Intrusive doubly linked rings: a node is embedded in its owner, so linking
// never allocates (the arena must work when memory is exhausted). A node knows
// its owner, which keeps owners free to be polymorphic classes.
#pragma once

#include "base/check.hpp"
#include "base/types.hpp"

namespace mps::core {

template <class Owner>
class Ring {
 public:
  explicit Ring(Owner* owner = nullptr) : owner_(owner) { prev_ = next_ = this; }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  bool isSingle() const { return next_ == this; }
  Owner* owner() const { return owner_; }
  // The owner of the first element of the list headed by this, or null if
  // the list is empty (a FIFO takes from here).
  Owner* first() const { return isSingle() ? nullptr : next_->owner_; }

  // Links `node` (which must be single) at the end of the list headed by this.
  void append(Ring* node) { prevLink(node); }

  // Links `node` (which must be single) at the front of the list headed by this.
  void prepend(Ring* node) { next_->prevLink(node); }

  void remove() {
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = this;
  }

  bool check() const { return next_->prev_ == this && prev_->next_ == this; }

  Size length() const {
    Size n = 0;
    for (const Ring* r = next_; r != this; r = r->next_)
      ++n;
    return n;
  }

  // Calls f(owner) for each element; f may remove the current element.
  template <class F>
  void forEach(F&& f) const {
    for (const Ring *r = next_, *next = r->next_; r != this; r = next, next = r->next_)
      f(r->owner_);
  }

 private:
  // Links `node` just before this.
  void prevLink(Ring* node) {
    MPS_AVER(node->isSingle());
    node->prev_ = prev_;
    node->next_ = this;
    prev_->next_ = node;
    prev_ = node;
  }
  Ring* prev_;
  Ring* next_;
  Owner* owner_;
};

}  // namespace mps::core
