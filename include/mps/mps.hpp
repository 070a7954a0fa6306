// MPS++ C++ interface: RAII ownership over the same core as the C interface.
//
//   mps::Arena arena;
//   if (mps::Result r = mps::Arena::createVM(arena); !r) ...;
//   mps::VariablePool pool;
//   mps::VariablePool::create(pool, arena);
//   void* p;
//   if (pool.alloc(p, 100)) ... pool.free(p, 100);
//
// Errors are results (mps::Result), never exceptions, so the allocation paths
// stay as cheap as the C ones: every call here is an inline call to the C entry
// point, and the cache and allocation-point fast paths are inline too. Objects
// own their handle, move but do not copy, and destroy it in the destructor;
// destroy them in the reverse order of creation (caches and allocation points,
// then pools, then formats and chains, then the arena; roots before the thread
// they scan), as the C interface requires: declaring them in creation order
// gets that from C++. handle() gives the C handle for mixing both interfaces.
//
// The garbage collector (manual/reference/cpp.md):
//
//   mps::Format fmt;     mps::Format::create<MyFormat>(fmt, arena);
//   mps::Chain chain;    mps::Chain::create(chain, arena, generations);
//   mps::AMSPool pool;   mps::AMSPool::create(pool, arena, fmt, {&chain});
//   mps::AllocationPoint ap;  mps::AllocationPoint::create(ap, pool);
//   mps::Thread thread;  mps::Thread::create(thread, arena);
//   mps::ThreadRoot stack;  mps::ThreadRoot::create(stack, arena, thread);
//   Node* n;
//   ap.allocate(n, size, [&](Node* p) { /* initialise *p completely */ });
//
// Weak references and finalization: an AWLPool with allocation points of
// Rank::weak, arena.finalize(object), and FinalizationMessage from
// arena.getMessage() (manual/guide/weak-references-and-finalization.md).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

#ifdef __linux__
#include <pthread.h>
#endif

#include "mps.h"
#include "mpsacl.h"
#include "mpsavm.h"
#include "mpscamc.h"
#include "mpscams.h"
#include "mpscawl.h"
#include "mpsclo.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpscmvt.h"
#include "mpscsnc.h"
#include "mpstd.h"

namespace mps {

// The outcome of an operation. Converts to true on success.
class Result {
 public:
  enum Code : int {
    ok = MPS_RES_OK,
    fail = MPS_RES_FAIL,
    resource = MPS_RES_RESOURCE,
    memory = MPS_RES_MEMORY,
    limit = MPS_RES_LIMIT,
    unimpl = MPS_RES_UNIMPL,
    io = MPS_RES_IO,
    commitLimit = MPS_RES_COMMIT_LIMIT,
    param = MPS_RES_PARAM,
  };
  constexpr Result(mps_res_t code = MPS_RES_OK) : code_(Code(code)) {}
  constexpr explicit operator bool() const { return code_ == ok; }
  constexpr Code code() const { return code_; }
  constexpr bool operator==(Code c) const { return code_ == c; }
  // A short name: "ok", "commit limit", ...
  const char* name() const;

 private:
  Code code_;
};

inline const char* Result::name() const {
  switch (code_) {
    case ok:
      return "ok";
    case fail:
      return "failure";
    case resource:
      return "resource";
    case memory:
      return "memory";
    case limit:
      return "limit";
    case unimpl:
      return "unimplemented";
    case io:
      return "i/o";
    case commitLimit:
      return "commit limit";
    case param:
      return "parameter";
  }
  return "unknown";
}

namespace detail {

// A keyword argument list built in place; add() keeps it terminated.
class ArgList {
 public:
  ArgList() { args_[0].key = MPS_KEY_ARGS_END; }
  ArgList& size(mps_key_t key, std::size_t v) { return next(key).val.size = v, *this; }
  ArgList& real(mps_key_t key, double v) { return next(key).val.d = v, *this; }
  ArgList& boolean(mps_key_t key, bool v) { return next(key).val.b = v, *this; }
  ArgList& addr(mps_key_t key, void* v) { return next(key).val.addr = v, *this; }
  // Any other value: the caller sets the returned argument's val member.
  mps_arg_s& add(mps_key_t key) { return next(key); }
  operator mps_arg_s*() { return args_; }

 private:
  mps_arg_s& next(mps_key_t key) {
    mps_arg_s& arg = args_[count_];
    arg.key = key;
    args_[++count_].key = MPS_KEY_ARGS_END;
    return arg;
  }

  mps_arg_s args_[16];
  int count_ = 0;
};

// Owns a C handle of type H, destroyed by D.
template <class H, void (*Destroy)(H)>
class Owner {
 public:
  Owner() = default;
  Owner(Owner&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Owner& operator=(Owner&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Owner() { reset(); }
  Owner(const Owner&) = delete;
  Owner& operator=(const Owner&) = delete;

  H handle() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }
  // Destroys the object now (also done by the destructor).
  void reset() {
    if (handle_ != nullptr) Destroy(std::exchange(handle_, nullptr));
  }

 protected:
  H handle_ = nullptr;
};

}  // namespace detail

struct VMArenaOptions {
  std::size_t reserve = std::size_t(1) << 28;  // initial address space
  std::size_t commitLimit = SIZE_MAX;
  double spare = 0.75;        // fraction of committed memory kept for reuse
  std::size_t grainSize = 0;  // 0: the page size
  unsigned gcWorkers = 0;     // threads marking in parallel; 0: the default
};

struct ClientArenaOptions {
  std::size_t commitLimit = SIZE_MAX;
  std::size_t grainSize = 0;  // 0: the default (8 KiB)
  unsigned gcWorkers = 0;     // threads marking in parallel; 0: the default
};

// Messages (messages.md) -----------------------------------------------------------

// The types of message an arena posts. None is posted until enabled.
enum class MessageType : mps_message_type_t {
  finalization = mps_message_type_finalization(),
  gc = mps_message_type_gc(),
  gcStart = mps_message_type_gc_start(),
};

// A message got from an arena's queue (Arena::getMessage), owned: the
// destructor (or reset()) discards it. Movable, not copyable. Destroy it
// before the arena, and a finalization message before the pool of its
// object.
class Message {
 public:
  Message() = default;
  Message(Message&& other) noexcept
      : arena_(std::exchange(other.arena_, nullptr)),
        message_(std::exchange(other.message_, nullptr)) {}
  Message& operator=(Message&& other) noexcept {
    if (this != &other) {
      reset();
      arena_ = std::exchange(other.arena_, nullptr);
      message_ = std::exchange(other.message_, nullptr);
    }
    return *this;
  }
  ~Message() { reset(); }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  mps_message_t handle() const { return message_; }
  mps_arena_t arena() const { return arena_; }
  explicit operator bool() const { return message_ != nullptr; }
  // Discards the message now (also done by the destructor).
  void reset() {
    if (message_ != nullptr) mps_message_discard(arena_, std::exchange(message_, nullptr));
    arena_ = nullptr;
  }

