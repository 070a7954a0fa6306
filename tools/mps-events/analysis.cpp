// The report's model of a run (design/mps-events.md).
#include "analysis.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <tuple>

namespace mps::events {
namespace {

using event::EventKind;

bool is(const Event& e, EventKind k) {
  return e.kind->code() == std::uint16_t(k);
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

class Builder {
 public:
  explicit Builder(const Stream& s) : s_(s) {}

  Analysis run() {
    collectLabels();
    for (const Event& e : s_.events) {
      const double t = s_.secondsAt(e);
      if (first_) {
        a_.runStart = a_.runEnd = t;
        first_ = false;
      }
      a_.runStart = std::min(a_.runStart, t);
      a_.runEnd = std::max(a_.runEnd, t);
      visit(e, t);
    }
    finish();
    return std::move(a_);
  }

 private:
  std::uint64_t f(const Event& e, const char* name) const { return s_.field(e, name); }
  // A duration field in seconds: unsigned, so a pause never ends before it starts.
  double ticks(const Event& e, const char* name) const {
    return double(f(e, name)) / double(s_.header.ticksPerSecond);
  }

  std::string name(std::uint64_t address, const char* what) const {
    auto it = a_.labels.find(address);
    return it != a_.labels.end() ? it->second : std::string(what) + " " + hex(address);
  }

  void collectLabels() {
    std::map<std::uint64_t, std::string> interned;
    for (const Event& e : s_.events)
      if (is(e, EventKind::Intern)) interned[f(e, "label")] = std::string(s_.text(e));
    for (const Event& e : s_.events) {
      if (!is(e, EventKind::Label)) continue;
      auto it = interned.find(f(e, "label"));
      if (it != interned.end()) a_.labels[f(e, "address")] = it->second;
    }
  }

  Collection& collection(const Event& e) {
    auto key = std::make_pair(f(e, "arena"), f(e, "trace"));
    auto [it, added] = collectionIndex_.try_emplace(key, a_.collections.size());
    if (added) {
      a_.collections.emplace_back();
      a_.collections.back().arena = key.first;
      a_.collections.back().trace = key.second;
    }
    return a_.collections[it->second];
  }

  Series& series(
      std::vector<Series>& all,
      std::map<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>, std::size_t>& index,
      std::tuple<std::uint64_t, std::uint64_t, std::uint64_t> key, const std::string& label) {
    auto [it, added] = index.try_emplace(key, all.size());
    if (added) all.push_back(Series{label, {}});
    return all[it->second];
  }

  void visit(const Event& e, double t) {
    switch (EventKind(e.kind->code())) {
      case EventKind::CommitChange: {
        const std::uint64_t committed = f(e, "committed");
        a_.peakCommitted = std::max(a_.peakCommitted, committed);
        series(a_.committed, committedIndex_, {f(e, "arena"), 0, 0}, name(f(e, "arena"), "arena"))
            .points.emplace_back(t, double(committed));
        break;
      }
      case EventKind::GenerationSize: {
        const std::uint64_t chain = f(e, "chain"), gen = f(e, "gen");
        const std::string label =
            (chain == 0 ? std::string("top generation")
                        : name(chain, "chain") + " gen " + std::to_string(gen));
        series(a_.generations, generationIndex_, {f(e, "arena"), chain, gen}, label)
            .points.emplace_back(t, double(f(e, "size")));
        break;
      }
      case EventKind::TraceStart: {
        Collection& c = collection(e);
        c.started = true;
        c.start = t;
        c.reason = std::string(s_.text(e));
        c.chain = f(e, "chain");
        c.topGen = f(e, "topGen");
        c.all = f(e, "all");
        break;
      }
      case EventKind::TraceEnd: {
        Collection& c = collection(e);
        c.ended = true;
        c.end = t;
        // The collection's own duration may reach back before its TraceStart
        // (which is recorded once it has begun): the bar covers both.
        c.start =
            c.started ? std::min(c.start, t - ticks(e, "duration")) : t - ticks(e, "duration");
        c.condemned = f(e, "condemned");
        c.notCondemned = f(e, "notCondemned");
        c.preserved = f(e, "preserved");
        c.reclaimed = f(e, "reclaimed");
        c.pauseTotal = ticks(e, "pauseTotal");
        c.pauseMax = ticks(e, "pauseMax");
        c.pauseCount = f(e, "pauseCount");
        c.workers = f(e, "workers");
        c.finalized = f(e, "finalized");
        break;
      }
      case EventKind::TracePause: {
        const double start = t - ticks(e, "duration");
        a_.pauses.push_back(Pause{{start, t}, f(e, "arena"), f(e, "trace"), f(e, "kind")});
        a_.runStart = std::min(a_.runStart, start);
        break;
      }
      case EventKind::TraceWorker: {
        auto [it, added] = workerIndex_.try_emplace(f(e, "worker"), a_.workers.size());
        if (added) a_.workers.push_back(WorkerWork{f(e, "worker"), 0, 0, 0, 0});
        WorkerWork& w = a_.workers[it->second];
        w.objectsScanned += f(e, "objectsScanned");
        w.objectsMarked += f(e, "objectsMarked");
        w.bytesScanned += f(e, "bytesScanned");
        ++w.traces;
        break;
      }
      case EventKind::PoolCreate: {
        PoolRow row;
        row.arena = f(e, "arena");
        row.pool = f(e, "pool");
        row.format = f(e, "format");
        row.className = std::string(s_.text(e));
        auto it = a_.labels.find(row.pool);
        if (it != a_.labels.end()) row.label = it->second;
        row.created = t;
        livePool_[row.pool] = a_.pools.size();
        a_.pools.push_back(std::move(row));
        break;
      }
      case EventKind::PoolDestroy:
        if (PoolRow* p = pool(f(e, "pool"))) {
          p->destroyed = t;
          livePool_.erase(f(e, "pool"));
        }
        break;
      case EventKind::SegCreate:
        if (PoolRow* p = pool(f(e, "pool"))) {
          ++p->segments;
          p->segmentBytes += f(e, "size");
          p->peakSegmentBytes = std::max(p->peakSegmentBytes, p->segmentBytes);
        }
        break;
      case EventKind::SegFree:
        if (PoolRow* p = pool(f(e, "pool"))) {
          p->segments -= std::min<std::uint64_t>(p->segments, 1);
          p->segmentBytes -= std::min(p->segmentBytes, f(e, "size"));
        }
        break;
      case EventKind::StreamFlush:
        a_.eventsDropped = std::max(a_.eventsDropped, f(e, "eventsDropped"));
        break;
      default:
        break;
    }
  }

  PoolRow* pool(std::uint64_t address) {
    auto it = livePool_.find(address);
    return it == livePool_.end() ? nullptr : &a_.pools[it->second];
  }

  void finish() {
    for (Collection& c : a_.collections) {
      if (!c.ended) c.end = std::max(c.start, a_.runEnd);
      if (c.end < c.start) c.end = c.start;
    }
    std::stable_sort(a_.collections.begin(), a_.collections.end(),
                     [](const Collection& x, const Collection& y) { return x.start < y.start; });
    std::stable_sort(a_.pauses.begin(), a_.pauses.end(),
                     [](const Pause& x, const Pause& y) { return x.when.start < y.when.start; });
    std::vector<Interval> all;
    all.reserve(a_.pauses.size());
    for (const Pause& p : a_.pauses)
      all.push_back(p.when);
    a_.paused = unionOf(std::move(all));
    std::sort(a_.workers.begin(), a_.workers.end(),
              [](const WorkerWork& x, const WorkerWork& y) { return x.worker < y.worker; });
  }

  const Stream& s_;
  Analysis a_;
  bool first_ = true;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::size_t> collectionIndex_;
  std::map<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>, std::size_t> committedIndex_,
      generationIndex_;
  std::map<std::uint64_t, std::size_t> workerIndex_, livePool_;
};

// Paused time in [-inf, x], by binary search over the disjoint intervals
// and `before[i]`, the paused time of intervals 0..i-1.
double pausedUpTo(const std::vector<Interval>& paused, const std::vector<double>& before,
                  double x) {
  auto it = std::upper_bound(paused.begin(), paused.end(), x,
                             [](double v, const Interval& i) { return v < i.start; });
  if (it == paused.begin()) return 0;
  const std::size_t k = std::size_t(it - paused.begin()) - 1;
  return before[k] + std::min(x, paused[k].end) - paused[k].start;
}

}  // namespace

Analysis analyse(const Stream& s) {
  return Builder(s).run();
}

std::vector<Interval> unionOf(std::vector<Interval> intervals) {
  std::sort(intervals.begin(), intervals.end(),
            [](const Interval& a, const Interval& b) { return a.start < b.start; });
  std::vector<Interval> out;
  for (const Interval& i : intervals) {
    if (!(i.end > i.start)) continue;
    if (!out.empty() && i.start <= out.back().end)
      out.back().end = std::max(out.back().end, i.end);
    else
      out.push_back(i);
  }
  return out;
}

double minimumMutatorUtilisation(const std::vector<Interval>& paused, double runStart,
                                 double runEnd, double window) {
  if (!(window > 0)) return 1;
  if (window > runEnd - runStart) window = runEnd - runStart;
  if (!(window > 0)) return paused.empty() ? 1 : 0;
  std::vector<double> before(paused.size());
  double sum = 0;
  for (std::size_t i = 0; i < paused.size(); ++i) {
    before[i] = sum;
    sum += paused[i].end - paused[i].start;
  }
  const double lastStart = runEnd - window;
  double worst = 0;
  auto consider = [&](double a) {
    a = std::clamp(a, runStart, lastStart);
    worst = std::max(worst, pausedUpTo(paused, before, a + window) - pausedUpTo(paused, before, a));
  };
  consider(runStart);
  consider(lastStart);
  for (const Interval& p : paused) {
    consider(p.start);
    consider(p.end);
    consider(p.start - window);
    consider(p.end - window);
  }
  return std::clamp((window - worst) / window, 0.0, 1.0);
}

}  // namespace mps::events
