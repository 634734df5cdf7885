//! The filter editor of a connection: its filter rule (body, headers, query,
//! path patterns) tested live against a stored or pasted request through
//! `PUT /filters/evaluate`, then saved into the connection's rules.

import {h, replace, clear, notice, pageHeader, link, code, pretty, badge, bytes} from '../dom.js';
import {api, ApiError} from '../api.js';
import {FormState, FieldProblem, field, parseJson} from '../form.js';

const PARTS = ['body', 'headers', 'query', 'path'];
const DEBOUNCE_MS = 300;

const PART_HINTS = {
  body: 'e.g. {"type": {"$startsWith": "order."}, "amount": {"$gte": 100}}',
  headers: 'e.g. {"x-github-event": "push"} (names in lower case)',
  query: 'e.g. {"env": "prod"}',
  path: 'e.g. {"$startsWith": "/hooks"}',
};

/** Four JSON textareas, one per request part. */
function filterFields(form, rule) {
  const inputs = {};
  const nodes = PARTS.map((part) => {
    const value = rule?.[part];
    const ta = h('textarea', {rows: 4, spellcheck: 'false', placeholder: PART_HINTS[part],
      value: value === undefined || value === null ? '' : pretty(value)});
    const f = form.field(`filter.${part}`, part[0].toUpperCase() + part.slice(1), ta);
    inputs[part] = f;
    return f.wrap;
  });
  return {nodes, inputs};
}

/** The filter as typed: only the parts given, or a FieldProblem for the first bad JSON. */
function readFilter(inputs) {
  const out = {};
  for (const part of PARTS) {
    const t = inputs[part].input.value.trim();
    if (t !== '') out[part] = parseJson(`filter.${part}`, t);
  }
  return out;
}

/** The test request: a stored one (by id) or one pasted part by part. */
function requestPicker(form, recent, onChange) {
  const idInput = h('input', {type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: 'req_…', value: recent[0]?.id || ''});
  const idField = form.field('request_id', 'Request id', idInput, {hint: 'Pick a recent request of the source, or paste any request id.'});
  const recentSelect = h('select', null,
    recent.length ? null : h('option', {value: ''}, 'No requests from this source yet'),
    recent.map((r) => h('option', {value: r.id}, `${new Date(r.created_at).toLocaleString()} · ${r.method} · ${bytes(r.body_size)}`)));
  const recentField = field('recent', 'Recent requests of the source', recentSelect);
  recentSelect.addEventListener('change', () => { idInput.value = recentSelect.value; onChange(); });
  idInput.addEventListener('input', onChange);

  const pasted = {
    body: h('textarea', {rows: 5, spellcheck: 'false', placeholder: '{"type": "order.created"}'}),
    headers: h('textarea', {rows: 3, spellcheck: 'false', placeholder: '{"content-type": "application/json"}'}),
    query: h('input', {type: 'text', spellcheck: 'false', placeholder: 'a=1&b=2'}),
    path: h('input', {type: 'text', spellcheck: 'false', placeholder: '/'}),
  };
  const pastedFields = {
    body: form.field('request.body', 'Body', pasted.body, {hint: 'JSON, or any text.'}),
    headers: form.field('request.headers', 'Headers (JSON object)', pasted.headers),
    query: form.field('request.query', 'Query string', pasted.query),
    path: form.field('request.path', 'Path', pasted.path),
  };
  for (const el of Object.values(pasted)) el.addEventListener('input', onChange);

  const storedPanel = h('div', null, recentField.wrap, idField.wrap);
  const pastePanel = h('fieldset', null, h('legend', null, 'Pasted request'), Object.values(pastedFields).map((f) => f.wrap));
  let mode = recent.length ? 'stored' : 'paste';
  const tabs = [['stored', 'Stored request'], ['paste', 'Paste a request']].map(([m, label]) =>
    h('button', {type: 'button', role: 'tab', 'aria-selected': String(m === mode), onclick: () => setMode(m)}, label));
  const setMode = (m) => {
    mode = m;
    tabs.forEach((t, i) => t.setAttribute('aria-selected', String(['stored', 'paste'][i] === m)));
    storedPanel.hidden = m !== 'stored';
    pastePanel.hidden = m !== 'paste';
    onChange();
  };
  storedPanel.hidden = mode !== 'stored';
  pastePanel.hidden = mode !== 'paste';

  return {
    nodes: [h('div', {class: 'tabs', role: 'tablist'}, tabs), storedPanel, pastePanel],
    /** The evaluate call's request part, or null when there is nothing to test against. */
    read() {
      if (mode === 'stored') {
        const id = idInput.value.trim();
        return id ? {request_id: id} : null;
      }
      // Headers always go: the API's inline request requires the object, even empty.
      const request = {headers: {}};
      const body = pasted.body.value.trim();
      if (body !== '') {
        try { request.body = JSON.parse(body); } catch { request.body = pasted.body.value; }
      }
      const headers = pasted.headers.value.trim();
      if (headers !== '') {
        const parsed = parseJson('request.headers', headers);
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
          throw new FieldProblem('request.headers', 'Headers must be a JSON object of name: value.');
        }
        request.headers = parsed;
      }
      if (pasted.query.value.trim()) request.query = pasted.query.value.trim().replace(/^\?/, '');
      if (pasted.path.value.trim()) request.path = pasted.path.value.trim();
      return {request};
    },
  };
}

