import { describe, expect, it } from 'vitest';
import type { Device } from '../api/models';
import { connectionOf, lastUpdateNote } from './device_state';

const dev = (over: Partial<Device>): Device => ({
  id: 1, deployment_id: 1, name: 'd', tunnel_public_key: null, identity_public_key: null, tunnel_address: null,
  status: 'active', connection: 'offline', last_seen_at: null, current_release_id: null, release_installed_at: null,
  last_update: null, reported: null, created_at: 1, updated_at: 1, ...over,
});
const update = (status: string, message = '') => ({ status, message, release_id: 3, rollout_id: 7, at: 5 });

describe('device state', () => {
  it('says a connection is not recorded only when Fleet has none', () => {
    expect(connectionOf(dev({}))).toBe('never');
    expect(connectionOf(dev({ last_seen_at: 5 }))).toBe('offline');
    expect(connectionOf(dev({ connection: 'online', last_seen_at: 5 }))).toBe('online');
    expect(connectionOf(dev({ status: 'decommissioned', last_seen_at: 5 }))).toBe('decommissioned');
  });

  it('shows the device’s report only for a failed last update', () => {
    expect(lastUpdateNote(dev({}))).toBe('');
    expect(lastUpdateNote(dev({ last_update: update('failed', 'boot check failed') }))).toBe('boot check failed');
    expect(lastUpdateNote(dev({ last_update: update('succeeded', 'all good') }))).toBe('');
    expect(lastUpdateNote(dev({ last_update: update('in_progress') }))).toBe('');
  });
});
