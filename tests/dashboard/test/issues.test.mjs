// Issues, issue triggers, transformations and metrics pages, against a real
// gateway whose destination answers 500: an issue opens, is looked at and
// acknowledged; a component is uploaded (after a refused non-component), run on
// a stored request and its execution listed; the metrics count what was sent.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync} from 'node:fs';
import {join} from 'node:path';
import {startGateway, startReceiver, openBrowser, signIn, shot, until, repo} from './harness.mjs';

const WASM = join(repo, 'target', 'wasm32-wasip2', 'release', 'examples', 'strip_fields.wasm');
const SOURCE = 'dash-issues';

let gw;
let rx;
let br;
let page;
let connection;

before(async () => {
  gw = await startGateway();
  rx = await startReceiver();
  rx.setStatus(500);
  // No retries: each event fails on its first attempt, which opens the issue at once.
  const r = await gw.api('POST', '/connections', {
    name: 'issues-conn',
    source: {name: SOURCE},
    destination: {name: 'failing-dest', url: rx.url},
    rules: [{type: 'retry', strategy: 'linear', count: 0, interval: 1000}],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  connection = r.body;
  for (let i = 0; i < 3; i++) {
    assert.equal(await gw.send(SOURCE, {order: i, customer: {name: 'Ada', password: 'hunter2'}}), 200);
  }
  br = await openBrowser();
  page = br.page;
  await signIn(page, gw);
});

after(async () => {
  await br?.close();
  await rx?.close();
  await gw?.stop();
});

/**
 * Errors the page reported, less the console lines Chromium prints for API
 * answers the test provokes on purpose (a refused upload, a field error).
 */
function unexpectedErrors(expectedStatuses = []) {
  return br.errors.filter((e) => !expectedStatuses.some((s) => e.includes(`Failed to load resource: the server responded with a status of ${s}`)));
}

test('an issue opens, shows its events and sample attempt, and is acknowledged', async () => {
  const issue = await until(async () => {
    const r = await gw.api('GET', '/issues?status=OPENED');
    return r.body.models?.find((i) => i.aggregation_keys.webhook_id?.[0] === connection.id);
  }, 20000, 'an OPENED issue on the connection');
  const events = await until(async () => {
    const r = await gw.api('GET', `/events?issue_id=${issue.id}`);
    return r.body.models?.length ? r.body.models : null;
  }, 10000, 'events of the issue');

  await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Issues', exact: true}).click();
  const row = page.locator('table.list tbody tr', {hasText: 'Delivery issue'});
  await row.first().waitFor();
  assert.match(await row.first().innerText(), /issues-conn/);
  assert.match(await row.first().innerText(), /500/);
  await shot(page, 'issues');

  await row.first().getByRole('link', {name: 'Delivery issue'}).click();
  await page.getByRole('heading', {name: 'Delivery issue'}).waitFor();
  await page.getByRole('link', {name: events[0].id}).first().waitFor();
  // The sample attempt: what the destination answered.
  const sample = page.locator('.sample-attempt');
  await sample.waitFor();
  assert.match(await sample.innerText(), /500/);
  assert.match(await sample.locator('pre.response-body').innerText(), /"status": 500/);
  await shot(page, 'issue-detail');

  await page.getByRole('button', {name: 'Acknowledge'}).click();
  await page.getByText('the issue is now').waitFor();
  assert.match(await page.locator('.notice.ok').innerText(), /ACKNOWLEDGED/);
  const after = await gw.api('GET', `/issues/${issue.id}`);
  assert.equal(after.body.status, 'ACKNOWLEDGED');
  // The list's Acknowledged tab has it.
  await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Issues', exact: true}).click();
  await page.getByRole('tab', {name: 'Acknowledged'}).click();
  await page.locator('table.list tbody tr', {hasText: 'Delivery issue'}).first().waitFor();
  assert.deepEqual(unexpectedErrors(), []);
});

test('issue triggers: a bad channel is refused at its field, a good one is listed and disabled', async () => {
  await page.goto(`${gw.url}/#/issues/triggers/new`);
  await page.getByLabel('Name', {exact: true}).fill('dash-oncall');
  await page.getByRole('checkbox', {name: 'Webhook'}).check();
  await page.locator('#ch-webhook-url').fill('not a url');
  await page.getByRole('button', {name: 'Create trigger'}).click();
  const err = page.locator('.field.invalid .field-error');
  await err.waitFor();
  assert.match(await err.innerText(), /channels\.webhook\.url/);
  assert.equal(await page.locator('.field.invalid #ch-webhook-url').count(), 1);

  await page.locator('#ch-webhook-url').fill('https://hooks.example.com/alerts');
  await page.getByRole('button', {name: 'Create trigger'}).click();
  await page.getByRole('heading', {name: 'Trigger dash-oncall'}).waitFor();
  await page.goto(`${gw.url}/#/issues/triggers`);
  const row = page.locator('table.list tbody tr', {hasText: 'dash-oncall'});
  await row.waitFor();
  assert.match(await row.innerText(), /hooks\.example\.com/);
  await row.getByRole('button', {name: 'Disable'}).click();
  await page.locator('table.list tbody tr', {hasText: 'dash-oncall'}).getByText('disabled').waitFor();
  const list = await gw.api('GET', '/issue-triggers?name=dash-oncall');
  assert.ok(list.body.models[0].disabled_at, 'the trigger is disabled in the API');
  assert.deepEqual(unexpectedErrors([422]), []);
});

test('a transformation is uploaded, run on a stored request, and its execution listed', async () => {
  assert.ok(existsSync(WASM), `${WASM} is missing: run scripts/setup-wasm.sh`);
  // The newest request is the one the run console selects first.
  assert.equal(await gw.send(SOURCE, {name: 'Grace', password: 'swordfish', plan: 'pro'}), 200);

  await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Transformations'}).click();
  await page.getByRole('link', {name: 'New transformation'}).click();
  await page.getByLabel('Name', {exact: true}).fill('strip-fields');
  // Not a component: the API refuses it, and the message sits at the file field.
  await page.locator('#tf-code').setInputFiles({name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just some text')});
  await page.getByRole('button', {name: 'Create transformation'}).click();
  const err = page.locator('.field.invalid .field-error');
  await err.waitFor();
  assert.match(await err.innerText(), /not a WebAssembly binary/);
  assert.equal(await page.locator('.field.invalid #tf-code').count(), 1);

  await page.locator('#tf-code').setInputFiles(WASM);
  await page.getByRole('button', {name: 'Add variable'}).click();
  await page.getByLabel('Variable name').fill('FIELDS');
  await page.getByLabel('Value', {exact: true}).fill('password');
  await page.getByRole('button', {name: 'Create transformation'}).click();
  await page.getByRole('heading', {name: 'strip-fields'}).waitFor();
  await page.getByText('Transformation created.').waitFor();
  const stored = (await gw.api('GET', '/transformations?name=strip-fields')).body.models[0];
  assert.ok(stored.module_hash.startsWith('sha256:'));
  assert.equal(stored.env.FIELDS, 'password');
  await page.locator('#run-request option', {hasText: 'POST'}).first().waitFor({state: 'attached'});
  await shot(page, 'transformation');

  await page.getByRole('button', {name: 'Run', exact: true}).click();
  const result = page.locator('.run-result');
  await result.waitFor();
  const output = await result.locator('pre.run-output-body').innerText();
  assert.match(output, /Grace/);
  assert.doesNotMatch(output, /swordfish/);
  assert.match(await result.locator('.run-duration').innerText(), /\d+(\.\d+)? (ms|s)$/);
  assert.match(await result.locator('pre.diff .del').allInnerTexts().then((t) => t.join('\n')), /password/);
  assert.match(await result.locator('pre.logs').innerText(), /stripped password/);
  await shot(page, 'transformation-run');

  // The run is kept as an execution, listed under the console.
  const execRow = page.locator('table.list tbody tr', {hasText: /request req_/});
  await execRow.first().waitFor();
  assert.match(await execRow.first().innerText(), /ok/);
  const execs = await gw.api('GET', `/transformations/${stored.id}/executions`);
  assert.ok(execs.body.models.length >= 1, 'an execution is stored');

  // In use by a connection: deleting is refused, and the page says by which.
  const user = await gw.api('POST', '/connections', {
    name: 'tf-user', source: {name: 'dash-tf'}, destination: {name: 'tf-dest', url: rx.url},
    rules: [{type: 'transform', transformation_id: stored.id}],
  });
  assert.equal(user.status, 200, JSON.stringify(user.body));
  await page.getByRole('button', {name: 'Delete', exact: true}).click();
  await page.getByRole('button', {name: 'Delete transformation'}).click();
  const refused = page.locator('.notice.error');
  await refused.waitFor();
  assert.match(await refused.innerText(), /422: .*tf-user/);
  assert.equal((await gw.api('GET', `/transformations/${stored.id}`)).status, 200, 'still there');
  assert.deepEqual(unexpectedErrors([422]), []);
});

test('metrics count the requests sent, the failures and the latency of a delivery', async () => {
  // One delivery that succeeds, so the latency chart has a point.
  rx.setStatus(200);
  assert.equal(await gw.send(SOURCE, {name: 'Linus', note: 'this one is delivered'}), 200);
  const sent = (await gw.api('GET', '/requests?limit=250')).body.models.length;
  // Outcomes are counted as attempts finish: wait until the API counts every event.
  const totals = await until(async () => {
    const end = new Date();
    const start = new Date(end.getTime() - 3600e3);
    const r = await gw.api('GET', `/metrics/events?start=${start.toISOString()}&end=${end.toISOString()}&granularity=minute`);
    if (r.status !== 200) return null;
    const sum = (k) => r.body.buckets.reduce((n, b) => n + b[k], 0);
    const t = {requests: sum('requests'), successful: sum('successful'), failed: sum('failed')};
    return t.successful + t.failed === sent ? t : null;
  }, 20000, 'the metrics to count every event');
  assert.equal(totals.requests, sent);
  assert.equal(totals.successful, 1);

  await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Metrics'}).click();
  const stat = async (key) => Number((await page.locator(`[data-metric=${key}] .stat`).innerText()).replace(/\D/g, ''));
  await page.locator('[data-metric=received] .stat').waitFor();
  assert.equal(await stat('received'), sent, 'requests received');
  assert.equal(await stat('delivered'), 1, 'delivered');
  assert.equal(await stat('failed'), totals.failed, 'failed');
  const failureRate = `${((100 * totals.failed) / sent).toFixed(1)} %`;
  assert.equal(await page.locator('[data-metric=failure-rate] .stat').innerText(), failureRate);
  // The per-minute table under the chart carries the same numbers.
  const rows = await page.locator('details.numbers').first().locator('tbody tr').allInnerTexts();
  const column = (i) => rows.map((r) => Number(r.split('\t')[i]?.replace(/\D/g, '') || 0)).reduce((a, b) => a + b, 0);
  assert.equal(column(1), sent, 'requests in the table');
  assert.equal(column(3), 1, 'delivered in the table');
  assert.equal(column(4), totals.failed, 'failed in the table');
  // Both charts are drawn; the latency one names the destination and its table has an average.
  assert.equal(await page.locator('svg.chart').count(), 2);
  assert.match(await page.locator('.legend').nth(1).innerText(), /failing-dest/);
  const dest = page.locator('table.list tbody tr', {hasText: 'failing-dest'}).first();
  assert.match(await dest.innerText(), /\d+(\.\d+)? (ms|s)/);
  await shot(page, 'metrics');
  assert.deepEqual(unexpectedErrors([422]), []);
});
