// The HTML report loaded in headless Chromium (Debian `chromium`): the page
// must render every section's element and log no error. Skipped, with a
// message, only when Chromium is not installed (scripts/install-deps.sh
// installs it). MPS_CHROMIUM names another browser binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "formats.hpp"
#include "stream_builder.hpp"

namespace {

namespace fs = std::filesystem;

std::string chromium() {
  if (const char* env = std::getenv("MPS_CHROMIUM")) return env;
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Rendered {
  int status;
  std::string dom, log;
};

// Loads the page with the network and every background service off, in a
// fresh profile, and returns the DOM after load and the browser's log.
Rendered render(const fs::path& page, const fs::path& work) {
  const fs::path profile = work / "profile";
  fs::remove_all(profile);
  const std::string cmd =
      chromium() +
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
      " --disable-background-networking --disable-component-update --disable-sync"
      " --disable-default-apps --disable-extensions --user-data-dir=" +
      profile.string() + " --enable-logging=stderr --v=0 --dump-dom file://" + page.string() +
      " >" + (work / "dom.html").string() + " 2>" + (work / "chromium.log").string();
  const int st = std::system(cmd.c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(work / "dom.html"),
          slurp(work / "chromium.log")};
}

// Lines of the browser's log that report a problem with the page. The
// report has no script, so anything on its console (Chromium logs console
// messages of every level as INFO:CONSOLE) is a problem: a script error, a
// refused or failed load, a parse warning.
std::string pageErrors(const std::string& log) {
  std::istringstream in(log);
  std::string bad;
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("Refused to") != std::string::npos || line.find("net::ERR_") != std::string::npos)
      bad += line + "\n";
  }
  return bad;
}

// The page needs nothing from outside itself: no script, stylesheet, image
// or frame from anywhere, not even the file system.
std::string externalReferences(const std::string& html) {
  std::string found;
  for (const char* needle :
       {"<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"})
    if (html.find(needle) != std::string::npos) found += std::string(needle) + " ";
  return found;
}

fs::path workDir(const std::string& name) {
  const fs::path d = fs::path(MPS_TEST_WORK_DIR) / name;
  fs::create_directories(d);
  return d;
}

fs::path writeReport(const std::vector<unsigned char>& bytes, const fs::path& dir) {
  const auto s = mps::events::parse(bytes);
  const fs::path page = dir / "report.html";
  std::ofstream out(page, std::ios::binary);
  mps::events::writeHtml(s, "synthetic.mpsev", out);
  return page;
}

TEST(ReportInChromium, RunWithCollections) {
  if (chromium().empty()) GTEST_SKIP() << "Chromium is not installed (scripts/install-deps.sh)";
  const fs::path dir = workDir("run");
  const fs::path page = writeReport(mps::test::syntheticRun(24), dir);
  const Rendered r = render(page, dir);
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_EQ(pageErrors(r.log), "");
  for (const char* id :
       {"summary", "summary-table", "memory", "memory-chart", "generations", "generations-chart",
        "collections", "timeline", "collections-table", "pauses", "pause-histogram", "mmu-chart",
        "workers", "workers-chart", "pools", "pools-table", "events", "event-counts"})
    EXPECT_NE(r.dom.find(std::string("id=\"") + id + "\""), std::string::npos)
        << "no element with id " << id << " in the rendered page";
  // The parts that make a chart a chart, as the browser parsed them.
  EXPECT_NE(r.dom.find("<rect class=\"collection\""), std::string::npos);
  EXPECT_NE(r.dom.find("<rect class=\"pause\""), std::string::npos);
  EXPECT_NE(r.dom.find("MMU(10 ms)"), std::string::npos);
  EXPECT_NE(r.dom.find("the whole heap is full"), std::string::npos);
  EXPECT_EQ(externalReferences(slurp(page)), "");
}

// The checks above catch a page that logs an error: a page that does is
// caught.
TEST(ReportInChromium, ABrokenPageIsCaught) {
  if (chromium().empty()) GTEST_SKIP() << "Chromium is not installed (scripts/install-deps.sh)";
  const fs::path dir = workDir("broken");
  const fs::path page = dir / "broken.html";
  std::ofstream(page) << "<!DOCTYPE html><html><body><script>console.error('boom');"
                         "undefinedFunction();</script></body></html>";
  const Rendered r = render(page, dir);
  EXPECT_NE(pageErrors(r.log).find("boom"), std::string::npos) << r.log;
  EXPECT_NE(pageErrors(r.log).find("Uncaught ReferenceError"), std::string::npos) << r.log;
  EXPECT_NE(externalReferences(slurp(page)), "");
}

TEST(ReportInChromium, EmptyAndSingleEventStreams) {
  if (chromium().empty()) GTEST_SKIP() << "Chromium is not installed (scripts/install-deps.sh)";
  mps::test::StreamBuilder one;
  one.add(mps::event::EventKind::CommitChange, 1, 5, {1, 4096, 0, 0});
  const std::pair<const char*, std::vector<unsigned char>> cases[] = {
      {"empty", mps::test::StreamBuilder().bytes()}, {"single", one.bytes()}};
  for (const auto& [name, bytes] : cases) {
    const fs::path dir = workDir(name);
    const Rendered r = render(writeReport(bytes, dir), dir);
    ASSERT_EQ(r.status, 0) << name << ": " << r.log;
    EXPECT_EQ(pageErrors(r.log), "") << name;
    EXPECT_NE(r.dom.find("id=\"collections-empty\""), std::string::npos) << name;
    EXPECT_NE(r.dom.find("no collections"), std::string::npos) << name;
    EXPECT_NE(r.dom.find("id=\"event-counts\""), std::string::npos) << name;
  }
}

}  // namespace
