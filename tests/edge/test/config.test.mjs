// The Worker's configuration follows delivery's database: no HOOKYARD_SOURCES secret,
// the Worker fetches a signed, versioned configuration from `hookyard serve`'s
// /edge/config, honours API changes within CONFIG_REFRESH_SECONDS, and keeps
// accepting with its last good copy (memory, then R2) while delivery is down.
// Delivery serves an encoded configuration for up to a second (MEMO_SECONDS), so a
// change reaches the edge within CONFIG_REFRESH_SECONDS + 1 s.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { eventually, freePort, hookyard, startWorker } from "./harness.mjs";

const REFRESH_SECONDS = 2;
const MEMO_SECONDS = 1;
const SOURCES = 200;
const name = (i) => `src-${String(i).padStart(3, "0")}`;

let gw, dataDir, worker;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "hookyard-edge-config-"));
  gw = hookyard({ port: await freePort(), dataDir });
  await gw.start();
  for (let i = 0; i < SOURCES; i++) {
    await gw.api("POST", "/sources", {
      name: name(i),
      verification: { type: "github", configs: { webhook_secret_key: `secret-${i}` } },
    });
  }
  worker = await startWorker({ deliveryUrl: gw.base, vars: { CONFIG_REFRESH_SECONDS: String(REFRESH_SECONDS) } });
});
after(async () => {
  await worker?.close();
  await gw?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function send(source, secret, body = JSON.stringify({ at: Date.now(), source })) {
  const headers = { "content-type": "application/json" };
  if (secret) headers["x-hub-signature-256"] = await octokitSign(secret, body);
  const res = await fetch(`${worker.url}/e/${source}`, { method: "POST", body, headers });
  const text = await res.text();
  return { status: res.status, text, id: res.headers.get("x-hookyard-request-id") };
}

async function storedIds(source) {
  const src = await gw.api("GET", `/sources?name=${source}`);
  const page = await gw.api("GET", `/requests?source_id=${src.models[0].id}&limit=250`);
  return page.models.map((r) => r.id);
}

test("200 sources with verification reach the Worker from the API, with no manual step", async () => {
  const accepted = [];
  for (const i of [0, 1, 99, 150, 199]) {
    const ok = await send(name(i), `secret-${i}`);
    assert.equal(ok.status, 200, ok.text);
    accepted.push([name(i), ok.id]);
    const forged = await send(name(i), `secret-${i + 1}`);
    assert.equal(forged.status, 401, forged.text);
  }
  const unknown = await send("nobody", "x");
  assert.equal(unknown.status, 404, unknown.text);
  for (const [source, id] of accepted) {
    await eventually(async () => (await storedIds(source)).includes(id), `${id} stored for ${source}`);
  }
});

test("a source added, a secret rotated, a source disabled through the API reach the Worker within the refresh time", async () => {
  // Warm: the Worker holds the current configuration.
  assert.equal((await send(name(5), "secret-5")).status, 200);

  // An early refresh happens at most once a second per isolate.
  const pause = () => new Promise((r) => setTimeout(r, 1100));
  await pause();
  // A new source: the first webhook for it is answered 200 (an unknown name asks delivery at once).
  await gw.api("POST", "/sources", { name: "late", verification: { type: "github", configs: { webhook_secret_key: "late-secret" } } });
  const late = await send("late", "late-secret");
  assert.equal(late.status, 200, late.text);

  // A rotated secret: the new one is accepted at once, the old one refused within the refresh time.
  const src = (await gw.api("GET", `/sources?name=${name(7)}`)).models[0];
  await gw.api("PUT", `/sources/${src.id}`, { verification: { type: "github", configs: { webhook_secret_key: "rotated-7" } } });
  const t0 = Date.now();
  await pause();
  const rotated = await send(name(7), "rotated-7");
  assert.equal(rotated.status, 200, rotated.text);
  await eventually(async () => (await send(name(7), "secret-7")).status === 401, "the old secret refused", (REFRESH_SECONDS + MEMO_SECONDS + 3) * 1000);

  // Disabled: answered with the disabled status within the refresh time.
  const t1 = Date.now();
  await gw.api("PUT", `/sources/${src.id}/disable`);
  await eventually(async () => (await send(name(7), "rotated-7")).status === 403, "the disabled source refused", (REFRESH_SECONDS + MEMO_SECONDS + 3) * 1000);
  const disabledAfter = Date.now() - t1;
  console.log(`rotation honoured after ${Date.now() - t0} ms, disabling after ${disabledAfter} ms (refresh ${REFRESH_SECONDS} s)`);
  // The stated time, plus the test's own polling (every 250 ms, each poll a webhook)
  // and a loaded machine's latency.
  assert.ok(disabledAfter <= (REFRESH_SECONDS + MEMO_SECONDS + 1.5) * 1000, `disabling took ${disabledAfter} ms`);
  await gw.api("PUT", `/sources/${src.id}/enable`);
});

test("delivery stopped: the Worker keeps accepting with its copy, in memory and, after a reload, from R2", async () => {
  assert.equal((await send(name(3), "secret-3")).status, 200);

  // Outage 1: the isolate's copy. Past the refresh time the Worker asks, gets no
  // answer, and keeps the copy it has.
  await gw.stop();
  const ids = [];
  try {
    await new Promise((r) => setTimeout(r, (REFRESH_SECONDS + 1) * 1000));
    for (let i = 0; i < 5; i++) {
      const r = await send(name(3), "secret-3");
      assert.equal(r.status, 200, r.text);
      ids.push(r.id);
    }
    assert.equal((await send(name(3), "wrong")).status, 401);
  } finally {
    await gw.start();
  }
  await eventually(async () => {
    const got = await storedIds(name(3));
    return ids.every((id) => got.includes(id));
  }, "every webhook accepted during the first outage stored", 90_000);

  // Outage 2: a reloaded Worker (a new isolate, nothing in memory) starts while
  // delivery is down and admits with the copy kept in R2. (A reload restarts the
  // local queue simulation too, so it happens only once the first outage's
  // webhooks are stored; Cloudflare's queues are durable.)
  await gw.stop();
  let late;
  try {
    worker.server.clearLogs();
    await worker.server.update((o) => o);
    late = await send(name(4), "secret-4");
    assert.equal(late.status, 200, late.text);
    assert.equal((await send(name(4), "secret-3")).status, 401, "verified with the kept secrets");
    assert.ok(
      worker.server.getLogs().some((l) => JSON.stringify(l).includes("using the configuration kept in R2")),
      "the reloaded Worker used the configuration kept in R2",
    );
  } finally {
    await gw.start();
  }
  await eventually(async () => (await storedIds(name(4))).includes(late.id), "the webhook accepted by the reloaded Worker stored", 90_000);
});

test("the configuration is refused to an unsigned or wrongly signed request", async () => {
  const unsigned = await fetch(`${gw.base}/edge/config`);
  assert.equal(unsigned.status, 401);
  const text = await unsigned.text();
  assert.ok(!text.includes("secret-1"), text);
});
