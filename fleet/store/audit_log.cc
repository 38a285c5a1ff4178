#include "audit_log.h"

namespace keel::fleet {

void insert_audit(Db& db, const AuditRow& a) {
  db.query("INSERT INTO audit_log (at, actor, actor_user_id, organization_id, action, target_type, target_id, details, "
           "remote) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
           {a.at, a.actor, value_or_null(a.actor_user_id), value_or_null(a.organization_id), a.action, a.target_type,
            a.target_id, a.details, a.remote});
}

Page<AuditRow> list_audit(Db& db, const PageRequest& page, const AuditFilter& f) {
  static const std::string select = "SELECT " + select_list<AuditRow>() + " FROM audit_log";
  PageQuery q(select, "id", Order::descending, page);
  if (f.organization_id) q.where("organization_id", *f.organization_id);
  if (f.action) q.where("action", *f.action);
  if (f.target_type) q.where("target_type", *f.target_type);
  if (f.target_id) q.where("target_id", *f.target_id);
  return q.fetch<AuditRow>(db, [](const AuditRow& r) { return r.id; });
}

}  // namespace keel::fleet
