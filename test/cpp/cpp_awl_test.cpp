// The C++ interface to weak references, AWL and finalization
// (include/mps/mps.hpp): AWLPool with weak and exact allocation points, a
// weak reference splatted when only it refers to its object, a weak-key
// table whose scan method deletes the value of a splatted key in the
// dependent object, Arena::finalize and definalize, FinalizationMessage
// (the object it names, held alive while the message lives, followed when
// it moves, resurrection), and the typed GC messages.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <type_traits>
#include <utility>

#include "assertions.hpp"
#include "mps/mps.hpp"

namespace {

constexpr std::size_t MiB = std::size_t(1) << 20;

// A node: a header word (number of references << 8 | a tag), a tagged id,
// then the references. Every non-reference word has its low bit set, as AWL
// objects should (manual/reference/awl.md). Forwarding markers and padding
// (for AMC) have tags of their own.
constexpr mps_word_t kNode = 0x31, kFwd = 0xF1, kPad = 0xA1;

struct Node {
  mps_word_t header;
  mps_word_t taggedId;

  mps_word_t id() const { return taggedId >> 1; }
  std::size_t refCount() const { return std::size_t(header >> 8); }
  Node** refs() { return reinterpret_cast<Node**>(this + 1); }
  Node*& ref(std::size_t i) { return refs()[i]; }
  static std::size_t sizeFor(std::size_t refs) { return sizeof(Node) + refs * sizeof(Node*); }
  static void init(Node* n, mps_word_t id, std::size_t refs) {
    n->header = (mps_word_t(refs) << 8) | kNode;
    n->taggedId = (id << 1) | 1;
    for (std::size_t i = 0; i < refs; ++i)
      n->ref(i) = nullptr;
  }
};

mps_word_t tagOf(void* p) {
  return static_cast<Node*>(p)->header & 0xFF;
}

// One format for AWL and AMC (AWL ignores fwd, isfwd and pad). A node whose
// dependent is set (see WeakTableFormat) is scanned by the table's rule.
struct NodeFormat {
  static constexpr std::size_t alignment = sizeof(mps_word_t);
  static mps::Result scan(mps_ss_t ss, void* base, void* limit) {
    MPS_SCAN_BEGIN(ss) {
      for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);
           p = static_cast<char*>(skip(p))) {
        if (tagOf(p) != kNode) continue;
        auto* n = reinterpret_cast<Node*>(p);
        for (std::size_t i = 0; i < n->refCount(); ++i) {
          mps_res_t res = MPS_FIX12(ss, reinterpret_cast<mps_addr_t*>(&n->ref(i)));
          if (res != MPS_RES_OK) return res;
        }
      }
    }
    MPS_SCAN_END(ss);
    return mps::Result::ok;
  }
  static void* skip(void* p) {
    if (tagOf(p) == kFwd || tagOf(p) == kPad)
      return static_cast<char*>(p) + (static_cast<Node*>(p)->header >> 8);
    return static_cast<char*>(p) + Node::sizeFor(static_cast<Node*>(p)->refCount());
  }
  static void fwd(void* old, void* to) {
    auto* n = static_cast<Node*>(old);
    n->header = (mps_word_t(Node::sizeFor(n->refCount())) << 8) | kFwd;
    n->taggedId = reinterpret_cast<mps_word_t>(to);
  }
  static void* isfwd(void* p) {
    return tagOf(p) == kFwd ? reinterpret_cast<void*>(static_cast<Node*>(p)->taggedId) : nullptr;
  }
  static void pad(void* p, std::size_t size) {
    static_cast<Node*>(p)->header = (mps_word_t(size) << 8) | kPad;
  }
};

// A weak-key table of `slots` entries: keys in a node on a weak allocation
// point, values in a node on an exact one. ref(0) of each is the other
// (its dependent object); refs 1.. are the entries. When the scan of the
// keys finds a key splatted it deletes the value beside it.
struct WeakTableFormat {
  static constexpr std::size_t alignment = sizeof(mps_word_t);
  static inline Node* keysObject = nullptr;  // the one table of the test
  static inline int dependentCalls = 0, splats = 0;

