//! What the requests and events lists share: the filters toolbar (kept in the
//! URL so a filtered view is a link), seek paging with the API's cursors, the
//! live tail of the first page, and the names of sources, destinations and
//! connections the rows show instead of ids.

import {h, replace, clear, append, notice, pageHeader, table, button, badge, time, bytes} from './dom.js';
import {api, all, ApiError} from './api.js';
import {currentParams, setQuery, navigate} from './router.js';
import {FormState, FieldProblem, fieldAround} from './form.js';

export const PAGE_SIZE = 50;
const LIVE_MS = 700;
const REFRESH_MS = 3000;
/** Rows kept by the live tail before the oldest are dropped from view. */
const MAX_ROWS = 500;
const CURSOR_KEYS = ['next', 'prev'];

/* ---------- names of sources, destinations, connections ---------- */

let names = null;
let namesAt = 0;
let namesLoading = null;

/** Maps id → record for sources, destinations and connections (and the topics seen), cached for a minute. */
export async function lookups({force = false} = {}) {
  if (!force && names && Date.now() - namesAt < 60e3) return names;
  if (force && namesLoading) return namesLoading;
  namesLoading = (async () => {
    const [sources, destinations, connections, topics] = await Promise.all([
      all('/sources'), all('/destinations'), all('/connections'),
      // Only suggestions for the topic filter: the lists work without them.
      api.get('/topics').then((t) => t.models, () => [])]);
    names = {
      sources: new Map(sources.map((s) => [s.id, s])),
      destinations: new Map(destinations.map((d) => [d.id, d])),
      connections: new Map(connections.map((c) => [c.id, c])),
      topics: [...new Set(topics.map((t) => t.name))].sort(),
    };
    namesAt = Date.now();
    return names;
  })();
  try { return await namesLoading; } finally { namesLoading = null; }
}

/** Reloads the names when a row names a resource created since (at most every 5 s). */
async function learnNames(items) {
  if (!names || Date.now() - namesAt < 5e3) return false;
  const unknown = items.some((i) => (i.source_id && !names.sources.has(i.source_id))
    || (i.destination_id && !names.destinations.has(i.destination_id))
    || (i.webhook_id && !names.connections.has(i.webhook_id)));
  if (!unknown) return false;
  await lookups({force: true});
  return true;
}

export function sourceName(id) { return names?.sources.get(id)?.name ?? id; }
export function destinationName(id) { return names?.destinations.get(id)?.name ?? id; }
export function connectionName(id) {
  const c = names?.connections.get(id);
  return c ? (c.full_name || c.name || id) : id;
}

/* ---------- columns ---------- */

/** The columns of an event row (events list, a request's events). */
export function eventColumns() {
  return [
    {label: 'Status', cell: (e) => [badge(e.status), e.muted_at ? [' ', badge('muted')] : null]},
    {label: 'Time', cell: (e) => time(e.created_at)},
    {label: 'Route', cell: (e) => h('span', {title: connectionName(e.webhook_id)}, `${sourceName(e.source_id)} → ${destinationName(e.destination_id)}`)},
    {label: 'Response', cell: (e) => responseInWords(e, {short: true})},
    {label: 'Attempts', cell: (e) => String(e.attempts)},
    {label: 'Error', cell: (e) => (e.error_code ? h('span', {class: 'mono', title: errorSentence(e.error_code)}, e.error_code) : h('span', {class: 'muted'}, '—'))},
    {label: 'Last attempt', cell: (e) => time(e.last_attempt_at)},
  ];
}

