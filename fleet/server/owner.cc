#include "owner.h"

#include "../store/deployments.h"
#include "../store/devices.h"
#include "../store/projects.h"
#include "../store/releases.h"

namespace keel::fleet {

namespace {
Owner checked(Ctx& c, Owner o, Need need, const char* what) {
  need == Need::write ? c.require_write(o.org_id, what) : c.require_read(o.org_id, what);
  return o;
}
}  // namespace

Owner project_owner(Ctx& c, int64_t project_id, Need need) {
  auto org = project_organization(c.db, project_id);
  if (!org) throw not_found("project");
  return checked(c, {*org, project_id, 0}, need, "project");
}

Owner deployment_owner(Ctx& c, int64_t deployment_id, Need need) {
  auto p = deployment_parent(c.db, deployment_id);
  if (!p) throw not_found("deployment");
  return checked(c, {p->organization_id, p->project_id, deployment_id}, need, "deployment");
}

Owner device_owner(Ctx& c, int64_t device_id, Need need) {
  auto p = device_parent(c.db, device_id);
  if (!p) throw not_found("device");
  return checked(c, {p->organization_id, p->project_id, p->deployment_id}, need, "device");
}

Owner release_owner(Ctx& c, int64_t release_id, Need need) {
  auto p = release_parent(c.db, release_id);
  if (!p) throw not_found("release");
  return checked(c, {p->organization_id, p->project_id, 0}, need, "release");
}

}  // namespace keel::fleet
