import { useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { api, fleet } from '../api/fleet';
import { useSession } from '../session';
import { FormError, Notice, TextField, fieldErrorOf } from '../ui/components';
import { useAction, useForm } from '../ui/hooks';

export function LoginPage(props: { expired?: boolean }) {
  const [invite, setInvite] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <div class="flex min-h-screen items-center justify-center bg-gradient-to-br from-brand-900 to-slate-900 px-4">
      <div class="w-full max-w-sm">
        <div class="mb-6 flex items-center justify-center gap-3 text-white">
          <img src="/favicon.svg" alt="" class="h-10 w-10" />
          <span class="text-2xl font-semibold">Keel Fleet</span>
        </div>
        {invite ? (
          <AcceptInvite onDone={(email) => { setInvite(false); setNotice(`Your account ${email} is ready. Sign in with your new password.`); }} onCancel={() => setInvite(false)} />
        ) : (
          <SignIn notice={notice} expired={props.expired === true && notice === null} onInvite={() => { setNotice(null); setInvite(true); }} />
        )}
      </div>
    </div>
  );
}

function SignIn(props: { notice: string | null; expired: boolean; onInvite: () => void }) {
  const { refresh } = useSession();
  const [{ email, password }, set] = useForm({ email: '', password: '' });
  const signIn = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void signIn.run(null, async () => {
      if (!email.trim() || !password) throw new ApiError(400, 'missing', 'Enter your e-mail address and password.', !email.trim() ? 'email' : 'password');
      const r = await fleet.login(email.trim(), password);
      api.setCsrfToken(r.csrf_token);
      set.password('');
      await refresh();
    });
  };
  const fe = fieldErrorOf(signIn.error);

  return (
        <form class="card space-y-4 p-6" onSubmit={submit} noValidate aria-label="Sign in">
          <div>
            <h1 class="text-lg font-semibold">Sign in</h1>
            <p class="text-sm text-slate-500">Manage your devices, releases and updates.</p>
          </div>
          {props.expired && <Notice tone="warning" title="Signed out">Your session expired; sign in again.</Notice>}
          <TextField id="email" label="E-mail address" error={fe('email')} type="email" autocomplete="username" value={email} onInput={set.email} autoFocus />
          <TextField id="password" label="Password" error={fe('password')} type="password" autocomplete="current-password" value={password} onInput={set.password} />
          <FormError error={signIn.error} title="Could not sign in" />
          <button type="submit" class="btn-primary w-full justify-center" disabled={signIn.busy}>
            {signIn.busy ? 'Signing in…' : 'Sign in'}
          </button>
          {props.notice && <Notice tone="success">{props.notice}</Notice>}
          <p class="text-xs text-slate-500">
            No account? Ask your organisation owner or the Fleet administrator to invite you.{' '}
            <button type="button" class="font-medium text-brand-700 underline" onClick={props.onInvite}>I have an invitation code</button>
          </p>
          <p class="text-xs text-slate-500">Command-line tools use an API token instead of your password (create one after signing in).</p>
        </form>
  );
}

function AcceptInvite(props: { onDone: (email: string) => void; onCancel: () => void }) {
  const [{ token, password, again }, set] = useForm({ token: '', password: '', again: '' });
  const accept = useAction();
  const fe = fieldErrorOf(accept.error);
  const submit = (e: Event) => {
    e.preventDefault();
    void accept.run(null, async () => {
      if (password !== again) throw new ApiError(400, 'mismatch', 'The two passwords are not the same.', 'password_again');
      const r = await fleet.acceptInvite(token.trim(), password);
      props.onDone(r.user.email);
    });
  };
  return (
    <form class="card space-y-4 p-6" onSubmit={submit} noValidate aria-label="Accept invitation">
      <div>
        <h1 class="text-lg font-semibold">Accept your invitation</h1>
        <p class="text-sm text-slate-500">Paste the invitation code you were sent and choose your password.</p>
      </div>
      <TextField id="invite-token" label="Invitation code" error={fe('token')} value={token} onInput={set.token} mono autoFocus />
      <TextField id="invite-password" label="New password" hint="At least 12 characters. A short sentence is easy to remember." error={fe('password')} type="password" autocomplete="new-password" value={password} onInput={set.password} />
      <TextField id="invite-password-again" label="New password again" error={fe('password_again')} type="password" autocomplete="new-password" value={again} onInput={set.again} />
      <FormError error={accept.error} title="Invitation not accepted" />
      <div class="flex gap-2">
        <button type="button" class="btn-secondary" onClick={props.onCancel}>Back to sign in</button>
        <button type="submit" class="btn-primary flex-1 justify-center" disabled={accept.busy}>{accept.busy ? 'Saving…' : 'Set password'}</button>
      </div>
    </form>
  );
}
