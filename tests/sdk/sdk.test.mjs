// Compatibility test: Hookdeck's published TypeScript SDK (@hookdeck/sdk, pinned in
// package.json) driven against a running Hookyard server.
//
//   HOOKYARD_URL      server root, e.g. http://127.0.0.1:8123 (default); the API is
//                     expected under ${HOOKYARD_URL}/2024-09-01
//   HOOKYARD_API_KEY  API key; the SDK sends it as "Authorization: Bearer <key>"
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
  TransformationExecution: ["id", "transformed_event_data_id", "original_event_data_id", "transformation_id", "team_id",
    "webhook_id", "log_level", "logs", "updated_at", "created_at"],
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

const sdkWarnings = [];
const originalWarn = console.warn;
before(() => {
  console.warn = (...args) => {
    const message = args.map(String).join(" ");
    if (message.startsWith("Failed to validate.")) sdkWarnings.push(message);
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
// report (without failing) keys the SDK's schema does not know.
async function strictParse(t, schema, raw, where) {
  const parsed = await schema.parse(raw, STRICT);
  if (!parsed.ok) {
    assert.fail(`${where}: response body rejected by the SDK's own schema (validation on):\n` +
      `${formatErrors(parsed.errors)}\nbody: ${JSON.stringify(raw)}`);
  }
  const closed = await schema.parse(raw, { ...STRICT, unrecognizedObjectKeys: "fail" });
  if (!closed.ok) {
    // Polling re-reads the same shapes many times: report each set of unknown keys once.
    const unknown = [...new Set(formatErrors(closed.errors).split("\n").map((line) => line.replace(/\.\d+(?=[.:])/g, ".*")))].join("\n");
    if (!reportedUnknownKeys.has(unknown)) {
      reportedUnknownKeys.add(unknown);
      t.diagnostic(`${where}: keys unknown to the SDK (tolerated, passed through):\n${unknown}`);
    }
  }
  return parsed.value;
}

// Run one SDK call that must succeed; check it made exactly one request, under
// API_BASE, with Bearer auth, drew no SDK validation warning, and that its raw
// response satisfies `schema` with validation on.
async function sdkCall(t, schema, fn) {
  const firstExchange = exchanges.length;
  const firstWarning = sdkWarnings.length;
  const value = await fn();
  const made = exchanges.slice(firstExchange);
  assert.equal(made.length, 1, `expected one HTTP exchange, saw ${made.length}`);
  const [x] = made;
  assert.ok(x.url.startsWith(`${API_BASE}/`), `request URL ${x.url} is not under ${API_BASE}/`);
  assert.equal(x.headers.Authorization, `Bearer ${API_KEY}`);
  assert.ok(x.response.ok, `${describeExchange(x)} failed: ${JSON.stringify(x.response.error)}`);
  assert.deepEqual(sdkWarnings.slice(firstWarning), [], `${describeExchange(x)}: the SDK reported validation failures`);
  await strictParse(t, schema, x.response.body, describeExchange(x));
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
