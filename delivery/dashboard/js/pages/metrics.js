//! Metrics: requests received and events delivered or failed over time, and
//! delivery latency per destination (`GET /metrics/events`), as totals, charts
//! and the same numbers in tables. The last-hour view refreshes itself.

import {h, replace, time, notice, pageHeader, table, duration, link} from '../dom.js';
import {api, all, ApiError} from '../api.js';
import {setQuery} from '../router.js';
import {lineChart} from '../chart.js';

const RANGES = [
  {key: '1h', label: 'Last hour', ms: 3600e3, granularity: 'minute'},
  {key: '24h', label: 'Last 24 hours', ms: 86400e3, granularity: 'hour'},
  {key: '7d', label: 'Last 7 days', ms: 7 * 86400e3, granularity: 'hour'},
  {key: '30d', label: 'Last 30 days', ms: 30 * 86400e3, granularity: 'day'},
];
const REFRESH_MS = 10e3;
/** Tables with more rows than this start folded. */
const OPEN_ROWS = 30;

const sum = (rows, key) => rows.reduce((n, r) => n + (Number(r[key]) || 0), 0);
const count = (n) => Number(n || 0).toLocaleString();

function rate(failed, successful) {
  const done = failed + successful;
  return done ? `${((100 * failed) / done).toFixed(1)} %` : '—';
}

async function destinationNames() {
  const [dests, conns] = await Promise.all([all('/destinations').catch(() => []), all('/connections').catch(() => [])]);
  return {
    destinations: new Map(dests.map((d) => [d.id, d.name || d.id])),
    connections: new Map(conns.map((c) => [c.id, c.full_name || c.name || c.id])),
  };
}

async function renderMetrics(main, _params, query) {
  const state = {range: RANGES.find((r) => r.key === query.range) || RANGES[0], destination: query.destination_id || ''};
  const content = h('div', {class: 'metrics'});
  const updated = h('span', {class: 'muted', 'aria-live': 'off'});
  let timer = null;
  let loading = false;
  /** Which load is the latest: an answer to an older one (another range) is dropped. */
  let seq = 0;
  let names = await destinationNames();
  /** The reader's choice to list empty buckets too, kept across refreshes. */
  const prefs = {counts: false, latency: false};

  const rangeTabs = h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Time range'});
  const drawTabs = () => replace(rangeTabs, RANGES.map((r) =>
    h('button', {type: 'button', role: 'tab', 'aria-selected': String(r === state.range), onclick: () => { state.range = r; changed(); }}, r.label)));
  const destSelect = h('select', {id: 'metrics-destination', onchange: () => { state.destination = destSelect.value; changed(); }},
    h('option', {value: ''}, 'All destinations'),
    [...names.destinations].map(([id, name]) => h('option', {value: id, selected: id === state.destination}, name)));

  function changed() {
    setQuery({range: state.range.key === '1h' ? undefined : state.range.key, destination_id: state.destination});
    drawTabs();
    schedule();
    load();
  }
  /** Only the last hour moves fast enough to be worth polling. */
  function schedule() {
    if (timer) clearInterval(timer);
    timer = state.range.key === '1h' ? setInterval(() => load({refresh: true}), REFRESH_MS) : null;
  }
  async function load({refresh = false} = {}) {
    // Left before the router got our cleanup (the first load was still running).
    if (!content.isConnected) { if (timer) clearInterval(timer); timer = null; return; }
    if (refresh && loading) return;
    const mine = ++seq;
    loading = true;
    const end = new Date();
    const start = new Date(end.getTime() - state.range.ms);
    try {
      const data = await api.get('/metrics/events', {
        start: start.toISOString(), end: end.toISOString(), granularity: state.range.granularity, destination_id: state.destination,
      });
      if (mine !== seq) return;
      if (data.destinations?.some((d) => !names.destinations.has(d.destination_id))
        || data.connections?.some((c) => !names.connections.has(c.connection_id))) names = await destinationNames();
      // A refresh keeps the tables the reader unfolded or folded.
      const folds = refresh ? [...content.querySelectorAll('details')].map((d) => d.open) : [];
      replace(content, view(data, names, content.clientWidth || 800, prefs));
      if (folds.length) content.querySelectorAll('details').forEach((d, i) => { if (i < folds.length) d.open = folds[i]; });
      replace(updated, `Updated ${new Date().toLocaleTimeString()}${timer ? ', refreshes every 10 s' : ''}`);
    } catch (e) {
      if (mine !== seq) return;
      replace(content, e instanceof ApiError && e.status === 404
        ? notice('info', 'This gateway does not serve event metrics (GET /metrics/events) yet.')
        : notice('error', e instanceof ApiError ? `${e.status}: ${e.message}` : String(e.message || e)));
    } finally {
      if (mine === seq) loading = false;
    }
  }

  main.append(
    pageHeader('Metrics', updated),
    rangeTabs,
    h('div', {class: 'toolbar'}, h('label', {for: 'metrics-destination'}, 'Destination', destSelect)),
    content);
  drawTabs();
  schedule();
  await load();
  return () => { if (timer) clearInterval(timer); };
}

