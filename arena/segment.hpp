// Segments: the unit the tracer works with.
//
// A segment is a run of grains owned by one automatic pool. The arena's tract
// table maps each of its grains to it, so an address finds its segment in
// O(1) (fix stage 2). The segment carries what the tracer and the shield need
// to know without asking the pool: the ranks of the references it holds, its
// zone summary, its colour for the current trace and its protection state.
// The pool-specific work (condemn, fix, scan, reclaim, walk) is done by the
// pool's subclass through the virtual protocol below.
#pragma once

#include "arena/pool.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"

namespace mps::core {

class Buffer;
class Generation;
class ScanState;
class Trace;

// A set of zones. zone(a) = (a >> zoneShift) % kWordBits; the white set of a
// trace, a segment's summary and a scan state's unfixed summary are RefSets.
using RefSet = Word;
constexpr RefSet kRefSetEmpty = 0;
constexpr RefSet kRefSetUniv = ~Word(0);
inline Word zoneOf(const void* p, Shift zoneShift) {
  return (wordOf(p) >> zoneShift) & (kWordBits - 1);
}
inline RefSet refSetOfAddr(const void* p, Shift zoneShift) {
  return RefSet(1) << zoneOf(p, zoneShift);
}
// The zones a range of addresses touches.
RefSet refSetOfRange(Addr base, Addr limit, Shift zoneShift);

// Ranks, in the order the tracer processes them (the values of mps_rank_t).
enum class Rank : unsigned { ambig = 0, exact = 1, final = 2, weak = 3 };
constexpr unsigned kRankCount = 4;
using RankSet = unsigned;
constexpr RankSet kRankSetEmpty = 0;
constexpr RankSet rankSetOf(Rank r) {
  return RankSet(1) << unsigned(r);
}
inline bool rankSetHas(RankSet s, Rank r) {
  return (s & rankSetOf(r)) != 0;
}
// The lowest rank in a non-empty set.
inline Rank rankSetLowest(RankSet s) {
  return Rank(__builtin_ctz(s));
}

// Traces are numbered; a TraceSet has one bit per trace. This collector runs
// one trace at a time (trace 0), but the sets keep the segment protocol ready
// for concurrent traces.
using TraceSet = unsigned;
constexpr unsigned kTraceLimit = 1;

class Segment {
 public:
  static constexpr Sig kSig = 0x5195E6u;

  Segment(Pool* pool, Addr base, Addr limit) : pool(pool), base(base), limit(limit) {}
  virtual ~Segment() { invalidateSig(sig); }
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  Size size() const { return Size(limit - base); }
  bool contains(const void* p) const { return p >= base && p < limit; }
  bool isWhite(TraceSet traces) const { return (white & traces) != 0; }
  bool isGreyFor(TraceSet traces) const { return (grey & traces) != 0; }

  // --- The tracer protocol. Called with the arena lock held and every
  // mutator thread stopped, between shield expose/cover of the segment.

