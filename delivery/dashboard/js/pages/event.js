//! One event (`#/events/:id`): the request as received and as delivered (with
//! what a transformation changed), every attempt with the destination's answer
//! and the error in words, and Retry / Mute / Bookmark. Also the request view
//! the request page shows.

import {h, replace, clear, append, notice, pageHeader, table, button, badge, time, relative, bytes, duration, pretty, code, link} from '../dom.js';
import {api, ApiError} from '../api.js';
import {lookups, sourceName, destinationName, connectionName, errorSentence, responseInWords} from '../listing.js';
import {renderDiff} from '../diff.js';
import {FormState} from '../form.js';

/** Bodies longer than this are shown in part: rendering megabytes of text freezes a tab. */
export const PREVIEW_CHARS = 256 * 1024;
const ATTEMPTS_PAGE = 25;

/* ---------- request data (shared with the request page) ---------- */

function utf8Length(s) { return new TextEncoder().encode(s).length; }

/** Whether `s` is the API's base64 of a body that is not UTF-8 (of `size` bytes). */
function isBase64Body(s, size) {
  if (typeof s !== 'string' || size === null || size === undefined || s.length === size) return false;
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return false;
  const padding = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - padding === size;
}

function base64Bytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function hexPreview(bytesArr, max = 256) {
  const shown = [...bytesArr.slice(0, max)].map((b) => b.toString(16).padStart(2, '0'));
  const lines = [];
  for (let i = 0; i < shown.length; i += 16) lines.push(shown.slice(i, i + 16).join(' '));
  return lines.join('\n') + (bytesArr.length > max ? '\n…' : '');
}

/** The body as text to show: {text, kind: 'json'|'text'|'base64'|'empty'}. */
export function bodyText(body, size) {
  if (body === null || body === undefined || body === '') return {text: '', kind: 'empty'};
  if (typeof body === 'string') {
    if (isBase64Body(body, size)) return {text: body, kind: 'base64'};
    return {text: body, kind: 'text'};
  }
  return {text: JSON.stringify(body, null, 2), kind: 'json'};
}

/** A <pre> of at most PREVIEW_CHARS of `text`, saying when it was cut. */
export function previewBlock(text, {rawPath, fileName, label, size} = {}) {
  if (text.length <= PREVIEW_CHARS) return code(text);
  const download = rawPath ? downloadButton(rawPath, fileName) : null;
  const whole = size ? bytes(size) : `${text.length.toLocaleString()} characters`;
  return h('div', null,
    notice('info', `${label || 'This body'} is large (${whole}): showing its first ${PREVIEW_CHARS / 1024} KiB only, so the page stays quick. `, download),
    code(text.slice(0, PREVIEW_CHARS) + '\n…'));
}

/** Fetches the raw body (`/…/raw_body`) and hands it to the browser as a file. */
function downloadButton(rawPath, fileName) {
  const status = h('span', {class: 'muted'});
  const b = button('Download the whole body', async () => {
    b.disabled = true;
    status.textContent = ' loading…';
    try {
      const raw = await api.get(rawPath);
      const blob = new Blob([raw.encoding === 'base64' ? base64Bytes(raw.body) : raw.body], {type: 'application/octet-stream'});
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = fileName || 'body';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60e3);
      status.textContent = '';
    } catch (e) {
      status.textContent = ` could not load it: ${e.message}`;
    } finally { b.disabled = false; }
  });
  return h('span', null, b, status);
}

function headerEntries(headers) {
  return Object.entries(headers || {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : typeof v === 'string' ? v : JSON.stringify(v)]);
}

/** A table of headers (names and values are shown as text). */
export function headersTable(headers, empty = 'No headers.') {
  const rows = headerEntries(headers);
  return table([
    {label: 'Header', cell: ([k]) => h('span', {class: 'mono'}, k)},
    {label: 'Value', cell: ([, v]) => h('span', {class: 'mono'}, v)},
  ], rows, {empty});
}

