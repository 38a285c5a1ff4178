import { fleet } from '../api/fleet';
import type { Rollout } from '../api/models';
import { href } from '../router';
import { canWrite, useSession } from '../session';
import { DefList, Empty, ErrorBox, Notice, Page, PageLoading, ProgressBar, Section, Stat, StatusBadge, cx } from '../ui/components';
import { DataTable } from '../ui/table';
import { dateTime, plural, timeAgo } from '../ui/format';
import { useAction, useAsync, useInterval, usePaged } from '../ui/hooks';
import { useCrumbs } from './crumbs';
import { useLive } from '../live';

// Device counts per state, as the server reports them.
export function rolloutCounts(r: Rollout): { done: number; failed: number; running: number; waiting: number; cancelled: number } {
  const p = r.progress;
  return { done: p.succeeded, failed: p.failed, running: p.in_progress, waiting: p.pending, cancelled: p.cancelled };
}

export function RolloutPage(props: { id: number }) {
  const { info } = useSession();
  const writable = canWrite(info);
  const ro = useAsync(() => fleet.rollout(props.id), [props.id]);
  const crumbs = useCrumbs({ deploymentId: ro.data?.deployment_id });
  const targets = usePaged((c) => fleet.rolloutTargets(props.id, c), [props.id]);
  const release = useAsync(() => (ro.data ? fleet.release(ro.data.release_id) : Promise.resolve(null)), [ro.data?.release_id]);
  const action = useAction();
  const busy = action.busy;
  const live = ro.data && (ro.data.status === 'running' || ro.data.status === 'paused');
  const refresh = () => {
    ro.reload();
    targets.reload();
  };
  useInterval(refresh, live ? 3000 : null);
  useLive(['rollout', 'device'], refresh);

  if (ro.error || !ro.data) return <PageLoading title="Rollout" state={ro} />;
  const r = ro.data;
  const c = rolloutCounts(r);
  const act = (a: 'pause' | 'resume' | 'cancel') =>
    action.run(a === 'cancel' ? 'Cancel this rollout? Devices already updated keep the new release; the others are not updated.' : null, () => fleet.rolloutAction(r.id, a), refresh);
  const relName = release.data ? `${release.data.name} ${release.data.version}` : `release #${r.release_id}`;
  return (
    <Page
      title={`Rollout #${r.id}`}
      crumbs={[...crumbs, { label: `Rollout #${r.id}` }]}
      help={<>{live ? 'Installing' : 'Rollout of'} <a href={href(`/releases/${r.release_id}`)}>{relName}</a> {live ? 'on' : 'to'} {plural(r.total, 'device')}, batch by batch.</>}
      actions={
        writable && live && (
          <>
            {r.status === 'running' && <button class="btn-secondary" disabled={busy} onClick={() => void act('pause')}>Pause</button>}
            {r.status === 'paused' && <button class="btn-primary" disabled={busy} onClick={() => void act('resume')}>Resume</button>}
            <button class="btn-danger" disabled={busy} onClick={() => void act('cancel')}>Cancel rollout</button>
          </>
        )
      }
    >
      {action.error !== null && <ErrorBox error={action.error} title="Action failed" />}
      {r.status === 'paused' && <Notice tone="warning" title="Paused">{r.status_reason || 'Paused by a person.'} Press Resume to continue with the next devices.</Notice>}
      {r.status === 'aborted' && <Notice tone="danger" title="Aborted">{r.status_reason || 'Too many devices failed to update.'}</Notice>}
      <div class="grid grid-cols-2 gap-4 lg:grid-cols-4">
        <Stat label="Status" value={<StatusBadge status={r.status} />} />
        <Stat label="Updated" value={`${c.done} / ${r.total}`} />
        <Stat label="Failed" value={c.failed} hint={`stops above ${r.failure_threshold_percent}% (${r.on_failure === 'abort' ? 'abort' : 'pause'})`} />
        <Stat label="Batch" value={`${Math.min(r.current_batch + 1, r.batches.length)} of ${r.batches.length}`} />
      </div>
      <Section title="Progress">
        <ProgressBar
          total={r.total}
          parts={[
            { value: c.done, tone: 'green', label: 'updated' },
            { value: c.running, tone: 'blue', label: 'in progress' },
            { value: c.failed, tone: 'red', label: 'failed' },
            { value: c.cancelled, tone: 'violet', label: 'cancelled' },
            { value: c.waiting, tone: 'slate', label: 'waiting' },
          ]}
        />
        {live && c.running > 0 && (
          <p class="mt-3 text-xs text-slate-500">
            "In progress" devices have been sent the update. A device that is offline receives it when it next connects; the rollout waits for it.
          </p>
        )}
        <ol class="mt-5 grid grid-cols-1 gap-2 sm:grid-cols-2 lg:grid-cols-4" aria-label="Batches">
          {r.batches.map((pct, i) => {
            const b = r.batch_progress?.[i];
            const finished = r.status === 'succeeded' || r.status === 'completed_with_failures';
            const state = i < r.current_batch || (finished && i === r.current_batch) ? 'done' : i === r.current_batch && live ? 'current' : 'later';
            return (
              <li key={i} class={cx('rounded-md border px-3 py-2 text-xs', state === 'done' ? 'border-emerald-300 bg-emerald-50 text-emerald-900' : state === 'current' ? 'border-sky-400 bg-sky-50 text-sky-900 ring-1 ring-sky-300' : 'border-slate-200 text-slate-600')}>
                <div class="font-semibold">Batch {i + 1}{state === 'current' ? ' (now)' : ''}</div>
                <div>up to {pct}% of the devices</div>
                {b && <div class="mt-1">{b.succeeded} updated · {b.in_progress} in progress · {b.failed} failed{b.pending ? ` · ${b.pending} waiting` : ''}</div>}
              </li>
            );
          })}
        </ol>
        <div class="mt-5">
          <DefList items={[['Started', `${dateTime(r.created_at)} by ${r.created_by}`], ['Last change', timeAgo(r.updated_at)]]} />
        </div>
      </Section>
      <Section title="Devices in this rollout" flush>
        <DataTable
          list={targets}
          head={<><th>Device</th><th>Batch</th><th>Status</th><th>Message</th><th>Updated</th></>}
          row={(t) => (
            <tr key={t.device_id}>
              <td><a href={href(`/devices/${t.device_id}`)}>{t.device_name ?? `device #${t.device_id}`}</a></td>
              <td>{t.batch + 1}</td>
              <td><StatusBadge status={t.status} /></td>
              <td class="text-slate-600">{t.message || '—'}</td>
              <td class="text-slate-500">{timeAgo(t.updated_at)}</td>
            </tr>
          )}
          empty={<Empty title="No devices">The deployment had no devices when the rollout started.</Empty>}
        />
      </Section>
    </Page>
  );
}
