// Turning the overlay form (one text box or checkbox per configurable key) into the JSON the API
// takes ({component: {key: value}}), with the manifest's declared type checked here first so the
// operator gets the message next to the box before anything is sent. The server validates again.
import type { ConfigKey } from '../api/models';

export type FormValues = Record<string, string | boolean>; // "component.key" → raw input
export type OverlayConfig = Record<string, Record<string, string | number | boolean>>;

export function fieldName(k: ConfigKey): string {
  return `config.${k.component}.${k.key}`;
}

export function buildOverlayConfig(keys: readonly ConfigKey[], values: FormValues):
  { ok: true; config: OverlayConfig } | { ok: false; field: string; message: string } {
  const config: OverlayConfig = {};
  for (const k of keys) {
    const raw = values[`${k.component}.${k.key}`];
    if (raw === undefined || raw === '') continue; // not set: the release's default applies
    let v: string | number | boolean;
    if (k.type === 'bool') {
      if (typeof raw === 'boolean') v = raw;
      else if (raw === 'true' || raw === 'false') v = raw === 'true';
      else return { ok: false, field: fieldName(k), message: `${k.component}.${k.key} must be true or false` };
    } else if (k.type === 'integer') {
      const s = String(raw).trim();
      if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(Number(s)))
        return { ok: false, field: fieldName(k), message: `${k.component}.${k.key} must be a whole number` };
      v = Number(s);
    } else if (k.type === 'float') {
      const s = String(raw).trim();
      const n = Number(s);
      if (s === '' || !Number.isFinite(n)) return { ok: false, field: fieldName(k), message: `${k.component}.${k.key} must be a number` };
      v = n;
    } else {
      v = String(raw);
      if (new TextEncoder().encode(v).length > 4096) return { ok: false, field: fieldName(k), message: `${k.component}.${k.key} is longer than 4096 bytes` };
    }
    (config[k.component] ??= {})[k.key] = v;
  }
  return { ok: true, config };
}

// The reverse, to fill the form from a stored overlay.
export function formFromConfig(config: unknown): FormValues {
  const out: FormValues = {};
  if (typeof config !== 'object' || config === null) return out;
  for (const [comp, kv] of Object.entries(config as Record<string, unknown>)) {
    if (typeof kv !== 'object' || kv === null) continue;
    for (const [key, v] of Object.entries(kv as Record<string, unknown>)) out[`${comp}.${key}`] = typeof v === 'boolean' ? v : String(v);
  }
  return out;
}
