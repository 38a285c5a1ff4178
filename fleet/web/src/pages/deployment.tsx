import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type RowError } from '../api/client';
import { all, fleet } from '../api/fleet';
import type { DeviceImport, Release } from '../api/models';
import { href, navigate } from '../router';
import { canWrite, useSession } from '../session';
import { DeleteButton, Empty, ErrorBox, Field, FormModal, Modal, Notice, Page, KeyField, PageLoading, Section, Stat, StatusBadge, TextField, chosenId } from '../ui/components';
import { DataTable, asyncList } from '../ui/table';
import { connectionOf, lastUpdateNote } from './device_state';
import { plural, timeAgo } from '../ui/format';
import { useAction, useAsync, useForm, useInterval, usePaged } from '../ui/hooks';
import { useCrumbs } from './crumbs';
import { OverlaySection } from './overlay';
import { ReleaseField } from './release_field';
import { useLive } from '../live';

// The name search asks the server (GET /devices?name=, paged like the whole list) once typing
// pauses for this long.
const SEARCH_DELAY_MS = 250;

export function DeploymentPage(props: { id: number }) {
  const { info } = useSession();
  const writable = canWrite(info);
  const dep = useAsync(() => fleet.deployment(props.id), [props.id]);
  const crumbs = useCrumbs({ projectId: dep.data?.project_id });
  const [connFilter, setConnFilter] = useState('');
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setQ(search.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(t);
  }, [search]);
  const devices = usePaged(
    (c) => fleet.devices({ deployment_id: props.id, connection: connFilter || undefined, name: q || undefined }, c),
    [props.id, connFilter, q],
  );
  const releaseNames = useAsync(async () => {
    if (!dep.data) return new Map<number, string>();
    const rs = await all<Release>((c) => fleet.releases(dep.data!.project_id, c), 1000);
    return new Map(rs.map((r) => [r.id, `${r.name} ${r.version}`]));
  }, [dep.data?.project_id]);
  const relName = (id: number) => releaseNames.data?.get(id) ?? `release #${id}`;
  const rollouts = usePaged((c) => fleet.rollouts(props.id, c), [props.id]);
  const proxies = useAsync(() => fleet.proxies(props.id), [props.id]);
  const [dialog, setDialog] = useState<null | 'device' | 'import' | 'rollout' | 'proxy'>(null);
  const removeProxy = useAction();
  const refresh = () => {
    dep.reload();
    devices.reload();
    rollouts.reload();
  };
  useInterval(refresh, 5000);
  useLive(['device', 'rollout', 'deployment'], refresh);

  if (dep.error || !dep.data) return <PageLoading title="Deployment" state={dep} />;
  const d = dep.data;
  const never = devices.items.filter((x) => connectionOf(x) === 'never').length;
  const active = rollouts.items.find((r) => r.status === 'running' || r.status === 'paused');

  return (
    <Page
      title={d.name}
      crumbs={[...crumbs, { label: d.name }]}
      help={d.description || 'A group of devices that run the same release. Update them all at once with a phased rollout.'}
      actions={
        writable && (
          <>
            <button class="btn-secondary" onClick={() => setDialog('device')}>Register device</button>
            <button class="btn-secondary" onClick={() => setDialog('import')}>Import devices</button>
            <button class="btn-primary" onClick={() => setDialog('rollout')} disabled={!!active} title={active ? 'A rollout is already in progress' : undefined}>Start rollout</button>
            <DeleteButton what={`deployment ${d.name}`} consequence="Only a deployment without devices can be deleted." onDelete={() => fleet.deleteDeployment(d.id)} onDone={() => navigate(`/projects/${d.project_id}`)} />
          </>
        )
      }
    >
      <div class="grid grid-cols-2 gap-4 lg:grid-cols-4">
        <Stat label="Devices" value={d.device_count} hint="active (not decommissioned)" />
        <Stat label="Online now" value={d.online_count} />
        <Stat label="Offline" value={Math.max(0, d.device_count - d.online_count)} hint={never > 0 ? `${plural(never, 'device')} shown with no connection recorded` : undefined} />
        <Stat label="Rollouts" value={rollouts.items.length} hint={active ? 'one in progress' : 'none in progress'} />
      </div>

      {active && (
        <Notice tone={active.status === 'paused' ? 'warning' : 'info'} title={active.status === 'paused' ? 'A rollout is paused' : 'A rollout is in progress'}>
          <a href={href(`/rollouts/${active.id}`)}>Open rollout #{active.id}</a> to follow it{writable ? ', pause, resume or cancel it' : ''}.
          {active.status_reason && <> Reason: {active.status_reason}</>}
        </Notice>
      )}

      <Section
        title="Devices"
        help="Refreshed every 5 seconds."
        actions={
          <>
            <input
              type="search"
              aria-label="Search devices by name"
              placeholder="Search by name"
              class="input w-44 py-1.5"
              value={search}
              onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
            />
            <select aria-label="Show devices" class="input w-auto py-1.5" value={connFilter} onChange={(e) => setConnFilter((e.target as HTMLSelectElement).value)}>
              <option value="">All devices</option>
              <option value="online">Online only</option>
              <option value="offline">Offline only</option>
            </select>
          </>
        }
        flush
      >
        <DataTable
          list={devices}
          testId="device-table"
          stack
          head={<><th>Device</th><th>Connection</th><th>Release</th><th>Last update</th><th>Tunnel address</th><th>Last seen</th></>}
          row={(x) => {
            const u = x.last_update;
            const note = lastUpdateNote(x);
            return (
              <tr key={x.id}>
                <td data-label="Device"><a href={href(`/devices/${x.id}`)} class="font-medium">{x.name}</a></td>
                <td data-label="Connection"><StatusBadge status={connectionOf(x)} /></td>
                <td data-label="Release">{x.current_release_id ? <a href={href(`/releases/${x.current_release_id}`)}>{relName(x.current_release_id)}</a> : <span class="text-slate-400">none reported yet</span>}</td>
                <td data-label="Last update">
                  {u ? (
                    <>
                      <div><a href={href(`/rollouts/${u.rollout_id}`)} class="no-underline" title={`Rollout #${u.rollout_id} to ${relName(u.release_id)}, ${timeAgo(u.at)}`}><StatusBadge status={u.status} /></a>
                      {note && <div class="mt-1 max-w-xs text-xs break-words text-red-800">{note}</div>}</div>
                    </>
                  ) : <span class="text-slate-400">—</span>}
                </td>
                <td data-label="Tunnel address" class="mono">{x.tunnel_address ?? '—'}</td>
                <td data-label="Last seen" class="text-slate-500">{x.last_seen_at ? timeAgo(x.last_seen_at) : 'not recorded'}</td>
              </tr>
            );
          }}
          empty={
            q ? (
              <Empty title={`No device named like "${q}"`}>Search looks for the text anywhere in a device's name{connFilter ? `, among ${connFilter} devices` : ''}.</Empty>
            ) : (
              <Empty title={connFilter ? `No ${connFilter} devices` : 'No devices in this deployment'} action={writable && <button class="btn-primary" onClick={() => setDialog('device')}>Register a device</button>}>
                Register a device with its two public keys (printed by the device on first boot). Fleet gives it a private tunnel address.
              </Empty>
            )
          }
        />
      </Section>

      <Section title="Rollouts" help="Updates of this deployment, newest first." flush>
        <DataTable
          list={rollouts}
          head={<><th>Rollout</th><th>Status</th><th>Devices</th><th>Batches</th><th>Started</th></>}
          row={(r) => (
            <tr key={r.id}>
              <td><a href={href(`/rollouts/${r.id}`)} class="font-medium">Rollout #{r.id}</a> <span class="text-slate-500">to {relName(r.release_id)}</span></td>
              <td><StatusBadge status={r.status} /></td>
              <td>{r.progress.succeeded} of {r.total} updated{r.progress.failed > 0 && <span class="text-red-700"> · {r.progress.failed} failed</span>}</td>
              <td>{r.batches.join('% · ')}%</td>
              <td class="text-slate-500">{timeAgo(r.created_at)} by {r.created_by}</td>
            </tr>
          )}
          empty={<Empty title="No rollouts yet">Start a rollout to update the devices to a release.</Empty>}
        />
      </Section>

      <OverlaySection scope="deployment" targetId={props.id} projectId={d.project_id} preferRelease={null} writable={writable} />

      <Section
        title="External services (proxies)"
        help="Devices reach nothing outside Fleet except the services listed here."
        actions={writable && <button class="btn-secondary" onClick={() => setDialog('proxy')}>Allow a service</button>}
        flush
      >
        {removeProxy.error !== null && <div class="p-5"><ErrorBox error={removeProxy.error} title="Service not removed" /></div>}
        <DataTable
          list={asyncList(proxies)}
          head={<><th>Service name</th><th>Forwarded to</th><th>Added</th>{writable && <th />}</>}
          row={(p) => (
            <tr key={p.name}>
              <td class="font-medium">{p.name}</td>
              <td class="mono">{p.host}:{p.port}</td>
              <td class="text-slate-500">{timeAgo(p.created_at)}</td>
              {writable && (
                <td class="text-right">
                  <button class="btn-ghost text-red-700" onClick={() => void removeProxy.run(`Stop allowing devices to reach "${p.name}"?`, () => fleet.removeProxy(props.id, p.name), proxies.reload)}>Remove</button>
                </td>
              )}
            </tr>
          )}
          empty={<Empty title="No external services allowed">Devices in this deployment can only talk to Fleet.</Empty>}
        />
      </Section>

      {dialog === 'device' && <RegisterDevice deploymentId={props.id} onClose={() => setDialog(null)} />}
      {dialog === 'import' && <ImportDevices deploymentId={props.id} onClose={() => setDialog(null)} onDone={refresh} />}
      {dialog === 'rollout' && <StartRollout deploymentId={props.id} projectId={d.project_id} onClose={() => setDialog(null)} />}
      {dialog === 'proxy' && <AddProxy deploymentId={props.id} onClose={() => setDialog(null)} onDone={proxies.reload} />}
    </Page>
  );
}

