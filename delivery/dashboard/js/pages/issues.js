//! Issues (failures grouped by connection and cause, and broker sources that
//! cannot be consumed): the list by status, one
//! issue with its events and a sample attempt, its status changes; and the issue
//! triggers that decide who is alerted (email, webhook, Slack, PagerDuty, Opsgenie).

import {h, replace, time, badge, pretty, code, table, notice, pageHeader, button, link, duration} from '../dom.js';
import {api, all, ApiError} from '../api.js';
import {navigate, setQuery} from '../router.js';
import {FormState} from '../form.js';
import {responseInWords} from '../listing.js';

const STATUSES = [
  ['OPENED', 'Open'], ['ACKNOWLEDGED', 'Acknowledged'], ['RESOLVED', 'Resolved'], ['IGNORED', 'Ignored'], ['', 'All'],
];
const TYPES = ['delivery', 'transformation', 'backpressure', 'source'];
const ORDERS = [['last_seen_at', 'Last seen'], ['first_seen_at', 'First seen'], ['opened_at', 'Opened'], ['created_at', 'Created']];
const PAGE = 25;

/* ---------- names of connections, destinations and sources (ids are all issues carry) ---------- */

let namesCache = null;

/** Connection, destination and source names by id, fetched once a minute at most. */
async function loadNames() {
  if (namesCache && Date.now() - namesCache.at < 60e3) return namesCache;
  const [conns, dests, sources] = await Promise.all([
    all('/connections').catch(() => []),
    all('/destinations').catch(() => []),
    all('/sources').catch(() => []),
  ]);
  namesCache = {
    at: Date.now(),
    connections: new Map(conns.map((c) => [c.id, c.full_name || c.name || c.id])),
    destinations: new Map(dests.map((d) => [d.id, d.name || d.id])),
    sources: new Map(sources.map((s) => [s.id, {name: s.name || s.id, type: s.type}])),
  };
  return namesCache;
}

function connectionOf(issue) {
  return issue.aggregation_keys?.webhook_id?.[0] || null;
}

function connectionLink(names, id) {
  if (!id) return null;
  return link(`#/connections/${encodeURIComponent(id)}`, names.connections.get(id) || id);
}

function destinationLink(names, id) {
  if (!id) return null;
  return link(`#/destinations/${encodeURIComponent(id)}`, names.destinations.get(id) || id);
}

function sourceLink(names, id) {
  if (!id) return null;
  const s = names.sources.get(id);
  return h('span', null, link(`#/sources/${encodeURIComponent(id)}`, s?.name || id), s?.type ? h('span', {class: 'muted'}, ` ${s.type}`) : null);
}

/** Where the issue is: the connection (delivery, transformation), destination (backpressure) or broker source (source). */
function concerns(issue, names) {
  if (issue.type === 'source') return sourceLink(names, issue.source_id) || h('span', {class: 'muted'}, '—');
  const conn = connectionOf(issue);
  if (conn) return connectionLink(names, conn);
  return destinationLink(names, issue.destination_id) || h('span', {class: 'muted'}, '—');
}

/** The cause in a few words: the response status or the error code. */
function cause(issue) {
  const k = issue.aggregation_keys || {};
  if (k.response_status?.length) return badge(k.response_status[0]);
  if (issue.type === 'source') return h('span', null, 'cannot be consumed', k.error_code?.length ? [': ', h('span', {class: 'mono'}, k.error_code[0])] : null);
  if (k.error_code?.length) return h('span', {class: 'mono'}, k.error_code[0]);
  if (issue.type === 'backpressure') return 'backlog too old';
  if (issue.type === 'transformation') return 'transformation error';
  return h('span', {class: 'muted'}, 'unknown');
}

const typeLabel = (t) => (t ? t[0].toUpperCase() + t.slice(1) : '—');

/** Newer/older buttons for a seek-paged list. */
function pager(pagination, go) {
  return h('div', {class: 'pager'},
    h('button', {type: 'button', disabled: !pagination?.prev, onclick: () => go({prev: pagination.prev})}, '← Newer'),
    h('button', {type: 'button', disabled: !pagination?.next, onclick: () => go({next: pagination.next})}, 'Older →'));
}

