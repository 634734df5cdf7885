//! Transformations (WebAssembly components that rewrite requests): the list,
//! upload of a new or updated component, the run console (a stored or pasted
//! request in, the output, a diff and the logs out), executions, and deletion.

import {h, replace, clear, time, bytes, badge, pretty, code, table, notice, pageHeader, button, link} from '../dom.js';
import {api, ApiError} from '../api.js';
import {navigate, setQuery} from '../router.js';
import {renderDiff} from '../diff.js';
import {FormState, FieldProblem} from '../form.js';

const PAGE = 25;
const MIB = 1024 * 1024;

function showError(el, e) {
  replace(el, notice('error', e instanceof ApiError ? `${e.status}: ${e.message}` : String(e.message || e)));
}

function pager(pagination, go) {
  return h('div', {class: 'pager'},
    h('button', {type: 'button', disabled: !pagination?.prev, onclick: () => go({prev: pagination.prev})}, '← Newer'),
    h('button', {type: 'button', disabled: !pagination?.next, onclick: () => go({next: pagination.next})}, 'Older →'));
}

function shortHash(hash) {
  const [algo, hex] = String(hash || '').split(':');
  return hex ? `${algo}:${hex.slice(0, 12)}…` : String(hash || '—');
}

/** Run times are often well under a millisecond: keep two decimals there. */
function runTime(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 10 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Base64 of a file's bytes, built in chunks: one huge String.fromCharCode call overflows the stack. */
export function base64(buffer) {
  const bytesIn = new Uint8Array(buffer);
  const parts = [];
  for (let i = 0; i < bytesIn.length; i += 0x8000) {
    parts.push(String.fromCharCode.apply(null, bytesIn.subarray(i, i + 0x8000)));
  }
  return btoa(parts.join(''));
}

/* ---------- list ---------- */

async function renderList(main) {
  const results = h('div');
  main.append(
    pageHeader('Transformations', h('a', {href: '#/transformations/new', class: 'button primary'}, 'New transformation')),
    h('p', {class: 'muted'}, 'WebAssembly components (built with transforms-sdk) that rewrite a connection\'s requests before delivery.'),
    results);
  const load = async (cursor = {}) => {
    try {
      const page = await api.get('/transformations', {limit: PAGE, ...cursor});
      replace(results, table([
        {label: 'Name', cell: (t) => link(`#/transformations/${encodeURIComponent(t.id)}`, t.name)},
        {label: 'Module', cell: (t) => h('span', {class: 'mono', title: t.module_hash}, shortHash(t.module_hash))},
        {label: 'Size', cell: (t) => bytes(t.module_size)},
        {label: 'Env', cell: (t) => String(Object.keys(t.env || {}).length)},
        {label: 'Updated', cell: (t) => time(t.updated_at)},
      ], page.models, {onRow: (t) => navigate(`#/transformations/${encodeURIComponent(t.id)}`), empty: 'No transformations yet: upload a component.'}),
      pager(page.pagination, load));
    } catch (e) {
      showError(results, e);
    }
  };
  await load();
}

/* ---------- create / update ---------- */

function envRows(env) {
  const rows = h('div', {class: 'env-rows'});
  const addRow = (k = '', v = '') => {
    const key = h('input', {value: k, 'aria-label': 'Variable name', placeholder: 'NAME', autocomplete: 'off', class: 'mono'});
    const value = h('input', {value: v, 'aria-label': 'Value', placeholder: 'value', autocomplete: 'off', class: 'mono'});
    const row = h('div', {class: 'env-row actions'}, key, value, button('Remove', () => row.remove(), 'link'));
    rows.append(row);
  };
  Object.entries(env || {}).forEach(([k, v]) => addRow(k, v));
  const box = h('div', null, rows, button('Add variable', () => { addRow(); rows.lastElementChild.querySelector('input').focus(); }));
  box.value = () => {
    const out = {};
    for (const row of rows.children) {
      const [k, v] = row.querySelectorAll('input');
      if (k.value.trim()) out[k.value.trim()] = v.value;
    }
    return out;
  };
  return box;
}

function transformationForm(t) {
  const kit = new FormState();
  const name = h('input', {id: 'tf-name', name: 'name', value: t?.name || '', autocomplete: 'off', required: true});
  const file = h('input', {id: 'tf-code', name: 'code', type: 'file', accept: '.wasm,application/wasm'});
  const env = envRows(t?.env);
  const memory = h('input', {id: 'tf-memory', type: 'number', min: 1, step: 1, value: t?.memory_limit_bytes ? t.memory_limit_bytes / MIB : ''});
  const timeout = h('input', {id: 'tf-timeout', type: 'number', min: 1, step: 1, value: t?.timeout_ms ?? ''});
  const submit = h('button', {type: 'submit', class: 'primary'}, t ? 'Save' : 'Create transformation');

  const body = async () => {
    const out = {name: name.value.trim(), env: env.value()};
    const f = file.files?.[0];
    if (f) out.code = base64(await f.arrayBuffer());
    if (memory.value) out.memory_limit_bytes = Math.round(Number(memory.value) * MIB);
    if (timeout.value) out.timeout_ms = Number(timeout.value);
    return out;
  };
  const form = h('form', {class: 'card transformation-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    kit.clearErrors();
    submit.disabled = true;
    try {
      const saved = t ? await api.put(`/transformations/${encodeURIComponent(t.id)}`, await body())
        : await api.post('/transformations', await body());
      if (t) navigate(`#/transformations/${encodeURIComponent(saved.id)}?saved=1`);
      else navigate(`#/transformations/${encodeURIComponent(saved.id)}?created=1`);
    } catch (err) {
      kit.show(err instanceof ApiError && /already exists/.test(err.message)
        ? new FieldProblem('name', `A transformation named ${name.value.trim()} already exists.`) : err);
    } finally {
      submit.disabled = false;
    }
  }},
  kit.top,
  kit.field('name', 'Name', name, {hint: 'Letters, digits, - and _.'}).wrap,
  kit.field('code', t ? 'Replace the component (.wasm)' : 'Component (.wasm)', file,
    {hint: t ? `Now ${shortHash(t.module_hash)}, ${bytes(t.module_size)}. Leave empty to keep it.`
      : 'Built with transforms-sdk: cargo build --release --target wasm32-wasip2.'}).wrap,
  kit.field('env', 'Environment', env, {hint: 'Given to every call (e.g. FIELDS=password,ssn).'}).wrap,
  h('div', {class: 'grid'},
    kit.field('memory_limit_bytes', 'Memory limit (MiB)', memory, {hint: 'Empty: the gateway\'s default.'}).wrap,
    kit.field('timeout_ms', 'Timeout (ms)', timeout, {hint: 'Empty: the gateway\'s default.'}).wrap),
  h('div', {class: 'actions'}, submit, link(t ? `#/transformations/${encodeURIComponent(t.id)}` : '#/transformations', 'Cancel')));
  return form;
}

