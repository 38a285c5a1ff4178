// organizations.h — the organisations table (fleet mode; studio mode has one implicit "studio").
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

#define KEEL_FLEET_ORGANIZATION_ROW_FIELDS(FIELD) \
  FIELD(int64_t, id)                              \
  FIELD(std::string, name)                        \
  FIELD(int64_t, created_at)
struct OrganizationRow {
  static constexpr const char* table = "organizations";
  KEEL_ROW(OrganizationRow, KEEL_FLEET_ORGANIZATION_ROW_FIELDS)
};

std::optional<OrganizationRow> find_organization(Db& db, int64_t id);
bool organization_exists(Db& db, int64_t id);
// `only`: the one organisation a caller may see (none: all).
Page<OrganizationRow> list_organizations(Db& db, const PageRequest& page, std::optional<int64_t> only);
OrganizationRow insert_organization(Db& db, const std::string& name, int64_t now);
void rename_organization(Db& db, int64_t id, const std::string& name);
bool organization_has_projects(Db& db, int64_t id);
bool organization_has_active_users(Db& db, int64_t id);
// Removes the organisation with its users, their sessions and API tokens (projects must be gone).
void delete_organization(Db& db, int64_t id);
// Studio mode's single organisation, created on first start.
int64_t studio_organization(Db& db, int64_t now);

}  // namespace keel::fleet
