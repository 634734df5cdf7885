//! The overview (`#/`): every connection as source → connection → destination,
//! with the source's ingest URL, the destination's state and backlog and the
//! last hour's deliveries, whether a CLI listens for a CLI destination;
//! pause/unpause and enable from here, and a first-run guide when nothing is
//! configured yet.

import {h, replace, notice, pageHeader, button, link, code, badge, time, relative, duration} from '../dom.js';
import {api, all} from '../api.js';
import {destinationType, destinationTarget, cliSessions, cliStatus, sourceType, isBrokerSource, sourceAddress, topicFromInWords} from './resources.js';

const REFRESH_MS = 15000;
const HOUR_MS = 3600e3;
/** Sources whose last request is looked up one by one; beyond, the column says "—". */
const MAX_SOURCE_LOOKUPS = 50;
const SVG = 'http://www.w3.org/2000/svg';

// ---------------------------------------------------------------------------
// Data.

async function loadAll() {
  const [connections, sources, destinations] = await Promise.all([all('/connections'), all('/sources'), all('/destinations')]);
  const [metrics, backlogs, lastRequests, cli] = await Promise.all([
    loadMetrics(),
    loadBacklogs(destinations),
    loadLastRequests(sources),
    // Every CLI destination's sessions in one request, and none without CLI destinations.
    destinations.some((d) => destinationType(d).type === 'CLI') ? cliSessions() : undefined,
  ]);
  return {connections, sources, destinations, metrics, backlogs, lastRequests, cli};
}

/** The last hour per minute, or `{error}` (the endpoint is new: the page works without it). */
async function loadMetrics() {
  const end = new Date();
  const start = new Date(end.getTime() - HOUR_MS);
  try {
    return await api.get('/metrics/events', {start: start.toISOString(), end: end.toISOString(), granularity: 'minute'});
  } catch (error) {
    return {error};
  }
}

async function loadBacklogs(destinations) {
  const entries = await Promise.all(destinations.map((d) =>
    api.get(`/destinations/${encodeURIComponent(d.id)}/backlog`).then((b) => [d.id, b], () => [d.id, null])));
  return new Map(entries);
}

async function loadLastRequests(sources) {
  const entries = await Promise.all(sources.slice(0, MAX_SOURCE_LOOKUPS).map((s) =>
    api.get('/requests', {source_id: s.id, limit: 1}).then((p) => [s.id, p.models[0] || null], () => [s.id, undefined])));
  return new Map(entries);
}

// ---------------------------------------------------------------------------
// Small parts.

function ingestUrl(source) {
  return `${location.origin}/e/${source.name}`;
}

function curlFor(source) {
  const methods = source.allowed_http_methods || ['POST'];
  const method = methods.includes('POST') ? 'POST' : methods[0];
  return `curl -X ${method} '${ingestUrl(source)}' -H 'Content-Type: application/json' -d '{"hello": "world"}'`;
}

/** Text with a Copy button; where the clipboard is refused, the text is selected instead. */
function copyable(text, label) {
  const value = h('code', {class: 'mono', 'aria-label': label}, text);
  const copy = button('Copy', async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = 'Copied';
    } catch {
      window.getSelection()?.selectAllChildren(value);
      copy.textContent = 'Selected: press Ctrl+C';
    }
    setTimeout(() => { copy.textContent = 'Copy'; }, 2500);
  }, 'link');
  copy.setAttribute('aria-label', `Copy ${label}`);
  return h('div', {class: 'actions'}, value, copy);
}

function kind(label) {
  return h('div', {class: 'muted'}, label);
}

function stat(label, value, key) {
  return [h('dt', null, label), h('dd', {dataset: {stat: key}}, value)];
}

