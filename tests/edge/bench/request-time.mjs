// Time per webhook in the real Worker (workerd via wrangler's test harness): a
// 2 KB JSON body with GitHub HMAC verification and a queue send, against a request
// the Worker refuses at once (unknown source, 404), with a configuration of 1 and of
// SOURCES (200) sources. Run with `node bench/request-time.mjs` after
// scripts/setup-edge.sh.
//
// Two figures per case: wall time per request seen by the client (sequential), and
// the CPU time the workerd process spent per request (user + system, from
// /proc/<pid>/stat before and after the run). workerd's figure includes its HTTP
// server, the local queue and R2 simulation and the harness's proxy: an upper bound
// of the CPU time Cloudflare bills the Worker for (its isolate's own execution only).
import crypto from "node:crypto";
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { startWorker } from "../test/harness.mjs";

const N = Number(process.env.N ?? 2000);
const SOURCES = Number(process.env.SOURCES ?? 200);
let body = '{"items":[';
while (body.length < 2000) body += '{"id":"item_0123456789","amount":1250},';
body += '{"id":"last"}]}';
const sig = "sha256=" + crypto.createHmac("sha256", "gh").update(body).digest("hex");
const source = (secret) => ({ allowed_http_methods: ["POST"], verification: { type: "github", configs: { webhook_secret_key: secret } } });

const ticks = Number(execSync("getconf CLK_TCK").toString().trim());
function workerdCpuMs() {
  // Every workerd process started by this bench (the harness starts one).
  const pids = execSync("pgrep -x workerd || true").toString().split(/\s+/).filter(Boolean);
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      total += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {}
  }
  return (total * 1000) / ticks;
}

async function run(url, path, headers) {
  for (let i = 0; i < 200; i++) await (await fetch(url + path, { method: "POST", body, headers })).arrayBuffer();
  const cpu0 = workerdCpuMs();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const r = await fetch(url + path, { method: "POST", body, headers });
    await r.arrayBuffer();
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e6 / N;
  return { wall, cpu: (workerdCpuMs() - cpu0) / N };
}

console.log(`body ${body.length} B, ${N} sequential requests each; ms per request (wall / workerd CPU)`);
for (const count of [1, SOURCES]) {
  const sources = { max_body_bytes: 1 << 20, sources: { gh: source("gh") } };
  for (let i = 1; i < count; i++) sources.sources[`src-${i}`] = source(`secret-${i}-${"x".repeat(24)}`);
  const worker = await startWorker({ sources });
  const verified = await run(worker.url, "/e/gh", { "x-hub-signature-256": sig, "content-type": "application/json" });
  const refused = await run(worker.url, "/e/none", { "content-type": "application/json" });
  const fmt = (r) => `${r.wall.toFixed(3)} / ${r.cpu.toFixed(3)}`;
  console.log(`${count} source(s), config ${JSON.stringify(sources).length} B:`);
  console.log(`  verified + queued: ${fmt(verified)}`);
  console.log(`  refused (404):     ${fmt(refused)}`);
  await worker.close();
}