  static void* findDependent(void* p) {
    ++dependentCalls;
    return static_cast<Node*>(p)->ref(0);
  }
  static mps::Result scan(mps_ss_t ss, void* base, void* limit) {
    MPS_SCAN_BEGIN(ss) {
      for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);
           p = static_cast<char*>(NodeFormat::skip(p))) {
        auto* n = reinterpret_cast<Node*>(p);
        Node* partner = n->ref(0);
        for (std::size_t i = 0; i < n->refCount(); ++i) {
          auto* slot = reinterpret_cast<mps_addr_t*>(&n->ref(i));
          if (*slot == nullptr || !MPS_FIX1(ss, *slot)) continue;
          mps_res_t res = MPS_FIX2(ss, slot);
          if (res != MPS_RES_OK) return res;
          if (i > 0 && n->ref(i) == nullptr && n == keysObject && partner != nullptr) {
            ++splats;
            partner->ref(i) = nullptr;  // the dependent object: writable now
          }
        }
      }
    }
    MPS_SCAN_END(ss);
    return mps::Result::ok;
  }
  static void* skip(void* p) { return NodeFormat::skip(p); }
};

static_assert(std::is_base_of_v<mps::AutomaticPool, mps::AWLPool>);
static_assert(std::is_base_of_v<mps::Message, mps::FinalizationMessage>);
static_assert(!std::is_copy_constructible_v<mps::FinalizationMessage>);
static_assert(std::is_nothrow_move_constructible_v<mps::Message>);
static_assert(std::is_nothrow_move_assignable_v<mps::GCMessage>);
static_assert(mps::FinalizationMessage::kType == mps::MessageType::finalization);
static_assert(mps_message_type_t(mps::MessageType::gcStart) == mps_message_type_gc_start());
// A typed message is got only by its own type.
template <class M>
concept GettableAs = requires(mps::Arena& a, M& m) {
  a.getMessage(m, mps::MessageType::gc);
};
static_assert(GettableAs<mps::Message>);
static_assert(!GettableAs<mps::FinalizationMessage>);
static_assert(!GettableAs<mps::GCMessage>);

std::set<mps_word_t> walkIds(mps::Arena& arena) {
  std::set<mps_word_t> ids;
  arena.walkFormattedObjects([&](void* object) {
    if (tagOf(object) == kNode) ids.insert(static_cast<Node*>(object)->id());
  });
  return ids;
}

class CppAwl : public ::testing::Test {
 protected:
  void SetUp() override {
    mps::Arena::VMOptions options;
    options.reserve = 64 * MiB;
    ASSERT_TRUE(mps::Arena::createVM(arena, options));
    ASSERT_TRUE(mps::Format::create<NodeFormat>(format, arena));
    const mps::Generation gens[] = {{std::size_t(1) << 20, 0.5}};  // 1 GiB: never due
    ASSERT_TRUE(mps::Chain::create(chain, arena, gens));
    ASSERT_TRUE(mps::AWLPool::create(pool, arena, format, {.chain = &chain}));
    ASSERT_TRUE(mps::AllocationPoint::create(exact, pool));
    ASSERT_TRUE(mps::AllocationPoint::create(weak, pool, mps::Rank::weak));
    ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  }

  Node* make(mps::AllocationPoint& ap, mps_word_t id, std::size_t refs) {
    Node* n = nullptr;
    mps::Result r = ap.allocate(n, Node::sizeFor(refs), [&](Node* p) { Node::init(p, id, refs); });
    EXPECT_TRUE(r) << r.name();
    return n;
  }

  Node* table[4] = {};  // before the root that scans it
  mps::Arena arena;
  mps::Format format;
  mps::Chain chain;
  mps::AWLPool pool;
  mps::AllocationPoint exact, weak;
  mps::Root root;
};

