import { describe, expect, it } from 'vitest';
import { matchRoute } from './router';

const defs = [
  { name: 'home', pattern: '/' },
  { name: 'device', pattern: '/devices/:id' },
  { name: 'audit', pattern: '/audit' },
];

describe('matchRoute', () => {
  it('matches the root, parameters and queries', () => {
    expect(matchRoute(defs, '')?.name).toBe('home');
    expect(matchRoute(defs, '#/')?.name).toBe('home');
    const m = matchRoute(defs, '#/devices/42?tab=log');
    expect(m?.name).toBe('device');
    expect(m?.params.id).toBe('42');
    expect(m?.query.get('tab')).toBe('log');
    expect(matchRoute(defs, '#/audit/')?.name).toBe('audit');
  });
  it('returns null for unknown paths, extra segments and broken escapes', () => {
    expect(matchRoute(defs, '#/nowhere')).toBeNull();
    expect(matchRoute(defs, '#/devices/1/extra')).toBeNull();
    expect(matchRoute(defs, '#/devices/%E0%A4%A')).toBeNull();
  });
  it('decodes parameters', () => {
    expect(matchRoute(defs, '#/devices/a%20b')?.params.id).toBe('a b');
  });
});