  // Condemns the segment's objects for `trace`: they become white. Adds the
  // bytes condemned (and those left alone, e.g. an allocation buffer's
  // unused part) to the trace's accounting. Res::ok or a failure that leaves
  // the segment as it was.
  virtual Res whiten(Trace* trace) = 0;
  // Whether `trace`, which condemns the segment's generation, condemns this
  // segment. A generational mark-sweep segment without objects allocated
  // since its last collection stays out of a collection of its young
  // objects (design/ams.md .ms.sticky).
  virtual bool wantsCondemn(const Trace* /*trace*/) const { return true; }
  // The youngest generation whose collection will condemn (some of) the
  // segment: the write barrier weighs protecting it against that
  // generation's next collection (design/shield.md .shield.policy).
  virtual const Generation* condemningGeneration() const { return gen; }
  // The generation whose accounts the bytes condemned and surviving in the
  // segment go to (chains.md): its own, unless the pool promotes in place.
  virtual Generation* tallyGeneration(const Trace* /*trace*/) const { return gen; }
  // Fix stage 3: `*refIO` lands in this white segment. Ambiguous rank: keep
  // the object there alive (and pinned) if there is one, ignore otherwise.
  // Exact rank: keep the object alive; a moving pool updates *refIO.
  virtual Res fix(ScanState* ss, Addr* refIO) = 0;
  // A weak reference into this white segment, fixed once marking is over:
  // if the object survives, the reference is kept (a moving pool updates
  // it); otherwise it is set to null (roots.md, weak rank). Never marks.
  virtual Res fixWeak(ScanState* ss, Addr* refIO) = 0;
  // Whether the object at the client address `ref` (an object of this white
  // segment) survives the trace so far: marked, moved or pinned, or not
  // condemned at all. Marking is over for the stronger ranks when the
  // tracer asks (finalization: a registered object not preserved by then
  // is finalizable).
  virtual bool isPreserved(Addr ref) const = 0;
  // The second half of a fix that a non-moving pool deferred with
  // Worker::defer: `ref` (of rank `rank`) landed in this white segment.
  virtual void finishFix(ScanState* /*ss*/, Addr /*ref*/, Rank /*rank*/) {}
  // Scans every object of the segment (an uncondemned segment scanned as part
  // of the remembered set, or a grey segment) at the scan state's rank.
  virtual Res scan(ScanState* ss) = 0;
  // Scans one object found grey by fix (the mark-stack path): `object` is the
  // client address of an object of this segment.
  virtual Res scanObject(ScanState* ss, Addr object) = 0;
  // Frees the objects of the segment that are still white, and records the
  // bytes that survived. True if the segment is now empty and may be given
  // back with release() (which the tracer calls once it has covered it).
  virtual bool reclaim(Trace* trace) = 0;
  // Gives an empty segment back to its pool and the arena, destroying it.
  virtual void release() = 0;
  // Visits every object: f(clientAddress, closure). The world is stopped.
  using ObjectVisitor = void (*)(Segment* seg, Addr object, void* closure);
  virtual void walk(ObjectVisitor f, void* closure) = 0;
  // Whether `p` is the client address of a live object of this segment (the
  // checked build's heap verifier).
  virtual bool isObject(Addr p) const = 0;
  // The client address of the object whose block holds `p` (at its base,
  // in its in-band header or anywhere inside it), if `p` lies in a live
  // object: what an ambiguous reference designates, for the roots walk and
  // transforms (walking.md). Outside a collection, world stopped; the
  // segment may first record what its buffer has committed.
  virtual bool findObject(Addr p, Addr* clientOut) = 0;
  // The same, outside a collection (mps_finalize): the segment may first
  // bring its own records up to date with what its buffer has committed,
  // so that a client that registers each object it allocates costs O(1)
  // per object.
  virtual bool isObjectNow(Addr p) { return isObject(p); }
  // The read barrier (Trace::blacken): the mutator touched this grey
  // segment. Scans every object in it that may refer to a white object:
  // all of them in an uncondemned segment, the marked (pinned, copied into)
  // ones in a condemned one. Objects scanned twice are harmless: a fix of
  // a reference to a marked or moved object changes nothing more.
  virtual Res scanGrey(ScanState* ss) { return scan(ss); }
  // Whether the mutator may hold references to objects of this condemned
  // segment before the trace ends (marked objects of a mark-sweep pool,
  // pinned ones of a copying pool): if not, it needs no protection while
  // the mutator runs between increments.
  virtual bool reachableWhileWhite() const { return true; }
  // A buffer is being trapped by a flip: a scannable pool records what has
  // been committed so far (objects committed later belong to the next trace).
  virtual void bufferFlipped(Buffer* /*buffer*/) {}

  virtual bool check() const;