  MessageType type() const { return MessageType(mps_message_type(arena_, message_)); }
  // mps_clock() when a GC or GC-start message was posted; 0 for the others.
  mps_clock_t clock() const { return mps_message_clock(arena_, message_); }

 private:
  friend class Arena;
  mps_arena_t arena_ = nullptr;
  mps_message_t message_ = nullptr;
};

// A finalization message (finalization.md): an object registered with
// Arena::finalize was found dead. While the message exists the object
// stays alive (and is followed if it moves); once it is discarded the
// object dies at a later collection unless the client kept a reference.
class FinalizationMessage : public Message {
 public:
  static constexpr MessageType kType = MessageType::finalization;
  // The object's current address (mps_message_finalization_ref). Keep it
  // where the collector sees it (a root, the registered stack) to use it
  // after the next call into the arena.
  template <class T = void>
  T* ref() const {
    mps_addr_t p;
    mps_message_finalization_ref(&p, arena(), handle());
    return static_cast<T*>(p);
  }
};

// A collection ended (mps_message_type_gc).
class GCMessage : public Message {
 public:
  static constexpr MessageType kType = MessageType::gc;
  std::size_t liveSize() const { return mps_message_gc_live_size(arena(), handle()); }
  std::size_t condemnedSize() const { return mps_message_gc_condemned_size(arena(), handle()); }
  std::size_t notCondemnedSize() const {
    return mps_message_gc_not_condemned_size(arena(), handle());
  }
  // The collection's pauses of the mutators (mps_message_gc_pauses): how
  // many, their total and the longest, in seconds. One per collection
  // while collections stop the world.
  std::size_t pauseCount() const {
    std::size_t n = 0;
    mps_message_gc_pauses(arena(), handle(), &n, nullptr, nullptr);
    return n;
  }
  double pauseTotal() const {
    double s = 0;
    mps_message_gc_pauses(arena(), handle(), nullptr, &s, nullptr);
    return s;
  }
  double pauseMax() const {
    double s = 0;
    mps_message_gc_pauses(arena(), handle(), nullptr, nullptr, &s);
    return s;
  }
};

// A collection started (mps_message_type_gc_start).
class GCStartMessage : public Message {
 public:
  static constexpr MessageType kType = MessageType::gcStart;
  // Why, in English; valid while the message is.
  const char* why() const { return mps_message_gc_start_why(arena(), handle()); }
};

class Arena : public detail::Owner<mps_arena_t, mps_arena_destroy> {
 public:
  using VMOptions = VMArenaOptions;
  using ClientOptions = ClientArenaOptions;

  // An arena on reserved virtual memory.
  static Result createVM(Arena& out, const VMOptions& options = VMOptions()) {
    out.reset();
    detail::ArgList args;
    args.size(MPS_KEY_ARENA_SIZE, options.reserve);
    args.size(MPS_KEY_COMMIT_LIMIT, options.commitLimit);
    args.real(MPS_KEY_SPARE, options.spare);
    if (options.grainSize != 0) args.size(MPS_KEY_ARENA_GRAIN_SIZE, options.grainSize);
    if (options.gcWorkers != 0) args.add(MPS_KEY_ARENA_GC_WORKERS).val.u = options.gcWorkers;
    return out.adopt(mps_arena_create_k(&out.handle_, mps_arena_class_vm(), args));
  }

  // An arena entirely inside [base, base+size), which the client keeps alive.
  static Result createClient(Arena& out, void* base, std::size_t size,
                             const ClientOptions& options = ClientOptions()) {
    out.reset();
    detail::ArgList args;
    args.addr(MPS_KEY_ARENA_CL_BASE, base);
    args.size(MPS_KEY_ARENA_SIZE, size);
    args.size(MPS_KEY_COMMIT_LIMIT, options.commitLimit);
    if (options.grainSize != 0) args.size(MPS_KEY_ARENA_GRAIN_SIZE, options.grainSize);
    if (options.gcWorkers != 0) args.add(MPS_KEY_ARENA_GC_WORKERS).val.u = options.gcWorkers;
    return out.adopt(mps_arena_create_k(&out.handle_, mps_arena_class_cl(), args));
  }

  // Adds another block to a client arena.
  Result extend(void* base, std::size_t size) { return mps_arena_extend(handle_, base, size); }

  std::size_t reserved() const { return mps_arena_reserved(handle_); }
  std::size_t committed() const { return mps_arena_committed(handle_); }
  std::size_t spareCommitted() const { return mps_arena_spare_committed(handle_); }
  std::size_t commitLimit() const { return mps_arena_commit_limit(handle_); }
  Result setCommitLimit(std::size_t limit) { return mps_arena_commit_limit_set(handle_, limit); }
  double spare() const { return mps_arena_spare(handle_); }
  void setSpare(double fraction) { mps_arena_spare_set(handle_, fraction); }
  bool hasAddr(const void* p) const { return mps_arena_has_addr(handle_, const_cast<void*>(p)); }

