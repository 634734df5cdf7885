// Compatibility test: Hookdeck's published TypeScript SDK (@hookdeck/sdk, pinned in
// package.json) driven against a running Hookyard server.
//
//   HOOKYARD_URL      server root, e.g. http://127.0.0.1:8123 (default); the API is
//                     expected under ${HOOKYARD_URL}/2024-09-01
//   HOOKYARD_API_KEY  API key; the SDK sends it as "Authorization: Bearer <key>"
//   HOOKYARD_WASM_DIR optional: where strip_fields.wasm is (default: the target dir
//                     scripts/setup-wasm.sh builds into); without it the
//                     transformation create/run/executions/delete test is skipped
//
// Covered: sources, destinations, connections; then, with webhooks delivered to a
// local receiver on 127.0.0.1 (200 on one path, 500 on another): events, requests,
// attempts, ignored events, event/request retries, event mute, bookmarks, the three
// bulk retries, issues, issue triggers and transformations (with executions).
//
// About "validation on": the SDK hard-codes `skipValidation: true` when it parses
// responses. In that mode a mismatch never throws: a bad nested value is only
// console.warn'ed ("Failed to validate. ...") and returned raw, and a missing required
// key is accepted silently. So this test
//   1. runs every call through the SDK itself (its request serialisation, its URL
//      building, its camelCase + Date conversion of responses),
//   2. fails on any "Failed to validate." warning the SDK emits, and
//   3. re-parses every raw response body with the SDK's own schema with validation ON
//      (skipValidation: false, unknown enum values and union members refused; unknown
//      object keys are tolerated, as the SDK passes them through, and listed as
//      diagnostics).
// The recording fetcher also sets maxRetries to 0, so a 409/429/5xx surfaces at once
// instead of being hidden behind the SDK's automatic retries.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HookdeckClient, HookdeckError, Hookdeck } from "@hookdeck/sdk";

const require = createRequire(import.meta.url);
// Shipped inside the package (it has no "exports" map), not re-exported by its index.
const core = require("@hookdeck/sdk/core");
const serializers = require("@hookdeck/sdk/serialization");

const HOOKYARD_URL = (process.env.HOOKYARD_URL || "http://127.0.0.1:8123").replace(/\/+$/, "");
const API_KEY = process.env.HOOKYARD_API_KEY;
if (!API_KEY) {
  throw new Error("HOOKYARD_API_KEY must be set to an API key accepted by the Hookyard server under test");
}
const API_VERSION = "2024-09-01";
const API_BASE = `${HOOKYARD_URL}/${API_VERSION}`;

// Keys the 2024-09-01 reference schema marks required (several are nullable: they
// must be present, possibly as null). The SDK itself needs fewer: see REQUIRED_BY_SDK.
const REQUIRED_BY_REFERENCE = {
  Source: ["id", "name", "team_id", "url", "disabled_at", "updated_at", "created_at"],
  Destination: ["id", "name", "team_id", "disabled_at", "updated_at", "created_at"],
  Connection: ["id", "name", "full_name", "description", "team_id", "destination", "source", "rules",
    "disabled_at", "paused_at", "updated_at", "created_at"],
  APIErrorResponse: ["code", "status", "message"],
  Event: ["id", "team_id", "webhook_id", "source_id", "destination_id", "event_data_id", "request_id", "attempts",
    "last_attempt_at", "next_attempt_at", "status", "successful_at", "cli_id", "updated_at", "created_at"],
  Request: ["id", "team_id", "verified", "original_event_data_id", "rejection_cause", "ingest_priority", "ingested_at",
    "source_id", "events_count", "cli_events_count", "ignored_count", "updated_at", "created_at"],
  EventAttempt: ["id", "team_id", "event_id", "destination_id", "status", "updated_at", "created_at"],
  IgnoredEvent: ["id", "team_id", "webhook_id", "cause", "request_id", "created_at"],
  Bookmark: ["id", "team_id", "webhook_id", "event_data_id", "label", "updated_at", "created_at"],
  BatchOperation: ["id", "team_id", "created_at", "updated_at", "in_progress"],
  IssueTrigger: ["id", "type", "configs", "updated_at", "created_at"],
  DeliveryIssue: ["id", "team_id", "status", "opened_at", "first_seen_at", "last_seen_at", "updated_at", "created_at",
    "type", "aggregation_keys", "reference"],
  Transformation: ["id", "team_id", "name", "code", "updated_at", "created_at"],
};

// ---------------------------------------------------------------------------------
// Plumbing: a fetcher that records every exchange, and strict re-validation.

const exchanges = [];
async function recordingFetcher(args) {
  const response = await core.fetcher({ ...args, maxRetries: 0 });
  exchanges.push({ method: args.method, url: args.url, headers: args.headers, query: args.queryParameters, body: args.body, response });
  return response;
}

function makeClient(token) {
  return new HookdeckClient({ environment: API_BASE, token, fetcher: recordingFetcher });
}
const client = makeClient(API_KEY);

// An accepted request has no rejection cause, and Hookyard answers
// `"rejection_cause": null` as Hookdeck does; the reference (and the SDK made from
// it) types the key as a non-nullable enum that has no value for "accepted". That
// one departure is tolerated everywhere, in the SDK's own warnings and in the
// strict re-parse; any other validation failure still fails.
const REJECTION_CAUSE_NULL = /rejection_cause: Expected string\. Received null\.$/;
const isRejectionCauseNull = (e) => e.path.at(-1) === "rejection_cause" && e.message === "Expected string. Received null.";

const sdkWarnings = [];
const originalWarn = console.warn;
before(() => {
  console.warn = (...args) => {
    const message = args.map(String).join(" ");
    if (message.startsWith("Failed to validate.")) {
      const problems = message.split("\n").slice(1).map((l) => l.trim()).filter(Boolean);
      if (problems.length === 0 || !problems.every((p) => REJECTION_CAUSE_NULL.test(p))) sdkWarnings.push(message);
    }
    originalWarn(...args);
  };
});
after(() => {
  console.warn = originalWarn;
});

const STRICT = {
  unrecognizedObjectKeys: "passthrough",
  allowUnrecognizedUnionMembers: false,
  allowUnrecognizedEnumValues: false,
  skipValidation: false,
  breadcrumbsPrefix: ["response"],
};

function describeExchange(x) {
  return `${x.method} ${x.url}`;
}

function formatErrors(errors) {
  return errors.map((e) => `  - ${e.path.join(".")}: ${e.message}`).join("\n");
}

const reportedUnknownKeys = new Set();

// Parse `raw` with the SDK schema with validation on; fail the test on any error, and
// report (without failing) keys the SDK's schema does not know. `tolerate` (see
// SDK_DEVIATIONS) lets through errors where the SDK, not Hookyard, departs from the
// reference.
async function strictParse(t, schema, raw, where, tolerateHere) {
  const tolerate = (e) => isRejectionCauseNull(e) || (tolerateHere ? tolerateHere(e) : false);
  let parsed = await schema.parse(raw, STRICT);
  if (!parsed.ok && tolerate) {
    const tolerated = parsed.errors.filter((e) => tolerate(e));
    if (tolerated.length > 0) t.diagnostic(`${where}: tolerated (SDK departs from the reference):\n${formatErrors(tolerated)}`);
    const rest = parsed.errors.filter((e) => !tolerate(e));
    parsed = rest.length > 0 ? { ok: false, errors: rest } : { ok: true, value: raw };
  }
  if (!parsed.ok) {
    const message = `${where}: response body rejected by the SDK's own schema (validation on):\n` +
      `${formatErrors(parsed.errors)}\nbody: ${JSON.stringify(raw)}`;
    if (!t.mismatches) assert.fail(message);
    t.mismatches.push(message);
    return raw;
  }
  const closed = await schema.parse(raw, { ...STRICT, unrecognizedObjectKeys: "fail" });
  if (!closed.ok) {
    // Polling re-reads the same shapes many times: report each set of unknown keys once.
    const unknown = [...new Set(formatErrors(closed.errors).split("\n")
      .map((line) => line.replace(/\.\[\d+\](?=[.:])/g, ".[*]")))].join("\n");
    if (!reportedUnknownKeys.has(unknown)) {
      reportedUnknownKeys.add(unknown);
      t.diagnostic(`${where}: keys unknown to the SDK (tolerated, passed through):\n${unknown}`);
    }
  }
  return parsed.value;
}

// Run one SDK call that must succeed; check it made exactly one request, under
// API_BASE, with Bearer auth, drew no SDK validation warning, and that its raw
// response satisfies `schema` with validation on. In a test run by compatIt, a
// schema mismatch is recorded (and fails the test at its end) instead of stopping it.
async function sdkCall(t, schema, fn, { tolerate } = {}) {
  const firstExchange = exchanges.length;
  const firstWarning = sdkWarnings.length;
  const value = await fn();
  const made = exchanges.slice(firstExchange);
  assert.equal(made.length, 1, `expected one HTTP exchange, saw ${made.length}`);
  const [x] = made;
  assert.ok(x.url.startsWith(`${API_BASE}/`), `request URL ${x.url} is not under ${API_BASE}/`);
  assert.equal(x.headers.Authorization, `Bearer ${API_KEY}`);
  assert.ok(x.response.ok, `${describeExchange(x)} failed: ${JSON.stringify(x.response.error)}`);
  const warnings = sdkWarnings.slice(firstWarning);
  if (t.mismatches && warnings.length > 0) {
    t.mismatches.push(`${describeExchange(x)}: the SDK reported validation failures:\n${warnings.join("\n")}`);
  } else {
    assert.deepEqual(warnings, [], `${describeExchange(x)}: the SDK reported validation failures`);
  }
  await strictParse(t, schema, x.response.body, describeExchange(x), tolerate);
  return { value, raw: x.response.body, exchange: x };
}

