// The HTML report: one self-contained page, inline CSS and SVG, no script
// (design/mps-events.md). Every section has an id the Chromium test looks
// for, and says so in words when the stream has nothing for it.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <functional>

#include "analysis.hpp"
#include "formats.hpp"

namespace mps::events {
namespace {

constexpr const char* kPalette[] = {"#3366cc", "#dc7633", "#2e8b57", "#8e44ad",
                                    "#c0392b", "#16a085", "#b7950b", "#5d6d7e"};
constexpr std::size_t kPaletteSize = std::size(kPalette);
constexpr std::size_t kMostCollectionRows = 1000;
constexpr std::size_t kMostBars = 5000;

std::string fmt(const char* format, auto... args) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, format, args...);
  return std::string(buf, std::size_t(std::clamp(n, 0, int(sizeof buf) - 1)));
}

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // Control characters are not allowed in HTML text.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
          out += fmt("&#x%x;", unsigned(0x2400 + static_cast<unsigned char>(c)));
        else
          out += c;
    }
  }
  return out;
}

// Bytes outside ASCII in client text are shown as escapes: the page is UTF-8
// and the stream's text need not be.
std::string escapeText(std::string_view text) {
  std::string ascii;
  for (unsigned char c : text)
    ascii += c < 0x80 ? std::string(1, char(c)) : fmt("\\x%02x", c);
  return escape(ascii);
}

std::string seconds(double s) {
  const double a = std::fabs(s);
  if (a == 0) return "0 s";
  if (a < 1e-6) return fmt("%.0f ns", s * 1e9);
  if (a < 1e-3) return fmt("%.3g µs", s * 1e6);
  if (a < 1) return fmt("%.3g ms", s * 1e3);
  return fmt("%.4g s", s);
}

std::string bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  unsigned u = 0;
  while (std::fabs(b) >= 1024 && u + 1 < std::size(units)) {
    b /= 1024;
    ++u;
  }
  return u == 0 ? fmt("%.0f B", b) : fmt("%.3g %s", b, units[u]);
}

std::string count(double n) {
  const double a = std::fabs(n);
  if (a >= 1e9) return fmt("%.3gG", n / 1e9);
  if (a >= 1e6) return fmt("%.3gM", n / 1e6);
  if (a >= 1e4) return fmt("%.3gk", n / 1e3);
  return fmt("%.4g", n);
}

std::string hex(std::uint64_t v) {
  return fmt("0x%" PRIx64, v);
}

// A linear or logarithmic map from values to pixels.
struct Scale {
  double lo, hi, pxLo, pxHi;
  bool log = false;
  double unit = 1;  // linear ticks fall on nice multiples of this
  double operator()(double v) const {
    double a = lo, b = hi;
    if (log) {
      a = std::log10(lo);
      b = std::log10(hi);
      v = std::log10(std::max(v, lo));
    }
    double p = pxLo + (v - a) / (b - a) * (pxHi - pxLo);
    return std::clamp(p, std::min(pxLo, pxHi) - 1, std::max(pxLo, pxHi) + 1);
  }
};

// A scale over [lo, hi] that is never empty.
Scale scale(double lo, double hi, double pxLo, double pxHi, bool log = false) {
  if (log) {
    lo = std::max(lo, 1e-9);
    hi = std::max(hi, lo * 10);
  } else if (!(hi - lo > std::fabs(lo) * 1e-9)) {
    // Empty, or too narrow to tell apart from its position: widen it.
    hi = lo + std::max(std::fabs(lo) * 1e-3, 1e-3);
  }
  return Scale{lo, hi, pxLo, pxHi, log};
}

