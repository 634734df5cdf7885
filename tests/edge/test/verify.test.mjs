// The real Worker in workerd refuses or accepts webhooks signed by the providers'
// own libraries. Nothing here talks to delivery: an accepted webhook only has to
// be queued (the consumer's pushes fail against a closed port and are retried).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import Stripe from "stripe";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import twilio from "twilio";
import { isValidSlackRequest } from "@slack/bolt";
import { Paddle } from "@paddle/paddle-node-sdk";
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { startWorker } from "./harness.mjs";

const SVIX_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const secret = (t, s, extra = {}) => ({ type: t, configs: { webhook_secret_key: s, ...extra } });
const source = (verification, more = {}) => ({ allowed_http_methods: ["POST"], verification, ...more });
const sources = {
  max_body_bytes: 10 * 1024 * 1024,
  sources: {
    stripe: source(secret("stripe", ["whsec_old", "whsec_stripe"])),
    github: source(secret("github", "gh-secret")),
    shopify: source(secret("shopify", "shp-secret")),
    stdwh: source(secret("standard_webhooks", SVIX_SECRET)),
    svix: source(secret("svix", SVIX_SECRET)),
    twilio: source(secret("twilio", "twilio-token")),
    slack: source(secret("slack", "slack-signing")),
    paddle: source(secret("paddle", "pdl_ntfset_secret")),
    linear: source(secret("linear", "lin_wh_secret")),
    hmac: source({ type: "hmac", configs: { webhook_secret_key: "h", algorithm: "sha512", header_key: "x-sig", encoding: "base64url" } }),
    basic: source({ type: "basic_auth", configs: { username: "u", password: "p" } }),
    apikey: source({ type: "api_key", configs: { header_key: "x-api-key", api_key: "k" } }),
    small: source(undefined, { max_body_bytes: 100 }),
  },
};

let worker;
before(async () => {
  worker = await startWorker({ sources });
});
after(async () => worker?.close());

