// The converter's outputs: text, JSON lines, SQLite (with the guide's
// queries), the report's model (MMU exactly), and the program's exit codes.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "analysis.hpp"
#include "formats.hpp"
#include "stream_builder.hpp"

namespace {

using mps::events::Interval;
using mps::events::minimumMutatorUtilisation;
using mps::events::parse;
using mps::events::Stream;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(EventFormats, TextIsOneEventALine) {
  const Stream s = parse(mps::test::syntheticRun(2));
  ASSERT_TRUE(s.complete());
  std::ostringstream out;
  mps::events::writeText(s, "run.mpsev", out);
  const auto ls = lines(out.str());
  ASSERT_EQ(ls.size(), s.events.size() + 2);
  EXPECT_EQ(ls[0].rfind("# MPS++ event stream run.mpsev: format 1, table 0x", 0), 0u) << ls[0];
  EXPECT_TRUE(contains(ls[0], "process 4242, 1000000000 ticks/s, started 2026-")) << ls[0];
  EXPECT_EQ(ls[2],
            "0.000001000 1 ArenaCreate arena=0x7f0000001000 reserved=268435456 "
            "commitLimit=18446744073709551615 clientArena=0");
  EXPECT_TRUE(contains(out.str(),
                       " 1 PoolCreate arena=0x7f0000001000 pool=0x7f0000003000 "
                       "format=0x7f0000005000 \"AMC\"\n"));
}

TEST(EventFormats, JsonLines) {
  mps::test::StreamBuilder b;
  b.add(mps::event::EventKind::Intern, 3, 77, {9}, "a \"quoted\"\ttab \xff");
  b.add(mps::event::EventKind::TracePause, 1, 90, {1, 2, 0, 50});
  const Stream s = parse(b.bytes());
  std::ostringstream out;
  mps::events::writeJsonLines(s, "x", out);
  const auto ls = lines(out.str());
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(ls[0].rfind("{\"stream\":{\"file\":\"x\",\"version\":1,", 0), 0u) << ls[0];
  EXPECT_EQ(ls[1],
            "{\"event\":\"Intern\",\"code\":120,\"time\":77,\"thread\":3,\"fields\":{\"label\":9},"
            "\"text\":\"a \\\"quoted\\\"\\u0009tab \\u00ff\"}");
  EXPECT_EQ(ls[2],
            "{\"event\":\"TracePause\",\"code\":46,\"time\":90,\"thread\":1,\"fields\":{\"arena\":"
            "1,\"trace\":2,\"kind\":0,\"duration\":50}}");
}

// Runs a query and returns its rows, columns separated by '|'.
std::vector<std::string> query(sqlite3* db, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
      << sql << ": " << sqlite3_errmsg(db);
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      if (c > 0) row += '|';
      const unsigned char* v = sqlite3_column_text(st, c);
      row += v != nullptr ? reinterpret_cast<const char*>(v) : "NULL";
    }
    rows.push_back(row);
  }
  sqlite3_finalize(st);
  return rows;
}

