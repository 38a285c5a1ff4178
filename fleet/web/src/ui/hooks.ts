import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';

export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

// One load at a time: `start` runs a fetch and hands its result to `ok`; a response that arrives
// after a newer load started is dropped, so a page never shows stale data over fresh.
function useLatestLoad(): { error: Error | undefined; loading: boolean; start: <T>(fetch: () => Promise<T>, ok: (v: T) => void) => void } {
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const gen = useRef(0);
  const start = useCallback(<T,>(fetch: () => Promise<T>, ok: (v: T) => void) => {
    const my = ++gen.current;
    setLoading(true);
    fetch().then(
      (v) => {
        if (gen.current !== my) return;
        ok(v);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (gen.current !== my) return;
        setError(toError(e));
        setLoading(false);
      },
    );
  }, []);
  return { error, loading, start };
}

// Loads data when deps change (and on reload).
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const { error, loading, start } = useLatestLoad();
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => start(fn, (d) => setData(() => d)), [...deps, tick]);
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
  const { error, loading, start } = useLatestLoad();
  const load = useCallback((from: string | null, append: boolean) => {
    start(() => fetchPage(from), (p) => {
      setItems((old) => (append ? [...old, ...p.items] : p.items));
      setCursor(p.next_cursor);
    });
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

export interface LogTail<T> {
  items: T[];
  error: Error | undefined;
  loading: boolean;
  // Older entries than the first shown exist (the server has another page back).
  hasOlder: boolean;
  loadingOlder: boolean;
  // Loads the page before the first entry shown and puts it in front.
  older: () => void;
}

type LogPage<T> = { items: T[]; next_cursor: string | null };
type LogTailQuery = { order?: 'asc' | 'desc'; after?: number; cursor?: string; limit: number };

// Follows an append-only log (a device's serial console or trace): first its newest page
// (order=desc), then every `ms` the entries after the last one seen (after=<id>, following
// next_cursor for a burst), so an open page keeps up without reloading what it already has.
// Keeps at most `keep` entries, oldest first, plus the older pages the reader asked for
// (`older()`, which continues the first read's next_cursor). When new entries push old ones out,
// paging back stops (the cursor no longer joins the entries kept).
export function useLogTail<T extends { id: number }>(
  fetchPage: (q: LogTailQuery) => Promise<LogPage<T>>,
  deps: unknown[],
  ms = 2000,
  keep = 1000,
): LogTail<T> {
  const [items, setItems] = useState<T[]>([]);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [olderCursor, setOlderCursor] = useState<string | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const last = useRef(0);
  const busy = useRef(false);
  const gen = useRef(0);
  const limit = useRef(keep);
  const shown = useRef(0);
  shown.current = items.length;
  const fail = (e: unknown) => setError(toError(e));
  useEffect(() => {
    const my = ++gen.current;
    last.current = 0;
    busy.current = true;
    limit.current = keep;
    setItems([]);
    setOlderCursor(null);
    setError(undefined);
    setLoading(true);
    fetchPage({ order: 'desc', limit: 200 })
      .then(
        (p) => {
          if (gen.current !== my) return;
          const got = [...p.items].reverse();
          const newest = got.at(-1);
          if (newest) last.current = newest.id;
          setItems(got);
          setOlderCursor(p.next_cursor);
        },
        (e: unknown) => gen.current === my && fail(e),
      )
      .finally(() => {
        if (gen.current !== my) return;
        busy.current = false;
        setLoading(false);
      });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useInterval(() => {
    if (busy.current) return;
    const my = gen.current;
    busy.current = true;
    void (async () => {
      try {
        const fresh: T[] = [];
        let after = last.current;
        for (let k = 0; k < 10; k++) {
          const p = await fetchPage({ after, limit: 200 });
          if (gen.current !== my) return;
          fresh.push(...p.items);
          const newest = p.items.at(-1);
          if (newest) after = newest.id;
          if (!p.next_cursor) break;
        }
        last.current = after;
        if (fresh.length > 0) {
          if (shown.current + fresh.length > limit.current) setOlderCursor(null);
          setItems((old) => {
            const all = old.concat(fresh);
            return all.length > limit.current ? all.slice(all.length - limit.current) : all;
          });
        }
        setError(undefined);
      } catch (e) {
        if (gen.current === my) fail(e);
      } finally {
        if (gen.current === my) busy.current = false;
      }
    })();
  }, ms);
  const older = () => {
    if (!olderCursor || loadingOlder) return;
    const my = gen.current;
    setLoadingOlder(true);
    fetchPage({ order: 'desc', cursor: olderCursor, limit: 200 })
      .then(
        (p) => {
          if (gen.current !== my) return;
          const got = [...p.items].reverse();
          limit.current += got.length;
          setItems((old) => got.concat(old));
          setOlderCursor(p.next_cursor);
          setError(undefined);
        },
        (e: unknown) => gen.current === my && fail(e),
      )
      .finally(() => gen.current === my && setLoadingOlder(false));
  };
  return { items, error, loading, hasOlder: olderCursor !== null, loadingOlder, older };
}

export interface Action {
  busy: boolean;
  error: unknown; // null when the last run succeeded (or none ran yet)
  clear: () => void;
  // Asks `question` first (when given), runs fn, then done; a failure is kept in `error` for the
  // page to show next to what failed.
  run: (question: string | null, fn: () => Promise<unknown>, done?: () => void) => Promise<void>;
}

// A change the user starts from a button or a form.
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (question: string | null, fn: () => Promise<unknown>, done?: () => void) => {
    if (question !== null && !confirm(question)) return;
    setBusy(true);
    setError(null);
    try {
      await fn();
      done?.();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, clear: () => setError(null), run };
}

// A form's text values and one setter per field: `const [{ name }, set] = useForm({ name: '' })`,
// then `onInput={set.name}`.
export function useForm<T extends Record<string, string>>(initial: T): [T, { [K in keyof T]: (v: string) => void }] {
  const [values, setValues] = useState(initial);
  const setters = useMemo(() => {
    const s = {} as { [K in keyof T]: (v: string) => void };
    for (const k of Object.keys(initial) as Array<keyof T>) s[k] = (v: string) => setValues((old) => ({ ...old, [k]: v }));
    return s;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return [values, setters];
}