/**
 * A request as stored: method and path, query, headers, body (pretty when
 * JSON, base64 with a hex preview when not UTF-8, cut past PREVIEW_CHARS).
 * opts: {method, size, rawPath, fileName}
 */
export function requestBlock(data, opts = {}) {
  if (!data) return notice('info', 'The request\'s data is no longer stored (retention), or was never kept.');
  const body = bodyText(data.body, opts.size);
  const facts = [
    ['Request', h('span', {class: 'mono'}, `${opts.method || ''} ${data.path || '/'}${data.query ? `?${data.query}` : ''}`)],
    ['Body size', opts.size === undefined ? '—' : bytes(opts.size)],
    ['Body', {json: 'JSON (shown formatted)', text: 'text', base64: 'not UTF-8: shown in base64', empty: 'empty'}[body.kind]],
  ];
  const parts = [
    h('dl', {class: 'kv'}, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    h('h3', null, 'Headers'), headersTable(data.headers),
  ];
  if (data.query) parts.push(h('h3', null, 'Query'), code(pretty(data.parsed_query ?? data.query)));
  parts.push(h('h3', null, 'Body'));
  if (body.kind === 'empty') parts.push(h('p', {class: 'muted'}, 'No body.'));
  else if (body.kind === 'base64') {
    const raw = base64Bytes(body.text.slice(0, 4096));
    parts.push(notice('info', `This body is not UTF-8 text (${bytes(opts.size)} of binary data). The API returns it in base64; the first bytes in hex:`),
      code(hexPreview(raw)), h('h3', null, 'Base64'), previewBlock(body.text, {...opts, label: 'This body (in base64)'}));
  } else {
    parts.push(previewBlock(body.text, opts));
  }
  return h('div', {class: 'request-data'}, parts);
}

/** The request as one text (for a diff): request line, sorted headers, body. */
function requestText(method, data, size) {
  const head = `${method || ''} ${data.path || '/'}${data.query ? `?${data.query}` : ''}`;
  const headers = headerEntries(data.headers).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`);
  const body = bodyText(data.body, size).text;
  return [head, ...headers, '', body.length > PREVIEW_CHARS ? body.slice(0, PREVIEW_CHARS) : body].join('\n');
}

function sameData(a, b) {
  if (!a || !b) return a === b;
  const key = (d) => JSON.stringify([d.path, d.query, d.headers, d.body]);
  return key(a) === key(b);
}

/** Tabs (role=tablist) over panels built on demand. */
export function tabs(entries) {
  const panel = h('div', {role: 'tabpanel'});
  const buttons = entries.map(([label, build], i) => h('button', {type: 'button', role: 'tab', 'aria-selected': i === 0 ? 'true' : 'false',
    onclick: () => select(i),
    onkeydown: (e) => {
      if (e.key === 'ArrowRight') { select((i + 1) % entries.length); buttons[(i + 1) % entries.length].focus(); }
      if (e.key === 'ArrowLeft') { select((i + entries.length - 1) % entries.length); buttons[(i + entries.length - 1) % entries.length].focus(); }
    }}, label));
  function select(i) {
    buttons.forEach((b, j) => b.setAttribute('aria-selected', String(i === j)));
    replace(panel, entries[i][1]());
  }
  select(0);
  return h('div', null, h('div', {class: 'tabs', role: 'tablist'}, buttons), panel);
}

/* ---------- attempts ---------- */

function responseBody(body) {
  if (body === null || body === undefined || body === '') return h('p', {class: 'muted'}, 'Empty response body.');
  return previewBlock(typeof body === 'string' ? pretty(body) : JSON.stringify(body, null, 2), {label: 'The response body'});
}

/**
 * A broker's attempt has no HTTP status and no method; its body is what the
 * broker answered, as JSON (confirm, sequence, message id).
 */
function isBrokerAttempt(a) {
  return !a.response_status && !a.http_method && Boolean(a.body);
}

function attemptCard(a) {
  const facts = [
    ['Status', badge(a.status)],
    ['Response', responseInWords(a)],
    ['When', [time(a.created_at), h('span', {class: 'muted'}, ` (${relative(a.created_at)})`)]],
    ['Duration', duration(a.delivery_latency)],
    ['Trigger', a.trigger || '—'],
    ['Sent to', h('span', {class: 'mono'}, [a.http_method, a.requested_url || '—'].filter(Boolean).join(' '))],
  ];
  if (a.bulk_retry_id) facts.push(['Bulk retry', link(`#/bulk/${encodeURIComponent(a.bulk_retry_id)}`, a.bulk_retry_id)]);
  const error = a.error_code
    ? notice('error', h('strong', null, errorSentence(a.error_code)), ' ', h('span', {class: 'mono'}, `(${a.error_code})`),
      a.error_message ? h('div', {class: 'mono'}, a.error_message) : null)
    : a.status === 'FAILED' && a.response_status
      ? notice('error', `The destination answered ${a.response_status}, which is not a success (2xx).`)
      : null;
  return h('article', {class: 'card attempt', 'aria-label': `Attempt ${a.attempt_number ?? ''}`, dataset: {id: a.id}},
    h('h3', null, `Attempt #${a.attempt_number ?? '?'} `, badge(a.status)),
    h('dl', {class: 'kv'}, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    error,
    a.response_headers && Object.keys(a.response_headers).length
      ? h('details', null, h('summary', null, `Response headers (${Object.keys(a.response_headers).length})`), headersTable(a.response_headers))
      : null,
    h('h3', null, isBrokerAttempt(a) ? 'The broker\'s answer' : 'Response body'), responseBody(a.body));
}

/* ---------- the event page ---------- */

function nextAttempt(e) {
  if (e.next_attempt_at) return [relative(e.next_attempt_at), ' (', time(e.next_attempt_at), ')'];
  if (e.muted_at) return 'none: muted';
  if (e.status === 'FAILED') return 'none: retries are exhausted (retry it by hand)';
  if (e.status === 'HOLD') return 'held until the destination is enabled or the connection resumed';
  return '—';
}

function summaryCard(e, request) {
  const shown = [
    ['Status', [badge(e.status), e.muted_at ? [' ', badge('muted'), h('span', {class: 'muted'}, ' since '), time(e.muted_at)] : null]],
    ['Connection', [h('span', null, connectionName(e.webhook_id)), h('div', {class: 'muted'}, `${sourceName(e.source_id)} → ${destinationName(e.destination_id)}`)]],
    ['Request', [link(`#/requests/${encodeURIComponent(e.request_id)}`, e.request_id), request ? h('span', {class: 'muted'}, ` · ${request.method} · ${bytes(request.body_size)}`) : null]],
    request?.topic ? ['Topic', h('span', {class: 'mono'}, request.topic)] : null,
    ['Created', time(e.created_at)],
    ['Attempts', String(e.attempts)],
    ['Last attempt', e.last_attempt_at ? [time(e.last_attempt_at), h('span', {class: 'muted'}, ` (${relative(e.last_attempt_at)})`)] : '—'],
    ['Next attempt', nextAttempt(e)],
    ['Last response', e.response_status || e.status === 'SUCCESSFUL' ? responseInWords(e) : '—'],
  ];
  const facts = shown.filter(Boolean);
  if (e.error_code) facts.push(['Error', [h('span', null, errorSentence(e.error_code)), ' ', h('span', {class: 'mono muted'}, `(${e.error_code})`)]]);
  if (e.successful_at) facts.push(['Delivered', time(e.successful_at)]);
  return h('section', {class: 'card', 'aria-label': 'Event summary'}, h('dl', {class: 'kv'}, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])));
}

