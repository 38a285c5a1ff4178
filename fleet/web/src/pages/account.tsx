import { useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { fleet } from '../api/fleet';
import { roleLabel, useSession } from '../session';
import { Badge, DefList, Empty, ErrorBox, Field, FormModal, Modal, Notice, Page, Section, Spinner, TextField } from '../ui/components';
import { DataTable, asyncList } from '../ui/table';
import { timeAgo } from '../ui/format';
import { useAction, useAsync, useForm } from '../ui/hooks';

export function AccountPage() {
  const { info } = useSession();
  const me = info.user;
  const tokens = useAsync(() => fleet.tokens(), []);
  const [dialog, setDialog] = useState<null | 'token' | 'password'>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const revoke = useAction();
  if (!me) return <Page title="My account"><Spinner /></Page>;
  return (
    <Page title="My account" help="Your sign-in details and the API tokens the keel command line uses.">
      <Section title="Account" actions={<button class="btn-secondary" onClick={() => setDialog('password')}>Change password</button>}>
        <DefList items={[['Name', me.name], ['E-mail', me.email], ['Role', roleLabel[me.role] ?? me.role]]} />
      </Section>
      <Section
        title="API tokens"
        help="For 'keel fleet login --token'. A token acts with your role; a read-only token can only look."
        actions={<button class="btn-primary" onClick={() => setDialog('token')}>New token</button>}
        flush
      >
        {revoke.error !== null && <div class="p-5"><ErrorBox error={revoke.error} /></div>}
        <DataTable
          list={asyncList(tokens)}
          head={<><th>Name</th><th>Access</th><th>Status</th><th>Last used</th><th>Expires</th><th /></>}
          row={(t) => (
            <tr key={t.id}>
              <td class="font-medium">{t.name} <span class="mono text-slate-400">keel_{t.prefix}_…</span></td>
              <td>{t.scope === 'read' ? 'Read only' : t.scope === 'device' ? 'Device reports only' : 'Read and write'}</td>
              <td>{t.revoked_at ? <Badge tone="red">Revoked</Badge> : t.expires_at && t.expires_at < Date.now() ? <Badge tone="slate">Expired</Badge> : <Badge tone="green">Active</Badge>}</td>
              <td class="text-slate-500">{timeAgo(t.last_used_at)}</td>
              <td class="text-slate-500">{t.expires_at ? new Date(t.expires_at).toLocaleDateString() : 'never'}</td>
              <td class="text-right">
                {!t.revoked_at && (
                  <button class="btn-ghost text-red-700" onClick={() => void revoke.run(`Revoke token "${t.name}"? Tools using it stop working at once.`, () => fleet.revokeToken(t.id), tokens.reload)}>Revoke</button>
                )}
              </td>
            </tr>
          )}
          empty={<Empty title="No API tokens">Create one to use the keel command line with this Fleet.</Empty>}
        />
      </Section>
      {dialog === 'token' && <NewToken onClose={() => setDialog(null)} onDone={(s) => { setSecret(s); tokens.reload(); }} />}
      {dialog === 'password' && <ChangePassword onClose={() => setDialog(null)} />}
      {secret && (
        <Modal title="Your new API token" onClose={() => setSecret(null)}>
          <div class="space-y-3 text-sm">
            <Notice tone="warning">Copy it now: Fleet stores only a hash and cannot show it again.</Notice>
            <pre class="mono rounded-md bg-slate-100 p-3 break-all whitespace-pre-wrap" data-testid="token-secret">{secret}</pre>
            <p>Use it with: <code class="mono">keel fleet login --url {location.origin} --token &lt;token&gt;</code></p>
          </div>
        </Modal>
      )}
    </Page>
  );
}

function NewToken(props: { onClose: () => void; onDone: (secret: string) => void }) {
  const { info } = useSession();
  const [{ name, scope, days }, set] = useForm({ name: '', scope: 'read', days: '90' });
  return (
    <FormModal
      title="New API token"
      submitLabel="Create token"
      onClose={props.onClose}
      onSubmit={async () => {
        const d = days === 'never' ? undefined : Number(days);
        const t = await fleet.createToken(name.trim(), scope, d);
        if (!t.token) throw new ApiError(500, 'bad_response', 'The server did not return the token secret.');
        props.onDone(t.token);
      }}
    >
      {(fe) => (
        <>
          <TextField id="token-name" label="Name" hint="Where it is used, e.g. 'laptop' or 'CI'." error={fe('name')} value={name} onInput={set.name} autoFocus />
          <Field id="token-scope" label="Access" error={fe('scope')}>
            <select id="token-scope" class="input" value={scope} onChange={(e) => set.scope((e.target as HTMLSelectElement).value)}>
              <option value="read">Read only (recommended for monitoring)</option>
              <option value="write">Read and write (upload releases, start rollouts)</option>
              {info.user?.role === 'organization_owner' && <option value="device">Device reports only (a test rig sending a device's console output)</option>}
            </select>
          </Field>
          <Field id="token-expiry" label="Expires" error={fe('expires_in_days')}>
            <select id="token-expiry" class="input" value={days} onChange={(e) => set.days((e.target as HTMLSelectElement).value)}>
              <option value="30">in 30 days</option>
              <option value="90">in 90 days</option>
              <option value="365">in a year</option>
              <option value="never">never (not recommended)</option>
            </select>
          </Field>
          {days === 'never' && <Notice tone="warning">A token that never expires keeps working if it leaks, until someone revokes it.</Notice>}
        </>
      )}
    </FormModal>
  );
}

function ChangePassword(props: { onClose: () => void }) {
  const [{ cur, next, again }, set] = useForm({ cur: '', next: '', again: '' });
  return (
    <FormModal
      title="Change password"
      submitLabel="Change password"
      onClose={props.onClose}
      onSubmit={async () => {
        if (next !== again) throw new ApiError(400, 'mismatch', 'The two new passwords are not the same.', 'new_password_again');
        await fleet.changePassword(cur, next);
      }}
    >
      {(fe) => (
        <>
          <TextField id="pw-current" label="Current password" error={fe('current_password')} type="password" autocomplete="current-password" value={cur} onInput={set.cur} autoFocus />
          <TextField id="pw-new" label="New password" hint="At least 12 characters." error={fe('new_password')} type="password" autocomplete="new-password" value={next} onInput={set.next} />
          <TextField id="pw-again" label="New password again" error={fe('new_password_again')} type="password" autocomplete="new-password" value={again} onInput={set.again} />
        </>
      )}
    </FormModal>
  );
}