// Ticks at 1, 2 or 5 times a power of ten.
std::vector<double> ticks(const Scale& s, int wanted = 6) {
  std::vector<double> out;
  if (s.log) {
    for (double d = std::pow(10, std::floor(std::log10(s.lo))); d <= s.hi * 1.0001; d *= 10)
      if (d >= s.lo * 0.9999) out.push_back(d);
    return out;
  }
  const double raw = (s.hi - s.lo) / s.unit / wanted;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  // Counted, not accumulated: far from zero, adding a small step to a large
  // value may not change it.
  step *= s.unit;
  const double first = std::ceil(s.lo / step) * step;
  for (int k = 0; k <= wanted * 3; ++k) {
    const double t = first + k * step;
    if (t > s.hi + step * 1e-6) break;
    out.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  }
  return out;
}

constexpr double kWidth = 960, kLeft = 80, kRight = 20, kTop = 12, kBottom = 42;

// An SVG chart: an element with an id, axes with grid lines, and marks.
class Chart {
 public:
  Chart(std::string id, double height, std::string label)
      : id_(std::move(id)), height_(height), label_(std::move(label)) {}
  double plotLeft() const { return kLeft; }
  double plotRight() const { return kWidth - kRight; }
  double plotTop() const { return kTop; }
  double plotBottom() const { return height_ - kBottom; }