/** The columns of a request row. */
export function requestColumns() {
  return [
    {label: 'Time', cell: (r) => time(r.ingested_at || r.created_at)},
    {label: 'Source', cell: (r) => sourceName(r.source_id)},
    {label: 'Topic', cell: (r) => (r.topic ? h('span', {class: 'mono', dataset: {topic: r.topic}}, r.topic) : h('span', {class: 'muted'}, '—'))},
    {label: 'Request', cell: (r) => h('span', {class: 'mono'}, r.method, ' ', r.path ?? r.data?.path ?? '')},
    {label: 'Size', cell: (r) => bytes(r.body_size)},
    {label: 'Events', cell: (r) => [
      r.rejection_cause ? [badge('rejected'), ' ', h('span', {class: 'mono', title: rejectionSentence(r.rejection_cause)}, r.rejection_cause)] : String(r.events_count ?? 0),
      r.ignored_count ? h('span', {class: 'muted'}, ` · ${r.ignored_count} ignored`) : null]},
    {label: 'Verified', cell: (r) => (r.verified === true ? 'yes' : r.verified === false ? badge('no') : h('span', {class: 'muted'}, '—'))},
  ];
}

/* ---------- why a request made no event, in words ---------- */

const REJECTION_SENTENCES = {
  SOURCE_DISABLED: 'Its source was disabled when it arrived, so no connection saw it.',
  NO_CONNECTION: 'Its source had no connection, so it went nowhere.',
  VERIFICATION_FAILED: 'Its signature did not verify with the source\'s verification settings, so no connection saw it.',
  UNSUPPORTED_HTTP_METHOD: 'Its HTTP method is not one the source accepts, so no connection saw it.',
  PAYLOAD_TOO_LARGE: 'Its body was larger than the source accepts (413), so no connection saw it.',
  INVALID_MESSAGE: 'A message taken from the source\'s broker that could not become a request (bad encoding or headers, no body…). It is kept to be seen and was acknowledged to the broker, so it is not redelivered.',
};

/** A request's rejection cause as a sentence. */
export function rejectionSentence(cause) {
  if (!cause) return '';
  return REJECTION_SENTENCES[cause] || `It was rejected (${cause}).`;
}

/**
 * Why a connection ignored a request, in words; `meta` is the ignored event's
 * details (a filter's failed parts, a topic and the patterns subscribed to).
 */
export function ignoredSentence(cause, meta) {
  switch (cause) {
    case 'DISABLED': return 'The connection was disabled.';
    case 'FILTERED': return `The connection's filter did not match${Array.isArray(meta) && meta.length ? ` (failed: ${meta.join(', ')})` : ''}.`;
    case 'TOPIC_NOT_SUBSCRIBED': {
      const topics = Array.isArray(meta?.topics) ? meta.topics.join(', ') : '';
      const subscribed = topics ? ` (${topics})` : '';
      return meta?.topic
        ? `Its topic ${meta.topic} matches none of the topics the connection subscribes to${subscribed}.`
        : `It has no topic, and the connection subscribes only to topics${subscribed}: only * takes requests without one.`;
    }
    default: return `Ignored (${cause}).`;
  }
}

/* ---------- attempt error codes, in words ---------- */

