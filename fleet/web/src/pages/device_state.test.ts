import { describe, expect, it } from 'vitest';
import type { Device, DeviceCommand, Rollout, RolloutTarget } from '../api/models';
import { connectionOf, latestUpdates, updateCommands } from './device_state';

const dev = (over: Partial<Device>): Device => ({
  id: 1, deployment_id: 1, name: 'd', tunnel_public_key: null, identity_public_key: null, tunnel_address: null,
  status: 'active', connection: 'offline', last_seen_at: null, current_release_id: null, created_at: 1, updated_at: 1, ...over,
});
const rollout = (id: number, release_id: number): Rollout => ({
  id, deployment_id: 1, release_id, kind: 'deployment', status: 'succeeded', batches: [100], current_batch: 0, failure_threshold_percent: 10,
  on_failure: 'pause', total: 1, status_reason: '', created_by: 'x', created_at: id, updated_at: id,
  progress: { pending: 0, in_progress: 0, succeeded: 0, failed: 0, cancelled: 0 },
});
const target = (device_id: number, status: string, message = ''): RolloutTarget => ({ device_id, batch: 0, status, message, updated_at: 5 });
const cmd = (id: number, status: string, release_id: number, kind = 'update'): DeviceCommand => ({
  id, device_id: 1, kind, payload: { release_id, rollout_id: id }, status, rollout_id: id, created_at: id, updated_at: id * 10,
});

describe('device state', () => {
  it('says a connection is not recorded only when Fleet has none', () => {
    expect(connectionOf(dev({}))).toBe('never');
    expect(connectionOf(dev({ last_seen_at: 5 }))).toBe('offline');
    expect(connectionOf(dev({ connection: 'online', last_seen_at: 5 }))).toBe('online');
    expect(connectionOf(dev({ status: 'decommissioned', last_seen_at: 5 }))).toBe('decommissioned');
  });

  it('takes each device’s newest started update, failures included', () => {
    const m = latestUpdates([rollout(3, 30), rollout(2, 20), rollout(1, 10)], [
      [target(1, 'pending'), target(2, 'failed', 'no boot')],
      [target(1, 'succeeded'), target(3, 'cancelled')],
      [target(3, 'failed', 'old')],
    ]);
    expect(m.get(1)).toMatchObject({ rolloutId: 2, status: 'succeeded' });
    expect(m.get(2)).toMatchObject({ rolloutId: 3, releaseId: 30, status: 'failed', message: 'no boot' });
    expect(m.get(3)).toMatchObject({ rolloutId: 1, status: 'failed' });
    expect(m.has(4)).toBe(false);
  });

  it('finds the newest update command and the one that installed the current release', () => {
    const cs = [cmd(1, 'done', 10), cmd(3, 'failed', 30), cmd(2, 'done', 20), cmd(4, 'queued', 0, 'reboot')];
    const u = updateCommands(cs, 20);
    expect(u.newest?.id).toBe(3);
    expect(u.installed?.id).toBe(2);
    expect(updateCommands(cs, 30).installed).toBeNull();
    expect(updateCommands([], null)).toEqual({ newest: null, installed: null });
  });
});
