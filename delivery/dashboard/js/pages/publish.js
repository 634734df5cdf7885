//! Publish keys (`#/publish-keys`): keys for the services that publish events
//! (`POST /publish`), which can do nothing else. A key is shown once, when it
//! is created (the gateway keeps only its hash); the list shows its first
//! characters to recognise it, and deleting one stops it at once.

import {h, replace, clear, notice, pageHeader, table, button, time, code} from '../dom.js';
import {api, all, API} from '../api.js';
import {FormState, FieldProblem, fieldAround} from '../form.js';
import {confirmDelete, copyValue, isBrokerSource} from './resources.js';

/** The command that publishes one event with a key kept in $HOOKYARD_PUBLISH_KEY. */
function publishExample(sourceName) {
  const body = JSON.stringify({source: sourceName, topic: 'orders.created', data: {id: 1}});
  return `curl -X POST '${location.origin}${API}/publish' \\\n  -H "Authorization: Bearer $HOOKYARD_PUBLISH_KEY" \\\n  -H 'Content-Type: application/json' \\\n  -d '${body}'`;
}

/** The key just created: copy it now, it is not shown again. */
function createdCard(k, sources, onDone) {
  const input = h('input', {type: 'text', readonly: true, class: 'mono', value: k.key, id: 'new-publish-key', spellcheck: 'false', 'aria-label': `Publish key ${k.name}`});
  const copy = button('Copy', async () => {
    copy.textContent = (await copyValue(input)) ? 'Copied' : 'Select and copy it';
    setTimeout(() => { copy.textContent = 'Copy'; }, 2000);
  }, 'link');
  copy.setAttribute('aria-label', 'Copy the publish key');
  const first = k.source_ids?.length ? sources.get(k.source_ids[0])?.name : [...sources.values()][0]?.name;
  return h('section', {class: 'card', 'aria-label': 'New publish key', dataset: {newKey: ''}},
    notice('ok', h('strong', null, `Publish key ${k.name} created. `),
      'Copy it now: it will not be shown again. The gateway keeps only a hash of it; if it is lost, delete it and create another.'),
    h('label', {for: input.id}, 'Key'),
    h('div', {class: 'secret'}, input, copy),
    h('p', {class: 'muted'}, 'Publish with it (the key in $HOOKYARD_PUBLISH_KEY):'),
    code(publishExample(first || '<source>')),
    h('div', {class: 'actions'}, button('Done: I copied it', onDone)));
}

function createForm(sources, onCreated) {
  const form = new FormState();
  const name = form.field('name', 'Name', h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'orders-service'}),
    {hint: 'Letters, digits, - and _ (at most 155): the service that uses it.'});
  const every = h('input', {type: 'radio', name: 'publish-key-scope', value: 'every', checked: true});
  const some = h('input', {type: 'radio', name: 'publish-key-scope', value: 'some'});
  // Broker sources are consumed from their broker: nothing can publish to them.
  const boxes = [...sources.values()].filter((s) => !isBrokerSource(s)).sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => h('input', {type: 'checkbox', value: s.id, id: `publish-key-source-${s.id}`}));
  const list = h('div', {class: 'actions'}, boxes.length
    ? boxes.map((b) => h('label', {for: b.id}, b, ' ', sources.get(b.value).name))
    : h('span', {class: 'muted'}, 'No webhook source yet.'));
  const group = h('fieldset', {class: 'field'}, h('legend', null, 'May publish to'),
    h('div', {class: 'actions'}, h('label', null, every, ' Every source'), h('label', null, some, ' Only these sources:')),
    list);
  const scope = form.register(fieldAround('source_ids', group, boxes[0] || some));
  const sync = () => { list.hidden = !some.checked; };
  every.addEventListener('change', sync);
  some.addEventListener('change', sync);
  sync();
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Create publish key');
  const el = h('form', {class: 'card', novalidate: true, 'aria-label': 'New publish key'},
    h('h2', null, 'New publish key'), form.top, name.wrap, scope.wrap, h('div', {class: 'actions'}, submit));
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    form.clearErrors();
    submit.disabled = true;
    try {
      const body = {name: name.input.value.trim()};
      if (some.checked) {
        body.source_ids = boxes.filter((b) => b.checked).map((b) => b.value);
        if (!body.source_ids.length) throw new FieldProblem('source_ids', 'Choose at least one source, or let it publish to every source.');
      }
      const created = await api.post('/publish-keys', body);
      name.input.value = '';
      boxes.forEach((b) => { b.checked = false; });
      every.checked = true;
      sync();
      await onCreated(created);
    } catch (err) {
      form.show(err);
    } finally {
      submit.disabled = false;
    }
  });
  return el;
}

function keysTable(keys, sources, onDeleted) {
  return table([
    {label: 'Name', cell: (k) => h('strong', null, k.name)},
    {label: 'Key', cell: (k) => h('span', {class: 'mono', title: 'Only its first characters are kept to recognise it'}, `${k.key_prefix}…`)},
    {label: 'May publish to', cell: (k) => (k.source_ids ? k.source_ids.map((id) => sources.get(id)?.name || id).join(', ') : h('span', {class: 'muted'}, 'Every source'))},
    {label: 'Created', cell: (k) => time(k.created_at)},
    {label: '', cell: (k) => confirmDelete('Delete key', `Delete publish key ${k.name}? Whatever publishes with it is refused from now on.`, async () => {
      await api.del(`/publish-keys/${encodeURIComponent(k.id)}`);
      await onDeleted(k);
    })},
  ], keys, {empty: 'No publish keys yet. Services can also publish with the API key, which can do everything: give each service a publish key instead.'});
}

async function publishKeysPage(main) {
  const [sourceList] = await Promise.all([all('/sources')]);
  const sources = new Map(sourceList.map((s) => [s.id, s]));
  const createdSlot = h('div');
  const status = h('div', {'aria-live': 'polite'});
  const listSlot = h('div');

  async function load() {
    try {
      const page = await api.get('/publish-keys');
      replace(listSlot, keysTable(page.models, sources, async (k) => {
        replace(status, notice('ok', `Publish key ${k.name} deleted: it no longer works.`));
        await load();
      }));
    } catch (e) {
      replace(listSlot, notice('error', `The publish keys could not be loaded: ${e.message}`));
    }
  }

  replace(main,
    pageHeader('Publish keys'),
    h('p', {class: 'muted'}, 'A publish key lets a service publish events (POST ', h('span', {class: 'mono'}, `${API}/publish`),
      ') to every source or to the ones chosen, and nothing else: it cannot read or change anything.'),
    createdSlot,
    createForm(sources, async (k) => {
      clear(status);
      replace(createdSlot, createdCard(k, sources, () => clear(createdSlot)));
      createdSlot.querySelector('#new-publish-key')?.select();
      await load();
    }),
    h('h2', null, 'Keys'),
    status,
    listSlot);
  await load();
}

export const routes = [['/publish-keys', publishKeysPage]];