async function renderNew(main) {
  main.append(pageHeader('New transformation', link('#/transformations', 'All transformations')), transformationForm(null));
}

/* ---------- one transformation ---------- */

async function renderOne(main, {id}, query) {
  const t = await api.get(`/transformations/${encodeURIComponent(id)}`);
  const status = h('div', {'aria-live': 'polite'});
  if (query.created) status.append(notice('ok', 'Transformation created.'));
  if (query.saved) status.append(notice('ok', 'Transformation saved.'));
  // The notice is for this visit only: a reload or a shared link should not repeat it.
  if (query.created || query.saved) setQuery({});
  const executions = h('div');
  const reloadExecutions = (cursor = {}) => loadExecutions(executions, t.id, cursor, reloadExecutions);
  const edit = h('details', {class: 'card'}, h('summary', null, 'Update: new component, name, env, limits'), transformationForm(t));

  main.append(
    pageHeader(t.name, link('#/transformations', 'All transformations'), deleteButton(t, status)),
    status,
    h('div', {class: 'card'}, summary(t)),
    h('h2', null, 'Run'),
    runConsole(t, reloadExecutions),
    h('h2', null, 'Executions'),
    executions,
    edit);
  await reloadExecutions();
}

function summary(t) {
  const env = Object.entries(t.env || {});
  const rows = [
    ['Id', h('span', {class: 'mono'}, t.id)],
    ['Module', h('span', {class: 'mono'}, t.module_hash)],
    ['Size', bytes(t.module_size)],
    ['Env', env.length ? h('span', {class: 'mono'}, env.map(([k, v]) => `${k}=${v}`).join('  ')) : h('span', {class: 'muted'}, 'none')],
    ['Memory limit', t.memory_limit_bytes ? bytes(t.memory_limit_bytes) : h('span', {class: 'muted'}, 'default')],
    ['Timeout', t.timeout_ms ? `${t.timeout_ms} ms` : h('span', {class: 'muted'}, 'default')],
    ['Created', time(t.created_at)],
    ['Updated', time(t.updated_at)],
  ];
  return h('dl', {class: 'kv'}, rows.map(([dt, dd]) => [h('dt', null, dt), h('dd', null, dd)]));
}

/** Delete with an in-page confirmation; a transformation in use is refused (422) and the message names the connections. */
function deleteButton(t, status) {
  const ask = button('Delete', () => {
    replace(status, notice('info', `Delete ${t.name}? This cannot be undone. `,
      button('Delete transformation', async (e) => {
        e.target.disabled = true;
        try {
          await api.del(`/transformations/${encodeURIComponent(t.id)}`);
          navigate('#/transformations');
        } catch (err) {
          showError(status, err);
        }
      }, 'danger'),
      ' ',
      button('Cancel', () => clear(status), 'link')));
    status.querySelector('button.danger')?.focus();
  }, 'danger');
  return ask;
}

