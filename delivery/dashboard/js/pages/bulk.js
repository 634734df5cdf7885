//! Bulk retries: the list (`#/bulk`), a new one from a list's filters
//! (`#/bulk/new?status=FAILED&…`: the query, how many it would retry, Start),
//! and one bulk retry's progress (`#/bulk/:id`), followed until it ends.

import {h, replace, notice, pageHeader, table, button, badge, time, link} from '../dom.js';
import {api, ApiError} from '../api.js';
import {navigate, currentParams, setQuery} from '../router.js';
import {toQueryObject, queryObjectToParams, filtersOf} from '../listing.js';
import {FormState, FieldProblem} from '../form.js';

/** The three kinds of bulk retry: URL segment, API type, what it retries. */
const KINDS = [
  {key: 'events', type: 'retry_event', noun: 'event', title: 'Events', list: '#/events'},
  {key: 'requests', type: 'retry_request', noun: 'request', title: 'Requests', list: '#/requests'},
  {key: 'ignored-events', type: 'retry_ignored_event', noun: 'ignored event', title: 'Ignored events', list: null},
];
const kindByKey = (k) => KINDS.find((x) => x.key === k);
const kindByType = (t) => KINDS.find((x) => x.type === t) || KINDS[0];
const base = (kind) => `/bulk/${kind.key}/retry`;
const PAGE = 50;

function stateOf(b) {
  if (b.cancelled_at) return 'cancelled';
  if (b.completed_at) return 'completed';
  return 'running';
}

function stateBadge(b) {
  const s = stateOf(b);
  return s === 'completed' ? h('span', {class: 'badge ok'}, s) : s === 'cancelled' ? h('span', {class: 'badge neutral'}, s) : badge(s);
}

function percent(b) { return Math.round((b.progress || 0) * 100); }

function progressCell(b) {
  return h('span', null,
    h('progress', {max: '100', value: String(percent(b)), 'aria-label': `${percent(b)}% done`}),
    ` ${b.completed_count} of ${b.estimated_count} retried (${percent(b)}%)`);
}

function compactQuery(q) {
  const text = JSON.stringify(q ?? {});
  return text.length > 140 ? `${text.slice(0, 140)}…` : text;
}

/* ---------- the list ---------- */

async function listPage(main, _params, query) {
  const only = kindByKey(query.kind);
  const kinds = only ? [only] : KINDS;
  const state = {stopped: false, timer: null, pages: new Map()};
  const slot = h('div');
  const pager = h('div', {class: 'pager'});
  const kindSelect = h('select', {'aria-label': 'Kind of bulk retry', onchange: () => navigate(kindSelect.value ? `#/bulk?kind=${kindSelect.value}` : '#/bulk')},
    h('option', {value: ''}, 'All kinds'), KINDS.map((k) => h('option', {value: k.key, selected: only === k}, k.title)));

  async function load() {
    const p = currentParams();
    const cursor = only ? {next: p.get('next') || undefined, prev: p.get('prev') || undefined} : {};
    const pages = await Promise.all(kinds.map((k) => api.get(base(k), {limit: PAGE, ...cursor})));
    if (state.stopped) return [];
    kinds.forEach((k, i) => state.pages.set(k.key, pages[i]));
    const rows = pages.flatMap((pg) => pg.models).sort((a, b) => (a.id < b.id ? 1 : -1));
    replace(slot, table([
      {label: 'State', cell: stateBadge},
      {label: 'Created', cell: (b) => time(b.created_at)},
      {label: 'Kind', cell: (b) => kindByType(b.type).title},
      {label: 'Progress', cell: progressCell},
      {label: 'Query', cell: (b) => h('span', {class: 'mono'}, compactQuery(b.query))},
    ], rows, {
      onRow: (b) => navigate(`#/bulk/${encodeURIComponent(b.id)}?kind=${kindByType(b.type).key}`),
      empty: 'No bulk retries yet. Filter the events list, then use "Retry these…".',
    }));
    if (only) paintPager(pages[0]);
    else replace(pager, pages.some((pg) => pg.pagination?.next) ? h('span', {class: 'muted'}, 'Older ones: choose a kind above to page through them.') : null);
    return rows;
  }

  function paintPager(pg) {
    const go = (key, value) => {
      setQuery({kind: only.key, [key]: value});
      load().catch((e) => replace(slot, notice('error', e.message)));
    };
    const prev = button('← Previous', () => go('prev', pg.pagination.prev));
    const next = button('Next →', () => go('next', pg.pagination.next));
    prev.disabled = !pg.pagination?.prev;
    next.disabled = !pg.pagination?.next;
    replace(pager, prev, next);
  }

  replace(main,
    pageHeader('Bulk retries', kindSelect, h('a', {class: 'button primary', href: '#/bulk/new?status=FAILED'}, 'New bulk retry…')),
    h('p', {class: 'muted'}, 'A bulk retry retries every event (or request) a query matches, in steps, in the background.'),
    slot, pager);
  const tick = async () => {
    state.timer = null;
    let rows = [];
    try { rows = await load(); } catch (e) { replace(slot, notice('error', e.message)); }
    if (!state.stopped && rows.some((b) => b.in_progress)) state.timer = setTimeout(tick, 1000);
  };
  await tick();
  return () => { state.stopped = true; clearTimeout(state.timer); };
}