// Allocates in a frame of its own so that no stale stack word keeps what
// the test expects to die (the tests register no thread, so the stack is
// not scanned anyway).
TEST_F(CppAwl, WeakReferenceSplattedOnlyWhenItsObjectDies) {
  Node* holder = make(weak, 1, 2);
  table[0] = holder;
  table[1] = make(exact, 2, 0);
  holder->ref(0) = table[1];
  holder->ref(1) = make(exact, 3, 0);  // only weakly held
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(holder->ref(0), table[1]);  // AWL does not move
  EXPECT_EQ(holder->ref(1), nullptr);
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{1, 2}));
  // An exact node refers strongly: its referent survives.
  Node* strong = make(exact, 4, 1);
  strong->ref(0) = make(exact, 5, 0);
  table[2] = strong;
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{1, 2, 4, 5}));
  arena.release();
}

TEST(CppAwlTable, ScanDeletesTheValueOfASplattedKeyInTheDependentObject) {
  constexpr std::size_t kEntries = 8;
  Node* table[2] = {};
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::Format nodes, tables;
  ASSERT_TRUE(mps::Format::create<NodeFormat>(nodes, arena));
  ASSERT_TRUE(mps::Format::create<WeakTableFormat>(tables, arena));
  mps::AMSPool objects;  // the keys and values themselves
  ASSERT_TRUE(mps::AMSPool::create(objects, arena, nodes));
  mps::AWLPool awl;
  ASSERT_TRUE(
      mps::AWLPool::create(awl, arena, tables, {.findDependent = WeakTableFormat::findDependent}));
  mps::AllocationPoint objectAp, keysAp, valuesAp;
  ASSERT_TRUE(mps::AllocationPoint::create(objectAp, objects));
  ASSERT_TRUE(mps::AllocationPoint::create(keysAp, awl, mps::Rank::weak));
  ASSERT_TRUE(mps::AllocationPoint::create(valuesAp, awl, mps::Rank::exact));
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));

  auto make = [](mps::AllocationPoint& ap, mps_word_t id, std::size_t refs) {
    Node* n = nullptr;
    EXPECT_TRUE(ap.allocate(n, Node::sizeFor(refs), [&](Node* p) { Node::init(p, id, refs); }));
    return n;
  };
  Node* keys = make(keysAp, 1, kEntries + 1);
  Node* values = make(valuesAp, 2, kEntries + 1);
  keys->ref(0) = values;
  values->ref(0) = keys;
  WeakTableFormat::keysObject = keys;
  WeakTableFormat::dependentCalls = WeakTableFormat::splats = 0;
  table[0] = values;  // keeps both: values -> keys
  // Keys 100.., values 200..; keys 100, 102, 104, 106 also held strongly.
  Node* held = make(objectAp, 3, kEntries);
  table[1] = held;
  for (std::size_t i = 1; i <= kEntries; ++i) {
    keys->ref(i) = make(objectAp, 100 + i - 1, 0);
    values->ref(i) = make(objectAp, 200 + i - 1, 0);
    if (i % 2 == 1) held->ref(i - 1) = keys->ref(i);
  }
  ASSERT_TRUE(arena.collect());
  EXPECT_GT(WeakTableFormat::dependentCalls, 0);
  EXPECT_EQ(WeakTableFormat::splats, int(kEntries / 2));
  for (std::size_t i = 1; i <= kEntries; ++i) {
    if (i % 2 == 1) {
      ASSERT_NE(keys->ref(i), nullptr) << i;
      EXPECT_EQ(keys->ref(i)->id(), 100 + i - 1);
      ASSERT_NE(values->ref(i), nullptr) << i;
      EXPECT_EQ(values->ref(i)->id(), 200 + i - 1);
    } else {
      EXPECT_EQ(keys->ref(i), nullptr) << i;
      EXPECT_EQ(values->ref(i), nullptr) << i;
    }
  }
  // The deleted values were marked by the collection that deleted them; the
  // next one reclaims them.
  ASSERT_TRUE(arena.collect());
  std::set<mps_word_t> ids = walkIds(arena);
  for (mps_word_t k = 0; k < kEntries; ++k) {
    EXPECT_EQ(ids.count(100 + k), k % 2 == 0 ? 1u : 0u) << k;
    EXPECT_EQ(ids.count(200 + k), k % 2 == 0 ? 1u : 0u) << k;
  }
  WeakTableFormat::keysObject = nullptr;
  arena.release();
}