// Run one SDK call that must fail with an HTTP error; return the error and exchange.
async function sdkFailure(t, fn) {
  const firstExchange = exchanges.length;
  let error;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error, "the call was expected to fail but succeeded");
  const made = exchanges.slice(firstExchange);
  assert.equal(made.length, 1, `expected one HTTP exchange, saw ${made.length} (error: ${error.message})`);
  const [x] = made;
  assert.ok(error instanceof HookdeckError, `expected a HookdeckError, got ${error.constructor.name}: ${error.message}`);
  assert.equal(x.response.ok, false);
  return { error, exchange: x };
}

function assertDate(value, what) {
  assert.ok(value instanceof Date && !Number.isNaN(value.getTime()), `${what} should be parsed into a valid Date, got ${JSON.stringify(value)}`);
}

function assertUrl(value, what) {
  assert.equal(typeof value, "string", `${what} should be a string`);
  assert.doesNotThrow(() => new URL(value), `${what} should be an absolute URL, got ${JSON.stringify(value)}`);
}

// ---------------------------------------------------------------------------------
// Field checks on the SDK's (camelCased, Date-converted) objects.

function checkSource(source, expected, what = "source") {
  assert.equal(typeof source.id, "string", `${what}.id`);
  assert.ok(source.id.length > 0, `${what}.id is empty`);
  if (expected.id) assert.equal(source.id, expected.id, `${what}.id`);
  assert.equal(source.name, expected.name, `${what}.name`);
  if (expected.description !== undefined) assert.equal(source.description, expected.description, `${what}.description`);
  assert.equal(typeof source.teamId, "string", `${what}.teamId`);
  assertUrl(source.url, `${what}.url`);
  if (expected.url) assert.equal(source.url, expected.url, `${what}.url`);
  assert.equal(source.disabledAt, undefined, `${what}.disabledAt should be null/absent for an enabled source`);
  assertDate(source.createdAt, `${what}.createdAt`);
  assertDate(source.updatedAt, `${what}.updatedAt`);
}

function checkDestination(destination, expected, what = "destination") {
  assert.equal(typeof destination.id, "string", `${what}.id`);
  assert.ok(destination.id.length > 0, `${what}.id is empty`);
  if (expected.id) assert.equal(destination.id, expected.id, `${what}.id`);
  assert.equal(destination.name, expected.name, `${what}.name`);
  if (expected.description !== undefined) assert.equal(destination.description, expected.description, `${what}.description`);
  assert.equal(typeof destination.teamId, "string", `${what}.teamId`);
  assert.equal(destination.url, expected.url, `${what}.url`);
  if (expected.bearerToken) {
    assert.ok(destination.authMethod, `${what}.authMethod is missing`);
    assert.equal(destination.authMethod.type, "BEARER_TOKEN", `${what}.authMethod.type`);
    // The token may be withheld in responses; if a config is returned it must be right.
    if (destination.authMethod.config != null) {
      assert.equal(destination.authMethod.config.token, expected.bearerToken, `${what}.authMethod.config.token`);
    }
  }
  assert.equal(destination.disabledAt, undefined, `${what}.disabledAt should be null/absent for an enabled destination`);
  assertDate(destination.createdAt, `${what}.createdAt`);
  assertDate(destination.updatedAt, `${what}.updatedAt`);
}

function checkRules(rules, expectedRules, what) {
  if (expectedRules.length === 0) {
    assert.ok(rules === undefined || (Array.isArray(rules) && rules.length === 0), `${what}.rules should be empty, got ${JSON.stringify(rules)}`);
    return;
  }
  assert.ok(Array.isArray(rules), `${what}.rules should be an array`);
  assert.equal(rules.length, expectedRules.length, `${what}.rules: ${JSON.stringify(rules)}`);
  for (const expectedRule of expectedRules) {
    const rule = rules.find((r) => r.type === expectedRule.type);
    assert.ok(rule, `${what}.rules has no rule of type ${expectedRule.type}: ${JSON.stringify(rules)}`);
    for (const [key, value] of Object.entries(expectedRule)) {
      assert.deepEqual(rule[key], value, `${what}.rules[type=${expectedRule.type}].${key}`);
    }
  }
}

function checkConnection(connection, expected, what = "connection") {
  assert.equal(typeof connection.id, "string", `${what}.id`);
  assert.ok(connection.id.length > 0, `${what}.id is empty`);
  if (expected.id) assert.equal(connection.id, expected.id, `${what}.id`);
  assert.equal(connection.name, expected.name, `${what}.name`);
  if (connection.fullName !== undefined) assert.equal(typeof connection.fullName, "string", `${what}.fullName`);
  assert.equal(typeof connection.teamId, "string", `${what}.teamId`);
  checkSource(connection.source, expected.source, `${what}.source`);
  checkDestination(connection.destination, expected.destination, `${what}.destination`);
  checkRules(connection.rules, expected.rules, what);
  assert.equal(connection.disabledAt, undefined, `${what}.disabledAt`);
  assert.equal(connection.pausedAt, undefined, `${what}.pausedAt`);
  assertDate(connection.createdAt, `${what}.createdAt`);
  assertDate(connection.updatedAt, `${what}.updatedAt`);
}

function checkReferenceKeys(kind, raw, where) {
  assert.ok(raw !== null && typeof raw === "object" && !Array.isArray(raw), `${where}: body is not an object`);
  const missing = REQUIRED_BY_REFERENCE[kind].filter((key) => !Object.prototype.hasOwnProperty.call(raw, key));
  assert.deepEqual(missing, [], `${where}: ${kind} lacks keys the ${API_VERSION} reference requires (null is allowed where nullable)`);
  if (kind === "Connection") {
    checkReferenceKeys("Source", raw.source, `${where} .source`);
    checkReferenceKeys("Destination", raw.destination, `${where} .destination`);
  }
}

// Page through a list endpoint (following pagination.next) until every wanted id
// was seen or the pages run out; returns the models found, by id.
async function findInList(t, resource, schema, wantedIds, request = {}) {
  const found = new Map();
  let next;
  for (let page = 0; page < 50; page += 1) {
    const { value } = await sdkCall(t, schema, () => client[resource].list({ ...request, ...(next ? { next } : {}) }));
    assert.ok(Array.isArray(value.models), `${resource}.list: models should be an array`);
    if (value.count !== undefined) assert.equal(typeof value.count, "number", `${resource}.list: count`);
    for (const model of value.models) {
      if (wantedIds.includes(model.id)) found.set(model.id, model);
    }
    next = value.pagination && value.pagination.next;
    if (found.size === wantedIds.length || !next) break;
  }
  return found;
}

// ---------------------------------------------------------------------------------