const ERROR_SENTENCES = {
  TIMEOUT: 'The destination did not answer within the timeout.',
  CONNECTION_REFUSED: 'The destination refused the connection: nothing listens at that address and port.',
  CONNECTION_RESET: 'The destination closed the connection abruptly (connection reset) before answering.',
  SOCKET_CLOSED: 'The connection to the destination closed before it answered.',
  DNS_LOOKUP_FAILED: 'The destination\'s host name could not be resolved (DNS lookup failed).',
  HOST_UNREACHABLE: 'The destination\'s host could not be reached.',
  SSL_ERROR_CA_UNKNOWN: 'The destination\'s TLS certificate was not accepted (unknown or untrusted authority, or a name mismatch).',
  SELF_SIGNED_CERT: 'The destination\'s TLS certificate is self-signed, so it was not accepted.',
  PROTOCOL_ERROR: 'The destination\'s answer was not valid HTTP (a protocol error).',
  EGRESS_BLOCKED: 'The gateway\'s egress rules do not allow connecting to the destination\'s address.',
  MISSING_URL: 'The destination has no valid URL to deliver to.',
  OAUTH2_HANDSHAKE_FAILED: 'The gateway could not get an OAuth2 access token, so nothing was sent: the token URL could not be reached, answered with an error, or gave no access_token. Retried; check the token URL, client ID and secret.',
  TRANSFORMATION_FAILED: 'The connection\'s transformation failed, so nothing was sent. Fix the transformation, then retry the request.',
  CANCELLED: 'The event was cancelled (its connection was deleted or disabled) before it was delivered.',
  UNKNOWN: 'The delivery failed for a reason the gateway could not classify; see the message below.',
  // CLI destinations (hookyard listen); the CLI reports its local server's failures with the codes above.
  CLI: 'The CLI (hookyard listen) could not deliver to your local server and reported an error it could not classify; see the message below.',
  CLI_UNAVAILABLE: 'No CLI (hookyard listen) was connected for this destination, or it disconnected before answering, so nothing was sent. Events wait and go out when a CLI connects: run hookyard listen.',
  // Brokers, queues and buses (RabbitMQ, NATS, SQS, EventBridge, Redis).
  NOT_FOUND: 'The queue, exchange, stream or event bus does not exist. Not retried: create it or fix the destination, then retry the event.',
  PERMISSION_DENIED: 'The broker or service refused the credentials, or they lack the permission. Not retried: fix the credentials or the access policy, then retry the event.',
  MESSAGE_REJECTED: 'The broker refused the message itself (too large, or invalid for it). Not retried.',
  BROKER_REFUSED: 'The broker refused the message (a negative acknowledgement, a failed precondition, or a key holding another type).',
  UNROUTABLE: 'RabbitMQ returned the message: no queue is bound for its routing key. Retried; bind a queue or fix the routing key.',
  THROTTLED: 'The broker or service asked to slow down (throttling). Retried later.',
  BROKER_ERROR: 'The broker answered with an error; see the message below. Retried.',
};

/** Codes of a broker that answered (not an HTTP status): the message reached it and was refused. */
const BROKER_REFUSALS = new Set(['NOT_FOUND', 'PERMISSION_DENIED', 'MESSAGE_REJECTED', 'BROKER_REFUSED', 'UNROUTABLE', 'THROTTLED', 'BROKER_ERROR']);

/** The API's attempt/event error code as a sentence. */
export function errorSentence(code) {
  if (!code) return '';
  return ERROR_SENTENCES[code] || `The delivery failed (${code}).`;
}

/**
 * What an attempt (or event, or test) got back: the HTTP status, or for a
 * broker, queue or bus, which answer with no status, whether it took the
 * message. `short`: a word for a table cell.
 */
export function responseInWords(a, {short = false} = {}) {
  if (a.response_status) return badge(a.response_status);
  if (a.status === 'SUCCESSFUL') return h('span', {title: 'No HTTP status: a broker, queue or bus confirmed the message.'}, short ? 'accepted' : 'Accepted by the broker');
  if (BROKER_REFUSALS.has(a.error_code)) return h('span', null, short ? 'refused' : 'Refused by the broker');
  return h('span', {class: 'muted'}, short ? '—' : 'no response');
}

/* ---------- filters ---------- */

/**
 * A filter control: {names, el, field, read(params), write(out)}; `field` (form.js)
 * is where an error about its parameter is shown.
 */

function wrap(label, control, extra) {
  // A wrapping label would name a select by all its options too.
  if (!control.hasAttribute('aria-label')) control.setAttribute('aria-label', label);
  return h('label', {class: 'filter'}, label, control, extra);
}

/** The error slot of a filter: in the toolbar's row, stacked only while it shows an error. */
function filterField(name, el, control) {
  return fieldAround(name, el, control, {inline: true});
}

