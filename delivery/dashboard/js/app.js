//! The dashboard's entry: sign-in, the frame (navigation, sign-out) and the
//! route table. Each page lives in `pages/` and exports its `routes`.

import {h, replace, notice, button} from './dom.js';
import {api, setSession, whenSignedOut, ApiError} from './api.js';
import * as router from './router.js';
import * as overview from './pages/overview.js';
import * as resources from './pages/resources.js';
import * as filters from './pages/filters.js';
import * as requests from './pages/requests.js';
import * as events from './pages/events.js';
import * as eventDetail from './pages/event.js';
import * as bulk from './pages/bulk.js';
import * as issues from './pages/issues.js';
import * as transformations from './pages/transformations.js';
import * as metrics from './pages/metrics.js';
import * as topics from './pages/topics.js';
import * as publish from './pages/publish.js';

const root = document.getElementById('app');

const NAV = [
  ['#/', 'Connections'],
  ['#/requests', 'Requests'],
  ['#/events', 'Events'],
  ['#/topics', 'Topics'],
  ['#/issues', 'Issues'],
  ['#/bulk', 'Bulk retries'],
  ['#/transformations', 'Transformations'],
  ['#/publish-keys', 'Publish keys'],
  ['#/metrics', 'Metrics'],
];

function signInPage(message) {
  const key = h('input', {id: 'api-key', type: 'password', name: 'api_key', autocomplete: 'current-password', required: true, autofocus: true});
  const status = h('div');
  if (message) status.append(notice('info', message));
  const form = h('form', {class: 'signin card', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const s = await api.post('/dashboard/session', {api_key: key.value});
      setSession(s.csrf_token);
      key.value = '';
      frame();
    } catch (err) {
      replace(status, notice('error', err instanceof ApiError && err.status === 401
        ? 'That API key is not right. It is printed by `hookyard serve` on start and kept in the data directory (api_key).'
        : `Could not sign in: ${err.message}`));
      key.focus();
    }
  }},
  h('h1', null, 'Hookyard'),
  h('p', {class: 'muted'}, 'Sign in with the gateway\'s API key.'),
  h('label', {for: 'api-key'}, 'API key'), key,
  h('p', {class: 'hint muted'}, '`hookyard serve` prints it on its first start and keeps it in its data directory (hookyard-data/api_key).'),
  status,
  h('button', {type: 'submit', class: 'primary'}, 'Sign in'));
  replace(root, h('main', {class: 'signin-page'}, form));
  key.focus();
}

async function signOut() {
  try { await api.del('/dashboard/session'); } catch { /* signed out either way */ }
  setSession(null);
  signInPage('Signed out.');
}

function frame() {
  const main = h('main', {id: 'main', tabindex: '-1'});
  const links = NAV.map(([href, label]) => h('a', {href, class: 'nav-link'}, label));
  const nav = h('nav', {class: 'sidebar', 'aria-label': 'Main'},
    h('a', {href: '#/', class: 'brand'}, 'Hookyard'),
    h('div', {class: 'nav-links'}, links),
    button('Sign out', signOut, 'link signout'));
  const mark = () => {
    const path = router.current().path;
    for (const a of links) {
      const target = a.getAttribute('href').slice(1);
      const on = target === '/' ? (path === '/' || /^\/(sources|destinations|connections)/.test(path)) : path.startsWith(target);
      a.classList.toggle('active', on);
      if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
  };
  document.addEventListener('route', mark);
  replace(root, h('div', {class: 'layout'}, nav, main));
  router.start(main, (el, path) => replace(el, notice('error', `No page at ${path}.`), h('a', {href: '#/'}, 'Back to connections')));
  mark();
}

router.onError((el, e) => {
  if (e instanceof ApiError && e.status === 401) return;
  replace(el, notice('error', e instanceof ApiError ? `${e.status}: ${e.message}` : `Something went wrong: ${e.message}`));
});

for (const page of [overview, resources, filters, requests, events, eventDetail, bulk, issues, transformations, metrics, topics, publish]) {
  for (const [pattern, render] of page.routes) router.register(pattern, render);
}

whenSignedOut(() => signInPage('Your session ended. Sign in again.'));

(async () => {
  try {
    const s = await api.get('/dashboard/session');
    if (!s.signed_in) return signInPage();
    setSession(s.csrf_token);
    frame();
  } catch (e) {
    signInPage(`Could not reach the gateway: ${e.message}`);
  }
})();