  Sig sig = kSig;
  Pool* pool;
  Addr base;
  Addr limit;
  RankSet rankSet = kRankSetEmpty;  // empty: holds no references (leaf)
  RefSet summary = kRefSetUniv;     // zones its references may point into
  // A summary being rebuilt by the current trace (design/shield.md
  // .shield.summary): set for a segment the trace condemns, copies into or
  // scans whole, whose every surviving object the trace therefore scans. Those
  // scans add the zones they see to traceSummary (workers OR into it
  // concurrently, through std::atomic_ref); at the end of the trace it
  // becomes the summary.
  bool summaryTraced = false;
  RefSet traceSummary = kRefSetEmpty;
  // .ms.sticky.remembered: the summary was built by a trace that condemned
  // every young object of the generational mark-sweep pools, so every
  // object it refers to survived that trace (and is old) if it is not
  // universal.
  bool summaryOfOld = false;
  void beginTracedSummary() {
    summaryTraced = true;
    traceSummary = kRefSetEmpty;
  }
  // .shield.defer: collections left before the write barrier may protect
  // it. A new segment is often condemned, or written, within a few
  // collections, and a protection change costs as much as scanning tens of
  // kilobytes (more with other threads running); a segment the mutator
  // wrote through the barrier is likely to be written again soon.
  static constexpr unsigned char kBarrierDeferNew = 3;
  static constexpr unsigned char kBarrierDeferWritten = 4;
  unsigned char barrierDefer = kBarrierDeferNew;
  // Writes that faulted soon after protection, recently (saturating at
  // kMaxBarrierHits, decaying by one for each interval between collections
  // the segment spent protected and unwritten): each doubles the deferral
  // after the next write, since a segment written through the barrier
  // costs a protection change, a fault and another change for nothing.
  static constexpr unsigned char kMaxBarrierHits = 4;
  unsigned char barrierHits = 0;
  bool barrierProtected = false;  // protected by the last trace's settling
  // A moving pool copies into it across traces (design/amc.md .amc.carry):
  // the collector writes into it without protecting it between, so, like a
  // segment with an allocation buffer, it keeps the universal summary and
  // is never protected.
  bool receiving = false;
  // Whether its pool keeps mark bits between collections (sticky marks,
  // design/ams.md .ms.sticky).
  virtual bool marksPersist() const { return false; }
  // Whether it holds objects that a generational mark-sweep pool counts as
  // young (allocated since the segment's last collection).
  virtual bool holdsYoung() const { return false; }
  // Condemned for its young objects only (design/ams.md .ms.sticky): its
  // old objects stay marked (black), and are scanned like an uncondemned
  // segment's if its summary meets the white zones.
  bool condemnedYoung = false;
  // Exposed by the current trace as the dependent object of an AWL object
  // being scanned (Trace::exposeDependent).
  bool dependentExposed = false;
  // On the current trace's list of weak segments scanned whole in the weak
  // phase (Trace::scanWeak).
  bool weakScanWhole = false;
  TraceSet white = 0;         // condemned for these traces
  TraceSet grey = 0;          // must be scanned for these traces
  Generation* gen = nullptr;  // the generation it belongs to (tracer)
  Buffer* buffer = nullptr;   // the allocation buffer attached, if any
  // Shield state (shield/): how deep the collector has exposed the segment,
  // and the protection the segment wants and the one it has.
  unsigned shieldDepth = 0;
  unsigned shieldMode = 0;
  unsigned protMode = 0;
  // While an incremental trace lets the mutator run (Trace::yieldToMutator):
  // the trace's exposures of a dependent segment, given back when the trace
  // resumes; and a mark for the yield's visit of the segments whose
  // protection may have to change.
  unsigned yieldDepth = 0;
  bool yieldVisited = false;
  // .shield.lazy.record: on its arena's list of segments the collector
  // lifted in this pause (Shield::liftForCollector), linked through here.
  bool liftListed = false;
  Segment* liftedNext = nullptr;
  Ring<Segment> poolRing{this};
};

}  // namespace mps::core
