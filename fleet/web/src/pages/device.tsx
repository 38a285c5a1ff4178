import { useState } from 'preact/hooks';
import { all, fleet } from '../api/fleet';
import type { CommandKind, Deployment, Device, DeviceCommand, Paged, Project } from '../api/models';
import { ManifestGraph } from '../graph/ManifestGraph';
import { href, navigate } from '../router';
import { canWrite, useSession } from '../session';
import { DefList, Empty, ErrorBox, Field, FormModal, KeyField, Notice, Page, PageLoading, Section, StatusBadge, TextField, chosenId } from '../ui/components';
import { dateTime, timeAgo } from '../ui/format';
import { useAction, useAsync, useForm, useInterval } from '../ui/hooks';
import { useCrumbs } from './crumbs';
import { CommandHistory, ComponentsSection, RestartDialog, type RestartAsk } from './device_control';
import { commandLabel, uptimeText } from './device_link';
import { SerialConsole, TraceSection } from './device_output';
import { connectionOf, lastUpdateNote } from './device_state';
import { RemoteConsole } from './device_terminal';
import { OverlaySection } from './overlay';
import { ReleaseField } from './release_field';
import { useLive } from '../live';

// The device's newest commands, newest first. The API lists them oldest first (keyset by id), so
// every page is read, keeping the newest `keep`.
async function newestCommands(deviceId: number, keep = 1000): Promise<DeviceCommand[]> {
  let out: DeviceCommand[] = [];
  let cursor: string | null = null;
  do {
    const p: Paged<DeviceCommand> = await fleet.deviceCommands(deviceId, cursor, 200);
    out = out.concat(p.items);
    if (out.length > keep) out = out.slice(out.length - keep);
    cursor = p.next_cursor;
  } while (cursor);
  return out.reverse();
}

