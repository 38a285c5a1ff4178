// Browser end-to-end tests of the Keel Fleet web UI against a real keel-fleet.
//   fleet mode: log in, create an organisation and its owner, create a project, trust a signing
//   key, upload a signed release (made by the keel CLI), create a deployment, register a device,
//   start a rollout, and find every one of those changes in the audit log.
//   studio mode: no login; the same UI works on the implicit organisation.
// Screenshots go to build/host/test-artifacts/fleet-e2e/.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { apiCalls, firstPage, makeRelease, shot, startBrowser, startFleet, startFleetMode, stopAll, tempDir, watchPage } from './harness.mjs';
import { DESKTOP, PHONE, api, assertNoSidewaysScroll, deviceNames, phoneCheckPage, phoneLogin, phoneReachEveryLink, phoneSignOut, signIn, waitForValue } from './page_helpers.mjs';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple' };
const OWNER = { email: 'olivia@acme.example', name: 'Olivia Owner', password: 'owner password 2026!' };
const VIEWER = { email: 'uma@acme.example', name: 'Uma User', password: 'viewer password 2026!' };

describe('fleet mode', { timeout: 300_000 }, () => {
  let dir, pg, fleet, ctx, page, rel;
  const problems = [];

  before(async () => {
    dir = tempDir('keel-fleet-e2e-');
    ({ pg, fleet } = await startFleetMode(dir, ADMIN));
    rel = makeRelease(fs.mkdtempSync(path.join(dir, 'release-')));
    ctx = await startBrowser(dir);
    page = await firstPage(ctx, problems);
  });

  after(() => stopAll({ ctx, fleet, pg, dir, logName: 'keel-fleet-fleet-mode.log' }));

  afterEach(async (t) => {
    // node:test has no "did this test fail" here; a screenshot per test is cheap and shows the state.
    if (page && process.env.KEEL_E2E_SHOT_EVERY_TEST) await shot(page, `after-${t.name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => {});
  });

  const login = (who) => signIn(page, fleet.url, who);

  test('the login page refuses a wrong password with a clear message', async () => {
    await page.goto(`${fleet.url}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(page, '01-login');
    await page.getByLabel('E-mail address').fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Could not sign in' });
    await alert.waitFor();
    assert.match(await alert.innerText(), /wrong e-mail address or password/);
    await shot(page, '02-login-failed');
  });

  test('an administrator creates an organisation and its owner', async () => {
    await login(ADMIN);
    await page.getByRole('link', { name: 'Organisations' }).click();
    await page.getByRole('button', { name: 'New organisation' }).click();
    const dlg = page.getByRole('dialog', { name: 'New organisation' });
    await dlg.getByLabel('Name').fill('Acme Water');
    await dlg.getByRole('button', { name: 'Create organisation' }).click();
    await page.getByRole('heading', { name: 'Acme Water' }).waitFor();

    await page.getByRole('link', { name: 'System' }).click();
    await page.getByText('Fleet (users, organisations, PostgreSQL)').waitFor();

    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'Add user' }).click();
    const u = page.getByRole('dialog', { name: 'Add a user' });
    await u.getByLabel('E-mail address').fill(OWNER.email);
    await u.getByLabel('Full name').fill(OWNER.name);
    await u.getByLabel('Role').selectOption('organization_owner');
    await u.getByLabel('Organisation').selectOption({ label: 'Acme Water' });
    await u.getByLabel('Set a password now').check();
    await u.getByLabel('Password', { exact: true }).fill(OWNER.password);
    await u.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('cell', { name: OWNER.email }).waitFor();
    await shot(page, '03-users');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  test('the owner creates a project, trusts a key and uploads a signed release', async () => {
    await login(OWNER);
    await page.getByRole('heading', { name: 'Acme Water' }).waitFor();
    await page.getByRole('button', { name: 'New project' }).first().click();
    const dlg = page.getByRole('dialog', { name: 'New project' });
    await dlg.getByLabel('Name').fill('pump-controller');
    await dlg.getByLabel('Description (optional)').fill('Firmware for the pump stations');
    await dlg.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'pump-controller' }).waitFor();
    // No key yet: the page says what to do first.
    await page.getByText('Add a signing key before uploading releases').waitFor();
    await shot(page, '04-project-empty');

    await page.getByRole('button', { name: 'Add public key' }).click();
    const k = page.getByRole('dialog', { name: 'Add a public signing key' });
    await k.getByLabel('Name').fill('release-manager');
    await k.getByLabel('Public key').fill(rel.signingPub);
    await k.getByRole('button', { name: 'Add key' }).click();
    await page.getByRole('cell', { name: 'release-manager' }).waitFor();

    await page.getByRole('button', { name: 'Upload release' }).click();
    const up = page.getByRole('dialog', { name: 'Upload a release' });
    await up.getByLabel('Release file').setInputFiles(rel.releaseFile);
    await up.getByRole('button', { name: 'Upload and verify' }).click();
    await page.getByRole('heading', { name: 'pump-controller 1.0.0' }).waitFor();
    await page.getByText('Signature verified · signed by release-manager').waitFor();
    // The manifest is drawn: every component a box, every channel a labelled arrow.
    const graph = page.getByTestId('manifest-graph').first();
    for (const c of ['sensor', 'filter', 'uplink', 'watchdog']) await graph.getByRole('button', { name: `component ${c}` }).waitFor();
    for (const ch of ['readings', 'clean', 'alarms', 'heartbeat']) assert.ok(await graph.getByText(ch, { exact: true }).count() >= 1, `channel ${ch} drawn`);
    await page.getByRole('cell', { name: 'rate_hz' }).waitFor();
    await shot(page, '05-release');
  });

  test('a tampered release is rejected with a clear error and nothing is stored', async () => {
    const bad = path.join(path.dirname(rel.releaseFile), 'tampered.krel');
    const bytes = fs.readFileSync(rel.releaseFile);
    bytes[bytes.length - 1] ^= 0x01; // the last byte of the Ed25519 signature
    fs.writeFileSync(bad, bytes);
    await page.getByRole('link', { name: 'pump-controller' }).last().click();
    await page.getByRole('button', { name: 'Upload release' }).click();
    const up = page.getByRole('dialog', { name: 'Upload a release' });
    await up.getByLabel('Release file').setInputFiles(bad);
    await up.getByRole('button', { name: 'Upload and verify' }).click();
    const err = up.getByRole('alert');
    await err.waitFor();
    assert.match(await err.innerText(), /Release not accepted[\s\S]*release rejected.*signature/i);
    await up.getByText('Nothing was stored.').waitFor();
    await shot(page, '06-release-rejected');
    await up.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.getByRole('link', { name: /pump-controller 1\.0\.0/ }).count(), 1, 'still exactly one release');
  });

  test('the owner creates a deployment and registers a device', async () => {
    await page.getByRole('button', { name: 'New deployment' }).click();
    const dlg = page.getByRole('dialog', { name: 'New deployment' });
    await dlg.getByLabel('Name').fill('plant-north');
    await dlg.getByRole('button', { name: 'Create deployment' }).click();
    await page.getByRole('heading', { name: 'plant-north' }).waitFor();
    await page.getByRole('button', { name: 'Register device' }).click();
    const reg = page.getByRole('dialog', { name: 'Register a device' });
    await reg.getByLabel('Device name').fill('pump-007');
    await reg.getByLabel('Tunnel public key', { exact: true }).fill(rel.tunnelPub);
    await reg.getByLabel('Identity public key', { exact: true }).fill(rel.devicePub);
    await reg.getByRole('button', { name: 'Register device' }).click();
    await page.getByRole('heading', { name: 'pump-007' }).waitFor();
    await page.getByText('No connection recorded').first().waitFor();
    const addr = await page.locator('dd', { hasText: /^\d+\.\d+\.\d+\.\d+$|:/ }).first().innerText();
    assert.match(addr, /\d+\.\d+\.\d+\.\d+|:/, 'a tunnel address was assigned');
    // Configuration: checked against the manifest's declared type before it is sent.
    const value = page.getByLabel('Value of sensor.rate_hz');
    await value.fill('fast');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await page.getByText('sensor.rate_hz must be a whole number').waitFor();
    await value.fill('20');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await page.getByText('Saved. The values apply at the next update.').waitFor();
    await shot(page, '07-device');
  });

  test('the owner starts a rollout and follows its progress', async () => {
    await page.getByRole('link', { name: 'plant-north' }).click();
    await page.getByRole('cell', { name: 'pump-007' }).waitFor();
    await shot(page, '08-deployment');
    await page.getByRole('button', { name: 'Start rollout' }).click();
    const dlg = page.getByRole('dialog', { name: 'Start a rollout' });
    await dlg.getByLabel('Release to install').selectOption({ label: 'pump-controller 1.0.0' });
    await dlg.getByLabel('Pace').selectOption('careful');
    await dlg.getByRole('button', { name: 'Start rollout' }).click();
    await page.getByRole('heading', { name: /^Rollout #\d+$/ }).waitFor();
    await page.getByText('Installing pump-controller 1.0.0 on 1 device').waitFor();
    await page.getByRole('cell', { name: 'pump-007' }).waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Press Resume to continue').waitFor();
    await shot(page, '09-rollout-paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await shot(page, '10-rollout');

    // The device reports success (the device link will do this; today it is an API call with the
    // owner's session). The open page follows without a reload.
    const rolloutId = Number((await page.getByRole('heading', { name: /^Rollout #\d+$/ }).innerText()).replace(/\D/g, ''));
    const deviceId = Number((await page.getByRole('cell', { name: 'pump-007' }).getByRole('link').getAttribute('href')).replace(/\D/g, ''));
    const reported = await api(page, 'POST', `/devices/${deviceId}/update-report`, { rollout_id: rolloutId, status: 'succeeded', message: 'booted the new release' });
    assert.equal(reported.status, 200);
    await page.getByText('Succeeded', { exact: true }).first().waitFor();
    await page.getByText('1 / 1').waitFor();
    await page.getByRole('cell', { name: 'booted the new release' }).waitFor();
    await shot(page, '10-rollout-succeeded');

    // The device page now shows what it runs, with the manifest drawn.
    await page.getByRole('cell', { name: 'pump-007' }).getByRole('link').click();
    await page.getByRole('heading', { name: 'pump-007' }).waitFor();
    const current = page.getByRole('region', { name: 'Current release' });
    await current.getByRole('link', { name: 'pump-controller 1.0.0' }).waitFor();
    for (const c of ['sensor', 'filter', 'uplink', 'watchdog']) await current.getByRole('button', { name: `component ${c}` }).waitFor();
    await page.getByRole('cell', { name: 'update' }).first().waitFor(); // the command queue shows the update
    await shot(page, '10a-device-running');

    // What the device says: serial lines and trace events sent in (today with the owner's session,
    // later by the device link) appear on the open page without a reload.
    const console_ = page.getByTestId('serial-log');
    await console_.getByText('No output received yet').waitFor();
    assert.equal(await page.getByText(/does not collect/).count(), 0, 'no "not collected" notice');
    const post = async (kind, body) => {
      const r = await api(page, 'POST', `/devices/${deviceId}/${kind}`, body);
      return [r.status, r.body];
    };
    let [st, res] = await post('serial', { lines: ['keel: boot 0.1.0 (slot A)\r', 'root: 4 components started', 'sensor: rate_hz=20 ✓'] });
    assert.equal(st, 200, JSON.stringify(res));
    await console_.getByText('sensor: rate_hz=20 ✓').waitFor();
    [st, res] = await post('serial', { lines: ['uplink: connected to mqtt'] });
    assert.equal(st, 200);
    await console_.getByText('uplink: connected to mqtt').waitFor();
    assert.match(await console_.innerText(), /keel: boot 0\.1\.0 \(slot A\)\nroot: 4 components started\nsensor: rate_hz=20 ✓\nuplink: connected to mqtt/);
    [st, res] = await post('trace', { events: [{ component: 'watchdog', event: 'restart', data: { reason: 'timeout' } }] });
    assert.equal(st, 200, JSON.stringify(res));
    await page.getByTestId('trace-log').getByRole('cell', { name: 'watchdog' }).waitFor();
    // A bad line is refused with the line named.
    [st, res] = await post('serial', { lines: ['ok', 'two\nlines'] });
    assert.equal(st, 400);
    assert.equal(res.error.field, 'lines[1]');
    await shot(page, '10a-device-serial');
    // Release, finished update and console output, but no connection on record: the page says
    // exactly that, when the device installed the release (the API's release_installed_at) and
    // when it was uploaded.
    const statusBox = page.getByRole('region', { name: 'Status' });
    await statusBox.getByText('No connection recorded').waitFor();
    assert.equal(await page.getByText('Never connected').count(), 0, 'no "Never connected" beside a release and output');
    const installedAt = (await api(page, 'GET', `/devices/${deviceId}`)).body.release_installed_at;
    assert.equal(typeof installedAt, 'number', 'the API says when the release was installed');
    await current.getByText(/installed (just now|a minute ago|\d+ minutes ago) \(/).waitFor();
    assert.equal(await current.getByText(/when the update was reported done/).count(), 0, 'the install time is the device\'s own, not a stand-in');
    await current.getByText(/release uploaded/).waitFor();
    await statusBox.getByText('Succeeded', { exact: true }).waitFor(); // Last update
  });

  test('the owner moves a device to another deployment and decommissions it', async () => {
    await page.getByRole('link', { name: 'pump-controller', exact: true }).click();
    await page.getByRole('button', { name: 'New deployment' }).click();
    const dlg = page.getByRole('dialog', { name: 'New deployment' });
    await dlg.getByLabel('Name').fill('plant-south');
    await dlg.getByRole('button', { name: 'Create deployment' }).click();
    await page.getByRole('heading', { name: 'plant-south' }).waitFor();
    await page.getByRole('link', { name: 'pump-controller', exact: true }).click();
    await page.getByRole('link', { name: 'plant-north' }).click();
    await page.getByRole('button', { name: 'Register device' }).click();
    const reg = page.getByRole('dialog', { name: 'Register a device' });
    await reg.getByLabel('Device name').fill('spare-001');
    // The same keys as pump-007: refused, with the reason next to the field.
    await reg.getByLabel('Tunnel public key', { exact: true }).fill(rel.tunnelPub);
    await reg.getByLabel('Identity public key', { exact: true }).fill(rel.spareDevicePub);
    await reg.getByRole('button', { name: 'Register device' }).click();
    await reg.getByText(/already|in use|registered/i).first().waitFor();
    await reg.getByLabel('Tunnel public key', { exact: true }).fill(rel.spareTunnelPub);
    await reg.getByRole('button', { name: 'Register device' }).click();
    await page.getByRole('heading', { name: 'spare-001' }).waitFor();

    await page.getByRole('button', { name: 'Move' }).click();
    const mv = page.getByRole('dialog', { name: 'Move this device' });
    await mv.getByLabel('Move to deployment').selectOption({ label: 'pump-controller / plant-south' });
    await mv.getByRole('button', { name: 'Move device' }).click();
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'plant-south' }).waitFor();
    await page.getByRole('button', { name: 'Decommission' }).click(); // the confirm() is accepted
    await page.getByText('This device can no longer connect').waitFor();
    await page.getByRole('button', { name: 'Repurpose' }).waitFor();
    await shot(page, '10b-decommissioned');
    // A deployment that still has devices cannot be deleted: the refusal is shown, nothing changes.
    await page.getByRole('link', { name: 'pump-controller', exact: true }).click();
    await page.getByRole('link', { name: 'plant-north' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    const refused = page.getByRole('dialog', { name: 'Not deleted' });
    await refused.getByText('deployment plant-north was not deleted').waitFor();
    await refused.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('cell', { name: 'pump-007' }).waitFor();
  });

  test('the owner registers devices from the .pub files keel key generate wrote (pasted and chosen)', async () => {
    // The page is plant-north's. Pasted: the whole multi-line files, as an operator copies them.
    await page.getByRole('button', { name: 'Register device' }).click();
    let reg = page.getByRole('dialog', { name: 'Register a device' });
    await reg.getByLabel('Device name').fill('pump-008');
    const tunnelText = rel.keyFiles['pump8-tunnel'].text;
    assert.ok(tunnelText.trim().split('\n').length >= 5 && /keel-key-version:/.test(tunnelText), 'a real multi-line .pub file');
    await reg.getByLabel('Tunnel public key', { exact: true }).fill(tunnelText);
    await reg.getByLabel('Identity public key', { exact: true }).fill(rel.keyFiles['pump8-device'].text);
    assert.equal(await reg.getByLabel('Tunnel public key', { exact: true }).inputValue(), tunnelText, 'the field keeps every line');
    await reg.getByRole('button', { name: 'Register device' }).click();
    await page.getByRole('heading', { name: 'pump-008' }).waitFor();
    assert.match(await page.getByRole('region', { name: 'Keys' }).innerText(), new RegExp(rel.keyFiles['pump8-tunnel'].text.match(/^public:\s*(\S+)/m)[1].replace(/[+/=]/g, '\\$&')));
    // The breadcrumb fills in from the right as its parts load: click only once it is complete.
    const crumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
    await crumbs.getByRole('link', { name: 'Acme Water' }).waitFor();
    await crumbs.getByRole('link', { name: 'plant-north' }).click();
    await page.getByRole('heading', { name: 'plant-north' }).waitFor();
    // Chosen with the file picker next to each field.
    await page.getByRole('button', { name: 'Register device' }).click();
    reg = page.getByRole('dialog', { name: 'Register a device' });
    await reg.getByLabel('Device name').fill('pump-009');
    await reg.getByLabel('Tunnel public key file').setInputFiles(rel.keyFiles['pump9-tunnel'].path);
    await reg.getByLabel('Identity public key file').setInputFiles(rel.keyFiles['pump9-device'].path);
    await waitForValue(reg.getByLabel('Identity public key', { exact: true }), rel.keyFiles['pump9-device'].text, 'the chosen file was read into the field');
    await waitForValue(reg.getByLabel('Tunnel public key', { exact: true }), rel.keyFiles['pump9-tunnel'].text, 'the chosen file was read into the field');
    await reg.getByRole('button', { name: 'Register device' }).click();
    await page.getByRole('heading', { name: 'pump-009' }).waitFor();
    await shot(page, '10d-registered-from-files');
  });

  test('the owner imports devices from a CSV file: a bad file shows its lines and creates nothing, a good one imports', async () => {
    const crumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
    await crumbs.getByRole('link', { name: 'plant-north' }).click();
    await page.getByRole('heading', { name: 'plant-north' }).waitFor();
    const key = () => crypto.randomBytes(32).toString('base64');
    const good = `name,tunnel_public_key,identity_public_key\ntank-01,${key()},${key()}\ntank-02,${key()},${key()}\n`;
    // Line 4 repeats line 2's name; line 5's tunnel key is not a key.
    const bad = `${good}tank-01,${key()},${key()}\ntank-05,not-a-key,${key()}\n`;
    const goodFile = path.join(dir, 'tanks.csv'), badFile = path.join(dir, 'tanks-bad.csv');
    fs.writeFileSync(goodFile, good);
    fs.writeFileSync(badFile, bad);
    const tanks = () => page.evaluate(async () => (await (await fetch('/api/v1/devices?limit=200&name=tank-')).json()).items.length);
    await page.getByRole('button', { name: 'Import devices' }).click();
    const dlg = page.getByRole('dialog', { name: 'Import devices' });
    await dlg.getByLabel('File', { exact: true }).setInputFiles(badFile);
    await dlg.getByRole('button', { name: 'Import', exact: true }).click();
    const errors = dlg.getByTestId('import-errors');
    await errors.waitFor();
    const text = await errors.innerText();
    assert.match(text, /2 errors in the file; nothing was imported/);
    assert.match(text, /Line 4\s+name\s+the same name as line 2/);
    assert.match(text, /Line 5\s+tunnel_public_key\s+the tunnel public key must be/);
    assert.equal(await tanks(), 0, 'a refused file created no device');
    await shot(page, '10e1-import-refused');
    await dlg.getByLabel('File', { exact: true }).setInputFiles(goodFile);
    await dlg.getByRole('button', { name: 'Import', exact: true }).click();
    await dlg.getByText('Imported 2 devices').waitFor();
    await shot(page, '10e2-imported');
    await dlg.getByRole('button', { name: 'Done' }).click();
    await page.getByTestId('device-table').getByRole('link', { name: 'tank-02' }).waitFor();
    assert.equal(await tanks(), 2);
  });

  test('a failed update shows in the device list, which can be searched by name', async () => {
    const ids = await page.evaluate(async () => {
      const j = async (u) => (await fetch(u)).json();
      const devs = (await j('/api/v1/devices?limit=100')).items;
      const rels = (await j('/api/v1/releases?limit=100')).items;
      return { pump8: devs.find((d) => d.name === 'pump-008').id, release: rels[0].id };
    });
    const rollout = await api(page, 'POST', `/devices/${ids.pump8}/update`, { release_id: ids.release });
    assert.equal(rollout.status, 201, JSON.stringify(rollout.body));
    const report = await api(page, 'POST', `/devices/${ids.pump8}/update-report`, { rollout_id: rollout.body.id, status: 'failed', message: 'watchdog did not start' });
    assert.equal(report.status, 200, JSON.stringify(report.body));
    await page.getByRole('link', { name: 'pump-controller', exact: true }).click();
    await page.getByRole('link', { name: 'plant-north' }).click();
    const table = page.getByTestId('device-table');
    const row8 = table.getByRole('row', { name: /pump-008/ });
    await row8.getByText('Failed', { exact: true }).waitFor();
    await row8.getByText('watchdog did not start').waitFor();
    await table.getByRole('row', { name: /pump-007/ }).getByText('Succeeded', { exact: true }).waitFor();
    await shot(page, '10e-device-list-failed');

    const search = page.getByRole('searchbox', { name: 'Search devices by name' });
    // The server searches (GET /devices?name=, paged), not the browser.
    const asked = page.waitForRequest((r) => /\/api\/v1\/devices\?.*name=008/.test(r.url()));
    await search.fill('008');
    await asked;
    await table.getByRole('row', { name: /pump-007/ }).waitFor({ state: 'detached' });
    assert.deepEqual(await deviceNames(page), ['pump-008']);
    await search.fill('PUMP-00');
    await table.getByRole('row', { name: /pump-007/ }).waitFor();
    assert.deepEqual((await deviceNames(page)).sort(), ['pump-007', 'pump-008', 'pump-009']);
    await search.fill('no-such-device');
    await page.getByText('No device named like "no-such-device"').waitFor();
    await search.fill('');
    await table.getByRole('row', { name: /pump-009/ }).waitFor();
    // The device page says it too.
    await table.getByRole('link', { name: 'pump-008' }).click();
    await page.getByRole('region', { name: 'Status' }).getByText('Failed', { exact: true }).waitFor();
    await page.getByRole('region', { name: 'Status' }).getByText('watchdog did not start').waitFor();
  });

  test('a device that does not exist says so', async () => {
    await page.goto(`${fleet.url}/#/devices/999999`);
    await page.getByRole('heading', { name: 'Device not found' }).waitFor();
    await page.getByText('This device does not exist').waitFor();
    assert.equal(await page.getByText('Something went wrong').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Try again' }).count(), 0, 'trying again cannot help');
    await shot(page, '10f-device-404');
  });

  test('an expired session returns to sign-in and says why', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByTestId('audit-table').waitFor();
    // The server ends the session (as when it expires); the open page notices at its next request.
    assert.equal((await api(page, 'POST', '/auth/logout', {})).status < 300, true);
    await page.getByRole('link', { name: 'My account & API tokens' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByText('Your session expired; sign in again.').waitFor();
    await shot(page, '10g-session-expired');
    await page.getByLabel('E-mail address').fill(OWNER.email);
    await page.getByLabel('Password', { exact: true }).fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // A deliberate sign-out is not an expired session.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.getByText('Your session expired').count(), 0);
    await login(OWNER);
  });

  test('the owner creates an API token for the CLI, which works until revoked', async () => {
    await page.getByRole('link', { name: 'My account & API tokens' }).click();
    await page.getByRole('button', { name: 'New token' }).click();
    const dlg = page.getByRole('dialog', { name: 'New API token' });
    await dlg.getByLabel('Name').fill('laptop');
    await dlg.getByLabel('Access').selectOption('read');
    await dlg.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByTestId('token-secret').innerText()).trim();
    assert.match(secret, /^keel_/);
    await shot(page, '10c-token');
    await page.getByRole('dialog', { name: 'Your new API token' }).getByRole('button', { name: 'Close' }).click();
    const me = await fetch(`${fleet.url}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).user.email, OWNER.email);
    await page.getByRole('row', { name: /laptop/ }).getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('row', { name: /laptop/ }).getByText('Revoked').waitFor();
    const after = await fetch(`${fleet.url}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(after.status, 401, 'a revoked token no longer works');
  });

  test('the owner invites a read-only user, who accepts and can only look', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'Add user' }).click();
    const u = page.getByRole('dialog', { name: 'Add a user' });
    await u.getByLabel('E-mail address').fill(VIEWER.email);
    await u.getByLabel('Full name').fill(VIEWER.name);
    assert.equal(await u.getByLabel('Role').inputValue(), 'organization_user', 'read-only is the default role');
    assert.equal(await u.getByRole('option', { name: /Administrator/ }).count(), 0, 'an owner cannot create administrators');
    await u.getByRole('button', { name: 'Create invitation' }).click();
    const token = (await page.getByTestId('invite-token').innerText()).trim();
    assert.ok(token.length >= 20, 'an invitation code is shown once');
    await shot(page, '11-invitation');
    await page.getByRole('dialog', { name: 'Invitation created' }).getByRole('button', { name: 'Close' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();

    await page.getByRole('button', { name: 'I have an invitation code' }).click();
    await page.getByLabel('Invitation code').fill(token);
    await page.getByLabel('New password', { exact: true }).fill('short');
    await page.getByLabel('New password again').fill('short');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('at least 12 characters long').waitFor(); // the server's rule, next to the field
    await page.getByLabel('New password', { exact: true }).fill(VIEWER.password);
    await page.getByLabel('New password again').fill(VIEWER.password);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText(`Your account ${VIEWER.email} is ready`).waitFor();

    await page.getByLabel('E-mail address').fill(VIEWER.email);
    await page.getByLabel('Password', { exact: true }).fill(VIEWER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Organisation user (read-only)').waitFor();
    await page.getByRole('link', { name: 'pump-controller', exact: true }).click();
    await page.getByRole('link', { name: 'plant-north' }).click();
    await page.getByRole('cell', { name: 'pump-007' }).waitFor();
    for (const b of ['Register device', 'Import devices', 'Start rollout', 'Allow a service']) assert.equal(await page.getByRole('button', { name: b }).count(), 0, `no "${b}" for a read-only user`);
    await shot(page, '12-read-only-deployment');
  });

  test('every change is in the audit log', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    const table = page.getByTestId('audit-table');
    await table.waitFor();
    const text = await table.innerText();
    for (const [what, who] of [
      ['project', OWNER.email], ['signing key', OWNER.email], ['release', OWNER.email], ['deployment', OWNER.email],
      ['device', OWNER.email], ['rollout', OWNER.email],
    ]) assert.match(text, new RegExp(`${who}[^\\n]*${what}`, 'i'), `audit shows ${what} by ${who}`);
    assert.match(text, /127\.0\.0\.1/, 'audit shows where from');
    assert.match(text, /Accepted invitation/, 'the invitation is audited');
    assert.match(text, /Moved device/);
    assert.match(text, /Decommissioned device/);
    assert.match(text, /Changed configuration[^\n]*rate_hz/, 'the configuration change is audited with its values');
    // Long details wrap inside their cell instead of running past the table's edge.
    const clipped = await table.locator('tbody tr td:nth-child(5)').evaluateAll((tds) => tds.filter((td) => td.scrollWidth > td.clientWidth + 1).map((td) => td.textContent));
    assert.deepEqual(clipped, [], 'no audit details clipped or overflowing');
    await shot(page, '13-audit');
    assert.deepEqual(problems, [], 'no page errors, no 5xx responses');
  });

  test('every page is usable on a phone (390 px wide): a menu reaches every page, nothing overflows sideways', async () => {
    await page.setViewportSize(PHONE);
    try {
      await phoneSignOut(page);
      await phoneLogin(page, OWNER);
      const ids = await page.evaluate(async () => {
        const first = async (u) => (await (await fetch(u)).json()).items[0].id;
        const project = await first('/api/v1/projects');
        const deployment = await first(`/api/v1/deployments?project_id=${project}`);
        return {
          project, deployment,
          device: await first(`/api/v1/devices?deployment_id=${deployment}`),
          release: await first(`/api/v1/releases?project_id=${project}`),
          rollout: await first(`/api/v1/rollouts?deployment_id=${deployment}`),
        };
      });
      const ownerLinks = ['My organisation', 'Users', 'Audit log', 'My account & API tokens'];
      for (const [hash, heading] of [
        ['/', 'Acme Water'], [`/projects/${ids.project}`, 'pump-controller'], [`/deployments/${ids.deployment}`, 'plant-north'],
        [`/devices/${ids.device}`, /^pump-00\d$/], [`/releases/${ids.release}`, 'pump-controller 1.0.0'], [`/rollouts/${ids.rollout}`, /^Rollout #\d+$/],
        ['/users', 'Users'], ['/audit', 'Audit log'], ['/account', /My account/],
      ]) await phoneCheckPage(page, `${fleet.url}/#${hash}`, heading, ownerLinks);
      // The device list is one card per device: a failed update is seen without scrolling sideways.
      await page.goto(`${fleet.url}/#/deployments/${ids.deployment}`);
      const failed = page.getByTestId('device-table').locator('tr', { hasText: 'pump-008' }).getByText('Failed', { exact: true });
      await failed.waitFor();
      const fb = await failed.boundingBox();
      assert.ok(fb && fb.x >= 0 && fb.x + fb.width <= PHONE.width, `the failed update is inside the window (${JSON.stringify(fb)})`);
      // Dialogs fit too.
      await page.getByRole('button', { name: 'Register device' }).click();
      await page.getByRole('dialog', { name: 'Register a device' }).waitFor();
      await assertNoSidewaysScroll(page, 'register device dialog');
      await shot(page, '14-phone-register-device');
      await page.getByRole('button', { name: 'Cancel' }).click();
      await phoneReachEveryLink(page, ownerLinks);
      await phoneSignOut(page);

      await phoneLogin(page, ADMIN);
      const adminLinks = ['Organisations', 'Users', 'Audit log', 'System', 'My account & API tokens'];
      for (const [hash, heading] of [['/organizations', 'Organisations'], ['/system', 'System'], ['/users', 'Users'], ['/audit', 'Audit log'], ['/account', /My account/]])
        await phoneCheckPage(page, `${fleet.url}/#${hash}`, heading, adminLinks);
      await phoneReachEveryLink(page, adminLinks);
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });

  test('every API call the UI made is a route of the OpenAPI document', async () => {
    const doc = await (await fetch(`${fleet.url}/api/v1/openapi.json`)).json();
    const routes = new Set();
    for (const [p, ops] of Object.entries(doc.paths))
      for (const m of Object.keys(ops)) routes.add(`${m.toUpperCase()} ${(doc.servers?.[0]?.url ?? '') === '/api/v1' ? '/api/v1' + p : p}`.replace(/\{[^}]+\}/g, '{}'));
    // The websocket upgrade is documented in docs/fleet-api.md, not as an OpenAPI operation.
    const optional = new Set(['GET /api/v1/events']);
    const unknown = [...apiCalls].filter((c) => !routes.has(c) && !optional.has(c)).sort();
    assert.ok(apiCalls.size >= 30, `the run exercised ${apiCalls.size} distinct API calls`);
    assert.deepEqual(unknown, [], 'the UI calls only documented routes');
  });
});

describe('studio mode', { timeout: 120_000 }, () => {
  let dir, fleet, ctx, page;
  const problems = [];
  before(async () => {
    dir = tempDir('keel-studio-e2e-');
    fleet = await startFleet(['--mode', 'studio', '--data-dir', path.join(dir, 'studio')], { logFile: path.join(dir, 'keel-fleet.log') });
    ctx = await startBrowser(dir);
    page = await firstPage(ctx, problems);
  });
  after(() => stopAll({ ctx, fleet, dir }));

  test('no login; projects are shown directly and can be created', async () => {
    await page.goto(`${fleet.url}/`);
    await page.getByText('Studio mode').first().waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Sign in' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0, 'no users in studio mode');
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'New project' }).first().click();
    const dlg = page.getByRole('dialog', { name: 'New project' });
    // A bad name gets the server's message next to the field.
    await dlg.getByLabel('Name').fill('bad/name');
    await dlg.getByRole('button', { name: 'Create project' }).click();
    await dlg.getByText(/^Must not contain '\/'/).waitFor();
    await shot(page, '20-studio-field-error');
    await dlg.getByLabel('Name').fill('bench-rig');
    await dlg.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'bench-rig' }).waitFor();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByTestId('audit-table').getByText('studio').first().waitFor();
    await shot(page, '21-studio-audit');
    await page.getByRole('link', { name: 'System' }).click();
    await page.getByText('Studio (local developer instance, no sign-in)').waitFor();
    await shot(page, '22-studio-system');
  });

  test('the audit log updates live when someone else makes a change', async () => {
    await page.goto(`${fleet.url}/#/audit`);
    await page.getByTestId('audit-table').waitFor();
    const other = await ctx.newPage();
    watchPage(other, problems);
    await other.goto(`${fleet.url}/#/`);
    await other.getByRole('button', { name: 'New project' }).first().click();
    const dlg = other.getByRole('dialog', { name: 'New project' });
    await dlg.getByLabel('Name').fill('live-update-check');
    await dlg.getByRole('button', { name: 'Create project' }).click();
    await other.getByRole('heading', { name: 'live-update-check' }).waitFor();
    // No reload and no polling on the audit page: the websocket change stream brings it.
    await page.getByTestId('audit-table').getByText('name: live-update-check').waitFor({ timeout: 10_000 });
    await other.close();
    assert.deepEqual(problems, []);
  });

  test('studio mode on a phone: the menu reaches every page, nothing overflows', async () => {
    await page.setViewportSize(PHONE);
    try {
      const links = ['Projects & devices', 'Audit log', 'System'];
      for (const [hash, heading] of [['/', 'Projects'], ['/audit', 'Audit log'], ['/system', 'System']])
        await phoneCheckPage(page, `${fleet.url}/#${hash}`, heading, links);
      await phoneReachEveryLink(page, links);
    } finally {
      await page.setViewportSize(DESKTOP);
    }
    assert.deepEqual(problems, []);
  });
});
