// Nothing the edge answered 200 to is dropped: with the queues' retries lowered and
// delivery down past the dead-letter queue's, every webhook is parked in R2 (and an
// alert is sent), none is lost, and all are stored once delivery is back. And a batch
// of large bodies is pushed in parts that fit delivery's batch limit.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, freePort, hookyard, receiver, startWorker, switchableFront } from "./harness.mjs";

const lowRetries = (t) =>
  t
    .replace(/max_retries = 100\ndead_letter_queue/, "max_retries = 1\ndead_letter_queue")
    .replace(/(queue = "hookyard-ingest-dlq"\n(?:.*\n)*?)max_retries = 100/, "$1max_retries = 1").replace(/\[triggers\]\ncrons = .*\n/, "");

let gw, dataDir;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "hookyard-edge-parking-"));
  gw = hookyard({
    port: await freePort(),
    dataDir,
    // A small batch limit, so a consumer batch of large bodies must be split.
    env: { HOOKYARD_INGEST__MAX_BODY_BYTES: String(2 << 20), HOOKYARD_EDGE__MAX_BATCH_BYTES: String(4 << 20) },
  });
  await gw.start();
  await gw.api("POST", "/sources", { name: "plain" });
});
after(async () => {
  await gw?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function storedIds() {
  const src = await gw.api("GET", `/sources?name=plain`);
  const page = await gw.api("GET", `/requests?source_id=${src.models[0].id}&limit=250`);
  return page.models.map((r) => r.id);
}

async function parkedKeys(worker) {
  const env = await worker.server.getWorker().getEnv();
  const listed = await env.BODIES.list({ prefix: "parked/" });
  return listed.objects.map((o) => o.key);
}

test("delivery down past the dead-letter queue's retries: every webhook parked, alerted, none dropped, all stored when delivery is back", async () => {
  const alerts = await receiver();
  const front = await switchableFront(gw.base);
  const worker = await startWorker({
    deliveryUrl: front.url,
    edits: lowRetries,
    vars: { ALERT_WEBHOOK_URL: alerts.url, CONFIG_REFRESH_SECONDS: "1" },
  });
  try {
    // The Worker learns the configuration while delivery is up.
    const warm = await fetch(`${worker.url}/e/plain`, { method: "POST", body: "warm" });
    assert.equal(warm.status, 200);
    await eventually(async () => (await storedIds()).length === 1, "the warm-up webhook stored");

    front.down = true;
    const sent = new Map();
    for (let i = 0; i < 12; i++) {
      // Every third one is too large for a queue message and waits in R2.
      const body = i % 3 === 0 ? crypto.randomBytes(200 * 1024) : Buffer.from(JSON.stringify({ outage: i }));
      const res = await fetch(`${worker.url}/e/plain/p${i}`, { method: "POST", body });
      assert.equal(res.status, 200, await res.clone().text());
      sent.set((await res.json()).request_id, body);
    }
    await eventually(async () => (await parkedKeys(worker)).length === sent.size, "all 12 webhooks parked", 120_000);
    const keys = await parkedKeys(worker);
    assert.deepEqual(new Set(keys), new Set([...sent.keys()].map((id) => `parked/${id}`)));
    // One alert however many runs parked (at most one per PARKING_ALERT_INTERVAL_SECONDS).
    await eventually(() => alerts.got.length >= 1, "the parking alert", 10_000);
    assert.equal(alerts.got.length, 1, "one alert per interval");
    const alert = JSON.parse(alerts.got[0].body.toString());
    assert.match(alert.text, /parked in R2/);
    assert.equal(alert.event, "edge.parked");
    assert.ok(alert.count >= 1 && alert.request_ids.every((id) => sent.has(id)), JSON.stringify(alert));

    // Long past both queues' retries, nothing has gone.
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal((await parkedKeys(worker)).length, sent.size);

    front.down = false;
    // The cron trigger (every minute when deployed) pushes parked webhooks again.
    await worker.server.getWorker().scheduled({ cron: "* * * * *", scheduledTime: new Date() });
    await eventually(async () => {
      const got = await storedIds();
      return [...sent.keys()].every((id) => got.includes(id));
    }, "every parked webhook stored", 60_000);
    assert.deepEqual(await parkedKeys(worker), [], "stored webhooks are no longer parked");
    for (const [id, body] of sent) {
      const full = await gw.api("GET", `/requests/${id}`);
      assert.equal(full.data.headers["x-hookyard-dead-lettered"], "true");
      const raw = await gw.api("GET", `/requests/${id}/raw_body`);
      const stored = Buffer.from(raw.body, raw.encoding === "base64" ? "base64" : "utf8");
      assert.equal(Buffer.compare(stored, body), 0, `${id} stored byte-exact`);
    }
  } finally {
    await worker.close();
    await alerts.close();
    await front.close();
  }
});

test("a consumer batch of large bodies is pushed in parts that fit delivery's batch limit, and all are stored", async () => {
  const rx = await receiver();
  await gw.api("POST", "/connections", { name: "big-to-rx", source: { name: "plain" }, destination: { name: "rx", url: rx.url } });
  const front = await switchableFront(gw.base);
  const worker = await startWorker({ deliveryUrl: front.url });
  try {
    const sent = [];
    // 10 × 1.5 MiB: about 20 MiB of base64 in one consumer batch, delivery reads 4 MiB at most.
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const body = crypto.randomBytes(1536 * 1024);
        const res = await fetch(`${worker.url}/e/plain/big${i}`, { method: "POST", body });
        assert.equal(res.status, 200, await res.clone().text());
        sent.push({ path: `/big${i}`, body });
      }),
    );
    await eventually(() => sent.every((s) => rx.got.some((g) => g.url === s.path)), "all 10 large webhooks delivered", 120_000);
    for (const s of sent) {
      const got = rx.got.find((g) => g.url === s.path);
      assert.equal(Buffer.compare(got.body, s.body), 0, `${s.path} byte-exact`);
    }
    const pushes = front.seen.filter((r) => r.url === "/edge/batch");
    console.log(`pushes: ${pushes.map((p) => (p.bytes / 2 ** 20).toFixed(2) + " MiB").join(", ")}`);
    assert.ok(pushes.length >= 5, `${pushes.length} pushes for 10 bodies of 1.5 MiB under a 4 MiB limit`);
    assert.ok(pushes.every((p) => p.bytes <= 4 << 20), "every push fits delivery's limit");
    assert.ok(!worker.server.getLogs().some((l) => JSON.stringify(l).includes("413")), "no batch was refused as too large");
  } finally {
    await worker.close();
    await rx.close();
    await front.close();
  }
});