function percent(part, whole) {
  if (!whole) return '—';
  const p = (100 * part) / whole;
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)} %`;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function isoFromMs(ms) {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

function ruleSummary(rules) {
  const out = [];
  for (const r of rules || []) {
    if (r.type === 'filter') {
      const parts = ['body', 'headers', 'query', 'path'].filter((p) => r[p] !== undefined && r[p] !== null);
      out.push(`filter on ${parts.join(', ') || 'nothing'}`);
    } else if (r.type === 'retry') {
      out.push(`retry ${r.strategy}, ${r.count ?? 5} × ${duration(r.interval ?? 60000)}`);
    } else if (r.type === 'delay') {
      out.push(`delay ${duration(r.delay)}`);
    } else if (r.type === 'transform') {
      out.push('transform');
    }
  }
  return out;
}

/** Deliveries per minute as bars: successful (s1) on top of failed (s2). */
function sparkline(buckets) {
  const width = 120;
  const height = 24;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  const max = Math.max(1, ...buckets.map((b) => (b.successful || 0) + (b.failed || 0)));
  const step = width / Math.max(buckets.length, 1);
  buckets.forEach((b, i) => {
    const x = i * step + step / 2;
    const failed = ((b.failed || 0) / max) * (height - 2);
    const ok = ((b.successful || 0) / max) * (height - 2);
    for (const [cls, from, to] of [['s2', height, height - failed], ['s1', height - failed, height - failed - ok]]) {
      if (from === to) continue;
      const line = document.createElementNS(SVG, 'line');
      line.setAttribute('class', cls);
      line.setAttribute('x1', x.toFixed(2));
      line.setAttribute('x2', x.toFixed(2));
      line.setAttribute('y1', from.toFixed(2));
      line.setAttribute('y2', to.toFixed(2));
      line.setAttribute('stroke-width', Math.max(step * 0.7, 0.5).toFixed(2));
      svg.append(line);
    }
  });
  const title = document.createElementNS(SVG, 'title');
  title.textContent = 'Deliveries per minute, last hour (green: successful, red: failed)';
  svg.prepend(title);
  return svg;
}

function destinationTotals(metrics, destinationId) {
  const entry = (metrics?.destinations || []).find((d) => d.destination_id === destinationId);
  if (!entry) return null;
  let successful = 0;
  let failed = 0;
  let latencySum = 0;
  let maxLatency = null;
  for (const b of entry.buckets || []) {
    const n = (b.successful || 0) + (b.failed || 0);
    successful += b.successful || 0;
    failed += b.failed || 0;
    if (b.avg_latency_ms !== null && b.avg_latency_ms !== undefined) latencySum += b.avg_latency_ms * n;
    if (b.max_latency_ms !== null && b.max_latency_ms !== undefined) maxLatency = Math.max(maxLatency ?? 0, b.max_latency_ms);
  }
  const attempts = successful + failed;
  return {successful, failed, attempts, avgLatency: attempts ? latencySum / attempts : null, maxLatency, buckets: entry.buckets || []};
}

// ---------------------------------------------------------------------------
// Nodes of the pipeline.

/**
 * A source: a webhook source's URL (with a curl to try it), or for a broker
 * source its type and where it is consumed from, without the credentials.
 */
function sourceNode(s, last) {
  const broker = isBrokerSource(s);
  const noWebhookYet = last === null;
  const topicFrom = topicFromInWords(s.topic_from);
  return h('div', {class: 'node'},
    kind('Source'),
    h('div', {class: 'title'}, link(`#/sources/${encodeURIComponent(s.id)}`, s.name), ' ',
      broker ? [badge(sourceType(s).type), ' '] : null, s.disabled_at ? badge('disabled') : null),
    s.description ? h('div', {class: 'muted'}, s.description) : null,
    broker ? h('div', {class: 'mono', dataset: {address: ''}}, sourceAddress(s)) : copyable(ingestUrl(s), `ingest URL of ${s.name}`),
    topicFrom ? h('div', {class: 'muted'}, `Topic from ${topicFrom}`) : null,
    last ? h('div', null, broker ? 'Last message: ' : 'Last webhook: ', link(`#/requests/${encodeURIComponent(last.id)}`, time(last.created_at)), h('span', {class: 'muted'}, ` (${relative(last.created_at)})`)) : null,
    broker ? (noWebhookYet ? h('div', {class: 'muted'}, 'No message yet: each message the gateway takes from the broker becomes a request.') : null)
      : noWebhookYet ? h('div', null, h('div', {class: 'muted'}, 'No webhook yet. Send one:'), code(curlFor(s)))
        : h('details', null, h('summary', null, 'Send a test webhook'), code(curlFor(s))),
    h('div', {class: 'actions'}, link(`#/requests?source_id=${encodeURIComponent(s.id)}`, 'Requests')));
}