/** The verdict, and the request as the filter language sees it (failing parts marked). */
function renderResult(verdictEl, viewEl, result) {
  const failed = new Set(result.failed || []);
  replace(verdictEl,
    h('div', {class: 'stat', 'data-verdict': result.matches ? 'match' : 'no-match'}, result.matches ? 'Match' : 'No match'),
    result.matches ? notice('ok', 'This request would create an event.')
      : notice('error', 'This request would be ignored. Failed: ', [...failed].join(', ') || '—'));
  replace(viewEl, PARTS.map((part) => h('div', {dataset: {part}},
    h('h3', null, part, ' ', failed.has(part) ? badge('failed') : null),
    code(pretty(result.request?.[part] ?? null)))));
}

async function filterPage(main, params) {
  replace(main, h('p', {class: 'muted'}, 'Loading…'));
  const id = params.id;
  const connection = await api.get(`/connections/${encodeURIComponent(id)}`);
  const recent = await api.get('/requests', {source_id: connection.source.id, limit: 20})
    .then((p) => p.models).catch(() => []);
  const rules = connection.rules || [];
  const form = new FormState();
  const filter = filterFields(form, rules.find((r) => r.type === 'filter'));
  const resultEl = h('div', {role: 'status', 'aria-live': 'polite'});
  const viewEl = h('div', {class: 'grid'});
  let timer = null;
  let seqNo = 0;

  const evaluate = async () => {
    const mine = ++seqNo;
    form.clearErrors();
    let body;
    try {
      const target = picker.read();
      body = {filter: readFilter(filter.inputs), ...target};
      if (!target) {
        replace(resultEl, notice('info', 'Pick or paste a request to test the filter against.'));
        return;
      }
    } catch (e) {
      if (!(e instanceof FieldProblem)) throw e;
      form.show(e, {focus: false});
      replace(resultEl, notice('info', 'Fix the highlighted field to test the filter.'));
      return;
    }
    replace(resultEl, h('p', {class: 'muted'}, 'Checking…'));
    try {
      const result = await api.put('/filters/evaluate', body);
      if (mine === seqNo) renderResult(resultEl, viewEl, result);
    } catch (e) {
      if (mine !== seqNo) return;
      clear(resultEl);
      if (e instanceof ApiError && e.status === 404) {
        if (/^request\b/.test(e.message)) form.show(new FieldProblem('request_id', e.message), {focus: false});
        else replace(resultEl, notice('error', 'This gateway cannot evaluate filters (no PUT /filters/evaluate).'));
        return;
      }
      if (form.show(e, {focus: false})) replace(resultEl, notice('info', 'Fix the highlighted field to test the filter.'));
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(evaluate, DEBOUNCE_MS);
  };
  const picker = requestPicker(form, recent, schedule);
  for (const f of Object.values(filter.inputs)) f.input.addEventListener('input', schedule);

  const saveStatus = h('div', {role: 'status'});
  const save = h('button', {type: 'submit', class: 'primary'}, 'Save filter');
  const editor = h('form', {novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    form.clearErrors();
    clear(saveStatus);
    save.disabled = true;
    try {
      const parts = readFilter(filter.inputs);
      const next = withFilter(rules, parts);
      const saved = await api.put(`/connections/${encodeURIComponent(id)}`, {rules: next});
      rules.splice(0, rules.length, ...(saved.rules || next));
      replace(saveStatus, notice('ok', Object.keys(parts).length ? 'Filter saved.' : 'Filter removed: every request becomes an event.'));
    } catch (err) {
      if (err instanceof FieldProblem || err instanceof ApiError) form.show(mapRuleError(err));
      else throw err;
    } finally {
      save.disabled = false;
    }
  }},
  h('fieldset', null, h('legend', null, 'Filter'),
    h('p', {class: 'hint'}, 'A request becomes an event only when every part given matches. Leave a part empty to accept anything there.'),
    filter.nodes),
  h('div', {class: 'actions'}, save, link(`#/connections/${encodeURIComponent(id)}`, 'Back to the connection')),
  saveStatus);

  replace(main,
    pageHeader(`Filter of ${connection.full_name || connection.id}`,
      link(`#/events?connection_id=${encodeURIComponent(id)}`, 'Events'),
      link('#/', 'Connections')),
    form.top,
    // Laid out as the request flows: the request, the filter, the verdict.
    h('div', {class: 'pipeline'},
      h('section', {class: 'node', 'aria-label': 'Test request'}, h('div', {class: 'title'}, 'Test request'),
        h('form', {novalidate: true, onsubmit: (e) => e.preventDefault()}, picker.nodes)),
      h('section', {class: 'node', 'aria-label': 'Filter'}, editor),
      h('section', {class: 'node', 'aria-label': 'Result'}, h('div', {class: 'title'}, 'Result'), resultEl)),
    h('section', {class: 'card', 'aria-label': 'The request as the filter sees it'},
      h('h2', null, 'The request as the filter sees it'), viewEl),
    h('p', {class: 'muted'}, 'Syntax (Hookdeck\'s): a value matches equal values; operators $eq, $neq, $gt, $gte, $lt, $lte, $in, $nin, $startsWith, $endsWith, $exist, $and, $or, $not, $ref.'));
  evaluate();
  return () => { clearTimeout(timer); seqNo += 1; };
}

/** The rules with the filter replaced (in place), added (first) or removed (no parts). */
export function withFilter(rules, parts) {
  const hasParts = Object.keys(parts).length > 0;
  const rule = {type: 'filter', ...parts};
  const out = [];
  let placed = false;
  for (const r of rules) {
    if (r.type !== 'filter') out.push(r);
    else if (hasParts && !placed) { out.push(rule); placed = true; }
  }
  // A filter first: it sees the request as received, before any transform.
  if (hasParts && !placed) out.unshift(rule);
  return out;
}

/** "rules[0]: filter on body: …" names the textarea of that part. */
function mapRuleError(err) {
  if (!(err instanceof ApiError)) return err;
  const m = /filter on (body|headers|query|path)/.exec(err.message);
  return m ? new FieldProblem(`filter.${m[1]}`, err.message) : err;
}

export const routes = [
  ['/connections/:id/filter', filterPage],
];
