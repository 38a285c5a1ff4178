// Layered ("Sugiyama-style") layout of a system manifest: components are boxes, channels are
// arrows from the component that opens the channel to the one that serves it. Left to right, so
// the graph reads like a sentence: "sensor sends to filter sends to uplink".
//
// Steps: (1) collect nodes (declared components, plus any name a channel mentions that the
// manifest does not declare — drawn as "missing", because that is a mistake worth seeing);
// (2) break cycles by reversing DFS back edges; (3) longest-path layering; (4) barycentre
// ordering sweeps to reduce crossings; (5) coordinates; (6) edge paths. Deterministic: the same
// manifest always gives the same picture.

export interface ChannelIn {
  name: string;
  from: string; // "component" or "component.endpoint"
  to: string;
  kind?: string;
}

export interface LayoutNode {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
  layer: number;
  missing: boolean; // referenced by a channel but not declared as a component
}

export interface LayoutEdge {
  name: string;
  kind: string;
  from: string;
  to: string;
  fromEnd: string | null; // endpoint name after the dot, if any
  toEnd: string | null;
  path: string; // SVG path data
  labelX: number;
  labelY: number;
  reversed: boolean; // part of a cycle: drawn as a return arc
  self: boolean;
}

export interface Layout {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  width: number;
  height: number;
}

export const NODE_H = 44;
const GAP_X = 110;
const GAP_Y = 36;
const PAD = 24;
const CHAR_W = 7.5;

export function splitEnd(ref: string): { comp: string; end: string | null } {
  const i = ref.indexOf('.');
  if (i <= 0) return { comp: ref, end: null };
  return { comp: ref.slice(0, i), end: ref.slice(i + 1) || null };
}

export function nodeWidth(id: string): number {
  return Math.max(110, Math.ceil(id.length * CHAR_W) + 36);
}