function connectionNode(c, metrics, act) {
  const state = c.disabled_at ? 'disabled' : c.paused_at ? 'paused' : 'active';
  const rules = ruleSummary(c.rules);
  const m = metrics && !metrics.error ? (metrics.connections || []).find((x) => x.connection_id === c.id) || {events: 0, successful: 0, failed: 0, pending: 0} : null;
  const dash = h('span', {class: 'muted', title: metrics?.error ? `Metrics unavailable: ${metrics.error.message}` : ''}, '—');
  const id = encodeURIComponent(c.id);
  return h('div', {class: 'node'},
    kind('Connection'),
    h('div', {class: 'title'}, link(`#/connections/${id}`, c.name || c.full_name || c.id), ' ', badge(state)),
    c.paused_at ? h('div', {class: 'muted'}, 'Paused since ', time(c.paused_at), ': events are held.') : null,
    // Without a subscription it takes every request: nothing to say.
    c.topics ? h('div', {dataset: {topics: ''}}, 'Topics: ', h('span', {class: 'mono'}, c.topics.join(', '))) : null,
    h('div', {class: 'muted'}, rules.length ? rules.join(' · ') : 'No rules: every request is delivered.'),
    h('h3', null, 'Last hour'),
    h('dl', {class: 'kv'},
      stat('Events', m ? String(m.events) : dash, 'events'),
      stat('Delivered', m ? String(m.successful) : dash.cloneNode(true), 'successful'),
      stat('Failed', m ? String(m.failed) : dash.cloneNode(true), 'failed'),
      stat('Failure rate', m ? percent(m.failed, m.successful + m.failed) : dash.cloneNode(true), 'failure-rate'),
      stat('Pending', m ? String(m.pending) : dash.cloneNode(true), 'pending')),
    h('div', {class: 'actions'},
      c.paused_at ? button('Unpause', act(`/connections/${id}/unpause`), 'primary') : button('Pause', act(`/connections/${id}/pause`)),
      link(`#/connections/${id}`, 'Edit'),
      link(`#/connections/${id}/filter`, 'Filter'),
      link(`#/events?connection_id=${id}`, 'Events')));
}

function destinationState(d) {
  if (d.disabled_at && d.disabled_reason) return 'auto-disabled';
  return d.disabled_at ? 'disabled' : 'enabled';
}

/**
 * A destination. `cli`: the CLI sessions by destination (null: unknown);
 * `connected`: whether it has connections (for a CLI destination's hint).
 */
