import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

// Loads data when deps change; a response that arrives after deps changed again is dropped.
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const gen = useRef(0);
  useEffect(() => {
    const my = ++gen.current;
    setLoading(true);
    fn().then(
      (d) => {
        if (gen.current !== my) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (gen.current !== my) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

// Calls fn every `ms` while the tab is visible (live status without a websocket dependency).
export function useInterval(fn: () => void, ms: number | null): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') saved.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms]);
}

export interface PagedState<T> {
  items: T[];
  error: Error | undefined;
  loading: boolean;
  hasMore: boolean;
  more: () => void;
  reload: () => void;
}

// A cursor-paginated list ({items, next_cursor}): first page on mount, "Show more" appends.
export function usePaged<T>(fetchPage: (cursor: string | null) => Promise<{ items: T[]; next_cursor: string | null }>, deps: unknown[]): PagedState<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const gen = useRef(0);
  const load = useCallback((from: string | null, append: boolean) => {
    const my = ++gen.current;
    setLoading(true);
    fetchPage(from).then(
      (p) => {
        if (gen.current !== my) return;
        setItems((old) => (append ? [...old, ...p.items] : p.items));
        setCursor(p.next_cursor);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (gen.current !== my) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => load(null, false), [load]);
  return {
    items,
    error,
    loading,
    hasMore: cursor !== null,
    more: () => cursor !== null && load(cursor, true),
    reload: () => load(null, false),
  };
}