/* ---------- a new one ---------- */

async function newPage(main) {
  const params = currentParams();
  const kind = kindByKey(params.get('kind')) || KINDS[0];
  const filters = filtersOf(params);
  filters.delete('kind');
  const initial = toQueryObject(filters);
  const state = {stopped: false, timer: null, seq: 0};

  const kindSelect = h('select', {id: 'bulk-kind', name: 'kind'}, KINDS.map((k) => h('option', {value: k.key, selected: k === kind}, k.title)));
  const area = h('textarea', {id: 'bulk-query', name: 'query', rows: '8', spellcheck: 'false', value: JSON.stringify(initial, null, 2)});
  // Errors about `query` (or a part of it, `query.status`) show at the textarea.
  const kit = new FormState();
  const queryField = kit.field('query', 'Query (JSON, the API\'s filters)', area,
    {hint: 'The same filters as the list: status, webhook_id, source_id, destination_id, response_status, error_code, created_at {gte, lte}, search_term, and JSON patterns on body and headers.'});
  const plan = h('div', {class: 'plan', 'aria-live': 'polite'});
  const start = h('button', {type: 'submit', class: 'primary'}, 'Start bulk retry');
  const seeLink = h('a', {href: '#/events'}, 'See what it matches');

  const currentKind = () => kindByKey(kindSelect.value);
  const readQuery = () => {
    const text = area.value.trim();
    if (!text) return {};
    const q = JSON.parse(text);
    if (!q || typeof q !== 'object' || Array.isArray(q)) throw new Error('the query must be a JSON object');
    return q;
  };

  /** Asks the API how many records the query matches now (the plan). */
  async function checkPlan() {
    const seq = ++state.seq;
    kit.clearErrors();
    let q;
    try { q = readQuery(); } catch (e) {
      kit.show(new FieldProblem('query', `Not a JSON object: ${e.message}`), {focus: false});
      replace(plan);
      start.disabled = true;
      return;
    }
    const k = currentKind();
    seeLink.hidden = !k.list;
    if (k.list) seeLink.setAttribute('href', `${k.list}?${queryObjectToParams(q)}`);
    replace(plan, h('span', {class: 'muted'}, 'Counting…'));
    try {
      const p = await api.get(`${base(k)}/plan`, {query: JSON.stringify(q)});
      if (seq !== state.seq || state.stopped) return;
      const n = p.estimated_count;
      replace(plan,
        h('p', {class: 'stat', 'data-count': String(n)}, `${n.toLocaleString()} ${k.noun}${n === 1 ? '' : 's'}`),
        h('p', {class: 'muted'}, `would be retried now (in ${p.estimated_batch} step${p.estimated_batch === 1 ? '' : 's'}). The count is taken again when it starts.`),
        Object.keys(q).length ? null : notice('error', `No filters: this retries every ${k.noun}.`));
      start.disabled = n === 0;
    } catch (e) {
      if (seq !== state.seq) return;
      replace(plan);
      start.disabled = true;
      kit.show(e, {focus: false});
    }
  }

  const schedule = () => { clearTimeout(state.timer); state.timer = setTimeout(checkPlan, 400); };
  area.addEventListener('input', schedule);
  kindSelect.addEventListener('change', checkPlan);

  const form = h('form', {class: 'card', 'aria-label': 'New bulk retry', onsubmit: async (ev) => {
    ev.preventDefault();
    kit.clearErrors();
    let q;
    try { q = readQuery(); } catch (e) { kit.show(new FieldProblem('query', `Not a JSON object: ${e.message}`)); return; }
    start.disabled = true;
    try {
      const b = await api.post(base(currentKind()), {query: q});
      navigate(`#/bulk/${encodeURIComponent(b.id)}?kind=${currentKind().key}`);
    } catch (e) {
      start.disabled = false;
      kit.show(e);
    }
  }},
  kit.top,
  h('div', {class: 'field'}, h('label', {for: 'bulk-kind'}, 'Retry'), kindSelect),
  queryField.wrap, plan,
  h('div', {class: 'actions'}, start, seeLink, link('#/bulk', 'Cancel')));

  replace(main, pageHeader('New bulk retry'), form);
  await checkPlan();
  return () => { state.stopped = true; clearTimeout(state.timer); };
}

