// What the device says, on its page: the serial console (followed while the page is open, older
// lines on request, the device link's "N lines dropped" marker shown as a marker and not as a
// line the device printed) and the trace (with the buttons that switch tracing on and off).
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';
import { fleet } from '../api/fleet';
import type { DeviceCommand } from '../api/models';
import { Empty, ErrorBox, Section, StatusBadge } from '../ui/components';
import { dateTime, timeAgo } from '../ui/format';
import { useLogTail } from '../ui/hooks';
import { droppedCount, lastTraceCommand } from './device_link';

export function SerialConsole(props: { deviceId: number }) {
  const serial = useLogTail((q) => fleet.deviceSerial(props.deviceId, q), [props.deviceId]);
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true); // keep the console scrolled to the newest line unless the reader scrolled up
  // Older lines go in front: keep the lines the reader was looking at where they were.
  const before = useRef<{ height: number; top: number } | null>(null);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const b = before.current;
    if (b) {
      el.scrollTop = b.top + (el.scrollHeight - b.height);
      before.current = null;
    } else if (stick.current) el.scrollTop = el.scrollHeight;
  }, [serial.items]);
  const older = () => {
    const el = box.current;
    if (el) before.current = { height: el.scrollHeight, top: el.scrollTop };
    serial.older();
  };
  const dropped = serial.items.reduce((n, l) => n + (droppedCount(l.text) ?? 0), 0);
  return (
    <Section
      title="Serial console"
      help="The device's console output, newest at the bottom; new lines appear while this page is open. Fleet keeps the newest lines of each device."
      actions={serial.hasOlder && (
        <button type="button" class="btn-secondary" disabled={serial.loadingOlder} onClick={older}>
          {serial.loadingOlder ? 'Loading…' : 'Show earlier lines'}
        </button>
      )}
    >
      {serial.error && <ErrorBox error={serial.error} title="Could not refresh the console" />}
      <pre
        ref={box}
        tabIndex={0}
        class="mono h-72 overflow-auto whitespace-pre-wrap break-all rounded-md bg-slate-900 p-3 text-slate-100"
        data-testid="serial-log"
        aria-label="Serial console output"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {serial.items.length > 0
          ? serial.items.map((l, i) => {
            const n = droppedCount(l.text);
            const sep = i + 1 < serial.items.length ? '\n' : '';
            if (n === null) return <span key={l.id}>{l.text}{sep}</span>;
            // A block of its own (no line break text: the block ends the line).
            return (
              <span key={l.id} data-testid="serial-dropped" class="my-0.5 block w-fit rounded bg-amber-200 px-1.5 font-sans text-xs font-semibold text-amber-950" title={`The device could not keep ${n} console lines while it was not connected`}>
                <span aria-hidden="true">⚠ </span>{n} {n === 1 ? 'line' : 'lines'} dropped by the device
              </span>
            );
          })
          : <span class="text-slate-400 break-normal">{serial.loading ? 'Loading…' : 'No output received yet. Output appears here while the device is connected.'}</span>}
      </pre>
      {dropped > 0 && <p class="mt-2 text-xs text-slate-500">Marked lines: the device dropped console output it could not send while it was not connected ({dropped} {dropped === 1 ? 'line' : 'lines'} in what is shown).</p>}
    </Section>
  );
}

export function TraceSection(props: { deviceId: number; commands: DeviceCommand[] | undefined; writable: boolean; queue: (kind: 'trace_on' | 'trace_off') => void; busy: boolean }) {
  const trace = useLogTail((q) => fleet.deviceTrace(props.deviceId, q), [props.deviceId], 2000, 500);
  const lastCmd = props.commands ? lastTraceCommand(props.commands) : null;
  // Keep the table's newest rows (at the top) in view as they arrive.
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (box.current && box.current.scrollTop < 24) box.current.scrollTop = 0;
  }, [trace.items]);
  return (
    <Section
      title="Trace"
      help="Events the device recorded while tracing was on (restarts, faults, channel activity), newest first."
      actions={props.writable && (
        <>
          <button type="button" class="btn-secondary" disabled={props.busy} onClick={() => props.queue('trace_on')}>Start tracing</button>
          <button type="button" class="btn-secondary" disabled={props.busy} onClick={() => props.queue('trace_off')}>Stop tracing</button>
        </>
      )}
    >
      <p class="mb-3 text-sm text-slate-600" data-testid="trace-state">
        {lastCmd ? (
          <>
            Last asked: <span class="font-medium">{lastCmd.kind === 'trace_on' ? 'tracing on' : 'tracing off'}</span>{' '}
            <StatusBadge status={lastCmd.status} /> <span class="text-slate-500">{timeAgo(lastCmd.created_at)}</span>
          </>
        ) : 'Tracing has not been switched from here; devices start with it off.'}
      </p>
      {trace.error && <ErrorBox error={trace.error} title="Could not refresh the trace" />}
      {trace.items.length > 0 ? (
        <div ref={box} class="h-64 overflow-auto" tabIndex={0} aria-label="Trace events">
          <table class="table" data-testid="trace-log">
            <thead><tr><th>Time</th><th>Component</th><th>Event</th></tr></thead>
            <tbody>
              {[...trace.items].reverse().map((t) => (
                <tr key={t.id}>
                  <td class="whitespace-nowrap text-slate-500">{dateTime(t.at)}</td>
                  <td>{t.component ?? 'system'}</td>
                  <td class="mono">{t.event}{t.data !== null && t.data !== undefined ? ` ${JSON.stringify(t.data)}` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : <Empty title="No trace events">{trace.loading ? 'Loading…' : 'The device sends trace events while tracing is on and it is connected.'}</Empty>}
      {trace.hasOlder && (
        <div class="mt-3 flex justify-center">
          <button type="button" class="btn-secondary" disabled={trace.loadingOlder} onClick={trace.older}>{trace.loadingOlder ? 'Loading…' : 'Show earlier events'}</button>
        </div>
      )}
    </Section>
  );
}