  void xAxis(const Scale& x, const std::function<std::string(double)>& label,
             const std::string& title) {
    for (double t : ticks(x)) {
      const double px = x(t);
      body_ += fmt("<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", px, px,
                   plotTop(), plotBottom());
      body_ += fmt("<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px,
                   plotBottom() + 16) +
               escape(label(t)) + "</text>";
    }
    body_ += fmt("<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                 (plotLeft() + plotRight()) / 2, height_ - 6) +
             escape(title) + "</text>";
  }
  void yAxis(const Scale& y, const std::function<std::string(double)>& label,
             const std::string& title) {
    for (double t : ticks(y, 4)) {
      const double py = y(t);
      body_ += fmt("<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>",
                   plotLeft(), plotRight(), py, py);
      body_ += fmt("<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                   plotLeft() - 6, py + 4) +
               escape(label(t)) + "</text>";
    }
    body_ += fmt("<text class=\"axis\" transform=\"translate(14 %.1f) rotate(-90)\" "
                 "text-anchor=\"middle\">",
                 (plotTop() + plotBottom()) / 2) +
             escape(title) + "</text>";
  }
  void frame() {
    body_ += fmt("<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                 plotLeft(), plotTop(), plotRight() - plotLeft(), plotBottom() - plotTop());
  }
  void rect(double x0, double x1, double y0, double y1, const std::string& fill,
            const std::string& title, const char* cls = "mark") {
    if (x1 < x0) std::swap(x0, x1);
    if (y1 < y0) std::swap(y0, y1);
    body_ +=
        fmt("<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"%s\">",
            cls, x0, y0, std::max(x1 - x0, 1.0), std::max(y1 - y0, 0.5), fill.c_str());
    body_ += "<title>" + escape(title) + "</title></rect>";
  }
  void path(const std::string& d, const std::string& stroke, const std::string& title) {
    body_ += "<path class=\"line\" d=\"" + d + "\" stroke=\"" + stroke + "\"><title>" +
             escape(title) + "</title></path>";
  }
  void text(double x, double y, const std::string& s, const char* anchor = "start",
            const char* cls = "note") {
    body_ +=
        fmt("<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", cls, x, y, anchor) +
        escape(s) + "</text>";
  }
  void line(double x0, double y0, double x1, double y1, const char* cls) {
    body_ += fmt("<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", cls, x0,
                 y0, x1, y1);
  }
  std::string svg() const {
    return fmt("<svg id=\"%s\" role=\"img\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f "
               "%.0f\" xmlns=\"http://www.w3.org/2000/svg\">",
               id_.c_str(), kWidth, height_, kWidth, height_) +
           "<title>" + escape(label_) + "</title>" + body_ + "</svg>\n";
  }

 private:
  std::string id_;
  double height_;
  std::string label_;
  std::string body_;
};

std::string legend(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out = "<ul class=\"legend\">";
  for (const auto& [colour, name] : entries)
    out += "<li><span class=\"swatch\" style=\"background:" + colour + "\"></span>" +
           escapeText(name) + "</li>";
  return out + "</ul>\n";
}

std::string empty(const std::string& id, const std::string& why) {
  return "<p class=\"empty\" id=\"" + id + "\">" + escape(why) + "</p>\n";
}

// Step lines of several series against time.
std::string stepChart(const std::string& id, const std::string& title,
                      const std::vector<Series>& all, const Analysis& a,
                      const std::string& yTitle) {
  double peak = 0;
  for (const Series& s : all)
    for (const auto& p : s.points)
      peak = std::max(peak, p.second);
  Chart c(id, 280, title);
  const Scale x = scale(a.runStart, a.runEnd, c.plotLeft(), c.plotRight());
  Scale y = scale(0, peak * 1.05, c.plotBottom(), c.plotTop());
  while (y.unit * 1024 <= y.hi)
    y.unit *= 1024;  // ticks at round KiB, MiB, GiB
  c.xAxis(x, seconds, "time since the stream started");
  c.yAxis(y, bytes, yTitle);
  // Collections shade the background, so growth and drops line up with them.
  std::size_t shaded = 0;
  for (const Collection& col : a.collections) {
    if (++shaded > kMostBars) break;
    c.rect(x(col.start), x(col.end), c.plotTop(), c.plotBottom(), "#e8e8e8",
           "collection " + std::to_string(col.trace) + ": " + col.reason, "band");
  }
  std::vector<std::pair<std::string, std::string>> keys;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Series& s = all[i];
    if (s.points.empty()) continue;
    const std::string colour = kPalette[i % kPaletteSize];
    std::string d = fmt("M%.1f %.1f", x(s.points[0].first), y(s.points[0].second));
    double peakHere = 0;
    for (std::size_t k = 1; k < s.points.size(); ++k) {
      d += fmt("H%.1fV%.1f", x(s.points[k].first), y(s.points[k].second));
      peakHere = std::max(peakHere, s.points[k].second);
    }
    peakHere = std::max(peakHere, s.points[0].second);
    d += fmt("H%.1f", x(a.runEnd));
    c.path(d, colour, s.name + ": peak " + bytes(peakHere));
    keys.emplace_back(colour, s.name);
  }
  c.frame();
  return c.svg() + legend(keys);
}

std::string reasonColour(std::map<std::string, std::string>& colours, const std::string& reason) {
  auto [it, added] = colours.try_emplace(reason, "");
  if (added) it->second = kPalette[(colours.size() - 1) % kPaletteSize];
  return it->second;
}

std::string collectionTitle(const Collection& c) {
  std::string t = "collection " + std::to_string(c.trace) + " (" +
                  (c.reason.empty() ? std::string("no reason given") : c.reason) + ")\nstart " +
                  seconds(c.start) + ", duration " + seconds(c.end - c.start);
  if (!c.ended) return t + " (unfinished)";
  return t + "\npauses: " + std::to_string(c.pauseCount) + ", total " + seconds(c.pauseTotal) +
         ", longest " + seconds(c.pauseMax) + "\ncondemned " + bytes(double(c.condemned)) +
         ", preserved " + bytes(double(c.preserved)) + ", reclaimed " + bytes(double(c.reclaimed));
}

std::string timeline(const Analysis& a) {
  if (a.collections.empty() && a.pauses.empty())
    return empty("timeline-empty", "no collections (turn on the trace category)");
  Chart c("timeline", 150, "collections and pauses over time");
  const Scale x = scale(a.runStart, a.runEnd, c.plotLeft(), c.plotRight());
  c.xAxis(x, seconds, "time since the stream started");
  const double lane1 = c.plotTop() + 8, lane2 = c.plotTop() + 52;
  c.text(c.plotLeft() - 6, lane1 + 20, "collections", "end", "tick");
  c.text(c.plotLeft() - 6, lane2 + 20, "pauses", "end", "tick");
  std::map<std::string, std::string> colours;
  std::size_t drawn = 0;
  for (const Collection& col : a.collections) {
    if (++drawn > kMostBars) break;
    c.rect(x(col.start), x(col.end), lane1, lane1 + 32, reasonColour(colours, col.reason),
           collectionTitle(col), "collection");
  }
  // Pauses closer than a pixel are drawn as one mark.
  for (std::size_t i = 0; i < a.pauses.size();) {
    double x0 = x(a.pauses[i].when.start), x1 = x(a.pauses[i].when.end);
    double total = 0, longest = 0;
    std::size_t j = i;
    for (; j < a.pauses.size() && (j == i || x(a.pauses[j].when.start) <= x1 + 1); ++j) {
      const double d = a.pauses[j].when.end - a.pauses[j].when.start;
      total += d;
      longest = std::max(longest, d);
      x1 = std::max(x1, x(a.pauses[j].when.end));
    }
    const Pause& p = a.pauses[i];
    const std::string title =
        j - i == 1
            ? "pause of " + seconds(total) + " (" +
                  (p.kind < std::size(event::kPauseKindNames)
                       ? std::string(event::kPauseKindNames[p.kind])
                       : "kind " + std::to_string(p.kind)) +
                  ", collection " + std::to_string(p.trace) + ") ending at " + seconds(p.when.end)
            : std::to_string(j - i) + " pauses from " + seconds(p.when.start) + ": total " +
                  seconds(total) + ", longest " + seconds(longest);
    c.rect(x0, x1, lane2, lane2 + 32, "#c0392b", title, "pause");
    i = j;
  }
  c.frame();
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& [reason, colour] : colours)
    keys.emplace_back(colour, reason.empty() ? "(no reason given)" : reason);
  keys.emplace_back("#c0392b", "pause (the mutator stopped)");
  std::string out = c.svg() + legend(keys);
  if (drawn > kMostBars)
    out += "<p class=\"note\">The first " + std::to_string(kMostBars) + " of " +
           std::to_string(a.collections.size()) + " collections are drawn.</p>\n";
  return out;
}

std::string collectionTable(const Analysis& a) {
  if (a.collections.empty()) return empty("collections-empty", "no collections");
  std::string out =
      "<details><summary>Every collection</summary>\n<table "
      "id=\"collections-table\"><thead><tr><th>#</th><th>reason</th><th>start</th>"
      "<th>duration</th><th>pauses</th><th>pause total</th><th>longest pause</th>"
      "<th>condemned</th><th>preserved</th><th>reclaimed</th><th>workers</th></tr></thead>"
      "<tbody>\n";
  std::size_t rows = 0;
  for (const Collection& c : a.collections) {
    if (++rows > kMostCollectionRows) break;
    out += "<tr><td>" + std::to_string(c.trace) + "</td><td>" + escapeText(c.reason) + "</td><td>" +
           seconds(c.start) + "</td><td>" + seconds(c.end - c.start) +
           (c.ended ? "" : " (unfinished)") + "</td>";
    if (c.ended)
      out += "<td>" + std::to_string(c.pauseCount) + "</td><td>" + seconds(c.pauseTotal) +
             "</td><td>" + seconds(c.pauseMax) + "</td><td>" + bytes(double(c.condemned)) +
             "</td><td>" + bytes(double(c.preserved)) + "</td><td>" + bytes(double(c.reclaimed)) +
             "</td><td>" + std::to_string(c.workers) + "</td>";
    else
      out += "<td colspan=\"7\"></td>";
    out += "</tr>\n";
  }
  out += "</tbody></table></details>\n";
  if (rows > kMostCollectionRows)
    out += "<p class=\"note\">The first " + std::to_string(kMostCollectionRows) + " of " +
           std::to_string(a.collections.size()) +
           " collections are listed; the SQLite output has them all.</p>\n";
  return out;
}

std::string pauseHistogram(const Analysis& a) {
  if (a.pauses.empty()) return empty("pause-histogram-empty", "no pauses");
  // Buckets at 1, 2 and 5 times powers of ten seconds, from 10 ns.
  auto bucketOf = [](double d) {
    if (!(d > 1e-8)) return 0;
    const double decades = std::log10(d / 1e-8);
    const int decade = int(std::floor(decades));
    const double within = std::pow(10, decades - decade);
    return std::clamp(decade * 3 + (within >= 5 ? 2 : within >= 2 ? 1 : 0), 0, 60);
  };
  auto lowerEdge = [](int b) {
    return 1e-8 * std::pow(10, b / 3) * (b % 3 == 0 ? 1 : b % 3 == 1 ? 2 : 5);
  };
  std::vector<std::uint64_t> counts(61, 0);
  int lo = 60, hi = 0;
  for (const Pause& p : a.pauses) {
    const int b = bucketOf(p.when.end - p.when.start);
    ++counts[std::size_t(b)];
    lo = std::min(lo, b);
    hi = std::max(hi, b);
  }
  const std::uint64_t most = *std::max_element(counts.begin(), counts.end());
  Chart c("pause-histogram", 260, "pause times, log buckets");
  const Scale y = scale(0, double(most) * 1.1, c.plotBottom(), c.plotTop());
  c.yAxis(y, count, "pauses");
  const double slot = (c.plotRight() - c.plotLeft()) / (hi - lo + 1);
  for (int b = lo; b <= hi; ++b) {
    const double x0 = c.plotLeft() + slot * (b - lo);
    const std::string range = seconds(lowerEdge(b)) + " to " + seconds(lowerEdge(b + 1));
    c.rect(x0 + 2, x0 + slot - 2, y(double(counts[std::size_t(b)])), c.plotBottom(), "#3366cc",
           std::to_string(counts[std::size_t(b)]) + " pauses from " + range, "bar");
    c.text(x0 + slot / 2, c.plotBottom() + 16, seconds(lowerEdge(b)), "middle", "tick");
  }
  c.text((c.plotLeft() + c.plotRight()) / 2, 260 - 6, "pause time (bucket's lower edge)", "middle",
         "axis");
  c.frame();
  return c.svg();
}

std::string mmuChart(const Analysis& a) {
  const double run = a.runEnd - a.runStart;
  if (a.paused.empty())
    return empty("mmu-empty", "no pauses: the mutator was never stopped (utilisation 1)");
  if (!(run > 0)) return empty("mmu-empty", "the run has no length");
  const double lo = std::min(100e-6, run / 10), hi = run;
  Chart c("mmu-chart", 300, "minimum mutator utilisation by window size");
  const Scale x = scale(lo, hi, c.plotLeft(), c.plotRight(), true);
  const Scale y = scale(0, 1, c.plotBottom(), c.plotTop());
  c.xAxis(x, seconds, "window size (log scale)");
  c.yAxis(
      y, [](double v) { return fmt("%.0f%%", v * 100); }, "minimum mutator utilisation");
  const int steps = 80;
  std::string d;
  for (int i = 0; i <= steps; ++i) {
    const double w = lo * std::pow(hi / lo, double(i) / steps);
    const double u = minimumMutatorUtilisation(a.paused, a.runStart, a.runEnd, w);
    d += fmt("%s%.1f %.1f", i == 0 ? "M" : "L", x(w), y(u));
  }
  c.path(d, "#2e8b57", "MMU: the least fraction of any window of this size left to the mutator");
  for (double w : {1e-3, 10e-3, 100e-3}) {
    if (w < lo || w > hi) continue;
    const double u = minimumMutatorUtilisation(a.paused, a.runStart, a.runEnd, w);
    c.line(x(w), c.plotTop(), x(w), c.plotBottom(), "marker");
    c.text(x(w) + 4, y(u) - 6, "MMU(" + seconds(w) + ") = " + fmt("%.0f%%", u * 100));
  }
  c.frame();
  return c.svg();
}

std::string workersChart(const Analysis& a) {
  if (a.workers.empty()) return empty("workers-empty", "no marking work (no TraceWorker events)");
  double most = 0;
  for (const WorkerWork& w : a.workers)
    most = std::max({most, double(w.objectsScanned), double(w.objectsMarked)});
  const double row = 30;
  const std::size_t shown = std::min<std::size_t>(a.workers.size(), 64);
  Chart c("workers-chart", kTop + kBottom + row * double(shown), "marking work per worker");
  const Scale x = scale(0, most * 1.05, c.plotLeft(), c.plotRight());
  c.xAxis(x, count, "objects, summed over all collections");
  for (std::size_t i = 0; i < shown; ++i) {
    const WorkerWork& w = a.workers[i];
    const double y0 = c.plotTop() + row * double(i) + 4;
    const std::string who = "worker " + std::to_string(w.worker);
    c.text(c.plotLeft() - 6, y0 + 15, who, "end", "tick");
    c.rect(x(0), x(double(w.objectsScanned)), y0, y0 + 11, "#3366cc",
           who + ": " + std::to_string(w.objectsScanned) + " objects (" +
               bytes(double(w.bytesScanned)) + ") scanned in " + std::to_string(w.traces) +
               " collections",
           "bar");
    c.rect(x(0), x(double(w.objectsMarked)), y0 + 12, y0 + 23, "#dc7633",
           who + ": " + std::to_string(w.objectsMarked) + " objects marked", "bar");
  }
  c.frame();
  return c.svg() + legend({{"#3366cc", "objects scanned"}, {"#dc7633", "objects marked"}});
}

std::string poolsTable(const Analysis& a) {
  if (a.pools.empty()) return empty("pools-empty", "no pools (turn on the pool category)");
  std::string out =
      "<table id=\"pools-table\"><thead><tr><th>pool</th><th>label</th><th>class</th>"
      "<th>format</th><th>arena</th><th>created</th><th>destroyed</th><th>segments at the "
      "end</th><th>peak segment memory</th></tr></thead><tbody>\n";
  for (const PoolRow& p : a.pools) {
    auto formatLabel = a.labels.find(p.format);
    out += "<tr><td><code>" + hex(p.pool) + "</code></td><td>" + escapeText(p.label) + "</td><td>" +
           escapeText(p.className) + "</td><td>" +
           (p.format == 0                   ? std::string("none")
            : formatLabel != a.labels.end() ? escapeText(formatLabel->second)
                                            : "<code>" + hex(p.format) + "</code>") +
           "</td><td><code>" + hex(p.arena) + "</code></td><td>" + seconds(p.created) +
           "</td><td>" + (p.destroyed < 0 ? std::string("—") : seconds(p.destroyed)) + "</td><td>" +
           std::to_string(p.segments) + "</td><td>" + bytes(double(p.peakSegmentBytes)) +
           "</td></tr>\n";
  }
  return out + "</tbody></table>\n";
}

std::string summary(const Stream& s, const Analysis& a, const std::string& source) {
  double pauseTotal = 0, pauseMax = 0;
  for (const Pause& p : a.pauses) {
    pauseTotal += p.when.end - p.when.start;
    pauseMax = std::max(pauseMax, p.when.end - p.when.start);
  }
  auto row = [](const std::string& k, const std::string& v) {
    return "<tr><th>" + escape(k) + "</th><td>" + v + "</td></tr>";
  };
  std::string out = "<table id=\"summary-table\">";
  out += row("stream", "<code>" + escapeText(source) + "</code>");
  out +=
      row("process", std::to_string(s.header.processId) + ", started " + escape(startWallClock(s)));
  out += row("events", std::to_string(s.events.size()) + " in " + seconds(a.runEnd - a.runStart));
  out += row("collections", std::to_string(a.collections.size()));
  out += row("pauses", std::to_string(a.pauses.size()) + ", total " + seconds(pauseTotal) +
                           ", longest " + seconds(pauseMax));
  out += row("peak committed memory", bytes(double(a.peakCommitted)));
  out += "</table>\n";
  if (s.error)
    out += "<p class=\"warning\" id=\"stream-error\">The stream is damaged or cut short: " +
           escapeText(s.error->what()) + ". The report shows the events before that point.</p>\n";
  if (a.eventsDropped > 0)
    out += "<p class=\"warning\" id=\"events-dropped\">The library dropped " +
           std::to_string(a.eventsDropped) + " events (its buffers were full).</p>\n";
  return out;
}

std::string eventCounts(const Stream& s) {
  std::vector<std::uint64_t> counts(kinds().size(), 0);
  for (const Event& e : s.events)
    ++counts[std::size_t(e.kind - kinds().data())];
  std::string out =
      "<table id=\"event-counts\"><thead><tr><th>kind</th><th>category</th><th>events</th>"
      "</tr></thead><tbody>\n";
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (counts[i] > 0)
      out += "<tr><td>" + std::string(kinds()[i].name()) + "</td><td>" + kinds()[i].category() +
             "</td><td>" + std::to_string(counts[i]) + "</td></tr>\n";
  return out + "</tbody></table>\n";
}

constexpr const char* kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px}th,td{padding:2px 8px;text-align:left}
tbody tr:nth-child(odd){background:#f4f4f4}thead th{border-bottom:1px solid #999}
svg{display:block;font-size:11px}.grid{stroke:#ddd}.frame{fill:none;stroke:#888}
.tick{fill:#555}.axis{fill:#333}.note{fill:#222;font-size:12px}p.note{font-size:12px}
.line{fill:none;stroke-width:1.8}.marker{stroke:#999;stroke-dasharray:4 3}
.band{opacity:.7}.collection{opacity:.85}
.legend{list-style:none;padding:0;margin:4px 0 0 80px;font-size:12px}
.legend li{display:inline-block;margin-right:16px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
.empty{color:#777;font-style:italic}.warning{color:#a00}
)";

}  // namespace

void writeHtml(const Stream& s, const std::string& source, std::ostream& out) {
  const Analysis a = analyse(s);
  std::string page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  // Headings name the file; the summary gives the whole path.
  const std::string file = source.substr(source.find_last_of('/') + 1);
  page += "<title>MPS++ collector report: " + escapeText(file) + "</title>";
  page += "<style>" + std::string(kStyle) + "</style></head><body>\n";
  page += "<h1>What the collector did: <code>" + escapeText(file) + "</code></h1>\n";
  page += "<section id=\"summary\"><h2>Summary</h2>\n" + summary(s, a, source) + "</section>\n";
  page +=
      "<section id=\"memory\"><h2>Committed memory</h2>\n" +
      (a.committed.empty()
           ? empty("memory-empty", "no CommitChange events (turn on the arena category)")
           : stepChart("memory-chart", "committed memory over time", a.committed, a, "committed")) +
      "</section>\n";
  page += "<section id=\"generations\"><h2>Generation sizes</h2>\n" +
          (a.generations.empty()
               ? empty("generations-empty", "no GenerationSize events (turn on the pool category)")
               : stepChart("generations-chart", "each generation's size over time", a.generations,
                           a, "size")) +
          "</section>\n";
  page += "<section id=\"collections\"><h2>Collections</h2>\n" + timeline(a) + collectionTable(a) +
          "</section>\n";
  page += "<section id=\"pauses\"><h2>Pauses</h2>\n<h3>Pause times</h3>\n" + pauseHistogram(a) +
          "<h3>Minimum mutator utilisation</h3>\n" + mmuChart(a) + "</section>\n";
  page += "<section id=\"workers\"><h2>Marking work per worker</h2>\n" + workersChart(a) +
          "</section>\n";
  page += "<section id=\"pools\"><h2>Pools</h2>\n" + poolsTable(a) + "</section>\n";
  page +=
      "<section id=\"events\"><h2>Events in the stream</h2>\n" + eventCounts(s) + "</section>\n";
  page +=
      "<footer><p class=\"note\">Made by mps-events from an MPS++ telemetry stream.</p>"
      "</footer></body></html>\n";
  out << page;
}

}  // namespace mps::events