function tabs(options, current, choose, label) {
  return h('div', {class: 'tabs', role: 'tablist', 'aria-label': label}, options.map(([value, text]) =>
    h('button', {type: 'button', role: 'tab', 'aria-selected': String(value === current), onclick: () => choose(value)}, text)));
}

function showError(el, e) {
  replace(el, notice('error', e instanceof ApiError ? `${e.status}: ${e.message}` : String(e.message || e)));
}

/* ---------- the list ---------- */

async function renderList(main, _params, query) {
  const state = {
    status: query.status ?? 'OPENED',
    type: query.type || '',
    order_by: query.order_by || 'last_seen_at',
    next: query.next, prev: query.prev,
  };
  const results = h('div', {'aria-live': 'polite'});
  const sync = () => setQuery({status: state.status === 'OPENED' ? undefined : (state.status || 'all'), type: state.type,
    order_by: state.order_by === 'last_seen_at' ? undefined : state.order_by, next: state.next, prev: state.prev});
  const reload = () => { sync(); load(); };
  if (state.status === 'all') state.status = '';

  const statusTabs = h('div');
  const drawTabs = () => replace(statusTabs, tabs(STATUSES, state.status, (s) => {
    Object.assign(state, {status: s, next: undefined, prev: undefined});
    drawTabs(); reload();
  }, 'Issue status'));
  drawTabs();

  const typeSelect = h('select', {id: 'issue-type', onchange: () => { Object.assign(state, {type: typeSelect.value, next: undefined, prev: undefined}); reload(); }},
    h('option', {value: ''}, 'All types'), TYPES.map((t) => h('option', {value: t, selected: t === state.type}, typeLabel(t))));
  const orderSelect = h('select', {id: 'issue-order', onchange: () => { Object.assign(state, {order_by: orderSelect.value, next: undefined, prev: undefined}); reload(); }},
    ORDERS.map(([v, l]) => h('option', {value: v, selected: v === state.order_by}, l)));

  main.append(
    pageHeader('Issues', h('a', {href: '#/issues/triggers', class: 'button'}, 'Issue triggers')),
    statusTabs,
    h('div', {class: 'toolbar'},
      h('label', {for: 'issue-type'}, 'Type', typeSelect),
      h('label', {for: 'issue-order'}, 'Newest by', orderSelect)),
    results);

  async function load() {
    try {
      const [page, names] = await Promise.all([
        api.get('/issues', {status: state.status, type: state.type, order_by: state.order_by, dir: 'desc', limit: PAGE, next: state.next, prev: state.prev}),
        loadNames(),
      ]);
      replace(results, issueTable(page.models, names), pager(page.pagination, (cursor) => {
        Object.assign(state, {next: undefined, prev: undefined}, cursor);
        reload();
      }));
    } catch (e) {
      showError(results, e);
    }
  }
  await load();
}

function issueTable(issues, names) {
  return table([
    {label: 'Issue', cell: (i) => link(`#/issues/${encodeURIComponent(i.id)}`, `${typeLabel(i.type)} issue`)},
    {label: 'Status', cell: (i) => badge(i.status)},
    {label: 'Concerns', cell: (i) => concerns(i, names)},
    {label: 'Cause', cell: cause},
    {label: 'First seen', cell: (i) => time(i.first_seen_at)},
    {label: 'Last seen', cell: (i) => time(i.last_seen_at)},
    {label: 'Events', class: 'num', cell: (i) => h('span', {title: `${i.opened_count} since it last opened`}, String(i.event_count))},
  ], issues, {onRow: (i) => navigate(`#/issues/${encodeURIComponent(i.id)}`), empty: 'No issues with this status.'});
}

/* ---------- one issue ---------- */

const ACTIONS = [['ACKNOWLEDGED', 'Acknowledge'], ['IGNORED', 'Ignore'], ['RESOLVED', 'Resolve'], ['OPENED', 'Reopen']];