  // Collection control. collect() leaves the arena parked: release() lets
  // the collector start collections again when allocation asks for them.
  Result collect() { return mps_arena_collect(handle_); }
  Result startCollect() { return mps_arena_start_collect(handle_); }
  void park() { mps_arena_park(handle_); }
  void clamp() { mps_arena_clamp(handle_); }
  void release() { mps_arena_release(handle_); }
  // Idle time: does some collection work; true if a collection ran.
  bool step(double interval, double multiplier = 1.0) {
    return mps_arena_step(handle_, interval, multiplier) != 0;
  }
  bool busy() const { return mps_arena_busy(handle_) != 0; }
  // Completed collections since the arena was created.
  mps_word_t collections() const { return mps_collections(handle_); }
  // Every pause of the mutators since creation (mps_arena_pauses; abandoned
  // collections' too): how many, their total and the longest, in seconds.
  std::size_t pauseCount() const {
    std::size_t n = 0;
    mps_arena_pauses(handle_, &n, nullptr, nullptr);
    return n;
  }
  double pauseTotal() const {
    double s = 0;
    mps_arena_pauses(handle_, nullptr, &s, nullptr);
    return s;
  }
  double pauseMax() const {
    double s = 0;
    mps_arena_pauses(handle_, nullptr, nullptr, &s);
    return s;
  }
  // The number of threads that mark in parallel (an MPS++ extension).
  void setGcWorkers(unsigned n) { mps_arena_gc_workers_set(handle_, n); }
  // The pause-time target in seconds (not negative; kept, bounds nothing
  // yet: collections are atomic).
  double pauseTime() const { return mps_arena_pause_time(handle_); }
  void setPauseTime(double seconds) { mps_arena_pause_time_set(handle_, seconds); }
  // For a debugger of a crashed program only (mps_arena_postmortem): no
  // collection work ever again, no memory protection.
  void postmortem() { mps_arena_postmortem(handle_); }

  // The base of the object holding p, for pools that can tell (AMC, AMCZ):
  // Result::fail if no object holds it, Result::unimpl for other pools.
  Result objectContaining(const void* p, void*& base) const {
    mps_addr_t b;
    mps_res_t res = mps_addr_object(&b, handle_, const_cast<void*>(p));
    if (res == MPS_RES_OK) base = b;
    return res;
  }

  // Calls f(location, root) for each reference held by a root that
  // designates an object of an automatic pool (mps_arena_roots_walk);
  // `location` is a void** where the reference is stored (or a copy of
  // it, for a tagged word or a saved register). The arena must be parked;
  // f must not call the library.
  template <class F>
  void walkRoots(F&& f) {
    using Fn = std::remove_reference_t<F>;
    static_assert(std::is_invocable_v<Fn&, void**, mps_root_t>, "f(void** location, mps_root_t)");
    mps_arena_roots_walk(
        handle_,
        [](mps_addr_t* location, mps_root_t root, void* closure, std::size_t) {
          (*static_cast<Fn*>(closure))(location, root);
        },
        const_cast<void*>(static_cast<const void*>(std::addressof(f))), 0);
  }

  // Calls f(object) or f(object, format, pool) for every object in the
  // arena's formatted pools (mps_arena_formatted_objects_walk). Park the
  // arena first; f must not allocate or call back into the arena.
  template <class F>
  void walkFormattedObjects(F&& f) {
    using Fn = std::remove_reference_t<F>;
    static_assert(
        std::is_invocable_v<Fn&, void*> || std::is_invocable_v<Fn&, void*, mps_fmt_t, mps_pool_t>,
        "f(void* object) or f(void* object, mps_fmt_t, mps_pool_t)");
    mps_arena_formatted_objects_walk(
        handle_,
        [](mps_addr_t object, mps_fmt_t format, mps_pool_t pool, void* closure, std::size_t) {
          Fn& fn = *static_cast<Fn*>(closure);
          if constexpr (std::is_invocable_v<Fn&, void*, mps_fmt_t, mps_pool_t>)
            fn(object, format, pool);
          else
            fn(object);
        },
        const_cast<void*>(static_cast<const void*>(std::addressof(f))), 0);
  }

  // Finalization (finalization.md). finalize registers the object once
  // more: each registration yields one FinalizationMessage when the object
  // is found dead (with MessageType::finalization enabled). definalize
  // removes one registration: Result::fail if there is none (checked
  // builds assert). `object` is the client address of an object of an
  // automatic pool of this arena, held where the collector sees it.
  template <class T>
  Result finalize(T* object) {
    mps_addr_t ref = const_cast<void*>(static_cast<const void*>(object));
    return mps_finalize(handle_, &ref);
  }
  template <class T>
  Result definalize(T* object) {
    mps_addr_t ref = const_cast<void*>(static_cast<const void*>(object));
    return mps_definalize(handle_, &ref);
  }

  // Messages (messages.md).
  void enableMessages(MessageType type) {
    mps_message_type_enable(handle_, mps_message_type_t(type));
  }
  // Also discards the queued messages of that type.
  void disableMessages(MessageType type) {
    mps_message_type_disable(handle_, mps_message_type_t(type));
  }
  // Whether a message of any type is queued (mps_message_poll).
  bool hasMessage() const { return mps_message_poll(handle_) != 0; }
  // The type of the oldest queued message; false if there is none.
  bool nextMessageType(MessageType& type) const {
    mps_message_type_t t;
    if (!mps_message_queue_type(&t, handle_)) return false;
    type = MessageType(t);
    return true;
  }
  // Takes the oldest message of M's type (FinalizationMessage, GCMessage,
  // GCStartMessage) into `out`, discarding what `out` held; false if none
  // is queued (`out` is then left alone).
  template <class M>
  requires std::derived_from<M, Message> && requires { M::kType; }
  bool getMessage(M& out) { return getMessage(static_cast<Message&>(out), M::kType); }
  // A typed message takes only its own type: use getMessage(out) above.
  template <class M>
  requires std::derived_from<M, Message> &&
      (!std::same_as<M, Message>)bool getMessage(M& out, MessageType type) = delete;
  // Takes the oldest message of `type`.
  bool getMessage(Message& out, MessageType type) {
    mps_message_t m;
    if (!mps_message_get(&m, handle_, mps_message_type_t(type))) return false;
    out.reset();
    out.arena_ = handle_;
    out.message_ = m;
    return true;
  }

