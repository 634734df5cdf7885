// Time per webhook in the real Worker (workerd via wrangler's test harness): a
// 2 KB JSON body with GitHub HMAC verification and a queue send, against a request
// the Worker refuses at once (unknown source, 404). Run with
// `node bench/request-time.mjs` after scripts/setup-edge.sh. Figures are wall time
// per request seen by the client, sequential: an upper bound on the Worker's CPU time.
import crypto from "node:crypto";
import { startWorker } from "../test/harness.mjs";

const N = Number(process.env.N ?? 2000);
let body = '{"items":[';
while (body.length < 2000) body += '{"id":"item_0123456789","amount":1250},';
body += '{"id":"last"}]}';
const sig = "sha256=" + crypto.createHmac("sha256", "gh").update(body).digest("hex");
const sources = {
  max_body_bytes: 1 << 20,
  sources: { gh: { allowed_http_methods: ["POST"], verification: { type: "github", configs: { webhook_secret_key: "gh" } } } },
};
const worker = await startWorker({ sources });
async function run(path, headers) {
  for (let i = 0; i < 200; i++) await (await fetch(worker.url + path, { method: "POST", body, headers })).arrayBuffer();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const r = await fetch(worker.url + path, { method: "POST", body, headers });
    await r.arrayBuffer();
  }
  return Number(process.hrtime.bigint() - t0) / 1e6 / N;
}
const verified = await run("/e/gh", { "x-hub-signature-256": sig, "content-type": "application/json" });
const refused = await run("/e/none", { "content-type": "application/json" });
console.log(`body ${body.length} B, ${N} sequential requests each`);
console.log(`verified + queued: ${verified.toFixed(3)} ms/request`);
console.log(`refused (404):     ${refused.toFixed(3)} ms/request`);
console.log(`difference:        ${(verified - refused).toFixed(3)} ms/request`);
await worker.close();
