import { useState } from 'preact/hooks';
import { all, fleet } from '../api/fleet';
import type { Organization, Role, User } from '../api/models';
import { roleLabel, useSession } from '../session';
import { Empty, ErrorBox, Field, FormModal, Modal, Notice, Page, Section, StatusBadge, TextField } from '../ui/components';
import { DataTable } from '../ui/table';
import { timeAgo } from '../ui/format';
import { useAction, useAsync, useForm, usePaged } from '../ui/hooks';

export function UsersPage() {
  const { info } = useSession();
  const me = info.user;
  const admin = me?.role === 'administrator';
  const list = usePaged((c) => fleet.users(c), []);
  const orgs = useAsync(() => (admin ? all<Organization>((c) => fleet.orgs(c)) : Promise.resolve([] as Organization[])), [admin]);
  const [creating, setCreating] = useState(false);
  const [invite, setInvite] = useState<{ email: string; token: string } | null>(null);
  const change = useAction();
  const orgName = (id: number | null) => (id === null ? '—' : orgs.data?.find((o) => o.id === id)?.name ?? (admin ? `#${id}` : 'your organisation'));

  const toggle = (u: User) => {
    const disabling = u.status !== 'disabled';
    const question = disabling ? `Disable ${u.email}? They are signed out at once and their API tokens stop working.` : null;
    return change.run(question, () => fleet.setUserEnabled(u.id, !disabling), list.reload);
  };

  return (
    <Page
      title="Users"
      help={admin ? 'Administrators manage the Fleet instance and its organisations. Organisation owners change everything in their organisation; organisation users can only look.' : 'People in your organisation. Owners can change everything in the organisation; users can only look.'}
      actions={<button class="btn-primary" onClick={() => setCreating(true)}>Add user</button>}
    >
      {change.error !== null && <ErrorBox error={change.error} title="Not changed" />}
      <Section title="Accounts" flush>
        <DataTable
          list={list}
          head={<><th>Name</th><th>E-mail</th><th>Role</th>{admin && <th>Organisation</th>}<th>Status</th><th>Added</th><th /></>}
          row={(u) => (
            <tr key={u.id}>
              <td class="font-medium">{u.name}</td>
              <td>{u.email}</td>
              <td>{roleLabel[u.role] ?? u.role}</td>
              {admin && <td>{orgName(u.organization_id)}</td>}
              <td><StatusBadge status={u.status} /></td>
              <td class="text-slate-500">{timeAgo(u.created_at)}</td>
              <td class="text-right">
                {u.id !== me?.id && u.status !== 'invited' && (
                  <button class={u.status === 'disabled' ? 'btn-ghost' : 'btn-ghost text-red-700'} onClick={() => void toggle(u)}>
                    {u.status === 'disabled' ? 'Enable' : 'Disable'}
                  </button>
                )}
              </td>
            </tr>
          )}
          empty={<Empty title="No users" />}
        />
      </Section>
      {creating && (
        <NewUser
          admin={admin}
          myOrg={me?.organization_id ?? null}
          orgs={orgs.data ?? []}
          onClose={() => setCreating(false)}
          onDone={(email, token) => {
            list.reload();
            if (token) setInvite({ email, token });
          }}
        />
      )}
      {invite && (
        <Modal title="Invitation created" onClose={() => setInvite(null)}>
          <div class="space-y-3 text-sm">
            <p>Send this one-time invitation code to <strong>{invite.email}</strong> over a channel you trust. It is shown only now.</p>
            <pre class="mono rounded-md bg-slate-100 p-3 break-all whitespace-pre-wrap" data-testid="invite-token">{invite.token}</pre>
            <p class="text-slate-500">They set their own password with it (API: POST /api/v1/auth/accept-invite).</p>
          </div>
        </Modal>
      )}
    </Page>
  );
}

function NewUser(props: { admin: boolean; myOrg: number | null; orgs: Organization[]; onClose: () => void; onDone: (email: string, token: string | null) => void }) {
  const [{ email, name }, set] = useForm({ email: '', name: '' });
  const [role, setRole] = useState<Role>('organization_user');
  const [org, setOrg] = useState<string>(props.myOrg ? String(props.myOrg) : '');
  const [how, setHow] = useState<'invite' | 'password'>('invite');
  const [password, setPassword] = useState('');
  return (
    <FormModal
      title="Add a user"
      submitLabel={how === 'invite' ? 'Create invitation' : 'Create user'}
      onClose={props.onClose}
      onSubmit={async () => {
        const u = await fleet.createUser({
          email: email.trim(),
          name: name.trim(),
          role,
          organization_id: role === 'administrator' ? null : Number(org) || null,
          ...(how === 'password' ? { password } : {}),
        });
        props.onDone(email.trim(), u.invite_token ?? null);
      }}
    >
      {(fe) => (
        <>
          <TextField id="user-email" label="E-mail address" error={fe('email')} type="email" value={email} onInput={set.email} autoFocus />
          <TextField id="user-name" label="Full name" error={fe('name')} value={name} onInput={set.name} />
          <Field id="user-role" label="Role" error={fe('role')}>
            <select id="user-role" class="input" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as Role)}>
              <option value="organization_user">{roleLabel.organization_user}</option>
              <option value="organization_owner">{roleLabel.organization_owner}</option>
              {props.admin && <option value="administrator">{roleLabel.administrator}</option>}
            </select>
          </Field>
          {role === 'administrator' && <Notice tone="warning">Administrators can see and change every organisation. Give this role to as few people as possible.</Notice>}
          {props.admin && role !== 'administrator' && (
            <Field id="user-org" label="Organisation" error={fe('organization_id')}>
              <select id="user-org" class="input" value={org} onChange={(e) => setOrg((e.target as HTMLSelectElement).value)}>
                <option value="">Choose an organisation…</option>
                {props.orgs.map((o) => <option key={o.id} value={String(o.id)}>{o.name}</option>)}
              </select>
            </Field>
          )}
          <fieldset>
            <legend class="label">How they get in</legend>
            <div class="space-y-1 text-sm">
              <label class="flex items-center gap-2"><input type="radio" name="how" checked={how === 'invite'} onChange={() => setHow('invite')} /> Send an invitation (they choose their own password) — recommended</label>
              <label class="flex items-center gap-2"><input type="radio" name="how" checked={how === 'password'} onChange={() => setHow('password')} /> Set a password now</label>
            </div>
          </fieldset>
          {how === 'password' && (
            <TextField id="user-password" label="Password" hint="At least 12 characters. Tell it to them privately; they should change it." error={fe('password')} type="password" autocomplete="new-password" value={password} onInput={setPassword} />
          )}
        </>
      )}
    </FormModal>
  );
}
