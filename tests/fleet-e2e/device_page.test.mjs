// Browser end-to-end tests of the device page's device-link parts against a real keel-fleet in
// fleet mode (throwaway PostgreSQL): the status and component table a device reported, the serial
// console followed live (dropped-lines marker, earlier lines), restart with its confirmation (and
// Cancel queuing nothing), identify and trace commands in the history with the device's outcome,
// the remote console terminal (fleet mode: "Could not connect", the console needs the link in the
// API process; studio mode: an offline device → "Device offline" from the server's 4404; a round
// trip and the console limit against a stand-in websocket), a read-only user without buttons, and
// the page on a phone.
//
// What only the device link writes (connection, reported status and components, command outcomes)
// is written into the database directly (harness `pg.sql`), as the link's store calls would.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { firstPage, shot, startBrowser, startFleet, startFleetMode, stopAll, tempDir, watchPage } from './harness.mjs';
import { DESKTOP, PHONE, assertNoSidewaysScroll, settle, signIn } from './page_helpers.mjs';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple' };
const OWNER = { email: 'otto@pumps.example', name: 'Otto Owner', password: 'owner password 2026!' };
const VIEWER = { email: 'vera@pumps.example', name: 'Vera Viewer', password: 'viewer password 2026!' };
const HASH = 'c0ffee'.padEnd(64, '0123456789abcdef');

