// db.h — the one SQL interface Fleet's domain code talks to, with two backends:
// SQLite (studio mode: one local file) and PostgreSQL via libpqxx (fleet mode).
//
// SQL is written once, in the common subset of both dialects, with `$1`, `$2` … placeholders
// (PostgreSQL's syntax; SQLite accepts `$N` as a named parameter and we bind it by name).
// Values are NULL, 64-bit integers or text; blobs never go into the database (see blob_store.h).
//
// Errors are thrown as DbError: Fleet's request handlers abort a request by exception and the
// router turns it into one error response (kernel/device code keeps to Result, DESIGN §7).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace keel::fleet {

using Value = std::variant<std::nullptr_t, int64_t, std::string>;

// NULL for an empty optional.
template <class T>
Value value_or_null(const std::optional<T>& v) {
  return v ? Value(*v) : Value(nullptr);
}

enum class Dialect { sqlite, postgres };

class DbError : public std::runtime_error {
 public:
  enum class Kind { unique_violation, foreign_key, busy, other };
  DbError(Kind k, const std::string& msg) : std::runtime_error(msg), kind(k) {}
  Kind kind;
};

struct Row {
  std::vector<std::optional<std::string>> cols;
  bool null(size_t i) const { return !cols.at(i).has_value(); }
  const std::string& s(size_t i) const;
  int64_t i(size_t i) const;
  std::optional<int64_t> oi(size_t i) const {
    if (null(i)) return std::nullopt;
    return this->i(i);
  }
};
using Rows = std::vector<Row>;

// One connection. Not thread-safe: a connection is used by one request at a time (DbPool).
class Db {
 public:
  virtual ~Db() = default;
  virtual Dialect dialect() const = 0;
  virtual Rows query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Executes several statements without parameters (schema).
  virtual void exec_script(std::string_view sql) = 0;
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
  virtual bool in_transaction() const = 0;

  // Convenience: first row or nullopt.
  std::optional<Row> one(std::string_view sql, const std::vector<Value>& params = {}) {
    Rows r = query(sql, params);
    if (r.empty()) return std::nullopt;
    return std::move(r.front());
  }
};

// RAII transaction: rolls back unless commit() was called.
class Tx {
 public:
  explicit Tx(Db& db) : db_(db) { db_.begin(); }
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;
  ~Tx() {
    if (!done_) {
      try {
        db_.rollback();
      } catch (...) {  // a failed rollback leaves the connection to be discarded by the pool
      }
    }
  }
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  Db& db_;
  bool done_ = false;
};

std::unique_ptr<Db> open_sqlite(const std::string& path);
std::unique_ptr<Db> open_postgres(const std::string& conninfo);

// A fixed set of connections handed out one request at a time.
class DbPool {
 public:
  DbPool(std::function<std::unique_ptr<Db>()> factory, size_t size);
  class Lease {
   public:
    Lease(DbPool* pool, std::unique_ptr<Db> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), db_(std::move(o.db_)) { o.pool_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Db& operator*() { return *db_; }
    Db* operator->() { return db_.get(); }

   private:
    DbPool* pool_;
    std::unique_ptr<Db> db_;
  };
  Lease acquire();
  Dialect dialect() const { return dialect_; }

 private:
  friend class Lease;
  void release(std::unique_ptr<Db> db);
  std::function<std::unique_ptr<Db>()> factory_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Db>> free_;
  Dialect dialect_;
};

}  // namespace keel::fleet