function destinationNode(d, backlog, metrics, act, {cli, connected}) {
  const id = encodeURIComponent(d.id);
  const state = destinationState(d);
  const totals = metrics && !metrics.error ? destinationTotals(metrics, d.id) : null;
  const limit = d.rate_limit ? `${d.rate_limit} per ${d.rate_limit_period || 'second'}` : null;
  const target = destinationTarget(d, {withType: false});
  return h('div', {class: 'node'},
    kind('Destination'),
    h('div', {class: 'title'}, link(`#/destinations/${id}`, d.name), ' ', badge(destinationType(d).type), ' ', badge(state)),
    // Where its events go: the URL, the CLI's path, or a broker's address and queue (credentials left out); the badge says the type.
    target ? h('div', {class: 'mono', dataset: {target: ''}}, target) : null,
    destinationType(d).type === 'CLI' ? cliStatus(d, cli ? cli.get(d.id) || [] : null, {connected}) : null,
    limit || d.max_concurrency ? h('div', {class: 'muted'}, [limit && `Rate limit ${limit}`, d.max_concurrency && `at most ${d.max_concurrency} in flight`].filter(Boolean).join(' · ')) : null,
    d.disabled_at ? notice(state === 'auto-disabled' ? 'error' : 'info',
      state === 'auto-disabled' ? `Disabled by the gateway: ${d.disabled_reason}` : 'Disabled: its events are held.',
      ' Since ', time(d.disabled_at), '.') : null,
    h('dl', {class: 'kv'},
      stat('Backlog', backlog ? `${backlog.pending} pending${backlog.held ? `, ${backlog.held} held` : ''}` : h('span', {class: 'muted'}, '—'), 'backlog'),
      backlog?.oldest_pending_at ? stat('Oldest waiting', time(isoFromMs(backlog.oldest_pending_at)), 'oldest') : null,
      stat('Delivered (1 h)', totals ? `${totals.successful} of ${totals.attempts} attempts` : h('span', {class: 'muted'}, totals === null && metrics && !metrics.error ? '0' : '—'), 'dest-successful'),
      totals?.avgLatency !== null && totals?.avgLatency !== undefined ? stat('Latency', `${duration(totals.avgLatency)} avg, ${duration(totals.maxLatency)} max`, 'latency') : null),
    totals && totals.attempts ? sparkline(totals.buckets) : null,
    h('div', {class: 'actions'},
      d.disabled_at ? button('Enable', act(`/destinations/${id}/enable`), 'primary') : null,
      link(`#/destinations/${id}`, 'Edit'),
      link(`#/events?destination_id=${id}`, 'Events')));
}

// ---------------------------------------------------------------------------
// Sections.

function gettingStarted() {
  const example = {name: 'my-source', allowed_http_methods: ['POST']};
  return h('section', {class: 'card', 'aria-label': 'Getting started'},
    h('h2', null, 'Nothing is set up yet'),
    h('ol', null,
      h('li', null, h('p', null, h('strong', null, 'Create a connection. '),
        'It routes what a source receives (the URL providers send webhooks to) to a destination (your endpoint), through optional rules.'),
      h('a', {href: '#/connections/new', class: 'button primary'}, 'Create a connection')),
      h('li', null, h('p', null, h('strong', null, 'Send a webhook '), 'to the source\'s URL, for a source named my-source:'),
        copyable(curlFor(example), 'example curl command')),
      h('li', null, h('p', null, 'Watch it arrive here, then in ', link('#/requests', 'Requests'), ' and ', link('#/events', 'Events'), '.'))));
}

function summaryLine(data) {
  const {connections, sources, destinations, metrics} = data;
  const parts = [plural(connections.length, 'connection'), plural(sources.length, 'source'), plural(destinations.length, 'destination')];
  if (metrics && !metrics.error) {
    const totals = (metrics.buckets || []).reduce((t, b) => ({
      requests: t.requests + (b.requests || 0), events: t.events + (b.events || 0),
      successful: t.successful + (b.successful || 0), failed: t.failed + (b.failed || 0),
    }), {requests: 0, events: 0, successful: 0, failed: 0});
    parts.push(`last hour: ${plural(totals.requests, 'request')}, ${plural(totals.events, 'event')}, ${percent(totals.failed, totals.successful + totals.failed)} failed`);
  } else {
    parts.push('last hour: —');
  }
  return h('p', {class: 'muted', 'data-summary': ''}, parts.join(' · '));
}