/* ---------- one ---------- */

/** The bulk retry and its kind: the one named in the URL, else each tried in turn. */
async function findBulk(id, kindKey) {
  const tries = kindByKey(kindKey) ? [kindByKey(kindKey)] : KINDS;
  let last;
  for (const k of tries) {
    try { return {kind: k, bulk: await api.get(`${base(k)}/${encodeURIComponent(id)}`)}; } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
      last = e;
    }
  }
  throw last;
}

async function detailPage(main, {id}, query) {
  const found = await findBulk(id, query.kind);
  const {kind} = found;
  const state = {bulk: found.bulk, stopped: false, timer: null};
  const messages = h('div', {'aria-live': 'polite'});
  const card = h('section', {class: 'card', 'aria-label': 'Bulk retry progress'});
  const cancelB = button('Cancel', async () => {
    cancelB.disabled = true;
    try {
      state.bulk = await api.post(`${base(kind)}/${encodeURIComponent(id)}/cancel`);
      replace(messages, notice('ok', 'Cancelled: what was retried already stays retried.'));
      paint();
    } catch (e) {
      cancelB.disabled = false;
      replace(messages, notice('error', `Cancel was refused: ${e.message}`));
    }
  }, 'danger');

  function paint() {
    const b = state.bulk;
    const facts = [
      ['State', stateBadge(b)],
      ['Progress', progressCell(b)],
      ['Matched', `${b.estimated_count} ${kind.noun}${b.estimated_count === 1 ? '' : 's'} when it started`],
      ['Steps', `${b.processed_batch} of ${b.estimated_batch}`],
      ['Created', time(b.created_at)],
      ['Completed', b.completed_at ? time(b.completed_at) : '—'],
    ];
    if (b.cancelled_at) facts.push(['Cancelled', time(b.cancelled_at)]);
    const listLink = kind.key === 'events'
      ? link(`#/events?bulk_retry_id=${encodeURIComponent(b.id)}`, 'Events it retried →')
      : kind.key === 'requests' ? link(`#/events?bulk_retry_id=${encodeURIComponent(b.id)}`, 'Events it created →') : null;
    replace(card,
      h('dl', {class: 'kv'}, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
      h('h3', null, 'Query'), h('pre', {class: 'code', tabindex: '0'}, JSON.stringify(b.query, null, 2)),
      listLink ? h('p', null, listLink) : null);
    cancelB.hidden = !b.in_progress;
  }

  const tick = async () => {
    state.timer = null;
    try { state.bulk = await api.get(`${base(kind)}/${encodeURIComponent(id)}`); paint(); } catch { /* tried again next tick */ }
    if (!state.stopped && state.bulk.in_progress) state.timer = setTimeout(tick, 1000);
  };

  replace(main,
    pageHeader(h('span', null, `Bulk retry of ${kind.title.toLowerCase()} `, h('span', {class: 'mono'}, id)), cancelB),
    h('p', null, link('#/bulk', '← Bulk retries')),
    messages, card);
  paint();
  if (state.bulk.in_progress) state.timer = setTimeout(tick, 1000);
  return () => { state.stopped = true; clearTimeout(state.timer); };
}

export const routes = [
  ['/bulk', listPage],
  ['/bulk/new', newPage],
  ['/bulk/:id', detailPage],
];