function view(data, names, width, prefs) {
  const buckets = data.buckets || [];
  const times = buckets.map((b) => new Date(b.time));
  return h('div', null,
    totals(buckets),
    h('h2', null, 'Requests and deliveries'),
    lineChart({
      title: 'Requests received, events delivered and failed per bucket',
      times,
      series: [
        {name: 'Requests', values: buckets.map((b) => b.requests)},
        {name: 'Delivered', values: buckets.map((b) => b.successful)},
        {name: 'Failed', values: buckets.map((b) => b.failed)},
      ],
      format: (v) => (v === null || v === undefined ? '—' : count(v)),
      width,
    }),
    numbers('Counts', data.granularity, buckets, (b) => b.requests || b.events || b.successful || b.failed || b.pending, bucketTable, prefs, 'counts'),
    latencySection(data.destinations || [], times, names, width, data.granularity, prefs),
    connectionsSection(data.connections || [], names));
}

function totals(buckets) {
  const received = sum(buckets, 'requests');
  const events = sum(buckets, 'events');
  const successful = sum(buckets, 'successful');
  const failed = sum(buckets, 'failed');
  const pending = sum(buckets, 'pending');
  const stat = (key, label, value) => h('div', {class: 'card', 'data-metric': key},
    h('div', {class: 'muted'}, label), h('div', {class: 'stat'}, value));
  return h('div', {class: 'grid totals', role: 'group', 'aria-label': 'Totals'},
    stat('received', 'Requests received', count(received)),
    stat('events', 'Events', count(events)),
    stat('delivered', 'Delivered', count(successful)),
    stat('failed', 'Failed', count(failed)),
    stat('pending', 'Pending', count(pending)),
    stat('failure-rate', 'Failure rate', rate(failed, successful)));
}

/**
 * The numbers behind a chart as a table of the buckets with activity (newest
 * first); a checkbox lists the empty ones too. Long tables start folded.
 */
function numbers(title, unit = 'bucket', rows, active, render, prefs, key) {
  const busy = rows.filter(active);
  const box = h('div');
  const draw = () => replace(box, render(prefs[key] ? rows : busy));
  const toggle = h('input', {type: 'checkbox', checked: prefs[key], onchange: () => { prefs[key] = toggle.checked; draw(); }});
  draw();
  return h('details', {class: 'numbers', open: (prefs[key] ? rows : busy).length <= OPEN_ROWS},
    h('summary', null, `${title} per ${unit}: ${busy.length} of ${rows.length} ${unit}s with activity`),
    h('label', {class: 'muted'}, toggle, ` Show empty ${unit}s too`),
    box);
}

