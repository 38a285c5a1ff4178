// Every keel-fleet endpoint the UI uses, in one place (paths per docs/fleet-api.md).
import { ApiClient, ApiError, errorFromResponse } from './client';
import type {
  ApiToken, AuditEntry, CommandKind, Deployment, Device, DeviceCommand, DeviceImport, DeviceComponent, LogLine, LogQuery, Overlay, TraceEvent, Organization, Paged, Project, Proxy, Release,
  Rollout, RolloutTarget, SessionInfo, SigningKey, User,
} from './models';

interface Me {
  mode: 'studio' | 'fleet';
  user: User | null;
  role: string;
  organization_id: number | null;
  csrf_token?: string | null;
  token_scope?: string | null;
}

export const api = new ApiClient('/api/v1');

type Cursor = string | null | undefined;
const page = (cursor: Cursor, limit = 50) => ({ cursor: cursor ?? undefined, limit });

export const fleet = {
  // session
  // The mode comes from the public health endpoint; who is calling from /auth/me, which answers
  // 401 to an anonymous caller in fleet mode (the UI then shows the login page).
  session: async (): Promise<SessionInfo> => {
    const h = await api.get<{ status: string; mode: 'studio' | 'fleet'; version?: string; warnings?: string[] }>('/health');
    try {
      const me = await api.request<Me>('GET', '/auth/me', { quiet401: true });
      return { mode: me.mode, version: h.version, user: me.user, csrf_token: me.csrf_token ?? null, organization_id: me.organization_id ?? null, warnings: h.warnings ?? [] };
    } catch (e) {
      if (e instanceof ApiError && e.status === 401 && h.mode === 'fleet') return { mode: 'fleet', version: h.version, user: null, csrf_token: null, warnings: h.warnings ?? [] };
      throw e;
    }
  },
  login: (email: string, password: string) => api.post<{ user: User; csrf_token: string }>('/auth/login', { email, password }, { quiet401: true }),
  logout: () => api.post<void>('/auth/logout', {}),
  acceptInvite: (token: string, password: string) => api.post<{ user: User }>('/auth/accept-invite', { token, password }, { quiet401: true }),
  changePassword: (current_password: string, new_password: string) => api.post<void>('/auth/password', { current_password, new_password }),

  system: () =>
    api.get<{ mode: string; version: string; tunnel_prefix: string; fleet_tunnel_address: string; counts: Record<'organizations' | 'users' | 'projects' | 'deployments' | 'devices' | 'releases', number> }>('/system'),

  // organisations
  orgs: (cursor?: Cursor) => api.get<Paged<Organization>>('/organizations', page(cursor)),
  org: (id: number) => api.get<Organization>(`/organizations/${id}`),
  createOrg: (name: string) => api.post<Organization>('/organizations', { name }),

  // projects
  projects: (orgId: number | null, cursor?: Cursor) => api.get<Paged<Project>>('/projects', { ...page(cursor), organization_id: orgId ?? undefined }),
  project: (id: number) => api.get<Project>(`/projects/${id}`),
  createProject: (orgId: number | null, name: string, description: string) =>
    api.post<Project>('/projects', { organization_id: orgId ?? undefined, name, description }),

  deleteProject: (id: number) => api.delete<void>(`/projects/${id}`),
  deleteOrg: (id: number) => api.delete<void>(`/organizations/${id}`),
  deleteDeployment: (id: number) => api.delete<void>(`/deployments/${id}`),
  deleteRelease: (id: number) => api.delete<void>(`/releases/${id}`),

  // signing keys
  keys: (projectId: number) => api.get<Paged<SigningKey>>(`/projects/${projectId}/keys`, page(null, 200)),
  addKey: (projectId: number, name: string, public_key: string) =>
    api.post<SigningKey>(`/projects/${projectId}/keys`, { name, public_key }),
  revokeKey: (projectId: number, keyId: number) => api.delete<void>(`/projects/${projectId}/keys/${keyId}`),

  // deployments
  deployments: (projectId: number, cursor?: Cursor) => api.get<Paged<Deployment>>('/deployments', { ...page(cursor), project_id: projectId }),
  deployment: (id: number) => api.get<Deployment>(`/deployments/${id}`),
  createDeployment: (projectId: number, name: string, description: string) =>
    api.post<Deployment>('/deployments', { project_id: projectId, name, description }),

  // devices
  devices: (filter: { deployment_id?: number; release_id?: number; connection?: string; name?: string }, cursor?: Cursor) =>
    api.get<Paged<Device>>('/devices', { ...page(cursor), ...filter }),
  device: (id: number) => api.get<Device>(`/devices/${id}`),
  registerDevice: (deploymentId: number, body: { name: string; tunnel_public_key: string; identity_public_key: string }) =>
    api.post<Device>('/devices', { deployment_id: deploymentId, ...body }),
  // A CSV (text/csv) or JSON ({devices: [...]}) file; all or nothing (docs/fleet-api.md, "Importing devices").
  importDevices: (deploymentId: number, file: Blob, type: 'text/csv' | 'application/json') =>
    api.post<DeviceImport>(`/deployments/${deploymentId}/devices/import`, file, { headers: { 'Content-Type': type }, timeoutMs: 300_000 }),
  moveDevice: (id: number, deploymentId: number) => api.post<Device>(`/devices/${id}/move`, { deployment_id: deploymentId }),
  repurposeDevice: (id: number, body: { deployment_id: number; name?: string; tunnel_public_key: string; identity_public_key: string }) =>
    api.post<Device>(`/devices/${id}/repurpose`, body),
  allDeployments: (cursor?: Cursor) => api.get<Paged<Deployment>>('/deployments', page(cursor, 200)),
  allProjects: (cursor?: Cursor) => api.get<Paged<Project>>('/projects', page(cursor, 200)),
  decommissionDevice: (id: number) => api.post<Device>(`/devices/${id}/decommission`, {}),
  deviceCommands: (id: number, cursor?: Cursor, limit = 50) => api.get<Paged<DeviceCommand>>(`/devices/${id}/commands`, page(cursor, limit)),
  // Queues a command for the device link (delivered when the device is online).
  createDeviceCommand: (id: number, kind: CommandKind, component?: string) =>
    api.post<DeviceCommand>(`/devices/${id}/commands`, component === undefined ? { kind } : { kind, component }),
  deviceComponents: (id: number) => api.get<{ items: DeviceComponent[] }>(`/devices/${id}/components`),
  // What the device said: the newest entries (order desc) first, then polled with after=<last id>.
  deviceSerial: (id: number, q: LogQuery) => api.get<Paged<LogLine>>(`/devices/${id}/serial`, { ...q }),
  deviceTrace: (id: number, q: LogQuery) => api.get<Paged<TraceEvent>>(`/devices/${id}/trace`, { ...q }),
  updateDevice: (id: number, releaseId: number) => api.post<Rollout>(`/devices/${id}/update`, { release_id: releaseId }),

  // releases
  releases: (projectId: number, cursor?: Cursor) => api.get<Paged<Release>>('/releases', { ...page(cursor), project_id: projectId }),
  release: (id: number) => api.get<Release>(`/releases/${id}`),
  uploadRelease: (projectId: number, file: Blob, onProgress?: (sent: number, total: number) => void) =>
    uploadWithProgress<Release>(`/api/v1/projects/${projectId}/releases`, file, onProgress),

  // rollouts
  rollouts: (deploymentId: number, cursor?: Cursor) => api.get<Paged<Rollout>>('/rollouts', { ...page(cursor), deployment_id: deploymentId }),
  rollout: (id: number) => api.get<Rollout>(`/rollouts/${id}`),
  rolloutTargets: (id: number, cursor?: Cursor) => api.get<Paged<RolloutTarget>>(`/rollouts/${id}/targets`, page(cursor, 100)),
  startRollout: (deploymentId: number, body: { release_id: number; batches: number[]; failure_threshold_percent: number; on_failure: string }) =>
    api.post<Rollout>(`/deployments/${deploymentId}/rollouts`, body),
  rolloutAction: (id: number, action: 'pause' | 'resume' | 'cancel') => api.post<Rollout>(`/rollouts/${id}/${action}`, {}),

  // overlays
  overlay: (scope: 'device' | 'deployment', id: number) => api.get<Overlay>(`/${scope}s/${id}/overlay`),
  setOverlay: (scope: 'device' | 'deployment', id: number, release_id: number, config: Overlay['config']) =>
    api.put<Overlay>(`/${scope}s/${id}/overlay`, { release_id, config }),
  deleteOverlay: (scope: 'device' | 'deployment', id: number) => api.delete<void>(`/${scope}s/${id}/overlay`),

  // proxies
  proxies: (deploymentId: number) => api.get<Paged<Proxy>>(`/deployments/${deploymentId}/proxies`),
  setProxy: (deploymentId: number, name: string, host: string, port: number) =>
    api.put<Proxy>(`/deployments/${deploymentId}/proxies/${encodeURIComponent(name)}`, { host, port }),
  removeProxy: (deploymentId: number, name: string) => api.delete<void>(`/deployments/${deploymentId}/proxies/${encodeURIComponent(name)}`),

  // users
  users: (cursor?: Cursor) => api.get<Paged<User>>('/users', page(cursor)),
  createUser: (body: { email: string; name: string; role: string; organization_id: number | null; password?: string }) =>
    api.post<User & { invite_token?: string }>('/users', body),
  setUserEnabled: (id: number, enabled: boolean) => api.post<User>(`/users/${id}/${enabled ? 'enable' : 'disable'}`, {}),
  updateUser: (id: number, body: { name?: string; role?: string }) => api.patch<User>(`/users/${id}`, body),

  // tokens
  tokens: () => api.get<Paged<ApiToken>>('/tokens', page(null, 200)),
  createToken: (name: string, scope: string, expires_in_days?: number) => api.post<ApiToken>('/tokens', { name, scope, expires_in_days }),
  revokeToken: (id: number) => api.delete<void>(`/tokens/${id}`),

  // audit
  audit: (cursor?: Cursor, orgId?: number | null) => api.get<Paged<AuditEntry>>('/audit', { ...page(cursor), organization_id: orgId ?? undefined }),
};

// fetch() cannot report upload progress; XMLHttpRequest can. Errors are the same ApiError shape.
function uploadWithProgress<T>(url: string, file: Blob, onProgress?: (sent: number, total: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    const csrf = api.csrfToken();
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was interrupted: cannot reach the Fleet server.'));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as T);
        } catch {
          reject(new ApiError(xhr.status, 'bad_response', 'The Fleet server accepted the upload but its answer could not be read.'));
        }
      } else {
        const err = errorFromResponse(xhr.status, xhr.responseText);
        if (err.isUnauthenticated) api.onUnauthenticated?.();
        reject(err);
      }
    };
    xhr.send(file);
  });
}

// Loads every page of a list (for small lists such as the organisations a picker shows).
export async function all<T>(fn: (cursor: Cursor) => Promise<Paged<T>>, max = 1000): Promise<T[]> {
  const out: T[] = [];
  let cursor: Cursor = null;
  do {
    const p = await fn(cursor);
    out.push(...p.items);
    cursor = p.next_cursor;
  } while (cursor && out.length < max);
  return out;
}
