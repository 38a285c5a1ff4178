// Breadcrumbs "Organisation / Project / Deployment" for pages below a project, so an operator
// always sees where a device or release belongs.
import { fleet } from '../api/fleet';
import { href } from '../router';
import { isAdmin, useSession } from '../session';
import type { Crumb } from '../ui/components';
import { useAsync } from '../ui/hooks';

export function useCrumbs(at: { projectId?: number | undefined; deploymentId?: number | undefined }): Crumb[] {
  const { info } = useSession();
  const dep = useAsync(() => (at.deploymentId ? fleet.deployment(at.deploymentId) : Promise.resolve(null)), [at.deploymentId]);
  const projectId = at.projectId ?? dep.data?.project_id;
  const project = useAsync(() => (projectId ? fleet.project(projectId) : Promise.resolve(null)), [projectId]);
  const orgId = project.data?.organization_id;
  const org = useAsync(() => (orgId && info.mode === 'fleet' ? fleet.org(orgId) : Promise.resolve(null)), [orgId, info.mode]);
  const out: Crumb[] = [];
  if (info.mode === 'studio') out.push({ label: 'Projects', href: href('/') });
  else {
    if (isAdmin(info)) out.push({ label: 'Organisations', href: href('/organizations') });
    if (orgId) out.push({ label: org.data?.name ?? 'Organisation', href: href(`/organizations/${orgId}`) });
  }
  if (project.data) out.push({ label: project.data.name, href: href(`/projects/${project.data.id}`) });
  if (dep.data) out.push({ label: dep.data.name, href: href(`/deployments/${dep.data.id}`) });
  return out;
}
