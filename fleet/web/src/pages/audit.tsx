import { fleet } from '../api/fleet';
import type { AuditEntry } from '../api/models';
import { Empty, Page, Section } from '../ui/components';
import { DataTable } from '../ui/table';
import { dateTime } from '../ui/format';
import { usePaged } from '../ui/hooks';
import { useLive } from '../live';

// "project.create" → "Created project"; unknown actions are shown as they are.
const VERBS: Record<string, string> = {
  create: 'Created', update: 'Changed', delete: 'Deleted', login: 'Signed in', logout: 'Signed out', upload: 'Uploaded',
  register: 'Registered', decommission: 'Decommissioned', start: 'Started', pause: 'Paused', resume: 'Resumed', cancel: 'Cancelled',
  abort: 'Aborted', revoke: 'Revoked', disable: 'Disabled', enable: 'Enabled', invite: 'Invited', move: 'Moved', add: 'Added', remove: 'Removed',
};

const WHOLE: Record<string, string> = {
  'auth.login': 'Signed in',
  'auth.logout': 'Signed out',
  'auth.password': 'Changed own password',
  'user.accept_invite': 'Accepted invitation',
  'overlay.set': 'Changed configuration',
  'overlay.delete': 'Removed configuration',
  'auth.accept_invite': 'Accepted invitation',
  'device.import': 'Imported devices',
};

export function describeAction(action: string): string {
  if (WHOLE[action]) return WHOLE[action];
  const [obj, verb] = action.split('.', 2) as [string, string | undefined];
  if (!verb) return action;
  const v = VERBS[verb.split('_')[0] ?? ''] ?? verb.replace(/_/g, ' ');
  return `${v} ${obj.replace(/_/g, ' ')}`;
}

function details(e: AuditEntry): string {
  if (typeof e.details === 'string') return e.details;
  const parts = Object.entries(e.details ?? {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.join(' · ');
}

export function AuditPage() {
  const list = usePaged((c) => fleet.audit(c), []);
  // New entries appear at the top as they happen (only while the first page is shown).
  useLive(['*'], () => {
    if (!list.hasMore || list.items.length <= 50) list.reload();
  });
  return (
    <Page title="Audit log" help="Every change made in Fleet: who did it, what, when and from which address. Nothing here can be edited or deleted.">
      <Section title="Changes, newest first" flush>
        <DataTable
          list={list}
          testId="audit-table"
          head={<><th>When</th><th>Who</th><th>What</th><th>Object</th><th>Details</th><th>From</th></>}
          row={(e) => (
            <tr key={e.id}>
              <td class="whitespace-nowrap text-slate-600">{dateTime(e.at)}</td>
              <td class="font-medium">{e.actor}</td>
              <td class="whitespace-nowrap" title={e.action}>{describeAction(e.action)}</td>
              <td class="whitespace-nowrap text-slate-600">{e.target_type.replace(/_/g, ' ')} {e.target_id && <span class="mono">#{e.target_id}</span>}</td>
              <td class="min-w-48 max-w-md text-slate-600 [overflow-wrap:anywhere]">{details(e) || '—'}</td>
              <td class="mono text-slate-500">{e.remote}</td>
            </tr>
          )}
          empty={<Empty title="Nothing recorded yet">Changes appear here as soon as someone makes one.</Empty>}
        />
      </Section>
    </Page>
  );
}
