//! Requests (`#/requests`): every webhook received, as it arrived, filtered and
//! live like the events list; and one request (`#/requests/:id`) with its data,
//! the events it made, the connections that ignored it, and "Retry request".

import {h, replace, clear, notice, pageHeader, table, button, badge, time, relative, bytes, link} from '../dom.js';
import {api, all, ApiError} from '../api.js';
import {navigate} from '../router.js';
import {
  mountList, lookups, requestColumns, eventColumns, selectFilter, textFilter, timeRangeFilter, jsonFilter,
  topicFilter, sourceName, connectionName, rejectionSentence, ignoredSentence,
} from '../listing.js';
import {requestBlock} from './event.js';
import {byName} from './events.js';

const REJECTION_CAUSES = ['SOURCE_DISABLED', 'NO_CONNECTION', 'VERIFICATION_FAILED', 'UNSUPPORTED_HTTP_METHOD', 'PAYLOAD_TOO_LARGE', 'INVALID_MESSAGE'];

function controls(n) {
  return [
    selectFilter('status', 'Status', [['accepted', 'Accepted'], ['rejected', 'Rejected']]),
    selectFilter('source_id', 'Source', byName(n.sources)),
    topicFilter(n.topics),
    selectFilter('rejection_cause', 'Rejected because', REJECTION_CAUSES.map((c) => [c, c])),
    selectFilter('verified', 'Signature', [['true', 'Verified'], ['false', 'Not verified']]),
    selectFilter('events_count', 'Events', [['0', 'None (all ignored or rejected)']]),
    timeRangeFilter('ingested_at', 'Received'),
    textFilter('search_term', 'Search', 'text in body, headers, path'),
  ];
}

function advanced() {
  return [
    jsonFilter('headers', 'Headers pattern (JSON)', '{"user-agent": {"$contains": "Stripe"}}'),
    jsonFilter('body', 'Body pattern (JSON)', '{"type": "invoice.paid"}'),
  ];
}

function list(main) {
  return mountList(main, {
    title: 'Requests',
    noun: 'request',
    path: '/requests',
    timeParam: 'ingested_at',
    timeField: 'ingested_at',
    columns: requestColumns,
    controls,
    advanced,
    detail: (r) => `#/requests/${encodeURIComponent(r.id)}`,
  });
}

/* ---------- one request ---------- */

function summaryCard(r) {
  const facts = [
    ['Source', sourceName(r.source_id)],
    ['Topic', r.topic
      ? [h('span', {class: 'mono', dataset: {topic: r.topic}}, r.topic), ' ',
        link(`#/requests?${new URLSearchParams({topic: r.topic, source_id: r.source_id})}`, 'Requests with this topic')]
      : h('span', {class: 'muted'}, 'none')],
    ['Received', [time(r.ingested_at || r.created_at), h('span', {class: 'muted'}, ` (${relative(r.ingested_at || r.created_at)})`)]],
    ['Method', h('span', {class: 'mono'}, r.method)],
    ['Body size', bytes(r.body_size)],
    ['Signature', r.verified === true ? 'verified' : r.verified === false ? badge('not verified') : 'not checked'],
    ['Events', String(r.events_count ?? 0)],
    ['Ignored', String(r.ignored_count ?? 0)],
  ];
  if (r.rejection_cause) {
    facts.push(['Rejected', [badge('rejected'), ' ', h('span', {class: 'mono'}, r.rejection_cause),
      h('div', {dataset: {cause: r.rejection_cause}}, rejectionSentence(r.rejection_cause))]]);
  }
  return h('section', {class: 'card', 'aria-label': 'Request summary'}, h('dl', {class: 'kv'}, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])));
}

function ignoredTable(list) {
  return table([
    {label: 'Connection', cell: (i) => connectionName(i.webhook_id)},
    {label: 'Cause', cell: (i) => [h('span', {class: 'mono'}, i.cause), h('div', {dataset: {cause: i.cause}}, ignoredSentence(i.cause, i.meta))]},
    {label: 'Details', cell: (i) => (i.meta ? h('span', {class: 'mono'}, JSON.stringify(i.meta)) : h('span', {class: 'muted'}, '—'))},
    {label: 'Time', cell: (i) => time(i.created_at)},
  ], list, {empty: 'No connection ignored it.'});
}

const pending = (e) => e.status === 'QUEUED' || e.status === 'SCHEDULED';