// Finalization ----------------------------------------------------------------------------

TEST_F(CppAwl, FinalizationMessageNamesTheObjectAndHoldsIt) {
  arena.enableMessages(mps::MessageType::finalization);
  Node* holder = make(weak, 1, 1);
  table[0] = holder;
  Node* object = make(exact, 7, 0);
  holder->ref(0) = object;
  ASSERT_TRUE(arena.finalize(object));
  object = nullptr;
  EXPECT_FALSE(arena.hasMessage());
  ASSERT_TRUE(arena.collect());

  mps::MessageType type;
  ASSERT_TRUE(arena.nextMessageType(type));
  EXPECT_EQ(type, mps::MessageType::finalization);
  mps::FinalizationMessage message;
  EXPECT_FALSE(message);
  ASSERT_TRUE(arena.getMessage(message));
  EXPECT_TRUE(message);
  EXPECT_EQ(message.type(), mps::MessageType::finalization);
  EXPECT_EQ(message.clock(), 0u);
  Node* finalized = message.ref<Node>();
  ASSERT_NE(finalized, nullptr);
  EXPECT_EQ(finalized->id(), 7u);
  // Not splatted: the weak reference still designates it.
  EXPECT_EQ(holder->ref(0), finalized);
  EXPECT_FALSE(arena.getMessage(message));  // one registration, one message
  EXPECT_TRUE(message);                     // left alone

  // The message holds it across collections.
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(message.ref<Node>(), finalized);
  EXPECT_EQ(walkIds(arena).count(7), 1u);
  // Discarded (moved away, then reset): it dies, the weak reference goes.
  mps::FinalizationMessage other(std::move(message));
  EXPECT_FALSE(message);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  other.reset();
  EXPECT_FALSE(other);
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(holder->ref(0), nullptr);
  EXPECT_EQ(walkIds(arena).count(7), 0u);
  EXPECT_FALSE(arena.hasMessage());
  arena.release();
}

TEST_F(CppAwl, DefinalizeRemovesOneRegistration) {
  arena.enableMessages(mps::MessageType::finalization);
  Node* object = make(exact, 8, 0);
  table[0] = object;
  ASSERT_TRUE(arena.finalize(object));
  ASSERT_TRUE(arena.finalize(object));
  ASSERT_TRUE(arena.definalize(object));
  table[0] = nullptr;
  object = nullptr;
  ASSERT_TRUE(arena.collect());
  // Two registrations, one removed: one message.
  mps::FinalizationMessage first, second;
  ASSERT_TRUE(arena.getMessage(first));
  EXPECT_EQ(first.ref<Node>()->id(), 8u);
  EXPECT_FALSE(arena.getMessage(second));

  // Registered and definalized: never finalized; it just dies.
  Node* quiet = make(exact, 9, 0);
  ASSERT_TRUE(arena.finalize(quiet));
  ASSERT_TRUE(arena.definalize(quiet));
  quiet = nullptr;
  first.reset();
  ASSERT_TRUE(arena.collect());
  EXPECT_FALSE(arena.hasMessage());
  EXPECT_EQ(walkIds(arena).count(8), 0u);
  EXPECT_EQ(walkIds(arena).count(9), 0u);
  arena.release();
}

TEST_F(CppAwl, DefinalizeWithoutARegistrationFails) {
  Node* object = make(exact, 10, 0);
  table[0] = object;
#if MPS_CHECKED
  EXPECT_DEATH((void)arena.definalize(object),
               mps::test::assertionReportContaining("registered for finalization"));
#else
  EXPECT_EQ(arena.definalize(object), mps::Result::fail);
#endif
}