function RegisterDevice(props: { deploymentId: number; onClose: () => void }) {
  const [{ name, tunnel, identity }, set] = useForm({ name: '', tunnel: '', identity: '' });
  return (
    <FormModal
      title="Register a device"
      submitLabel="Register device"
      onClose={props.onClose}
      intro="A device proves who it is with two keys: one for the encrypted tunnel and one for its identity. Both are public keys: paste each key (base64) or its whole .pub file as the device or `keel key generate` wrote it, or choose the file. The device keeps the private halves."
      onSubmit={async () => {
        if (tunnel.trim() && tunnel.trim() === identity.trim()) throw new ApiError(400, 'same_key', 'The tunnel key and the identity key must be different keys.', 'identity_public_key');
        const dev = await fleet.registerDevice(props.deploymentId, { name: name.trim(), tunnel_public_key: tunnel.trim(), identity_public_key: identity.trim() });
        navigate(`/devices/${dev.id}`);
      }}
    >
      {(fe) => (
        <>
          <TextField id="device-name" label="Device name" hint="Unique in this deployment, e.g. the serial number or its location." error={fe('name')} value={name} onInput={set.name} autoFocus />
          <KeyField id="device-tunnel-key" label="Tunnel public key" error={fe('tunnel_public_key')} value={tunnel} onInput={set.tunnel} />
          <KeyField id="device-identity-key" label="Identity public key" error={fe('identity_public_key')} value={identity} onInput={set.identity} />
        </>
      )}
    </FormModal>
  );
}

