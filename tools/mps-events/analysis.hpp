// What the HTML report shows, computed from a stream (design/mps-events.md):
// the semantics of the arena, pool and trace rows of the kind table.
// Times are seconds since the stream's start.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "stream.hpp"

namespace mps::events {

struct Interval {
  double start, end;
};

// A step function of time (value holds from each point to the next).
struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
};

struct Collection {
  std::uint64_t arena = 0, trace = 0;
  double start = 0, end = 0;  // end == start while unfinished
  bool started = false, ended = false;
  std::string reason;
  std::uint64_t chain = 0, topGen = 0, all = 0;
  // From TraceEnd (bytes, ticks, counts).
  std::uint64_t condemned = 0, notCondemned = 0, preserved = 0, reclaimed = 0;
  double pauseTotal = 0, pauseMax = 0;  // seconds
  std::uint64_t pauseCount = 0, workers = 0, finalized = 0;
};

struct Pause {
  Interval when;
  std::uint64_t arena = 0, trace = 0, kind = 0;
};

struct WorkerWork {
  std::uint64_t worker = 0, objectsScanned = 0, objectsMarked = 0, bytesScanned = 0, traces = 0;
};

struct PoolRow {
  std::uint64_t arena = 0, pool = 0, format = 0;
  std::string className, label;
  double created = -1, destroyed = -1;  // -1: not in the stream
  std::uint64_t segments = 0, segmentBytes = 0, peakSegmentBytes = 0;
};

struct Analysis {
  double runStart = 0, runEnd = 0;  // first and last event (and pause)
  std::vector<Series> committed;    // one per arena
  std::vector<Series> generations;  // one per (arena, chain, gen)
  std::vector<Collection> collections;
  std::vector<Pause> pauses;     // in time order
  std::vector<Interval> paused;  // union of pauses, disjoint, in order
  std::vector<WorkerWork> workers;
  std::vector<PoolRow> pools;
  std::map<std::uint64_t, std::string> labels;  // address -> client's label
  std::uint64_t eventsDropped = 0;
  std::uint64_t peakCommitted = 0;
};

Analysis analyse(const Stream& s);

// Minimum mutator utilisation over windows of `window` seconds within
// [runStart, runEnd], given disjoint pause intervals in order: the least,
// over every window, of the fraction of it outside pauses. Exact: the
// paused time in a window is piecewise linear in the window's position, so
// its maximum is at a position where an edge of the window meets an edge of
// a pause, or at an end of the run.
double minimumMutatorUtilisation(const std::vector<Interval>& paused, double runStart,
                                 double runEnd, double window);

// Disjoint union of intervals, in order.
std::vector<Interval> unionOf(std::vector<Interval> intervals);

}  // namespace mps::events
