// "Which release?" as the rollout and device-update forms ask it: the project's releases, newest
// first, in a select that says when they are still loading or when there are none yet.
import { all, fleet } from '../api/fleet';
import type { Release } from '../api/models';
import { ErrorBox, Field } from '../ui/components';
import { useAsync } from '../ui/hooks';

export function ReleaseField(props: { id: string; label: string; projectId: number | undefined; value: string; onChange: (v: string) => void; error: string | null }) {
  const pid = props.projectId;
  const releases = useAsync(() => (pid === undefined ? Promise.resolve([] as Release[]) : all<Release>((c) => fleet.releases(pid, c), 500)), [pid]);
  const loading = pid === undefined || releases.loading;
  return (
    <Field id={props.id} label={props.label} error={props.error}>
      {releases.error ? <ErrorBox error={releases.error} /> : (
        <select id={props.id} class="input" value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
          <option value="">{loading ? 'Loading releases…' : releases.data?.length ? 'Choose a release…' : 'No releases: upload one in the project first'}</option>
          {(releases.data ?? []).map((r) => <option key={r.id} value={String(r.id)}>{r.name} {r.version}</option>)}
        </select>
      )}
    </Field>
  );
}