/* ---------- run console ---------- */

const SAMPLE_HEADERS = '{\n  "content-type": "application/json"\n}';
const SAMPLE_BODY = '{\n  "name": "Ada",\n  "password": "hunter2"\n}';

function runConsole(t, afterRun) {
  const kit = new FormState();
  const output = h('div', {class: 'run-output', 'aria-live': 'polite'});
  let mode = 'stored';

  const stored = h('select', {id: 'run-request'}, h('option', {value: ''}, 'Loading recent requests…'));
  const pastedId = h('input', {id: 'run-request-id', placeholder: 'req_…', autocomplete: 'off', class: 'mono'});
  const method = h('input', {id: 'run-method', value: 'POST', autocomplete: 'off'});
  const path = h('input', {id: 'run-path', value: '/', autocomplete: 'off'});
  const queryIn = h('input', {id: 'run-query', value: '', placeholder: 'a=1&b=2', autocomplete: 'off'});
  const headers = h('textarea', {id: 'run-headers', rows: 4}, SAMPLE_HEADERS);
  const body = h('textarea', {id: 'run-body', rows: 6}, SAMPLE_BODY);

  const inputs = {stored, pastedId, method, path, queryIn, headers, body};
  const storedPane = h('div', null,
    kit.field('request_id', 'A recent request', stored).wrap,
    kit.field('request_id_pasted', 'Or its id', pastedId, {hint: 'Any stored request (see Requests).'}).wrap);
  const pastedPane = h('div', {hidden: true},
    h('div', {class: 'grid'}, kit.field('request.method', 'Method', method).wrap, kit.field('request.path', 'Path', path).wrap, kit.field('request.query', 'Query', queryIn).wrap),
    kit.field('request.headers', 'Headers (JSON object)', headers).wrap,
    kit.field('request.body', 'Body (JSON, or any text)', body).wrap);
  const tabButtons = [['stored', 'Stored request'], ['pasted', 'Pasted request']].map(([value, label]) =>
    h('button', {type: 'button', role: 'tab', 'aria-selected': String(value === mode), onclick: () => {
      mode = value;
      tabButtons.forEach((b, i) => b.setAttribute('aria-selected', String(['stored', 'pasted'][i] === mode)));
      storedPane.hidden = mode !== 'stored';
      pastedPane.hidden = mode !== 'pasted';
    }}, label));

  const runButton = h('button', {type: 'submit', class: 'primary'}, 'Run');
  const form = h('form', {class: 'card run-console', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    kit.clearErrors();
    let req;
    try {
      req = runBody(t, mode, inputs);
    } catch (err) {
      kit.show(err);
      return;
    }
    runButton.disabled = true;
    replace(output, h('p', {class: 'muted'}, 'Running…'));
    try {
      const result = await api.put('/transformations/run', req);
      replace(output, runResult(result));
      afterRun();
    } catch (err) {
      clear(output);
      kit.show(err instanceof ApiError && err.status === 404 && mode === 'stored'
        ? new FieldProblem(inputs.pastedId.value.trim() ? 'request_id_pasted' : 'request_id', err.message) : err);
    } finally {
      runButton.disabled = false;
    }
  }},
  h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Input'}, tabButtons),
  kit.top, storedPane, pastedPane,
  h('div', {class: 'actions'}, runButton, h('span', {class: 'muted'}, 'Runs the stored component with its env; the run is kept as an execution.')));
  loadRecentRequests(stored);
  return h('div', null, form, output);
}

async function loadRecentRequests(select) {
  try {
    const page = await api.get('/requests', {limit: 20, include: 'data'});
    replace(select,
      h('option', {value: ''}, page.models.length ? 'Choose a request…' : 'No requests received yet'),
      page.models.map((r, i) => h('option', {value: r.id, selected: i === 0},
        `${new Date(r.created_at).toLocaleString()} · ${r.method} ${r.data?.path ?? ''} · ${bytes(r.body_size)} · ${r.id}`)));
  } catch (e) {
    replace(select, h('option', {value: ''}, `Could not list requests: ${e.message}`));
  }
}

