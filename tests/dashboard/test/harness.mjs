// A real `hookyard serve` (SQLite in a temporary directory, port picked here) and
// Debian's Chromium driven by playwright-core: what the dashboard tests share.

import {spawn} from 'node:child_process';
import {mkdtempSync, mkdirSync, rmSync, existsSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, dirname, resolve} from 'node:path';
import {createServer} from 'node:http';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../../..');
/** Screenshots land here (kept by the test script as artefacts). */
export const shotsDir = process.env.DASHBOARD_SHOTS || join(repo, 'target', 'dashboard-screenshots');

export function binary() {
  const b = process.env.HOOKYARD_BIN || join(repo, 'target', 'debug', 'hookyard');
  if (!existsSync(b)) throw new Error(`no hookyard binary at ${b}: build it (cargo build -p hookyard) or set HOOKYARD_BIN`);
  return b;
}

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const {port} = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * Starts `hookyard serve`; returns {url, apiKey, api(method, path, body), send(source, body, headers), stop()}.
 * `api` calls the REST API with the key and returns {status, body}.
 */
export async function startGateway({env = {}} = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'hookyard-dash-'));
  const port = await freePort();
  const apiKey = 'dash-test-key-' + Math.random().toString(36).slice(2);
  // The gateway refuses HOOKYARD_* variables it does not know (HOOKYARD_BIN is
  // ours), and a developer's own settings must not change the test's gateway.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOOKYARD_')));
  const child = spawn(binary(), ['serve'], {
    env: {
      ...inherited,
      HOOKYARD_LISTEN: `127.0.0.1:${port}`,
      HOOKYARD_DATA_DIR: dataDir,
      HOOKYARD_API_KEY: apiKey,
      HOOKYARD_DELIVERY__POLL_INTERVAL_MS: '100',
      RUST_LOG: process.env.RUST_LOG || 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hookyard serve exited: ${log}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`hookyard serve did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = async (method, path, body) => {
    const r = await fetch(`${url}/2024-09-01${path}`, {
      method,
      headers: {Authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : {'Content-Type': 'application/json'})},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return {status: r.status, body: parsed};
  };
  const send = async (source, body, headers = {}) => {
    const r = await fetch(`${url}/e/${source}`, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', ...headers},
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    return r.status;
  };
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dataDir, {recursive: true, force: true});
  };
  return {url, apiKey, api, send, stop, log: () => log};
}

/** A local HTTP endpoint that answers `status()` and records what it got. */
export async function startReceiver() {
  const received = [];
  let status = 200;
  const srv = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString()});
      res.writeHead(status, {'Content-Type': 'application/json'});
      res.end(JSON.stringify({ok: status < 300, status}));
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    received,
    setStatus: (s) => { status = s; },
    close: () => new Promise((r) => srv.close(r)),
  };
}

/** Chromium (Debian's) with a fresh context; `errors` collects page errors and CSP reports. */
export async function openBrowser({width = 1280, height = 860} = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({viewport: {width, height}, timezoneId: 'Europe/Paris'});
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  // The browser logs every 4xx/5xx answer as a console error; the flows provoke
  // some on purpose (a refused form), and the page shows them. Script errors and
  // CSP violations are what count.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss(); });
  return {browser, context, page, errors, close: () => browser.close()};
}

/** Opens the dashboard and signs in with the API key through the form. */
export async function signIn(page, gw) {
  await page.goto(gw.url + '/');
  await page.getByLabel('API key').fill(gw.apiKey);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByRole('navigation', {name: 'Main'}).waitFor();
}

export async function shot(page, name) {
  mkdirSync(shotsDir, {recursive: true});
  await page.screenshot({path: join(shotsDir, `${name}.png`), fullPage: true});
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function until(fn, ms = 10000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
