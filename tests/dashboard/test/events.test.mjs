// The requests and events lists (live tail), an event's detail with its
// attempts and a retry, a bulk retry from a filtered list, and hostile or
// awkward payloads (markup in bodies and headers, non-UTF-8, 10 MiB) shown as
// text without freezing the tab.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startGateway, startReceiver, openBrowser, signIn, shot, until} from './harness.mjs';

const SOURCE = 'dash-ev-src';
const BIG = 10 * 1024 * 1024;

let gw;
let rx;
let br;

before(async () => {
  rx = await startReceiver();
  rx.setStatus(500);
  // The default limit is exactly 10 MiB; room above it keeps the 10 MiB case
  // about the dashboard, not about where the limit falls.
  gw = await startGateway({env: {HOOKYARD_INGEST__MAX_BODY_BYTES: String(16 * 1024 * 1024)}});
  const c = await gw.api('POST', '/connections', {
    name: 'dash-ev',
    source: {name: SOURCE},
    destination: {name: 'dash-ev-dst', url: rx.url},
    // No automatic retries: a 500 makes the event FAILED at once.
    rules: [{type: 'retry', strategy: 'linear', interval: 60000, count: 0}],
  });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  br = await openBrowser();
  await signIn(br.page, gw);
});

after(async () => {
  await br?.close();
  await gw?.stop();
  await rx?.close();
});

