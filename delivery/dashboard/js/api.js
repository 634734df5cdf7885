//! The dashboard's only way to the data: calls of the public REST API
//! (`/2024-09-01/...`) authenticated by the session cookie, with the CSRF token
//! in a header on every write.

export const API = '/2024-09-01';

let csrfToken = null;
let onSignedOut = () => {};

export function setSession(token) { csrfToken = token; }
export function whenSignedOut(fn) { onSignedOut = fn; }

/**
 * An error answer of the API: its status, code and message (form.js finds the
 * field the message names).
 */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
}

/** Query string from an object; arrays repeat the key, null/'' are left out. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x));
    else u.append(k, v);
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

async function call(method, path, {query, body, raw} = {}) {
  const headers = {Accept: 'application/json'};
  if (method !== 'GET' && method !== 'HEAD') {
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  }
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const url = (path.startsWith('/dashboard') ? path : API + path) + qs(query);
  const resp = await fetch(url, {method, headers, body: payload, credentials: 'same-origin'});
  if (raw) return resp;
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = {message: text}; }
  }
  if (!resp.ok) {
    if (resp.status === 401 && !path.startsWith('/dashboard/session')) onSignedOut();
    throw new ApiError(resp.status, data);
  }
  return data;
}

export const api = {
  get: (path, query) => call('GET', path, {query}),
  post: (path, body, query) => call('POST', path, {body, query}),
  put: (path, body, query) => call('PUT', path, {body, query}),
  patch: (path, body) => call('PATCH', path, {body}),
  del: (path, query) => call('DELETE', path, {query}),
};

/** Every item of a list (following `pagination.next`), up to `max`. */
export async function all(path, query = {}, max = 1000) {
  const out = [];
  let next = null;
  do {
    const page = await api.get(path, {...query, limit: 250, next});
    out.push(...page.models);
    next = page.pagination?.next;
  } while (next && out.length < max);
  return out;
}