/** Several values of one parameter, as toggle buttons (status=FAILED&status=HOLD). */
export function chipsFilter(name, label, options) {
  const chosen = new Set();
  const buttons = options.map((o) => h('button', {type: 'button', 'aria-pressed': 'false', dataset: {value: o},
    onclick: (e) => {
      const b = e.currentTarget;
      if (chosen.has(o)) chosen.delete(o); else chosen.add(o);
      paint();
      b.dispatchEvent(new Event('change', {bubbles: true}));
    }}, o));
  const paint = () => buttons.forEach((b) => {
    const on = chosen.has(b.dataset.value);
    b.setAttribute('aria-pressed', String(on));
    b.classList.toggle('primary', on);
  });
  const group = h('div', {role: 'group', 'aria-label': label, class: 'actions'}, buttons);
  const el = h('div', {class: 'filter'}, h('span', {class: 'muted'}, label), group);
  return {
    names: [name], el, field: filterField(name, el, group),
    read(p) { chosen.clear(); p.getAll(name).forEach((v) => chosen.add(v)); paint(); },
    write(out) { options.filter((o) => chosen.has(o)).forEach((o) => out.append(name, o)); },
  };
}

/** One value from a list (source, destination, connection, …). */
export function selectFilter(name, label, options) {
  const select = h('select', {name}, h('option', {value: ''}, 'Any'),
    options.map(([v, text]) => h('option', {value: v}, text)));
  const el = wrap(label, select);
  return {
    names: [name], el, field: filterField(name, el, select),
    read(p) {
      const v = p.get(name) || '';
      if (v && ![...select.options].some((o) => o.value === v)) select.append(h('option', {value: v}, v));
      select.value = v;
    },
    write(out) { if (select.value) out.append(name, select.value); },
  };
}

let datalists = 0;

/**
 * Topics (topic=a&topic=b): typed comma-separated, the topics seen offered as
 * suggestions; a request has one topic, so several mean any of them.
 */
export function topicFilter(known = []) {
  const list = h('datalist', {id: `topic-suggestions-${++datalists}`}, known.map((t) => h('option', {value: t})));
  const input = h('input', {type: 'search', name: 'topic', placeholder: 'orders.created, invoice.paid', autocomplete: 'off', list: list.id});
  const el = wrap('Topic', input, list);
  return {
    names: ['topic'], el, field: filterField('topic', el, input),
    read(p) { input.value = p.getAll('topic').join(', '); },
    write(out) { input.value.split(',').map((t) => t.trim()).filter(Boolean).forEach((t) => out.append('topic', t)); },
  };
}

/** Free text (search_term). */
export function textFilter(name, label, placeholder) {
  const input = h('input', {type: 'search', name, placeholder, autocomplete: 'off'});
  const el = wrap(label, input);
  return {
    names: [name], el, field: filterField(name, el, input),
    read(p) { input.value = p.get(name) || ''; },
    write(out) { if (input.value.trim()) out.append(name, input.value.trim()); },
  };
}

function pad(n) { return String(n).padStart(2, '0'); }

