// audit_log.h — who changed what, when, from where; one record per change, written in the
// change's own transaction.
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

struct AuditRow {
  int64_t id = 0;
  int64_t at = 0;
  std::string actor{};
  std::optional<int64_t> actor_user_id{};
  std::optional<int64_t> organization_id{};
  std::string action{};
  std::string target_type{};
  std::string target_id{};
  std::string details{};  // JSON text
  std::string remote{};
  static constexpr auto columns() {
    return std::tuple{column("id", &AuditRow::id),
                      column("at", &AuditRow::at),
                      column("actor", &AuditRow::actor),
                      column("actor_user_id", &AuditRow::actor_user_id),
                      column("organization_id", &AuditRow::organization_id),
                      column("action", &AuditRow::action),
                      column("target_type", &AuditRow::target_type),
                      column("target_id", &AuditRow::target_id),
                      column("details", &AuditRow::details),
                      column("remote", &AuditRow::remote)};
  }
};

// AuditRow without the id the database gives it.
void insert_audit(Db& db, const AuditRow& record);

struct AuditFilter {
  std::optional<int64_t> organization_id{};
  std::optional<std::string> action{};
  std::optional<std::string> target_type{};
  std::optional<std::string> target_id{};
};
// Newest first.
Page<AuditRow> list_audit(Db& db, const PageRequest& page, const AuditFilter& filter);

}  // namespace keel::fleet