// Many devices at once from a CSV or JSON file (POST /deployments/{id}/devices/import): all or
// nothing; a refused file lists its errors by line (CSV) or position (JSON), and nothing is created.
function ImportDevices(props: { deploymentId: number; onClose: () => void; onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [result, setResult] = useState<DeviceImport | null>(null);
  const send = useAction();
  const err = send.error;
  const rows = err instanceof ApiError ? err.rows : [];
  const submit = (e: JSX.TargetedEvent<HTMLFormElement, Event>) => {
    e.preventDefault();
    if (!file) return;
    const json = file.name.toLowerCase().endsWith('.json') || file.type === 'application/json';
    void send.run(null, async () => {
      setResult(await fleet.importDevices(props.deploymentId, file, json ? 'application/json' : 'text/csv'));
      props.onDone();
    });
  };
  const where = (r: RowError) => (r.line !== null ? `Line ${r.line}` : r.index !== null ? `Device ${r.index + 1}` : 'File');
  return (
    <Modal title="Import devices" onClose={props.onClose} wide>
      {result ? (
        <div class="space-y-4">
          <Notice tone="success" title={`Imported ${plural(result.count, 'device')}`}>
            Each has its tunnel address{result.devices.length > 0 && <> ({result.devices[0]!.tunnel_address}{result.devices.length > 1 && <> to {result.devices.at(-1)!.tunnel_address}</>})</>}. They appear in the device list.
          </Notice>
          <div class="flex justify-end"><button type="button" class="btn-primary" onClick={props.onClose}>Done</button></div>
        </div>
      ) : (
        <form onSubmit={submit} class="space-y-4" noValidate>
          <div class="text-sm text-slate-600">
            A CSV file whose first line names the columns <span class="mono">name,tunnel_public_key,identity_public_key</span> (one device per line), or a JSON file <span class="mono">{'{"devices": [{"name": …, "tunnel_public_key": …, "identity_public_key": …}]}'}</span>. Up to 100,000 devices. All or nothing: if any line has a problem, no device is created.
          </div>
          <Field id="import-file" label="File" error={null}>
            <input id="import-file" type="file" accept=".csv,.json,text/csv,application/json" class="block text-sm" onChange={(e) => { setFile(e.currentTarget.files?.[0] ?? null); send.clear(); }} />
          </Field>
          {err !== null && rows.length === 0 && <ErrorBox error={err} title="Not imported" />}
          {rows.length > 0 && err instanceof ApiError && (
            <div role="alert" data-testid="import-errors" class="rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-900">
              <div class="font-semibold">Not imported: {err.message}</div>
              <table class="mt-2 w-full text-left">
                <thead><tr><th class="pr-3">Where</th><th class="pr-3">Field</th><th>Problem</th></tr></thead>
                <tbody>
                  {rows.map((r, k) => (
                    <tr key={k}><td class="pr-3 whitespace-nowrap">{where(r)}</td><td class="pr-3 mono">{r.field ?? '—'}</td><td>{r.message}</td></tr>
                  ))}
                </tbody>
              </table>
              {err.rowCount > rows.length && <div class="mt-2">… and {err.rowCount - rows.length} more.</div>}
            </div>
          )}
          <div class="flex justify-end gap-2 pt-2">
            <button type="button" class="btn-secondary" onClick={props.onClose}>Cancel</button>
            <button type="submit" class="btn-primary" disabled={!file || send.busy}>{send.busy ? 'Importing…' : 'Import'}</button>
          </div>
        </form>
      )}
    </Modal>
  );
}

const PLANS: Record<string, { label: string; batches: number[] }> = {
  careful: { label: 'Careful: 5% → 25% → 50% → 100%', batches: [5, 25, 50, 100] },
  standard: { label: 'Standard: 10% → 50% → 100%', batches: [10, 50, 100] },
  all: { label: 'All devices at once', batches: [100] },
};

function StartRollout(props: { deploymentId: number; projectId: number; onClose: () => void }) {
  const [{ releaseId, plan, threshold, onFailure }, set] = useForm({ releaseId: '', plan: 'standard', threshold: '10', onFailure: 'pause' });
  return (
    <FormModal
      title="Start a rollout"
      submitLabel="Start rollout"
      onClose={props.onClose}
      intro="Devices are updated in batches. Each batch starts only when the previous one finished; if too many devices fail, the rollout stops by itself."
      onSubmit={async () => {
        const rid = chosenId(releaseId, 'Choose the release to install.', 'release_id');
        const t = Number(threshold);
        if (!Number.isInteger(t) || t < 0 || t > 100) throw new ApiError(400, 'invalid', 'Enter a whole number from 0 to 100.', 'failure_threshold_percent');
        const r = await fleet.startRollout(props.deploymentId, { release_id: rid, batches: PLANS[plan]!.batches, failure_threshold_percent: t, on_failure: onFailure });
        navigate(`/rollouts/${r.id}`);
      }}
    >
      {(fe) => (
        <>
          <ReleaseField id="rollout-release" label="Release to install" projectId={props.projectId} value={releaseId} onChange={set.releaseId} error={fe('release_id')} />
          <Field id="rollout-plan" label="Pace" hint="Percentages are of all devices in the deployment, cumulative." error={fe('batches')}>
            <select id="rollout-plan" class="input" value={plan} onChange={(e) => set.plan((e.target as HTMLSelectElement).value)}>
              {Object.entries(PLANS).map(([k, v]) => <option key={k} value={k}>{v.label}</option>)}
            </select>
          </Field>
          {plan === 'all' && <Notice tone="warning">Updating every device at once leaves no chance to stop a bad release before it reaches all of them.</Notice>}
          <div class="grid grid-cols-2 gap-4">
            <TextField id="rollout-threshold" label="Stop when failures exceed (%)" error={fe('failure_threshold_percent')} type="number" value={threshold} onInput={set.threshold} />
            <Field id="rollout-on-failure" label="Then" error={fe('on_failure')}>
              <select id="rollout-on-failure" class="input" value={onFailure} onChange={(e) => set.onFailure((e.target as HTMLSelectElement).value)}>
                <option value="pause">Pause (a person decides)</option>
                <option value="abort">Abort the rollout</option>
              </select>
            </Field>
          </div>
        </>
      )}
    </FormModal>
  );
}

function AddProxy(props: { deploymentId: number; onClose: () => void; onDone: () => void }) {
  const [{ name, host, port }, set] = useForm({ name: '', host: '', port: '' });
  return (
    <FormModal
      title="Allow an external service"
      submitLabel="Allow service"
      onClose={props.onClose}
      intro="Devices in this deployment will be able to open connections to this service through Fleet, by its name."
      onSubmit={async () => {
        const p = Number(port);
        if (!Number.isInteger(p) || p < 1 || p > 65535) throw new ApiError(400, 'invalid', 'Enter a port from 1 to 65535.', 'port');
        await fleet.setProxy(props.deploymentId, name.trim(), host.trim(), p);
        props.onDone();
      }}
    >
      {(fe) => (
        <>
          <TextField id="proxy-name" label="Service name" hint="What devices ask for, e.g. 'mqtt'." error={fe('name')} value={name} onInput={set.name} autoFocus />
          <div class="grid grid-cols-3 gap-4">
            <div class="col-span-2">
              <TextField id="proxy-host" label="Host" error={fe('host')} value={host} onInput={set.host} placeholder="broker.example.com" />
            </div>
            <TextField id="proxy-port" label="Port" error={fe('port')} type="number" value={port} onInput={set.port} placeholder="8883" />
          </div>
        </>
      )}
    </FormModal>
  );
}