/** An ISO time as a datetime-local value in the viewer's timezone. */
export function isoToLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A datetime-local value (viewer's timezone) as ISO UTC. */
export function localInputToIso(v) {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** From/To times on `name[gte]` and `name[lte]`. */
export function timeRangeFilter(name, label) {
  const from = h('input', {type: 'datetime-local', step: '1', name: `${name}[gte]`});
  const to = h('input', {type: 'datetime-local', step: '1', name: `${name}[lte]`});
  const el = h('div', {class: 'actions filter'}, wrap(`${label} from`, from), wrap('to', to));
  return {
    names: [name, `${name}[gte]`, `${name}[lte]`], el, field: filterField(name, el, from),
    read(p) {
      from.value = p.get(`${name}[gte]`) ? isoToLocalInput(p.get(`${name}[gte]`)) : '';
      to.value = p.get(`${name}[lte]`) ? isoToLocalInput(p.get(`${name}[lte]`)) : '';
    },
    write(out) {
      if (from.value) out.append(`${name}[gte]`, localInputToIso(from.value));
      if (to.value) out.append(`${name}[lte]`, localInputToIso(to.value));
    },
  };
}

const STATUS_RANGES = [
  ['', 'Any'],
  ['2xx', '2xx (success)', {gte: 200, lte: 299}],
  ['400+', '≥ 400 (errors)', {gte: 400}],
  ['4xx', '4xx', {gte: 400, lte: 499}],
  ['5xx', '5xx', {gte: 500, lte: 599}],
  ['none', 'No response', {any: 'false'}],
];

/** The last response status: a range (response_status[gte]=400) or an exact value. */
export function responseStatusFilter(name = 'response_status', label = 'Response') {
  const range = h('select', {name: `${name}-range`}, STATUS_RANGES.map(([v, text]) => h('option', {value: v}, text)));
  const exact = h('input', {type: 'number', min: '100', max: '999', placeholder: 'exact', class: 'narrow', name, 'aria-label': 'Exact response status'});
  // An exact status and a range cannot both be given (the API refuses it).
  range.addEventListener('change', () => { if (range.value) exact.value = ''; });
  exact.addEventListener('input', () => { if (exact.value) range.value = ''; });
  const el = h('div', {class: 'actions filter'}, wrap(label, range), wrap('or status', exact));
  return {
    names: [name], el, field: filterField(name, el, range),
    read(p) {
      exact.value = p.get(name) || '';
      const ops = {};
      for (const op of ['gte', 'lte', 'any']) if (p.has(`${name}[${op}]`)) ops[op] = p.get(`${name}[${op}]`);
      const hit = STATUS_RANGES.find(([, , o]) => o && Object.keys(o).length === Object.keys(ops).length
        && Object.entries(o).every(([k, v]) => String(v) === ops[k]));
      range.value = hit ? hit[0] : '';
    },
    write(out) {
      if (exact.value) { out.append(name, exact.value); return; }
      const hit = STATUS_RANGES.find(([v]) => v === range.value);
      for (const [op, v] of Object.entries(hit?.[2] || {})) out.append(`${name}[${op}]`, String(v));
    },
  };
}

/** A filter-language pattern as JSON text (headers, body). */
export function jsonFilter(name, label, placeholder) {
  const area = h('textarea', {name, placeholder, rows: '3', spellcheck: 'false'});
  const el = wrap(label, area);
  return {
    names: [name], el, field: filterField(name, el, area),
    read(p) { area.value = p.get(name) || ''; },
    write(out) {
      const v = area.value.trim();
      if (!v) return;
      try { JSON.parse(v); } catch (e) { throw new FieldProblem(name, `Not JSON: ${e.message}`); }
      out.append(name, v);
    },
  };
}

/** `created_at[gte]` → `created_at`. */
function baseName(key) { return key.replace(/\[.*$/, ''); }

/** Parameters no control owns (issue_id, bulk_retry_id, …): shown, removable. */
function otherFilters(owned) {
  const el = h('div', {class: 'actions filter'});
  let kept = [];
  const paint = () => {
    clear(el);
    if (!kept.length) return;
    append(el, h('span', {class: 'muted'}, 'Also:'), kept.map(([k, v], i) => h('button', {type: 'button', class: 'link',
      title: 'Remove this filter', 'aria-label': `Remove filter ${k} = ${v}`,
      onclick: (e) => { kept.splice(i, 1); paint(); el.dispatchEvent(new Event('change', {bubbles: true})); e.stopPropagation(); }},
    `${k} = ${v} ✕`)));
  };
  return {
    names: [], el,
    read(p) { kept = [...p].filter(([k]) => !owned.has(baseName(k)) && !CURSOR_KEYS.includes(k)); paint(); },
    write(out) { kept.forEach(([k, v]) => out.append(k, v)); },
  };
}

/** The toolbar: {el, read(params), write() → URLSearchParams, markError(ApiError)}. */
export function filterToolbar(controls, advanced, onApply) {
  const owned = new Set([...controls, ...advanced].flatMap((c) => c.names.map(baseName)));
  const other = otherFilters(owned);
  const every = [...controls, ...advanced, other];
  const details = advanced.length
    ? h('details', {class: 'filter'}, h('summary', null, 'Advanced: headers / body patterns'), advanced.map((c) => c.el))
    : null;
  const form = h('form', {class: 'toolbar', role: 'search', 'aria-label': 'Filters', onsubmit: (e) => { e.preventDefault(); apply(); }},
    controls.map((c) => c.el), details, other.el,
    h('div', {class: 'actions'},
      h('button', {type: 'submit', class: 'primary'}, 'Apply'),
      button('Clear', () => { read(new URLSearchParams()); apply(); }, 'link')));
  // Choices (selects, toggles) apply at once; typed text waits for Enter or Apply.
  form.addEventListener('change', (e) => {
    if (e.target.matches('select, button, .filter')) apply();
  });
  const read = (p) => every.forEach((c) => c.read(p));
  const write = () => {
    const out = new URLSearchParams();
    every.forEach((c) => c.write(out));
    return out;
  };
  // Each filter under its parameters' names: a refusal naming `created_at[gte]`
  // marks the time range. Marks never move the focus: the list reloads by itself.
  const marks = new FormState();
  for (const c of [...controls, ...advanced]) c.names.forEach((n) => marks.register(c.field, n));
  const clearMarks = () => marks.clearErrors();
  function apply() {
    clearMarks();
    let p;
    try { p = write(); } catch (e) {
      if (e instanceof FieldProblem) { marks.place(e, {focus: false}); return; }
      throw e;
    }
    onApply(p);
  }
  /** Shows an API refusal next to the filter it names; false when it names none. */
  const markError = (err) => {
    clearMarks();
    return marks.place(err, {focus: false});
  };
  return {el: form, read, write, markError, clearMarks};
}

/* ---------- query conversions ---------- */

/** Parameters whose value is JSON text in a query string (as the API reads them). */
const JSON_PARAMS = ['body', 'headers', 'parsed_query'];

/** URLSearchParams → {key: value | [values]} for api.get/setQuery (repeated keys as arrays). */
export function paramsToObject(p) {
  const out = {};
  for (const [k, v] of p) {
    if (k in out) out[k] = [].concat(out[k], v); else out[k] = v;
  }
  return out;
}

/** The filters of a list without its page cursor. */
export function filtersOf(p) {
  const out = new URLSearchParams();
  for (const [k, v] of p) if (!CURSOR_KEYS.includes(k)) out.append(k, v);
  return out;
}

/**
 * A list's query string as the JSON query of a bulk retry (the API's deep
 * object): `a=1&a=2` → a list, `a[gte]=x` → {a: {gte: x}}, JSON patterns parsed.
 */
export function toQueryObject(p) {
  const out = {};
  for (const [key, value] of filtersOf(p)) {
    const m = /^([^[\]]+)\[([^[\]]*)\]$/.exec(key);
    if (m && m[2] && !/^\d+$/.test(m[2])) {
      out[m[1]] = {...(typeof out[m[1]] === 'object' && !Array.isArray(out[m[1]]) ? out[m[1]] : {}), [m[2]]: value};
      continue;
    }
    const name = m ? m[1] : key;
    let v = value;
    if (JSON_PARAMS.includes(name)) { try { v = JSON.parse(value); } catch { /* the API names the bad one */ } }
    if (name in out) out[name] = [].concat(out[name], v);
    else out[name] = m ? [v] : v;
  }
  return out;
}

/** The reverse of toQueryObject: a bulk retry's JSON query as a list's query string. */
export function queryObjectToParams(q) {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(q || {})) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) v.forEach((x) => out.append(k, typeof x === 'object' ? JSON.stringify(x) : String(x)));
    else if (typeof v === 'object' && !JSON_PARAMS.includes(k) && k !== 'path') {
      for (const [op, x] of Object.entries(v)) out.append(`${k}[${op}]`, String(x));
    } else out.append(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  return out;
}

/* ---------- the list itself ---------- */

/**
 * Mounts a filtered, paged, live list into `main`; returns its cleanup.
 * opts: {title, path, timeParam (filter name of the time: created_at / ingested_at),
 *        timeField (item field), columns(), controls(names), advanced(), detail(item) → hash,
 *        actions(filters) → nodes, noun}
 */
export async function mountList(main, opts) {
  const known = await lookups();
  let params = currentParams();
  let items = [];
  let page = null;
  let live = true;
  let stopped = false;
  const rows = new Map();
  let tbody = null;

  const liveBox = h('input', {type: 'checkbox', checked: true, id: `live-${opts.noun}`});
  const liveLabel = h('label', {for: liveBox.id, class: 'live-toggle', title: 'Show new items as they arrive (first page, newest first)'}, liveBox, ' Live');
  liveBox.addEventListener('change', () => { live = liveBox.checked; paintLiveState(); });
  const liveNote = h('span', {class: 'muted live-note', 'aria-live': 'polite'});
  const actionSlot = h('span', {class: 'actions'});
  const summary = h('div', {class: 'muted list-summary', 'aria-live': 'polite'});
  const listSlot = h('div');
  const pager = h('div', {class: 'pager'});
  const controls = opts.controls(known);
  const advanced = opts.advanced ? opts.advanced() : [];
  const toolbar = filterToolbar(controls, advanced, (filters) => {
    params = filters;
    setQuery(paramsToObject(params));
    load();
  });
  toolbar.read(params);
  replace(main, pageHeader(opts.title, liveLabel, liveNote, actionSlot), toolbar.el, summary, listSlot, pager);

  const cursor = () => ({next: params.get('next') || undefined, prev: params.get('prev') || undefined});
  const isFirstPage = () => !params.get('next') && !params.get('prev') && (params.get('dir') || 'desc') === 'desc';
  const tailing = () => live && isFirstPage() && !stopped && page !== null;

  function paintLiveState() {
    liveBox.disabled = !isFirstPage();
    liveNote.textContent = isFirstPage() ? (live ? 'new items appear as they arrive' : 'paused') : 'live on the first page only';
  }

  function paintActions() {
    replace(actionSlot, opts.actions ? opts.actions(filtersOf(params)) : []);
  }

  function rowOf(item, fresh) {
    const tr = table(opts.columns(), [item], {onRow: (r) => navigate(opts.detail(r))}).querySelector('tbody tr');
    tr.dataset.id = item.id;
    tr.setAttribute('aria-label', `${opts.noun} ${item.id}`);
    if (fresh) tr.classList.add('fresh');
    return tr;
  }

  function paintTable() {
    const t = table(opts.columns(), [], {empty: opts.empty || `No ${opts.noun}s match these filters.`});
    tbody = t.querySelector('tbody');
    rows.clear();
    if (items.length) {
      clear(tbody);
      for (const item of items) {
        const tr = rowOf(item, false);
        rows.set(item.id, {item, tr});
        tbody.append(tr);
      }
    }
    replace(listSlot, t);
  }

  function paintSummary() {
    const n = page?.count ?? 0;
    const more = n >= 10000 ? '10,000 or more' : String(n);
    summary.textContent = `${more} ${opts.noun}${n === 1 ? '' : 's'} match${n === 1 ? 'es' : ''}; showing ${items.length}, newest first.`;
  }

  function paintPager() {
    const go = (key, value) => {
      const p = filtersOf(params);
      if (value) p.set(key, value);
      params = p;
      setQuery(paramsToObject(params));
      load();
      main.focus?.({preventScroll: true});
    };
    const prev = button('← Previous', () => go('prev', page.pagination.prev));
    const next = button('Next →', () => go('next', page.pagination.next));
    prev.disabled = !page?.pagination?.prev;
    next.disabled = !page?.pagination?.next;
    replace(pager, params.get('next') || params.get('prev') ? button('Newest', () => go('next', null), 'link') : null, prev, next);
  }

  async function load() {
    toolbar.clearMarks();
    paintActions();
    paintLiveState();
    const query = {...paramsToObject(filtersOf(params)), ...cursor(), limit: PAGE_SIZE};
    try {
      page = await api.get(opts.path, query);
    } catch (e) {
      page = null;
      items = [];
      const marked = toolbar.markError(e);
      replace(listSlot, notice('error', marked ? 'The list could not be loaded: see the filter marked above.'
        : `The list could not be loaded: ${e.message}`));
      replace(pager);
      summary.textContent = '';
      return;
    }
    if (stopped) return;
    items = page.models;
    await learnNames(items);
    paintTable();
    paintSummary();
    paintPager();
  }

  /** New items since the newest shown, with the same filters, added on top. */
  async function tail() {
    const filters = filtersOf(params);
    const newest = items.reduce((m, i) => (i[opts.timeField] > m ? i[opts.timeField] : m), '');
    const gteKey = `${opts.timeParam}[gte]`;
    const given = filters.get(gteKey);
    if (newest && (!given || Date.parse(newest) > Date.parse(given))) filters.set(gteKey, newest);
    if (filters.has(opts.timeParam)) return; // an exact time: nothing new can match
    const got = await api.get(opts.path, {...paramsToObject(filters), limit: PAGE_SIZE});
    if (!tailing()) return;
    await learnNames(got.models);
    merge(got.models, {fresh: true});
    if (got.pagination?.next && newest) {
      liveNote.textContent = 'more arrived than fit: showing the newest';
    }
  }

  /** Updates shown rows in place and adds rows not shown yet, in id order. */
  function merge(list, {fresh}) {
    if (!tbody) return;
    let added = 0;
    const oldest = items.length ? items[items.length - 1].id : '';
    for (const item of [...list].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const shown = rows.get(item.id);
      if (shown) {
        if (JSON.stringify(shown.item) !== JSON.stringify(item)) {
          const tr = rowOf(item, false);
          const focused = document.activeElement === shown.tr;
          shown.tr.replaceWith(tr);
          if (focused) tr.focus({preventScroll: true});
          rows.set(item.id, {item, tr});
          items[items.indexOf(shown.item)] = item;
        }
        continue;
      }
      // A row older than the oldest shown belongs to a later page.
      if (items.length >= PAGE_SIZE && item.id < oldest) continue;
      const tr = rowOf(item, fresh);
      const after = items.findIndex((i) => i.id < item.id);
      if (!items.length) clear(tbody);
      if (after === -1) { tbody.append(tr); items.push(item); }
      else { rows.get(items[after].id).tr.before(tr); items.splice(after, 0, item); }
      rows.set(item.id, {item, tr});
      added++;
    }
    while (items.length > MAX_ROWS) {
      const gone = items.pop();
      rows.get(gone.id)?.tr.remove();
      rows.delete(gone.id);
    }
    if (added && page) { page.count += added; paintSummary(); }
  }

  /** The first page again, for status changes of the rows shown (QUEUED → SUCCESSFUL). */
  async function refreshTop() {
    const got = await api.get(opts.path, {...paramsToObject(filtersOf(params)), limit: PAGE_SIZE});
    if (!tailing()) return;
    await learnNames(got.models);
    merge(got.models, {fresh: true});
  }

  await load();
  const loop = (fn, ms) => {
    let busy = false;
    const id = setInterval(async () => {
      if (busy || !tailing() || document.hidden) return;
      busy = true;
      try { await fn(); } catch (e) {
        if (e instanceof ApiError && e.status === 401) stopped = true;
        // A failed poll is retried on the next tick; the list stays as it was.
      } finally { busy = false; }
    }, ms);
    return () => clearInterval(id);
  };
  const stops = [loop(tail, LIVE_MS), loop(refreshTop, REFRESH_MS)];
  return () => { stopped = true; stops.forEach((s) => s()); };
}