function pipelineOf(c, data, act) {
  const destination = data.destinations.find((d) => d.id === c.destination.id) || c.destination;
  const source = data.sources.find((s) => s.id === c.source.id) || c.source;
  return h('section', {class: 'card', 'aria-label': `Connection ${c.full_name || c.id}`, dataset: {connectionId: c.id}},
    h('div', {class: 'pipeline'},
      sourceNode(source, data.lastRequests.get(source.id)),
      connectionNode(c, data.metrics, act),
      destinationNode(destination, data.backlogs.get(destination.id), data.metrics, act, {cli: data.cli, connected: true})));
}

function unconnected(data, act) {
  const usedSources = new Set(data.connections.map((c) => c.source.id));
  const usedDestinations = new Set(data.connections.map((c) => c.destination.id));
  const sources = data.sources.filter((s) => !usedSources.has(s.id));
  const destinations = data.destinations.filter((d) => !usedDestinations.has(d.id));
  return [
    sources.length ? [h('h2', null, 'Sources without connections'),
      h('p', {class: 'muted'}, 'Their requests are stored but not delivered anywhere.'),
      h('div', {class: 'grid'}, sources.map((s) => h('div', {dataset: {sourceId: s.id}},
        sourceNode(s, data.lastRequests.get(s.id)),
        h('a', {href: `#/connections/new?source_id=${encodeURIComponent(s.id)}`, class: 'button'}, 'Connect to a destination'))))] : null,
    destinations.length ? [h('h2', null, 'Destinations without connections'),
      h('div', {class: 'grid'}, destinations.map((d) => h('div', {dataset: {destinationId: d.id}},
        destinationNode(d, data.backlogs.get(d.id), data.metrics, act, {cli: data.cli, connected: false}),
        h('a', {href: `#/connections/new?destination_id=${encodeURIComponent(d.id)}`, class: 'button'}, 'Connect a source'))))] : null,
  ];
}

// ---------------------------------------------------------------------------
// The page.

async function overviewPage(main) {
  const status = h('div', {role: 'status'});
  const body = h('div', null, h('p', {class: 'muted'}, 'Loading…'));
  let busy = false;

  const refresh = async () => {
    if (busy) return;
    busy = true;
    try {
      const data = await loadAll();
      replace(body, render(data));
    } catch (e) {
      replace(status, notice('error', `Could not load the overview: ${e.message}`));
    } finally {
      busy = false;
    }
  };
  /** An action button's handler: the API call, then a fresh overview (or the error). */
  const act = (path) => async (e) => {
    e.target.disabled = true;
    try {
      await api.put(path);
      replace(status);
      await refresh();
    } catch (err) {
      replace(status, notice('error', err.message));
      e.target.disabled = false;
    }
  };
  const render = (data) => {
    const nothing = !data.connections.length && !data.sources.length && !data.destinations.length;
    if (nothing) return gettingStarted();
    return [
      summaryLine(data),
      data.connections.length ? null : notice('info', 'No connections yet: ', link('#/connections/new', 'create one'), ' to deliver what your sources receive.'),
      [...data.connections].sort(byRoute).map((c) => pipelineOf(c, data, act)),
      unconnected(data, act),
    ];
  };

  replace(main,
    pageHeader('Connections',
      h('a', {href: '#/connections/new', class: 'button primary'}, 'New connection'),
      h('a', {href: '#/sources/new', class: 'button'}, 'New source'),
      h('a', {href: '#/destinations/new', class: 'button'}, 'New destination'),
      button('Refresh', () => refresh())),
    status, body);
  await refresh();

  // Refreshing rebuilds the page, so it waits while the user is working in it.
  const timer = setInterval(() => {
    const active = document.activeElement;
    const idle = !active || active === document.body || active === main || !main.contains(active);
    if (!document.hidden && idle) refresh();
  }, REFRESH_MS);
  return () => clearInterval(timer);
}

function byRoute(a, b) {
  return (a.full_name || '').localeCompare(b.full_name || '');
}

export const routes = [
  ['/', overviewPage],
];