export function DevicePage(props: { id: number }) {
  const { info } = useSession();
  const writable = canWrite(info);
  const dev = useAsync(() => fleet.device(props.id), [props.id]);
  const crumbs = useCrumbs({ deploymentId: dev.data?.deployment_id });
  const dep = useAsync(() => (dev.data ? fleet.deployment(dev.data.deployment_id) : Promise.resolve(null)), [dev.data?.deployment_id]);
  const releaseId = dev.data?.current_release_id ?? null;
  const release = useAsync(() => (releaseId ? fleet.release(releaseId) : Promise.resolve(null)), [releaseId]);
  const components = useAsync(() => fleet.deviceComponents(props.id), [props.id]);
  const commands = useAsync(() => newestCommands(props.id), [props.id]);
  const [dialog, setDialog] = useState<null | 'update' | 'move' | 'repurpose'>(null);
  const [restart, setRestart] = useState<RestartAsk | null>(null);
  const [queued, setQueued] = useState<string | null>(null);
  const action = useAction();
  const refresh = () => {
    dev.reload();
    components.reload();
    commands.reload();
  };
  useInterval(refresh, 5000);
  // The device link's events: device.online / .offline / .status for this device, and every
  // command result (its target is the command, which names no device: the history reloads).
  useLive(['device', 'rollout'], refresh, (e) => e.target_type !== 'device' || e.target_id === String(props.id));
  useLive(['device_command'], commands.reload);

  if (dev.error || !dev.data) return <PageLoading title="Device" state={dev} />;
  const d = dev.data;
  const conn = connectionOf(d);
  const lastUpdate = d.last_update;
  const note = lastUpdateNote(d);
  const releaseLabel = (id: number) => (release.data && release.data.id === id ? `${release.data.name} ${release.data.version}` : `release #${id}`);
  const retired = d.status === 'decommissioned';
  const canAct = writable && !retired;
  const rep = d.reported;

  const decommission = () =>
    action.run(`Decommission "${d.name}"? Its keys stop working and it can no longer connect. This cannot be undone; register it again to reuse the hardware.`, () => fleet.decommissionDevice(d.id), dev.reload);

  // Queues a command and says so (the history shows its progress).
  const queue = async (kind: CommandKind, component?: string) => {
    const c = await fleet.createDeviceCommand(d.id, kind, component);
    setQueued(`${commandLabel(c)}: queued as command #${c.id}. ${d.connection === 'online' ? 'It is delivered to the device now.' : 'It is delivered when the device connects.'}`);
    commands.reload();
    return c;
  };
  const queueNow = (kind: CommandKind) => void action.run(null, () => queue(kind));

  return (
    <Page
      title={d.name}
      crumbs={[...crumbs, { label: d.name }]}
      help="One device: whether it is connected, what it runs, what it says, and what it was asked to do."
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
      {queued && (
        <div role="status" class="flex items-start justify-between gap-3 rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-900" data-testid="command-queued">
          <span>{queued}</span>
          <button type="button" class="btn-ghost px-2 py-0.5 text-xs" aria-label="Dismiss" onClick={() => setQueued(null)}>✕</button>
        </div>
      )}
      {retired && (
        <Notice tone="warning" title="Decommissioned">
          This device can no longer connect: its keys and tunnel address were released. Its record is kept for the audit trail.
          {writable && ' To use the hardware again, repurpose it with new keys.'}
        </Notice>
      )}
      <div class="grid grid-cols-1 gap-6 lg:grid-cols-2">
        <Section
          title="Status"
          actions={canAct && (
            <>
              <button type="button" class="btn-secondary" disabled={action.busy} onClick={() => queueNow('identify')} title="The device prints an identify line 3 times on its console">Identify</button>
              <button type="button" class="btn-secondary text-red-700" onClick={() => setRestart({ component: null })}>Restart device…</button>
            </>
          )}
        >
          <DefList
            items={[
              ['Connection', <><StatusBadge status={conn} />{d.last_seen_at ? <span class="ml-2 text-slate-500" title={dateTime(d.last_seen_at)}>last seen {timeAgo(d.last_seen_at)}</span> : null}</>],
              ['Running release', rep ? (
                <>
                  <span class="font-medium">{rep.release || 'no release name'}</span>
                  <span class="ml-2 text-slate-500" title={dateTime(rep.at)}>reported {timeAgo(rep.at)}</span>
                </>
              ) : <span class="text-slate-500 break-normal">not reported yet</span>],
              ['Manifest hash', rep?.manifest_hash ? <span class="mono" data-testid="manifest-hash">{rep.manifest_hash}</span> : <span class="text-slate-500">—</span>],
              ['Uptime', rep ? <>{uptimeText(rep.uptime_ms)} <span class="text-slate-500">at that report</span></> : <span class="text-slate-500">—</span>],
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

      <ComponentsSection device={d} components={components} writable={canAct} onRestart={(c) => setRestart({ component: c })} />

      <CommandHistory commands={commands} />

      <div class="grid grid-cols-1 gap-6 xl:grid-cols-2">
        <SerialConsole deviceId={d.id} />
        <TraceSection deviceId={d.id} commands={commands.data} writable={canAct} busy={action.busy} queue={queueNow} />
      </div>

      {!retired && <RemoteConsole key={d.id} deviceId={d.id} online={d.connection === 'online'} allowed={writable} />}

      <Section title="Current release" help="The software Fleet installed on the device, drawn from its manifest.">
        {!releaseId && <Empty title="No release installed through Fleet yet">Fleet records the release when an update succeeds. Send one with "Update this device"; what the device says it runs is under Status.</Empty>}
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

      {dep.data && <OverlaySection scope="device" targetId={d.id} projectId={dep.data.project_id} preferRelease={d.current_release_id} writable={writable && !retired} />}

      {restart && <RestartDialog device={d} ask={restart} onClose={() => setRestart(null)} onConfirm={() => (restart.component ? queue('restart_component', restart.component) : queue('restart_system'))} />}
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
