// The application shell: loads the session (which also tells studio from fleet mode), shows the
// login page when needed, and otherwise the sidebar + the page the URL names.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from './api/client';
import { api, fleet } from './api/fleet';
import type { SessionInfo } from './api/models';
import { href, matchRoute, navigate, useHash, type RouteDef } from './router';
import { Session, canManageUsers, isAdmin, roleLabel, useSession } from './session';
import { ErrorBox, Spinner, cx } from './ui/components';
import { LoginPage } from './pages/login';
import { OrgsPage, OrgPage } from './pages/orgs';
import { ProjectPage } from './pages/project';
import { DeploymentPage } from './pages/deployment';
import { DevicePage } from './pages/device';
import { ReleasePage } from './pages/release';
import { RolloutPage } from './pages/rollout';
import { UsersPage } from './pages/users';
import { AuditPage } from './pages/audit';
import { AccountPage } from './pages/account';
import { SystemPage } from './pages/system';

// Every page in one table: its URL, what it shows (`id` is the URL's :id), and whether the sidebar
// counts it under the first entry (organisations → projects → deployments → devices). "home"
// depends on the session and "login" redirects, so Shell decides those two.
interface PageRoute extends RouteDef {
  page?: (id: number) => ComponentChildren;
  underHome?: boolean;
}
const ROUTES: PageRoute[] = [
  { name: 'home', pattern: '/', underHome: true },
  { name: 'login', pattern: '/login' },
  { name: 'orgs', pattern: '/organizations', page: () => <OrgsPage />, underHome: true },
  { name: 'org', pattern: '/organizations/:id', page: (id) => <OrgPage id={id} />, underHome: true },
  { name: 'project', pattern: '/projects/:id', page: (id) => <ProjectPage id={id} />, underHome: true },
  { name: 'deployment', pattern: '/deployments/:id', page: (id) => <DeploymentPage id={id} />, underHome: true },
  { name: 'device', pattern: '/devices/:id', page: (id) => <DevicePage id={id} />, underHome: true },
  { name: 'release', pattern: '/releases/:id', page: (id) => <ReleasePage id={id} />, underHome: true },
  { name: 'rollout', pattern: '/rollouts/:id', page: (id) => <RolloutPage id={id} />, underHome: true },
  { name: 'users', pattern: '/users', page: () => <UsersPage /> },
  { name: 'audit', pattern: '/audit', page: () => <AuditPage /> },
  { name: 'account', pattern: '/account', page: () => <AccountPage /> },
  { name: 'system', pattern: '/system', page: () => <SystemPage /> },
];

let signingOut = false;

export function App() {
  const [info, setInfo] = useState<SessionInfo | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  // A signed-in session that the server stopped accepting (expired, signed out elsewhere, user
  // disabled): the login page says so instead of appearing without a reason.
  const [expired, setExpired] = useState(false);

  const refresh = useCallback(async () => {
    try {
      const s = await fleet.session();
      api.setCsrfToken(s.csrf_token ?? null);
      setInfo(s);
      setLoadError(null);
    } catch (e) {
      setLoadError(e);
    }
  }, []);

  useEffect(() => {
    api.onUnauthenticated = () => {
      // The session expired or was revoked: back to the login page, keeping where we were.
      setInfo((old) => {
        if (old?.user && !signingOut) setExpired(true);
        return old ? { ...old, user: null, csrf_token: null } : old;
      });
    };
    void refresh();
  }, [refresh]);
  useEffect(() => {
    if (info?.user) setExpired(false);
  }, [info?.user]);

  if (loadError && !info) {
    return (
      <div class="mx-auto max-w-lg px-6 py-24">
        <ErrorBox error={loadError} title="Keel Fleet is not reachable" onRetry={() => void refresh()} />
      </div>
    );
  }
  if (!info) return <div class="mx-auto max-w-lg px-6 py-24"><Spinner label="Connecting to Keel Fleet…" /></div>;

  const needsLogin = info.mode === 'fleet' && !info.user;
  return (
    <Session.Provider value={{ info, refresh }}>
      {needsLogin ? <LoginPage expired={expired} /> : <Shell />}
    </Session.Provider>
  );
}

function NavLink(props: { to: string; active: boolean; children: ComponentChildren }) {
  return (
    <a
      href={href(props.to)}
      aria-current={props.active ? 'page' : undefined}
      class={cx(
        'block rounded-md px-3 py-2 text-sm font-medium no-underline hover:no-underline',
        props.active ? 'bg-brand-800 text-white' : 'text-brand-50/90 hover:bg-brand-800/60 hover:text-white',
      )}
    >
      {props.children}
    </a>
  );
}

