// audit_log.h — who changed what, when, from where; one record per change, written in the
// change's own transaction.
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

#define KEEL_FLEET_AUDIT_ROW_FIELDS(FIELD)       \
  FIELD(int64_t, id)                             \
  FIELD(int64_t, at)                             \
  FIELD(std::string, actor)                      \
  FIELD(std::optional<int64_t>, actor_user_id)   \
  FIELD(std::optional<int64_t>, organization_id) \
  FIELD(std::string, action)                     \
  FIELD(std::string, target_type)                \
  FIELD(std::string, target_id)                  \
  FIELD(std::string, details)  /* JSON text */   \
  FIELD(std::string, remote)
struct AuditRow {
  KEEL_ROW(AuditRow, KEEL_FLEET_AUDIT_ROW_FIELDS)
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
