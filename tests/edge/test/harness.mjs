// Shared set-up for the edge tests: the real Worker in workerd (wrangler's test
// harness over the prebuilt bundle from scripts/setup-edge.sh), a real
// `hookyard serve`, and a test receiver. Everything listens on 127.0.0.1.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestHarness } from "wrangler";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const prebuilt = join(root, "tests/edge/.worker");
// Cargo's target directory: CARGO_TARGET_DIR when set (relative to the repository
// root, where scripts/test-all.sh runs cargo), else ./target.
export const hookyardBin = join(resolve(root, process.env.CARGO_TARGET_DIR || "target"), "debug/hookyard");
export const BATCH_SECRET = "edge-batch-secret-for-tests";
export const API_KEY = "edge-test-key";

function need(what, path) {
  if (!existsSync(path)) throw new Error(`missing ${what}: ${path}`);
}
need("the prebuilt Worker (scripts/setup-edge.sh)", prebuilt);

/**
 * The Worker with the repo's wrangler.toml; `edits` rewrites the config text (e.g. max_retries).
 * With `sources` the configuration is pinned (the HOOKYARD_SOURCES secret); without, the
 * Worker fetches it from delivery's /edge/config.
 */
export async function startWorker({ sources, deliveryUrl, vars = {}, edits = (t) => t }) {
  let configPath = join(root, "wrangler.toml");
  const tmp = mkdtempSync(join(tmpdir(), "hookyard-edge-"));
  const text = edits(readFileSync(configPath, "utf8"));
  // The prebuilt bundle is used as is; the copy only changes queue settings.
  const copy = join(tmp, "wrangler.toml");
  writeFileSync(copy, text.replace(/^main = ".*"$/m, `main = "${join(root, "edge-ingest/build/worker/shim.mjs")}"`));
  configPath = copy;
  const server = createTestHarness({
    root,
    workers: [{
      configPath,
      prebuiltWorkerDir: prebuilt,
      vars: { DELIVERY_URL: deliveryUrl ?? "http://127.0.0.1:9", RETRY_MIN_SECONDS: "1", RETRY_MAX_SECONDS: "2", ...vars },
      secrets: sources === undefined ? { BATCH_SECRET } : { HOOKYARD_SOURCES: JSON.stringify(sources), BATCH_SECRET },
    }],
  });
  const { url } = await server.listen();
  return { server, url: url.toString().replace(/\/$/, ""), close: async () => { await server.close(); rmSync(tmp, { recursive: true, force: true }); } };
}

export async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** `hookyard serve` on a fixed port and data directory (so it can be stopped and started again). */
export function hookyard({ port, dataDir, env = {} }) {
  need("the hookyard debug binary (cargo build)", hookyardBin);
  let child;
  const base = `http://127.0.0.1:${port}`;
  const start = async () => {
    child = spawn(hookyardBin, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], {
      env: { ...process.env, HOOKYARD_API_KEY: API_KEY, HOOKYARD_EDGE__BATCH_SECRET: BATCH_SECRET, RUST_LOG: "warn", ...env },
      stdio: ["ignore", "ignore", "inherit"],
    });
    await eventually(async () => (await fetch(`${base}/healthz`)).ok, "hookyard to start");
  };
  const stop = async () => {
    if (!child) return;
    const done = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await done;
    child = undefined;
  };
  const api = async (method, path, body) => {
    const res = await fetch(`${base}/2024-09-01${path}`, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  /** The Worker's configuration, exactly as an operator makes it. */
  const edgeConfig = async () => {
    const out = await new Promise((resolveOut, reject) => {
      const c = spawn(hookyardBin, ["edge", "config", "--data-dir", dataDir], { stdio: ["ignore", "pipe", "inherit"] });
      let text = "";
      c.stdout.on("data", (d) => (text += d));
      c.on("exit", (code) => (code === 0 ? resolveOut(text) : reject(new Error(`hookyard edge config exited ${code}`))));
    });
    return JSON.parse(out);
  };
  return { base, start, stop, api, edgeConfig };
}

/** A receiver that records every request. */
export async function receiver() {
  const got = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { got, url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

export async function eventually(check, what, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/**
 * A front for delivery that records what passes and can be switched "down": it then drains each request and
 * answers 503, as an overloaded or failing delivery behind a load balancer does.
 * (Stopping `hookyard serve` instead makes miniflare's local fetch fail without
 * reading a large request body, which leaves the consumer's invocation pending; a
 * deployed Worker's fetch to an unreachable origin fails at once.)
 */
export async function switchableFront(targetBase) {
  const state = { down: false };
  const seen = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      seen.push({ method: req.method, url: req.url, bytes: chunks.reduce((n, c) => n + c.length, 0) });
      if (state.down) {
        res.writeHead(503, { "content-type": "application/json" }).end('{"message":"down for the test"}');
        return;
      }
      try {
        const headers = { ...req.headers };
        delete headers.host;
        delete headers["content-length"];
        const upstream = await fetch(targetBase + req.url, {
          method: req.method,
          headers,
          body: ["GET", "HEAD"].includes(req.method) ? undefined : Buffer.concat(chunks),
        });
        const out = {};
        upstream.headers.forEach((v, k) => {
          if (!["content-length", "transfer-encoding", "connection", "content-encoding"].includes(k)) out[k] = v;
        });
        res.writeHead(upstream.status, out).end(Buffer.from(await upstream.arrayBuffer()));
      } catch (e) {
        res.writeHead(502).end(String(e));
      }
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    set down(v) { state.down = v; },
    /** Every request it received: method, url, body size. */
    seen,
    close: () => new Promise((r) => server.close(r)),
  };
}
