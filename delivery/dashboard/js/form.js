//! Form fields known by the API path they send (`destination.url`,
//! `configs.threshold.failure_rate`, a list's `search_term`), so an error, the
//! API's answer or the page's own check, is shown at the field it is about,
//! and at the top of the form when it names none. Every form of the dashboard
//! goes through here: one reading of the API's messages, one look of an error.

import {h, clear, replace, notice} from './dom.js';
import {ApiError} from './api.js';

let seq = 0;

/** A problem found before calling the API, at the field `path`. */
export class FieldProblem extends Error {
  constructor(path, message) {
    super(message);
    this.path = path;
  }
}

/**
 * The field path an API message names, or null. The API words its messages in
 * a few ways, tried from the most to the least specific:
 * "rules[1]: retry count must…" → rules[1].count, "rules[0].body: …" → rules[0].body;
 * "query parameter search_term: …", "unknown query parameter `x`…" → search_term, x;
 * "config is invalid: missing field `exchange`" (a required field left out) → config.exchange;
 * "destination.url is not a valid URL…", "filter.body: …" → destination.url, filter.body;
 * "invalid field `auth_method.config`: missing field `token`" → auth_method.config.token;
 * "invalid field `config`: is invalid: missing field `queue`" (a source's) → config.queue;
 * "invalid field `destination.auth_method.config`: …" → destination.auth_method.config;
 * else the path the message starts with ("code …" → code).
 */