async function renderIssue(main, {id}) {
  const [issue, names] = await Promise.all([api.get(`/issues/${encodeURIComponent(id)}`), loadNames()]);
  const header = h('div');
  const status = h('div', {'aria-live': 'polite'});
  const summary = h('div', {class: 'card'});
  const sample = h('div', {class: 'card'}, h('p', {class: 'muted'}, 'Loading…'));
  const events = h('div');

  let current = issue;
  const draw = (shown) => {
    current = shown;
    replace(header, pageHeader(`${typeLabel(shown.type)} issue`, statusButtons(shown, change)));
    replace(summary, issueSummary(shown, names));
  };
  async function change(next, label) {
    header.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    try {
      const updated = await api.put(`/issues/${encodeURIComponent(id)}`, {status: next});
      draw(updated);
      replace(status, notice('ok', `${label}: the issue is now `, badge(updated.status), '.'));
    } catch (e) {
      draw(current);
      showError(status, e);
    }
  }
  draw(issue);
  main.append(header, status, h('h2', null, 'What failed'), summary);
  // A broker source that cannot be read has no events or attempts to show.
  if (issue.type === 'source') return;
  main.append(h('h2', null, 'Sample attempt'), sample, h('h2', null, 'Events'), events);
  await loadEvents(events, id, {}, sample, issue);
}

function statusButtons(issue, change) {
  return ACTIONS.filter(([s]) => s !== issue.status)
    .map(([s, label]) => button(label, () => change(s, label), s === 'RESOLVED' ? 'primary' : ''));
}

function issueSummary(issue, names) {
  const k = issue.aggregation_keys || {};
  const rows = [
    ['Status', badge(issue.status)],
    ['Type', typeLabel(issue.type)],
    ['Connection', connectionLink(names, connectionOf(issue))],
    ['Destination', destinationLink(names, issue.destination_id)],
    ['Source', issue.type === 'source' ? sourceLink(names, issue.source_id) : null],
    ['What happened', issue.type === 'source' ? 'The gateway cannot read from this broker source; it keeps reconnecting, and the issue resolves once a consumer reads again.' : null],
    ['Response status', k.response_status?.length ? badge(k.response_status[0]) : null],
    ['Error', k.error_code?.length ? h('span', {class: 'mono'}, k.error_code[0]) : null],
    ['Events', `${issue.event_count} in all, ${issue.opened_count} since it last opened`],
    ['First seen', time(issue.first_seen_at)],
    ['Last seen', time(issue.last_seen_at)],
    ['Opened', time(issue.opened_at)],
    ['Dismissed', issue.dismissed_at ? time(issue.dismissed_at) : null],
    ['Resolved by itself', issue.auto_resolved_at ? time(issue.auto_resolved_at) : null],
    ['Id', h('span', {class: 'mono'}, issue.id)],
  ].filter(([, v]) => v !== null && v !== undefined);
  return h('dl', {class: 'kv'}, rows.map(([dt, dd]) => [h('dt', null, dt), h('dd', null, dd)]));
}

async function loadEvents(el, issueId, cursor, sample, issue) {
  try {
    const page = await api.get('/events', {issue_id: issueId, limit: PAGE, ...cursor});
    replace(el, table([
      {label: 'Event', cell: (e) => link(`#/events/${encodeURIComponent(e.id)}`, h('span', {class: 'mono'}, e.id))},
      {label: 'Status', cell: (e) => badge(e.status)},
      {label: 'Response', cell: (e) => (e.response_status ? badge(e.response_status) : h('span', {class: 'mono'}, e.error_code || '—'))},
      {label: 'Attempts', cell: (e) => String(e.attempts)},
      {label: 'Received', cell: (e) => time(e.created_at)},
      {label: 'Last attempt', cell: (e) => time(e.last_attempt_at)},
    ], page.models, {onRow: (e) => navigate(`#/events/${encodeURIComponent(e.id)}`), empty: 'No events are grouped in this issue.'}),
    pager(page.pagination, (c) => loadEvents(el, issueId, c)));
    if (sample) await loadSample(sample, issue.reference?.event_id || page.models[0]?.id);
  } catch (e) {
    showError(el, e);
    if (sample) replace(sample, h('p', {class: 'muted'}, 'No attempt to show.'));
  }
}