async function detail(main, {id}) {
  const path = `/requests/${encodeURIComponent(id)}`;
  const [request] = await Promise.all([api.get(path), lookups()]);
  const state = {stopped: false, timer: null, events: []};
  const messages = h('div', {'aria-live': 'polite'});
  const retrySlot = h('div');
  const summarySlot = h('div');
  const eventsSlot = h('div');
  const ignoredSlot = h('div');
  const say = (kind, ...text) => replace(messages, notice(kind, ...text));

  async function loadEvents() {
    const [events, ignored, fresh] = await Promise.all([
      api.get(`${path}/events`, {limit: 50}),
      api.get(`${path}/ignored_events`),
      api.get('/requests', {id, limit: 1}),
    ]);
    if (state.stopped) return;
    state.events = events.models;
    replace(eventsSlot, table(eventColumns(), events.models, {
      onRow: (e) => navigate(`#/events/${encodeURIComponent(e.id)}`),
      empty: 'This request made no events.',
    }), events.pagination?.next ? h('p', null, link(`#/events?request_id=${encodeURIComponent(id)}`, 'All its events →')) : null);
    replace(ignoredSlot, ignoredTable(ignored.models));
    if (fresh.models[0]) replace(summarySlot, summaryCard(fresh.models[0]));
  }

  /** Follows the events while any may still change (a retry's new event). */
  function watch() {
    clearTimeout(state.timer);
    const tick = async () => {
      if (state.stopped) return;
      try { await loadEvents(); } catch { /* tried again on the next tick */ }
      if (state.events.some(pending) && !state.stopped) state.timer = setTimeout(tick, 2000);
    };
    state.timer = setTimeout(tick, 1000);
  }

  async function openRetry() {
    const connections = await all('/connections', {source_id: request.source_id});
    const boxes = connections.map((c) => h('input', {type: 'checkbox', name: 'webhook_ids', value: c.id, checked: true, id: `retry-${c.id}`}));
    const top = h('div');
    const form = h('form', {class: 'card', 'aria-label': 'Retry request', onsubmit: async (ev) => {
      ev.preventDefault();
      clear(top);
      const ids = boxes.filter((b) => b.checked).map((b) => b.value);
      try {
        const out = await api.post(`${path}/retry`, {webhook_ids: ids});
        clear(retrySlot);
        say('ok', out.events.length
          ? `Sent through again: ${out.events.length} new event${out.events.length === 1 ? '' : 's'}.`
          : 'Sent through again, but no connection let it through (see "Ignored").');
        await loadEvents();
        watch();
      } catch (e) { replace(top, notice('error', e instanceof ApiError ? e.message : String(e.message))); }
    }},
    h('p', null, 'Route this request again through these connections, with their rules as they are now (filters, transformation, delay). Each that lets it through makes a new event.'),
    top,
    connections.length
      ? h('fieldset', null, h('legend', null, 'Connections'), connections.map((c, i) => h('div', null,
        h('label', {for: boxes[i].id}, boxes[i], ' ', c.full_name || c.name || c.id, c.disabled_at ? ' (disabled)' : c.paused_at ? ' (paused)' : ''))))
      : notice('info', 'Its source has no connections now.'),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary', disabled: !connections.length}, 'Retry request'),
      button('Cancel', () => clear(retrySlot), 'link')));
    replace(retrySlot, form);
    form.querySelector('button[type=submit]').focus();
  }

  const retryB = button('Retry request…', async () => {
    try { await openRetry(); } catch (e) { say('error', e.message); }
  }, 'primary');

  replace(main,
    pageHeader(h('span', null, 'Request ', h('span', {class: 'mono'}, id)), retryB),
    h('p', null, link('#/requests', '← Requests')),
    messages, retrySlot, summarySlot,
    h('h2', null, 'Events'), eventsSlot,
    h('h2', null, 'Ignored by'), ignoredSlot,
    h('h2', null, 'As received'),
    requestBlock(request.data, {method: request.method, size: request.body_size, rawPath: `${path}/raw_body`, fileName: `${id}.body`}));
  replace(summarySlot, summaryCard(request));
  await loadEvents();
  if (state.events.some(pending)) watch();
  return () => { state.stopped = true; clearTimeout(state.timer); };
}

export const routes = [['/requests', list], ['/requests/:id', detail]];