describe(`@hookdeck/sdk against Hookyard at ${API_BASE}`, () => {
  const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const names = {
    source: `sdk-src-${suffix}`,
    destination: `sdk-dst-${suffix}`,
    connection: `sdk-conn-${suffix}`,
    inlineSource: `sdk-src2-${suffix}`,
    inlineDestination: `sdk-dst2-${suffix}`,
    inlineConnection: `sdk-conn2-${suffix}`,
  };
  const description = "created by the Hookyard SDK compatibility test";
  const bearerToken = `tok_${randomBytes(8).toString("hex")}`;
  // Nothing is delivered by this test; the URLs only need to be well-formed.
  const destinationUrl = `http://127.0.0.1:9/hookyard-sdk-test/${suffix}`;
  const inlineDestinationUrl = `http://127.0.0.1:9/hookyard-sdk-test/${suffix}/inline`;
  const inlineRules = [
    { type: "retry", strategy: "linear", count: 3, interval: 60000 },
    { type: "filter", body: { event: "order.created" } },
    { type: "delay", delay: 1000 },
  ];

  // Filled in as the steps run; later steps need the earlier ones.
  const created = {};
  const raw = {};
  const expected = {};
  function need(key) {
    assert.ok(created[key], `an earlier step failed to create the ${key}`);
    return created[key];
  }

  it("creates a source", async (t) => {
    const { value, raw: body } = await sdkCall(t, serializers.Source, () =>
      client.source.create({ name: names.source, description }));
    checkSource(value, { name: names.source, description });
    created.source = value;
    raw.source = body;
    expected.source = { id: value.id, name: names.source, description, url: value.url };
  });

  it("creates a destination with a url and a BEARER_TOKEN auth_method", async (t) => {
    const { value, raw: body, exchange } = await sdkCall(t, serializers.Destination, () =>
      client.destination.create({
        name: names.destination,
        description,
        url: destinationUrl,
        authMethod: { type: "BEARER_TOKEN", config: { token: bearerToken } },
      }));
    assert.deepEqual(exchange.body, {
      name: names.destination,
      description,
      url: destinationUrl,
      auth_method: { type: "BEARER_TOKEN", config: { token: bearerToken } },
    }, "request body the SDK sent");
    checkDestination(value, { name: names.destination, description, url: destinationUrl, bearerToken });
    created.destination = value;
    raw.destination = body;
    expected.destination = { id: value.id, name: names.destination, description, url: destinationUrl, bearerToken };
  });

  it("creates a connection referencing the source and destination by id", async (t) => {
    const source = need("source");
    const destination = need("destination");
    const { value, raw: body, exchange } = await sdkCall(t, serializers.Connection, () =>
      client.connection.create({ name: names.connection, sourceId: source.id, destinationId: destination.id }));
    assert.deepEqual(exchange.body, { name: names.connection, source_id: source.id, destination_id: destination.id },
      "request body the SDK sent");
    expected.connection = { name: names.connection, source: expected.source, destination: expected.destination, rules: [] };
    checkConnection(value, expected.connection);
    assert.equal(value.teamId, source.teamId, "connection and source belong to the same project");
    created.connection = value;
    raw.connection = body;
    expected.connection.id = value.id;
  });

  it("creates a connection with the source and destination given inline, with rules", async (t) => {
    const { value, raw: body, exchange } = await sdkCall(t, serializers.Connection, () =>
      client.connection.create({
        name: names.inlineConnection,
        source: { name: names.inlineSource },
        destination: { name: names.inlineDestination, url: inlineDestinationUrl },
        rules: inlineRules,
      }));
    assert.deepEqual(exchange.body, {
      name: names.inlineConnection,
      source: { name: names.inlineSource },
      destination: { name: names.inlineDestination, url: inlineDestinationUrl },
      rules: inlineRules,
    }, "request body the SDK sent");
    checkConnection(value, {
      name: names.inlineConnection,
      source: { name: names.inlineSource },
      destination: { name: names.inlineDestination, url: inlineDestinationUrl },
      rules: inlineRules,
    });
    if (created.source) assert.notEqual(value.source.id, created.source.id, "inline source must be a new source");
    if (created.destination) assert.notEqual(value.destination.id, created.destination.id, "inline destination must be a new destination");
    created.inlineConnection = value;
    raw.inlineConnection = body;
    expected.inlineSource = { id: value.source.id, name: names.inlineSource, url: value.source.url };
    expected.inlineDestination = { id: value.destination.id, name: names.inlineDestination, url: inlineDestinationUrl };
    expected.inlineConnection = {
      id: value.id,
      name: names.inlineConnection,
      source: expected.inlineSource,
      destination: expected.inlineDestination,
      rules: inlineRules,
    };
  });

  it("lists sources and finds both created sources", async (t) => {
    need("source");
    need("inlineConnection");
    const wanted = [expected.source.id, expected.inlineSource.id];
    const found = await findInList(t, "source", serializers.SourcePaginatedResult, wanted);
    assert.deepEqual([...found.keys()].sort(), [...wanted].sort(), "created sources missing from source.list()");
    checkSource(found.get(expected.source.id), expected.source, "listed source");
    checkSource(found.get(expected.inlineSource.id), expected.inlineSource, "listed inline source");
  });

  it("lists destinations and finds both created destinations", async (t) => {
    need("destination");
    need("inlineConnection");
    const wanted = [expected.destination.id, expected.inlineDestination.id];
    const found = await findInList(t, "destination", serializers.DestinationPaginatedResult, wanted);
    assert.deepEqual([...found.keys()].sort(), [...wanted].sort(), "created destinations missing from destination.list()");
    checkDestination(found.get(expected.destination.id), expected.destination, "listed destination");
    checkDestination(found.get(expected.inlineDestination.id), expected.inlineDestination, "listed inline destination");
  });

  it("lists connections and finds both created connections", async (t) => {
    need("connection");
    need("inlineConnection");
    const wanted = [expected.connection.id, expected.inlineConnection.id];
    const found = await findInList(t, "connection", serializers.ConnectionPaginatedResult, wanted);
    assert.deepEqual([...found.keys()].sort(), [...wanted].sort(), "created connections missing from connection.list()");
    checkConnection(found.get(expected.connection.id), expected.connection, "listed connection");
    checkConnection(found.get(expected.inlineConnection.id), expected.inlineConnection, "listed inline connection");
  });

  it("filters lists by name and by source_id", async (t) => {
    need("connection");
    const bySourceName = await sdkCall(t, serializers.SourcePaginatedResult, () => client.source.list({ name: names.source }));
    assert.deepEqual(bySourceName.value.models.map((m) => m.id), [expected.source.id], "source.list({ name })");
    const byDestinationName = await sdkCall(t, serializers.DestinationPaginatedResult, () =>
      client.destination.list({ name: names.destination }));
    assert.deepEqual(byDestinationName.value.models.map((m) => m.id), [expected.destination.id], "destination.list({ name })");
    const bySourceId = await sdkCall(t, serializers.ConnectionPaginatedResult, () =>
      client.connection.list({ sourceId: expected.source.id }));
    assert.deepEqual(bySourceId.value.models.map((m) => m.id), [expected.connection.id], "connection.list({ sourceId })");
    assert.deepEqual(bySourceId.exchange.query, { source_id: expected.source.id }, "query the SDK sent");
  });

  it("retrieves each source by id", async (t) => {
    need("source");
    const first = await sdkCall(t, serializers.Source, () => client.source.retrieve(expected.source.id));
    assert.ok(first.exchange.url.endsWith(`/sources/${encodeURIComponent(expected.source.id)}`), first.exchange.url);
    checkSource(first.value, expected.source, "retrieved source");
    need("inlineConnection");
    const second = await sdkCall(t, serializers.Source, () => client.source.retrieve(expected.inlineSource.id));
    checkSource(second.value, expected.inlineSource, "retrieved inline source");
  });

  it("retrieves each destination by id", async (t) => {
    need("destination");
    const first = await sdkCall(t, serializers.Destination, () => client.destination.retrieve(expected.destination.id));
    checkDestination(first.value, expected.destination, "retrieved destination");
    need("inlineConnection");
    const second = await sdkCall(t, serializers.Destination, () => client.destination.retrieve(expected.inlineDestination.id));
    checkDestination(second.value, expected.inlineDestination, "retrieved inline destination");
  });

  it("retrieves each connection by id, with source, destination and rules nested", async (t) => {
    need("connection");
    const first = await sdkCall(t, serializers.Connection, () => client.connection.retrieve(expected.connection.id));
    checkConnection(first.value, expected.connection, "retrieved connection");
    raw.retrievedConnection = first.raw;
    need("inlineConnection");
    const second = await sdkCall(t, serializers.Connection, () => client.connection.retrieve(expected.inlineConnection.id));
    checkConnection(second.value, expected.inlineConnection, "retrieved inline connection");
  });

  it("rejects an invalid source name with a 4xx surfaced as the SDK's error type", async (t) => {
    const badName = `bad name ${suffix}`;
    const { error, exchange } = await sdkFailure(t, () => client.source.create({ name: badName }));
    assert.ok([400, 422].includes(error.statusCode),
      `expected 400 or 422 (the codes the reference documents for POST /sources), got ${error.statusCode}`);
    assert.ok(error instanceof Hookdeck.BadRequestError || error instanceof Hookdeck.UnprocessableEntityError,
      `expected Hookdeck.BadRequestError or Hookdeck.UnprocessableEntityError, got ${error.constructor.name}`);
    const body = await strictParse(t, serializers.ApiErrorResponse, exchange.response.error.body, describeExchange(exchange));
    assert.equal(body.status, error.statusCode, "error body status matches the HTTP status");
    assert.equal(typeof body.message, "string");
    assert.ok(body.message.length > 0, "error message is empty");
    checkReferenceKeys("APIErrorResponse", exchange.response.error.body, describeExchange(exchange));
    assert.deepEqual(error.body, body, "the SDK exposes the parsed error body");
  });

  it("answers an unknown id with 404, surfaced as Hookdeck.NotFoundError", async (t) => {
    for (const resource of ["source", "destination", "connection"]) {
      const { error, exchange } = await sdkFailure(t, () => client[resource].retrieve(`missing_${suffix}`));
      assert.equal(error.statusCode, 404, `${resource}.retrieve(unknown id)`);
      assert.ok(error instanceof Hookdeck.NotFoundError, `${resource}.retrieve: expected NotFoundError, got ${error.constructor.name}`);
      await strictParse(t, serializers.ApiErrorResponse, exchange.response.error.body, describeExchange(exchange));
    }
  });

  it("refuses a wrong API key with 401", async () => {
    const intruder = makeClient(`invalid-${suffix}`);
    const firstExchange = exchanges.length;
    await assert.rejects(intruder.source.list(), (error) => {
      assert.ok(error instanceof HookdeckError, `expected HookdeckError, got ${error.constructor.name}: ${error.message}`);
      assert.equal(error.statusCode, 401);
      return true;
    });
    assert.equal(exchanges.length - firstExchange, 1);
    assert.equal(exchanges[firstExchange].headers.Authorization, `Bearer invalid-${suffix}`);
  });

  it(`returns every key the ${API_VERSION} reference marks required`, () => {
    need("inlineConnection");
    checkReferenceKeys("Source", raw.source, "POST /sources");
    checkReferenceKeys("Destination", raw.destination, "POST /destinations");
    checkReferenceKeys("Connection", raw.connection, "POST /connections (by id)");
    checkReferenceKeys("Connection", raw.inlineConnection, "POST /connections (inline)");
    if (raw.retrievedConnection) checkReferenceKeys("Connection", raw.retrievedConnection, "GET /connections/{id}");
  });
});

