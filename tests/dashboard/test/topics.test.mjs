// Topics and publishing (issue 16): a connection subscribed to topic patterns
// through the form (a bad pattern refused at its field), events published with
// the API, the topic column and filter of the requests and events lists, the
// Topics page's counts, the cause TOPIC_NOT_SUBSCRIBED in words, a publish key
// created in the page, used, deleted and then refused; sources of a broker type
// and a webhook source finding its topic in a header, through the source form.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startGateway, startReceiver, openBrowser, signIn, shot, until} from './harness.mjs';

const SOURCE = 'dash-topics-src';

let gw;
let rx;
let br;

before(async () => {
  rx = await startReceiver();
  gw = await startGateway();
  br = await openBrowser();
  await signIn(br.page, gw);
});

after(async () => {
  await br?.close();
  await gw?.stop();
  await rx?.close();
});

/** POST /publish with `key` (the API key by default): {status, body}. */
async function publish(event, key = gw.apiKey) {
  const r = await fetch(`${gw.url}/2024-09-01/publish`, {
    method: 'POST',
    headers: {Authorization: `Bearer ${key}`, 'Content-Type': 'application/json'},
    body: JSON.stringify(event),
  });
  const text = await r.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return {status: r.status, body};
}

async function connectionNamed(name) {
  const r = await gw.api('GET', `/connections?name=${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.models.find((c) => c.name === name);
}

async function sourceNamed(name) {
  const r = await gw.api('GET', `/sources?name=${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.models.find((s) => s.name === name);
}

/** The error shown at the field labelled `label` (waits for it). */
async function fieldError(page, label) {
  const error = page.locator('.field.invalid', {has: page.getByLabel(label, {exact: true})}).locator('.field-error');
  await error.waitFor();
  return error.textContent();
}

test('a topic subscription through the form; published events by topic in the lists and on the Topics page', async () => {
  const {page, errors} = br;
  await page.goto(`${gw.url}/#/connections/new`);
  await page.getByRole('heading', {name: 'New connection'}).waitFor();
  await page.getByRole('group', {name: 'Connection', exact: true}).getByLabel('Name', {exact: true}).fill('orders-only');
  const source = page.getByRole('group', {name: 'Source', exact: true});
  await source.getByLabel('Create a new source').check();
  await source.getByLabel('Name', {exact: true}).fill(SOURCE);
  const destination = page.getByRole('group', {name: 'Destination', exact: true});
  await destination.getByLabel('Create a new destination').check();
  await destination.getByLabel('Name', {exact: true}).fill('dash-topics-dst');
  await destination.getByLabel('URL', {exact: true}).fill(rx.url);

  // `*` inside a segment: refused by the API, shown at the Topics field.
  const topics = page.getByLabel('Topics', {exact: true});
  await topics.fill('orders.*, invoice*');
  await page.getByRole('button', {name: 'Create connection'}).click();
  assert.match(await fieldError(page, 'Topics'), /topics\[1\].*whole segments/);
  assert.equal(await page.locator('.form-errors .notice').count(), 0, 'nothing at the top');
  await shot(page, 'connection-topics-error');

  await topics.fill('orders.*, *.refunded');
  await page.getByRole('button', {name: 'Create connection'}).click();
  await page.waitForURL(/#\/$/);
  const conn = await connectionNamed('orders-only');
  assert.deepEqual(conn.topics, ['orders.*', '*.refunded']);

  // The card says what it subscribes to.
  const card = page.locator(`section[data-connection-id="${conn.id}"]`);
  await card.waitFor();
  assert.equal(await card.locator('[data-topics]').textContent(), 'Topics: orders.*, *.refunded');

  // Published with the API key: two orders, an invoice (not subscribed), a refund.
  for (const [topic, data] of [['orders.created', {id: 1}], ['orders.created', {id: 2}], ['invoice.paid', {id: 3}], ['payment.refunded', {id: 4}]]) {
    const r = await publish({source: SOURCE, topic, data});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.topic, topic);
  }
  await until(async () => rx.received.length === 3, 10000, 'three deliveries (orders and the refund)');
  assert.equal(rx.received.filter((r) => r.headers['x-hookyard-topic'] === 'orders.created').length, 2);

  // The requests list: the Topic column, and the topic filter (in the URL).
  await page.goto(`${gw.url}/#/requests`);
  await page.getByText('4 requests match').waitFor();
  const rows = page.locator('table.list tbody tr[data-id]');
  assert.deepEqual((await rows.locator('[data-topic]').allTextContents()).sort(),
    ['invoice.paid', 'orders.created', 'orders.created', 'payment.refunded']);
  const filter = page.getByLabel('Topic', {exact: true});
  await filter.fill('orders.created');
  await filter.press('Enter');
  await page.waitForURL(/#\/requests\?topic=orders\.created$/);
  await page.getByText('2 requests match').waitFor();
  assert.deepEqual(await rows.locator('[data-topic]').allTextContents(), ['orders.created', 'orders.created']);
  // Several topics: any of them.
  await filter.fill('orders.created, invoice.paid');
  await filter.press('Enter');
  await page.waitForURL(/#\/requests\?topic=orders\.created&topic=invoice\.paid$/);
  await page.getByText('3 requests match').waitFor();
  await shot(page, 'requests-topic-filter');

  // The invoice's request: its topic, and why the connection ignored it, in words.
  await page.goto(`${gw.url}/#/requests?topic=invoice.paid`);
  await page.getByText('1 request matches').waitFor();
  await rows.first().click();
  await page.waitForURL(/#\/requests\/req_/);
  const summary = page.locator('section[aria-label="Request summary"]');
  await summary.locator('[data-topic]').waitFor();
  assert.equal(await summary.locator('[data-topic]').textContent(), 'invoice.paid');
  const ignored = page.locator('[data-cause="TOPIC_NOT_SUBSCRIBED"]');
  await ignored.waitFor();
  assert.equal(await ignored.textContent(),
    'Its topic invoice.paid matches none of the topics the connection subscribes to (orders.*, *.refunded).');
  await shot(page, 'request-topic-not-subscribed');
  // A broker message that could not become a request: its cause in words too (no broker here to make one).
  assert.match(await page.evaluate(async () => (await import('/assets/js/listing.js')).rejectionSentence('INVALID_MESSAGE')),
    /^A message taken from the source's broker that could not become a request/);

  // The events list: filtered by topic too.
  await page.goto(`${gw.url}/#/events?topic=orders.created`);
  await page.getByText('2 events match').waitFor();
  assert.equal(await page.getByLabel('Topic', {exact: true}).inputValue(), 'orders.created');
  await page.goto(`${gw.url}/#/events`);
  await page.getByText('3 events match').waitFor();
  await page.getByLabel('Topic', {exact: true}).fill('payment.refunded');
  await page.getByLabel('Topic', {exact: true}).press('Enter');
  await page.waitForURL(/#\/events\?topic=payment\.refunded$/);
  await page.getByText('1 event matches').waitFor();
  // An event's page says its request's topic.
  await page.locator('table.list tbody tr[data-id]').first().click();
  await page.waitForURL(/#\/events\/evt_/);
  await page.locator('section[aria-label="Event summary"]', {hasText: 'payment.refunded'}).waitFor();

  // The Topics page: counts per source; a topic opens its requests.
  await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Topics'}).click();
  await page.waitForURL(/#\/topics$/);
  const section = page.locator(`section[data-source-id="${conn.source.id}"]`);
  await section.waitFor();
  assert.match(await section.locator('h2').textContent(), new RegExp(`Source ${SOURCE} · 3 topics`));
  const counts = Object.fromEntries(await section.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [tr.querySelector('td a').textContent, Number(tr.querySelector('[data-count]').dataset.count)])));
  assert.deepEqual(counts, {'orders.created': 2, 'invoice.paid': 1, 'payment.refunded': 1});
  await shot(page, 'topics');
  await section.getByRole('link', {name: 'orders.created'}).click();
  await page.waitForURL(new RegExp(`#/requests\\?topic=orders\\.created&source_id=${conn.source.id}$`));
  await page.getByText('2 requests match').waitFor();

  // The subscription edited: cleared, the connection takes every request again.
  await page.goto(`${gw.url}/#/connections/${conn.id}`);
  await page.getByRole('heading', {name: /^Connection /}).waitFor();
  assert.equal(await page.getByLabel('Topics', {exact: true}).inputValue(), 'orders.*, *.refunded');
  await page.getByLabel('Topics', {exact: true}).fill('');
  await page.getByRole('button', {name: 'Save connection'}).click();
  await page.waitForURL(/#\/$/);
  assert.equal((await connectionNamed('orders-only')).topics, null);
  await page.locator(`section[data-connection-id="${conn.id}"]`).waitFor();
  assert.equal(await page.locator(`section[data-connection-id="${conn.id}"] [data-topics]`).count(), 0);
  assert.equal((await publish({source: SOURCE, topic: 'invoice.paid', data: {id: 5}})).status, 200);
  await until(async () => rx.received.length === 4, 10000, 'the invoice delivered now');

  assert.deepEqual(errors, []);
});

test('a publish key: created in the page and shown once, used to publish, deleted and then refused', async () => {
  const {page, errors} = br;
  await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Publish keys'}).click();
  await page.waitForURL(/#\/publish-keys$/);
  await page.getByText('No publish keys yet').waitFor();

  // A bad name: the API's message at the field.
  await page.getByLabel('Name', {exact: true}).fill('bad name');
  await page.getByRole('button', {name: 'Create publish key'}).click();
  assert.match(await fieldError(page, 'Name'), /1 to 155 letters/);

  // Limited to the source; shown once, with a copy button and the warning.
  await page.getByLabel('Name', {exact: true}).fill('orders-service');
  await page.getByLabel('Only these sources:').check();
  await page.getByLabel(SOURCE, {exact: true}).check();
  await page.getByRole('button', {name: 'Create publish key'}).click();
  const created = page.locator('[data-new-key]');
  await created.waitFor();
  assert.match(await created.textContent(), /Copy it now: it will not be shown again/);
  await created.getByRole('button', {name: 'Copy the publish key'}).waitFor();
  const key = await page.locator('#new-publish-key').inputValue();
  assert.match(key, /^hkpub_[0-9a-f]{48}$/);
  const row = page.locator('table.list tbody tr', {hasText: 'orders-service'});
  await row.waitFor();
  assert.match(await row.textContent(), new RegExp(`${key.slice(0, 12)}…`));
  assert.match(await row.textContent(), new RegExp(SOURCE));
  assert.doesNotMatch(await row.textContent(), new RegExp(key), 'the list shows only the prefix');
  await shot(page, 'publish-key-created');

  // It publishes to its source.
  const r = await publish({source: SOURCE, topic: 'orders.shipped', data: {id: 6}}, key);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const stored = await gw.api('GET', `/requests/${r.body.request_id}`);
  assert.equal(stored.body.topic, 'orders.shipped');

  // Once the page is left, the key is gone for good.
  await page.getByRole('button', {name: 'Done: I copied it'}).click();
  assert.equal(await page.locator('#new-publish-key').count(), 0);
  await page.reload();
  await row.waitFor();
  assert.equal(await page.locator('#new-publish-key').count(), 0);
  assert.doesNotMatch(await page.locator('main').textContent(), new RegExp(key));

  // Deleted, after a confirmation; then refused.
  await row.getByRole('button', {name: 'Delete key'}).click();
  await row.getByRole('button', {name: 'Yes, delete key'}).click();
  await page.getByText('Publish key orders-service deleted').waitFor();
  await page.getByText('No publish keys yet').waitFor();
  assert.equal((await gw.api('GET', '/publish-keys')).body.count, 0);
  const refused = await publish({source: SOURCE, topic: 'orders.shipped', data: {id: 7}}, key);
  assert.equal(refused.status, 401);

  assert.deepEqual(errors, []);
});

test('sources: a broker type with its config, and a webhook source that finds its topic in a header', async () => {
  const {page, errors} = br;
  await page.goto(`${gw.url}/#/sources/new`);
  await page.getByRole('heading', {name: 'New source'}).waitFor();
  await page.getByLabel('Name', {exact: true}).fill('rmq-in');
  assert.equal(await page.getByLabel('Type', {exact: true}).inputValue(), 'WEBHOOK');
  assert.equal(await page.getByRole('group', {name: 'Accepted methods'}).isVisible(), true);
  await page.getByLabel('Type', {exact: true}).selectOption('RABBITMQ');
  // HTTP's settings are gone; RabbitMQ's are shown.
  assert.equal(await page.getByRole('group', {name: 'Accepted methods'}).isVisible(), false);
  await page.getByLabel('Broker URL', {exact: true}).fill('amqp://guest:s3cret@127.0.0.1:1/%2f');

  // No queue: the API's "missing field `queue`" lands at the Queue field.
  await page.getByRole('button', {name: 'Create source'}).click();
  assert.match(await fieldError(page, 'Queue'), /missing field `queue`/);
  await page.getByLabel('Queue', {exact: true}).fill('inbound');
  // Every broker type has a Consumers field: the shown one is RabbitMQ's.
  const consumers = page.getByLabel('Consumers', {exact: true}).filter({visible: true});
  await consumers.fill('0');
  await page.getByRole('button', {name: 'Create source'}).click();
  assert.match(await fieldError(page, 'Consumers'), /between 1 and 64/);
  await shot(page, 'source-rabbitmq-form');
  await consumers.fill('2');
  await page.getByRole('button', {name: 'Create source'}).click();
  await page.waitForURL(/#\/$/);
  const rmq = await sourceNamed('rmq-in');
  assert.equal(rmq.type, 'RABBITMQ');
  assert.deepEqual(rmq.config, {url: 'amqp://guest:s3cret@127.0.0.1:1/%2f', queue: 'inbound', consumers: 2});

  // Its card: the type and where it is consumed from, without the credentials, and no /e/ URL.
  const card = page.locator(`[data-source-id="${rmq.id}"]`);
  await card.waitFor();
  assert.match(await card.locator('.title').textContent(), /RABBITMQ/);
  assert.equal(await card.locator('[data-address]').textContent(), 'amqp://127.0.0.1:1/%2f → queue inbound');
  assert.doesNotMatch(await card.textContent(), /s3cret|\/e\/rmq-in/);
  await shot(page, 'source-broker-card');

  // Edited: it opens in its type, with its config.
  await card.getByRole('link', {name: 'rmq-in'}).click();
  await page.getByRole('heading', {name: 'Source rmq-in'}).waitFor();
  assert.equal(await page.getByLabel('Type', {exact: true}).inputValue(), 'RABBITMQ');
  assert.equal(await page.getByLabel('Queue', {exact: true}).inputValue(), 'inbound');
  assert.equal(await page.locator('[data-address]').textContent(), 'amqp://127.0.0.1:1/%2f → queue inbound');

  // A webhook source taking its topic from X-GitHub-Event.
  await page.goto(`${gw.url}/#/sources/new`);
  await page.getByRole('heading', {name: 'New source'}).waitFor();
  await page.getByLabel('Name', {exact: true}).fill('github');
  await page.getByLabel('Topic from', {exact: true}).selectOption('header');
  await page.getByRole('button', {name: 'Create source'}).click();
  assert.match(await fieldError(page, 'Header name'), /Give the header's name/);
  await page.getByLabel('Header name', {exact: true}).fill('X-GitHub-Event');
  await page.getByRole('button', {name: 'Create source'}).click();
  await page.waitForURL(/#\/$/);
  const github = await sourceNamed('github');
  assert.equal(github.type, 'WEBHOOK');
  assert.deepEqual(github.topic_from, {header: 'X-GitHub-Event'});
  const githubCard = page.locator(`[data-source-id="${github.id}"]`);
  await githubCard.waitFor();
  assert.match(await githubCard.textContent(), /Topic from the X-GitHub-Event header/);
  assert.match(await githubCard.textContent(), /\/e\/github/);

  assert.equal(await gw.send('github', {ref: 'refs/heads/main'}, {'X-GitHub-Event': 'push'}), 200);
  await page.goto(`${gw.url}/#/requests?source_id=${github.id}`);
  await page.getByText('1 request matches').waitFor();
  assert.equal(await page.locator('table.list tbody tr[data-id] [data-topic]').textContent(), 'push');

  // The rule removed in the form: stored as null.
  await page.goto(`${gw.url}/#/sources/${github.id}`);
  await page.getByRole('heading', {name: 'Source github'}).waitFor();
  assert.equal(await page.getByLabel('Topic from', {exact: true}).inputValue(), 'header');
  assert.equal(await page.getByLabel('Header name', {exact: true}).inputValue(), 'X-GitHub-Event');
  await page.getByLabel('Topic from', {exact: true}).selectOption('');
  await page.getByRole('button', {name: 'Save source'}).click();
  await page.waitForURL(/#\/$/);
  assert.equal((await sourceNamed('github')).topic_from, null);

  assert.deepEqual(errors, []);
});