async function events(query) {
  const r = await gw.api('GET', `/events?${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** The id of the newest request (each case sends one, then asks). */
async function newestRequest() {
  const r = await gw.api('GET', '/requests?limit=1');
  return r.body.models[0];
}

test('live list, event detail with attempts and retry, bulk retry of a filtered list', async () => {
  const {page} = br;
  await page.goto(`${gw.url}/#/events`);
  await page.getByText('new items appear as they arrive').waitFor();
  await page.evaluate(() => { window.__sameDocument = true; });

  const sent = Date.now();
  for (let i = 0; i < 3; i++) assert.equal(await gw.send(SOURCE, {order: i, kind: 'live-tail'}), 200);
  const rows = page.locator('table.list tbody tr[data-id]');
  await until(async () => (await rows.count()) >= 3, 3000, 'three live rows');
  const took = Date.now() - sent;
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the list was not reloaded');
  assert.equal(await page.locator('tr.fresh').count() >= 1, true, 'new rows are marked fresh');
  console.log(`# live tail: 3 events shown ${took} ms after the sends`);

  // The status of shown rows follows (QUEUED → FAILED) without a reload.
  await until(async () => (await events('status=FAILED')).count === 3, 10000, 'three FAILED events');
  await until(async () => (await page.locator('table.list tbody tr .badge', {hasText: 'FAILED'}).count()) === 3, 8000, 'rows updated to FAILED');
  await shot(page, 'events');

  // A failed event: its attempt with the receiver's answer.
  await rows.first().click();
  await page.waitForURL(/#\/events\/evt_/);
  const eventId = decodeURIComponent(page.url().split('#/events/')[1]);
  const attempts = page.locator('article.attempt');
  await attempts.first().waitFor();
  await page.getByText('"status": 500').first().waitFor();
  await page.getByText('The destination answered 500').first().waitFor();
  assert.equal(await attempts.count(), 1);

  // Fix the destination, retry: the new attempt appears by itself.
  rx.setStatus(200);
  await page.getByRole('button', {name: 'Retry', exact: true}).click();
  await page.getByText('Retry queued').waitFor();
  await until(async () => (await attempts.count()) === 2, 10000, 'the retry\'s attempt');
  const newest = attempts.first();
  await newest.getByText('Attempt #2').waitFor();
  assert.match(await newest.innerText(), /SUCCESSFUL/);
  assert.match(await newest.innerText(), /"status": 200/);
  assert.match(await newest.innerText(), /MANUAL/);
  await page.locator('section[aria-label="Event summary"] .badge', {hasText: 'SUCCESSFUL'}).waitFor();
  await shot(page, 'event-detail');
  assert.equal((await gw.api('GET', `/events/${eventId}`)).body.status, 'SUCCESSFUL');

  // Filters live in the URL; a refused one is named next to its field.
  await page.goto(`${gw.url}/#/events`);
  await page.getByText('3 events match').waitFor();
  await page.getByRole('group', {name: 'Status'}).getByRole('button', {name: 'FAILED'}).click();
  await page.waitForURL(/#\/events\?status=FAILED$/);
  await page.getByText('2 events match').waitFor();
  await page.getByLabel('Search').fill('ab');
  await page.getByLabel('Search').press('Enter');
  await page.locator('.field.invalid .field-error', {hasText: 'at least 3 characters'}).waitFor();
  await page.getByLabel('Search').fill('');
  await page.getByLabel('Search').press('Enter');
  await page.getByText('2 events match').waitFor();

  // Bulk retry of what the filtered list shows (the two still FAILED).
  await page.getByRole('link', {name: 'Retry these…'}).click();
  await page.waitForURL(/#\/bulk\/new\?status=FAILED/);
  const count = page.locator('[data-count]');
  await count.waitFor();
  assert.equal(await count.getAttribute('data-count'), '2');
  assert.match(await page.locator('#bulk-query').inputValue(), /"status": "FAILED"/);
  await page.getByRole('button', {name: 'Start bulk retry'}).click();
  await page.waitForURL(/#\/bulk\/blk_/);
  await page.locator('.badge', {hasText: 'completed'}).waitFor({timeout: 10000});
  await until(async () => (await events('status=SUCCESSFUL')).count === 3, 15000, 'every event SUCCESSFUL');
  assert.equal((await events('status=FAILED')).count, 0);
  await shot(page, 'bulk-retry');

  // The bulk list shows it, finished.
  await page.goto(`${gw.url}/#/bulk`);
  await page.locator('table.list tbody tr', {hasText: 'completed'}).first().waitFor();

  await page.goto(`${gw.url}/#/requests`);
  await until(async () => (await page.locator('table.list tbody tr[data-id]').count()) >= 3, 5000, 'request rows');
  await shot(page, 'requests');

  // The same lists at phone width.
  await page.setViewportSize({width: 390, height: 844});
  await page.goto(`${gw.url}/#/events`);
  await page.locator('table.list tbody tr[data-id]').first().waitFor();
  await shot(page, 'events-phone');
  await page.setViewportSize({width: 1280, height: 860});

  assert.deepEqual(br.errors, []);
});

test('hostile, non-UTF-8 and 10 MiB payloads are shown as text without freezing the tab', async () => {
  const {page} = br;
  rx.setStatus(200);
  const script = '<script>window.__pwned=1</script>';
  const hostile = {'<img src=x onerror=window.__pwned=1>': script, x: '"><svg onload=window.__pwned=1>'};

  assert.equal(await gw.send(SOURCE, hostile), 200);
  const hostileReq = await newestRequest();
  assert.equal(await gw.send(SOURCE, {ok: 1}, {'X-Evil': script}), 200);
  const headerReq = await newestRequest();
  assert.equal(await gw.send(SOURCE, new Uint8Array([0xff, 0xfe, 0x00]), {'Content-Type': 'application/octet-stream'}), 200);
  const binaryReq = await newestRequest();
  const big = bigJson(BIG);
  assert.equal(Buffer.byteLength(big), BIG);
  assert.equal(await gw.send(SOURCE, big), 200);
  const bigReq = await newestRequest();
  assert.equal(bigReq.body_size, BIG);

  // Markup in a body: text on the request page and on its event's page.
  await page.goto(`${gw.url}/#/requests/${hostileReq.id}`);
  await page.getByText(script).first().waitFor();
  await page.getByText('<img src=x onerror=window.__pwned=1>').first().waitFor();
  await page.getByText('"><svg onload=window.__pwned=1>').first().waitFor();
  assert.equal(await page.locator('main img, main svg, main script').count(), 0);
  const hostileEvent = await until(async () => (await gw.api('GET', `/requests/${hostileReq.id}/events`)).body.models[0], 5000, 'its event');
  await page.goto(`${gw.url}/#/events/${hostileEvent.id}`);
  await page.getByText(script).first().waitFor();
  await page.getByText('Delivered as received').waitFor();
  assert.equal(await page.locator('main img, main svg, main script').count(), 0);
  await shot(page, 'hostile');

  // Markup in a header value.
  await page.goto(`${gw.url}/#/requests/${headerReq.id}`);
  const evilRow = page.locator('table.list tr', {hasText: 'x-evil'});
  await evilRow.waitFor();
  assert.equal(await evilRow.getByText(script).isVisible(), true);
  await shot(page, 'request-detail');

  // A body that is not UTF-8: said so, with its bytes in hex.
  await page.goto(`${gw.url}/#/requests/${binaryReq.id}`);
  await page.getByText('This body is not UTF-8 text').waitFor();
  await page.getByText('ff fe 00').waitFor();

  // 10 MiB: the page renders a preview, stays responsive, and the whole body downloads.
  const t0 = Date.now();
  await page.goto(`${gw.url}/#/requests/${bigReq.id}`);
  await page.getByText('This body is large (10.00 MiB): showing its first 256 KiB').waitFor({timeout: 15000});
  const rendered = Date.now() - t0;
  const t1 = Date.now();
  assert.equal(await page.evaluate(() => 1 + 1), 2);
  assert.ok(Date.now() - t1 < 1000, 'the tab answers at once');
  const longest = await page.evaluate(() => Math.max(...[...document.querySelectorAll('pre')].map((p) => p.textContent.length)));
  assert.ok(longest <= 256 * 1024 + 2, `longest <pre> holds ${longest} characters`);
  console.log(`# 10 MiB request page rendered in ${rendered} ms; longest <pre> ${longest} characters`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', {name: 'Download the whole body'}).click(),
  ]);
  const file = await download.path();
  const {statSync} = await import('node:fs');
  assert.equal(statSync(file).size, BIG);
  const bigEvent = await until(async () => (await gw.api('GET', `/requests/${bigReq.id}/events`)).body.models[0], 5000, 'its event');
  await page.goto(`${gw.url}/#/events/${bigEvent.id}`);
  await page.getByText('This body is large').first().waitFor({timeout: 15000});
  await shot(page, 'large-body');

  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(br.errors, []);
});

/** A JSON document of exactly `size` bytes, many short lines when pretty-printed. */
function bigJson(size) {
  const items = [];
  let length = '{"items":[],"pad":""}'.length;
  for (let i = 0; length < size - 200; i++) {
    const item = JSON.stringify({i, name: `item ${i}`, note: 'lorem ipsum dolor sit amet'});
    items.push(item);
    length += item.length + (items.length > 1 ? 1 : 0);
  }
  const head = `{"items":[${items.join(',')}],"pad":"`;
  return head + 'x'.repeat(size - head.length - 2) + '"}';
}
