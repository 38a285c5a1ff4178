import { useEffect, useRef, useState } from 'preact/hooks';
import { all, fleet } from '../api/fleet';
import type { Deployment, Device, Project } from '../api/models';
import { ManifestGraph } from '../graph/ManifestGraph';
import { href, navigate } from '../router';
import { canWrite, useSession } from '../session';
import { DefList, Empty, ErrorBox, Field, FormModal, KeyField, Notice, Page, PageLoading, Section, StatusBadge, TextField, chosenId } from '../ui/components';
import { dateTime, timeAgo } from '../ui/format';
import { useAction, useAsync, useForm, useInterval, useLogTail } from '../ui/hooks';
import { useCrumbs } from './crumbs';
import { connectionOf, lastUpdateNote } from './device_state';
import { OverlaySection } from './overlay';
import { ReleaseField } from './release_field';
import { useLive } from '../live';

export function DevicePage(props: { id: number }) {
  const { info } = useSession();
  const writable = canWrite(info);
  const dev = useAsync(() => fleet.device(props.id), [props.id]);
  const crumbs = useCrumbs({ deploymentId: dev.data?.deployment_id });
  const dep = useAsync(() => (dev.data ? fleet.deployment(dev.data.deployment_id) : Promise.resolve(null)), [dev.data?.deployment_id]);
  const releaseId = dev.data?.current_release_id ?? null;
  const release = useAsync(() => (releaseId ? fleet.release(releaseId) : Promise.resolve(null)), [releaseId]);
  // Followed while the page is open (every 2 s, only what is new).
  const serial = useLogTail((q) => fleet.deviceSerial(props.id, q), [props.id]);
  const trace = useLogTail((q) => fleet.deviceTrace(props.id, q), [props.id], 2000, 500);
  const consoleRef = useRef<HTMLPreElement>(null);
  const stick = useRef(true); // keep the console scrolled to the newest line unless the reader scrolled up
  useEffect(() => {
    const el = consoleRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [serial.items]);
  const commands = useAsync(() => fleet.deviceCommands(props.id), [props.id]);
  const [dialog, setDialog] = useState<null | 'update' | 'move' | 'repurpose'>(null);
  const action = useAction();
  useInterval(() => {
    dev.reload();
    commands.reload();
  }, 5000);
  useLive(['device', 'rollout'], () => {
    dev.reload();
    commands.reload();
  });

  if (dev.error || !dev.data) return <PageLoading title="Device" state={dev} />;
  const d = dev.data;
  const conn = connectionOf(d);
  const lastUpdate = d.last_update;
  const note = lastUpdateNote(d);
  const releaseLabel = (id: number) => (release.data && release.data.id === id ? `${release.data.name} ${release.data.version}` : `release #${id}`);
  const retired = d.status === 'decommissioned';

  const decommission = () =>
    action.run(`Decommission "${d.name}"? Its keys stop working and it can no longer connect. This cannot be undone; register it again to reuse the hardware.`, () => fleet.decommissionDevice(d.id), dev.reload);

  return (
    <Page
      title={d.name}
      crumbs={[...crumbs, { label: d.name }]}
      help="One device: whether it is connected, what it runs, and what it says."
      actions={
        writable && !retired && (
          <>
            <button class="btn-primary" onClick={() => setDialog('update')}>Update this device</button>
            <button class="btn-secondary" onClick={() => setDialog('move')}>Move</button>
            <button class="btn-secondary text-red-700" onClick={() => void decommission()}>Decommission</button>
          </>
        ) || (writable && retired && <button class="btn-secondary" onClick={() => setDialog('repurpose')}>Repurpose</button>)
      }
    >
      {action.error !== null && <ErrorBox error={action.error} title="Action failed" />}
      {retired && (
        <Notice tone="warning" title="Decommissioned">
          This device can no longer connect: its keys and tunnel address were released. Its record is kept for the audit trail.
          {writable && ' To use the hardware again, repurpose it with new keys.'}
        </Notice>
      )}
      <div class="grid grid-cols-1 gap-6 lg:grid-cols-2">
        <Section title="Status">
          <DefList
            items={[
              ['Connection', <><StatusBadge status={conn} />{d.last_seen_at ? <span class="ml-2 text-slate-500">last seen {timeAgo(d.last_seen_at)}</span> : null}</>],
              ['Last update', lastUpdate ? (
                <>
                  <StatusBadge status={lastUpdate.status} />
                  <span class="ml-2 text-slate-500">
                    to {releaseLabel(lastUpdate.release_id)} (<a href={href(`/rollouts/${lastUpdate.rollout_id}`)}>rollout #{lastUpdate.rollout_id}</a>){' '}
                    {lastUpdate.status === 'in_progress' ? 'started' : 'reported'} {timeAgo(lastUpdate.at)}
                  </span>
                  {note && <div class="mt-1 text-xs break-words text-red-800">{note}</div>}
                </>
              ) : <span class="text-slate-500">none sent yet</span>],
              ['Registration', <StatusBadge status={d.status} />],
              ['Tunnel address', <span class="mono">{d.tunnel_address ?? '—'}</span>],
              ['Registered', dateTime(d.created_at)],
            ]}
          />
        </Section>
        <Section title="Keys" help="Public keys the device proves itself with.">
          <DefList
            items={[
              ['Tunnel key', <span class="mono">{d.tunnel_public_key ?? '—'}</span>],
              ['Identity key', <span class="mono">{d.identity_public_key ?? '—'}</span>],
            ]}
          />
        </Section>
      </div>

      <Section title="Current release" help="The software the device reported running, drawn from its manifest.">
        {!releaseId && <Empty title="No release reported yet">The device reports its release when it connects. You can also send it one with "Update this device".</Empty>}
        {release.error && <ErrorBox error={release.error} />}
        {release.data && (
          <div class="space-y-4">
            <p class="text-sm">
              <a href={href(`/releases/${release.data.id}`)} class="font-semibold">{release.data.name} {release.data.version}</a>
              <span class="text-slate-500">
                {' · '}
                {d.release_installed_at ? <>installed {timeAgo(d.release_installed_at)} ({dateTime(d.release_installed_at)})</> : 'install time not recorded'}
                {' · '}release uploaded {timeAgo(release.data.created_at)}
              </span>
            </p>
            {release.data.summary?.parsed !== false && release.data.summary ? <ManifestGraph manifest={release.data.summary} title={`Components and channels of ${release.data.name} ${release.data.version}`} /> : <p class="text-sm text-slate-500">The manifest of this release could not be read as TOML, so it cannot be drawn.</p>}
          </div>
        )}
      </Section>

      <div class="grid grid-cols-1 gap-6 xl:grid-cols-2">
        <Section title="Serial console" help="The device's console output, newest at the bottom; new lines appear while this page is open. Fleet keeps the newest lines of each device.">
          {serial.error && <ErrorBox error={serial.error} title="Could not refresh the console" />}
          <pre
            ref={consoleRef}
            class="mono h-72 overflow-auto whitespace-pre-wrap break-all rounded-md bg-slate-900 p-3 text-slate-100"
            data-testid="serial-log"
            aria-label="Serial console output"
            onScroll={(e) => {
              const el = e.currentTarget;
              stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
            }}
          >
            {serial.items.length > 0
              ? serial.items.map((l) => l.text).join('\n')
              : <span class="text-slate-400">{serial.loading ? 'Loading…' : 'No output received yet. Output appears here while the device is connected.'}</span>}
          </pre>
        </Section>
        <Section title="Trace" help="Events the device recorded (restarts, faults, channel activity), newest first.">
          {trace.error && <ErrorBox error={trace.error} title="Could not refresh the trace" />}
          {trace.items.length > 0 ? (
            <div class="h-72 overflow-auto">
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
          ) : <Empty title="No trace events">{trace.loading ? 'Loading…' : 'The device has not sent any trace events yet (it sends them while connected, if its release traces).'}</Empty>}
        </Section>
      </div>

      {dep.data && <OverlaySection scope="device" targetId={d.id} projectId={dep.data.project_id} preferRelease={d.current_release_id} writable={writable && !retired} />}

      <Section title="Commands for this device" help="What Fleet has asked the device to do, and whether it has. Commands wait here while the device is offline." flush>
        {commands.error && <div class="p-5"><ErrorBox error={commands.error} onRetry={commands.reload} /></div>}
        {commands.data && commands.data.items.length === 0 && <Empty title="No commands">Updates and other requests to this device appear here.</Empty>}
        {commands.data && commands.data.items.length > 0 && (
          <div class="overflow-x-auto">
            <table class="table">
              <thead><tr><th>Command</th><th>Status</th><th>Rollout</th><th>Created</th><th>Last change</th></tr></thead>
              <tbody>
                {commands.data.items.map((c) => (
                  <tr key={c.id}>
                    <td class="font-medium">{c.kind}</td>
                    <td><StatusBadge status={c.status} /></td>
                    <td>{c.rollout_id ? <a href={href(`/rollouts/${c.rollout_id}`)}>#{c.rollout_id}</a> : '—'}</td>
                    <td class="text-slate-500">{timeAgo(c.created_at)}</td>
                    <td class="text-slate-500">{timeAgo(c.updated_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      {(dialog === 'move' || dialog === 'repurpose') && (
        <MoveDevice device={d} repurpose={dialog === 'repurpose'} onClose={() => setDialog(null)} onDone={() => { dev.reload(); }} />
      )}
      {dialog === 'update' && <UpdateDevice deviceId={d.id} deploymentId={d.deployment_id} onClose={() => setDialog(null)} />}
    </Page>
  );
}

function MoveDevice(props: { device: Device; repurpose: boolean; onClose: () => void; onDone: () => void }) {
  const targets = useAsync(async () => {
    const [deps, projects] = await Promise.all([all<Deployment>((c) => fleet.allDeployments(c), 2000), all<Project>((c) => fleet.allProjects(c), 2000)]);
    const pname = new Map(projects.map((p) => [p.id, p.name]));
    return deps
      .filter((x) => props.repurpose || x.id !== props.device.deployment_id)
      .map((x) => ({ id: x.id, label: `${pname.get(x.project_id) ?? `project #${x.project_id}`} / ${x.name}` }))
      .sort((a, b) => a.label.localeCompare(b.label));
  }, [props.device.id, props.repurpose]);
  const [to, setTo] = useState(props.repurpose ? String(props.device.deployment_id) : '');
  const [name, setName] = useState(props.device.name);
  const [{ tunnel, identity }, set] = useForm({ tunnel: '', identity: '' });
  return (
    <FormModal
      title={props.repurpose ? 'Repurpose this device' : 'Move this device'}
      submitLabel={props.repurpose ? 'Repurpose device' : 'Move device'}
      onClose={props.onClose}
      intro={props.repurpose
        ? 'The hardware gets a new identity: new keys (from the device), a new tunnel address, and a deployment. Its history stays with the old record in the audit log.'
        : 'The device keeps its keys and tunnel address. It receives the new deployment\'s release at the next rollout there.'}
      onSubmit={async () => {
        const dep = chosenId(to, 'Choose a deployment.', 'deployment_id');
        if (props.repurpose) await fleet.repurposeDevice(props.device.id, { deployment_id: dep, name: name.trim(), tunnel_public_key: tunnel.trim(), identity_public_key: identity.trim() });
        else await fleet.moveDevice(props.device.id, dep);
        props.onDone();
      }}
    >
      {(fe) => (
        <>
          <Field id="move-deployment" label={props.repurpose ? 'Deployment' : 'Move to deployment'} hint="Deployments of this organisation." error={fe('deployment_id')}>
            {targets.error ? <ErrorBox error={targets.error} /> : (
              <select id="move-deployment" class="input" value={to} onChange={(e) => setTo((e.target as HTMLSelectElement).value)}>
                <option value="">{targets.loading ? 'Loading…' : 'Choose a deployment…'}</option>
                {(targets.data ?? []).map((t) => <option key={t.id} value={String(t.id)}>{t.label}</option>)}
              </select>
            )}
          </Field>
          {props.repurpose && (
            <>
              <TextField id="repurpose-name" label="Device name" error={fe('name')} value={name} onInput={setName} />
              <KeyField id="repurpose-tunnel" label="New tunnel public key" error={fe('tunnel_public_key')} value={tunnel} onInput={set.tunnel} />
              <KeyField id="repurpose-identity" label="New identity public key" error={fe('identity_public_key')} value={identity} onInput={set.identity} />
            </>
          )}
        </>
      )}
    </FormModal>
  );
}

function UpdateDevice(props: { deviceId: number; deploymentId: number; onClose: () => void }) {
  const dep = useAsync(() => fleet.deployment(props.deploymentId), [props.deploymentId]);
  const [releaseId, setReleaseId] = useState('');
  return (
    <FormModal
      title="Update this device"
      submitLabel="Send update"
      onClose={props.onClose}
      intro="The device receives the signed release, checks the signature itself, installs it next to the running one and switches over. If the new release does not start, the device goes back to the old one."
      onSubmit={async () => {
        const rid = chosenId(releaseId, 'Choose the release to install.', 'release_id');
        const r = await fleet.updateDevice(props.deviceId, rid);
        if (r && typeof r.id === 'number') navigate(`/rollouts/${r.id}`);
      }}
    >
      {(fe) => (
        <ReleaseField id="update-release" label="Release" projectId={dep.data?.project_id} value={releaseId} onChange={setReleaseId} error={fe('release_id')} />
      )}
    </FormModal>
  );
}