 private:
  Result adopt(mps_res_t res) {
    if (res != MPS_RES_OK) handle_ = nullptr;
    return res;
  }
};

// A transform (mps_transform_*): replaces every reference to an old object
// by one to its new object, in the roots and the automatic pools' objects.
// Create it with the arena parked, add the pairs, apply it before the arena
// collects again.
class Transform : public detail::Owner<mps_transform_t, mps_transform_destroy> {
 public:
  static Result create(Transform& out, Arena& arena) {
    out.reset();
    mps_res_t res = mps_transform_create(&out.handle_, arena.handle());
    if (res != MPS_RES_OK) out.handle_ = nullptr;
    return res;
  }
  // Adds count pairs olds[i] -> news[i], all or none. Each old reference
  // is the address of an object of an automatic pool, added once.
  Result add(void* const* olds, void* const* news, std::size_t count) {
    return mps_transform_add_oldnew(handle_, const_cast<mps_addr_t*>(olds),
                                    const_cast<mps_addr_t*>(news), count);
  }
  Result add(void* oldObject, void* newObject) { return add(&oldObject, &newObject, 1); }
  // Result::limit if the arena is not parked, Result::param if it has
  // collected since the transform was created. Otherwise ok, and `applied`
  // says whether the references were replaced (false: an ambiguous
  // reference, such as one on a thread's stack, designates an old object,
  // and nothing changed; the transform may be applied again later).
  Result apply(bool& applied) {
    mps_bool_t b = 0;
    mps_res_t res = mps_transform_apply(&b, handle_);
    if (res == MPS_RES_OK) applied = b != 0;
    return res;
  }
};

// What every pool offers.
class Pool : public detail::Owner<mps_pool_t, mps_pool_destroy> {
 public:
  std::size_t totalSize() const { return mps_pool_total_size(handle_); }
  std::size_t freeSize() const { return mps_pool_free_size(handle_); }
  // A debugging pool's checks (debugging.md); nothing on other pools.
  void checkFenceposts() const { mps_pool_check_fenceposts(handle_); }
  void checkFreeSpace() const { mps_pool_check_free_space(handle_); }

 protected:
  // The debugging class's options, if asked for (null: the defaults).
  static void addDebugArgs(detail::ArgList& args, bool debug,
                           const mps_pool_debug_option_s* options) {
    if (debug && options != nullptr)
      args.add(MPS_KEY_POOL_DEBUG_OPTIONS).val.pool_debug_options =
          const_cast<mps_pool_debug_option_s*>(options);
  }
  Result adopt(mps_res_t res) {
    if (res != MPS_RES_OK) handle_ = nullptr;
    return res;
  }
};

// Fixed-size blocks (MFS). For the fastest path, put an AllocationCache with
// one class of the unit size in front of it.
class FixedPool : public Pool {
 public:
  static Result create(FixedPool& out, Arena& arena, std::size_t unitSize,
                       std::size_t extendBy = 65536) {
    out.reset();
    detail::ArgList args;
    args.size(MPS_KEY_MFS_UNIT_SIZE, unitSize);
    args.size(MPS_KEY_EXTEND_BY, extendBy);
    out.unitSize_ = unitSize;
    return out.adopt(mps_pool_create_k(&out.handle_, arena.handle(), mps_class_mfs(), args));
  }
  Result alloc(void*& p) { return mps_alloc(&p, handle_, unitSize_); }
  void free(void* p) { mps_free(handle_, p, unitSize_); }
  std::size_t unitSize() const { return unitSize_; }

 private:
  std::size_t unitSize_ = 0;
};

// Options of a VariablePool (pools-mvff.md).
struct VariablePoolOptions {
  std::size_t extendBy = 65536;
  std::size_t meanSize = 32;
  std::size_t align = MPS_PF_ALIGN;
  double spare = 0.75;
  bool arenaHigh = false;
  bool slotHigh = false;
  bool firstFit = true;
  // The debugging class (mps_class_mvff_debug): fenceposts and free-space
  // checks, with these options (null: the defaults, "POST" and "FREE").
  bool debug = false;
  const mps_pool_debug_option_s* debugOptions = nullptr;
};

// Variable-size blocks, first fit (MVFF).
class VariablePool : public Pool {
 public:
  using Options = VariablePoolOptions;
  static Result create(VariablePool& out, Arena& arena, const Options& o = Options()) {
    out.reset();
    detail::ArgList args;
    args.size(MPS_KEY_EXTEND_BY, o.extendBy);
    args.size(MPS_KEY_MEAN_SIZE, o.meanSize);
    args.size(MPS_KEY_ALIGN, o.align);
    args.real(MPS_KEY_SPARE, o.spare);
    args.boolean(MPS_KEY_MVFF_ARENA_HIGH, o.arenaHigh);
    args.boolean(MPS_KEY_MVFF_SLOT_HIGH, o.slotHigh);
    args.boolean(MPS_KEY_MVFF_FIRST_FIT, o.firstFit);
    addDebugArgs(args, o.debug, o.debugOptions);
    return out.adopt(mps_pool_create_k(&out.handle_, arena.handle(),
                                       o.debug ? mps_class_mvff_debug() : mps_class_mvff(), args));
  }
  Result alloc(void*& p, std::size_t size) { return mps_alloc(&p, handle_, size); }
  void free(void* p, std::size_t size) { mps_free(handle_, p, size); }
};

// Options of a TemporalPool (pools-mvt-snc.md).
struct TemporalPoolOptions {
  std::size_t align = MPS_PF_ALIGN;
  std::size_t minSize = MPS_PF_ALIGN;
  std::size_t meanSize = 32;
  std::size_t maxSize = 8192;
  mps_word_t reserveDepth = 1024;
  double fragLimit = 0.3;
};

// Variable-size blocks allocated through allocation points and placed by
// lifetime, temporal fit (MVT): allocate with an AllocationPoint on the pool,
// free each block with free().
class TemporalPool : public Pool {
 public:
  using Options = TemporalPoolOptions;
  static Result create(TemporalPool& out, Arena& arena, const Options& o = Options()) {
    out.reset();
    detail::ArgList args;
    args.size(MPS_KEY_ALIGN, o.align);
    args.size(MPS_KEY_MIN_SIZE, o.minSize);
    args.size(MPS_KEY_MEAN_SIZE, o.meanSize);
    args.size(MPS_KEY_MAX_SIZE, o.maxSize);
    args.add(MPS_KEY_MVT_RESERVE_DEPTH).val.count = o.reserveDepth;
    args.real(MPS_KEY_MVT_FRAG_LIMIT, o.fragLimit);
    return out.adopt(mps_pool_create_k(&out.handle_, arena.handle(), mps_class_mvt(), args));
  }
  void free(void* p, std::size_t size) { mps_free(handle_, p, size); }
};

// A size class of an AllocationCache: blocks up to `blockSize` bytes, of which
// up to `cachedCount` are kept, requested with relative `frequency`.
struct SizeClass {
  std::size_t blockSize;
  std::size_t cachedCount;
  unsigned frequency;
};

// A segregated allocation cache in front of a manual pool (SAC). Owned by one
// thread at a time; alloc and free are inline and take no lock unless the
// cache must exchange blocks with the pool.
class AllocationCache : public detail::Owner<mps_sac_t, mps_sac_destroy> {
 public:
  static Result create(AllocationCache& out, Pool& pool, std::span<const SizeClass> classes) {
    static_assert(sizeof(SizeClass) == sizeof(mps_sac_class_s));
    out.reset();
    mps_res_t res =
        mps_sac_create(&out.handle_, pool.handle(), classes.size(),
                       reinterpret_cast<mps_sac_class_s*>(const_cast<SizeClass*>(classes.data())));
    if (res != MPS_RES_OK) out.handle_ = nullptr;
    return res;
  }
  Result alloc(void*& p, std::size_t size) {
    mps_res_t res;
    mps_addr_t block;
    // 0 bytes, like malloc(0), gets a block of the smallest class.
    MPS_SAC_ALLOC_FAST(res, block, handle_, size, 0);
    if (res == MPS_RES_OK) p = block;
    return res;
  }
  void free(void* p, std::size_t size) { MPS_SAC_FREE_FAST(handle_, p, size); }
  // Returns every cached block to the pool.
  void flush() { mps_sac_flush(handle_); }
};

// The garbage collector ------------------------------------------------------------

// The rank of a root or allocation point: how its references are treated.
// Ambiguous references may be any word and pin what they hit; exact ones
// are references or null; weak ones do not keep their target alive.
enum class Rank { ambiguous, exact, weak };

namespace detail {

inline mps_rank_t rankOf(Rank rank) {
  switch (rank) {
    case Rank::ambiguous:
      return mps_rank_ambig();
    case Rank::exact:
      return mps_rank_exact();
    case Rank::weak:
      return mps_rank_weak();
  }
  return mps_rank_exact();
}

// Builds the C format methods from a client type's static member functions.
// Each trampoline is a direct call the compiler inlines.
template <class C>
struct FormatMethods {
  static mps_res_t scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
    if constexpr (std::is_same_v<decltype(C::scan(ss, base, limit)), Result>)
      return C::scan(ss, base, limit).code();
    else
      return C::scan(ss, base, limit);
  }
  static mps_addr_t skip(mps_addr_t p) { return C::skip(p); }
  static void fwd(mps_addr_t old, mps_addr_t to) { C::fwd(old, to); }
  static mps_addr_t isfwd(mps_addr_t p) { return C::isfwd(p); }
  static void pad(mps_addr_t p, std::size_t size) { C::pad(p, size); }
};

}  // namespace detail

// A client type usable with Format::create<C>: it has at least
//   static void* skip(void* object);           // the address just past it
// and any of
//   static mps_res_t scan(mps_ss_t, void* base, void* limit);  // or mps::Result
//   static void fwd(void* old, void* to);
//   static void* isfwd(void* object);          // new address, or null
//   static void pad(void* base, std::size_t size);
//   static constexpr std::size_t alignment = ...;   // default MPS_PF_ALIGN
//   static constexpr std::size_t headerSize = ...;  // default 0
template <class C>
concept FormatClient = requires(mps_addr_t p) {
  { C::skip(p) } -> std::convertible_to<mps_addr_t>;
};

// Options of a Format (format.md); a null method is not passed.
struct FormatOptions {
  std::size_t alignment = MPS_PF_ALIGN;  // MPS_KEY_FMT_ALIGN
  std::size_t headerSize = 0;            // MPS_KEY_FMT_HEADER_SIZE
  mps_fmt_scan_t scan = nullptr;         // MPS_KEY_FMT_SCAN
  mps_fmt_skip_t skip = nullptr;         // MPS_KEY_FMT_SKIP
  mps_fmt_fwd_t fwd = nullptr;           // MPS_KEY_FMT_FWD
  mps_fmt_isfwd_t isfwd = nullptr;       // MPS_KEY_FMT_ISFWD
  mps_fmt_pad_t pad = nullptr;           // MPS_KEY_FMT_PAD
};

// An object format: how the collector finds, sizes and scans the client's
// objects. Destroy it after every pool using it.
class Format : public detail::Owner<mps_fmt_t, mps_fmt_destroy> {
 public:
  using Options = FormatOptions;