function Shell() {
  const hash = useHash();
  const { info, refresh } = useSession();
  const m = matchRoute(ROUTES, hash);
  const studio = info.mode === 'studio';
  const user = info.user;

  useEffect(() => {
    if (m?.name === 'login') navigate('/');
  }, [m?.name]);

  const route = ROUTES.find((r) => r.name === m?.name);
  let page: ComponentChildren;
  if (route?.name === 'home') {
    page = studio && info.organization_id ? <OrgPage id={info.organization_id} /> : user?.organization_id ? <OrgPage id={user.organization_id} /> : <OrgsPage />;
  } else if (route?.name === 'login') {
    page = null;
  } else if (route?.page) {
    page = route.page(Number(m?.params.id));
  } else {
    page = (
      <div class="mx-auto max-w-3xl px-6 py-16">
        <ErrorBox error={new Error(`There is no page at "${hash.replace(/^#/, '')}".`)} title="Page not found" />
        <p class="mt-4 text-sm"><a href="#/">Go to the start page</a></p>
      </div>
    );
  }
  const section = m?.name ?? '';
  const inHome = route?.underHome === true;

  const links = (
    <>
      {studio ? (
        <NavLink to="/" active={inHome}>Projects &amp; devices</NavLink>
      ) : user?.role === 'administrator' ? (
        <NavLink to="/organizations" active={inHome}>Organisations</NavLink>
      ) : (
        <NavLink to="/" active={inHome}>My organisation</NavLink>
      )}
      {canManageUsers(info) && <NavLink to="/users" active={section === 'users'}>Users</NavLink>}
      <NavLink to="/audit" active={section === 'audit'}>Audit log</NavLink>
      {isAdmin(info) && <NavLink to="/system" active={section === 'system'}>System</NavLink>}
      {!studio && <NavLink to="/account" active={section === 'account'}>My account &amp; API tokens</NavLink>}
    </>
  );

  const logout = async () => {
    signingOut = true; // a poll answered 401 meanwhile is this sign-out, not an expired session
    try {
      await fleet.logout();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    navigate('/');
    try {
      await refresh();
    } finally {
      signingOut = false;
    }
  };

  return (
    <div class="flex min-h-screen">
      <aside class="hidden w-60 shrink-0 flex-col bg-brand-900 px-3 py-5 text-white md:flex">
        <HomeLink large />
        <nav class="space-y-1" aria-label="Main">{links}</nav>
        <div class="mt-auto border-t border-brand-800 px-3 pt-4 text-xs text-brand-100">
          {studio ? (
            <>
              <div class="font-semibold text-white">Studio mode</div>
              <div>Local developer instance. No sign-in on this machine.</div>
            </>
          ) : (
            <>
              <div class="truncate font-semibold text-white" title={user?.email}>{user?.name || user?.email}</div>
              <div>{user ? roleLabel[user.role] : ''}</div>
              <button type="button" class="mt-2 text-xs font-medium text-white underline" onClick={() => void logout()}>
                Sign out
              </button>
            </>
          )}
          {info.version && <div class="mt-2 text-brand-100/70">Keel Fleet {info.version}</div>}
        </div>
      </aside>
      <div class="min-w-0 flex-1">
        <PhoneHeader hash={hash} links={links} footer={
          studio ? <span>Studio mode · no sign-in on this machine</span> : (
            <>
              <span class="min-w-0 truncate" title={user?.email}>{user?.name || user?.email}{user ? ` · ${roleLabel[user.role]}` : ''}</span>
              <button type="button" class="shrink-0 font-medium text-white underline" onClick={() => void logout()}>Sign out</button>
            </>
          )
        } />
        {(info.warnings ?? []).map((w, i) => (
          <div key={i} role="alert" class="border-b border-amber-300 bg-amber-100 px-6 py-2 text-sm font-medium text-amber-950">
            ⚠ {w}
          </div>
        ))}
        <main>{page}</main>
      </div>
    </div>
  );
}

function HomeLink(props: { large?: boolean }) {
  return (
    <a href="#/" class={cx('flex items-center gap-2 font-semibold text-white no-underline hover:no-underline', props.large && 'mb-6 px-3 text-lg')}>
      <img src="/favicon.svg" alt="" class={props.large ? 'h-7 w-7' : 'h-6 w-6'} /> Keel Fleet
    </a>
  );
}

// Below the md breakpoint the sidebar is hidden: a header with a Menu button opens the same links
// (every page the sidebar reaches) and the account line; following a link closes it.
function PhoneHeader(props: { hash: string; links: ComponentChildren; footer: ComponentChildren }) {
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [props.hash]);
  return (
    <header class="bg-brand-900 text-white md:hidden">
      <div class="flex items-center justify-between px-4 py-2">
        <HomeLink />
        <button
          type="button"
          class="rounded-md px-3 py-1.5 text-sm font-medium text-white ring-1 ring-white/40 hover:bg-brand-800"
          aria-expanded={open}
          aria-controls="phone-menu"
          onClick={() => setOpen((o) => !o)}
        >
          {open ? 'Close menu' : 'Menu'}
        </button>
      </div>
      {open && (
        <div id="phone-menu" class="border-t border-brand-800 px-3 pt-2 pb-3">
          <nav class="space-y-1" aria-label="Main">{props.links}</nav>
          <div class="mt-3 flex items-center justify-between gap-3 border-t border-brand-800 px-3 pt-3 text-xs text-brand-100">{props.footer}</div>
        </div>
      )}
    </header>
  );
}
