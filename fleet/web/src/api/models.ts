// Typed models of the keel-fleet JSON API (docs/fleet-api.md; /api/v1/openapi.json is the
// authority). Timestamps are Unix milliseconds; ids are integers.

export type Mode = 'studio' | 'fleet';
export type Role = 'administrator' | 'organization_owner' | 'organization_user';

export interface Paged<T> {
  items: T[];
  next_cursor: string | null;
}

export interface User {
  id: number;
  email: string;
  name: string;
  role: Role;
  organization_id: number | null;
  status: string; // active | invited | disabled
  created_at: number;
}

export interface SessionInfo {
  mode: Mode;
  version?: string;
  user: User | null; // null when not logged in (fleet) or in studio mode
  csrf_token?: string | null;
  warnings?: string[]; // e.g. studio mode reachable from the network
  organization_id?: number | null; // studio mode: the single implicit organisation
}

export interface Organization {
  id: number;
  name: string;
  created_at: number;
}

export interface Project {
  id: number;
  organization_id: number;
  name: string;
  description: string;
  created_at: number;
}

export interface Deployment {
  id: number;
  project_id: number;
  organization_id?: number;
  name: string;
  description: string;
  created_at: number;
  device_count: number; // active devices
  online_count: number;
}

export interface Device {
  id: number;
  deployment_id: number;
  name: string;
  tunnel_public_key: string | null;
  identity_public_key: string | null;
  tunnel_address: string | null;
  status: string; // registered | active | decommissioned
  connection: string; // online | offline | never
  last_seen_at: number | null;
  current_release_id: number | null;
  // When the device reported its current release installed (its update succeeded); null when not
  // installed through an update.
  release_installed_at: number | null;
  // The device's newest started update; null if it never had one.
  last_update: LastUpdate | null;
  // What the device itself said in its last STATUS over the device link; null before the first.
  reported: ReportedStatus | null;
  queued_commands?: number; // GET /devices/{id} only
  created_at: number;
  updated_at: number;
}

// POST /deployments/{id}/devices/import: the devices created, in file order.
export interface DeviceImport {
  count: number;
  deployment_id: number;
  devices: { id: number; name: string; tunnel_address: string }[];
}

// The running release as the device names it, the hex SHA-256 of its manifest, its uptime, and
// when Fleet received the report (ms since the epoch).
export interface ReportedStatus {
  release: string;
  manifest_hash: string;
  uptime_ms: number;
  at: number;
}

// One component of the device's last STATUS (GET /devices/{id}/components).
export interface DeviceComponent {
  name: string;
  state: string; // stopped | running | restarting | failed
  restarts: number;
  memory_kib: number;
  cpu_permille: number;
  updated_at: number;
}

// What an operator may ask a device to do over the device link (POST /devices/{id}/commands).
export type CommandKind = 'restart_system' | 'restart_component' | 'trace_on' | 'trace_off' | 'identify';

export interface LastUpdate {
  status: string; // in_progress | succeeded | failed
  message: string;
  release_id: number;
  rollout_id: number;
  at: number;
}

export interface SigningKey {
  id: number;
  project_id: number;
  name: string;
  public_key: string;
  key_id: string;
  created_at: number;
  revoked_at: number | null;
}

export interface ManifestChannel {
  name: string;
  from: string;
  to: string;
  kind: string;
}
export interface ConfigKey {
  component: string;
  key: string;
  type: string;
}
export interface ManifestSummary {
  parsed?: boolean;
  components: string[];
  channels: ManifestChannel[];
  configurable: ConfigKey[];
}

export interface ReleaseComponent {
  name: string;
  size: number;
  hash?: string;
  hash_alg?: string;
}

export interface ReleaseSignature {
  key_id: string;
  trusted: boolean; // made by a key of the project
  verified: boolean; // checked and valid
}

export interface Release {
  id: number;
  project_id: number;
  name: string;
  version: string;
  signed_by_key_id: string;
  file_size: number;
  created_at: number;
  created_by: string;
  digest: string; // SHA-256 of the signed content
  build_id: string;
  signatures: ReleaseSignature[];
  // only on GET /releases/{id}:
  manifest?: string; // TOML as written
  summary?: ManifestSummary;
  components?: ReleaseComponent[];
  device_count?: number;
  signing_key_active?: boolean; // the signing key is still trusted (not revoked)
}

export interface RolloutProgress {
  pending: number;
  in_progress: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

export interface BatchProgress extends RolloutProgress {
  index: number;
  cumulative_percent: number;
}

export interface Rollout {
  id: number;
  deployment_id: number;
  release_id: number;
  kind: string; // device | deployment
  status: string; // running | paused | succeeded | completed_with_failures | aborted | cancelled
  batches: number[]; // cumulative percentages of the deployment's devices
  current_batch: number;
  failure_threshold_percent: number;
  on_failure: string; // pause | abort
  total: number;
  status_reason: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  progress: RolloutProgress;
  batch_progress?: BatchProgress[]; // only on GET /rollouts/{id}
}

export interface RolloutTarget {
  device_id: number;
  device_name?: string;
  batch: number;
  status: string;
  message: string;
  updated_at: number;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  actor_user_id: number | null;
  organization_id: number | null;
  action: string;
  target_type: string;
  target_id: string;
  details: Record<string, unknown> | string;
  remote: string;
}

export interface Proxy {
  deployment_id: number;
  name: string;
  host: string;
  port: number;
  created_at: number;
}

export interface ApiToken {
  id: number;
  name: string;
  scope: string;
  prefix: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  token?: string; // only in the create response
}

export interface DeviceCommand {
  id: number;
  device_id: number;
  kind: string;
  payload: unknown;
  status: string; // queued | sent | done | failed | cancelled
  rollout_id: number | null;
  created_at: number;
  updated_at: number;
  // The device's COMMAND_RESULT, recorded once: outcome done | failed | refused | unknown_kind.
  outcome?: string | null;
  detail?: string | null;
  result_at?: number | null;
  sent_at?: number | null;
  deliveries?: number;
}

// A device's serial console line / trace event (GET /devices/{id}/serial|trace). `id` increases
// in arrival order; `at` is when Fleet received it.
export interface LogLine {
  id: number;
  at: number;
  text: string;
}
export interface TraceEvent {
  id: number;
  at: number;
  component: string | null;
  event: string;
  data: unknown;
}
export interface LogQuery {
  after?: number;
  order?: 'asc' | 'desc';
  limit?: number;
  cursor?: string;
}

export interface Overlay {
  scope: 'device' | 'deployment';
  target_id: number;
  release_id: number;
  config: Record<string, Record<string, string | number | boolean>>;
  updated_at: number;
}
