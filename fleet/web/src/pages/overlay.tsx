// Configuration overlay of a device or a deployment: values for the keys a release's manifest
// declares configurable. Data only, never code (DESIGN §3); applied at the next update.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { all, fleet } from '../api/fleet';
import type { Release } from '../api/models';
import { Empty, ErrorBox, Notice, Section, Spinner } from '../ui/components';
import { timeAgo } from '../ui/format';
import { useAsync } from '../ui/hooks';
import { buildOverlayConfig, fieldName, formFromConfig, type FormValues } from './overlay_config';

export function OverlaySection(props: { scope: 'device' | 'deployment'; targetId: number; projectId: number; preferRelease: number | null; writable: boolean }) {
  const overlay = useAsync(async () => {
    try {
      return await fleet.overlay(props.scope, props.targetId);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.code === 'not_found' && !/endpoint/.test(e.message)) return null;
      throw e;
    }
  }, [props.scope, props.targetId]);
  const releases = useAsync(() => all<Release>((c) => fleet.releases(props.projectId, c), 500), [props.projectId]);
  const [releaseId, setReleaseId] = useState<number | null>(null);
  const chosen = releaseId ?? overlay.data?.release_id ?? props.preferRelease ?? releases.data?.[releases.data.length - 1]?.id ?? null;
  const release = useAsync(() => (chosen ? fleet.release(chosen) : Promise.resolve(null)), [chosen]);
  const [values, setValues] = useState<FormValues>({});
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setValues(formFromConfig(overlay.data?.config)), [overlay.data]);

  const keys = release.data?.summary?.configurable ?? [];
  const fieldErr = (f: string) => (err instanceof ApiError && err.field === f ? err.message : null);
  const what = props.scope === 'device' ? 'this device' : 'every device in this deployment';

  const save = async () => {
    setErr(null);
    setSaved(null);
    if (!chosen) return;
    const b = buildOverlayConfig(keys, values);
    if (!b.ok) {
      setErr(new ApiError(400, 'invalid', b.message, b.field));
      return;
    }
    setBusy(true);
    try {
      await fleet.setOverlay(props.scope, props.targetId, chosen, b.config);
      setSaved('Saved. The values apply at the next update.');
      overlay.reload();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!confirm(`Remove the configuration of ${what}? The release's defaults apply at the next update.`)) return;
    try {
      await fleet.deleteOverlay(props.scope, props.targetId);
      setValues({});
      overlay.reload();
      setSaved('Removed.');
    } catch (e) {
      setErr(e);
    }
  };

  return (
    <Section
      title="Configuration"
      help={`Settings for ${what}, checked against what the release declares configurable. Applied at the next update.${props.scope === 'device' ? ' A device setting wins over the deployment\'s.' : ''}`}
    >
      {overlay.error && <ErrorBox error={overlay.error} onRetry={overlay.reload} />}
      {releases.data && releases.data.length === 0 && <Empty title="No release yet">Upload a release: its manifest says which settings exist.</Empty>}
      {releases.data && releases.data.length > 0 && (
        <div class="space-y-4">
          <div class="flex flex-wrap items-end gap-4">
            <div>
              <label class="label" for={`${props.scope}-overlay-release`}>Settings declared by release</label>
              <select id={`${props.scope}-overlay-release`} class="input" value={chosen ?? ''} disabled={!props.writable} onChange={(e) => setReleaseId(Number((e.target as HTMLSelectElement).value))}>
                {releases.data.map((r) => <option key={r.id} value={r.id}>{r.name} {r.version}</option>)}
              </select>
            </div>
            {overlay.data && <p class="pb-2 text-xs text-slate-500">Last saved {timeAgo(overlay.data.updated_at)}.</p>}
          </div>
          {release.loading && !release.data && <Spinner />}
          {release.data && keys.length === 0 && <p class="text-sm text-slate-500">This release declares no configurable settings.</p>}
          {keys.length > 0 && (
            <div class="overflow-x-auto">
              <table class="table">
                <thead><tr><th>Component</th><th>Setting</th><th>Type</th><th>Value (empty = release default)</th></tr></thead>
                <tbody>
                  {keys.map((k) => {
                    const id = `${k.component}.${k.key}`;
                    const fe = fieldErr(fieldName(k));
                    const v = values[id];
                    return (
                      <tr key={id}>
                        <td>{k.component}</td>
                        <td class="mono">{k.key}</td>
                        <td>{k.type}</td>
                        <td>
                          {k.type === 'bool' ? (
                            <select aria-label={`Value of ${id}`} class="input" disabled={!props.writable} value={v === undefined || v === '' ? '' : String(v)} onChange={(e) => setValues({ ...values, [id]: (e.target as HTMLSelectElement).value })}>
                              <option value="">(default)</option>
                              <option value="true">true</option>
                              <option value="false">false</option>
                            </select>
                          ) : (
                            <input aria-label={`Value of ${id}`} class={`input ${fe ? 'input-error' : ''}`} disabled={!props.writable} inputMode={k.type === 'integer' || k.type === 'float' ? 'decimal' : undefined} value={typeof v === 'string' ? v : ''} onInput={(e) => setValues({ ...values, [id]: (e.target as HTMLInputElement).value })} />
                          )}
                          {fe && <p class="mt-1 text-xs font-medium text-red-700">{fe}</p>}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          {err !== null && !(err instanceof ApiError && err.field?.startsWith('config.')) && <ErrorBox error={err} title="Configuration not saved" />}
          {saved && <Notice tone="success">{saved}</Notice>}
          {props.writable && keys.length > 0 && (
            <div class="flex gap-2">
              <button type="button" class="btn-primary" disabled={busy} onClick={() => void save()}>{busy ? 'Saving…' : 'Save configuration'}</button>
              {overlay.data && <button type="button" class="btn-secondary" onClick={() => void remove()}>Remove configuration</button>}
            </div>
          )}
        </div>
      )}
    </Section>
  );
}