TEST(EventFormats, SqliteHasATablePerKind) {
  const Stream s = parse(mps::test::syntheticRun(5));
  const auto path = std::filesystem::temp_directory_path() /
                    ("mps-events-test-" + std::to_string(::getpid()) + ".db");
  std::string message;
  ASSERT_TRUE(mps::events::writeSqlite(s, "run.mpsev", path.string(), message)) << message;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(query(db, "SELECT count(*) FROM kinds"),
            std::vector<std::string>{std::to_string(std::size(mps::event::kKinds))});
  for (const auto& k : mps::events::kinds())  // every table exists, even if empty
    EXPECT_EQ(query(db, "SELECT count(*) FROM \"" + std::string(k.name()) + "\"").size(), 1u);
  EXPECT_EQ(query(db, "SELECT file, version, ticksPerSecond, processId, error FROM streams"),
            std::vector<std::string>{"run.mpsev|1|1000000000|4242|NULL"});
  EXPECT_EQ(query(db, "SELECT events FROM kinds WHERE name = 'TraceStart'"),
            std::vector<std::string>{"5"});
  EXPECT_EQ(query(db, "SELECT text, time, thread FROM PoolCreate ORDER BY time"),
            (std::vector<std::string>{"AMC|3000|1", "MVFF|3500|1"}));
  // The guide's queries (manual/guide/seeing-what-the-collector-does.md).
  EXPECT_EQ(query(db,
                  "SELECT s.trace, s.text AS reason,\n"
                  "       e.duration * 1000.0 / (SELECT ticksPerSecond FROM streams) AS ms,\n"
                  "       e.pauseMax * 1000.0 / (SELECT ticksPerSecond FROM streams) AS "
                  "longest_pause_ms\n"
                  "FROM TraceStart s JOIN TraceEnd e USING (arena, trace)\n"
                  "ORDER BY e.duration DESC LIMIT 5")
                .size(),
            5u);
  EXPECT_EQ(query(db,
                  "SELECT count(*), max(duration) * 1e6 / (SELECT ticksPerSecond FROM streams)\n"
                  "FROM TracePause GROUP BY kind ORDER BY kind")
                .size(),
            2u);
  EXPECT_EQ(query(db, "SELECT max(committed) / 1048576.0 AS peak_mib FROM CommitChange").size(),
            1u);
  EXPECT_EQ(query(db,
                  "SELECT worker, sum(objectsScanned), sum(objectsMarked) FROM TraceWorker\n"
                  "GROUP BY worker ORDER BY worker"),
            (std::vector<std::string>{"0|45000|24000", "1|60000|36000", "2|75000|48000"}));
  EXPECT_EQ(query(db,
                  "SELECT p.text, i.text FROM PoolCreate p JOIN Label l ON l.address = "
                  "p.pool JOIN Intern i ON i.label = l.label"),
            std::vector<std::string>{"AMC|the heap"});
  sqlite3_close(db);
  std::filesystem::remove(path);
}