export function errorPath(message) {
  const m = String(message || '');
  // A connection's rules are named by index; the word after it is the rule's field.
  let r = /^(rules\[\d+\])(?:\.([a-z_]+))?: (?:retry )?([a-z_]+)?/.exec(m);
  if (r) return r[2] ? `${r[1]}.${r[2]}` : r[3] ? `${r[1]}.${r[3]}` : r[1];
  r = /^(?:invalid |unknown )?query parameters? `?([A-Za-z_][\w.[\]]*)/.exec(m);
  if (r) return r[1];
  // A missing field is a field of the object the message names, not that object.
  r = /^([a-z_]+(?:\.[a-z_]+|\[\d+\])*) is invalid: missing field `([A-Za-z_]\w*)`/.exec(m);
  if (r) return `${r[1]}.${r[2]}`;
  r = /^([a-z_]+(?:\.[a-z_]+|\[\d+\])*)(?::| (?:is|must|has|cannot|should|does|needs)\b)/.exec(m);
  if (r) return r[1];
  // Serde's wording: the path is quoted, wherever it is in the sentence.
  r = /`([A-Za-z][\w.[\]]*)`: (?:is invalid: )?missing field `([A-Za-z_]\w*)`/.exec(m);
  if (r) return `${r[1]}.${r[2]}`;
  r = /`([A-Za-z][\w.[\]]*)`/.exec(m);
  if (r) return r[1];
  r = /^([a-z_]+(?:\.[a-z_]+|\[\d+\])*)\b/.exec(m);
  return r ? r[1] : null;
}

/** Parses JSON typed by the user; the error names the field. */
export function parseJson(path, text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FieldProblem(path, `Not valid JSON: ${e.message}`);
  }
}

function idOf(input) {
  if (!input.id) input.id = `f${++seq}`;
  return input.id;
}

/** Adds `ids` to what assistive technology reads out for `input`. */
function describe(input, ...ids) {
  const all = [...(input.getAttribute('aria-describedby') || '').split(' '), ...ids].filter(Boolean);
  input.setAttribute('aria-describedby', [...new Set(all)].join(' '));
}

/**
 * A labelled input (or checkbox) with its hint and error slot. An input that
 * has an id keeps it (pages and tests find it by it). `label` null: no label.
 */
export function field(path, label, input, {hint, checkbox} = {}) {
  const id = idOf(input);
  const error = h('div', {class: 'field-error', id: `${id}-error`, hidden: true});
  const hintEl = hint ? h('div', {class: 'hint', id: `${id}-hint`}, hint) : null;
  describe(input, hintEl?.id, error.id);
  const labelEl = label === null ? null : checkbox ? h('label', {for: id}, input, ' ', label) : h('label', {for: id}, label);
  const wrap = h('div', {class: 'field'}, labelEl, checkbox ? null : input, hintEl, error);
  return {path, wrap, input, error};
}

/**
 * A field laid out by its page (a group of checkboxes, a list's filter): an
 * error slot is added at the end of `wrap`; `input` is what the error is about.
 * `inline`: the wrap sits in a row (a toolbar) and takes the `.field` look,
 * which stacks it, only while it shows an error.
 */
export function fieldAround(path, wrap, input, {inline = false} = {}) {
  const error = h(inline ? 'span' : 'div', {class: 'field-error', id: `${idOf(input)}-error`, hidden: true});
  describe(input, error.id);
  wrap.append(error);
  return {path, wrap, input, error, inline};
}

/** Shows `message` at the field, or clears it (null). */
export function setFieldError(f, message) {
  const on = Boolean(message);
  f.wrap.classList.toggle('invalid', on);
  if (f.inline) f.wrap.classList.toggle('field', on);
  f.error.textContent = message || '';
  f.error.hidden = !on;
  if (on) f.input.setAttribute('aria-invalid', 'true');
  else f.input.removeAttribute('aria-invalid');
}

/** A form's fields by API path, and where errors without a field go (`top`, placed by the page). */
export class FormState {
  constructor() {
    this.fields = new Map();
    /** Paths with several fields (panels shown one at a time: a destination type's `config.url`). */
    this.shared = new Map();
    this.top = h('div', {class: 'form-errors'});
    /** Rewrites an API path before lookup (e.g. rules[0] → rules.retry). */
    this.mapPath = (p) => p;
  }

  /**
   * Registers a field under its path (or another name for it, `path`). A path
   * may have several fields when only one of them is shown at a time; errors
   * go to the shown one.
   */
  register(f, path = f.path) {
    const before = this.fields.get(path);
    if (before) this.shared.set(path, [...(this.shared.get(path) || [before]), f]);
    this.fields.set(path, f);
    return f;
  }

  /** A labelled field (see `field`), registered. */
  field(path, label, input, options) { return this.register(field(path, label, input, options)); }

  clearErrors() {
    for (const f of new Set([...this.fields.values(), ...[...this.shared.values()].flat()])) setFieldError(f, null);
    clear(this.top);
  }

  /** The field at exactly `path`: of several, the one shown. */
  at(path) {
    const shown = (this.shared.get(path) || []).find((f) => f.wrap.isConnected && !f.wrap.closest('[hidden]'));
    return shown || this.fields.get(path);
  }

  /** The registered field for `path`, or for its nearest parent path (a.b[0].c → a.b[0] → a.b → a). */
  find(path) {
    if (!path) return null;
    let p = this.mapPath(path);
    for (;;) {
      if (this.fields.has(p)) return this.at(p);
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      if (cut <= 0) return null;
      p = p.slice(0, cut);
    }
  }

  /**
   * Shows `err` (FieldProblem or ApiError) at the field it names, when that
   * field is on the page and not hidden; false when it names none.
   */
  place(err, {focus = true} = {}) {
    const path = err instanceof FieldProblem ? err.path : err instanceof ApiError ? errorPath(err.message) : null;
    const f = this.find(path);
    if (!f || !f.wrap.isConnected || f.wrap.closest('[hidden]')) return false;
    // "code: code is not …" at the code field: the prefix only repeats where it is.
    const message = err.message.startsWith(`${f.path}: `) ? err.message.slice(f.path.length + 2) : err.message;
    setFieldError(f, message);
    for (let d = f.wrap.closest('details'); d; d = d.parentElement?.closest('details')) d.open = true;
    if (focus) {
      const target = f.input.matches('input, select, textarea, button') ? f.input : f.wrap.querySelector('input, select, textarea');
      target?.focus();
    }
    return true;
  }

  /** Shows `err` at its field, else at the top; true when at a field. */
  show(err, {focus = true} = {}) {
    if (this.place(err, {focus})) return true;
    const prefix = err instanceof ApiError && err.status >= 500 ? `${err.status}: ` : '';
    replace(this.top, notice('error', prefix + (err?.message || String(err))));
    if (focus) this.top.scrollIntoView?.({block: 'nearest'});
    return false;
  }
}
