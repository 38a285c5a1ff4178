// Test harness for the browser end-to-end tests: a throwaway PostgreSQL cluster, a real
// keel-fleet on a loopback port, the keel CLI, and Debian's Chromium driven by playwright-core.
// Everything lives in one temporary directory that is removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
export const repo = path.resolve(here, '../..');
// playwright-core is a pinned dev dependency of the web UI's npm project (one lock file).
const requireWeb = createRequire(path.join(repo, 'fleet/web/package.json'));
export const { chromium } = requireWeb('playwright-core');

export const env = {
  fleet: process.env.KEEL_FLEET_BIN,
  keel: process.env.KEEL_CLI_BIN,
  web: process.env.KEEL_WEB_DIST ?? path.join(repo, 'fleet/web/dist'),
  artifacts: process.env.KEEL_E2E_ARTIFACTS ?? path.join(repo, 'build/host/test-artifacts/fleet-e2e'),
  chromium: process.env.KEEL_CHROMIUM ?? '/usr/bin/chromium',
};

export function need(cond, what) {
  if (!cond) throw new Error(`fleet-e2e: ${what}`);
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// --- PostgreSQL: a private cluster on a Unix socket only (no TCP port at all) ---------------
// The postmaster runs as our child with a parent-death signal (setpriv --pdeathsig), so even a
// test runner killed by a timeout leaves no cluster behind.
export async function startPostgres(dir) {
  const base = '/usr/lib/postgresql';
  need(fs.existsSync(base), 'PostgreSQL is not installed (scripts/setup.sh installs postgresql)');
  const ver = fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin/initdb'))).sort((a, b) => Number(b) - Number(a))[0];
  need(ver, 'no initdb under /usr/lib/postgresql/*/bin');
  const bin = path.join(base, ver, 'bin');
  const data = path.join(dir, 'pgdata');
  const sock = path.join(dir, 'pgsock');
  fs.mkdirSync(sock);
  // PostgreSQL refuses to run as root: as root, run it as the postgres user.
  const asRoot = process.getuid() === 0;
  if (asRoot) {
    fs.chmodSync(dir, 0o755);
    run('chown', ['-R', 'postgres:postgres', dir]);
  }
  const who = asRoot ? ['--reuid', 'postgres', '--regid', 'postgres', '--init-groups'] : [];
  run('setpriv', [...who, '--', path.join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'], { cwd: '/' });
  const log = fs.openSync(path.join(dir, 'postgres.log'), 'a');
  const pm = spawn('setpriv', [...who, '--pdeathsig', 'QUIT', '--', path.join(bin, 'postgres'), '-D', data, '-k', sock, '-c', 'listen_addresses=', '-p', '5432', '-F'], {
    cwd: '/',
    stdio: ['ignore', log, log],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (pm.exitCode !== null) throw new Error(`postgres exited with ${pm.exitCode}: ${fs.readFileSync(path.join(dir, 'postgres.log'), 'utf8').slice(-2000)}`);
    const r = spawnSync(path.join(bin, 'pg_isready'), ['-h', sock, '-p', '5432', '-U', 'postgres'], { encoding: 'utf8' });
    if (r.status === 0) break;
    if (Date.now() > deadline) throw new Error('postgres did not accept connections within 60 s');
    await new Promise((res) => setTimeout(res, 200));
  }
  const psql = fs.existsSync(path.join(bin, 'psql')) ? path.join(bin, 'psql') : 'psql';
  return {
    conninfo: `host=${sock} port=5432 user=postgres dbname=postgres`,
    // Runs SQL on Fleet's database (what only the device link writes: a device's connection and
    // reported status, command outcomes) and returns psql's unaligned output.
    sql: (text) => run(psql, ['-h', sock, '-p', '5432', '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', text], { cwd: '/' }),
    stop: () =>
      new Promise((resolve) => {
        if (pm.exitCode !== null) return resolve();
        pm.once('exit', () => resolve());
        pm.kill('SIGINT'); // fast shutdown
        setTimeout(() => pm.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

// --- keel-fleet -------------------------------------------------------------------------------
export async function startFleet(args, { logFile, env: extraEnv = {} } = {}) {
  need(env.fleet && fs.existsSync(env.fleet), `keel-fleet binary not found (KEEL_FLEET_BIN=${env.fleet})`);
  const log = fs.openSync(logFile, 'a');
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', env.fleet, ...args, '--bind', '127.0.0.1', '--port', '0', '--print-port', '--web-dir', env.web], {
    stdio: ['ignore', 'pipe', log],
    env: { ...process.env, ...extraEnv },
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`keel-fleet did not print its port within 30 s (log: ${logFile})`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^(\d+)\s*$/m);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`keel-fleet exited with ${code} before listening (log: ${logFile})\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

// keel-fleet in fleet mode over a throwaway PostgreSQL cluster in `dir`, with its first
// administrator (`admin`: {email, password}).
export async function startFleetMode(dir, admin) {
  const pg = await startPostgres(dir);
  const common = ['--mode', 'fleet', '--database', pg.conninfo, '--data-dir', path.join(dir, 'fleet-data'), '--pwhash-cost', 'test'];
  run(env.fleet, [...common, 'bootstrap-admin', '--email', admin.email, '--name', 'Ada Admin'], {
    env: { ...process.env, KEEL_FLEET_ADMIN_PASSWORD: admin.password },
  });
  const fleet = await startFleet(common, { logFile: path.join(dir, 'keel-fleet.log') });
  return { pg, fleet };
}

// The end of a suite: the browser closed, keel-fleet stopped (its log kept as the artifact
// `logName`, when given), PostgreSQL stopped, the temporary directory removed.
export async function stopAll({ ctx, fleet, pg, dir, logName }) {
  await ctx?.close().catch(() => {});
  await fleet?.stop();
  if (dir && logName && fs.existsSync(path.join(dir, 'keel-fleet.log'))) {
    fs.mkdirSync(env.artifacts, { recursive: true });
    fs.copyFileSync(path.join(dir, 'keel-fleet.log'), path.join(env.artifacts, logName));
  }
  await pg?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

// --- the browser --------------------------------------------------------------------------------
export async function startBrowser(dir) {
  need(fs.existsSync(env.chromium), `Chromium not found at ${env.chromium} (scripts/setup.sh installs chromium)`);
  // A persistent context is how playwright takes a fresh --user-data-dir of our choosing.
  const ctx = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
    executablePath: env.chromium,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Generous for a loaded 2-core CI machine (the suite runs beside ASan builds' tests).
  ctx.setDefaultTimeout(30_000);
  return ctx;
}

// The browser's first tab, watched for problems (watchPage).
export async function firstPage(ctx, problems) {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  watchPage(page, problems);
  return page;
}

// Screenshots are kept as test artifacts; every page error or failed request is collected so a
// test can assert there were none.
// Every API call the UI makes, as "METHOD /api/v1/path" with ids replaced by {}.
export const apiCalls = new Set();

export function watchPage(page, problems) {
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/v1/')) apiCalls.add(`${r.method()} ${u.pathname.replace(/\/\d+(?=\/|$)/g, '/{}')}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });
  page.on('dialog', (d) => void d.accept());
}

export async function shot(page, name) {
  fs.mkdirSync(env.artifacts, { recursive: true });
  const file = path.join(env.artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// --- releases and keys made with the real keel CLI -----------------------------------------------
export const MANIFEST = `[system]
name = "pump-controller"
version = "1.0.0"
platform = "qemu-virt"
memory = "4MiB"

[[group]]
name = "top"

[[component]]
name = "sensor"
image = "sensor.elf"
priority = 10
budget_us = 100
period_us = 1000
configurable = ["rate_hz"]
config = { rate_hz = 10 }

[[component]]
name = "filter"
image = "filter.elf"
priority = 10
budget_us = 100
period_us = 1000

[[component]]
name = "uplink"
image = "uplink.elf"
priority = 10
budget_us = 100
period_us = 1000

[[component]]
name = "watchdog"
image = "watchdog.elf"
priority = 10
budget_us = 100
period_us = 1000

[[channel]]
name = "readings"
from = "sensor.out"
to = "filter.in"
kind = "stream"
size = "16KiB"

[[channel]]
name = "clean"
from = "filter.out"
to = "uplink.in"
kind = "stream"
size = "16KiB"

[[channel]]
name = "alarms"
from = "filter.alarm"
to = "uplink.alarm"
kind = "event"

[[channel]]
name = "heartbeat"
from = "watchdog.ping"
to = "sensor.ctl"
kind = "rpc"
`;

// The smallest file the release builder accepts as an aarch64 ELF executable: a 64-byte header.
function fakeElf(payload) {
  const h = Buffer.alloc(64);
  h.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  h[16] = 2; // ET_EXEC
  h[18] = 183; // EM_AARCH64
  return Buffer.concat([h, Buffer.from(payload)]);
}

export function makeRelease(dir) {
  need(env.keel && fs.existsSync(env.keel), `keel CLI not found (KEEL_CLI_BIN=${env.keel})`);
  const k = (...a) => run(env.keel, a, { cwd: dir });
  fs.writeFileSync(path.join(dir, 'system.toml'), MANIFEST);
  const comps = ['sensor', 'filter', 'uplink', 'watchdog'];
  for (const c of comps) fs.writeFileSync(path.join(dir, `${c}.elf`), fakeElf(`${c} code`));
  k('key', 'generate', '--kind', 'signing', '-o', 'signing.key');
  k('key', 'generate', '--kind', 'device', '-o', 'device.key');
  k('key', 'generate', '--kind', 'tunnel', '-o', 'tunnel.key');
  k('key', 'generate', '--kind', 'device', '-o', 'spare-device.key');
  k('key', 'generate', '--kind', 'tunnel', '-o', 'spare-tunnel.key');
  // Keys registered by pasting their .pub files (pump-008) and by choosing them (pump-009).
  for (const n of ['pump8', 'pump9']) {
    k('key', 'generate', '--kind', 'device', '-o', `${n}-device.key`, '--comment', `${n}@e2e`);
    k('key', 'generate', '--kind', 'tunnel', '-o', `${n}-tunnel.key`, '--comment', `${n}@e2e`);
  }
  k('release', 'pack', 'system.toml', ...comps.flatMap((c) => ['-c', `${c}=${c}.elf`]), '-o', 'pump.krel', '--created-at', '1700000000');
  k('release', 'sign', 'pump.krel', '-k', 'signing.key');
  const pub = (name) => {
    const f = fs.readdirSync(dir).find((x) => x === `${name}.pub`) ?? fs.readdirSync(dir).find((x) => x.startsWith(`${name}.`) && x.endsWith('.pub'));
    need(f, `keel key generate wrote no ${name}*.pub`);
    return fs.readFileSync(path.join(dir, f), 'utf8');
  };
  const field = (text) => text.match(/^public:\s*(\S+)/m)[1];
  return {
    releaseFile: path.join(dir, 'pump.krel'),
    signingPub: pub('signing'),
    devicePub: field(pub('device')),
    tunnelPub: field(pub('tunnel')),
    spareDevicePub: field(pub('spare-device')),
    spareTunnelPub: field(pub('spare-tunnel')),
    // Whole .pub files, as `keel key generate` wrote them (several lines), and their paths.
    keyFiles: Object.fromEntries(['pump8-device', 'pump8-tunnel', 'pump9-device', 'pump9-tunnel'].map((n) => [n, { path: path.join(dir, `${n}.pub`), text: pub(n) }])),
  };
}
