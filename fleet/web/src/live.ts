// Change notifications from /api/v1/events (websocket): pages reload what changed as soon as
// someone changes it, instead of waiting for the next poll. One connection for the whole app,
// reconnected with backoff; the polling in the pages stays as the fallback.
import { useEffect, useRef } from 'preact/hooks';

export interface ChangeEvent {
  type: 'change';
  action: string;
  target_type: string;
  target_id: string;
  organization_id: number | null;
  at: number;
}

type Listener = (e: ChangeEvent) => void;
const listeners = new Set<Listener>();
let socket: WebSocket | null = null;
let retry = 0;
let timer: ReturnType<typeof setTimeout> | null = null;

function connect(): void {
  if (socket || typeof WebSocket === 'undefined') return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/events`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.onopen = () => {
    retry = 0;
  };
  ws.onmessage = (m) => {
    let e: unknown;
    try {
      e = JSON.parse(String(m.data));
    } catch {
      return;
    }
    if (typeof e === 'object' && e !== null && (e as ChangeEvent).type === 'change') for (const l of [...listeners]) l(e as ChangeEvent);
  };
  ws.onclose = () => {
    socket = null;
    if (listeners.size === 0) return;
    reconnectLater();
  };
}

// The server closes the stream when its credential ends (logout, expiry, revocation): reconnect
// only while the session still works, so a signed-out page does not open a refused websocket (the
// page's own next request shows the sign-in page).
function reconnectLater(): void {
  const delay = Math.min(30_000, 1000 * 2 ** retry++);
  timer = setTimeout(() => {
    timer = null;
    if (listeners.size === 0) return;
    fetch('/api/v1/auth/me').then(
      (r) => {
        if (listeners.size === 0 || socket || timer) return;
        if (r.ok) connect();
        else reconnectLater();
      },
      () => reconnectLater(),
    );
  }, delay);
}

export function subscribe(l: Listener): () => void {
  listeners.add(l);
  connect();
  return () => {
    listeners.delete(l);
    if (listeners.size === 0) {
      if (timer) clearTimeout(timer);
      timer = null;
      socket?.close();
      socket = null;
    }
  };
}

// Calls fn (at most every 500 ms) when a change touches one of the given target types ('*': any)
// and, when given, `accept` says the event is about what the page shows (e.g. this device).
export function useLive(targetTypes: string[], fn: () => void, accept?: (e: ChangeEvent) => boolean): void {
  const saved = useRef(fn);
  saved.current = fn;
  const filter = useRef(accept);
  filter.current = accept;
  const key = targetTypes.join(',');
  useEffect(() => {
    const types = new Set(key.split(','));
    let pending: ReturnType<typeof setTimeout> | null = null;
    const off = subscribe((e) => {
      if ((!types.has('*') && !types.has(e.target_type)) || pending) return;
      if (filter.current && !filter.current(e)) return;
      pending = setTimeout(() => {
        pending = null;
        saved.current();
      }, 500);
    });
    return () => {
      off();
      if (pending) clearTimeout(pending);
    };
  }, [key]);
}