/** The latest attempt of one of the issue's events: what the destination said. */
async function loadSample(el, eventId) {
  if (!eventId) {
    replace(el, h('p', {class: 'muted'}, 'This issue has no event with an attempt to show.'));
    return;
  }
  try {
    const page = await api.get('/attempts', {event_id: eventId, limit: 1});
    const a = page.models[0];
    if (!a) {
      replace(el, h('p', {class: 'muted'}, 'The event ', link(`#/events/${encodeURIComponent(eventId)}`, eventId), ' has no attempt yet.'));
      return;
    }
    replace(el, attemptView(a));
  } catch (e) {
    showError(el, e);
  }
}

function attemptView(a) {
  const rows = [
    ['Event', link(`#/events/${encodeURIComponent(a.event_id)}`, h('span', {class: 'mono'}, a.event_id))],
    ['Attempt', `#${a.attempt_number ?? '?'}${a.trigger ? ` (${a.trigger.toLowerCase()})` : ''}`],
    ['Status', badge(a.status)],
    ['Response status', responseInWords(a)],
    ['Error', a.error_code || a.error_message ? h('span', null, h('span', {class: 'mono'}, a.error_code || ''), a.error_message ? ` ${a.error_message}` : '') : null],
    ['Request', a.requested_url ? h('span', {class: 'mono'}, `${a.http_method || ''} ${a.requested_url}`) : null],
    ['Sent', time(a.created_at)],
    ['Took', duration(a.delivery_latency)],
  ].filter(([, v]) => v !== null && v !== undefined);
  return h('div', {class: 'sample-attempt'},
    h('dl', {class: 'kv'}, rows.map(([dt, dd]) => [h('dt', null, dt), h('dd', null, dd)])),
    h('h3', null, 'Response body'),
    a.body === null || a.body === undefined || a.body === '' ? h('p', {class: 'muted'}, 'No body.') : code(pretty(a.body), 'response-body'),
    a.response_headers ? h('details', null, h('summary', null, 'Response headers'), code(pretty(a.response_headers))) : null);
}

/* ---------- issue triggers ---------- */

const CHANNELS = ['email', 'webhook', 'slack', 'pagerduty', 'opsgenie'];
const CHANNEL_LABEL = {email: 'Email', webhook: 'Webhook', slack: 'Slack', pagerduty: 'PagerDuty', opsgenie: 'Opsgenie'};