/** The PUT /transformations/run body; a FieldProblem when the input is not usable. */
function runBody(t, mode, inputs) {
  if (mode === 'stored') {
    const id = inputs.pastedId.value.trim() || inputs.stored.value;
    if (!id) throw new FieldProblem('request_id', 'Choose a request, or paste the id of one.');
    return {transformation_id: t.id, request_id: id};
  }
  let headers;
  try {
    headers = inputs.headers.value.trim() ? JSON.parse(inputs.headers.value) : {};
    if (!headers || typeof headers !== 'object' || Array.isArray(headers)) throw new Error('not an object');
    headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
  } catch (e) {
    throw new FieldProblem('request.headers', `Headers must be a JSON object of names to values (${e.message}).`);
  }
  let bodyValue = inputs.body.value;
  try { bodyValue = JSON.parse(bodyValue); } catch { /* not JSON: sent as text */ }
  return {
    transformation_id: t.id,
    request: {method: inputs.method.value.trim() || 'POST', path: inputs.path.value.trim() || '/', query: inputs.queryIn.value.trim(), headers, body: bodyValue},
  };
}

function bodyText(r) {
  if (!r || r.body === null || r.body === undefined) return '';
  return typeof r.body === 'string' ? r.body : JSON.stringify(r.body, null, 2);
}

function requestLine(r) {
  return `${r.method} ${r.path}${r.query ? `?${r.query}` : ''}`;
}

function runResult(r) {
  const ok = !r.error;
  const parts = [
    h('div', {class: 'actions run-summary'},
      ok ? h('span', {class: 'badge ok'}, 'ok') : badge('error'),
      h('span', null, 'Ran in ', h('strong', {class: 'run-duration'}, runTime(r.duration_ms))),
      h('span', {class: 'mono muted', title: r.module_hash}, shortHash(r.module_hash)),
      r.execution_id ? h('span', {class: 'muted'}, 'execution ', h('span', {class: 'mono'}, r.execution_id)) : null),
  ];
  if (r.error) parts.push(notice('error', h('strong', null, 'The transformation failed: '), r.error));
  if (r.request) {
    parts.push(
      h('h3', null, 'Output request'),
      h('dl', {class: 'kv'}, h('dt', null, 'Request'), h('dd', {class: 'mono'}, requestLine(r.request))),
      h('div', {class: 'grid'},
        h('div', null, h('h3', null, 'Headers'), code(pretty(r.request.headers))),
        h('div', null, h('h3', null, 'Body'), code(bodyText(r.request), 'run-output-body'))),
      h('h3', null, 'What changed'),
      requestLine(r.input) === requestLine(r.request) ? null : [h('h4', null, 'Request line'), renderDiff(requestLine(r.input), requestLine(r.request))],
      diffSection('Headers', pretty(r.input.headers), pretty(r.request.headers)),
      diffSection('Body', bodyText(r.input), bodyText(r.request)));
  }
  parts.push(h('h3', null, 'Logs ', badge(r.log_level)), logLines(r.logs));
  return h('div', {class: 'card run-result'}, parts);
}

/** A diff of one part; a part the transformation left alone is folded away. */
function diffSection(title, before, after) {
  if (before === after) return h('details', null, h('summary', null, `${title}: unchanged`), renderDiff(before, after));
  return [h('h4', null, title), renderDiff(before, after)];
}

function logLines(logs) {
  if (!logs?.length) return h('p', {class: 'muted'}, 'No log lines.');
  return code(logs.map((l) => `[${l.type}] ${l.message}`).join('\n'), 'logs');
}

/* ---------- executions ---------- */

async function loadExecutions(el, id, cursor, reload) {
  try {
    const page = await api.get(`/transformations/${encodeURIComponent(id)}/executions`, {limit: PAGE, ...cursor});
    replace(el, table([
      {label: 'When', cell: (e) => time(e.created_at)},
      {label: 'Result', cell: (e) => (e.error ? h('span', null, badge('error'), ' ', e.error) : h('span', {class: 'badge ok'}, 'ok'))},
      {label: 'Duration', cell: (e) => runTime(e.duration_ms)},
      {label: 'Input', cell: executionInput},
      {label: 'Logs', cell: (e) => (e.logs?.length ? h('details', null, h('summary', null, `${e.logs.length} line${e.logs.length === 1 ? '' : 's'}`), logLines(e.logs)) : h('span', {class: 'muted'}, 'none'))},
    ], page.models, {empty: 'No executions yet: run it above, or route a request through a connection that uses it.'}),
    pager(page.pagination, reload));
  } catch (e) {
    showError(el, e);
  }
}

function executionInput(e) {
  if (e.event_id) return link(`#/events/${encodeURIComponent(e.event_id)}`, 'event ', h('span', {class: 'mono'}, e.event_id));
  if (e.request_id) return h('span', null, 'request ', link(`#/requests/${encodeURIComponent(e.request_id)}`, h('span', {class: 'mono'}, e.request_id)));
  return h('span', {class: 'muted'}, 'pasted request');
}

export const routes = [
  ['/transformations', renderList],
  ['/transformations/new', renderNew],
  ['/transformations/:id', renderOne],
];
