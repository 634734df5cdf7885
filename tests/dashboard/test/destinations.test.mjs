// Destinations beyond HTTP (issue 14): a RabbitMQ destination through the form,
// refused by the API and then fixed (no broker needed: its config is only
// checked on save), a MOCK_API destination delivering an event, "Send test
// message", and, where redis-server is installed, a broker's attempts (accepted
// and refused) on the event page.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {existsSync, mkdtempSync, rmSync} from 'node:fs';
import {createServer, connect} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {startGateway, openBrowser, signIn, shot, until} from './harness.mjs';

let gw;
let br;

before(async () => {
  gw = await startGateway();
  br = await openBrowser();
  await signIn(br.page, gw);
});

after(async () => {
  await br?.close();
  await gw?.stop();
});

/** A port nothing listens on (taken, then let go). */
async function closedPort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const {port} = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

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

test('a RabbitMQ destination: refused config at its field, fixed, listed, edited, tested', async () => {
  const {page, errors} = br;
  const port = await closedPort();
  await page.goto(`${gw.url}/#/destinations/new`);
  await page.getByRole('heading', {name: 'New destination'}).waitFor();
  await page.getByLabel('Name', {exact: true}).fill('rmq-orders');
  await page.getByLabel('Type', {exact: true}).selectOption('RABBITMQ');
  // HTTP's fields and authentication are gone; RabbitMQ's are shown, with its defaults.
  assert.equal(await page.getByLabel('URL', {exact: true}).isVisible(), false);
  assert.equal(await page.getByLabel('Authentication', {exact: true}).isVisible(), false);
  assert.equal(await page.getByLabel(/mandatory/).isChecked(), true);
  assert.equal(await page.getByLabel(/Persistent messages/).isChecked(), true);

  // No URL: the API's "missing field `url`" of `config` lands at the URL field.
  const create = page.getByRole('button', {name: 'Create destination'});
  await create.click();
  assert.match(await fieldError(page, 'Broker URL'), /missing field `url`/);
  assert.equal(await page.locator('.form-errors .notice').count(), 0, 'nothing at the top');

  // The default exchange (empty) needs a routing key: the error is at that field.
  await page.getByLabel('Broker URL', {exact: true}).fill(`amqp://guest:secret@127.0.0.1:${port}/%2f`);
  await create.click();
  assert.match(await fieldError(page, 'Routing key'), /^config\.routing_key is required with the default exchange/);
  assert.equal(await page.locator('.field.invalid').count(), 1, 'the URL error is gone');
  await shot(page, 'destination-rabbitmq-error');

  await page.getByLabel('Exchange', {exact: true}).fill('orders');
  await create.click();
  await page.waitForURL(/#\/$/);
  const created = await destinationNamed('rmq-orders');
  assert.equal(created.type, 'RABBITMQ');
  assert.deepEqual(created.config, {
    url: `amqp://guest:secret@127.0.0.1:${port}/%2f`, exchange: 'orders', routing_key: '', mandatory: true, persistent: true,
  });
  assert.equal(created.url, null);
  assert.equal(created.auth_method ?? null, null);

  // The overview: its type, and where it publishes without the credentials.
  const card = page.locator(`[data-destination-id="${created.id}"]`);
  await card.waitFor();
  assert.match(await card.locator('.title').textContent(), /RABBITMQ/);
  assert.equal(await card.locator('[data-target]').textContent(), `amqp://127.0.0.1:${port}/%2f → orders`);
  assert.doesNotMatch(await card.textContent(), /secret/);

  // Edited: it opens in its own type; the config is sent whole, an empty optional field left out.
  await card.getByRole('link', {name: 'Edit'}).click();
  await page.getByRole('heading', {name: 'Destination rmq-orders'}).waitFor();
  assert.equal(await page.getByLabel('Type', {exact: true}).inputValue(), 'RABBITMQ');
  assert.equal(await page.getByLabel('Exchange', {exact: true}).inputValue(), 'orders');
  await page.getByLabel('Routing key', {exact: true}).fill('order.created');
  await page.getByLabel(/Persistent messages/).uncheck();
  await page.getByLabel('Most deliveries in flight', {exact: true}).fill('4');
  await page.getByRole('button', {name: 'Save destination'}).click();
  await page.waitForURL(/#\/$/);
  const edited = await destinationNamed('rmq-orders');
  assert.deepEqual(edited.config, {
    url: `amqp://guest:secret@127.0.0.1:${port}/%2f`, exchange: 'orders', routing_key: 'order.created', mandatory: true, persistent: false,
  });
  assert.equal(edited.max_concurrency, 4, 'delivery settings apply to every type');

  // A test message to a broker that is not there: the error in words.
  await page.goto(`${gw.url}/#/destinations/${created.id}`);
  await page.getByRole('button', {name: 'Send test message'}).click();
  const result = page.locator('[data-test-result]');
  await result.waitFor();
  assert.equal(await result.getAttribute('data-test-result'), 'failure');
  const text = await result.textContent();
  assert.match(text, /refused the connection.*\(CONNECTION_REFUSED\)/);
  assert.match(text, new RegExp(`Sent toamqp://\\S*127\\.0\\.0\\.1:${port}/%2f`), 'where it went');
  assert.doesNotMatch(text, /secret/, 'without the credentials');
  await shot(page, 'destination-test-failed');

  assert.deepEqual(errors, []);
});

test('a MOCK_API destination: a connection through the form, a delivered event, a test message', async () => {
  const {page, errors} = br;
  await page.goto(`${gw.url}/#/connections/new`);
  await page.getByRole('heading', {name: 'New connection'}).waitFor();
  await page.getByRole('group', {name: 'Connection', exact: true}).getByLabel('Name', {exact: true}).fill('mock-conn');
  const source = page.getByRole('group', {name: 'Source', exact: true});
  await source.getByLabel('Create a new source').check();
  await source.getByLabel('Name', {exact: true}).fill('mock-src');
  const destination = page.getByRole('group', {name: 'Destination', exact: true});
  // The RabbitMQ destination of the first test is listed with its type and target.
  assert.match(await destination.getByLabel('Destination', {exact: true}).textContent(), /rmq-orders \(RABBITMQ · amqp:\/\/127\.0\.0\.1:\d+\/%2f → orders \(routing key order\.created\)\)/);
  await destination.getByLabel('Create a new destination').check();
  await destination.getByLabel('Name', {exact: true}).fill('mock-dst');
  await destination.getByLabel('Type', {exact: true}).selectOption('MOCK_API');
  await page.getByRole('button', {name: 'Create connection'}).click();
  await page.waitForURL(/#\/$/);

  const mock = await destinationNamed('mock-dst');
  assert.equal(mock.type, 'MOCK_API');
  assert.equal(mock.config, null);
  const card = page.locator('section[data-connection-id]');
  await card.waitFor();
  assert.match(await card.textContent(), /MOCK_API.*accepts and discards every event/);

  // A webhook: the mock takes it, the event is SUCCESSFUL.
  assert.equal(await gw.send('mock-src', {type: 'order.created', amount: 42}), 200);
  await until(async () => (await gw.api('GET', `/events?destination_id=${mock.id}&status=SUCCESSFUL`)).body.count === 1, 15000, 'the delivered event');
  await page.goto(`${gw.url}/#/events?destination_id=${encodeURIComponent(mock.id)}`);
  const row = page.locator('table.list tbody tr[data-id]').first();
  await row.locator('.badge', {hasText: 'SUCCESSFUL'}).waitFor();
  await row.click();
  await page.waitForURL(/#\/events\/evt_/);
  const attempt = page.locator('article.attempt').first();
  await attempt.waitFor();
  assert.match(await attempt.textContent(), /SUCCESSFUL/);
  assert.match(await attempt.textContent(), /accepted and discarded/);

  // Send test message: accepted, with what the mock answered.
  await page.goto(`${gw.url}/#/destinations/${mock.id}`);
  await page.getByRole('heading', {name: 'Destination mock-dst'}).waitFor();
  assert.equal(await page.getByLabel('Type', {exact: true}).inputValue(), 'MOCK_API');
  await page.getByRole('button', {name: 'Send test message'}).click();
  const result = page.locator('[data-test-result]');
  await result.waitFor();
  assert.equal(await result.getAttribute('data-test-result'), 'success');
  assert.match(await result.textContent(), /Accepted: the test message was delivered/);
  assert.match(await result.textContent(), /accepted and discarded/);
  await shot(page, 'destination-test-ok');

  assert.deepEqual(errors, []);
});

// ---------------------------------------------------------------------------
// A real broker, where one is installed: Redis is small enough to start here.

const redisServer = (process.env.PATH || '').split(':').map((d) => join(d, 'redis-server')).find((p) => existsSync(p));

/** One inline command to the Redis at `port`; its first answer line. */
function redisCommand(port, line) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('data', (d) => { resolve(d.toString().trim()); socket.end(); });
    socket.write(`${line}\r\n`);
  });
}

async function startRedis() {
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), 'hookyard-redis-'));
  const child = spawn(redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {stdio: 'ignore'});
  await until(() => redisCommand(port, 'PING').then((a) => a === '+PONG', () => false), 10000, 'redis-server');
  return {
    port,
    command: (line) => redisCommand(port, line),
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, {recursive: true, force: true});
    },
  };
}

