// What the device list and the device page say about a device's state, from the facts the API
// gives: `last_seen_at` (a connection Fleet recorded), the rollouts' per-device targets and the
// device's command queue. Pure functions, unit-tested in device_state.test.ts.
import type { Device, DeviceCommand, Rollout, RolloutTarget } from '../api/models';

// The connection badge: "never" means Fleet has no record of a connection (a device can still
// have a release, update outcomes and console output sent through the API without one).
export function connectionOf(d: Device): string {
  if (d.status === 'decommissioned') return 'decommissioned';
  if (d.connection === 'online') return 'online';
  return d.last_seen_at ? 'offline' : 'never';
}

export interface LastUpdate {
  rolloutId: number;
  releaseId: number;
  status: string; // in_progress | succeeded | failed
  message: string;
  at: number;
}

// Each device's newest update outcome: rollouts newest first, each with its targets. Targets not
// yet started (pending) or withdrawn (cancelled) say nothing about the device, so an older
// outcome shows through them.
export function latestUpdates(rolloutsNewestFirst: Rollout[], targets: RolloutTarget[][]): Map<number, LastUpdate> {
  const out = new Map<number, LastUpdate>();
  rolloutsNewestFirst.forEach((r, i) => {
    for (const t of targets[i] ?? []) {
      if (out.has(t.device_id) || t.status === 'pending' || t.status === 'cancelled') continue;
      out.set(t.device_id, { rolloutId: r.id, releaseId: r.release_id, status: t.status, message: t.message, at: t.updated_at });
    }
  });
  return out;
}

function releaseOf(c: DeviceCommand): number | null {
  const p = c.payload as { release_id?: unknown } | null;
  return p && typeof p.release_id === 'number' ? p.release_id : null;
}

// The device's newest update command, and the one that installed `releaseId` (done), if any: the
// API has no install time of its own, so "installed" is when that update was reported done.
export function updateCommands(commands: DeviceCommand[], releaseId: number | null): { newest: DeviceCommand | null; installed: DeviceCommand | null } {
  const updates = commands.filter((c) => c.kind === 'update').sort((a, b) => b.id - a.id);
  const installed = releaseId === null ? null : (updates.find((c) => c.status === 'done' && releaseOf(c) === releaseId) ?? null);
  return { newest: updates[0] ?? null, installed };
}

export function commandRelease(c: DeviceCommand): number | null {
  return releaseOf(c);
}
