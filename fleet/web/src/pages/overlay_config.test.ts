import { describe, expect, it } from 'vitest';
import { buildOverlayConfig, formFromConfig } from './overlay_config';

const keys = [
  { component: 'sensor', key: 'rate_hz', type: 'integer' },
  { component: 'sensor', key: 'gain', type: 'float' },
  { component: 'uplink', key: 'verbose', type: 'bool' },
  { component: 'uplink', key: 'broker', type: 'string' },
];

describe('buildOverlayConfig', () => {
  it('converts each value to its declared type and omits empty ones', () => {
    const r = buildOverlayConfig(keys, { 'sensor.rate_hz': ' 20 ', 'sensor.gain': '1.5', 'uplink.verbose': true, 'uplink.broker': '' });
    expect(r).toEqual({ ok: true, config: { sensor: { rate_hz: 20, gain: 1.5 }, uplink: { verbose: true } } });
  });
  it('names the field of a wrong value', () => {
    expect(buildOverlayConfig(keys, { 'sensor.rate_hz': '2.5' })).toEqual({ ok: false, field: 'config.sensor.rate_hz', message: 'sensor.rate_hz must be a whole number' });
    expect(buildOverlayConfig(keys, { 'sensor.gain': 'fast' })).toMatchObject({ ok: false, field: 'config.sensor.gain' });
    expect(buildOverlayConfig(keys, { 'uplink.verbose': 'yes' })).toMatchObject({ ok: false, field: 'config.uplink.verbose' });
    expect(buildOverlayConfig(keys, { 'sensor.rate_hz': '99999999999999999999' })).toMatchObject({ ok: false });
    expect(buildOverlayConfig(keys, { 'uplink.broker': 'é'.repeat(2049) })).toMatchObject({ ok: false, field: 'config.uplink.broker' });
  });
  it('ignores values for keys the manifest does not declare', () => {
    expect(buildOverlayConfig(keys, { 'evil.key': '1' })).toEqual({ ok: true, config: {} });
  });
  it('round-trips through formFromConfig', () => {
    const config = { sensor: { rate_hz: 5, gain: 0.25 }, uplink: { verbose: false, broker: 'mqtt' } };
    expect(buildOverlayConfig(keys, formFromConfig(config))).toEqual({ ok: true, config });
    expect(formFromConfig(null)).toEqual({});
  });
});
