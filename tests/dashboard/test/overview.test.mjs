// The overview, the connection form (with an API validation error shown at its
// field) and the filter editor, driven in Chromium against a real gateway.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startGateway, startReceiver, openBrowser, signIn, shot, until} from './harness.mjs';

let gw;
let receiver;
let browser;

before(async () => {
  gw = await startGateway();
  receiver = await startReceiver();
  browser = await openBrowser();
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  await gw?.stop();
});

/** Console errors Chromium logs for an API answer the test provoked on purpose (e.g. a 422). */
async function expectFailedLoads(errors, status, work) {
  const from = errors.length;
  await work();
  await new Promise((r) => setTimeout(r, 300));
  const provoked = errors.splice(from);
  for (const e of provoked) assert.match(e, new RegExp(`status of ${status}`), `unexpected error: ${e}`);
}

test('overview, connection form and filter editor', async () => {
  const {page, errors} = browser;
  await signIn(page, gw);

  // Empty overview: what to do first, with the exact curl command.
  await page.getByRole('heading', {name: 'Nothing is set up yet'}).waitFor();
  const guide = page.getByRole('region', {name: 'Getting started'});
  assert.match(await guide.textContent(), new RegExp(`curl -X POST '${gw.url}/e/my-source'`));
  await shot(page, 'overview-empty');

  // A connection with a new source and a new destination, first with a bad URL.
  await guide.getByRole('link', {name: 'Create a connection'}).click();
  await page.getByRole('heading', {name: 'New connection'}).waitFor();
  await page.getByRole('group', {name: 'Connection', exact: true}).getByLabel('Name', {exact: true}).fill('ovw-conn');
  const source = page.getByRole('group', {name: 'Source', exact: true});
  assert.equal(await source.getByLabel('Create a new source').isChecked(), true, 'no sources yet: a new one by default');
  await source.getByLabel('Name', {exact: true}).fill('ovw-src');
  const destination = page.getByRole('group', {name: 'Destination', exact: true});
  await destination.getByLabel('Name', {exact: true}).fill('ovw-dst');
  await destination.getByLabel('URL', {exact: true}).fill('not a url');
  await page.getByLabel(/Retry rule/).check();
  await page.getByLabel('Strategy', {exact: true}).selectOption('exponential');
  await page.getByLabel('Retries', {exact: true}).fill('3');

  const urlError = destination.locator('.field.invalid .field-error');
  await expectFailedLoads(errors, 422, async () => {
    await page.getByRole('button', {name: 'Create connection'}).click();
    await urlError.waitFor();
  });
  assert.match(await urlError.textContent(), /^destination\.url is not a valid URL .*"not a url"/);
  assert.equal(await destination.locator('.field.invalid').getByLabel('URL', {exact: true}).count(), 1, 'the error is at the URL field');
  assert.equal(await page.locator('.form-errors .notice').count(), 0, 'nothing at the top');
  await shot(page, 'connection-form');

  await destination.getByLabel('URL', {exact: true}).fill(`${receiver.url}/hooks`);
  await page.getByRole('button', {name: 'Create connection'}).click();
  const card = page.locator('section[data-connection-id]');
  await card.waitFor();

  const listed = await gw.api('GET', '/connections');
  assert.equal(listed.status, 200);
  assert.equal(listed.body.models.length, 1);
  const conn = listed.body.models[0];
  assert.equal(conn.name, 'ovw-conn');
  assert.equal(conn.source.name, 'ovw-src');
  assert.equal(conn.destination.name, 'ovw-dst');
  assert.equal(conn.destination.url, `${receiver.url}/hooks`);
  assert.deepEqual(conn.rules, [{type: 'retry', strategy: 'exponential', count: 3}]);
  assert.equal(await card.getAttribute('data-connection-id'), conn.id);
  assert.match(await card.textContent(), new RegExp(`${gw.url}/e/ovw-src`), 'the ingest URL is shown');

  // A webhook: delivered, then counted on the overview.
  assert.equal(await gw.send('ovw-src', {type: 'order.created', amount: 42}), 200);
  await until(() => receiver.received.length >= 1, 15000, 'the delivery');
  await until(async () => {
    await page.getByRole('button', {name: 'Refresh'}).click();
    await page.waitForTimeout(250);
    return (await card.locator('[data-stat="successful"]').textContent()) === '1';
  }, 15000, 'the overview to count the delivery');
  assert.equal(await card.locator('[data-stat="events"]').textContent(), '1');
  assert.equal(await card.locator('[data-stat="failure-rate"]').textContent(), '0 %');
  assert.match(await card.textContent(), /Last webhook:/);

  // Pause and unpause from the overview.
  await card.getByRole('button', {name: 'Pause'}).click();
  await card.getByRole('button', {name: 'Unpause'}).waitFor();
  assert.ok((await gw.api('GET', `/connections/${conn.id}`)).body.paused_at, 'paused through the API');
  await card.getByRole('button', {name: 'Unpause'}).click();
  await card.getByRole('button', {name: 'Pause', exact: true}).waitFor();
  assert.equal((await gw.api('GET', `/connections/${conn.id}`)).body.paused_at, null);
  await shot(page, 'overview');

  // The filter editor, against the stored request.
  await card.getByRole('link', {name: 'Filter'}).click();
  await page.getByRole('heading', {name: /^Filter of/}).waitFor();
  const result = page.getByRole('region', {name: 'Result'});
  const verdict = result.locator('[data-verdict]');
  await verdict.waitFor();
  assert.equal(await verdict.getAttribute('data-verdict'), 'match', 'no filter: everything matches');
  const body = page.getByRole('group', {name: 'Filter', exact: true}).getByLabel('Body', {exact: true});

  await body.fill('{"type": "order.deleted"}');
  await result.locator('[data-verdict="no-match"]').waitFor();
  assert.match(await result.textContent(), /Failed: body/);

  // Invalid JSON stays in the page: a field error, no call.
  await body.fill('{"type": ');
  const bodyError = page.getByRole('group', {name: 'Filter', exact: true}).locator('.field.invalid .field-error');
  await bodyError.waitFor();
  assert.match(await bodyError.textContent(), /^Not valid JSON/);

  await body.fill('{"type": {"$startsWith": "order."}}');
  await result.locator('[data-verdict="match"]').waitFor();
  assert.equal(await bodyError.count(), 0, 'the field error is gone');

  // A pasted request that does not match, then back to the stored one.
  await page.getByRole('tab', {name: 'Paste a request'}).click();
  await page.getByRole('group', {name: 'Pasted request'}).getByLabel('Body', {exact: true}).fill('{"type": "invoice.paid"}');
  await result.locator('[data-verdict="no-match"]').waitFor();
  await page.getByRole('tab', {name: 'Stored request'}).click();
  await result.locator('[data-verdict="match"]').waitFor();
  await shot(page, 'filter-editor');

  await page.getByRole('button', {name: 'Save filter'}).click();
  await page.getByText('Filter saved.').waitFor();
  const saved = await gw.api('GET', `/connections/${conn.id}`);
  assert.deepEqual(saved.body.rules, [
    {type: 'filter', body: {type: {$startsWith: 'order.'}}},
    {type: 'retry', strategy: 'exponential', count: 3},
  ]);

  // The overview at phone width.
  await page.setViewportSize({width: 390, height: 844});
  await page.evaluate(() => { location.hash = '#/'; });
  await page.locator('section[data-connection-id] [data-stat="successful"]').waitFor();
  await shot(page, 'overview-phone');

  assert.deepEqual(errors, []);
});