function bucketTable(buckets) {
  return table([
    {label: 'Time', cell: (b) => time(b.time)},
    {label: 'Requests', cell: (b) => count(b.requests)},
    {label: 'Events', cell: (b) => count(b.events)},
    {label: 'Delivered', cell: (b) => count(b.successful)},
    {label: 'Failed', cell: (b) => count(b.failed)},
    {label: 'Pending', cell: (b) => count(b.pending)},
  ], [...buckets].reverse(), {empty: 'No activity in this range.'});
}

/** Average latency over a destination's buckets, weighted by their deliveries. */
function weightedLatency(buckets) {
  let n = 0;
  let total = 0;
  for (const b of buckets) {
    if (b.avg_latency_ms === null || b.avg_latency_ms === undefined) continue;
    const w = b.successful || 1;
    n += w;
    total += b.avg_latency_ms * w;
  }
  return n ? total / n : null;
}

function maxLatency(buckets) {
  const values = buckets.map((b) => b.max_latency_ms).filter((v) => v !== null && v !== undefined);
  return values.length ? Math.max(...values) : null;
}

function latencySection(destinations, times, names, width, unit, prefs) {
  const name = (d) => names.destinations.get(d.destination_id) || d.destination_id;
  const head = h('h2', null, 'Delivery latency per destination');
  if (!destinations.length) return [head, h('p', {class: 'muted'}, 'No deliveries in this range.')];
  const series = destinations.map((d) => ({name: name(d), values: d.buckets.map((b) => b.avg_latency_ms ?? null)}));
  return [
    head,
    h('p', {class: 'muted'}, 'From an event\'s creation (its request\'s arrival) to its successful attempt, averaged per bucket.'),
    series.some((x) => x.values.some((v) => v !== null))
      ? lineChart({title: 'Average delivery latency per destination', times, series, format: (v) => (v === null || v === undefined ? '—' : duration(v)), width})
      : notice('info', 'No successful delivery in this range, so no latency to chart.'),
    table([
      {label: 'Destination', cell: (d) => link(`#/destinations/${encodeURIComponent(d.destination_id)}`, name(d))},
      {label: 'Delivered', cell: (d) => count(sum(d.buckets, 'successful'))},
      {label: 'Failed', cell: (d) => count(sum(d.buckets, 'failed'))},
      {label: 'Avg latency', cell: (d) => duration(weightedLatency(d.buckets))},
      {label: 'Max latency', cell: (d) => duration(maxLatency(d.buckets))},
    ], destinations),
    numbers('Latency', unit, times.map((t, i) => ({t, i})),
      (r) => destinations.some((d) => d.buckets[r.i]?.successful || d.buckets[r.i]?.failed),
      (rows) => latencyTable(destinations, rows, name), prefs, 'latency'),
  ];
}

function latencyTable(destinations, rows, name) {
  return table([
    {label: 'Time', cell: (r) => time(r.t.toISOString())},
    ...destinations.map((d) => ({label: name(d), cell: (r) => {
      const b = d.buckets[r.i] || {};
      return b.avg_latency_ms === null || b.avg_latency_ms === undefined ? '—'
        : `${duration(b.avg_latency_ms)} (max ${duration(b.max_latency_ms)})`;
    }})),
  ], [...rows].reverse(), {empty: 'No deliveries in this range.'});
}

function connectionsSection(connections, names) {
  if (!connections.length) return null;
  const name = (c) => names.connections.get(c.connection_id) || c.connection_id;
  return [
    h('h2', null, 'Per connection'),
    table([
      {label: 'Connection', cell: (c) => link(`#/connections/${encodeURIComponent(c.connection_id)}`, name(c))},
      {label: 'Events', cell: (c) => count(c.events)},
      {label: 'Delivered', cell: (c) => count(c.successful)},
      {label: 'Failed', cell: (c) => count(c.failed)},
      {label: 'Pending', cell: (c) => count(c.pending)},
      {label: 'Failure rate', cell: (c) => rate(c.failed || 0, c.successful || 0)},
    ], [...connections].sort((a, b) => (b.events || 0) - (a.events || 0))),
  ];
}

export const routes = [['/metrics', renderMetrics]];