function channelSummary(ch) {
  const parts = [];
  if (ch.email) parts.push(`Email${ch.email.to?.length ? `: ${ch.email.to.join(', ')}` : ' (default recipients)'}`);
  if (ch.webhook) parts.push(`Webhook: ${hostOf(ch.webhook.url)}`);
  if (ch.slack) parts.push(`Slack${ch.slack.channel_name ? ` #${ch.slack.channel_name}` : ''}`);
  if (ch.pagerduty) parts.push('PagerDuty');
  if (ch.opsgenie) parts.push(`Opsgenie (${ch.opsgenie.region || 'us'})`);
  return parts.length ? parts.join(' · ') : h('span', {class: 'muted'}, 'nowhere');
}

function hostOf(url) {
  try { return new URL(url).host; } catch { return url; }
}

function matchText(m) {
  if (Array.isArray(m)) return m.join(', ');
  return m === '*' || m === undefined ? 'all' : m;
}

function whenSummary(t) {
  const c = t.configs || {};
  if (t.type === 'backpressure') {
    return `destinations: ${matchText(c.destinations)}; backlog older than ${duration(c.delay ?? 300000)}`;
  }
  if (t.type === 'source') return `broker sources: ${matchText(c.sources)}; cannot be consumed`;
  const parts = [`connections: ${matchText(c.connections)}`, c.strategy === 'final_attempt' ? 'final attempts' : 'any attempt'];
  if (c.threshold?.consecutive_failures) parts.push(`${c.threshold.consecutive_failures} failures in a row`);
  if (c.threshold?.failure_rate) {
    const r = c.threshold.failure_rate;
    parts.push(`${Math.round(r.rate * 100)} % failing over ${r.window_secs} s`);
  }
  return parts.join('; ');
}

async function renderTriggers(main) {
  const status = h('div', {'aria-live': 'polite'});
  const list = h('div');
  main.append(
    pageHeader('Issue triggers', link('#/issues', 'Issues'), h('a', {href: '#/issues/triggers/new', class: 'button primary'}, 'New trigger')),
    h('p', {class: 'muted'}, 'A trigger sends an alert when an issue of its type opens on the connections, destinations or broker sources it covers.'),
    status, list);
  const load = async (cursor = {}) => {
    try {
      const page = await api.get('/issue-triggers', {limit: 50, ...cursor});
      replace(list, triggerTable(page.models, status, () => load(cursor)), pager(page.pagination, load));
    } catch (e) {
      showError(list, e);
    }
  };
  await load();
}

function triggerTable(triggers, status, reload) {
  return table([
    {label: 'Name', cell: (t) => link(`#/issues/triggers/${encodeURIComponent(t.id)}`, t.name || 'unnamed')},
    {label: 'Type', cell: (t) => typeLabel(t.type)},
    {label: 'When', cell: whenSummary},
    {label: 'Alerts', cell: (t) => channelSummary(t.channels || {})},
    {label: 'State', cell: (t) => badge(t.disabled_at ? 'disabled' : 'enabled')},
    {label: 'Updated', cell: (t) => time(t.updated_at)},
    {label: '', cell: (t) => triggerActions(t, status, reload)},
  ], triggers, {onRow: (t) => navigate(`#/issues/triggers/${encodeURIComponent(t.id)}`), empty: 'No triggers: issues open without alerting anyone.'});
}

function triggerActions(t, status, reload) {
  const box = h('div', {class: 'actions'});
  const label = t.name || t.id;
  const toggle = button(t.disabled_at ? 'Enable' : 'Disable', async () => {
    try {
      await api.put(`/issue-triggers/${encodeURIComponent(t.id)}/${t.disabled_at ? 'enable' : 'disable'}`);
      replace(status, notice('ok', `Trigger ${label} ${t.disabled_at ? 'enabled' : 'disabled'}.`));
      reload();
    } catch (e) { showError(status, e); }
  });
  const del = button('Delete', () => replace(box, h('span', null, `Delete ${label}?`),
    button('Delete', async () => {
      try {
        await api.del(`/issue-triggers/${encodeURIComponent(t.id)}`);
        replace(status, notice('ok', `Trigger ${label} deleted.`));
        reload();
      } catch (e) { showError(status, e); }
    }, 'danger'),
    button('Cancel', () => replace(box, toggle, del), 'link')), 'danger');
  box.append(toggle, del);
  return box;
}

async function renderTrigger(main, {id}) {
  const existing = id === 'new' ? null : await api.get(`/issue-triggers/${encodeURIComponent(id)}`);
  main.append(pageHeader(existing ? `Trigger ${existing.name || existing.id}` : 'New issue trigger', link('#/issues/triggers', 'All triggers')));
  main.append(triggerForm(existing));
}

function triggerForm(t) {
  const c = t?.configs || {};
  const ch = t?.channels || {};
  // Fields registered under the API's name for them, so an error naming
  // `configs.threshold.failure_rate` lands next to that input.
  const kit = new FormState();
  const input = (id, props = {}) => h('input', {id, name: id, ...props});
  const name = input('trigger-name', {value: t?.name || '', autocomplete: 'off'});
  const type = h('select', {id: 'trigger-type'}, TYPES.map((x) => h('option', {value: x, selected: x === (t?.type || 'delivery')}, typeLabel(x))));
  const strategy = h('select', {id: 'trigger-strategy'},
    h('option', {value: 'first_attempt', selected: c.strategy !== 'final_attempt'}, 'Any failed attempt'),
    h('option', {value: 'final_attempt', selected: c.strategy === 'final_attempt'}, 'Only failures with no retry left'));
  const connections = input('trigger-connections', {value: matchInput(c.connections)});
  const destinations = input('trigger-destinations', {value: matchInput(c.destinations)});
  const sources = input('trigger-sources', {value: matchInput(c.sources)});
  const consecutive = input('trigger-consecutive', {type: 'number', min: 1, step: 1, value: c.threshold?.consecutive_failures ?? ''});
  const rate = input('trigger-rate', {type: 'number', min: 0, max: 1, step: 0.01, value: c.threshold?.failure_rate?.rate ?? ''});
  const windowSecs = input('trigger-window', {type: 'number', min: 1, step: 1, value: c.threshold?.failure_rate?.window_secs ?? ''});
  const minAttempts = input('trigger-min-attempts', {type: 'number', min: 1, step: 1, value: c.threshold?.failure_rate?.min_attempts ?? ''});
  const delay = input('trigger-delay', {type: 'number', min: 1, max: 1440, step: 1, value: c.delay ? c.delay / 60000 : ''});

  const attemptOnly = h('div', null,
    kit.field('configs.strategy', 'Counts', strategy).wrap,
    kit.field('configs.connections', 'Connections', connections, {hint: '* for all, a name pattern with * (shop-*), or connection ids separated by commas.'}).wrap,
    h('fieldset', null, h('legend', null, 'Threshold (optional)'),
      kit.field('configs.threshold.consecutive_failures', 'Failures in a row', consecutive, {hint: 'Alert only once the issue failed this many times in a row.'}).wrap,
      kit.field('configs.threshold.failure_rate', 'Failure rate (0–1)', rate, {hint: 'Or alert when this share of the destination\'s attempts failed…'}).wrap,
      kit.field('configs.threshold.failure_rate.window_secs', 'Over the last (seconds)', windowSecs).wrap,
      kit.field('configs.threshold.failure_rate.min_attempts', 'Counting from (attempts)', minAttempts).wrap));
  const backlogOnly = h('div', null,
    kit.field('configs.destinations', 'Destinations', destinations, {hint: '* for all, a name pattern with *, or destination ids separated by commas.'}).wrap,
    kit.field('configs.delay', 'Backlog older than (minutes)', delay, {hint: '1 to 1440 minutes; default 5.'}).wrap);
  const sourceOnly = h('div', null,
    kit.field('configs.sources', 'Broker sources', sources, {hint: 'Alerts when the gateway cannot consume a RABBITMQ, NATS, AWS_SQS or REDIS_STREAM source. * for all, a name pattern with *, or source ids separated by commas.'}).wrap);
  const showType = () => {
    attemptOnly.hidden = type.value === 'backpressure' || type.value === 'source';
    backlogOnly.hidden = type.value !== 'backpressure';
    sourceOnly.hidden = type.value !== 'source';
  };
  type.addEventListener('change', showType);
  showType();

  const channelInputs = {
    email: {to: input('ch-email-to', {value: (ch.email?.to || []).join(', '), placeholder: 'ops@example.com, oncall@example.com'})},
    webhook: {url: input('ch-webhook-url', {type: 'url', value: ch.webhook?.url || '', placeholder: 'https://'})},
    slack: {channel_name: input('ch-slack-channel', {value: ch.slack?.channel_name || ''}), url: input('ch-slack-url', {type: 'url', value: ch.slack?.url || '', placeholder: 'https://hooks.slack.com/…'})},
    pagerduty: {routing_key: input('ch-pagerduty-key', {value: ch.pagerduty?.routing_key || '', autocomplete: 'off'})},
    opsgenie: {
      api_key: input('ch-opsgenie-key', {value: ch.opsgenie?.api_key || '', autocomplete: 'off'}),
      region: h('select', {id: 'ch-opsgenie-region'}, ['us', 'eu'].map((r) => h('option', {value: r, selected: r === (ch.opsgenie?.region || 'us')}, r.toUpperCase()))),
    },
  };
  const channelFields = {
    email: [kit.field('channels.email', 'Recipients', channelInputs.email.to, {hint: 'Comma-separated; empty: the gateway\'s alerts.email.to.'}).wrap],
    webhook: [kit.field('channels.webhook', 'URL', channelInputs.webhook.url, {hint: 'Receives Slack-compatible {"text": …} POSTs.'}).wrap],
    slack: [kit.field('channels.slack.channel_name', 'Channel', channelInputs.slack.channel_name).wrap, kit.field('channels.slack', 'Incoming webhook URL', channelInputs.slack.url).wrap],
    pagerduty: [kit.field('channels.pagerduty', 'Routing key', channelInputs.pagerduty.routing_key, {hint: 'Events API v2 integration key; incidents resolve with the issue.'}).wrap],
    opsgenie: [kit.field('channels.opsgenie', 'API key', channelInputs.opsgenie.api_key).wrap, kit.field('channels.opsgenie.region', 'Region', channelInputs.opsgenie.region).wrap],
  };
  const enabled = {};
  const channelBlocks = CHANNELS.map((k) => {
    const box = h('div', {class: 'channel-fields'}, channelFields[k]);
    enabled[k] = h('input', {type: 'checkbox', id: `ch-${k}`, checked: Boolean(ch[k]), onchange: () => { box.hidden = !enabled[k].checked; }});
    box.hidden = !ch[k];
    return h('div', {class: 'channel'}, h('label', {for: `ch-${k}`}, enabled[k], ` ${CHANNEL_LABEL[k]}`), box);
  });

  const body = () => {
    const configs = {strategy: strategy.value};
    if (type.value === 'source') {
      delete configs.strategy;
      configs.sources = matchValue(sources.value);
    } else if (type.value === 'backpressure') {
      configs.destinations = matchValue(destinations.value);
      if (delay.value) configs.delay = Math.round(Number(delay.value) * 60000);
    } else {
      configs.connections = matchValue(connections.value);
      const threshold = {};
      if (consecutive.value) threshold.consecutive_failures = Number(consecutive.value);
      if (rate.value || windowSecs.value) {
        threshold.failure_rate = {rate: Number(rate.value || 0), window_secs: Number(windowSecs.value || 0)};
        if (minAttempts.value) threshold.failure_rate.min_attempts = Number(minAttempts.value);
      }
      if (Object.keys(threshold).length) configs.threshold = threshold;
    }
    const channels = {};
    for (const k of CHANNELS) {
      if (!enabled[k].checked) continue;
      const i = channelInputs[k];
      if (k === 'email') channels.email = {to: i.to.value.split(',').map((s) => s.trim()).filter(Boolean)};
      if (k === 'webhook') channels.webhook = {url: i.url.value.trim()};
      if (k === 'slack') channels.slack = {url: i.url.value.trim(), ...(i.channel_name.value.trim() ? {channel_name: i.channel_name.value.trim()} : {})};
      if (k === 'pagerduty') channels.pagerduty = {routing_key: i.routing_key.value.trim()};
      if (k === 'opsgenie') channels.opsgenie = {api_key: i.api_key.value.trim(), region: i.region.value};
    }
    const out = {type: type.value, configs, channels};
    if (name.value.trim()) out.name = name.value.trim();
    return out;
  };

  const form = h('form', {class: 'card trigger-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    kit.clearErrors();
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    try {
      const saved = t ? await api.put(`/issue-triggers/${encodeURIComponent(t.id)}`, body()) : await api.post('/issue-triggers', body());
      if (t) replace(kit.top, notice('ok', 'Trigger saved.'));
      else navigate(`#/issues/triggers/${encodeURIComponent(saved.id)}`);
    } catch (err) {
      kit.show(err);
    } finally {
      submit.disabled = false;
    }
  }},
  kit.top,
  kit.field('name', 'Name', name, {hint: 'Letters, digits, - and _. Optional.'}).wrap,
  kit.field('type', 'Issue type', type).wrap,
  attemptOnly, backlogOnly, sourceOnly,
  h('fieldset', null, h('legend', null, 'Alert through'), kit.field('channels', null, h('span', {id: 'channels-none', hidden: true})).wrap, channelBlocks),
  h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, t ? 'Save trigger' : 'Create trigger'), link('#/issues/triggers', 'Cancel')));
  return form;
}

function matchInput(m) {
  if (Array.isArray(m)) return m.join(', ');
  return m ?? '*';
}

/** "*" or a pattern stays a string; several comma-separated values are ids. */
function matchValue(text) {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) return '*';
  return parts.length === 1 ? parts[0] : parts;
}

export const routes = [
  ['/issues/triggers', renderTriggers],
  ['/issues/triggers/:id', renderTrigger],
  ['/issues', renderList],
  ['/issues/:id', renderIssue],
];
