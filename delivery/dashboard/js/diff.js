//! A line diff (longest common subsequence) for showing what a transformation
//! changed: the request as received against the request as delivered.

import {h} from './dom.js';

/** Past this many cells the LCS table costs too much memory and time in a tab. */
const MAX_CELLS = 4_000_000;

/**
 * The lines of `a` and `b` as kept, removed and added: [{op: 'same'|'del'|'add', text}].
 * Common leading and trailing lines are matched first, so a small change in a
 * large body stays cheap; a middle too large to compare is shown as all removed
 * then all added.
 */
export function lineDiff(a, b) {
  const x = splitLines(a);
  const y = splitLines(b);
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) { endX--; endY--; }
  const head = x.slice(0, start).map(same);
  const tail = x.slice(endX).map(same);
  const midX = x.slice(start, endX);
  const midY = y.slice(start, endY);
  const middle = (midX.length + 1) * (midY.length + 1) > MAX_CELLS
    ? [...midX.map(del), ...midY.map(add)]
    : lcsDiff(midX, midY);
  return [...head, ...middle, ...tail];
}

function splitLines(text) {
  const s = String(text ?? '');
  return s === '' ? [] : s.split('\n');
}

const same = (text) => ({op: 'same', text});
const del = (text) => ({op: 'del', text});
const add = (text) => ({op: 'add', text});

/** The classic dynamic programme, suffix lengths in one flat typed array. */
function lcsDiff(x, y) {
  const n = x.length;
  const m = y.length;
  const w = m + 1;
  const len = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      len[i * w + j] = x[i] === y[j] ? len[(i + 1) * w + j + 1] + 1
        : Math.max(len[(i + 1) * w + j], len[i * w + j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push(same(x[i])); i++; j++; }
    else if (len[(i + 1) * w + j] >= len[i * w + j + 1]) { out.push(del(x[i])); i++; }
    else { out.push(add(y[j])); j++; }
  }
  while (i < n) out.push(del(x[i++]));
  while (j < m) out.push(add(y[j++]));
  return out;
}

const MARK = {same: '  ', del: '- ', add: '+ '};

/** A <pre class="code diff"> of the line diff, one span per line (text only). */
export function renderDiff(a, b) {
  const lines = lineDiff(a, b);
  return h('pre', {class: 'code diff', tabindex: '0', 'aria-label': 'Differences, removed lines marked -, added lines marked +'},
    lines.map((l) => h('span', {class: l.op}, MARK[l.op] + l.text)));
}
