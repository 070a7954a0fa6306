// SQLite output: one table per event kind (design/mps-events.md).
#include <sqlite3.h>

#include <cstdio>

#include "formats.hpp"

namespace mps::events {
namespace {

std::string quoteIdentifier(std::string_view name) {
  std::string q = "\"";
  for (char c : name)
    q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + '"';
}

// One database connection and the first error it met.
class Database {
 public:
  explicit Database(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) fail("open " + path);
  }
  ~Database() { sqlite3_close(db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  bool ok() const { return message_.empty(); }
  const std::string& message() const { return message_; }

  void exec(const std::string& sql) {
    if (!ok()) return;
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      message_ = std::string(err != nullptr ? err : "error") + " in: " + sql;
      sqlite3_free(err);
    }
  }
  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (ok() && sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      fail("prepare " + sql);
    return st;
  }
  void step(sqlite3_stmt* st) {
    if (ok() && sqlite3_step(st) != SQLITE_DONE) fail("insert");
    sqlite3_reset(st);
  }

 private:
  void fail(const std::string& what) {
    if (ok()) message_ = what + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory");
  }
  sqlite3* db_ = nullptr;
  std::string message_;
};

// SQLite integers are signed 64-bit: values above 2^63 wrap (documented).
sqlite3_int64 asInteger(std::uint64_t v) {
  return static_cast<sqlite3_int64>(v);
}

void bindText(sqlite3_stmt* st, int column, std::string_view text) {
  sqlite3_bind_text(st, column, text.data(), int(text.size()), SQLITE_TRANSIENT);
}

}  // namespace

bool writeSqlite(const Stream& s, const std::string& source, const std::string& path,
                 std::string& message) {
  std::remove(path.c_str());
  Database db(path);
  db.exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN");
  db.exec(
      "CREATE TABLE streams(file TEXT, version INTEGER, tableHash INTEGER, wordBytes INTEGER, "
      "ticksPerSecond INTEGER, startTime INTEGER, startWallNs INTEGER, startWallClock TEXT, "
      "processId INTEGER, events INTEGER, bytes INTEGER, error TEXT)");
  db.exec(
      "CREATE TABLE kinds(code INTEGER PRIMARY KEY, name TEXT, category TEXT, hasText INTEGER, "
      "fields TEXT, events INTEGER)");

  std::vector<sqlite3_int64> counts(kinds().size(), 0);
  for (const Event& e : s.events)
    ++counts[std::size_t(e.kind - kinds().data())];

  if (sqlite3_stmt* st = db.prepare("INSERT INTO streams VALUES(?,?,?,?,?,?,?,?,?,?,?,?)")) {
    const event::FileHeader& h = s.header;
    bindText(st, 1, source);
    sqlite3_bind_int64(st, 2, h.version);
    sqlite3_bind_int64(st, 3, asInteger(h.tableHash));
    sqlite3_bind_int64(st, 4, h.wordBytes);
    sqlite3_bind_int64(st, 5, asInteger(h.ticksPerSecond));
    sqlite3_bind_int64(st, 6, asInteger(h.startTime));
    sqlite3_bind_int64(st, 7, asInteger(h.startWallNs));
    const std::string wall = startWallClock(s);
    bindText(st, 8, wall);
    sqlite3_bind_int64(st, 9, asInteger(h.processId));
    sqlite3_bind_int64(st, 10, sqlite3_int64(s.events.size()));
    sqlite3_bind_int64(st, 11, sqlite3_int64(s.bytes.size()));
    if (s.error) {
      const std::string what = s.error->what();
      bindText(st, 12, what);
    } else {
      sqlite3_bind_null(st, 12);
    }
    db.step(st);
    sqlite3_finalize(st);
  }

  // One table per kind, even an empty one, so that queries never fail for
  // want of a table; statements indexed like kinds().
  std::vector<sqlite3_stmt*> inserts;
  sqlite3_stmt* kindRow = db.prepare("INSERT INTO kinds VALUES(?,?,?,?,?,?)");
  for (const Kind& k : kinds()) {
    std::string columns = "time INTEGER, thread INTEGER";
    std::string marks = "?,?";
    for (const std::string& f : k.fields) {
      columns += ", " + quoteIdentifier(f) + " INTEGER";
      marks += ",?";
    }
    if (k.hasText()) {
      columns += ", text TEXT";
      marks += ",?";
    }
    const std::string table = quoteIdentifier(k.name());
    db.exec("CREATE TABLE " + table + "(" + columns + ")");
    inserts.push_back(db.prepare("INSERT INTO " + table + " VALUES(" + marks + ")"));
    if (kindRow != nullptr) {
      sqlite3_bind_int64(kindRow, 1, k.code());
      bindText(kindRow, 2, k.name());
      bindText(kindRow, 3, k.category());
      sqlite3_bind_int64(kindRow, 4, k.hasText() ? 1 : 0);
      bindText(kindRow, 5, k.info->fields);
      sqlite3_bind_int64(kindRow, 6, counts[inserts.size() - 1]);
      db.step(kindRow);
    }
  }
  sqlite3_finalize(kindRow);

  for (const Event& e : s.events) {
    sqlite3_stmt* st = inserts[std::size_t(e.kind - kinds().data())];
    if (st == nullptr) break;
    sqlite3_bind_int64(st, 1, s.sinceStart(e.time));
    sqlite3_bind_int64(st, 2, e.thread);
    int column = 3;
    for (unsigned i = 0; i < e.kind->fields.size(); ++i)
      sqlite3_bind_int64(st, column++, asInteger(s.field(e, i)));
    if (e.kind->hasText()) bindText(st, column, s.text(e));
    db.step(st);
    if (!db.ok()) break;
  }
  for (sqlite3_stmt* st : inserts)
    sqlite3_finalize(st);
  db.exec("COMMIT");
  message = db.message();
  return db.ok();
}

}  // namespace mps::events
