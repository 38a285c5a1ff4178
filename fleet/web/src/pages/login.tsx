import { useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { api, fleet } from '../api/fleet';
import { useSession } from '../session';
import { ErrorBox, Field, TextInput } from '../ui/components';

export function LoginPage() {
  const { refresh } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    if (!email.trim() || !password) {
      setErr(new ApiError(400, 'missing', 'Enter your e-mail address and password.', !email.trim() ? 'email' : 'password'));
      return;
    }
    setBusy(true);
    try {
      const r = await fleet.login(email.trim(), password);
      api.setCsrfToken(r.csrf_token);
      setPassword('');
      await refresh();
    } catch (x) {
      setErr(x);
    } finally {
      setBusy(false);
    }
  };
  const fe = (f: string) => (err instanceof ApiError && err.field === f ? err.message : null);

  return (
    <div class="flex min-h-screen items-center justify-center bg-gradient-to-br from-brand-900 to-slate-900 px-4">
      <div class="w-full max-w-sm">
        <div class="mb-6 flex items-center justify-center gap-3 text-white">
          <img src="/favicon.svg" alt="" class="h-10 w-10" />
          <span class="text-2xl font-semibold">Keel Fleet</span>
        </div>
        <form class="card space-y-4 p-6" onSubmit={submit} noValidate aria-label="Sign in">
          <div>
            <h1 class="text-lg font-semibold">Sign in</h1>
            <p class="text-sm text-slate-500">Manage your devices, releases and updates.</p>
          </div>
          <Field label="E-mail address" id="email" error={fe('email')}>
            <TextInput id="email" type="email" autocomplete="username" value={email} onInput={setEmail} error={fe('email')} autoFocus />
          </Field>
          <Field label="Password" id="password" error={fe('password')}>
            <TextInput id="password" type="password" autocomplete="current-password" value={password} onInput={setPassword} error={fe('password')} />
          </Field>
          {err !== null && !(err instanceof ApiError && err.field) && <ErrorBox error={err} title="Could not sign in" />}
          <button type="submit" class="btn-primary w-full justify-center" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
          <p class="text-xs text-slate-500">
            No account? Ask your organisation owner or the Fleet administrator to invite you. Command-line tools use an API token
            instead of your password (create one after signing in).
          </p>
        </form>
      </div>
    </div>
  );
}
