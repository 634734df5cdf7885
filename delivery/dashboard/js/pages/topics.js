//! Topics (`#/topics?source_id=…`): the topics requests carried, per source,
//! with how many and when last seen (`GET /topics`); each links to the
//! requests and events lists filtered by it.

import {h, replace, notice, pageHeader, table, button, time, relative, link} from '../dom.js';
import {api} from '../api.js';
import {navigate, setQuery} from '../router.js';
import {lookups, sourceName} from '../listing.js';
import {byName} from './events.js';

/** `#/requests?topic=…&source_id=…` (or `#/events…`): the list of one topic of one source. */
function listOf(list, t) {
  return `${list}?${new URLSearchParams({topic: t.name, source_id: t.source_id})}`;
}

function topicsTable(topics) {
  return table([
    {label: 'Topic', cell: (t) => link(listOf('#/requests', t), h('span', {class: 'mono'}, t.name))},
    {label: 'Requests', cell: (t) => h('span', {dataset: {count: String(t.count)}}, t.count.toLocaleString())},
    {label: 'Last seen', cell: (t) => [time(t.last_seen_at), h('span', {class: 'muted'}, ` (${relative(t.last_seen_at)})`)]},
    {label: 'First seen', cell: (t) => time(t.first_seen_at)},
    {label: 'Events', cell: (t) => link(listOf('#/events', t), 'Events')},
  ], topics, {onRow: (t) => navigate(listOf('#/requests', t))});
}

async function topicsPage(main, _params, query) {
  let known = await lookups();
  const sourceId = query.source_id || '';
  const picker = h('select', {'aria-label': 'Source', name: 'source_id'},
    h('option', {value: ''}, 'Every source'),
    byName(known.sources).map(([id, name]) => h('option', {value: id, selected: id === sourceId}, name)));
  const body = h('div', {'aria-live': 'polite'}, h('p', {class: 'muted'}, 'Loading…'));

  async function load() {
    const chosen = picker.value;
    let page;
    try {
      page = await api.get('/topics', {source_id: chosen || undefined});
    } catch (e) {
      replace(body, notice('error', `The topics could not be loaded: ${e.message}`));
      return;
    }
    // A source created since the names were loaded is named too.
    if (page.models.some((t) => !known.sources.has(t.source_id))) known = await lookups({force: true});
    if (!page.models.length) {
      replace(body, notice('info', chosen ? 'No request of this source has had a topic yet.' : 'No request has had a topic yet.',
        ' A request has one when it is published with one (POST /publish), when a broker message brings one, or when its source finds it in a header or the body (the source\'s "Topic from").'));
      return;
    }
    // Grouped by source, sources by name; in each, the most recently seen first (the API's order).
    const bySource = new Map();
    for (const t of page.models) bySource.set(t.source_id, [...(bySource.get(t.source_id) || []), t]);
    const groups = [...bySource.entries()].sort((a, b) => sourceName(a[0]).localeCompare(sourceName(b[0])));
    replace(body,
      h('p', {class: 'muted'}, `${page.count} topic${page.count === 1 ? '' : 's'}${page.count >= 1000 ? ' (the 1000 most recently seen)' : ''}.`),
      groups.map(([id, topics]) => h('section', {'aria-label': `Topics of ${sourceName(id)}`, dataset: {sourceId: id}},
        h('h2', null, 'Source ', link(`#/sources/${encodeURIComponent(id)}`, sourceName(id)),
          h('span', {class: 'muted'}, ` · ${topics.length} topic${topics.length === 1 ? '' : 's'}`)),
        topicsTable(topics))));
  }

  picker.addEventListener('change', () => {
    setQuery({source_id: picker.value});
    load();
  });
  replace(main,
    pageHeader('Topics', h('label', {class: 'filter'}, 'Source ', picker), button('Refresh', () => load())),
    h('p', {class: 'muted'}, 'What requests are about (invoice.paid, orders.created…), as they arrived. Connections subscribe to topics by pattern; open a topic for its requests.'),
    body);
  await load();
}

export const routes = [['/topics', topicsPage]];
