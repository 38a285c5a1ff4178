import { describe, expect, it } from 'vitest';
import { layoutManifest, splitEnd, type Layout } from './layout';

function node(l: Layout, id: string) {
  const n = l.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id}`);
  return n;
}

function overlaps(l: Layout): boolean {
  for (let i = 0; i < l.nodes.length; i++)
    for (let j = i + 1; j < l.nodes.length; j++) {
      const a = l.nodes[i]!, b = l.nodes[j]!;
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) return true;
    }
  return false;
}

describe('splitEnd', () => {
  it('splits component.endpoint', () => {
    expect(splitEnd('serial.tx')).toEqual({ comp: 'serial', end: 'tx' });
    expect(splitEnd('serial')).toEqual({ comp: 'serial', end: null });
    expect(splitEnd('a.b.c')).toEqual({ comp: 'a', end: 'b.c' });
  });
});

describe('layoutManifest', () => {
  it('handles an empty manifest', () => {
    const l = layoutManifest([], []);
    expect(l.nodes).toEqual([]);
    expect(l.edges).toEqual([]);
    expect(l.width).toBeGreaterThan(0);
  });

  it('places a chain left to right, one column per step', () => {
    const l = layoutManifest(['uplink', 'sensor', 'filter'], [
      { name: 'raw', from: 'sensor.out', to: 'filter.in', kind: 'stream' },
      { name: 'clean', from: 'filter', to: 'uplink', kind: 'event' },
    ]);
    expect(node(l, 'sensor').layer).toBe(0);
    expect(node(l, 'filter').layer).toBe(1);
    expect(node(l, 'uplink').layer).toBe(2);
    expect(node(l, 'sensor').x).toBeLessThan(node(l, 'filter').x);
    expect(node(l, 'filter').x).toBeLessThan(node(l, 'uplink').x);
    const raw = l.edges.find((e) => e.name === 'raw')!;
    expect(raw.fromEnd).toBe('out');
    expect(raw.toEnd).toBe('in');
    expect(raw.reversed).toBe(false);
    // the arrow starts at the right side of the source and ends at the left side of the target
    expect(raw.path.startsWith(`M ${node(l, 'sensor').x + node(l, 'sensor').w} `)).toBe(true);
  });

  it('puts every forward edge from a lower to a higher column in a DAG', () => {
    const comps = ['a', 'b', 'c', 'd', 'e', 'f'];
    const ch = [
      ['a', 'b'], ['a', 'c'], ['b', 'd'], ['c', 'd'], ['d', 'e'], ['a', 'e'], ['f', 'e'],
    ].map(([f, t], i) => ({ name: `c${i}`, from: f!, to: t! }));
    const l = layoutManifest(comps, ch);
    for (const e of l.edges) expect(node(l, e.from).layer).toBeLessThan(node(l, e.to).layer);
    expect(node(l, 'e').layer).toBe(3); // longest path a-b-d-e
    expect(overlaps(l)).toBe(false);
    for (const n of l.nodes) {
      expect(n.x + n.w).toBeLessThanOrEqual(l.width);
      expect(n.y + n.h).toBeLessThanOrEqual(l.height);
    }
  });

  it('terminates on cycles and draws the closing edge as a return arc', () => {
    const l = layoutManifest(['a', 'b', 'c'], [
      { name: 'ab', from: 'a', to: 'b' },
      { name: 'bc', from: 'b', to: 'c' },
      { name: 'ca', from: 'c', to: 'a' },
      { name: 'ba', from: 'b', to: 'a' }, // a 2-cycle as well
    ]);
    expect(l.nodes).toHaveLength(3);
    expect(overlaps(l)).toBe(false);
    const rev = l.edges.filter((e) => e.reversed).map((e) => e.name).sort();
    expect(rev).toEqual(['ba', 'ca']);
  });

  it('draws self-loops and marks components a channel names but the manifest does not declare', () => {
    const l = layoutManifest(['a'], [
      { name: 'loop', from: 'a.x', to: 'a.y' },
      { name: 'ghost', from: 'a', to: 'nowhere' },
    ]);
    expect(l.edges.find((e) => e.name === 'loop')!.self).toBe(true);
    expect(node(l, 'nowhere').missing).toBe(true);
    expect(node(l, 'a').missing).toBe(false);
  });

  it('fans out parallel channels between the same two components', () => {
    const l = layoutManifest(['a', 'b'], [
      { name: 'one', from: 'a', to: 'b' },
      { name: 'two', from: 'a', to: 'b' },
    ]);
    const [p1, p2] = l.edges.map((e) => e.path);
    expect(p1).not.toEqual(p2);
  });

  it('is deterministic and independent of the input order', () => {
    const ch = [
      { name: 'x', from: 'm', to: 'n' },
      { name: 'y', from: 'k', to: 'n' },
    ];
    const a = layoutManifest(['n', 'm', 'k'], ch);
    const b = layoutManifest(['k', 'm', 'n'], [...ch].reverse());
    const pos = (l: Layout) => l.nodes.map((n) => `${n.id}@${n.x},${n.y}`).sort();
    expect(pos(a)).toEqual(pos(b));
  });

  it('lays out a few hundred components quickly and without overlap', () => {
    const comps = Array.from({ length: 300 }, (_, i) => `c${i}`);
    const ch = comps.slice(1).map((c, i) => ({ name: `e${i}`, from: `c${Math.floor(i / 3)}`, to: c }));
    const t0 = performance.now();
    const l = layoutManifest(comps, ch);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(l.nodes).toHaveLength(300);
    expect(overlaps(l)).toBe(false);
  });
});
