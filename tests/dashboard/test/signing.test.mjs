// Outgoing signatures and OAuth2 on an HTTP destination's form: a Standard
// Webhooks secret the gateway generates, shown for the receiver (and checked
// against what a test message carries), "None" removing the method, a custom
// signature's refused header name at its field, and OAuth2's errors in words.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {createHmac} from 'node:crypto';
import {createServer} from 'node:net';
import {startGateway, startReceiver, openBrowser, signIn, shot} from './harness.mjs';

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

/** The hint under the Authentication picker: what a delivery carries. */
async function authHint(page) {
  return page.locator('.field', {has: page.getByLabel('Authentication', {exact: true})}).locator('.hint').textContent();
}

test('Standard Webhooks: a generated secret shown for the receiver, then None removes the method', async () => {
  const {page, context, errors} = br;
  await page.goto(`${gw.url}/#/destinations/new`);
  await page.getByRole('heading', {name: 'New destination'}).waitFor();
  await page.getByLabel('Name', {exact: true}).fill('signed-dst');
  await page.getByLabel('URL', {exact: true}).fill(`${receiver.url}/hooks`);
  const auth = page.getByLabel('Authentication', {exact: true});
  assert.equal(await auth.inputValue(), '', 'a new destination starts with None');
  await auth.selectOption('STANDARD_WEBHOOKS');
  assert.match(await authHint(page), /webhook-signature/);
  const secret = page.getByLabel('Secret', {exact: true});
  assert.equal(await secret.inputValue(), '');
  assert.equal(await secret.getAttribute('type'), 'password');

  // Left empty: the gateway generates it, and the page shows it to copy into the receiver.
  await page.getByRole('button', {name: 'Create destination'}).click();
  await page.waitForURL(/#\/destinations\/des_\w+\?secret=generated$/);
  await page.getByRole('heading', {name: 'Destination signed-dst'}).waitFor();
  await page.getByText(/The gateway generated the signing secret/).waitFor();
  const created = await destinationNamed('signed-dst');
  assert.equal(created.auth_method.type, 'STANDARD_WEBHOOKS');
  const generated = created.auth_method.config.secret;
  assert.match(generated, /^whsec_[A-Za-z0-9+/=]{32,}$/);
  assert.equal(await auth.inputValue(), 'STANDARD_WEBHOOKS');
  assert.equal(await secret.inputValue(), generated);
  assert.equal(await secret.getAttribute('type'), 'text', 'shown, just generated');
  assert.match(await authHint(page), /webhook-id, webhook-timestamp and webhook-signature/);
  await shot(page, 'destination-signing-secret');

  // Hide / Show, and Copy puts it on the clipboard.
  await page.getByRole('button', {name: 'Hide secret'}).click();
  assert.equal(await secret.getAttribute('type'), 'password');
  await page.getByRole('button', {name: 'Show secret'}).click();
  assert.equal(await secret.getAttribute('type'), 'text');
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: gw.url});
  await page.getByRole('button', {name: 'Copy secret'}).click();
  await page.getByRole('button', {name: 'Copy secret'}).filter({hasText: 'Copied'}).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), generated);

  // What the receiver gets verifies with that secret (Standard Webhooks' scheme).
  await page.getByRole('button', {name: 'Send test message'}).click();
  const result = page.locator('[data-test-result]');
  await result.waitFor();
  assert.equal(await result.getAttribute('data-test-result'), 'success');
  const got = receiver.received.at(-1);
  const id = got.headers['webhook-id'];
  const timestamp = got.headers['webhook-timestamp'];
  assert.ok(id && timestamp, JSON.stringify(got.headers));
  const key = Buffer.from(generated.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${got.body}`).digest('base64');
  assert.equal(got.headers['webhook-signature'], `v1,${expected}`);

  // Saved again untouched: the same secret, nothing generated, back to the overview.
  await page.getByRole('button', {name: 'Save destination'}).click();
  await page.waitForURL(/#\/$/);
  assert.equal((await destinationNamed('signed-dst')).auth_method.config.secret, generated);

  // None: the method is removed (null), and the page shows None again.
  await page.goto(`${gw.url}/#/destinations/${created.id}`);
  await page.getByRole('heading', {name: 'Destination signed-dst'}).waitFor();
  assert.equal(await secret.getAttribute('type'), 'password', 'hidden unless just generated');
  await auth.selectOption('');
  assert.match(await authHint(page), /no credentials and no signature/);
  await page.getByRole('button', {name: 'Save destination'}).click();
  await page.waitForURL(/#\/$/);
  const r = await gw.api('GET', `/destinations/${created.id}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.auth_method, null);
  await page.goto(`${gw.url}/#/destinations/${created.id}`);
  await page.getByRole('heading', {name: 'Destination signed-dst'}).waitFor();
  assert.equal(await auth.inputValue(), '');

  assert.deepEqual(errors, []);
});

test('a custom signature: a bad header name refused at its field, then saved with a generated secret', async () => {
  const {page, errors} = br;
  const dest = await gw.api('POST', '/destinations', {name: 'custom-dst', url: `${receiver.url}/custom`});
  assert.equal(dest.status, 200, JSON.stringify(dest.body));
  await page.goto(`${gw.url}/#/destinations/${dest.body.id}`);
  await page.getByRole('heading', {name: 'Destination custom-dst'}).waitFor();
  const auth = page.getByLabel('Authentication', {exact: true});
  assert.equal(await auth.inputValue(), '', 'no auth_method: None');
  await auth.selectOption('CUSTOM_SIGNATURE');
  assert.equal(await page.getByLabel('Algorithm', {exact: true}).inputValue(), 'sha256');
  assert.equal(await page.getByLabel('Encoding', {exact: true}).inputValue(), 'hex');
  await page.getByLabel('Header name', {exact: true}).fill('bad header');
  await page.getByLabel('Prefix', {exact: true}).fill('sha256=');
  assert.match(await authHint(page), /checks bad header: sha256=<the hex HMAC-SHA256 of the raw body/);

  const save = page.getByRole('button', {name: 'Save destination'});
  await save.click();
  assert.match(await fieldError(page, 'Header name'), /^auth_method\.config\.key must be a valid HTTP header name/);
  assert.equal(await page.locator('.form-errors .notice').count(), 0, 'nothing at the top');
  await shot(page, 'destination-custom-signature-error');

  await page.getByLabel('Header name', {exact: true}).fill('x-signature');
  await page.getByLabel('Encoding', {exact: true}).selectOption('base64');
  await save.click();
  await page.waitForURL(/\?secret=generated$/);
  await page.getByText(/The gateway generated the signing secret/).waitFor();
  const saved = (await gw.api('GET', `/destinations/${dest.body.id}`)).body.auth_method;
  assert.equal(saved.type, 'CUSTOM_SIGNATURE');
  const {signing_secret: signingSecret, ...rest} = saved.config;
  assert.deepEqual(rest, {key: 'x-signature', algorithm: 'sha256', encoding: 'base64', prefix: 'sha256='});
  assert.match(signingSecret, /^[0-9a-f]{64}$/);
  const shown = page.getByLabel('Signing secret', {exact: true}).filter({visible: true});
  assert.equal(await shown.inputValue(), signingSecret);

  assert.deepEqual(errors, []);
});

test('OAuth2 client credentials: a missing field at its field, a failed token endpoint in words', async () => {
  const {page, errors} = br;
  // A token URL nothing listens on.
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const {port} = srv.address();
  await new Promise((r) => srv.close(r));

  await page.goto(`${gw.url}/#/destinations/new`);
  await page.getByRole('heading', {name: 'New destination'}).waitFor();
  await page.getByLabel('Name', {exact: true}).fill('oauth-dst');
  await page.getByLabel('URL', {exact: true}).fill(`${receiver.url}/oauth`);
  await page.getByLabel('Authentication', {exact: true}).selectOption('OAUTH2_CLIENT_CREDENTIALS');
  await page.getByLabel('Token URL', {exact: true}).fill(`http://127.0.0.1:${port}/token`);
  await page.getByLabel('Client ID', {exact: true}).fill('hookyard');
  const create = page.getByRole('button', {name: 'Create destination'});
  await create.click();
  assert.match(await fieldError(page, 'Client secret'), /missing field `client_secret`/);

  await page.getByLabel('Client secret', {exact: true}).fill('s3cret');
  await page.getByLabel('Client credentials sent', {exact: true}).selectOption('x-www-form-urlencoded');
  await create.click();
  await page.waitForURL(/#\/$/);
  const created = await destinationNamed('oauth-dst');
  assert.deepEqual(created.auth_method, {type: 'OAUTH2_CLIENT_CREDENTIALS', config: {
    auth_server: `http://127.0.0.1:${port}/token`, client_id: 'hookyard', client_secret: 's3cret', authentication_type: 'x-www-form-urlencoded',
  }});

  // The test message fails at the token endpoint: the code in words.
  await page.goto(`${gw.url}/#/destinations/${created.id}`);
  await page.getByRole('button', {name: 'Send test message'}).click();
  const result = page.locator('[data-test-result]');
  await result.waitFor();
  assert.equal(await result.getAttribute('data-test-result'), 'failure');
  assert.match(await result.textContent(), /could not get an OAuth2 access token.*\(OAUTH2_HANDSHAKE_FAILED\)/);

  // The events list can be filtered by it.
  await page.goto(`${gw.url}/#/events`);
  const filter = page.getByLabel('Error', {exact: true});
  await filter.waitFor();
  assert.ok((await filter.locator('option').allTextContents()).includes('OAUTH2_HANDSHAKE_FAILED'));

  assert.deepEqual(errors, []);
});
