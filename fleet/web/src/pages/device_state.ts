// What the device list and the device page say about a device's state, from the facts the API
// gives: `last_seen_at` (a connection Fleet recorded), `last_update` and `release_installed_at`.
// Pure functions, unit-tested in device_state.test.ts.
import type { Device } from '../api/models';

// The connection badge: "never" means Fleet has no record of a connection (a device can still
// have a release, update outcomes and console output sent through the API without one).
export function connectionOf(d: Device): string {
  if (d.status === 'decommissioned') return 'decommissioned';
  if (d.connection === 'online') return 'online';
  return d.last_seen_at ? 'offline' : 'never';
}

// What the "Last update" cell/row says next to the status badge: the device's report when the
// update failed (its message), else nothing.
export function lastUpdateNote(d: Device): string {
  const u = d.last_update;
  return u && u.status === 'failed' ? u.message : '';
}