TEST_F(CppAwl, ResurrectedObjectIsFinalizedAgainWhenRegisteredAgain) {
  arena.enableMessages(mps::MessageType::finalization);
  Node* object = make(exact, 11, 0);
  ASSERT_TRUE(arena.finalize(object));
  object = nullptr;
  ASSERT_TRUE(arena.collect());
  {
    mps::FinalizationMessage message;
    ASSERT_TRUE(arena.getMessage(message));
    table[0] = message.ref<Node>();  // resurrected: a root holds it
    ASSERT_TRUE(arena.finalize(table[0]));
  }
  ASSERT_TRUE(arena.collect());
  EXPECT_FALSE(arena.hasMessage());  // reachable: not finalized
  EXPECT_EQ(walkIds(arena).count(11), 1u);
  table[0] = nullptr;
  ASSERT_TRUE(arena.collect());
  mps::FinalizationMessage again;
  ASSERT_TRUE(arena.getMessage(again));
  EXPECT_EQ(again.ref<Node>()->id(), 11u);
  arena.release();
}

TEST(CppFinalization, MovedObjectIsNamedAtItsNewAddress) {
  Node* table[1] = {};
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::Format format;
  ASSERT_TRUE(mps::Format::create<NodeFormat>(format, arena));
  mps::AMCPool pool;
  ASSERT_TRUE(mps::AMCPool::create(pool, arena, format));
  mps::AllocationPoint ap;
  ASSERT_TRUE(mps::AllocationPoint::create(ap, pool));
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  arena.enableMessages(mps::MessageType::finalization);

  Node* n = nullptr;
  ASSERT_TRUE(ap.allocate(n, Node::sizeFor(1), [](Node* p) { Node::init(p, 20, 1); }));
  table[0] = n;
  ASSERT_TRUE(ap.allocate(n, Node::sizeFor(0), [](Node* p) { Node::init(p, 21, 0); }));
  table[0]->ref(0) = n;  // 20 -> 21
  ASSERT_TRUE(arena.finalize(table[0]));
  const void* before = table[0];
  ASSERT_TRUE(arena.collect());  // 20 is reachable: moved, not finalized
  EXPECT_NE(static_cast<const void*>(table[0]), before);
  EXPECT_FALSE(arena.hasMessage());
  before = table[0];
  table[0] = nullptr;
  n = nullptr;
  ASSERT_TRUE(arena.collect());
  mps::FinalizationMessage message;
  ASSERT_TRUE(arena.getMessage(message));
  Node* finalized = message.ref<Node>();
  EXPECT_NE(static_cast<const void*>(finalized), before);  // moved again
  EXPECT_EQ(finalized->id(), 20u);
  ASSERT_NE(finalized->ref(0), nullptr);  // what it refers to survived too
  EXPECT_EQ(finalized->ref(0)->id(), 21u);
  message.reset();
  arena.release();
}

// GC messages ------------------------------------------------------------------------------

TEST_F(CppAwl, TypedGCMessages) {
  arena.enableMessages(mps::MessageType::gcStart);
  arena.enableMessages(mps::MessageType::gc);
  table[0] = make(exact, 1, 0);
  ASSERT_TRUE(arena.collect());
  ASSERT_TRUE(arena.hasMessage());
  mps::MessageType type;
  ASSERT_TRUE(arena.nextMessageType(type));
  EXPECT_EQ(type, mps::MessageType::gcStart);
  mps::GCStartMessage start;
  ASSERT_TRUE(arena.getMessage(start));
  ASSERT_NE(start.why(), nullptr);
  EXPECT_GT(std::string(start.why()).size(), 0u);
  mps::GCMessage end;
  ASSERT_TRUE(arena.getMessage(end));
  EXPECT_EQ(end.type(), mps::MessageType::gc);
  EXPECT_GE(end.clock(), start.clock());
  EXPECT_GE(end.liveSize(), Node::sizeFor(0));
  EXPECT_GE(end.condemnedSize(), end.liveSize());
  (void)end.notCondemnedSize();
  EXPECT_FALSE(arena.hasMessage());

  // The generic form, and disabling discards what is queued.
  ASSERT_TRUE(arena.collect());
  mps::Message any;
  ASSERT_TRUE(arena.getMessage(any, mps::MessageType::gc));
  EXPECT_EQ(any.type(), mps::MessageType::gc);
  EXPECT_TRUE(arena.hasMessage());  // the GC start message
  arena.disableMessages(mps::MessageType::gcStart);
  EXPECT_FALSE(arena.hasMessage());
  EXPECT_FALSE(arena.nextMessageType(type));
  arena.release();
}

}  // namespace
