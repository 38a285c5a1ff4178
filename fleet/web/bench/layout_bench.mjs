// BENCH fleet.web.graph_layout_<n>.ms: median time to lay out a manifest graph of n components
// (a tree of channels plus cross links) in Node — the same code the browser runs.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const dir = mkdtempSync(path.join(os.tmpdir(), 'keel-layout-bench-'));
try {
  const out = path.join(dir, 'layout.mjs');
  await build({ entryPoints: [path.join(here, '../src/graph/layout.ts')], format: 'esm', outfile: out, logLevel: 'error' });
  const { layoutManifest } = await import(out);
  for (const n of [50, 256, 1000]) {
    const comps = Array.from({ length: n }, (_, i) => `c${i}`);
    const ch = comps.slice(1).map((c, i) => ({ name: `e${i}`, from: `c${Math.floor(i / 3)}`, to: c }));
    for (let i = 0; i < n / 4; i++) ch.push({ name: `x${i}`, from: `c${(i * 7) % n}`, to: `c${(i * 13 + 5) % n}` });
    const times = [];
    for (let r = 0; r < 9; r++) {
      const t = performance.now();
      layoutManifest(comps, ch);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`BENCH fleet.web.graph_layout_${n}.ms ${times[4].toFixed(1)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
