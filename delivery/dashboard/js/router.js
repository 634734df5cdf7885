//! Hash routes (`#/events/evt_…?status=FAILED`) to page renderers. A page is
//! `render(main, params, query)` and may return a cleanup function, called when
//! the page is left (live tails stop their polling there).

const routes = [];
let cleanup = null;
let outlet = null;

/** register('/events/:id', render) */
export function register(pattern, render) {
  const names = [];
  const re = new RegExp('^' + pattern.replace(/:([a-z_]+)/g, (_, n) => { names.push(n); return '([^/]+)'; }) + '$');
  routes.push({re, names, render});
}

export function current() {
  const hash = location.hash.slice(1) || '/';
  const [path, search = ''] = hash.split('?');
  return {path, query: Object.fromEntries(new URLSearchParams(search))};
}

/** The query of the current route as URLSearchParams (keeps repeated keys). */
export function currentParams() {
  const hash = location.hash.slice(1) || '/';
  return new URLSearchParams(hash.split('?')[1] || '');
}

export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** Changes the query of the current route without leaving the page. */
export function setQuery(params) {
  const {path} = current();
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x)); else u.append(k, v);
  }
  const s = u.toString();
  history.replaceState(null, '', `#${path}${s ? '?' + s : ''}`);
}

export function start(el, notFound) {
  outlet = el;
  window.addEventListener('hashchange', render);
  routes.notFound = notFound;
  render();
}

export async function render() {
  if (!outlet) return;
  if (cleanup) { try { cleanup(); } catch { /* a page's cleanup must not stop navigation */ } cleanup = null; }
  const {path, query} = current();
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
    while (outlet.firstChild) outlet.removeChild(outlet.firstChild);
    document.dispatchEvent(new CustomEvent('route', {detail: {path}}));
    try {
      const c = await r.render(outlet, params, query);
      if (typeof c === 'function') cleanup = c;
    } catch (e) {
      routes.error?.(outlet, e);
    }
    outlet.focus?.({preventScroll: true});
    return;
  }
  routes.notFound?.(outlet, path);
}

export function onError(fn) { routes.error = fn; }