  static Result create(Format& out, Arena& arena, const Options& o) {
    out.reset();
    detail::ArgList args;
    args.add(MPS_KEY_FMT_ALIGN).val.align = o.alignment;
    if (o.headerSize != 0) args.size(MPS_KEY_FMT_HEADER_SIZE, o.headerSize);
    if (o.scan != nullptr) args.add(MPS_KEY_FMT_SCAN).val.fmt_scan = o.scan;
    if (o.skip != nullptr) args.add(MPS_KEY_FMT_SKIP).val.fmt_skip = o.skip;
    if (o.fwd != nullptr) args.add(MPS_KEY_FMT_FWD).val.fmt_fwd = o.fwd;
    if (o.isfwd != nullptr) args.add(MPS_KEY_FMT_ISFWD).val.fmt_isfwd = o.isfwd;
    if (o.pad != nullptr) args.add(MPS_KEY_FMT_PAD).val.fmt_pad = o.pad;
    mps_res_t res = mps_fmt_create_k(&out.handle_, arena.handle(), args);
    if (res != MPS_RES_OK) out.handle_ = nullptr;
    return res;
  }

  // The options of a FormatClient type: its static methods and constants.
  template <FormatClient C>
  static Options optionsOf() {
    using M = detail::FormatMethods<C>;
    Options o;
    if constexpr (requires { C::alignment; }) o.alignment = C::alignment;
    if constexpr (requires { C::headerSize; }) o.headerSize = C::headerSize;
    if constexpr (requires(mps_ss_t ss, mps_addr_t p) { C::scan(ss, p, p); }) o.scan = M::scan;
    o.skip = M::skip;
    if constexpr (requires(mps_addr_t p) { C::fwd(p, p); }) o.fwd = M::fwd;
    if constexpr (requires(mps_addr_t p) {
                    { C::isfwd(p) } -> std::convertible_to<mps_addr_t>;
                  })
      o.isfwd = M::isfwd;
    if constexpr (requires(mps_addr_t p, std::size_t n) { C::pad(p, n); }) o.pad = M::pad;
    return o;
  }

