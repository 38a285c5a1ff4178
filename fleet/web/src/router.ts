// Hash routing (#/devices/12): keel-fleet serves dist/ as static files and needs no fallback
// route for deep links, and a reload never hits the API with a page path.
import { useEffect, useState } from 'preact/hooks';

export interface RouteMatch {
  name: string;
  params: Record<string, string>;
  query: URLSearchParams;
}

export interface RouteDef {
  name: string;
  pattern: string; // "/devices/:id"
}

export function matchRoute(defs: readonly RouteDef[], hash: string): RouteMatch | null {
  const raw = hash.replace(/^#/, '') || '/';
  const [pathPart, queryPart] = raw.split('?', 2) as [string, string | undefined];
  const path = pathPart.replace(/\/+$/, '') || '/';
  const segs = path.split('/').filter(Boolean);
  for (const d of defs) {
    const ps = d.pattern.split('/').filter(Boolean);
    if (ps.length !== segs.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i]!;
      const s = segs[i]!;
      if (p.startsWith(':')) {
        try {
          params[p.slice(1)] = decodeURIComponent(s);
        } catch {
          ok = false;
          break;
        }
      } else if (p !== s) {
        ok = false;
        break;
      }
    }
    if (ok) return { name: d.name, params, query: new URLSearchParams(queryPart ?? '') };
  }
  return null;
}

export function href(path: string): string {
  return `#${path}`;
}

export function navigate(path: string): void {
  if (location.hash !== `#${path}`) location.hash = path;
}

export function useHash(): string {
  const [h, setH] = useState(location.hash);
  useEffect(() => {
    const on = () => setH(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return h;
}