/**
 * Whether the event may change soon, and how often to look (ms; 0: it will
 * not). `cli`: its destination is a CLI one, whose events may wait for a CLI
 * for hours: looked at less often.
 */
function pollEvery(e, {cli = false} = {}) {
  const soon = cli ? 5000 : 1000;
  if (e.status === 'QUEUED') return soon;
  if (e.status === 'SCHEDULED') {
    const due = e.next_attempt_at ? Date.parse(e.next_attempt_at) - Date.now() : 0;
    return due < 120e3 ? soon : 10e3;
  }
  if (e.status === 'HOLD') return 5000;
  return 0;
}

async function render(main, {id}) {
  const event = await api.get(`/events/${encodeURIComponent(id)}`);
  const names = await lookups();
  const cli = names.destinations.get(event.destination_id)?.type === 'CLI';
  let request = null;
  try { request = await api.get(`/requests/${encodeURIComponent(event.request_id)}`); } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  const state = {event, attempts: [], attemptsNext: null, stopped: false, timer: null, busyUntil: 0};

  const messages = h('div', {'aria-live': 'polite'});
  const summarySlot = h('div');
  const attemptsSlot = h('div');
  const bookmarkSlot = h('div');
  const say = (kind, ...text) => replace(messages, notice(kind, ...text));

  const act = (label, fn, cls) => {
    const b = button(label, async () => {
      b.disabled = true;
      try { await fn(); } catch (e) {
        say('error', `${label} was refused: `, e instanceof ApiError ? e.message : String(e.message));
      } finally { b.disabled = false; }
    }, cls);
    return b;
  };
  const retryB = act('Retry', async () => {
    const e = await api.post(`/events/${encodeURIComponent(id)}/retry`);
    say('ok', 'Retry queued: a new attempt starts now.');
    state.event = e;
    paintSummary();
    watch(15e3);
  }, 'primary');
  const muteB = act('Mute', async () => {
    state.event = await api.put(`/events/${encodeURIComponent(id)}/mute`);
    say('ok', 'Muted: no more automatic retries for this event (a manual retry unmutes it).');
    paintSummary();
  });
  const bookmarkB = button('Bookmark…', () => openBookmark());

  function paintSummary() {
    replace(summarySlot, summaryCard(state.event, request));
    muteB.disabled = Boolean(state.event.muted_at) || state.event.status === 'SUCCESSFUL';
    muteB.title = state.event.muted_at ? 'Already muted' : state.event.status === 'SUCCESSFUL' ? 'Delivered: nothing to mute' : 'Stop automatic retries';
  }

  function paintAttempts() {
    const list = state.attempts;
    replace(attemptsSlot,
      list.length ? list.map(attemptCard) : noAttempt(state.event),
      state.attemptsNext ? button('Older attempts', loadOlder, 'link') : null);
  }

  function noAttempt(e) {
    if (cli && (e.status === 'QUEUED' || e.status === 'SCHEDULED')) {
      return h('p', {class: 'muted'}, 'No attempt yet: events of a CLI destination wait until a CLI (hookyard listen) is connected for them. ',
        link(`#/destinations/${encodeURIComponent(e.destination_id)}`, 'Is one connected?'));
    }
    return h('p', {class: 'muted'}, e.status === 'QUEUED' ? 'No attempt yet: the first is on its way.' : 'No attempts yet.');
  }

  async function loadOlder() {
    const page = await api.get('/attempts', {event_id: id, limit: ATTEMPTS_PAGE, next: state.attemptsNext});
    state.attempts.push(...page.models);
    state.attemptsNext = page.pagination?.next || null;
    paintAttempts();
  }

  /** The event's status and its newest attempts, cheaply (no request data). */
  async function refresh() {
    const [list, attempts] = await Promise.all([
      api.get('/events', {id, limit: 1}),
      api.get('/attempts', {event_id: id, limit: Math.max(ATTEMPTS_PAGE, state.attempts.length)}),
    ]);
    if (state.stopped) return;
    const e = list.models[0] || state.event;
    if (JSON.stringify(e) !== JSON.stringify({...state.event, data: undefined})) {
      state.event = e;
      paintSummary();
    }
    const sig = (as) => as.map((a) => a.id + a.updated_at).join();
    if (sig(attempts.models) !== sig(state.attempts)) {
      state.attempts = attempts.models;
      state.attemptsNext = attempts.pagination?.next || null;
      paintAttempts();
    }
  }

  /** Polls while the event may change; `forMs` keeps polling that long whatever its status. */
  function watch(forMs = 0) {
    state.busyUntil = Math.max(state.busyUntil, Date.now() + forMs);
    if (state.timer || state.stopped) return;
    const tick = async () => {
      state.timer = null;
      if (state.stopped) return;
      try { await refresh(); } catch { /* tried again on the next tick */ }
      const every = Date.now() < state.busyUntil ? 1000 : pollEvery(state.event, {cli});
      if (every && !state.stopped) state.timer = setTimeout(tick, every);
    };
    state.timer = setTimeout(tick, forMs ? 300 : pollEvery(state.event, {cli}) || 1000);
  }

  async function openBookmark() {
    const label = h('input', {id: 'bookmark-label', name: 'label', maxlength: '255', required: true,
      value: `${sourceName(state.event.source_id)} ${new Date(state.event.created_at).toISOString().slice(0, 19).replace('T', ' ')}`});
    const kit = new FormState();
    const field = kit.field('label', 'Label', label, {hint: 'A bookmark keeps this request so it can be sent through this connection again.'});
    const form = h('form', {class: 'card', 'aria-label': 'Bookmark', onsubmit: async (ev) => {
      ev.preventDefault();
      kit.clearErrors();
      try {
        const b = await api.post('/bookmarks', {event_data_id: state.event.request_id, webhook_id: state.event.webhook_id, label: label.value});
        say('ok', `Bookmarked as “${b.label}”.`);
        clear(bookmarkSlot);
        paintBookmarks();
      } catch (e) {
        kit.show(e);
      }
    }}, kit.top, field.wrap, h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Save bookmark'),
      button('Cancel', () => clear(bookmarkSlot), 'link')));
    replace(bookmarkSlot, form);
    label.focus();
    label.select();
  }

  const bookmarksLine = h('div', {class: 'muted'});
  async function paintBookmarks() {
    try {
      const page = await api.get('/bookmarks', {event_data_id: state.event.request_id, webhook_id: state.event.webhook_id, limit: 10});
      replace(bookmarksLine, page.models.length ? ['Bookmarked as ', page.models.map((b, i) => [i ? ', ' : '', `“${b.label}”`])] : []);
    } catch { clear(bookmarksLine); }
  }

  function requestSection() {
    const delivered = event.data;
    const received = request?.data;
    const opts = {method: request?.method, size: request?.body_size};
    if (!received && !delivered) return requestBlock(null);
    if (!received || sameData(received, delivered) || !delivered) {
      return h('div', null, h('p', {class: 'muted'}, received ? 'Delivered as received (no transformation changed it).' : 'The received request is no longer stored; this is what was delivered.'),
        requestBlock(received || delivered, {...opts, rawPath: `/events/${encodeURIComponent(id)}/raw_body`, fileName: `${id}.body`}));
    }
    return tabs([
      ['Changes', () => h('div', null, h('p', {class: 'muted'}, 'A transformation changed the request: lines removed (−) and added (+) from the received request to the delivered one.'),
        renderDiff(requestText(request.method, received, request.body_size), requestText(request.method, delivered)))],
      ['As delivered', () => requestBlock(delivered, {method: request.method, rawPath: `/events/${encodeURIComponent(id)}/raw_body`, fileName: `${id}.delivered.body`})],
      ['As received', () => requestBlock(received, {...opts, rawPath: `/requests/${encodeURIComponent(request.id)}/raw_body`, fileName: `${request.id}.body`})],
    ]);
  }

  replace(main,
    pageHeader(h('span', null, 'Event ', h('span', {class: 'mono'}, id)), retryB, muteB, bookmarkB),
    h('p', null, link('#/events', '← Events')),
    messages, bookmarkSlot, summarySlot, bookmarksLine,
    h('h2', null, 'Attempts'), attemptsSlot,
    h('h2', null, 'Request'), requestSection());
  paintSummary();
  paintBookmarks();
  await refresh();
  paintAttempts();
  watch();
  return () => { state.stopped = true; clearTimeout(state.timer); };
}

export const routes = [['/events/:id', render]];