  // A format from a FormatClient type: Format::create<NodeFormat>(fmt, arena).
  template <FormatClient C>
  static Result create(Format& out, Arena& arena) {
    return create(out, arena, optionsOf<C>());
  }
};

// One generation of a chain: its capacity in kilobytes (1024 bytes) and the
// fraction of it expected to die in a collection. Has the layout of
// mps_gen_param_s.
struct Generation {
  std::size_t capacityKiB;
  double mortality;
};

// A generation chain (chains.md). Destroy it after every pool using it.
class Chain : public detail::Owner<mps_chain_t, mps_chain_destroy> {
 public:
  static Result create(Chain& out, Arena& arena, std::span<const Generation> generations) {
    static_assert(sizeof(Generation) == sizeof(mps_gen_param_s) &&
                  offsetof(Generation, mortality) == offsetof(mps_gen_param_s, mps_mortality));
    out.reset();
    // The library copies the parameters and does not write them.
    auto* params = reinterpret_cast<mps_gen_param_s*>(const_cast<Generation*>(generations.data()));
    mps_res_t res = mps_chain_create(&out.handle_, arena.handle(), generations.size(), params);
    if (res != MPS_RES_OK) out.handle_ = nullptr;
    return res;
  }
};

// A mutator thread registered with an arena (threads.md): create() registers
// the calling thread, the destructor deregisters it. Its roots must be
// destroyed first: declare the ThreadRoot after the Thread.
class Thread : public detail::Owner<mps_thr_t, mps_thread_dereg> {
 public:
  static Result create(Thread& out, Arena& arena) {
    out.reset();
    mps_res_t res = mps_thread_reg(&out.handle_, arena.handle());
    if (res != MPS_RES_OK) out.handle_ = nullptr;
    return res;
  }
};

// The cold end (highest address, exclusive) of the calling thread's stack,
// or null where the platform does not say. On Linux it is the top of the
// stack mapping (pthread_getattr_np); elsewhere pass an address to
// ThreadRoot::create yourself.
inline void* stackColdEnd() {
#ifdef __linux__
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return nullptr;
  void* low = nullptr;
  std::size_t size = 0;
  int err = pthread_attr_getstack(&attr, &low, &size);
  pthread_attr_destroy(&attr);
  if (err != 0 || low == nullptr) return nullptr;
  return static_cast<char*>(low) + size;
#else
  return nullptr;
#endif
}

// A root (roots.md): memory outside the automatic pools that the collector
// scans for references. The memory must outlive the root. mode is a
// combination of MPS_RM_CONST and MPS_RM_PROT, or 0.
class Root : public detail::Owner<mps_root_t, mps_root_destroy> {
 public:
  // A table of `count` references (mps_root_create_table). T may be void.
  template <class T>
  static Result createTable(Root& out, Arena& arena, Rank rank, T** base, std::size_t count,
                            mps_rm_t mode = 0) {
    out.reset();
    return out.adopt(mps_root_create_table(&out.handle_, arena.handle(), detail::rankOf(rank), mode,
                                           addrs(base), count));
  }
  template <class T, std::size_t N>
  static Result createTable(Root& out, Arena& arena, Rank rank, T* (&table)[N], mps_rm_t mode = 0) {
    return createTable(out, arena, rank, table, N, mode);
  }

  // A table of tagged words: only words whose bits under `mask` are zero are
  // references (mps_root_create_table_masked).
  template <class T>
  static Result createTableMasked(Root& out, Arena& arena, Rank rank, T** base, std::size_t count,
                                  mps_word_t mask, mps_rm_t mode = 0) {
    out.reset();
    return out.adopt(mps_root_create_table_masked(
        &out.handle_, arena.handle(), detail::rankOf(rank), mode, addrs(base), count, mask));
  }

  // The words of [base, limit), scanned by `scan` with `closure`
  // (mps_root_create_area; mps_scan_area scans every word).
  static Result createArea(Root& out, Arena& arena, Rank rank, void* base, void* limit,
                           mps_area_scan_t scan = mps_scan_area, void* closure = nullptr,
                           mps_rm_t mode = 0) {
    out.reset();
    return out.adopt(mps_root_create_area(&out.handle_, arena.handle(), detail::rankOf(rank), mode,
                                          base, limit, scan, closure));
  }

  // The words of [base, limit) whose bits under `mask` equal `pattern`
  // (mps_root_create_area_tagged); the tag is removed to fix the reference
  // and put back afterwards.
  static Result createAreaTagged(Root& out, Arena& arena, Rank rank, void* base, void* limit,
                                 mps_word_t mask, mps_word_t pattern,
                                 mps_area_scan_t scan = mps_scan_area_tagged, mps_rm_t mode = 0) {
    out.reset();
    return out.adopt(mps_root_create_area_tagged(&out.handle_, arena.handle(), detail::rankOf(rank),
                                                 mode, base, limit, scan, mask, pattern));
  }

  // A client function that fixes the references it knows of
  // (mps_root_create); p and s are passed to it.
  static Result createFunction(Root& out, Arena& arena, Rank rank, mps_root_scan_t scan,
                               void* p = nullptr, std::size_t s = 0) {
    out.reset();
    return out.adopt(
        mps_root_create(&out.handle_, arena.handle(), detail::rankOf(rank), 0, scan, p, s));
  }

  // Formatted objects in [base, limit) outside the pools, scanned by a
  // format scan method (mps_root_create_fmt).
  static Result createFormatted(Root& out, Arena& arena, Rank rank, mps_fmt_scan_t scan, void* base,
                                void* limit, mps_rm_t mode = 0) {
    out.reset();
    return out.adopt(mps_root_create_fmt(&out.handle_, arena.handle(), detail::rankOf(rank), mode,
                                         scan, base, limit));
  }

 protected:
  Result adopt(mps_res_t res) {
    if (res != MPS_RES_OK) handle_ = nullptr;
    return res;
  }

 private:
  template <class T>
  static mps_addr_t* addrs(T** base) {
    static_assert(sizeof(T*) == sizeof(mps_addr_t), "a table holds data pointers");
    return reinterpret_cast<mps_addr_t*>(const_cast<std::remove_cv_t<T>**>(base));
  }
};

// The stack and registers of a registered thread, scanned ambiguously from
// the stack pointer up to the cold end (mps_root_create_thread). Destroy it
// before its Thread.
class ThreadRoot : public Root {
 public:
  // The cold end given: an address above every frame that may hold
  // references, such as __builtin_frame_address(0) in main or in the
  // thread's start function. Word aligned.
  static Result create(ThreadRoot& out, Arena& arena, Thread& thread, void* coldEnd) {
    out.reset();
    return out.adopt(
        mps_root_create_thread(&out.handle_, arena.handle(), thread.handle(), coldEnd));
  }
  // The cold end found by stackColdEnd(): the whole stack of the calling
  // thread, which must be the registered one. Result::unimpl where the
  // platform does not say where its stack ends.
  static Result create(ThreadRoot& out, Arena& arena, Thread& thread) {
    void* cold = stackColdEnd();
    if (cold == nullptr) {
      out.reset();
      return Result::unimpl;
    }
    return create(out, arena, thread, cold);
  }
};

// A pool of formatted objects the collector scans: garbage collected
// (objects live while the roots reach them), or SNC (scanned, freed by
// allocation frames).
class AutomaticPool : public Pool {
 public:
  // Calls scan(ss, object, limit, closure) on every object (mps_pool_walk);
  // the arena must be parked. References may be read and fixed (they are
  // never white), not freed.
  Result walk(mps_area_scan_t scan, void* closure = nullptr) {
    return mps_pool_walk(handle_, scan, closure);
  }

