// SQLite backend (studio mode). WAL journal + synchronous=FULL: a committed row survives kill -9
// and power loss; several connections (one per server thread) read concurrently, writers queue on
// the busy timeout.
#include <sqlite3.h>

#include <string>
#include <unordered_map>

#include "db.h"
#include "row.h"

namespace keel::fleet {

const std::string& Row::s(size_t i) const {
  const auto& c = cols.at(i);
  if (!c) throw DbError(DbError::Kind::other, "unexpected NULL in column " + std::to_string(i));
  return *c;
}

int64_t Row::i(size_t i) const { return std::stoll(s(i)); }

namespace row_detail {
void unexpected_null(size_t index) {
  throw DbError(DbError::Kind::other, "unexpected NULL in column " + std::to_string(index));
}
}  // namespace row_detail

namespace {

class SqliteDb final : public Db {
 public:
  explicit SqliteDb(const std::string& path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw DbError(DbError::Kind::other, "cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
    exec_script(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
        "PRAGMA cache_size=-8000;");
  }
  ~SqliteDb() override {
    for (auto& [k, st] : cache_) sqlite3_finalize(st);
    sqlite3_close(db_);
  }

  Dialect dialect() const override { return Dialect::sqlite; }

  Rows query(std::string_view sql, const std::vector<Value>& params) override {
    sqlite3_stmt* st = prepare(sql);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (size_t k = 0; k < params.size(); ++k) {
      std::string name(1, '$');  // built by append: GCC 12's -Wrestrict misfires on "$" + to_string()
      name += std::to_string(k + 1);
      int idx = sqlite3_bind_parameter_index(st, name.c_str());
      if (idx == 0) continue;  // parameter not used by this statement
      const Value& v = params[k];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::nullptr_t>(v)) rc = sqlite3_bind_null(st, idx);
      else if (auto* n = std::get_if<int64_t>(&v)) rc = sqlite3_bind_int64(st, idx, *n);
      else {
        const auto& s = std::get<std::string>(v);
        rc = sqlite3_bind_text(st, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
      if (rc != SQLITE_OK) fail(rc, sql);
    }
    Rows rows;
    for (;;) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        fail(rc, sql);
      }
      int n = sqlite3_column_count(st);
      Row row;
      row.cols.reserve(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        if (sqlite3_column_type(st, c) == SQLITE_NULL) {
          row.cols.emplace_back(std::nullopt);
        } else {
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
          int len = sqlite3_column_bytes(st, c);
          row.cols.emplace_back(std::string(p, static_cast<size_t>(len)));
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_reset(st);
    return rows;
  }

  void exec_script(std::string_view sql) override {
    char* err = nullptr;
    std::string s(sql);
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : "unknown";
      sqlite3_free(err);
      throw DbError(kind_of(rc), "SQLite: " + msg);
    }
  }

  void begin() override {
    // IMMEDIATE takes the write lock up front, so two writers never deadlock on lock upgrade.
    exec_script("BEGIN IMMEDIATE");
    in_tx_ = true;
  }
  void commit() override {
    exec_script("COMMIT");
    in_tx_ = false;
  }
  void rollback() override {
    in_tx_ = false;
    exec_script("ROLLBACK");
  }
  bool in_transaction() const override { return in_tx_; }

 private:
  static DbError::Kind kind_of(int rc) {
    switch (rc & 0xff) {
      case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return DbError::Kind::foreign_key;
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
          return DbError::Kind::unique_violation;
        return DbError::Kind::other;
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return DbError::Kind::busy;
      default:
        return DbError::Kind::other;
    }
  }
  [[noreturn]] void fail(int rc, std::string_view sql) {
    int ext = sqlite3_extended_errcode(db_);
    throw DbError(kind_of(ext ? ext : rc),
                  std::string("SQLite: ") + sqlite3_errmsg(db_) + " in: " + std::string(sql.substr(0, 120)));
  }
  sqlite3_stmt* prepare(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it != cache_.end()) return it->second;
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st,
                                nullptr);
    if (rc != SQLITE_OK) fail(rc, sql);
    cache_.emplace(std::string(sql), st);
    return st;
  }

  sqlite3* db_ = nullptr;
  bool in_tx_ = false;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace

std::unique_ptr<Db> open_sqlite(const std::string& path) { return std::make_unique<SqliteDb>(path); }

DbPool::DbPool(std::function<std::unique_ptr<Db>()> factory, size_t size) : factory_(std::move(factory)) {
  for (size_t k = 0; k < size; ++k) free_.push_back(factory_());
  dialect_ = free_.front()->dialect();
}

DbPool::Lease DbPool::acquire() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !free_.empty(); });
  auto db = std::move(free_.back());
  free_.pop_back();
  return Lease(this, std::move(db));
}

void DbPool::release(std::unique_ptr<Db> db) {
  if (db->in_transaction()) {
    // A transaction left open by an exception path: roll back; if even that fails, the
    // connection is in an unknown state, so replace it.
    try {
      db->rollback();
    } catch (...) {
      db = factory_();
    }
  }
  {
    std::lock_guard lk(mu_);
    free_.push_back(std::move(db));
  }
  cv_.notify_one();
}

DbPool::Lease::~Lease() {
  if (pool_ && db_) pool_->release(std::move(db_));
}

}  // namespace keel::fleet