// A signed-in API client (session cookie + CSRF token), for seeding what the UI then shows.
async function apiSession(base, who) {
  const r = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: who.email, password: who.password }) });
  assert.equal(r.status, 200, `login ${who.email}`);
  const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const { csrf_token: csrf } = await r.json();
  return async (method, p, body) => {
    const res = await fetch(`${base}/api/v1${p}`, { method, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Cookie: cookie }, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = await res.json().catch(() => null);
    assert.ok(res.status < 300, `${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}

// Public keys as `wg pubkey` prints them: base64 of the raw 32 bytes.
function publicKey(kind) {
  const { publicKey: k } = crypto.generateKeyPairSync(kind);
  return Buffer.from(k.export({ format: 'jwk' }).x, 'base64url').toString('base64');
}

// Whether the server has the console websocket at all: an upgrade request answered 101 (the
// server then closes with its code) rather than an HTTP error.
function consoleRouteAnswers(base, deviceId, cookie) {
  return new Promise((resolve, reject) => {
    const u = new URL(`${base}/api/v1/devices/${deviceId}/console`);
    const headers = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'), Origin: base };
    if (cookie) headers.Cookie = cookie;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, headers });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('device page (fleet mode)', { timeout: 240_000 }, () => {
  let dir, pg, fleet, ctx, page;
  const problems = [];
  const ids = {};

  const devicePage = async (id = ids.online) => {
    await page.goto(`${fleet.url}/#/devices/${id}`);
    await page.getByRole('heading', { level: 1 }).first().waitFor();
  };
  const commandsOf = async (owner, id) => (await owner('GET', `/devices/${id}/commands?limit=200`)).items;
  const login = (who) => signIn(page, fleet.url, who);
  let owner;

  before(async () => {
    dir = tempDir('keel-device-page-e2e-');
    ({ pg, fleet } = await startFleetMode(dir, ADMIN));

    const admin = await apiSession(fleet.url, ADMIN);
    const org = await admin('POST', '/organizations', { name: 'Pump Works' });
    await admin('POST', '/users', { ...OWNER, role: 'organization_owner', organization_id: org.id });
    await admin('POST', '/users', { ...VIEWER, role: 'organization_user', organization_id: org.id });
    owner = await apiSession(fleet.url, OWNER);
    const project = await owner('POST', '/projects', { name: 'pumps' });
    const dep = await owner('POST', '/deployments', { project_id: project.id, name: 'station-east' });
    const register = async (name) => (await owner('POST', '/devices', { deployment_id: dep.id, name, tunnel_public_key: publicKey('x25519'), identity_public_key: publicKey('ed25519') })).id;
    ids.online = await register('pump-101');
    ids.offline = await register('pump-102');

    // pump-101 connected and reported its status (what the link's record_device_status writes).
    const now = Date.now();
    pg.sql(`UPDATE devices SET connection = 'online', last_seen_at = ${now}, reported_release = 'pump-controller 1.2.0',
              reported_manifest_hash = '${HASH}', uptime_ms = ${(3600 + 65) * 1000}, status_at = ${now} WHERE id = ${ids.online};
            INSERT INTO device_components (device_id, name, state, restarts, memory_kib, cpu_permille, updated_at) VALUES
              (${ids.online}, 'sensor', 'running', 0, 1536, 125, ${now}), (${ids.online}, 'filter', 'running', 2, 768, 40, ${now}),
              (${ids.online}, 'uplink', 'failed', 5, 2048, 0, ${now}), (${ids.online}, 'watchdog', 'restarting', 1, 256, 3, ${now});`);
    // 250 console lines, the link's dropped-lines marker among the newest.
    const lines = Array.from({ length: 250 }, (_, i) => `[sensor] reading ${i + 1}`);
    lines[239] = '7 lines dropped';
    await owner('POST', `/devices/${ids.online}/serial`, { lines });

    ctx = await startBrowser(dir);
    page = await firstPage(ctx, problems);
    await login(OWNER);
  });

  after(() => stopAll({ ctx, fleet, pg, dir, logName: 'keel-fleet-device-page.log' }));

  test('the device page shows what the device reported: connection, release, manifest hash, components', async () => {
    await devicePage();
    const status = page.getByRole('region', { name: 'Status' });
    await status.getByText('Online', { exact: true }).waitFor();
    await status.getByText('last seen just now').waitFor();
    await status.getByText('pump-controller 1.2.0').waitFor();
    assert.equal(await status.getByTestId('manifest-hash').innerText(), HASH);
    await status.getByText('1 h 1 min').waitFor();
    const table = page.getByTestId('component-table');
    const row = (name) => table.getByRole('row', { name: new RegExp(`^${name}\\b`) });
    await row('sensor').waitFor();
    assert.deepEqual(await table.locator('tbody td:first-child').allInnerTexts(), ['filter', 'sensor', 'uplink', 'watchdog']);
    assert.match(await row('sensor').innerText(), /Running\s+0\s+1\.5 MiB\s+12\.5 %/);
    assert.match(await row('uplink').innerText(), /Failed\s+5\s+2\.0 MiB\s+0\.0 %/);
    assert.match(await row('watchdog').innerText(), /Restarting\s+1\s+256 KiB\s+0\.3 %/);
    await shot(page, '30-device-link-status');

    // A new STATUS (written as the link writes it) shows without a reload; the device goes offline.
    await page.evaluate(() => { window.__samePage = true; });
    pg.sql(`UPDATE device_components SET state = 'running', restarts = 6 WHERE device_id = ${ids.online} AND name = 'uplink';
            UPDATE devices SET connection = 'offline' WHERE id = ${ids.online};`);
    await row('uplink').getByText('Running').waitFor();
    await status.getByText('Offline', { exact: true }).waitFor();
    assert.match(await row('uplink').innerText(), /Running\s+6\s/);
    assert.equal(await page.evaluate(() => window.__samePage), true, 'no reload');
    pg.sql(`UPDATE devices SET connection = 'online' WHERE id = ${ids.online};`);
    await status.getByText('Online', { exact: true }).waitFor();
  });

  test('the serial console follows new lines, marks dropped lines and pages back', async () => {
    const log = page.getByTestId('serial-log');
    await log.getByText('[sensor] reading 250', { exact: true }).waitFor();
    assert.equal(await log.getByText('[sensor] reading 50', { exact: true }).count(), 0, 'only the newest 200 lines at first');
    // The link's marker is shown as a marker, not as a line the device printed.
    const marker = page.getByTestId('serial-dropped');
    assert.equal(await marker.count(), 1);
    assert.equal((await marker.innerText()).trim(), '⚠ 7 lines dropped by the device');
    const [markBg, lineBg] = await Promise.all([
      marker.evaluate((e) => getComputedStyle(e).backgroundColor),
      log.getByText('[sensor] reading 250', { exact: true }).evaluate((e) => getComputedStyle(e).backgroundColor),
    ]);
    assert.notEqual(markBg, lineBg, 'the marker stands out from the lines');
    await page.getByText(/the device dropped console output it could not send/).waitFor();

    await page.evaluate(() => { window.__samePage = true; });
    await owner('POST', `/devices/${ids.online}/serial`, { lines: ['[uplink] reconnected to broker'] });
    await log.getByText('[uplink] reconnected to broker').waitFor();
    assert.match(await log.innerText(), /\[sensor\] reading 250\n\[uplink\] reconnected to broker$/);

    await page.getByRole('button', { name: 'Show earlier lines' }).click();
    await log.getByText('[sensor] reading 1', { exact: true }).waitFor();
    assert.match(await log.innerText(), /^\[sensor\] reading 1\n\[sensor\] reading 2\n/);
    assert.equal(await page.getByRole('button', { name: 'Show earlier lines' }).count(), 0, 'nothing older left');
    assert.equal(await page.evaluate(() => window.__samePage), true, 'no reload');
    await shot(page, '31-device-serial-dropped');
  });

  test('a restart asks first: Cancel queues nothing, confirming queues restart_component', async () => {
    const button = page.getByRole('button', { name: 'Restart sensor' });
    // By keyboard: the dialog opens with Cancel focused; Escape closes it, focus returns.
    await button.focus();
    await page.keyboard.press('Enter');
    let dlg = page.getByRole('dialog', { name: 'Restart sensor?' });
    await dlg.getByText('The device is online: the command is delivered at once.').waitFor();
    // The dialog moves the focus after it has rendered (an effect): wait for it, then check it.
    await page.waitForFunction(() => document.activeElement?.textContent?.trim() === 'Cancel', null, { timeout: 5000 }).catch(() => {});
    assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Cancel');
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Restart sensor');
    await button.click();
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    assert.deepEqual(await commandsOf(owner, ids.online), [], 'Cancel queued nothing');
    await page.getByRole('region', { name: 'Commands for this device' }).getByText('No commands').waitFor();

    await button.click();
    dlg = page.getByRole('dialog', { name: 'Restart sensor?' });
    await shot(page, '32-device-restart-confirm');
    await dlg.getByRole('button', { name: 'Restart component' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.getByTestId('command-queued').getByText(/Restart component sensor: queued as command #\d+/).waitFor();
    const cmds = await commandsOf(owner, ids.online);
    assert.equal(cmds.length, 1);
    assert.equal(cmds[0].kind, 'restart_component');
    assert.deepEqual(cmds[0].payload, { component: 'sensor' });
    const history = page.getByTestId('command-table');
    const row = history.getByRole('row', { name: /Restart component sensor/ });
    await row.waitFor();

    // The device's answer (what the link's record_command_result writes) appears in the history.
    pg.sql(`UPDATE device_commands SET status = 'done', outcome = 'done', result_detail = 'sensor restarted', result_at = ${Date.now()},
              sent_at = ${Date.now()}, deliveries = 1 WHERE id = ${cmds[0].id};`);
    await row.getByText('done: sensor restarted').waitFor();
    await row.getByText('Done', { exact: true }).waitFor();
  });

  test('identify, tracing on and off, and restarting the device queue their commands, newest first', async () => {
    await page.getByRole('region', { name: 'Status' }).getByRole('button', { name: 'Identify' }).click();
    await page.getByTestId('command-queued').getByText(/^Identify: queued/).waitFor();
    const trace = page.getByRole('region', { name: 'Trace' });
    await trace.getByRole('button', { name: 'Start tracing' }).click();
    await trace.getByTestId('trace-state').getByText('tracing on').waitFor();
    await trace.getByRole('button', { name: 'Stop tracing' }).click();
    await trace.getByTestId('trace-state').getByText('tracing off').waitFor();
    await page.getByRole('button', { name: 'Restart device…' }).click();
    const dlg = page.getByRole('dialog', { name: 'Restart pump-101?' });
    await dlg.getByText(/The whole device restarts/).waitFor();
    await dlg.getByRole('button', { name: 'Restart device' }).click();
    await dlg.waitFor({ state: 'detached' });
    const history = page.getByTestId('command-table');
    await history.getByRole('row', { name: /Restart the device/ }).waitFor();
    assert.deepEqual(
      (await history.locator('tbody tr td:first-child').allInnerTexts()).map((t) => t.split('\n')[0]),
      ['Restart the device', 'Stop tracing', 'Start tracing', 'Identify', 'Restart component sensor'],
    );
    assert.deepEqual((await commandsOf(owner, ids.online)).map((c) => c.kind), ['restart_component', 'identify', 'trace_on', 'trace_off', 'restart_system']);
    await shot(page, '33-device-commands');
  });

  test('in fleet mode without the Fleet bus the remote console says it could not connect (the device link runs in keel-gateway)', async () => {
    // keel-fleet in fleet mode without --nats refuses the upgrade (501: the console needs the link
    // in its own process or the Fleet bus); before the console websocket existed the upgrade got 404. A browser sees neither
    // status, only a connection closed before it opened.
    const other = await ctx.newPage();
    const errors = [];
    other.on('pageerror', (e) => errors.push(e.message));
    other.on('console', (m) => m.type() === 'error' && !/WebSocket connection to .*\/console' failed|status of 4\d\d/.test(m.text()) && errors.push(m.text()));
    await other.goto(`${fleet.url}/#/devices/${ids.offline}`);
    const term = other.getByRole('region', { name: 'Remote console' });
    await term.getByText(/The device is offline: the console opens only while it is connected/).waitFor();
    await term.getByRole('button', { name: 'Connect' }).click();
    await term.getByTestId('console-closed').getByText('Could not connect').waitFor();
    await term.getByText(/in fleet mode keel-fleet needs the Fleet bus, --nats, to reach keel-gateway/).waitFor();
    await term.getByRole('button', { name: 'Connect again' }).waitFor();
    await other.close();
    await page.bringToFront();
    assert.deepEqual(errors, []);
  });

  test('the remote console: keys go to the device and its output is shown; Ctrl+] leaves; the console limit is explained', async () => {
    // A stand-in for the console websocket (the device's shell): echoes a prompt and answers one command.
    const other = await ctx.newPage();
    // The terminal draws in animation frames, which a background tab does not get.
    await other.bringToFront();
    watchPage(other, problems);
    const got = [];
    let refuse = false;
    let shell = null;
    await other.routeWebSocket(/\/api\/v1\/devices\/\d+\/console$/, (ws) => {
      if (refuse) {
        ws.close({ code: 4409, reason: 'console limit' });
        return;
      }
      shell = ws;
      let line = '';
      ws.onMessage((m) => {
        const s = Buffer.isBuffer(m) ? m.toString('utf8') : m;
        got.push(s);
        ws.send(Buffer.from(s.replace('\r', '\r\n'))); // the shell echoes (binary frames)
        line += s;
        if (line.endsWith('\r')) {
          if (line === 'version\r') ws.send('keel 0.1.0 (pump-controller 1.2.0)\r\nkeel> ');
          line = '';
        }
      });
    });
    try {
      await other.goto(`${fleet.url}/#/devices/${ids.online}`);
      const term = other.getByRole('region', { name: 'Remote console' });
      await term.getByRole('button', { name: 'Connect' }).click();
      await term.getByTestId('console-status').getByText(/^Connected/).waitFor();
      shell.send('keel> '); // the shell's prompt, once the page has the connection open
      const screen = term.getByTestId('console-terminal');
      // The page scrolled the terminal into view when it connected; the device page's other
      // sections may have grown above it since (they load in parallel), and xterm.js draws nothing
      // while its box is off screen.
      await screen.scrollIntoViewIfNeeded();
      await screen.getByText('keel>').first().waitFor();
      await other.keyboard.type('version');
      await other.keyboard.press('Enter');
      await screen.getByText('keel 0.1.0 (pump-controller 1.2.0)').waitFor();
      assert.equal(got.join(''), 'version\r', 'the typed bytes reached the console');
      // Screen reader mode gives the rows to assistive technology too.
      await term.getByLabel('Screen reader mode').check();
      await screen.locator('.xterm-accessibility-tree').getByText('keel 0.1.0 (pump-controller 1.2.0)').waitFor({ state: 'attached' });
      await screen.getByLabel(/^Remote console input/).focus();
      await shot(other, '35-device-console-terminal');
      // Ctrl+] moves the focus out of the terminal (to Disconnect); nothing is sent.
      await other.keyboard.press('Control+BracketRight');
      assert.equal(await other.evaluate(() => document.activeElement?.textContent), 'Disconnect');
      assert.equal(got.join(''), 'version\r');
      await other.keyboard.press('Enter');
      await term.getByTestId('console-closed').getByText('You closed the remote console.').waitFor();
      refuse = true;
      await term.getByRole('button', { name: 'Connect again' }).click();
      await term.getByTestId('console-closed').getByText('Console limit reached').waitFor();
      await term.getByText(/already has the most remote consoles Fleet allows/).waitFor();
    } finally {
      // Whatever happened above, the next tests get the first tab back.
      await other.close();
      await page.bringToFront();
    }
  });

  test('a read-only user sees the status, components and history, but no buttons and no terminal', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await login(VIEWER);
    await devicePage();
    await page.getByTestId('component-table').getByRole('row', { name: /^sensor\b/ }).waitFor();
    await page.getByTestId('command-table').getByRole('row', { name: /Restart component sensor/ }).waitFor();
    await page.getByTestId('serial-log').getByText('[uplink] reconnected to broker').waitFor();
    await page.getByText("Only owners of this device's organisation can open its remote console.").waitFor();
    for (const name of [/^Restart/, 'Identify', 'Start tracing', 'Stop tracing', 'Connect', 'Update this device', 'Decommission'])
      assert.equal(await page.getByRole('button', { name }).count(), 0, `no "${name}" button for a read-only user`);
    assert.equal(await page.getByTestId('console-terminal').count(), 0, 'no terminal');
    await shot(page, '36-device-read-only');
  });

  test('the device page fits a phone', async () => {
    await page.setViewportSize(PHONE);
    try {
      await devicePage();
      await page.getByTestId('component-table').waitFor();
      await settle(page);
      await assertNoSidewaysScroll(page, 'device page');
      await shot(page, '37-device-phone');
    } finally {
      await page.setViewportSize(DESKTOP);
    }
    assert.deepEqual(problems, [], 'no page errors, no 5xx responses');
  });
});

describe('device page (studio mode: the device link in keel-fleet)', { timeout: 120_000 }, () => {
  let dir, fleet, ctx, page, deviceId;
  const problems = [];
  before(async () => {
    dir = tempDir('keel-device-page-studio-e2e-');
    fleet = await startFleet(['--mode', 'studio', '--data-dir', path.join(dir, 'studio')], { logFile: path.join(dir, 'keel-fleet.log') });
    const call = async (p, body) => {
      const r = await fetch(`${fleet.url}/api/v1${p}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const j = await r.json();
      assert.ok(r.status < 300, `POST ${p}: ${r.status} ${JSON.stringify(j)}`);
      return j;
    };
    const project = await call('/projects', { name: 'bench' });
    const dep = await call('/deployments', { project_id: project.id, name: 'rig' });
    deviceId = (await call('/devices', { deployment_id: dep.id, name: 'rig-01', tunnel_public_key: publicKey('x25519'), identity_public_key: publicKey('ed25519') })).id;
    ctx = await startBrowser(dir);
    page = await firstPage(ctx, problems);
  });
  after(() => stopAll({ ctx, fleet, dir, logName: 'keel-fleet-device-page-studio.log' }));

  test('the remote console of an offline device says the device is offline (the server closes with 4404)', async (t) => {
    const answer = await consoleRouteAnswers(fleet.url, deviceId, '');
    if (answer !== 101) {
      t.skip(`this keel-fleet has no console websocket yet (the upgrade got HTTP ${answer})`);
      return;
    }
    await page.goto(`${fleet.url}/#/devices/${deviceId}`);
    const term = page.getByRole('region', { name: 'Remote console' });
    await term.getByRole('button', { name: 'Connect' }).click();
    await term.getByTestId('console-closed').getByText('Device offline').waitFor();
    await term.getByText(/not connected to Fleet/).waitFor();
    await term.getByRole('button', { name: 'Connect again' }).waitFor();
    await shot(page, '38-device-console-offline');
    assert.deepEqual(problems, []);
  });
});