export function layoutManifest(components: readonly string[], channels: readonly ChannelIn[]): Layout {
  // (1) nodes
  const declared = new Set(components);
  const ids = new Set<string>(components);
  const edgesIn = channels.map((c) => {
    const f = splitEnd(c.from);
    const t = splitEnd(c.to);
    ids.add(f.comp);
    ids.add(t.comp);
    return { c, f, t };
  });
  const order = [...ids].sort();
  const idx = new Map(order.map((id, i) => [id, i]));
  const n = order.length;

  // adjacency (deduplicated, without self-loops) for layering
  const succ: Set<number>[] = order.map(() => new Set());
  for (const { f, t } of edgesIn) {
    const a = idx.get(f.comp)!;
    const b = idx.get(t.comp)!;
    if (a !== b) succ[a]!.add(b);
  }

  // (2) cycle breaking: iterative DFS in name order; an edge to a node on the stack is a back edge.
  const state = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const back = new Set<string>();
  for (let s = 0; s < n; s++) {
    if (state[s]) continue;
    const stack: Array<{ v: number; it: number[] ; i: number }> = [{ v: s, it: [...succ[s]!].sort((x, y) => x - y), i: 0 }];
    state[s] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (top.i < top.it.length) {
        const w = top.it[top.i++]!;
        if (state[w] === 1) back.add(`${top.v}>${w}`);
        else if (state[w] === 0) {
          state[w] = 1;
          stack.push({ v: w, it: [...succ[w]!].sort((x, y) => x - y), i: 0 });
        }
      } else {
        state[top.v] = 2;
        stack.pop();
      }
    }
  }
  const dag: number[][] = order.map(() => []);
  for (let a = 0; a < n; a++) {
    for (const b of succ[a]!) {
      if (back.has(`${a}>${b}`)) {
        if (!succ[b]!.has(a)) dag[b]!.push(a); // reversed; a 2-cycle keeps its forward half only
      } else dag[a]!.push(b);
    }
  }

  // (3) longest-path layering over the DAG (Kahn order)
  const indeg = new Array<number>(n).fill(0);
  for (let a = 0; a < n; a++) for (const b of dag[a]!) indeg[b]!++;
  const layer = new Array<number>(n).fill(0);
  const queue: number[] = [];
  for (let v = 0; v < n; v++) if (indeg[v] === 0) queue.push(v);
  for (let qi = 0; qi < queue.length; qi++) {
    const v = queue[qi]!;
    for (const w of dag[v]!) {
      layer[w] = Math.max(layer[w]!, layer[v]! + 1);
      if (--indeg[w]! === 0) queue.push(w);
    }
  }
  const nLayers = n ? Math.max(...layer) + 1 : 0;
  const layers: number[][] = Array.from({ length: nLayers }, () => []);
  for (let v = 0; v < n; v++) layers[layer[v]!]!.push(v);

  // (4) barycentre ordering: down then up sweeps, neighbours from the undirected view
  const nbrs: number[][] = order.map(() => []);
  for (let a = 0; a < n; a++)
    for (const b of dag[a]!) {
      nbrs[a]!.push(b);
      nbrs[b]!.push(a);
    }
  const pos = new Array<number>(n).fill(0);
  const renumber = () => layers.forEach((l) => l.forEach((v, i) => (pos[v] = i)));
  renumber();
  const sweep = (li: number, towards: number) => {
    const l = layers[li]!;
    const bary = new Map<number, number>();
    for (const v of l) {
      const ns = nbrs[v]!.filter((w) => layer[w] === towards);
      bary.set(v, ns.length ? ns.reduce((s, w) => s + pos[w]!, 0) / ns.length : pos[v]!);
    }
    l.sort((a, b) => bary.get(a)! - bary.get(b)! || a - b);
    l.forEach((v, i) => (pos[v] = i));
  };
  for (let it = 0; it < 4; it++) {
    for (let li = 1; li < nLayers; li++) sweep(li, li - 1);
    for (let li = nLayers - 2; li >= 0; li--) sweep(li, li + 1);
  }

  // (5) coordinates: columns as wide as their widest box, each column centred vertically
  const colW = layers.map((l) => Math.max(0, ...l.map((v) => nodeWidth(order[v]!))));
  const colH = layers.map((l) => l.length * NODE_H + Math.max(0, l.length - 1) * GAP_Y);
  const innerH = Math.max(0, ...colH);
  const nodes: LayoutNode[] = [];
  const byId = new Map<string, LayoutNode>();
  let x = PAD;
  layers.forEach((l, li) => {
    let y = PAD + (innerH - colH[li]!) / 2;
    for (const v of l) {
      const id = order[v]!;
      const w = nodeWidth(id);
      const node: LayoutNode = { id, x: x + (colW[li]! - w) / 2, y, w, h: NODE_H, layer: li, missing: !declared.has(id) };
      nodes.push(node);
      byId.set(id, node);
      y += NODE_H + GAP_Y;
    }
    x += colW[li]! + GAP_X;
  });
  const hasBackOrSelf = edgesIn.some(({ f, t }) => f.comp === t.comp || back.has(`${idx.get(f.comp)}>${idx.get(t.comp)}`));
  const width = n ? x - GAP_X + PAD : 2 * PAD;
  const height = innerH + 2 * PAD + (hasBackOrSelf ? 40 : 0);

  // (6) edges: parallel channels between the same pair fan out so none hides another
  const pairCount = new Map<string, number>();
  const pairSeen = new Map<string, number>();
  for (const { f, t } of edgesIn) {
    const k = [f.comp, t.comp].sort().join('\u0000');
    pairCount.set(k, (pairCount.get(k) ?? 0) + 1);
  }
  const edges: LayoutEdge[] = edgesIn.map(({ c, f, t }) => {
    const a = byId.get(f.comp)!;
    const b = byId.get(t.comp)!;
    const k = [f.comp, t.comp].sort().join('\u0000');
    const i = pairSeen.get(k) ?? 0;
    pairSeen.set(k, i + 1);
    const spread = (i - ((pairCount.get(k) ?? 1) - 1) / 2) * 18;
    const base = { name: c.name, kind: c.kind ?? '', from: f.comp, to: t.comp, fromEnd: f.end, toEnd: t.end };
    if (a === b) {
      // self-loop: a small arc under the box
      const sx = a.x + a.w * 0.35, ex = a.x + a.w * 0.65, by = a.y + a.h;
      const dip = 26 + Math.abs(spread);
      return { ...base, path: `M ${sx} ${by} C ${sx} ${by + dip}, ${ex} ${by + dip}, ${ex} ${by}`, labelX: a.x + a.w / 2, labelY: by + dip + 4, reversed: false, self: true };
    }
    const reversed = a.layer >= b.layer;
    if (!reversed) {
      const sx = a.x + a.w, sy = a.y + a.h / 2 + spread;
      const ex = b.x, ey = b.y + b.h / 2 + spread;
      const mx = (sx + ex) / 2;
      return { ...base, path: `M ${sx} ${sy} C ${mx} ${sy}, ${mx} ${ey}, ${ex} ${ey}`, labelX: mx, labelY: (sy + ey) / 2 - 6, reversed: false, self: false };
    }
    // return arc (cycle or same layer): leaves the bottom of the source, enters the bottom of the target
    const sx = a.x + a.w / 2 + spread, sy = a.y + a.h;
    const ex = b.x + b.w / 2 + spread, ey = b.y + b.h;
    const low = Math.max(sy, ey) + 34 + Math.abs(spread);
    return { ...base, path: `M ${sx} ${sy} C ${sx} ${low}, ${ex} ${low}, ${ex} ${ey}`, labelX: (sx + ex) / 2, labelY: low - 2, reversed: true, self: false };
  });

  return { nodes, edges, width, height };
}