TEST(EventAnalysis, MinimumMutatorUtilisationIsExact) {
  const double ms = 1e-3;
  // One 10 ms pause in a second.
  std::vector<Interval> one{{0.5, 0.5 + 10 * ms}};
  EXPECT_DOUBLE_EQ(minimumMutatorUtilisation(one, 0, 1, 5 * ms), 0);
  EXPECT_DOUBLE_EQ(minimumMutatorUtilisation(one, 0, 1, 10 * ms), 0);
  EXPECT_NEAR(minimumMutatorUtilisation(one, 0, 1, 20 * ms), 0.5, 1e-12);
  EXPECT_NEAR(minimumMutatorUtilisation(one, 0, 1, 1), 0.99, 1e-12);
  // Two 10 ms pauses 5 ms apart: a 25 ms window holds both.
  std::vector<Interval> two{{0.1, 0.11}, {0.115, 0.125}};
  EXPECT_NEAR(minimumMutatorUtilisation(two, 0, 1, 25 * ms), 0.2, 1e-12);
  EXPECT_NEAR(minimumMutatorUtilisation(two, 0, 1, 15 * ms), 1.0 / 3, 1e-12);
  EXPECT_NEAR(minimumMutatorUtilisation(two, 0, 1, 40 * ms), 0.5, 1e-12);
  // A pause at the very start of the run cannot be straddled.
  std::vector<Interval> first{{0, 10 * ms}};
  EXPECT_NEAR(minimumMutatorUtilisation(first, 0, 1, 20 * ms), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(minimumMutatorUtilisation({}, 0, 1, 20 * ms), 1);
  // A brute-force check on many pauses.
  std::vector<Interval> many;
  for (int i = 0; i < 40; ++i)
    many.push_back(
        {i * 0.024 + (i % 7) * 0.001, i * 0.024 + (i % 7) * 0.001 + (i % 5 + 1) * 0.0009});
  many = mps::events::unionOf(many);
  for (double w : {0.0005, 0.002, 0.013, 0.05, 0.3}) {
    double worst = 0;
    for (double a = 0; a + w <= 1.0; a += 1e-5) {
      double p = 0;
      for (const Interval& i : many)
        p += std::max(0.0, std::min(i.end, a + w) - std::max(i.start, a));
      worst = std::max(worst, p);
    }
    EXPECT_NEAR(minimumMutatorUtilisation(many, 0, 1, w), (w - worst) / w, 2e-5 / w) << w;
  }
}

TEST(EventAnalysis, ModelOfARun) {
  const Stream s = parse(mps::test::syntheticRun(8));
  const auto a = mps::events::analyse(s);
  ASSERT_EQ(a.collections.size(), 8u);
  EXPECT_EQ(a.collections[3].reason, "the whole heap is full");
  EXPECT_TRUE(a.collections[0].ended);
  EXPECT_EQ(a.pauses.size(), 16u);
  EXPECT_EQ(a.workers.size(), 3u);
  ASSERT_EQ(a.pools.size(), 2u);
  EXPECT_EQ(a.pools[0].label, "the heap");
  EXPECT_EQ(a.pools[0].segments, 32u);
  EXPECT_GT(a.pools[1].destroyed, 0);
  EXPECT_EQ(a.committed.size(), 1u);
  EXPECT_EQ(a.generations.size(), 2u);
}

TEST(EventReport, EmptySectionsSaySo) {
  const Stream s = parse(mps::test::StreamBuilder().bytes());
  std::ostringstream out;
  mps::events::writeHtml(s, "empty.mpsev", out);
  for (const char* id : {"timeline-empty", "collections-empty", "pause-histogram-empty",
                         "mmu-empty", "workers-empty", "pools-empty", "memory-empty"})
    EXPECT_TRUE(contains(out.str(), std::string("id=\"") + id + "\"")) << id;
  EXPECT_TRUE(contains(out.str(), "no collections"));
  EXPECT_FALSE(contains(out.str(), "<script"));
}

// The program itself, as a user runs it.
struct ProgramRun {
  int status;
  std::string out;
};
ProgramRun run(const std::string& args) {
  const std::string cmd = std::string(MPS_EVENTS_PROGRAM) + " " + args + " 2>&1";
  ProgramRun r{-1, {}};
  if (std::FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
      r.out.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  return r;
}

TEST(EventProgram, ExitStatusAndMessages) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("mps-events-program-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const char* name, const std::vector<unsigned char>& bytes) {
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return (dir / name).string();
  };
  const auto whole = mps::test::syntheticRun(3);
  const std::string good = write("good.mpsev", whole);
  const std::string cut =
      write("cut.mpsev", std::vector<unsigned char>(whole.begin(), whole.begin() + 1001));
  const std::string junk = write("junk.mpsev", {'#', '!', '/', 'b', 'i', 'n'});

  EXPECT_EQ(run("--help").status, 0);
  EXPECT_TRUE(contains(run("--help").out, "usage: mps-events"));
  EXPECT_EQ(run("").status, 2);
  EXPECT_EQ(run("frobnicate " + good).status, 2);
  EXPECT_EQ(run("check " + good).status, 0);
  EXPECT_EQ(run("text " + good).status, 0);
  EXPECT_EQ(run("check /nonexistent/x").status, 2);

  const ProgramRun bad = run("check " + junk);
  EXPECT_EQ(bad.status, 1);
  EXPECT_TRUE(contains(bad.out, "offset 0: not an MPS++ event stream (magic \"#!/bin\""))
      << bad.out;

  const ProgramRun text = run("text " + cut);  // prints what came before, then fails
  EXPECT_EQ(text.status, 1);
  EXPECT_TRUE(contains(text.out, "ArenaCreate")) << text.out;
  EXPECT_TRUE(contains(text.out, "stream ends inside a")) << text.out;

  const std::string html = (dir / "r.html").string();
  EXPECT_EQ(run("html -o " + html + " " + cut).status, 1);
  EXPECT_FALSE(std::filesystem::exists(html));
  EXPECT_EQ(run("--partial html -o " + html + " " + cut).status, 0);
  EXPECT_TRUE(std::filesystem::exists(html));
  EXPECT_EQ(run("sqlite " + good).status, 2);  // needs -o
  EXPECT_EQ(run("sqlite -o " + (dir / "r.db").string() + " " + good).status, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
