// The device page's part of the device link that acts: the component table from the device's last
// STATUS (with a restart button per component), the command history with each command's outcome,
// and the confirmation asked before a restart. Commands go through POST /devices/{id}/commands and
// are delivered when the device is online (docs/fleet-api.md "Device link: status and commands").
import { useState } from 'preact/hooks';
import type { Device, DeviceCommand, DeviceComponent } from '../api/models';
import { href } from '../router';
import { Badge, ConfirmModal, Empty, ErrorBox, LoadMore, Section, StatusBadge, Spinner } from '../ui/components';
import { dateTime, timeAgo } from '../ui/format';
import type { Async } from '../ui/hooks';
import { commandLabel, cpuText, memoryText, outcomeText } from './device_link';

// A component's state as the device reports it (not the rollout vocabulary of StatusBadge, where
// "running" means "in progress").
const STATE: Record<string, { tone: 'green' | 'slate' | 'amber' | 'red'; label: string; help: string }> = {
  running: { tone: 'green', label: 'Running', help: 'Started and not stopped' },
  stopped: { tone: 'slate', label: 'Stopped', help: 'Not running (finished, or not started)' },
  restarting: { tone: 'amber', label: 'Restarting', help: 'Being restarted by its supervisor' },
  failed: { tone: 'red', label: 'Failed', help: 'Gave up after too many restarts' },
};
export function ComponentState(props: { state: string }) {
  const s = STATE[props.state] ?? { tone: 'slate' as const, label: props.state, help: '' };
  return <Badge tone={s.tone} title={s.help}>{s.label}</Badge>;
}

// A restart the operator asked for and has not confirmed yet: the whole device, or one component.
export type RestartAsk = { component: string | null };

export function ComponentsSection(props: { device: Device; components: Async<{ items: DeviceComponent[] }>; writable: boolean; onRestart: (component: string) => void }) {
  const c = props.components;
  const items = c.data?.items ?? [];
  const at = props.device.reported?.at;
  return (
    <Section
      title="Components"
      help={at ? `What the device reported in its last status, ${timeAgo(at)} (${dateTime(at)}).` : 'What the device reports about its components over the device link.'}
      flush
    >
      {c.error && <div class="p-5"><ErrorBox error={c.error} onRetry={c.reload} /></div>}
      {!c.error && !c.data && <div class="px-5"><Spinner /></div>}
      {c.data && items.length === 0 && <Empty title="No status reported yet">The device reports its components (state, restarts, memory, CPU) when it connects over the device link, and again whenever they change.</Empty>}
      {items.length > 0 && (
        <table class="table table-stack" data-testid="component-table">
          <thead>
            <tr>
              <th>Component</th><th>State</th><th class="text-right">Restarts</th><th class="text-right">Memory</th><th class="text-right">CPU</th>
              {props.writable && <th><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {items.map((x) => (
              <tr key={x.name}>
                <td data-label="Component" class="font-medium">{x.name}</td>
                <td data-label="State"><ComponentState state={x.state} /></td>
                <td data-label="Restarts" class="text-right tabular-nums">{x.restarts}</td>
                <td data-label="Memory" class="text-right tabular-nums whitespace-nowrap">{memoryText(x.memory_kib)}</td>
                <td data-label="CPU" class="text-right tabular-nums whitespace-nowrap">{cpuText(x.cpu_permille)}</td>
                {props.writable && (
                  <td data-label="Actions" class="text-right">
                    <button type="button" class="btn-secondary px-2.5 py-1 text-xs" aria-label={`Restart ${x.name}`} onClick={() => props.onRestart(x.name)}>
                      Restart…
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

const PAGE = 20;

export function CommandHistory(props: { commands: Async<DeviceCommand[]> }) {
  const c = props.commands;
  const [shown, setShown] = useState(PAGE);
  const items = c.data ?? [];
  return (
    <Section title="Commands for this device" help="What Fleet has asked the device to do and what the device answered, newest first. Commands wait here while the device is offline." flush>
      {c.error && <div class="p-5"><ErrorBox error={c.error} onRetry={c.reload} /></div>}
      {!c.error && !c.data && <div class="px-5"><Spinner /></div>}
      {c.data && items.length === 0 && <Empty title="No commands">Restarts, tracing, identify and updates sent to this device appear here with the device's answer.</Empty>}
      {items.length > 0 && (
        <div class="overflow-x-auto">
          <table class="table table-stack" data-testid="command-table">
            <thead><tr><th>Command</th><th>Status</th><th>Device's answer</th><th>Asked</th><th>Answered</th></tr></thead>
            <tbody>
              {items.slice(0, shown).map((x) => (
                <tr key={x.id}>
                  <td data-label="Command" class="font-medium">
                    {commandLabel(x)}
                    <div class="text-xs font-normal text-slate-500">
                      #{x.id}
                      {x.rollout_id ? <> · <a href={href(`/rollouts/${x.rollout_id}`)}>rollout #{x.rollout_id}</a></> : null}
                    </div>
                  </td>
                  <td data-label="Status"><StatusBadge status={x.status} /></td>
                  <td data-label="Answer" class="max-w-md break-words">{outcomeText(x)}</td>
                  <td data-label="Asked" class="whitespace-nowrap text-slate-500" title={dateTime(x.created_at)}>{timeAgo(x.created_at)}</td>
                  <td data-label="Answered" class="whitespace-nowrap text-slate-500" title={x.result_at ? dateTime(x.result_at) : undefined}>{x.result_at ? timeAgo(x.result_at) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore hasMore={items.length > shown} loading={false} onMore={() => setShown((n) => n + PAGE)} />
    </Section>
  );
}

// The confirmation before a restart: what restarts, and that an offline device runs it later.
export function RestartDialog(props: { device: Device; ask: RestartAsk; onConfirm: () => Promise<unknown>; onClose: () => void }) {
  const comp = props.ask.component;
  const offline = props.device.connection !== 'online';
  return (
    <ConfirmModal
      title={comp ? `Restart ${comp}?` : `Restart ${props.device.name}?`}
      confirmLabel={comp ? 'Restart component' : 'Restart device'}
      danger
      onConfirm={props.onConfirm}
      onClose={props.onClose}
    >
      <p>
        {comp
          ? <>The component <span class="font-semibold">{comp}</span> stops and starts again, with the components its supervisor group restarts with it. What it held in memory is lost. A restart asked for here does not count as a failure.</>
          : <>The whole device restarts: every component stops and starts again, and the device link reconnects after the boot. What the components held in memory is lost.</>}
      </p>
      <p class="mt-2">
        {offline
          ? 'The device is offline: the command waits in the queue and runs when the device next connects.'
          : 'The device is online: the command is delivered at once.'}{' '}
        Its outcome appears under "Commands for this device".
      </p>
    </ConfirmModal>
  );
}
