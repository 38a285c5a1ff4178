// The system manifest as a picture: each component a box, each channel an arrow labelled with its
// name. Hovering (or focusing) a component highlights its channels.
import { useMemo, useState } from 'preact/hooks';
import type { ManifestSummary } from '../api/models';
import { plural } from '../ui/format';
import { layoutManifest } from './layout';

const KIND_COLOUR: Record<string, string> = {
  rpc: '#b45309',
  event: '#7c3aed',
  stream: '#1d4ed8',
};

export function ManifestGraph(props: { manifest: ManifestSummary; title?: string }) {
  const { components, channels } = props.manifest;
  const layout = useMemo(() => layoutManifest(components, channels), [components, channels]);
  const [focus, setFocus] = useState<string | null>(null);

  if (layout.nodes.length === 0) {
    return <p class="text-sm text-slate-500">This manifest declares no components.</p>;
  }
  const kinds = [...new Set(channels.map((c) => c.kind || 'channel'))].sort();
  const lit = (from: string, to: string) => focus === null || focus === from || focus === to;
  const missing = layout.nodes.filter((n) => n.missing);
  return (
    <figure class="space-y-2">
      <div class="overflow-x-auto rounded-md border border-slate-200 bg-slate-50">
        <svg
          width={layout.width}
          height={layout.height}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          role="img"
          aria-label={props.title ?? `System with ${plural(components.length, 'component')} and ${plural(channels.length, 'channel')}`}
          class="block"
          data-testid="manifest-graph"
        >
          <defs>
            {Object.entries({ ...KIND_COLOUR, other: '#475569' }).map(([k, c]) => (
              <marker key={k} id={`arrow-${k}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                <path d="M 0 0 L 10 5 L 0 10 z" fill={c} />
              </marker>
            ))}
          </defs>
          {layout.edges.map((e) => {
            const colour = KIND_COLOUR[e.kind] ?? '#475569';
            const on = lit(e.from, e.to);
            return (
              <g key={e.name} opacity={on ? 1 : 0.15}>
                <title>{`${e.name}: ${e.from}${e.fromEnd ? '.' + e.fromEnd : ''} → ${e.to}${e.toEnd ? '.' + e.toEnd : ''}${e.kind ? ` (${e.kind})` : ''}`}</title>
                <path d={e.path} fill="none" stroke={colour} stroke-width="1.8" stroke-dasharray={e.kind === 'event' ? '5 3' : undefined} marker-end={`url(#arrow-${KIND_COLOUR[e.kind] ? e.kind : 'other'})`} />
                <text x={e.labelX} y={e.labelY} text-anchor="middle" font-size="11" fill={colour} paint-order="stroke" stroke="#f8fafc" stroke-width="3">
                  {e.name}
                </text>
              </g>
            );
          })}
          {layout.nodes.map((n) => (
            <g
              key={n.id}
              tabIndex={0}
              role="button"
              aria-label={`component ${n.id}${n.missing ? ' (not declared in the manifest)' : ''}`}
              onMouseEnter={() => setFocus(n.id)}
              onMouseLeave={() => setFocus(null)}
              onFocus={() => setFocus(n.id)}
              onBlur={() => setFocus(null)}
              opacity={focus === null || focus === n.id || layout.edges.some((e) => (e.from === focus && e.to === n.id) || (e.to === focus && e.from === n.id)) ? 1 : 0.35}
              style={{ cursor: 'default', outline: 'none' }}
            >
              <rect x={n.x} y={n.y} width={n.w} height={n.h} rx="8" fill={n.missing ? '#fef2f2' : '#ffffff'} stroke={n.missing ? '#dc2626' : focus === n.id ? '#0f766e' : '#94a3b8'} stroke-width={focus === n.id ? 2.5 : 1.5} stroke-dasharray={n.missing ? '4 3' : undefined} />
              <text x={n.x + n.w / 2} y={n.y + n.h / 2 + 4.5} text-anchor="middle" font-size="13" font-weight="600" fill={n.missing ? '#991b1b' : '#0f172a'}>
                {n.id}
              </text>
            </g>
          ))}
        </svg>
      </div>
      <figcaption class="flex flex-wrap gap-x-5 gap-y-1 text-xs text-slate-600">
        <span>{plural(components.length, 'component')} · {plural(channels.length, 'channel')}. Arrows point from the component that uses a channel to the one that serves it.</span>
        {kinds.map((k) => (
          <span key={k} class="inline-flex items-center gap-1.5">
            <svg width="22" height="6" aria-hidden="true"><line x1="0" y1="3" x2="22" y2="3" stroke={KIND_COLOUR[k] ?? '#475569'} stroke-width="2" stroke-dasharray={k === 'event' ? '5 3' : undefined} /></svg>
            {k}
          </span>
        ))}
      </figcaption>
      {missing.length > 0 && (
        <p class="text-xs font-medium text-red-700">
          Channels name {missing.length === 1 ? 'a component' : 'components'} the manifest does not declare: {missing.map((m) => m.id).join(', ')} (dashed red).
        </p>
      )}
    </figure>
  );
}