// ---------------------------------------------------------------------------------
// Traffic and everything built on it: events, requests, attempts, ignored events,
// retries, bookmarks, bulk retries (events, requests, ignored events), issues, issue
// triggers, transformations. Webhooks are delivered to a local HTTP receiver.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Repeat an SDK call (each one checked as sdkCall checks it) until done(value) holds.
async function pollSdk(t, schema, fn, done, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await sdkCall(t, schema, fn);
    if (done(result.value)) return result;
    if (Date.now() > deadline) {
      assert.fail(`${what}: not reached within ${timeoutMs} ms; last response: ${JSON.stringify(result.raw)}`);
    }
    await sleep(150);
  }
}

// Wait (without any SDK call) for a local condition.
async function waitFor(check, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(50);
  }
}

// The transformation components scripts/setup-wasm.sh builds, where the Rust tests
// look for them (delivery/tests/it/common/wasm.rs); HOOKYARD_WASM_DIR overrides.
function findComponent(name) {
  const dirs = [
    process.env.HOOKYARD_WASM_DIR,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, "wasm32-wasip2/release/examples"),
    new URL("../../target/wasm32-wasip2/release/examples", import.meta.url).pathname,
  ].filter(Boolean);
  return dirs.map((dir) => join(dir, `${name}.wasm`)).find((path) => existsSync(path));
}

// A destination on 127.0.0.1 that records what it receives: paths under /fail/
// answer 500, every other path 200.
function startReceiver() {
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const failing = req.url.startsWith("/fail/");
      res.writeHead(failing ? 500 : 200, { "content-type": "application/json" });
      res.end(JSON.stringify(failing ? { error: "failing on purpose" } : { ok: true }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ server, received, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

// Send a webhook to a source's URL. Ingestion is not part of the management API,
// so this is a plain fetch, not the SDK.
async function ingest(sourceUrl, path, body) {
  const response = await fetch(`${sourceUrl.replace(/\/+$/, "")}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `POST ${sourceUrl}${path} answered ${response.status}: ${text}`);
}

function checkEvent(event, expected, what = "event") {
  assert.equal(typeof event.id, "string", `${what}.id`);
  assert.ok(event.id.length > 0, `${what}.id is empty`);
  for (const key of ["id", "webhookId", "sourceId", "destinationId", "requestId", "eventDataId", "status"]) {
    if (expected[key] !== undefined) assert.equal(event[key], expected[key], `${what}.${key}`);
  }
  assert.equal(typeof event.teamId, "string", `${what}.teamId`);
  assert.equal(typeof event.eventDataId, "string", `${what}.eventDataId`);
  assert.equal(typeof event.attempts, "number", `${what}.attempts`);
  assertDate(event.createdAt, `${what}.createdAt`);
  assertDate(event.updatedAt, `${what}.updatedAt`);
  if (event.status === "SUCCESSFUL") assertDate(event.successfulAt, `${what}.successfulAt`);
}

function checkRequest(request, expected, what = "request") {
  assert.equal(typeof request.id, "string", `${what}.id`);
  if (expected.id) assert.equal(request.id, expected.id, `${what}.id`);
  assert.equal(request.sourceId, expected.sourceId, `${what}.sourceId`);
  assert.equal(typeof request.teamId, "string", `${what}.teamId`);
  assert.ok(request.rejectionCause == null, `${what}.rejectionCause should be null/absent for an accepted request`);
  assertDate(request.createdAt, `${what}.createdAt`);
  assertDate(request.updatedAt, `${what}.updatedAt`);
}

function checkBatchOperation(op, what = "bulk retry") {
  assert.equal(typeof op.id, "string", `${what}.id`);
  assert.equal(typeof op.teamId, "string", `${what}.teamId`);
  assert.equal(typeof op.inProgress, "boolean", `${what}.inProgress`);
  assertDate(op.createdAt, `${what}.createdAt`);
  assertDate(op.updatedAt, `${what}.updatedAt`);
}

const ids = (models) => models.map((m) => m.id);

// Where SDK 0.4.0's schema departs from the 2024-09-01 reference and Hookyard follows
// the reference: these strict re-parse errors are tolerated (and listed as diagnostics).
const SDK_DEVIATIONS = {
  // IgnoredEvent.meta for cause FILTERED is the reference's FilteredMeta, an array of
  // "body" | "headers" | "path" | "query" (the parts the filter rejected); the SDK
  // types FilteredMeta as a single one of those strings.
  ignoredEventMeta: (e) => e.path.at(-1) === "meta" && /Received list\.$/.test(e.message),
  // IgnoredEvent has no updated_at in the reference (neither required nor a property);
  // the SDK's IgnoredEvent requires updatedAt.
  ignoredEventUpdatedAt: (e) => e.message === 'Missing required key "updated_at"',
};
const ignoredEventDeviations = (e) => SDK_DEVIATIONS.ignoredEventMeta(e) || SDK_DEVIATIONS.ignoredEventUpdatedAt(e);

// Like it(), but a response the SDK's schema rejects (an SDK warning or a failed
// strict re-parse) is recorded and the test goes on, so that one run lists every
// mismatch of a flow; the test then fails with all of them. Other assertions and
// HTTP errors stop the test as usual.
function compatIt(name, options, fn) {
  if (typeof options === "function") [fn, options] = [options, {}];
  it(name, options, async (t) => {
    t.mismatches = [];
    let error;
    try {
      await fn(t);
    } catch (e) {
      error = e;
    }
    // Polling repeats a mismatch: report each (without its body) once.
    const seen = new Set();
    const mismatches = t.mismatches.filter((m) => {
      const key = m.split("\nbody:")[0];
      return !seen.has(key) && seen.add(key);
    });
    if (mismatches.length > 0) {
      assert.fail(`${mismatches.length} response(s) rejected by the SDK's schema:\n\n${mismatches.join("\n\n")}` +
        (error ? `\n\nthen the test stopped on: ${error.message}` : ""));
    }
    if (error) throw error;
  });
}
const sorted = (list) => [...list].sort();

