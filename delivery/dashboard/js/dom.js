//! DOM building without markup: every value reaches the page through
//! textContent or an attribute set by name, never parsed as markup, so a
//! webhook body or header full of `<script>` is shown as text.

/**
 * h('a', {href: '#/events', class: 'x', onclick: fn}, child, 'text', [more])
 * Children may be nodes, strings, numbers, arrays, null/undefined/false (skipped).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2), v);
      } else if (k === 'class') {
        el.className = v;
      } else if (k === 'dataset') {
        Object.assign(el.dataset, v);
      } else if (k === 'value') {
        el.value = v;
      } else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') {
        el[k] = Boolean(v);
      } else if (k === 'href' && !safeHref(String(v))) {
        // Links only ever point inside the dashboard or to http(s) URLs.
        el.setAttribute('href', '#');
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

function safeHref(v) {
  return v.startsWith('#') || v.startsWith('/') || /^https?:\/\//i.test(v);
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

const dateFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/** A timestamp in the viewer's timezone, with UTC (ISO) on hover. */
export function time(iso) {
  if (!iso) return h('span', {class: 'muted'}, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', null, String(iso));
  return h('time', {datetime: d.toISOString(), title: d.toISOString().replace('.000Z', 'Z') + ' (UTC)'}, dateFmt.format(d));
}

/** "3 s ago", "in 2 min". */
export function relative(iso) {
  if (!iso) return '';
  const ms = new Date(iso).getTime() - Date.now();
  const abs = Math.abs(ms);
  const unit = abs < 60e3 ? [Math.round(abs / 1e3), 's'] : abs < 3600e3 ? [Math.round(abs / 60e3), 'min']
    : abs < 86400e3 ? [Math.round(abs / 3600e3), 'h'] : [Math.round(abs / 86400e3), 'd'];
  return ms < 0 ? `${unit[0]} ${unit[1]} ago` : `in ${unit[0]} ${unit[1]}`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60e3) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60e3).toFixed(1)} min`;
}

/** A coloured status label (SUCCESSFUL, FAILED, QUEUED, OPENED, 200, 503 …). */
export function badge(status) {
  const s = String(status ?? '—');
  let tone = 'neutral';
  if (/^(SUCCESSFUL|RESOLVED|ACCEPTED|2\d\d|enabled|active)$/i.test(s)) tone = 'ok';
  else if (/^(FAILED|OPENED|[45]\d\d|disabled|auto-disabled|error)$/i.test(s)) tone = 'bad';
  else if (/^(QUEUED|SCHEDULED|HOLD|ACKNOWLEDGED|paused|muted|running|pending)$/i.test(s)) tone = 'warn';
  return h('span', {class: `badge ${tone}`}, s);
}

/** Pretty JSON text for a value, or the text itself. */
export function pretty(v) {
  if (typeof v === 'string') {
    try { return JSON.stringify(JSON.parse(v), null, 2); } catch { return v; }
  }
  return JSON.stringify(v, null, 2);
}

/** A <pre> block of code/text (escaped: textContent). */
export function code(text, cls) {
  return h('pre', {class: `code ${cls || ''}`, tabindex: '0'}, text ?? '');
}

/** A table: columns [{label, cell: row => node|string, class}], rows. */
export function table(columns, rows, {onRow, empty} = {}) {
  const body = h('tbody');
  for (const row of rows) {
    const tr = h('tr', null, columns.map((c) => h('td', {class: c.class, 'data-label': c.label}, c.cell(row))));
    if (onRow) {
      tr.tabIndex = 0;
      tr.classList.add('clickable');
      tr.addEventListener('click', (e) => { if (!e.target.closest('a,button,input')) onRow(row); });
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') onRow(row);
        if (e.key === 'ArrowDown' || e.key === 'j') { tr.nextElementSibling?.focus(); e.preventDefault(); }
        if (e.key === 'ArrowUp' || e.key === 'k') { tr.previousElementSibling?.focus(); e.preventDefault(); }
      });
    }
    body.append(tr);
  }
  if (!rows.length) {
    body.append(h('tr', null, h('td', {colspan: columns.length, class: 'empty'}, empty || 'Nothing here yet.')));
  }
  return h('table', {class: 'list'}, h('thead', null, h('tr', null, columns.map((c) => h('th', {class: c.class}, c.label)))), body);
}

/** A message box (error, ok, info). */
export function notice(kind, ...children) {
  return h('div', {class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status'}, ...children);
}

/** Section header with optional actions on the right. */
export function pageHeader(title, ...actions) {
  return h('div', {class: 'page-header'}, h('h1', null, title), h('div', {class: 'actions'}, ...actions));
}

export function button(label, onclick, cls = '') {
  return h('button', {type: 'button', class: cls, onclick}, label);
}

/** A link inside the dashboard. */
export function link(hash, ...children) {
  return h('a', {href: hash}, ...children);
}
