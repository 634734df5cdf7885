// CLI destinations (`hookyard listen`): one made through the form (a path
// without its leading slash refused at its field, OAuth2 not offered), listed
// with its path and the command that connects a CLI; then a real `hookyard
// listen` connected for it: an event that waited is delivered through it, and
// the overview, the destination and the event say so.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {startGateway, startReceiver, openBrowser, signIn, shot, until, binary} from './harness.mjs';

let gw;
let br;
let receiver;

before(async () => {
  gw = await startGateway();
  receiver = await startReceiver();
  br = await openBrowser();
  await signIn(br.page, gw);
});

after(async () => {
  await br?.close();
  await receiver?.close();
  await gw?.stop();
});

async function destinationNamed(name) {
  const r = await gw.api('GET', `/destinations?name=${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.models.find((d) => d.name === name);
}

/** The error shown at the field labelled `label` (waits for it). */
async function fieldError(page, label) {
  const error = page.locator('.field.invalid', {has: page.getByLabel(label, {exact: true})}).locator('.field-error');
  await error.waitFor();
  return error.textContent();
}

/** The overview, loaded now: at #/ already, going there again re-renders nothing (no hashchange). */
async function overview(page) {
  await page.goto(`${gw.url}/#/`);
  await page.getByRole('button', {name: 'Refresh'}).click();
}

/** `hookyard listen <target> [args]` against the test's gateway, as user alice, with no config file of ours. */
function listen(target, ...args) {
  const home = mkdtempSync(join(tmpdir(), 'hookyard-listen-'));
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOOKYARD_')));
  const child = spawn(binary(), ['listen', target, ...args, '--output', 'json'], {
    cwd: home,
    env: {...inherited, HOME: home, XDG_CONFIG_HOME: home, USER: 'alice', HOOKYARD_SERVER: gw.url, HOOKYARD_API_KEY: gw.apiKey},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  return {
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(home, {recursive: true, force: true});
    },
  };
}

test('a CLI destination through the form: a path without / refused at its field, listed with its path and how to connect a CLI', async () => {
  const {page, errors} = br;
  await page.goto(`${gw.url}/#/destinations/new`);
  await page.getByRole('heading', {name: 'New destination'}).waitFor();
  await page.getByLabel('Name', {exact: true}).fill('cli-alice');

  // OAuth2, chosen while HTTP, is put aside for CLI (the local server gets no token) and back for HTTP.
  const type = page.getByLabel('Type', {exact: true});
  const auth = page.getByLabel('Authentication', {exact: true});
  await auth.selectOption('OAUTH2_CLIENT_CREDENTIALS');
  await type.selectOption('CLI');
  assert.equal(await page.getByLabel('URL', {exact: true}).isVisible(), false);
  assert.equal(await page.getByLabel('CLI path', {exact: true}).isVisible(), true);
  assert.match(await page.locator('.field', {has: page.getByLabel('CLI path', {exact: true})}).locator('.hint').textContent(),
    /path on your local server, after the port/);
  assert.equal(await page.getByLabel('HTTP method', {exact: true}).isVisible(), true);
  assert.equal(await auth.isVisible(), true);
  assert.equal(await auth.inputValue(), '');
  assert.equal(await auth.locator('option[value="OAUTH2_CLIENT_CREDENTIALS"]').evaluate((o) => o.disabled && o.hidden), true);
  await type.selectOption('HTTP');
  assert.equal(await auth.inputValue(), 'OAUTH2_CLIENT_CREDENTIALS');
  assert.equal(await page.getByLabel('CLI path', {exact: true}).isVisible(), false);
  await type.selectOption('CLI');

  // A path without its leading slash: the API's 422 at the field, nothing at the top.
  await page.getByLabel('CLI path', {exact: true}).fill('webhooks');
  await page.getByLabel('HTTP method', {exact: true}).selectOption('POST');
  await auth.selectOption('BEARER_TOKEN');
  await page.getByLabel('Token', {exact: true}).filter({visible: true}).fill('local-token');
  const create = page.getByRole('button', {name: 'Create destination'});
  await create.click();
  assert.equal(await fieldError(page, 'CLI path'), 'cli_path must start with / (got "webhooks")');
  assert.equal(await page.locator('.form-errors .notice').count(), 0, 'nothing at the top');
  assert.equal(await page.locator('.field.invalid').count(), 1);
  await shot(page, 'destination-cli-error');

  await page.getByLabel('CLI path', {exact: true}).fill('/webhooks');
  await create.click();
  await page.waitForURL(/#\/$/);
  const created = await destinationNamed('cli-alice');
  assert.equal(created.type, 'CLI');
  assert.equal(created.cli_path, '/webhooks');
  assert.equal(created.url, null);
  assert.equal(created.config, null);
  assert.equal(created.http_method, 'POST');
  assert.equal(created.path_forwarding_disabled, false);
  assert.equal(created.auth_method?.type, 'BEARER_TOKEN');

  // The overview: type CLI, its path where a URL would be, and the command that connects a CLI.
  const card = page.locator(`[data-destination-id="${created.id}"]`);
  await card.waitFor();
  assert.match(await card.locator('.title').textContent(), /CLI/);
  assert.equal(await card.locator('[data-target]').textContent(), 'POST /webhooks');
  const hint = card.locator('[data-cli-status="none"]');
  await hint.waitFor();
  assert.equal(await hint.textContent(),
    'No CLI connected — events wait. Run hookyard listen 9000 <source> --name cli-alice (9000: your local server\'s port; the source is created if new).');
  await shot(page, 'overview-cli-destination');

  // The connection form's picker: type and path.
  await page.goto(`${gw.url}/#/connections/new`);
  const destination = page.getByRole('group', {name: 'Destination', exact: true});
  assert.match(await destination.getByLabel('Destination', {exact: true}).textContent(), /cli-alice \(CLI · POST \/webhooks\)/);

  // Its page: opened as CLI, whether a CLI is connected (none), then the path edited.
  await page.goto(`${gw.url}/#/destinations/${created.id}`);
  await page.getByRole('heading', {name: 'Destination cli-alice'}).waitFor();
  assert.equal(await type.inputValue(), 'CLI');
  assert.equal(await page.getByLabel('CLI path', {exact: true}).inputValue(), '/webhooks');
  assert.equal(await page.getByLabel('URL', {exact: true}).isVisible(), false);
  const status = page.locator('[data-cli-status]');
  await status.waitFor();
  assert.equal(await status.getAttribute('data-cli-status'), 'none');
  assert.match(await status.textContent(),
    /^No CLI connected — events wait\. Run hookyard listen 9000 --name cli-alice for the events of its connections, or hookyard listen 9000 <source> --name cli-alice to connect a source/);
  await page.getByLabel('CLI path', {exact: true}).fill('/hooks');
  await page.getByRole('button', {name: 'Save destination'}).click();
  await page.waitForURL(/#\/$/);
  const edited = await destinationNamed('cli-alice');
  assert.equal(edited.cli_path, '/hooks');
  assert.equal(edited.auth_method?.type, 'BEARER_TOKEN', 'kept');

  assert.deepEqual(errors, []);
});

test('hookyard listen: a waiting event goes out when it connects, shown as listening', async () => {
  const {page, errors} = br;
  const dest = await destinationNamed('cli-alice');
  // The connection `hookyard listen 9000 shop --name cli-alice` makes, and an event before any CLI listens.
  const c = await gw.api('PUT', '/connections', {name: 'cli-alice', source: {name: 'shop'}, destination_id: dest.id});
  assert.equal(c.status, 200, JSON.stringify(c.body));
  assert.equal(await gw.send('shop', {type: 'order.created'}), 200);
  const waiting = await until(async () => (await gw.api('GET', `/events?destination_id=${dest.id}`)).body.models[0], 10000, 'the event');
  await new Promise((r) => setTimeout(r, 500));
  const still = (await gw.api('GET', `/events/${waiting.id}`)).body;
  assert.ok(['QUEUED', 'SCHEDULED'].includes(still.status), still.status);
  assert.equal(still.attempts, 0);

  // The overview's pipeline: the destination has a connection, so the command names no source.
  await overview(page);
  const pipeline = page.locator(`section[data-connection-id="${c.body.id}"]`);
  await pipeline.locator('[data-cli-status="none"]').waitFor();
  assert.match(await pipeline.locator('[data-cli-status]').textContent(),
    /Run hookyard listen 9000 --name cli-alice \(9000: your local server's port\): it takes the events of this destination's connections\./);

  // The event says why it has no attempt.
  await page.goto(`${gw.url}/#/events/${waiting.id}`);
  await page.getByText('No attempt yet: events of a CLI destination wait until a CLI (hookyard listen) is connected for them.').waitFor();

  // A test message with no CLI: the error in words.
  await page.goto(`${gw.url}/#/destinations/${dest.id}`);
  await page.getByRole('button', {name: 'Send test message'}).click();
  let result = page.locator('[data-test-result]');
  await result.waitFor();
  assert.equal(await result.getAttribute('data-test-result'), 'failure');
  assert.match(await result.textContent(), /No CLI \(hookyard listen\) was connected for this destination.*\(CLI_UNAVAILABLE\)/);

  // The CLI connects (for the destination's connections): the event goes to the local server, at the path.
  const cli = listen(receiver.url, '--name', 'cli-alice');
  try {
    const sessions = await until(async () => {
      const r = await gw.api('GET', `/cli/sessions?destination_id=${dest.id}`);
      return r.body.length ? r.body : null;
    }, 20000, `a CLI session (${cli.log()})`);
    assert.match(sessions[0].client, /^alice@/);
    const delivered = await until(async () => {
      const e = (await gw.api('GET', `/events/${waiting.id}`)).body;
      return e.status === 'SUCCESSFUL' ? e : null;
    }, 15000, `the event delivered through the CLI (${cli.log()})`);
    assert.equal(delivered.attempts, 1);
    const got = receiver.received.find((r) => r.body.includes('order.created'));
    assert.ok(got?.url.startsWith('/hooks'), JSON.stringify(got?.url));
    assert.equal(got.method, 'POST');
    assert.equal(got.headers.authorization, 'Bearer local-token');

    // The overview: listening, by whom and since when; another CLI destination, not listened for.
    // One request for every CLI destination's sessions per render.
    assert.equal((await gw.api('POST', '/destinations', {name: 'cli-bob', type: 'CLI'})).status, 200);
    const sessionCalls = [];
    const count = (r) => { if (r.url().includes('/cli/sessions')) sessionCalls.push(r.url().replace(gw.url, '')); };
    await overview(page);
    const listening = pipeline.locator('[data-cli-status="listening"]');
    await listening.waitFor();
    assert.match(await listening.textContent(), /^Listening: alice@\S+ since \d\d:\d\d$/);
    assert.match(await listening.locator('[title]').first().getAttribute('title'), /^alice@\S+ \(hookyard /);
    await page.locator('[data-cli-status="none"]', {hasText: '--name cli-bob'}).waitFor();
    await shot(page, 'overview-cli-listening');
    page.on('request', count);
    const answered = page.waitForResponse((r) => r.url().includes('/cli/sessions'));
    await page.getByRole('button', {name: 'Refresh'}).click();
    await answered;
    await page.waitForTimeout(300);
    assert.deepEqual(sessionCalls, ['/2024-09-01/cli/sessions']);

    // The attempt: sent to the local URL.
    await page.goto(`${gw.url}/#/events/${waiting.id}`);
    const attempt = page.locator('article.attempt').first();
    await attempt.waitFor();
    assert.match(await attempt.textContent(), /SUCCESSFUL/);
    assert.ok((await attempt.textContent()).includes(`${receiver.url}/hooks`), await attempt.textContent());

    // Its page: listening (one request); a test message goes through the CLI.
    sessionCalls.length = 0;
    await page.goto(`${gw.url}/#/destinations/${dest.id}`);
    await page.locator('[data-cli-status="listening"]').waitFor();
    page.off('request', count);
    assert.deepEqual(sessionCalls, [`/2024-09-01/cli/sessions?destination_id=${dest.id}`]);
    await page.getByRole('button', {name: 'Send test message'}).click();
    result = page.locator('[data-test-result]');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-test-result'), 'success', await result.textContent());
    assert.ok((await result.textContent()).includes(`Sent to${receiver.url}/hooks`), await result.textContent());
  } finally {
    await cli.stop();
  }

  // The error filter knows the CLI's codes.
  await page.goto(`${gw.url}/#/events`);
  const codes = await page.getByLabel('Error', {exact: true}).locator('option').allTextContents();
  assert.ok(codes.includes('CLI') && codes.includes('CLI_UNAVAILABLE'), codes.join());

  assert.deepEqual(errors, []);
});