describe(`@hookdeck/sdk against Hookyard at ${API_BASE}: traffic, retries, bookmarks, bulk retries, issues, transformations`, () => {
  const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  let receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    if (!receiver) return;
    receiver.server.closeAllConnections();
    await new Promise((resolve) => receiver.server.close(resolve));
  });

  const s = {};
  function need(...keys) {
    for (const key of keys) assert.ok(s[key], `an earlier step failed to produce ${key}`);
    return keys.length === 1 ? s[keys[0]] : keys.map((key) => s[key]);
  }
  const orderBody = (n) => ({ kind: "order", n, suffix });

  compatIt("creates connections to a local receiver: one answering 200, one answering 500, one filtering everything out", async (t) => {
    const ok = await sdkCall(t, serializers.Connection, () => client.connection.create({
      name: `sdk-ok-${suffix}`,
      source: { name: `sdk-tsrc-${suffix}` },
      destination: { name: `sdk-okdst-${suffix}`, url: `${receiver.url}/ok/${suffix}` },
    }));
    s.okConn = ok.value;
    const filtered = await sdkCall(t, serializers.Connection, () => client.connection.create({
      name: `sdk-filtered-${suffix}`,
      sourceId: ok.value.source.id,
      destination: { name: `sdk-fltdst-${suffix}`, url: `${receiver.url}/ok/${suffix}/filtered` },
      rules: [{ type: "filter", body: { kind: "never-sent" } }],
    }));
    s.filteredConn = filtered.value;
    const failing = await sdkCall(t, serializers.Connection, () => client.connection.create({
      name: `sdk-fail-${suffix}`,
      source: { name: `sdk-fsrc-${suffix}` },
      destination: { name: `sdk-faildst-${suffix}`, url: `${receiver.url}/fail/${suffix}` },
      // No automatic retry: the first failed attempt leaves the event FAILED.
      rules: [{ type: "retry", strategy: "linear", count: 0, interval: 60000 }],
    }));
    s.failConn = failing.value;
  });

  compatIt("ingests webhooks and finds them delivered: event.list({ webhookId, status })", async (t) => {
    const [okConn, failConn] = need("okConn", "failConn");
    await ingest(okConn.source.url, "/orders?sdk=1", orderBody(1));
    await sleep(5); // distinct created_at (milliseconds), for the ordering checks
    await ingest(okConn.source.url, "/orders?sdk=1", orderBody(2));
    await ingest(failConn.source.url, "/doomed", { kind: "doomed", suffix });

    const delivered = await pollSdk(t, serializers.EventPaginatedResult,
      () => client.event.list({ webhookId: okConn.id, status: "SUCCESSFUL" }),
      (v) => v.models.length >= 2, "two SUCCESSFUL events on the 200 connection");
    assert.deepEqual(delivered.exchange.query, { webhook_id: okConn.id, status: "SUCCESSFUL" }, "query the SDK sent");
    assert.equal(delivered.value.models.length, 2, "event.list({ webhookId, status: SUCCESSFUL })");
    for (const event of delivered.value.models) {
      checkEvent(event, { webhookId: okConn.id, sourceId: okConn.source.id, destinationId: okConn.destination.id, status: "SUCCESSFUL" });
      checkReferenceKeys("Event", delivered.raw.models.find((m) => m.id === event.id), "GET /events");
    }
    // Newest first by default.
    s.okEvents = [...delivered.value.models].sort((a, b) => a.createdAt - b.createdAt);
    s.requestIds = s.okEvents.map((e) => e.requestId);
    await waitFor(() => receiver.received.filter((r) => r.url.startsWith(`/ok/${suffix}/orders`)).length >= 2,
      "the receiver got both webhooks");
    const bodies = receiver.received.filter((r) => r.url === `/ok/${suffix}/orders?sdk=1`).map((r) => JSON.parse(r.body));
    assert.deepEqual(bodies.map((b) => b.n).sort(), [1, 2], "delivered bodies");

    const failed = await pollSdk(t, serializers.EventPaginatedResult,
      () => client.event.list({ webhookId: failConn.id, status: "FAILED" }),
      (v) => v.models.length >= 1, "a FAILED event on the 500 connection");
    assert.equal(failed.value.models.length, 1);
    checkEvent(failed.value.models[0], { webhookId: failConn.id, status: "FAILED" }, "failed event");
    assert.equal(failed.value.models[0].responseStatus, 500, "failed event.responseStatus");
    s.failEvent = failed.value.models[0];
  });

  compatIt("filters event.list by id, sourceId, destinationId, createdAt, orderBy/dir, include: data, limit and next", async (t) => {
    const [okConn, okEvents, failEvent] = need("okConn", "okEvents", "failEvent");
    const [first, second] = okEvents;

    const bySource = await sdkCall(t, serializers.EventPaginatedResult, () => client.event.list({ sourceId: okConn.source.id }));
    assert.deepEqual(sorted(ids(bySource.value.models)), sorted(ids(okEvents)), "event.list({ sourceId })");

    const byDestination = await sdkCall(t, serializers.EventPaginatedResult,
      () => client.event.list({ destinationId: failEvent.destinationId }));
    assert.deepEqual(ids(byDestination.value.models), [failEvent.id], "event.list({ destinationId })");

    const byIds = await sdkCall(t, serializers.EventPaginatedResult, () => client.event.list({ id: [first.id, failEvent.id] }));
    assert.deepEqual(byIds.exchange.query, { id: [first.id, failEvent.id] }, "query the SDK sent");
    assert.deepEqual(sorted(ids(byIds.value.models)), sorted([first.id, failEvent.id]), "event.list({ id: [..] })");

    // The SDK sends a Date as an exact ISO timestamp (created_at=...): equality.
    const byCreatedAt = await sdkCall(t, serializers.EventPaginatedResult,
      () => client.event.list({ webhookId: okConn.id, createdAt: first.createdAt }));
    assert.deepEqual(byCreatedAt.exchange.query, { webhook_id: okConn.id, created_at: first.createdAt.toISOString() });
    assert.ok(ids(byCreatedAt.value.models).includes(first.id), "event.list({ createdAt }) finds the event created then");
    for (const m of byCreatedAt.value.models) assert.equal(m.createdAt.getTime(), first.createdAt.getTime(), "createdAt filter");

    const ascending = await sdkCall(t, serializers.EventPaginatedResult,
      () => client.event.list({ webhookId: okConn.id, orderBy: "created_at", dir: "asc" }));
    assert.deepEqual(ids(ascending.value.models), [first.id, second.id], "orderBy created_at, dir asc");
    const descending = await sdkCall(t, serializers.EventPaginatedResult,
      () => client.event.list({ webhookId: okConn.id, orderBy: "created_at", dir: "desc" }));
    assert.deepEqual(ids(descending.value.models), [second.id, first.id], "orderBy created_at, dir desc");

    const byLastAttempt = await sdkCall(t, serializers.EventPaginatedResult,
      () => client.event.list({ webhookId: okConn.id, orderBy: "last_attempt_at", dir: "asc" }));
    assert.deepEqual(sorted(ids(byLastAttempt.value.models)), sorted([first.id, second.id]), "orderBy last_attempt_at");
    const lastAttempts = byLastAttempt.value.models.map((m) => m.lastAttemptAt.getTime());
    assert.deepEqual(lastAttempts, [...lastAttempts].sort((a, b) => a - b), "orderBy last_attempt_at, dir asc");

    const withData = await sdkCall(t, serializers.EventPaginatedResult,
      () => client.event.list({ webhookId: okConn.id, include: "data" }));
    assert.equal(withData.value.models.length, 2);
    for (const event of withData.value.models) {
      assert.ok(event.data, `include: data: event ${event.id} has no data`);
      assert.equal(event.data.path, "/orders", "data.path");
      assert.deepEqual(event.data.parsedQuery, { sdk: "1" }, "data.parsedQuery");
      assert.equal(event.data.body.kind, "order", "data.body");
      assert.equal(event.data.body.suffix, suffix, "data.body");
    }
    const withoutData = await sdkCall(t, serializers.EventPaginatedResult, () => client.event.list({ webhookId: okConn.id }));
    for (const event of withoutData.value.models) assert.equal(event.data, undefined, "no data without include");

    const page1 = await sdkCall(t, serializers.EventPaginatedResult,
      () => client.event.list({ webhookId: okConn.id, orderBy: "created_at", dir: "asc", limit: 1 }));
    assert.deepEqual(ids(page1.value.models), [first.id], "limit: 1, first page");
    const next = page1.value.pagination && page1.value.pagination.next;
    assert.equal(typeof next, "string", "pagination.next after a full page");
    const page2 = await sdkCall(t, serializers.EventPaginatedResult,
      () => client.event.list({ webhookId: okConn.id, orderBy: "created_at", dir: "asc", limit: 1, next }));
    assert.deepEqual(ids(page2.value.models), [second.id], "limit: 1, page after next");

    const none = await sdkCall(t, serializers.EventPaginatedResult, () => client.event.list({ webhookId: okConn.id, status: "FAILED" }));
    assert.deepEqual(none.value.models, [], "event.list({ webhookId, status: FAILED }) on the 200 connection");
  });

  compatIt("retrieves an event and its raw body: event.retrieve, event.retrieveBody", async (t) => {
    const [first] = need("okEvents");
    const { value, raw: body } = await sdkCall(t, serializers.Event, () => client.event.retrieve(first.id));
    checkEvent(value, { id: first.id, webhookId: first.webhookId, requestId: first.requestId, status: "SUCCESSFUL" }, "retrieved event");
    checkReferenceKeys("Event", body, "GET /events/{id}");
    const rawBody = await sdkCall(t, serializers.RawBody, () => client.event.retrieveBody(first.id));
    assert.equal(typeof rawBody.value.body, "string", "RawBody.body");
    assert.deepEqual(JSON.parse(rawBody.value.body), orderBody(1), "event raw body");
    const { error } = await sdkFailure(t, () => client.event.retrieve(`evt_missing${suffix.replace(/-/g, "")}`));
    assert.ok(error instanceof Hookdeck.NotFoundError, `event.retrieve(unknown id): ${error.constructor.name}`);
  });

  compatIt("lists and retrieves attempts: attempt.list({ eventId }), attempt.retrieve", async (t) => {
    const [okEvents, failEvent] = need("okEvents", "failEvent");
    const list = await sdkCall(t, serializers.EventAttemptPaginatedResult, () => client.attempt.list({ eventId: okEvents[0].id }));
    assert.deepEqual(list.exchange.query, { event_id: okEvents[0].id }, "query the SDK sent");
    assert.equal(list.value.models.length, 1, "one attempt for a delivered event");
    const attempt = list.value.models[0];
    assert.equal(attempt.eventId, okEvents[0].id, "attempt.eventId");
    assert.equal(attempt.destinationId, okEvents[0].destinationId, "attempt.destinationId");
    assert.equal(attempt.status, "SUCCESSFUL", "attempt.status");
    assert.equal(attempt.responseStatus, 200, "attempt.responseStatus");
    const one = await sdkCall(t, serializers.EventAttempt, () => client.attempt.retrieve(attempt.id));
    assert.equal(one.value.id, attempt.id);
    assert.equal(one.value.eventId, okEvents[0].id);
    assertDate(one.value.createdAt, "attempt.createdAt");
    checkReferenceKeys("EventAttempt", one.raw, "GET /attempts/{id}");

    const failed = await sdkCall(t, serializers.EventAttemptPaginatedResult, () => client.attempt.list({ eventId: failEvent.id }));
    assert.equal(failed.value.models.length, 1, "one attempt for the failed event (retry count 0)");
    assert.equal(failed.value.models[0].status, "FAILED");
    assert.equal(failed.value.models[0].responseStatus, 500);
  });

  compatIt("lists and retrieves requests, their events and ignored events: request.list/retrieve/retrieveBody/listEvent/listIgnoredEvent", async (t) => {
    const [okConn, filteredConn, okEvents] = need("okConn", "filteredConn", "okEvents");
    const bySource = await sdkCall(t, serializers.RequestPaginatedResult,
      () => client.request.list({ sourceId: okConn.source.id, status: "accepted", orderBy: "created_at", dir: "asc", include: "data" }));
    assert.deepEqual(bySource.exchange.query,
      { source_id: okConn.source.id, status: "accepted", order_by: "created_at", dir: "asc", include: "data" }, "query the SDK sent");
    assert.equal(bySource.value.models.length, 2, "request.list({ sourceId, status: accepted })");
    const requestIds = okEvents.map((e) => e.requestId);
    assert.deepEqual(ids(bySource.value.models), requestIds, "requests oldest first, one per event");
    for (const [i, request] of bySource.value.models.entries()) {
      checkRequest(request, { sourceId: okConn.source.id }, "listed request");
      assert.ok(request.data, "include: data");
      assert.deepEqual(request.data.body, orderBody(i + 1), "request data.body");
      assert.equal(request.eventsCount, 1, "request.eventsCount");
      assert.equal(request.ignoredCount, 1, "request.ignoredCount (the filtering connection)");
    }
    const rejected = await sdkCall(t, serializers.RequestPaginatedResult,
      () => client.request.list({ sourceId: okConn.source.id, status: "rejected" }));
    assert.deepEqual(rejected.value.models, [], "request.list({ status: rejected })");
    const byId = await sdkCall(t, serializers.RequestPaginatedResult, () => client.request.list({ id: requestIds[0] }));
    assert.deepEqual(ids(byId.value.models), [requestIds[0]], "request.list({ id })");

    const one = await sdkCall(t, serializers.Request, () => client.request.retrieve(requestIds[0]));
    checkRequest(one.value, { id: requestIds[0], sourceId: okConn.source.id }, "retrieved request");
    checkReferenceKeys("Request", one.raw, "GET /requests/{id}");
    const rawBody = await sdkCall(t, serializers.RawBody, () => client.request.retrieveBody(requestIds[0]));
    assert.deepEqual(JSON.parse(rawBody.value.body), orderBody(1), "request raw body");

    const events = await sdkCall(t, serializers.EventPaginatedResult, () => client.request.listEvent(requestIds[0]));
    assert.deepEqual(ids(events.value.models), [okEvents[0].id], "request.listEvent");
    const ignored = await sdkCall(t, serializers.IgnoredEventPaginatedResult, () => client.request.listIgnoredEvent(requestIds[0]),
      { tolerate: ignoredEventDeviations });
    assert.equal(ignored.value.models.length, 1, "request.listIgnoredEvent: the filtering connection ignored it");
    const ignoredEvent = ignored.value.models[0];
    assert.equal(ignoredEvent.webhookId, filteredConn.id, "ignored event.webhookId");
    assert.equal(ignoredEvent.cause, "FILTERED", "ignored event.cause");
    assert.equal(ignoredEvent.requestId, requestIds[0], "ignored event.requestId");
    assertDate(ignoredEvent.createdAt, "ignored event.createdAt");
    assert.deepEqual(ignoredEvent.meta, ["body"], "ignored event.meta: the filter rejected the body");
    checkReferenceKeys("IgnoredEvent", ignored.raw.models[0], "GET /requests/{id}/ignored_events");

    const byIngestedAt = await sdkCall(t, serializers.RequestPaginatedResult,
      () => client.request.list({ sourceId: okConn.source.id, orderBy: "ingested_at", dir: "desc" }));
    assert.deepEqual(ids(byIngestedAt.value.models), [...requestIds].reverse(), "request.list({ orderBy: ingested_at, dir: desc })");
  });

  compatIt("retries and mutes an event: event.retry, event.mute", async (t) => {
    const [okEvents, failEvent] = need("okEvents", "failEvent");
    const first = okEvents[0];
    // SDK 0.4.0 types POST /events/{id}/retry as { event, attempt } (RetriedEvent), but
    // the 2024-09-01 reference's RetriedEvent is the event itself (Event's properties,
    // flat). Hookyard follows the reference, so the body is checked against the SDK's
    // Event schema instead; the SDK's own (non-validating) parse returns it unchanged.
    const retried = await sdkCall(t, serializers.Event, () => client.event.retry(first.id));
    checkReferenceKeys("Event", retried.raw, "POST /events/{id}/retry (the reference's RetriedEvent)");
    assert.equal(retried.raw.id, first.id, "retried event id");
    await pollSdk(t, serializers.EventAttemptPaginatedResult, () => client.attempt.list({ eventId: first.id }),
      (v) => v.models.length >= 2 && v.models.every((a) => a.status === "SUCCESSFUL"), "the manual retry's attempt");
    const attempts = await sdkCall(t, serializers.EventAttemptPaginatedResult, () => client.attempt.list({ eventId: first.id }));
    assert.ok(attempts.value.models.some((a) => a.trigger === "MANUAL"), "a MANUAL attempt after event.retry");

    const muted = await sdkCall(t, serializers.Event, () => client.event.mute(failEvent.id));
    assert.equal(muted.value.id, failEvent.id, "muted event id");
    checkReferenceKeys("Event", muted.raw, "PUT /events/{id}/mute");
  });

  compatIt("retries a request on a connection: request.retry({ webhookIds })", async (t) => {
    const [okConn, okEvents, requestIds] = need("okConn", "okEvents", "requestIds");

    const retry = await sdkCall(t, serializers.RetryRequest, () => client.request.retry(requestIds[1], { webhookIds: [okConn.id] }));
    assert.deepEqual(retry.exchange.body, { webhook_ids: [okConn.id] }, "request body the SDK sent");
    assert.equal(retry.value.request.id, requestIds[1], "RetryRequest.request.id");
    assert.ok(Array.isArray(retry.value.events) && retry.value.events.length === 1, "RetryRequest.events: one new event");
    const newEvent = retry.value.events[0];
    assert.equal(newEvent.webhookId, okConn.id, "new event's connection");
    assert.ok(!ids(okEvents).includes(newEvent.id), "request.retry makes a new event");
    await pollSdk(t, serializers.Event, () => client.event.retrieve(newEvent.id), (v) => v.status === "SUCCESSFUL",
      "the re-run request's event delivered");
  });

  compatIt("bookmarks: create, list, retrieve, update, retrieveBody, trigger, delete", async (t) => {
    const [okConn, okEvents] = need("okConn", "okEvents");
    const first = okEvents[0];
    const label = `sdk-label-${suffix}`;
    const name = `sdk-bm-${suffix}`;
    const created = await sdkCall(t, serializers.Bookmark, () =>
      client.bookmark.create({ eventDataId: first.eventDataId, webhookId: okConn.id, label, name }));
    assert.deepEqual(created.exchange.body, { event_data_id: first.eventDataId, webhook_id: okConn.id, label, name },
      "request body the SDK sent");
    const bookmark = created.value;
    assert.equal(bookmark.label, label);
    assert.equal(bookmark.webhookId, okConn.id);
    assert.equal(bookmark.eventDataId, first.eventDataId);
    assertDate(bookmark.createdAt, "bookmark.createdAt");
    checkReferenceKeys("Bookmark", created.raw, "POST /bookmarks");

    const byConnection = await sdkCall(t, serializers.BookmarkPaginatedResult, () => client.bookmark.list({ webhookId: okConn.id }));
    assert.deepEqual(ids(byConnection.value.models), [bookmark.id], "bookmark.list({ webhookId })");
    const byLabel = await sdkCall(t, serializers.BookmarkPaginatedResult, () => client.bookmark.list({ label, orderBy: "created_at", dir: "desc" }));
    assert.deepEqual(ids(byLabel.value.models), [bookmark.id], "bookmark.list({ label })");
    const byName = await sdkCall(t, serializers.BookmarkPaginatedResult, () => client.bookmark.list({ name }));
    assert.deepEqual(ids(byName.value.models), [bookmark.id], "bookmark.list({ name })");
    const one = await sdkCall(t, serializers.Bookmark, () => client.bookmark.retrieve(bookmark.id));
    assert.equal(one.value.label, label);

    const label2 = `${label}-renamed`;
    const updated = await sdkCall(t, serializers.Bookmark, () => client.bookmark.update(bookmark.id, { label: label2 }));
    assert.deepEqual(updated.exchange.body, { label: label2 }, "request body the SDK sent");
    assert.equal(updated.value.label, label2, "updated label");
    assert.equal(updated.value.webhookId, okConn.id, "update keeps the connection");

    const rawBody = await sdkCall(t, serializers.RawBody, () => client.bookmark.retrieveBody(bookmark.id));
    assert.deepEqual(JSON.parse(rawBody.value.body), orderBody(1), "bookmark raw body");

    const before = receiver.received.length;
    const triggered = await sdkCall(t, serializers.EventArray, () => client.bookmark.trigger(bookmark.id, { target: "http" }));
    assert.deepEqual(triggered.exchange.body, { target: "http" }, "request body the SDK sent");
    assert.equal(triggered.value.length, 1, "bookmark.trigger: one event");
    assert.equal(triggered.value[0].webhookId, okConn.id);
    await pollSdk(t, serializers.Event, () => client.event.retrieve(triggered.value[0].id), (v) => v.status === "SUCCESSFUL",
      "the bookmark's event delivered");
    await waitFor(() => receiver.received.slice(before).some((r) => r.url === `/ok/${suffix}/orders?sdk=1`),
      "the receiver got the bookmarked request");

    const deleted = await sdkCall(t, serializers.DeletedBookmarkResponse, () => client.bookmark.delete(bookmark.id));
    assert.equal(deleted.value.id, bookmark.id, "DeletedBookmarkResponse.id");
    const { error } = await sdkFailure(t, () => client.bookmark.retrieve(bookmark.id));
    assert.ok(error instanceof Hookdeck.NotFoundError, `bookmark.retrieve after delete: ${error.constructor.name}`);
  });

  compatIt("issues: list, count, retrieve, update, dismiss (a delivery issue from the 500 destination)", async (t) => {
    const [failConn, failEvent] = need("failConn", "failEvent");
    const opened = await pollSdk(t, serializers.IssueWithDataPaginatedResult,
      () => client.issue.list({ type: "delivery", status: "OPENED" }),
      (v) => v.models.some((i) => i.aggregationKeys.webhookId.includes(failConn.id)), "a delivery issue for the 500 connection");
    assert.deepEqual(opened.exchange.query, { type: "delivery", status: "OPENED" }, "query the SDK sent");
    const issue = opened.value.models.find((i) => i.aggregationKeys.webhookId.includes(failConn.id));
    assert.equal(issue.type, "delivery");
    assert.equal(issue.status, "OPENED");
    assert.ok(issue.aggregationKeys.responseStatus.includes(500), "aggregationKeys.responseStatus");
    assert.equal(issue.reference.eventId, failEvent.id, "reference.eventId");
    assert.equal(typeof issue.reference.attemptId, "string", "reference.attemptId");
    assertDate(issue.openedAt, "issue.openedAt");
    assertDate(issue.firstSeenAt, "issue.firstSeenAt");
    assertDate(issue.lastSeenAt, "issue.lastSeenAt");
    checkReferenceKeys("DeliveryIssue", opened.raw.models.find((m) => m.id === issue.id), "GET /issues");

    s.issue = issue;
    const byId = await sdkCall(t, serializers.IssueWithDataPaginatedResult,
      () => client.issue.list({ id: issue.id, orderBy: "created_at", dir: "desc" }));
    assert.deepEqual(ids(byId.value.models), [issue.id], "issue.list({ id })");
    const count = await sdkCall(t, serializers.IssueCount, () => client.issue.count({ status: "OPENED" }));
    assert.ok(count.value.count >= 1, "issue.count({ status: OPENED })");
    const countOne = await sdkCall(t, serializers.IssueCount, () => client.issue.count({ id: issue.id }));
    assert.equal(countOne.value.count, 1, "issue.count({ id })");

    const one = await sdkCall(t, serializers.IssueWithData, () => client.issue.retrieve(issue.id));
    assert.equal(one.value.id, issue.id);
    assert.equal(one.value.type, "delivery");
    checkReferenceKeys("DeliveryIssue", one.raw, "GET /issues/{id}");

    const events = await sdkCall(t, serializers.EventPaginatedResult, () => client.event.list({ issueId: issue.id }));
    assert.ok(ids(events.value.models).includes(failEvent.id), "event.list({ issueId }) finds the failed event");

    const acknowledged = await sdkCall(t, serializers.Issue, () => client.issue.update(issue.id, { status: "ACKNOWLEDGED" }));
    assert.deepEqual(acknowledged.exchange.body, { status: "ACKNOWLEDGED" }, "request body the SDK sent");
    assert.equal(acknowledged.value.status, "ACKNOWLEDGED", "issue.update status");
    const byStatus = await sdkCall(t, serializers.IssueWithDataPaginatedResult,
      () => client.issue.list({ id: issue.id, status: "ACKNOWLEDGED" }));
    assert.deepEqual(ids(byStatus.value.models), [issue.id], "issue.list({ status: ACKNOWLEDGED })");

    const dismissed = await sdkCall(t, serializers.Issue, () => client.issue.dismiss(issue.id));
    assert.equal(dismissed.value.id, issue.id);
    assertDate(dismissed.value.dismissedAt, "dismissed issue.dismissedAt");
    const { error } = await sdkFailure(t, () => client.issue.retrieve(`iss_missing${suffix.replace(/-/g, "")}`));
    assert.ok(error instanceof Hookdeck.NotFoundError, `issue.retrieve(unknown id): ${error.constructor.name}`);
  });

  compatIt("issues and issue triggers: list ordered by every sort key the SDK (and the reference) offers", async (t) => {
    const [issue, failConn] = need("issue", "failConn");
    const name = `sdk-trigger-sort-${suffix}`;
    const trigger = await sdkCall(t, serializers.IssueTrigger, () => client.issueTrigger.create({
      type: "delivery", name, configs: { strategy: "first_attempt", connections: [failConn.id] }, channels: { email: {} },
    }));
    // Try every key before failing, so that one run names all the unsupported ones.
    const refused = [];
    const tries = [
      ...["created_at", "first_seen_at", "last_seen_at", "opened_at", "status"].map((orderBy) => ({
        what: `issue.list({ orderBy: "${orderBy}" })`, schema: serializers.IssueWithDataPaginatedResult, id: issue.id,
        call: () => client.issue.list({ id: issue.id, orderBy, dir: "desc" }),
      })),
      ...["created_at", "type"].map((orderBy) => ({
        what: `issueTrigger.list({ orderBy: "${orderBy}" })`, schema: serializers.IssueTriggerPaginatedResult, id: trigger.value.id,
        call: () => client.issueTrigger.list({ name, orderBy, dir: "desc" }),
      })),
    ];
    try {
      for (const { what, schema, id, call } of tries) {
        try {
          const list = await sdkCall(t, schema, call);
          assert.deepEqual(ids(list.value.models), [id], what);
        } catch (error) {
          refused.push(`${what}: ${error.message.split("\n").join(" ")}`);
        }
      }
    } finally {
      await client.issueTrigger.delete(trigger.value.id);
    }
    assert.deepEqual(refused, [], "sort keys refused");
  });

  compatIt("issue triggers: create, list, retrieve, disable, enable, delete", async (t) => {
    const failConn = need("failConn");
    const name = `sdk-trigger-${suffix}`;
    const created = await sdkCall(t, serializers.IssueTrigger, () => client.issueTrigger.create({
      type: "delivery",
      name,
      configs: { strategy: "first_attempt", connections: [failConn.id] },
      channels: { email: {} },
    }));
    assert.deepEqual(created.exchange.body, {
      type: "delivery", name, configs: { strategy: "first_attempt", connections: [failConn.id] }, channels: { email: {} },
    }, "request body the SDK sent");
    const trigger = created.value;
    assert.equal(trigger.name, name);
    assert.equal(trigger.type, "delivery");
    assert.equal(trigger.configs.strategy, "first_attempt");
    assert.deepEqual([].concat(trigger.configs.connections), [failConn.id], "configs.connections");
    assert.ok(trigger.channels && trigger.channels.email, "channels.email");
    assert.equal(trigger.disabledAt, undefined, "a new trigger is enabled");
    assertDate(trigger.createdAt, "trigger.createdAt");
    checkReferenceKeys("IssueTrigger", created.raw, "POST /issue-triggers");

    const byName = await sdkCall(t, serializers.IssueTriggerPaginatedResult, () => client.issueTrigger.list({ name }));
    assert.deepEqual(ids(byName.value.models), [trigger.id], "issueTrigger.list({ name })");
    const byType = await findInList(t, "issueTrigger", serializers.IssueTriggerPaginatedResult, [trigger.id], { type: "delivery" });
    assert.ok(byType.has(trigger.id), "issueTrigger.list({ type: delivery })");
    const one = await sdkCall(t, serializers.IssueTrigger, () => client.issueTrigger.retrieve(trigger.id));
    assert.equal(one.value.name, name);

    const disabled = await sdkCall(t, serializers.IssueTrigger, () => client.issueTrigger.disable(trigger.id));
    assertDate(disabled.value.disabledAt, "disabled trigger.disabledAt");
    const enabled = await sdkCall(t, serializers.IssueTrigger, () => client.issueTrigger.enable(trigger.id));
    assert.equal(enabled.value.disabledAt, undefined, "enabled trigger.disabledAt");

    const deleted = await sdkCall(t, serializers.DeletedIssueTriggerResponse, () => client.issueTrigger.delete(trigger.id));
    assert.equal(deleted.value.id, trigger.id, "DeletedIssueTriggerResponse.id");
    const { error } = await sdkFailure(t, () => client.issueTrigger.retrieve(trigger.id));
    assert.ok(error instanceof Hookdeck.NotFoundError, `issueTrigger.retrieve after delete: ${error.constructor.name}`);
  });

  compatIt("issue triggers: update without type (IssueTriggerUpdateRequest has none)", async (t) => {
    const failConn = need("failConn");
    const name = `sdk-trigger2-${suffix}`;
    const created = await sdkCall(t, serializers.IssueTrigger, () => client.issueTrigger.create({
      type: "delivery", name, configs: { strategy: "first_attempt", connections: [failConn.id] }, channels: { email: {} },
    }));
    const id = created.value.id;
    try {
      const name2 = `${name}-renamed`;
      const updated = await sdkCall(t, serializers.IssueTrigger, () => client.issueTrigger.update(id, {
        name: name2, configs: { strategy: "final_attempt", connections: [failConn.id] },
      }));
      assert.deepEqual(updated.exchange.body, { name: name2, configs: { strategy: "final_attempt", connections: [failConn.id] } },
        "request body the SDK sent");
      assert.equal(updated.value.name, name2, "updated name");
      assert.equal(updated.value.type, "delivery", "update keeps the type");
      assert.equal(updated.value.configs.strategy, "final_attempt", "updated configs.strategy");
      const renamed = await sdkCall(t, serializers.IssueTrigger, () => client.issueTrigger.update(id, { name: `${name2}-again` }));
      assert.equal(renamed.value.name, `${name2}-again`, "update of the name alone");
      assert.equal(renamed.value.configs.strategy, "final_attempt", "an update of the name keeps configs");
    } finally {
      await client.issueTrigger.delete(id);
    }
  });

  // The three kinds of bulk retry share one shape; each is planned, created with a
  // query, followed to completion, listed, retrieved and cancelled.
  const bulkKinds = [
    {
      resource: "eventBulkRetry",
      plan: serializers.EventBulkRetryPlanResponse,
      query: () => ({ webhookId: [need("failConn").id] }),
      sent: () => ({ webhook_id: [need("failConn").id] }),
      matches: 1, // the failed event
    },
    {
      resource: "requestBulkRetry",
      plan: serializers.RequestBulkRetryPlanResponse,
      query: () => ({ sourceId: [need("failConn").source.id] }),
      sent: () => ({ source_id: [need("failConn").source.id] }),
      matches: 1, // the request sent to the failing connection's source
    },
    {
      resource: "ignoredEventBulkRetry",
      plan: serializers.IgnoredEventBulkRetryPlanResponse,
      query: () => ({ webhookId: [need("filteredConn").id], cause: "FILTERED" }),
      sent: () => ({ webhook_id: [need("filteredConn").id], cause: "FILTERED" }),
      matches: 2, // both requests sent to the shared source were filtered out
    },
  ];
  for (const kind of bulkKinds) {
    compatIt(`bulk retries: ${kind.resource}.plan, create, retrieve, list, cancel`, async (t) => {
      need("okEvents");
      const api = client[kind.resource];
      // SDK 0.4.0's plan() takes no query: it asks about everything.
      const plan = await sdkCall(t, kind.plan, () => api.plan());
      assert.equal(typeof plan.value.estimatedCount, "number", "plan.estimatedCount");
      assert.ok(plan.value.estimatedCount >= 1, "plan.estimatedCount");

      const created = await sdkCall(t, serializers.BatchOperation, () => api.create({ query: kind.query() }));
      assert.deepEqual(created.exchange.body, { query: kind.sent() }, "request body the SDK sent");
      checkBatchOperation(created.value, `${kind.resource}.create`);
      checkReferenceKeys("BatchOperation", created.raw, `POST ${kind.resource}`);
      const op = created.value;
      assert.equal(op.estimatedCount, kind.matches, `${kind.resource}.create: estimatedCount`);

      const done = await pollSdk(t, serializers.BatchOperation, () => api.retrieve(op.id),
        (v) => !v.inProgress && v.completedAt !== undefined, `${kind.resource} ${op.id} completed`);
      assert.equal(done.value.id, op.id);
      assertDate(done.value.completedAt, "completedAt");
      assert.equal(done.value.cancelledAt, undefined, "completed, not cancelled");

      const listed = await findInList(t, kind.resource, serializers.BatchOperationPaginatedResult, [op.id]);
      assert.ok(listed.has(op.id), `${kind.resource}.list finds the bulk retry`);
      const byId = await sdkCall(t, serializers.BatchOperationPaginatedResult, () => api.list({ id: op.id }));
      assert.deepEqual(ids(byId.value.models), [op.id], `${kind.resource}.list({ id })`);
      const finished = await sdkCall(t, serializers.BatchOperationPaginatedResult, () => api.list({ id: op.id, inProgress: false }));
      assert.deepEqual(ids(finished.value.models), [op.id], `${kind.resource}.list({ inProgress: false })`);

      const second = await sdkCall(t, serializers.BatchOperation, () => api.create({ query: kind.query() }));
      const cancelled = await sdkCall(t, serializers.BatchOperation, () => api.cancel(second.value.id));
      assert.equal(cancelled.value.id, second.value.id);
      checkBatchOperation(cancelled.value, `${kind.resource}.cancel`);
      assert.equal(cancelled.value.inProgress, false, "a cancelled (or already finished) bulk retry is not in progress");
      if (cancelled.value.completedAt === undefined) assertDate(cancelled.value.cancelledAt, "cancelledAt");
    });
  }

  compatIt("transformations: list, retrieve and the unknown-id 404", async (t) => {
    const list = await sdkCall(t, serializers.TransformationPaginatedResult, () => client.transformation.list());
    assert.ok(Array.isArray(list.value.models));
    const byName = await sdkCall(t, serializers.TransformationPaginatedResult,
      () => client.transformation.list({ name: `sdk-no-such-transformation-${suffix}` }));
    assert.deepEqual(byName.value.models, [], "transformation.list({ name }) with no match");
    const { error, exchange } = await sdkFailure(t, () => client.transformation.retrieve(`trs_missing${suffix.replace(/-/g, "")}`));
    assert.ok(error instanceof Hookdeck.NotFoundError, `transformation.retrieve(unknown id): ${error.constructor.name}`);
    await strictParse(t, serializers.ApiErrorResponse, exchange.response.error.body, describeExchange(exchange));
  });

  const componentPath = findComponent("strip_fields");
  compatIt("transformations: create, retrieve, list, update, run, a connection running it, executions, delete", {
    skip: componentPath ? false : "no strip_fields.wasm: build the components with scripts/setup-wasm.sh (or set HOOKYARD_WASM_DIR)",
  }, async (t) => {
    const code = readFileSync(componentPath).toString("base64");
    const name = `sdk-trs-${suffix}`;
    const created = await sdkCall(t, serializers.Transformation, () =>
      client.transformation.create({ name, code, env: { FIELDS: "secret" } }));
    const transformation = created.value;
    assert.equal(transformation.name, name);
    assert.deepEqual(transformation.env, { FIELDS: "secret" }, "env");
    assertDate(transformation.createdAt, "transformation.createdAt");
    checkReferenceKeys("Transformation", created.raw, "POST /transformations");

    const one = await sdkCall(t, serializers.Transformation, () => client.transformation.retrieve(transformation.id));
    assert.equal(one.value.code, code, "retrieved code is the uploaded component");
    checkReferenceKeys("Transformation", one.raw, "GET /transformations/{id}");
    const byName = await sdkCall(t, serializers.TransformationPaginatedResult, () => client.transformation.list({ name }));
    assert.deepEqual(ids(byName.value.models), [transformation.id], "transformation.list({ name })");
    // (Listed models are Transformations too: the strict re-parse checks they carry code.)
    const byId = await sdkCall(t, serializers.TransformationPaginatedResult, () => client.transformation.list({ id: [transformation.id] }));
    assert.deepEqual(ids(byId.value.models), [transformation.id], "transformation.list({ id })");

    const updated = await sdkCall(t, serializers.Transformation, () =>
      client.transformation.update(transformation.id, { env: { FIELDS: "secret,token" } }));
    assert.deepEqual(updated.value.env, { FIELDS: "secret,token" }, "updated env");

    // The body goes as a JSON string: SDK 0.4.0 serialises an object body with its
    // schema for it (an object with no properties) in "strip" mode, so it would send {}.
    const runInput = JSON.stringify({ keep: 1, secret: "s", token: "t" });
    const run = await sdkCall(t, serializers.TransformationExecutorOutput, () => client.transformation.run({
      transformationId: transformation.id,
      request: { headers: { "content-type": "application/json" }, body: runInput, path: "/run" },
    }));
    assert.deepEqual(run.exchange.body, {
      transformation_id: transformation.id,
      request: { headers: { "content-type": "application/json" }, body: runInput, path: "/run" },
    }, "request body the SDK sent");
    assert.ok(run.value.request, "run: output request");
    assert.equal(run.value.request.path, "/run", "run: output request.path");
    const runBody = typeof run.value.request.body === "string" ? JSON.parse(run.value.request.body) : run.value.request.body;
    assert.deepEqual(runBody, { keep: 1 }, "run: fields stripped");

    const conn = await sdkCall(t, serializers.Connection, () => client.connection.create({
      name: `sdk-trsconn-${suffix}`,
      source: { name: `sdk-trssrc-${suffix}` },
      destination: { name: `sdk-trsdst-${suffix}`, url: `${receiver.url}/ok/${suffix}/transformed` },
      rules: [{ type: "transform", transformationId: transformation.id }],
    }));
    await ingest(conn.value.source.url, "/t", { keep: 2, secret: "s", token: "t" });
    await waitFor(() => receiver.received.some((r) => r.url.startsWith(`/ok/${suffix}/transformed`)), "the transformed webhook delivered");
    const delivered = receiver.received.find((r) => r.url.startsWith(`/ok/${suffix}/transformed`));
    assert.deepEqual(JSON.parse(delivered.body), { keep: 2 }, "delivered body was transformed");

    const executions = await pollSdk(t, serializers.TransformationExecutionPaginatedResult,
      () => client.transformation.listExecution(transformation.id, { webhookId: conn.value.id }),
      (v) => v.models.length >= 1, "an execution of the transformation");
    const execution = executions.value.models[0];
    assert.equal(execution.transformationId, transformation.id);
    assert.equal(execution.webhookId, conn.value.id);
    const oneExecution = await sdkCall(t, serializers.TransformationExecution,
      () => client.transformation.retrieveExecution(transformation.id, execution.id));
    assert.equal(oneExecution.value.id, execution.id);
    // (The strict re-parse checks the keys the reference requires: the SDK requires the same.)

    // SDK 0.4.0 has no transformation.delete, though the reference has
    // DELETE /transformations/{id} (answering { id }): sent through the SDK's fetcher.
    await sdkCall(t, serializers.ConnectionDeleteResponse,
      () => client.connection.delete(conn.value.id));
    const firstExchange = exchanges.length;
    const response = await recordingFetcher({
      url: `${API_BASE}/transformations/${encodeURIComponent(transformation.id)}`,
      method: "DELETE",
      headers: { Authorization: `Bearer ${API_KEY}` },
      contentType: "application/json",
      requestType: "json",
      timeoutMs: 60000,
    });
    assert.equal(exchanges.length - firstExchange, 1);
    assert.ok(response.ok, `DELETE /transformations/{id} failed: ${JSON.stringify(response.error)}`);
    assert.deepEqual(response.body, { id: transformation.id }, "DELETE /transformations/{id} answers { id } (reference)");
    const { error } = await sdkFailure(t, () => client.transformation.retrieve(transformation.id));
    assert.ok(error instanceof Hookdeck.NotFoundError, `transformation.retrieve after delete: ${error.constructor.name}`);
  });
});
