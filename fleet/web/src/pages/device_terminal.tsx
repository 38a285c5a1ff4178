// The device page's remote console: a terminal (xterm.js) on the console websocket
// `/api/v1/devices/{id}/console` (docs/fleet-api.md): raw bytes both ways, the device's shell at
// the other end. xterm.js is loaded when the operator connects, not with the page. Closing codes
// (4404 device offline, 4409 console limit, 4403/4401 access) are shown as messages
// (device_link.ts closeInfo).
import type { FitAddon } from '@xterm/addon-fit';
import type { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorBox, Notice, Section } from '../ui/components';
import { closeInfo, consoleUrl, type CloseInfo } from './device_link';

type State = 'idle' | 'loading' | 'connecting' | 'open' | 'closed';

const HELP = 'A shell on the device through the device link: status, components, log, restart, net, trace, version, uptime (type help). Keys go to the device while the terminal has the focus; Ctrl+] moves the focus out of it.';

export function RemoteConsole(props: { deviceId: number; online: boolean; allowed: boolean }) {
  const [state, setState] = useState<State>('idle');
  const [closed, setClosed] = useState<CloseInfo | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const host = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | null>(null);
  const fit = useRef<FitAddon | null>(null);
  const socket = useRef<WebSocket | null>(null);
  const byUser = useRef(false);
  // Whether the terminal ever showed the device's output: until then a refused console (offline,
  // limit) shows only its message, not an empty terminal.
  const [hadOutput, setHadOutput] = useState(false);
  const output = useRef(false);
  const leave = useRef<HTMLButtonElement>(null);
  // xterm.js's screen reader mode: the rows also go to an accessibility tree and new output is
  // announced. Off by default (it costs time on fast output).
  const [reader, setReader] = useState(false);
  useEffect(() => {
    if (term.current) term.current.options.screenReaderMode = reader;
  }, [reader]);

  // Closing the page (or going to another device) closes the console and frees its slot.
  useEffect(() => () => {
    const ws = socket.current;
    socket.current = null;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      ws.close(1000, 'page closed');
    }
    term.current?.dispose();
    term.current = null;
  }, [props.deviceId]);

  // The terminal follows its box's size (window resize, sidebar, phone rotation).
  useEffect(() => {
    const el = host.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => fitNow());
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const fitNow = () => {
    try {
      fit.current?.fit();
    } catch {
      // not laid out yet (hidden): the next resize fits it
    }
  };

  const ensureTerminal = async (): Promise<Terminal> => {
    if (term.current) return term.current;
    const [{ Terminal: Term }, { FitAddon: Fit }] = await Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit'), import('@xterm/xterm/css/xterm.css')]);
    const t = new Term({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 13,
      scrollback: 5000,
      screenReaderMode: reader,
      theme: { background: '#0f172a', foreground: '#f1f5f9' },
    });
    const f = new Fit();
    t.loadAddon(f);
    t.open(host.current!);
    t.textarea?.setAttribute('aria-label', 'Remote console input: keys go to the device; Ctrl+] leaves');
    // Ctrl+] leaves the terminal (as it ends `keel device console`): no keyboard trap.
    t.attachCustomKeyEventHandler((e) => {
      if (e.ctrlKey && !e.altKey && !e.metaKey && (e.key === ']' || e.code === 'BracketRight')) {
        if (e.type === 'keydown') leave.current?.focus();
        return false;
      }
      return true;
    });
    const enc = new TextEncoder();
    t.onData((d) => {
      const ws = socket.current;
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
    });
    // Some mouse reports are binary strings (one byte per char), not UTF-8 text.
    t.onBinary((d) => {
      const ws = socket.current;
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(d, (ch) => ch.charCodeAt(0) & 0xff));
    });
    term.current = t;
    fit.current = f;
    fitNow();
    return t;
  };

  const connect = async () => {
    if (socket.current) return;
    setClosed(null);
    setLoadError(null);
    setState('loading');
    let t: Terminal;
    try {
      t = await ensureTerminal();
    } catch (e) {
      setLoadError(e);
      setState('idle');
      return;
    }
    setState('connecting');
    byUser.current = false;
    let opened = false;
    const ws = new WebSocket(consoleUrl(location, props.deviceId));
    ws.binaryType = 'arraybuffer';
    socket.current = ws;
    ws.onopen = () => {
      opened = true;
      setState('open');
      // xterm.js draws only while its box is on screen (and focuses without scrolling): bring the
      // terminal into view, the operator just asked for it.
      host.current?.scrollIntoView({ block: 'nearest' });
      t.focus();
    };
    ws.onmessage = (m) => {
      if (typeof m.data === 'string') t.write(m.data);
      else t.write(new Uint8Array(m.data as ArrayBuffer));
      output.current = true;
      setHadOutput(true);
    };
    ws.onclose = (ev) => {
      if (socket.current === ws) socket.current = null;
      setState('closed');
      setClosed(byUser.current ? { title: 'Disconnected', text: 'You closed the remote console.', tone: 'info', retry: true } : closeInfo(ev.code, ev.reason, opened));
      if (output.current) t.write('\r\n\x1b[2m— console closed —\x1b[0m\r\n');
    };
  };

  const disconnect = () => {
    byUser.current = true;
    socket.current?.close(1000, 'closed by the user');
  };

  if (!props.allowed) {
    return (
      <Section title="Remote console" help="A shell on the device through the device link.">
        <p class="text-sm text-slate-500">Only owners of this device's organisation can open its remote console.</p>
      </Section>
    );
  }

  const live = state === 'connecting' || state === 'open';
  const statusText = {
    idle: props.online ? 'Not connected.' : 'Not connected. The device is offline: the console opens only while it is connected.',
    loading: 'Loading the terminal…',
    connecting: 'Connecting to the device…',
    open: 'Connected: keys typed in the terminal go to the device. Ctrl+] leaves the terminal.',
    closed: 'Not connected.',
  }[state];

  return (
    <Section
      title="Remote console"
      help={HELP}
      actions={
        live ? (
          <button ref={leave} type="button" class="btn-secondary" onClick={disconnect}>Disconnect</button>
        ) : (
          <button ref={leave} type="button" class="btn-primary" disabled={state === 'loading'} onClick={() => void connect()}>
            {state === 'closed' ? 'Connect again' : 'Connect'}
          </button>
        )
      }
    >
      <div class="space-y-3">
        {loadError !== null && <ErrorBox error={loadError} title="Could not load the terminal" />}
        {closed && (
          <div data-testid="console-closed">
            <Notice tone={closed.tone} title={closed.title}>{closed.text}</Notice>
          </div>
        )}
        <div class="flex flex-wrap items-center justify-between gap-x-4 gap-y-1">
          <p role="status" aria-live="polite" class="text-sm text-slate-600" data-testid="console-status">{statusText}</p>
          <label class="inline-flex items-center gap-2 text-sm text-slate-600">
            <input type="checkbox" checked={reader} onChange={(e) => setReader((e.target as HTMLInputElement).checked)} />
            Screen reader mode
          </label>
        </div>
        <div
          ref={host}
          data-testid="console-terminal"
          class={state === 'loading' || state === 'connecting' || state === 'open' || hadOutput ? 'h-80 overflow-hidden rounded-md bg-slate-900 p-2' : 'hidden'}
        />
      </div>
    </Section>
  );
}
