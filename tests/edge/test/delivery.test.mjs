// End to end with the real Worker in workerd and a real `hookyard serve`:
// provider → Worker → Queue → consumer → signed batch → delivery → test receiver.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { eventually, freePort, hookyard, receiver, startWorker } from "./harness.mjs";

let gw, rx, dataDir;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "hookyard-edge-data-"));
  gw = hookyard({ port: await freePort(), dataDir });
  await gw.start();
  rx = await receiver();
  await gw.api("POST", "/connections", {
    name: "gh-to-rx",
    source: { name: "gh", verification: { type: "github", configs: { webhook_secret_key: "gh-secret" } } },
    destination: { name: "rx", url: rx.url },
  });
  await gw.api("POST", "/connections", {
    name: "plain-to-rx",
    source: { name: "plain" },
    destination: { name: "rx2", url: rx.url },
  });
});
after(async () => {
  await gw?.stop();
  await rx?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function requestsOf(sourceName) {
  const src = await gw.api("GET", `/sources?name=${sourceName}`);
  const id = src.models[0].id;
  const page = await gw.api("GET", `/requests?source_id=${id}&limit=250`);
  return page.models;
}

test("a signed webhook goes through the Worker, the queue and delivery to the receiver; large binary bodies via R2", async () => {
  // The Worker's configuration is what `hookyard edge config` prints.
  const sources = await gw.edgeConfig();
  assert.equal(sources.sources.gh.verification.type, "github");
  const worker = await startWorker({ sources, deliveryUrl: gw.base });
  try {
    const body = JSON.stringify({ action: "opened", n: 1 });
    const res = await fetch(`${worker.url}/e/gh/hooks?x=1`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "x-hub-signature-256": await octokitSign("gh-secret", body) },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const { request_id } = await res.json();

    const unsigned = await fetch(`${worker.url}/e/gh`, { method: "POST", body });
    assert.equal(unsigned.status, 401);

    // 300 KB of bytes that are not UTF-8: too big for a queue message.
    const big = crypto.randomBytes(300 * 1024);
    const bigRes = await fetch(`${worker.url}/e/plain/blob`, { method: "POST", body: big, headers: { "content-type": "application/octet-stream" } });
    assert.equal(bigRes.status, 200, await bigRes.clone().text());

    await eventually(() => rx.got.length >= 2, "both webhooks at the receiver");
    const small = rx.got.find((r) => r.url === "/hooks?x=1");
    assert.ok(small, `paths seen: ${rx.got.map((r) => r.url)}`);
    assert.equal(small.body.toString(), body);
    const blob = rx.got.find((r) => r.url === "/blob");
    assert.ok(blob && Buffer.compare(blob.body, big) === 0, "the large body arrives byte-exact");

    const stored = await requestsOf("gh");
    assert.deepEqual(stored.map((r) => r.id), [request_id], "stored under the id the Worker answered, once");
    assert.equal(stored[0].verified, true);
  } finally {
    await worker.close();
  }
});

test("delivery down, then up: every accepted webhook is stored exactly once", async () => {
  const sources = await gw.edgeConfig();
  const worker = await startWorker({ sources, deliveryUrl: gw.base });
  try {
    await gw.stop();
    const ids = [];
    for (let i = 0; i < 15; i++) {
      const body = JSON.stringify({ outage: i });
      const res = await fetch(`${worker.url}/e/gh`, {
        method: "POST",
        body,
        headers: { "x-hub-signature-256": await octokitSign("gh-secret", body) },
      });
      assert.equal(res.status, 200, await res.clone().text());
      ids.push((await res.json()).request_id);
    }
    // Let the consumer fail against the stopped gateway and schedule retries.
    await new Promise((r) => setTimeout(r, 4000));
    await gw.start();
    await eventually(async () => {
      const got = (await requestsOf("gh")).map((r) => r.id);
      return ids.every((id) => got.includes(id));
    }, "all accepted webhooks stored", 90_000);
    // Retries in flight may repeat a batch: still one row per webhook.
    await new Promise((r) => setTimeout(r, 3000));
    const got = (await requestsOf("gh")).map((r) => r.id).filter((id) => ids.includes(id));
    assert.equal(got.length, ids.length);
    assert.equal(new Set(got).size, ids.length);
    await eventually(() => ids.length + 2 <= rx.got.length, "all delivered to the receiver", 90_000);
  } finally {
    await worker.close();
  }
});