 protected:
  // The keyword arguments every automatic pool takes: its format and, if
  // one is given, its chain and the generation it allocates in.
  static void addCommonArgs(detail::ArgList& args, Format& format, const Chain* chain,
                            unsigned gen) {
    args.add(MPS_KEY_FORMAT).val.format = format.handle();
    if (chain != nullptr) {
      args.add(MPS_KEY_CHAIN).val.chain = chain->handle();
      args.add(MPS_KEY_GEN).val.u = gen;
    }
  }
};

// Options of an AMSPool (pools-ams.md).
struct AMSPoolOptions {
  const Chain* chain = nullptr;  // MPS_KEY_CHAIN; null: the arena's default chain
  unsigned gen = 0;              // MPS_KEY_GEN, passed only with a chain
  bool supportAmbiguous = true;  // MPS_KEY_AMS_SUPPORT_AMBIGUOUS
  // The debugging class (mps_class_ams_debug), with these options (null:
  // the defaults).
  bool debug = false;
  const mps_pool_debug_option_s* debugOptions = nullptr;
};

// Automatic mark-sweep (AMS): non-moving; objects may hold references.
class AMSPool : public AutomaticPool {
 public:
  using Options = AMSPoolOptions;
  static Result create(AMSPool& out, Arena& arena, Format& format, const Options& o = Options()) {
    out.reset();
    detail::ArgList args;
    addCommonArgs(args, format, o.chain, o.gen);
    args.boolean(MPS_KEY_AMS_SUPPORT_AMBIGUOUS, o.supportAmbiguous);
    addDebugArgs(args, o.debug, o.debugOptions);
    return out.adopt(mps_pool_create_k(&out.handle_, arena.handle(),
                                       o.debug ? mps_class_ams_debug() : mps_class_ams(), args));
  }
};

// Options of a LOPool (pools-lo.md).
struct LOPoolOptions {
  const Chain* chain = nullptr;  // MPS_KEY_CHAIN; null: the arena's default chain
  unsigned gen = 0;              // MPS_KEY_GEN, passed only with a chain
};

// Leaf objects (LO): non-moving, never scanned; objects hold no references.
// The format needs only a skip method.
class LOPool : public AutomaticPool {
 public:
  using Options = LOPoolOptions;
  static Result create(LOPool& out, Arena& arena, Format& format, const Options& o = Options()) {
    out.reset();
    detail::ArgList args;
    addCommonArgs(args, format, o.chain, o.gen);
    return out.adopt(mps_pool_create_k(&out.handle_, arena.handle(), mps_class_lo(), args));
  }
};

// Options of an AWLPool (pools-awl.md).
struct AWLPoolOptions {
  // MPS_KEY_AWL_FIND_DEPENDENT: maps an object to its dependent object, or
  // null. Null here: not passed (no object has one). A captureless lambda
  // converts: [](void* p) -> void* { ... }.
  mps_awl_find_dependent_t findDependent = nullptr;
  const Chain* chain = nullptr;  // MPS_KEY_CHAIN; null: the arena's default chain
  unsigned gen = 0;              // MPS_KEY_GEN, passed only with a chain
};

// Automatic weak linked (AWL): non-moving mark-sweep whose objects hold
// exact or weak references, by the rank of the allocation point that
// allocated them (AllocationPoint::create(ap, pool, Rank::weak)). The
// format needs scan and skip. While an object is scanned its dependent
// object (from findDependent) may be written by the scan method: a weak
// table deletes the value of a splatted key that way.
class AWLPool : public AutomaticPool {
 public:
  using Options = AWLPoolOptions;
  static Result create(AWLPool& out, Arena& arena, Format& format, const Options& o = Options()) {
    out.reset();
    detail::ArgList args;
    addCommonArgs(args, format, o.chain, o.gen);
    if (o.findDependent != nullptr)
      args.add(MPS_KEY_AWL_FIND_DEPENDENT).val.addr_method = o.findDependent;
    return out.adopt(mps_pool_create_k(&out.handle_, arena.handle(), mps_class_awl(), args));
  }
};

// Options of an AMCPool or AMCZPool (manual/reference/amc.md).
struct AMCPoolOptions {
  const Chain* chain = nullptr;  // MPS_KEY_CHAIN; null: the arena's default chain
  unsigned gen = 0;              // MPS_KEY_GEN, passed only with a chain
  bool interior = true;          // MPS_KEY_INTERIOR
  std::size_t extendBy = 0;      // MPS_KEY_EXTEND_BY; 0: the default
  std::size_t largeSize = 0;     // MPS_KEY_LARGE_SIZE; 0: the default
};

namespace detail {
inline mps_res_t createAMC(mps_pool_t* out, Arena& arena, Format& format, mps_pool_class_t c,
                           const AMCPoolOptions& o) {
  ArgList args;
  args.add(MPS_KEY_FORMAT).val.format = format.handle();
  if (o.chain != nullptr) {
    args.add(MPS_KEY_CHAIN).val.chain = o.chain->handle();
    args.add(MPS_KEY_GEN).val.u = o.gen;
  }
  args.boolean(MPS_KEY_INTERIOR, o.interior);
  if (o.extendBy != 0) args.add(MPS_KEY_EXTEND_BY).val.size = o.extendBy;
  if (o.largeSize != 0) args.add(MPS_KEY_LARGE_SIZE).val.size = o.largeSize;
  return mps_pool_create_k(out, arena.handle(), c, args);
}
}  // namespace detail

// Automatic mostly-copying (AMC): generational and moving; objects may hold
// exact references. The format needs scan, skip, fwd, isfwd and pad.
class AMCPool : public AutomaticPool {
 public:
  using Options = AMCPoolOptions;
  static Result create(AMCPool& out, Arena& arena, Format& format, const Options& o = Options()) {
    out.reset();
    return out.adopt(detail::createAMC(&out.handle_, arena, format, mps_class_amc(), o));
  }
};

// AMCZ: AMC for leaf objects (no references, never scanned). The format
// needs skip, fwd, isfwd and pad.
class AMCZPool : public AutomaticPool {
 public:
  using Options = AMCPoolOptions;
  static Result create(AMCZPool& out, Arena& arena, Format& format, const Options& o = Options()) {
    out.reset();
    return out.adopt(detail::createAMC(&out.handle_, arena, format, mps_class_amcz(), o));
  }
};

// Stack, no checking (SNC, pools-mvt-snc.md): non-moving objects with exact
// references, scanned but never collected. Memory comes back when an
// allocation frame is popped (AllocationPoint::popFrame): everything the
// allocation point allocated since the push is freed, whatever still refers
// to it. The format needs scan (skip only for walking) and no header.
class SNCPool : public AutomaticPool {
 public:
  static Result create(SNCPool& out, Arena& arena, Format& format) {
    out.reset();
    detail::ArgList args;
    args.add(MPS_KEY_FORMAT).val.format = format.handle();
    return out.adopt(mps_pool_create_k(&out.handle_, arena.handle(), mps_class_snc(), args));
  }
};

// A location dependency (manual/reference/ld.md): whether objects whose
// addresses a computation used (an address hash) may have moved since.
// Trivially copyable, so it can live inside a client object; reset() before
// first use.
class LocationDependency {
 public:
  void reset(Arena& arena) { mps_ld_reset(&ld_, arena.handle()); }
  void add(Arena& arena, const void* p) { mps_ld_add(&ld_, arena.handle(), const_cast<void*>(p)); }
  void merge(Arena& arena, LocationDependency& from) {
    mps_ld_merge(&ld_, arena.handle(), &from.ld_);
  }
  bool isStale(Arena& arena, const void* p) {
    return mps_ld_isstale(&ld_, arena.handle(), const_cast<void*>(p)) != 0;
  }
  bool isStaleAny(Arena& arena) { return mps_ld_isstale_any(&ld_, arena.handle()) != 0; }