test('broker attempts on the event page: accepted and refused (Redis)', {skip: !redisServer && 'redis-server is not installed'}, async () => {
  const {page, errors} = br;
  const redis = await startRedis();
  try {
    // A key that is not a stream: XADD answers WRONGTYPE, a refusal no retry fixes.
    assert.equal(await redis.command('SET not-a-stream x'), '+OK');
    const url = `redis://127.0.0.1:${redis.port}`;
    const noRetry = [{type: 'retry', strategy: 'linear', interval: 60000, count: 0}];
    for (const [name, stream] of [['redis-ok', 'webhooks'], ['redis-bad', 'not-a-stream']]) {
      const c = await gw.api('POST', '/connections', {
        name, source: {name: 'redis-src'}, rules: noRetry,
        destination: {name, type: 'REDIS_STREAM', config: {url, stream}},
      });
      assert.equal(c.status, 200, JSON.stringify(c.body));
    }
    const ok = await destinationNamed('redis-ok');
    const bad = await destinationNamed('redis-bad');
    assert.equal(await gw.send('redis-src', {type: 'order.created'}), 200);
    const eventOf = async (d, status) => {
      const r = await gw.api('GET', `/events?destination_id=${d.id}&status=${status}`);
      return r.body.models[0];
    };
    const delivered = await until(() => eventOf(ok, 'SUCCESSFUL'), 15000, 'the event in the stream');
    const refused = await until(() => eventOf(bad, 'FAILED'), 15000, 'the refused event');
    assert.equal(refused.error_code, 'BROKER_REFUSED');

    // The overview: each destination's type and target.
    await page.goto(`${gw.url}/#/`);
    const redisCard = page.locator(`section[data-connection-id]`, {has: page.getByRole('link', {name: 'redis-ok', exact: true})});
    await redisCard.waitFor();
    assert.equal(await redisCard.locator('[data-target]').textContent(), `${url} → webhooks`);
    assert.match(await redisCard.locator('.node .title').last().textContent(), /REDIS_STREAM/);
    await shot(page, 'overview-destination-types');

    // Accepted: no HTTP status, the broker's answer (the entry's id) as JSON.
    await page.goto(`${gw.url}/#/events/${delivered.id}`);
    const attempt = page.locator('article.attempt').first();
    await attempt.waitFor();
    let text = await attempt.textContent();
    assert.match(text, /Accepted by the broker/);
    assert.doesNotMatch(text, /no response/);
    assert.match(text, new RegExp(`redis://127\\.0\\.0\\.1:${redis.port}#webhooks`));
    await attempt.getByRole('heading', {name: 'The broker\'s answer'}).waitFor();
    assert.match(await attempt.locator('pre.code').textContent(), /"stream": "webhooks"/);
    await shot(page, 'event-broker-accepted');

    // Refused: the code in words.
    await page.goto(`${gw.url}/#/events/${refused.id}`);
    await page.locator('article.attempt').first().waitFor();
    text = await page.locator('article.attempt').first().textContent();
    assert.match(text, /Refused by the broker/);
    assert.match(text, /The broker refused the message .*\(BROKER_REFUSED\)/);
    assert.match(text, /WRONGTYPE/);

    // The events list says "accepted" where there is no status to show.
    await page.goto(`${gw.url}/#/events?destination_id=${encodeURIComponent(ok.id)}`);
    const row = page.locator('table.list tbody tr[data-id]').first();
    await row.locator('.badge', {hasText: 'SUCCESSFUL'}).waitFor();
    assert.match(await row.textContent(), /accepted/);

    // Send test message: the broker's answer for a test too.
    await page.goto(`${gw.url}/#/destinations/${ok.id}`);
    await page.getByRole('button', {name: 'Send test message'}).click();
    const result = page.locator('[data-test-result]');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-test-result'), 'success');
    assert.match(await result.textContent(), /Accepted by the broker/);
    assert.match(await result.textContent(), /"stream": "webhooks"/);
  } finally {
    await redis.stop();
  }
  assert.deepEqual(errors, []);
});
