// PostgreSQL backend (fleet mode) via libpqxx 6. Parameters are sent as text with unspecified
// type, so the server infers each one from its context in the statement.
//
// Each distinct statement text is prepared once per connection (a named server-side prepared
// statement) and executed by name from then on: PostgreSQL parses and plans it once instead of
// on every call (docs/performance.md, Fleet section, has the figures). Statement texts are
// finite (handlers build them from fixed pieces), but a connection still prepares at most
// kMaxPrepared of them and runs any further ones unprepared, so memory stays bounded.
// KEEL_FLEET_PG_NO_PREPARE=1 in the environment turns preparation off (every call parsed and
// planned again, as before) — only for measuring the difference (bench/fleet/run.sh).
#include <algorithm>
#include <cstdlib>
#include <pqxx/pqxx>
#include <unordered_map>

#include "db.h"

namespace keel::fleet {
namespace {

class PgDb final : public Db {
 public:
  explicit PgDb(const std::string& conninfo) {
    const char* off = std::getenv("KEEL_FLEET_PG_NO_PREPARE");
    prepare_ = !(off && std::string_view(off) == "1");
    try {
      conn_ = std::make_unique<pqxx::connection>(conninfo);
    } catch (const std::exception& e) {
      throw DbError(DbError::Kind::other, std::string("cannot connect to PostgreSQL: ") + e.what());
    }
  }
  ~PgDb() override {
    tx_.reset();
    conn_.reset();
  }

  Dialect dialect() const override { return Dialect::postgres; }

  Rows query(std::string_view sql, const std::vector<Value>& all_params) override {
    // PostgreSQL refuses parameters a statement does not use; SQLite ignores them. Pass only up to
    // the highest $N in the text so both behave alike.
    size_t used = 0;
    for (size_t i = 0; i + 1 < sql.size(); ++i) {
      if (sql[i] != '$' || sql[i + 1] < '0' || sql[i + 1] > '9') continue;
      size_t n = 0, j = i + 1;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') n = n * 10 + static_cast<size_t>(sql[j++] - '0');
      used = std::max(used, n);
    }
    std::vector<Value> params(all_params.begin(), all_params.begin() + static_cast<long>(std::min(used, all_params.size())));
    std::vector<std::string> storage;
    storage.reserve(params.size());
    std::vector<const char*> ptrs;
    ptrs.reserve(params.size());
    for (const auto& v : params) {
      if (std::holds_alternative<std::nullptr_t>(v)) {
        storage.emplace_back();
      } else if (auto* n = std::get_if<int64_t>(&v)) {
        storage.push_back(std::to_string(*n));
      } else {
        // PostgreSQL text cannot hold NUL; the API layer rejects it first, this is the backstop.
        const auto& s = std::get<std::string>(v);
        if (s.find('\0') != std::string::npos) throw DbError(DbError::Kind::other, "NUL byte in text value");
        storage.push_back(s);
      }
    }
    for (size_t k = 0; k < params.size(); ++k)
      ptrs.push_back(std::holds_alternative<std::nullptr_t>(params[k]) ? nullptr : storage[k].c_str());
    try {
      pqxx::result r;
      const std::string* name = statement_name(sql);
      auto run = [&](pqxx::transaction_base& t) {
        if (name) return t.exec_prepared(*name, pqxx::prepare::make_dynamic_params(ptrs));
        return t.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(ptrs));
      };
      if (tx_) {
        r = run(*tx_);
      } else {
        pqxx::nontransaction ntx(*conn_);
        r = run(ntx);
      }
      Rows rows;
      rows.reserve(r.size());
      for (const auto& prow : r) {
        Row row;
        row.cols.reserve(prow.size());
        for (const auto& f : prow) {
          if (f.is_null()) row.cols.emplace_back(std::nullopt);
          else row.cols.emplace_back(std::string(f.c_str(), f.size()));
        }
        rows.push_back(std::move(row));
      }
      return rows;
    } catch (const pqxx::unique_violation& e) {
      throw DbError(DbError::Kind::unique_violation, e.what());
    } catch (const pqxx::foreign_key_violation& e) {
      throw DbError(DbError::Kind::foreign_key, e.what());
    } catch (const pqxx::transaction_rollback& e) {
      throw DbError(DbError::Kind::busy, e.what());
    } catch (const pqxx::broken_connection& e) {
      throw DbError(DbError::Kind::other, std::string("PostgreSQL connection lost: ") + e.what());
    } catch (const pqxx::sql_error& e) {
      throw DbError(DbError::Kind::other, std::string("PostgreSQL: ") + e.what());
    }
  }

  void exec_script(std::string_view sql) override {
    try {
      pqxx::nontransaction ntx(*conn_);
      ntx.exec(std::string(sql));
    } catch (const std::exception& e) {
      throw DbError(DbError::Kind::other, std::string("PostgreSQL: ") + e.what());
    }
  }

  void begin() override {
    try {
      tx_ = std::make_unique<pqxx::work>(*conn_);
    } catch (const std::exception& e) {
      throw DbError(DbError::Kind::other, std::string("PostgreSQL begin: ") + e.what());
    }
  }
  void commit() override {
    try {
      tx_->commit();
      tx_.reset();
    } catch (const pqxx::transaction_rollback& e) {
      tx_.reset();
      throw DbError(DbError::Kind::busy, e.what());
    } catch (const std::exception& e) {
      tx_.reset();
      throw DbError(DbError::Kind::other, std::string("PostgreSQL commit: ") + e.what());
    }
  }
  void rollback() override {
    if (!tx_) return;
    auto t = std::move(tx_);
    t->abort();
  }
  bool in_transaction() const override { return tx_ != nullptr; }

 private:
  static constexpr size_t kMaxPrepared = 1000;

  // The name of the prepared statement for `sql`, registering it on first use (libpqxx prepares it
  // on the server when it first runs); nullptr once this connection holds kMaxPrepared.
  const std::string* statement_name(std::string_view sql) {
    auto it = prepared_.find(std::string(sql));
    if (it != prepared_.end()) return &it->second;
    if (!prepare_ || prepared_.size() >= kMaxPrepared) return nullptr;
    std::string name = "k" + std::to_string(prepared_.size());
    conn_->prepare(name, std::string(sql));
    return &prepared_.emplace(std::string(sql), std::move(name)).first->second;
  }

  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::work> tx_;
  std::unordered_map<std::string, std::string> prepared_;  // statement text -> prepared name
  bool prepare_ = true;
};

}  // namespace

std::unique_ptr<Db> open_postgres(const std::string& conninfo) { return std::make_unique<PgDb>(conninfo); }

}  // namespace keel::fleet