 private:
  mps_ld_s ld_;
};

// An allocation point (allocation.md): inline allocation into a pool by one
// thread at a time. reserve/commit are the C macros; allocate() runs the
// whole protocol. Destroy it before its pool, with nothing reserved.
class AllocationPoint : public detail::Owner<mps_ap_t, mps_ap_destroy> {
 public:
  // The pool's default rank (exact for AMS and AWL).
  static Result create(AllocationPoint& out, Pool& pool) {
    out.reset();
    return out.adopt(mps_ap_create_k(&out.handle_, pool.handle(), mps_args_none));
  }
  // References in objects allocated here have this rank (MPS_KEY_RANK):
  // AMS takes exact or (with supportAmbiguous) ambiguous; AWL exact or weak.
  static Result create(AllocationPoint& out, Pool& pool, Rank rank) {
    out.reset();
    detail::ArgList args;
    args.add(MPS_KEY_RANK).val.rank = detail::rankOf(rank);
    return out.adopt(mps_ap_create_k(&out.handle_, pool.handle(), args));
  }

  // Reserves `size` bytes (a multiple of the format's alignment, not 0) at
  // p. The block is not an object until commit() succeeds: initialise it
  // completely first, and store p nowhere the collector scans.
  Result reserve(void*& p, std::size_t size) {
    mps_addr_t block;
    mps_res_t res = mps_reserve(&block, handle_, size);
    if (res == MPS_RES_OK) [[likely]]
      p = block;
    return res;
  }
  // Makes the reserved block an object. False if a collection intervened
  // since reserve(): the block is lost; reserve and initialise again.
  bool commit(void* p, std::size_t size) { return mps_commit(handle_, p, size) != 0; }

  // Allocation frames (allocation.md). pushFrame marks the current
  // position; popFrame(frame) frees (SNC) everything allocated here since
  // that push, and pops the frames pushed after it. Other classes accept
  // frames and free nothing. Result::fail between reserve and commit.
  Result pushFrame(mps_frame_t& frame) { return mps_ap_frame_push(&frame, handle_); }
  Result popFrame(mps_frame_t frame) { return mps_ap_frame_pop(handle_, frame); }
  // Allocation patterns (hints that nest like brackets): a ramp of objects
  // that mostly die together; with collectAll, a full collection follows
  // once every ramp has ended. endRamp fails (Result::fail) without a
  // matching beginRamp; resetPatterns ends them all.
  Result beginRamp(bool collectAll = false) {
    return mps_ap_alloc_pattern_begin(handle_, rampPattern(collectAll));
  }
  Result endRamp(bool collectAll = false) {
    return mps_ap_alloc_pattern_end(handle_, rampPattern(collectAll));
  }
  Result resetPatterns() { return mps_ap_alloc_pattern_reset(handle_); }

  // Allocates a `size`-byte object: reserve, init(object) or
  // init(object, size), commit, repeated while the commit fails, so init
  // may run more than once and must initialise the whole object each time
  // (from values, not from the block's old contents). init must not throw or
  // publish the pointer. On success sets out; otherwise leaves it alone.
  template <class T, class Init>
  Result allocate(T*& out, std::size_t size, Init&& init) {
    static_assert(std::is_invocable_v<Init&, T*, std::size_t> || std::is_invocable_v<Init&, T*>,
                  "init(T* object) or init(T* object, std::size_t size)");
    mps_addr_t p;
    do {
      mps_res_t res = mps_reserve(&p, handle_, size);
      if (res != MPS_RES_OK) [[unlikely]]
        return res;
      if constexpr (std::is_invocable_v<Init&, T*, std::size_t>)
        init(static_cast<T*>(p), size);
      else
        init(static_cast<T*>(p));
    } while (!mps_commit(handle_, p, size));
    out = static_cast<T*>(p);
    return MPS_RES_OK;
  }

 private:
  static mps_alloc_pattern_t rampPattern(bool collectAll) {
    return collectAll ? mps_alloc_pattern_ramp_collect_all() : mps_alloc_pattern_ramp();
  }
  Result adopt(mps_res_t res) {
    if (res != MPS_RES_OK) handle_ = nullptr;
    return res;
  }
};

}  // namespace mps
