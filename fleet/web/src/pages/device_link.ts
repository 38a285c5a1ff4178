// What the device page says about the device link: command names and outcomes, the reported
// status's numbers, the serial console's "N lines dropped" marker, and what a closed remote
// console means. Pure functions, unit-tested in device_link.test.ts.
import type { DeviceCommand } from '../api/models';
import { bytes } from '../ui/format';

// The device link writes one line `N lines dropped` where the device had to drop console lines
// while it was offline (docs/fleet-api.md "Device link"). A device's own lines are `[name] text`.
export function droppedCount(text: string): number | null {
  const m = /^(\d+) lines dropped$/.exec(text);
  return m ? Number(m[1]) : null;
}

// What a command asks, in words ("Restart component sensor").
export function commandLabel(c: Pick<DeviceCommand, 'kind' | 'payload'>): string {
  const p = (typeof c.payload === 'object' && c.payload !== null ? c.payload : {}) as Record<string, unknown>;
  switch (c.kind) {
    case 'restart_system': return 'Restart the device';
    case 'restart_component': return `Restart component ${typeof p.component === 'string' ? p.component : '?'}`;
    case 'trace_on': return 'Start tracing';
    case 'trace_off': return 'Stop tracing';
    case 'identify': return 'Identify';
    case 'update': return typeof p.release_id === 'number' ? `Update to release #${p.release_id}` : 'Update';
    default: return c.kind.replace(/_/g, ' ');
  }
}

// The device's answer when it gave one ("done", "refused: no such component"), else what Fleet
// knows about delivery.
export function outcomeText(c: DeviceCommand): string {
  if (c.outcome) return c.detail ? `${c.outcome.replace(/_/g, ' ')}: ${c.detail}` : c.outcome.replace(/_/g, ' ');
  if (c.status === 'queued') return c.kind === 'update' ? 'not delivered (updates report through their rollout)' : 'not delivered yet';
  if (c.status === 'sent') return (c.deliveries ?? 1) > 1 ? `sent ${c.deliveries} times, no answer yet` : 'sent, no answer yet';
  if (c.status === 'cancelled') return 'withdrawn before delivery';
  return '—';
}

// Uptime as a person reads it: "45 s", "12 min 3 s", "5 h 12 min", "3 d 4 h".
export function uptimeText(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

// CPU use in per mille of one core → "12.5 %"; memory in KiB → "1.5 MiB".
export function cpuText(permille: number): string {
  return `${(permille / 10).toFixed(1)} %`;
}
export function memoryText(kib: number): string {
  return bytes(kib * 1024);
}

// Whether tracing was last asked on or off (the device does not report it): the newest trace
// command, with its state. Commands are newest first.
export function lastTraceCommand(newestFirst: DeviceCommand[]): DeviceCommand | null {
  return newestFirst.find((c) => c.kind === 'trace_on' || c.kind === 'trace_off') ?? null;
}

// The console websocket of a device, on the page's own origin (the session cookie goes with it).
export function consoleUrl(loc: { protocol: string; host: string }, deviceId: number): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/v1/devices/${deviceId}/console`;
}

export interface CloseInfo {
  title: string;
  text: string;
  tone: 'info' | 'warning' | 'danger';
  retry: boolean; // whether connecting again may help now
}

// What a closed console websocket means (docs/fleet-api.md: 4404 device offline, 4409 console
// limit, 4403 and 4401 as /events). `opened`: whether the connection had been established.
export function closeInfo(code: number, reason: string, opened: boolean): CloseInfo {
  const why = reason ? ` (${reason})` : '';
  switch (code) {
    case 4404:
      return { title: 'Device offline', text: 'The device is not connected to Fleet, so it has no console to open. Connect again when it is online.', tone: 'warning', retry: true };
    case 4409:
      return { title: 'Console limit reached', text: 'This device already has the most remote consoles Fleet allows open at once (2). Close another one, then connect again.', tone: 'warning', retry: true };
    case 4403:
      return { title: 'Not allowed', text: `Only owners of the device's organisation may open its console, and your access does not allow it (now)${why}. Reload the page to see what you may do.`, tone: 'danger', retry: false };
    case 4401:
      return { title: 'Signed out', text: `Your session or token ended${why}; sign in again to open the console.`, tone: 'danger', retry: false };
    case 1000:
    case 1001:
      return { title: 'Console closed', text: `The remote console was closed${why}.`, tone: 'info', retry: true };
    case 1011:
      return { title: 'Console failed', text: `The Fleet server ended the console${why}. Try again; if it persists, check the server log.`, tone: 'danger', retry: true };
    case 1006:
      return opened
        ? { title: 'Connection lost', text: 'The connection to the Fleet server broke. Connect again.', tone: 'warning', retry: true }
        : { title: 'Could not connect', text: 'The Fleet server refused the console connection before it opened: it may not offer remote consoles in this setup (in fleet mode keel-fleet needs the Fleet bus, --nats, to reach keel-gateway), or it cannot be reached.', tone: 'danger', retry: true };
    default:
      return { title: 'Console closed', text: `The remote console closed with code ${code}${why}.`, tone: 'warning', retry: true };
  }
}