const post = (path, body, headers = {}) =>
  fetch(`${worker.url}${path}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

async function expectStatus(res, status, what) {
  const text = await res.text();
  assert.equal(res.status, status, `${what}: ${text}`);
  return text;
}

const payload = JSON.stringify({ id: "evt_1", type: "thing.happened", data: { amount: 1250, note: "✓" } });
const now = () => Math.floor(Date.now() / 1000);

test("Stripe: stripe-node's test header accepted (rotated secret list); tampered, stale, unsigned refused", async () => {
  const stripe = new Stripe("sk_test_unused");
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: "whsec_stripe" });
  const ok = await expectStatus(await post("/e/stripe", payload, { "stripe-signature": header }), 200, "signed");
  assert.match(JSON.parse(ok).request_id, /^req_/);
  await expectStatus(await post("/e/stripe", payload.replace("1250", "9999"), { "stripe-signature": header }), 401, "tampered");
  const stale = stripe.webhooks.generateTestHeaderString({ payload, secret: "whsec_stripe", timestamp: now() - 3600 });
  const text = await expectStatus(await post("/e/stripe", payload, { "stripe-signature": stale }), 401, "stale");
  assert.match(text, /tolerance/);
  await expectStatus(await post("/e/stripe", payload), 401, "unsigned");
});

test("GitHub: @octokit/webhooks-methods signature accepted, wrong secret refused", async () => {
  const sig = await octokitSign("gh-secret", payload);
  await expectStatus(await post("/e/github", payload, { "x-hub-signature-256": sig }), 200, "signed");
  const bad = await octokitSign("not-it", payload);
  await expectStatus(await post("/e/github", payload, { "x-hub-signature-256": bad }), 401, "wrong secret");
  await expectStatus(await post("/e/github", payload), 401, "unsigned");
});

test("Shopify: base64 HMAC-SHA256 of the body (Shopify's documented algorithm)", async () => {
  // No maintained standalone signer on npm; Shopify documents this exact computation.
  const sig = crypto.createHmac("sha256", "shp-secret").update(payload).digest("base64");
  await expectStatus(await post("/e/shopify", payload, { "x-shopify-hmac-sha256": sig }), 200, "signed");
  await expectStatus(await post("/e/shopify", payload + " ", { "x-shopify-hmac-sha256": sig }), 401, "tampered");
});

test("Standard Webhooks (standardwebhooks) and Svix (svix) signatures accepted; stale refused", async () => {
  const std = new StandardWebhook(SVIX_SECRET.slice("whsec_".length));
  const at = new Date();
  const sig = std.sign("msg_1", at, payload);
  const h = { "webhook-id": "msg_1", "webhook-timestamp": String(Math.floor(at / 1000)), "webhook-signature": sig };
  await expectStatus(await post("/e/stdwh", payload, h), 200, "standard");
  await expectStatus(await post("/e/stdwh", payload, { ...h, "webhook-id": "msg_2" }), 401, "changed id");
  const old = new Date(Date.now() - 3600_000);
  const oldSig = std.sign("msg_1", old, payload);
  await expectStatus(await post("/e/stdwh", payload, { ...h, "webhook-timestamp": String(Math.floor(old / 1000)), "webhook-signature": oldSig }), 401, "stale");

  const svix = new SvixWebhook(SVIX_SECRET);
  const ssig = svix.sign("msg_9", at, payload);
  const sh = { "svix-id": "msg_9", "svix-timestamp": String(Math.floor(at / 1000)), "svix-signature": ssig };
  await expectStatus(await post("/e/svix", payload, sh), 200, "svix");
  await expectStatus(await post("/e/svix", payload.replace("✓", "x"), sh), 401, "svix tampered");
});

test("Twilio: twilio's getExpectedTwilioSignature over the URL and form parameters", async () => {
  const url = `${worker.url}/e/twilio`;
  const params = { From: "+15550001111", Body: "hi there ✓", MessageSid: "SM1" };
  const sig = twilio.getExpectedTwilioSignature("twilio-token", url, params);
  const form = new URLSearchParams(params).toString();
  const h = { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sig };
  assert.ok(twilio.validateRequest("twilio-token", sig, url, params), "twilio agrees with itself");
  await expectStatus(await post("/e/twilio", form, h), 200, "signed");
  await expectStatus(await post("/e/twilio", form.replace("SM1", "SM2"), h), 401, "tampered");
});

test("Slack: v0 signature, checked with @slack/bolt's verifier before sending", async () => {
  // Slack's SDKs verify but do not sign; the signature follows Slack's published
  // algorithm and @slack/bolt confirms it is what Slack sends.
  const ts = now();
  const sig = "v0=" + crypto.createHmac("sha256", "slack-signing").update(`v0:${ts}:${payload}`).digest("hex");
  const headers = { "x-slack-signature": sig, "x-slack-request-timestamp": ts };
  assert.ok(isValidSlackRequest({ signingSecret: "slack-signing", body: payload, headers }), "bolt accepts the signature");
  await expectStatus(await post("/e/slack", payload, { "x-slack-signature": sig, "x-slack-request-timestamp": String(ts) }), 200, "signed");
  const old = ts - 3600;
  const oldSig = "v0=" + crypto.createHmac("sha256", "slack-signing").update(`v0:${old}:${payload}`).digest("hex");
  await expectStatus(await post("/e/slack", payload, { "x-slack-signature": oldSig, "x-slack-request-timestamp": String(old) }), 401, "stale");
});

test("Paddle: ts/h1 signature, checked with @paddle/paddle-node-sdk's validator before sending", async () => {
  const ts = now();
  const h1 = crypto.createHmac("sha256", "pdl_ntfset_secret").update(`${ts}:${payload}`).digest("hex");
  const header = `ts=${ts};h1=${h1}`;
  // Constructing the client registers the SDK's Node crypto provider.
  const paddle = new Paddle("pdl_sdbx_apikey_unused");
  assert.ok(await paddle.webhooks.isSignatureValid(payload, "pdl_ntfset_secret", header), "Paddle's SDK accepts it");
  await expectStatus(await post("/e/paddle", payload, { "paddle-signature": header }), 200, "signed");
  await expectStatus(await post("/e/paddle", payload, { "paddle-signature": `ts=${ts};h1=${"0".repeat(64)}` }), 401, "wrong");
});

test("Linear: signature and signed webhookTimestamp, checked with @linear/sdk's LinearWebhookClient", async () => {
  const body = JSON.stringify({ action: "create", type: "Issue", webhookTimestamp: Date.now() });
  const sig = crypto.createHmac("sha256", "lin_wh_secret").update(body).digest("hex");
  assert.ok(new LinearWebhookClient("lin_wh_secret").verify(Buffer.from(body), sig), "Linear's SDK accepts it");
  await expectStatus(await post("/e/linear", body, { "linear-signature": sig }), 200, "signed");
  const oldBody = JSON.stringify({ action: "create", webhookTimestamp: Date.now() - 3600_000 });
  const oldSig = crypto.createHmac("sha256", "lin_wh_secret").update(oldBody).digest("hex");
  await expectStatus(await post("/e/linear", oldBody, { "linear-signature": oldSig }), 401, "stale");
});

test("generic HMAC, basic auth and API key", async () => {
  const sig = crypto.createHmac("sha512", "h").update(payload).digest("base64url");
  await expectStatus(await post("/e/hmac", payload, { "x-sig": sig }), 200, "hmac");
  await expectStatus(await post("/e/hmac", payload, { "x-sig": sig.slice(1) }), 401, "hmac wrong");
  const basic = (up) => ({ authorization: "Basic " + Buffer.from(up).toString("base64") });
  await expectStatus(await post("/e/basic", payload, basic("u:p")), 200, "basic");
  await expectStatus(await post("/e/basic", payload, basic("u:x")), 401, "basic wrong");
  await expectStatus(await post("/e/apikey", payload, { "x-api-key": "k" }), 200, "api key");
  await expectStatus(await post("/e/apikey", payload), 401, "no api key");
});

test("unknown source → 404, wrong method → 405, oversize → 413", async () => {
  const text = await expectStatus(await post("/e/nope", payload), 404, "unknown");
  assert.match(text, /no source named/);
  await expectStatus(await fetch(`${worker.url}/e/small`, { method: "GET" }), 405, "GET");
  await expectStatus(await post("/e/small", "x".repeat(101)), 413, "oversize");
  await expectStatus(await post("/e/small", "x".repeat(100)), 200, "at the limit");
});
