//! Create and edit forms for sources, destinations and connections. Fields come
//! from tables of descriptors (a new destination or auth type is one more entry);
//! the API's validation errors are shown next to the field they name (form.js).

import {h, replace, notice, pageHeader, button, link, code, pretty, badge, time, duration} from '../dom.js';
import {api, all, ApiError} from '../api.js';
import {navigate} from '../router.js';
import {FormState, FieldProblem, fieldAround, parseJson} from '../form.js';
import {errorSentence, responseInWords} from '../listing.js';

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const DEFAULT_SOURCE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];

function textInput(value, props = {}) {
  return h('input', {type: 'text', value: value ?? '', autocomplete: 'off', spellcheck: 'false', ...props});
}

function select(options, value) {
  return h('select', null, options.map(([v, label]) => h('option', {value: v, selected: String(value ?? '') === v}, label)));
}

function parseInteger(path, label, text) {
  if (!/^-?\d+$/.test(text)) throw new FieldProblem(path, `${label} must be a whole number.`);
  return Number(text);
}

// ---------------------------------------------------------------------------
// Field kinds. Each builds `{nodes, read(out, isNew)}`; read writes the API
// value of its key into `out` (or leaves it out), or throws a FieldProblem.

const KINDS = {
  text: (form, d, value, prefix) => simple(form, d, value, prefix, textInput(value, {required: d.required, placeholder: d.placeholder})),
  url: (form, d, value, prefix) => simple(form, d, value, prefix,
    textInput(value, {inputmode: 'url', required: d.required, placeholder: d.placeholder || 'https://example.com/webhooks'})),
  password: (form, d, value, prefix) => simple(form, d, value, prefix, h('input', {type: 'password', value: value ?? '', autocomplete: 'new-password'})),
  textarea: (form, d, value, prefix) => simple(form, d, value, prefix, h('textarea', {rows: 2, value: value ?? ''})),

  int(form, d, value, prefix) {
    const path = prefix + d.key;
    const f = form.field(path, d.label, textInput(value, {inputmode: 'numeric', placeholder: d.placeholder}), {hint: d.hint});
    return {nodes: [f.wrap], read(out) {
      const t = f.input.value.trim();
      if (t === '') { if (d.nullable) out[d.key] = null; return; }
      out[d.key] = parseInteger(path, d.label, t);
    }};
  },

  select(form, d, value, prefix) {
    const f = form.field(prefix + d.key, d.label, select(d.options, value ?? d.default ?? ''), {hint: d.hint});
    return {nodes: [f.wrap], read(out) { if (f.input.value !== '') out[d.key] = f.input.value; }};
  },

  checkbox(form, d, value, prefix) {
    const f = form.field(prefix + d.key, d.label, h('input', {type: 'checkbox', checked: Boolean(value ?? d.default)}), {hint: d.hint, checkbox: true});
    return {nodes: [f.wrap], read(out) { out[d.key] = f.input.checked; }};
  },

  /** Comma-separated values, sent as a list. */
  list(form, d, value, prefix) {
    const f = form.field(prefix + d.key, d.label, textInput((value || []).join(', '), {placeholder: d.placeholder}), {hint: d.hint});
    return {nodes: [f.wrap], read(out) {
      const items = f.input.value.split(',').map((s) => s.trim()).filter(Boolean);
      if (items.length) out[d.key] = items;
    }};
  },

  json(form, d, value, prefix) {
    const path = prefix + d.key;
    const text = value === undefined || value === null ? '' : pretty(value);
    const f = form.field(path, d.label, h('textarea', {rows: 5, value: text, spellcheck: 'false', placeholder: d.placeholder}), {hint: d.hint});
    return {nodes: [f.wrap], read(out) {
      const t = f.input.value.trim();
      if (t !== '') out[d.key] = parseJson(path, t);
    }};
  },

  /** A group of checkboxes, one per HTTP method. */
  methods(form, d, value, prefix) {
    const path = prefix + d.key;
    const chosen = new Set(value || d.default || []);
    const boxes = HTTP_METHODS.map((m) => h('input', {type: 'checkbox', value: m, checked: chosen.has(m)}));
    const group = h('fieldset', {class: 'field'}, h('legend', null, d.label),
      h('div', {class: 'actions'}, boxes.map((b) => h('label', null, b, ' ', b.value))),
      d.hint ? h('div', {class: 'hint'}, d.hint) : null);
    const f = form.register(fieldAround(path, group, boxes[0]));
    return {nodes: [f.wrap], read(out) {
      const list = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!list.length) throw new FieldProblem(path, 'Accept at least one method.');
      out[d.key] = list;
    }};
  },

  /** What a source answers providers: content type and body, or the default acknowledgement. */
  custom_response(form, d, value, prefix) {
    const path = prefix + d.key;
    const type = form.field(path, d.label, select([['', 'Hookyard\'s JSON acknowledgement'], ['json', 'JSON'], ['text', 'Text'], ['xml', 'XML']], value?.content_type),
      {hint: 'The body the provider gets back (at most 1000 characters).'});
    const body = form.field(`${path}.body`, 'Response body', h('textarea', {rows: 3, value: value?.body ?? ''}));
    const bodyBox = toggled(body.wrap);
    const sync = () => { bodyBox.hidden = type.input.value === ''; };
    type.input.addEventListener('change', sync);
    sync();
    return {nodes: [type.wrap, bodyBox], read(out) {
      if (type.input.value !== '') out[d.key] = {content_type: type.input.value, body: body.input.value};
    }};
  },

  /** A rate and its period; an empty rate removes the limit. */
  rate_limit(form, d, value, prefix) {
    const rate = form.field(prefix + 'rate_limit', 'Rate limit', textInput(value?.rate_limit ?? '', {inputmode: 'numeric', placeholder: 'No limit'}),
      {hint: 'Most attempts per period (or in flight, with "concurrent"), retries included.'});
    const period = form.field(prefix + 'rate_limit_period', 'Per', select([['second', 'second'], ['minute', 'minute'], ['hour', 'hour'], ['concurrent', 'concurrent (in flight)']], value?.rate_limit_period || 'second'));
    return {nodes: [h('div', {class: 'actions'}, rate.wrap, period.wrap)], read(out) {
      const t = rate.input.value.trim();
      if (t === '') { out.rate_limit = null; return; }
      out.rate_limit = parseInteger(rate.path, 'Rate limit', t);
      out.rate_limit_period = period.input.value;
    }};
  },

  /** A signing secret, hidden: Show reveals it and Copy copies it, for the receiver's configuration. */
  secret(form, d, value, prefix) {
    const input = h('input', {type: 'password', class: 'mono', value: value ?? '', autocomplete: 'new-password', spellcheck: 'false', placeholder: d.placeholder});
    const control = simple(form, d, value, prefix, input);
    const label = d.label.toLowerCase();
    const toggle = (reveal) => {
      input.type = reveal ? 'text' : 'password';
      show.textContent = reveal ? 'Hide' : 'Show';
      show.setAttribute('aria-label', `${show.textContent} ${label}`);
    };
    const show = button('Show', () => toggle(input.type === 'password'), 'link');
    const copy = button('Copy', async () => {
      copy.textContent = (await copyValue(input)) ? 'Copied' : 'Select and copy it';
      setTimeout(() => { copy.textContent = 'Copy'; }, 2000);
    }, 'link');
    copy.setAttribute('aria-label', `Copy ${label}`);
    toggle(false);
    /** Shows the secret (a page showing a secret just generated). */
    control.field.reveal = () => toggle(true);
    const row = h('div', {class: 'secret'});
    input.replaceWith(row);
    row.append(input, show, copy);
    return control;
  },

  /**
   * How deliveries authenticate or are signed: a type from AUTH_TYPES and its
   * config fields; under the picker, what the chosen type adds to a delivery.
   */
  auth(form, d, value, prefix) {
    const path = prefix + d.key;
    const current = authType(value);
    const types = AUTH_TYPES.includes(current) ? AUTH_TYPES : [...AUTH_TYPES, current];
    const about = h('span');
    const type = form.field(path, d.label, select(types.map((a) => [a.type, a.label]), current.type), {hint: about});
    const panels = types.map((a) => {
      const built = buildFields(form, a.config, a === current ? value?.config : {}, `${path}.config.`);
      return {a, el: h('div', null, built.nodes), read: built.read};
    });
    const chosen = () => panels.find((p) => p.a.type === type.input.value);
    const sync = () => {
      const shown = chosen();
      for (const p of panels) p.el.hidden = p !== shown;
      about.textContent = shown.a.about ? shown.a.about(shown.read(false)) : d.hint || '';
    };
    // A method the destination's type cannot use is put aside (None chosen) and chosen again when it can.
    let aside = null;
    type.input.addEventListener('change', () => { aside = null; });
    type.input.addEventListener('change', sync);
    for (const p of panels) p.el.addEventListener('input', sync);
    sync();
    return {nodes: [type.wrap, ...panels.map((p) => p.el)], read(out, isNew) {
      const {a, read} = chosen();
      if (a.keep) return;
      if (a.type === '') {
        // null removes a destination's method (left out, the API keeps it); a new one has none.
        if (!isNew && value?.type) out[d.key] = null;
        return;
      }
      out[d.key] = {type: a.type, config: read(false)};
    },
    /** Hides the methods `unavailable` names (OAuth2 on a CLI destination). */
    exclude(unavailable) {
      for (const o of type.input.options) o.hidden = o.disabled = unavailable.includes(o.value);
      if (unavailable.includes(type.input.value)) {
        aside = type.input.value;
        type.input.value = '';
      } else if (aside && type.input.value === '') {
        type.input.value = aside;
        aside = null;
      }
      sync();
    }};
  },
};

/**
 * A plain box around something shown or hidden: `.field` has its own display,
 * which wins over the `hidden` attribute, so the box is what gets hidden.
 */
export function toggled(...nodes) {
  return h('div', null, ...nodes);
}

/**
 * A one-line (or textarea) field. Empty, it is left out, except where empty
 * means something: `empty` is then what it sends (a RabbitMQ exchange of "" is
 * the default exchange), and `clearable` sends '' to clear a stored value.
 */
function simple(form, d, value, prefix, input) {
  const f = form.field(prefix + d.key, d.label, input, {hint: d.hint});
  return {field: f, nodes: [f.wrap], read(out, isNew) {
    const t = f.input.value.trim();
    if (t !== '') out[d.key] = d.kind === 'password' || d.kind === 'secret' ? f.input.value : t;
    else if (d.empty !== undefined) out[d.key] = d.empty;
    else if (d.clearable && !isNew && value) out[d.key] = '';
  }};
}

/** Controls for a table of descriptors; read() gives the object they describe. */
export function buildFields(form, descriptors, values, prefix = '') {
  const controls = descriptors.map((d) => {
    const value = d.kind === 'rate_limit' ? values : values?.[d.key];
    return {d, ...KINDS[d.kind](form, d, value, prefix)};
  });
  return {
    controls,
    nodes: controls.flatMap((c) => c.nodes),
    /** Only the controls not marked `more` (for inline forms) and the others. */
    split: () => [controls.filter((c) => !c.d.more).flatMap((c) => c.nodes), controls.filter((c) => c.d.more).flatMap((c) => c.nodes)],
    read(isNew) {
      const out = {};
      for (const c of controls) c.read(out, isNew);
      return out;
    },
  };
}

// ---------------------------------------------------------------------------
// The resources, described.

const NAME_HINT = 'Letters, digits, - and _ (at most 155).';

/** A source's own fields; those marked `webhook` are about HTTP and only WEBHOOK sources have them. */
export const SOURCE_FIELDS = [
  {key: 'name', label: 'Name', kind: 'text', required: true, hint: `${NAME_HINT} Webhooks are sent to /e/<name>.`},
  {key: 'description', label: 'Description', kind: 'textarea', clearable: true, more: true},
  {key: 'allowed_http_methods', label: 'Accepted methods', kind: 'methods', default: DEFAULT_SOURCE_METHODS, more: true, webhook: true},
  {key: 'custom_response', label: 'Response to the provider', kind: 'custom_response', more: true, webhook: true},
  {key: 'verification', label: 'Signature verification (JSON)', kind: 'json', more: true, webhook: true,
    placeholder: '{"type": "stripe", "configs": {"webhook_secret_key": "whsec_…"}}',
    hint: 'Types: hmac, basic_auth, api_key, stripe, github, shopify, standard_webhooks, svix, twilio, slack, paddle, linear. Empty: no verification.'},
  {key: 'max_body_bytes', label: 'Largest body (bytes)', kind: 'int', more: true, placeholder: 'Gateway default',
    hint: 'Bigger requests are refused with 413.'},
];

const GENERATED = 'Empty: generated by the gateway, and kept when saved again.';

/**
 * How deliveries authenticate to a destination (the API's `auth_method.type`).
 * `about(config)`: what a delivery carries, under the picker. `secret`: the
 * config field of a signing method's secret, which the receiver needs.
 */
export const AUTH_TYPES = [
  {type: '', label: 'None', config: [], about: () => 'Deliveries carry no credentials and no signature.'},
  {type: 'BEARER_TOKEN', label: 'Bearer token', config: [
    {key: 'token', label: 'Token', kind: 'password'},
  ]},
  {type: 'BASIC_AUTH', label: 'Basic auth', config: [
    {key: 'username', label: 'Username', kind: 'text'},
    {key: 'password', label: 'Password', kind: 'password'},
  ]},
  {type: 'API_KEY', label: 'API key', config: [
    {key: 'key', label: 'Header or query parameter name', kind: 'text'},
    {key: 'api_key', label: 'API key', kind: 'password'},
    {key: 'to', label: 'Sent in', kind: 'select', options: [['header', 'a header'], ['query', 'the query string']], default: 'header'},
  ]},
  {type: 'HOOKDECK_SIGNATURE', label: 'Hookdeck signature (x-hookdeck-signature)', secret: 'signing_secret',
    about: () => 'The receiver checks x-hookdeck-signature: the base64 HMAC-SHA256 of the raw body, keyed with this secret.',
    config: [
      {key: 'signing_secret', label: 'Signing secret', kind: 'secret', hint: GENERATED},
    ]},
  {type: 'STANDARD_WEBHOOKS', label: 'Standard Webhooks (webhook-signature)', secret: 'secret',
    about: () => 'The receiver checks webhook-id, webhook-timestamp and webhook-signature (v1,…) with a Standard Webhooks library and this secret.',
    config: [
      {key: 'secret', label: 'Secret', kind: 'secret', placeholder: 'whsec_…', hint: `whsec_ and 24 to 64 bytes in base64. ${GENERATED}`},
      {key: 'previous_secret', label: 'Previous secret', kind: 'secret', placeholder: 'whsec_…',
        hint: 'While rotating: the old secret, signed with too until removed, so receivers can switch at their pace. Empty: none.'},
    ]},
  {type: 'CUSTOM_SIGNATURE', label: 'Custom HMAC signature (a header you name)', secret: 'signing_secret',
    about: (c) => `The receiver checks ${c.key || 'the header'}: ${c.prefix || ''}<the ${c.encoding} HMAC-${(c.algorithm || '').toUpperCase()} of the raw body, keyed with this secret>.`,
    config: [
      {key: 'key', label: 'Header name', kind: 'text', placeholder: 'x-signature', hint: 'The header the signature is sent in.'},
      {key: 'signing_secret', label: 'Signing secret', kind: 'secret', hint: GENERATED},
      {key: 'algorithm', label: 'Algorithm', kind: 'select', default: 'sha256',
        options: [['sha256', 'HMAC-SHA256'], ['sha1', 'HMAC-SHA1'], ['sha512', 'HMAC-SHA512']]},
      {key: 'encoding', label: 'Encoding', kind: 'select', default: 'hex', options: [['hex', 'hex'], ['base64', 'base64'], ['base64url', 'base64url']]},
      {key: 'prefix', label: 'Prefix', kind: 'text', placeholder: 'sha256=', hint: 'Written before the signature. Empty: none.'},
    ]},
  {type: 'OAUTH2_CLIENT_CREDENTIALS', label: 'OAuth2 client credentials',
    about: () => 'The gateway gets an access token from the token URL, keeps it until it expires and sends it as Authorization: Bearer.',
    config: [
      {key: 'auth_server', label: 'Token URL', kind: 'url', placeholder: 'https://auth.example.com/oauth/token'},
      {key: 'client_id', label: 'Client ID', kind: 'text'},
      {key: 'client_secret', label: 'Client secret', kind: 'password'},
      {key: 'scope', label: 'Scope', kind: 'text', hint: 'Empty: none asked for.'},
      {key: 'authentication_type', label: 'Client credentials sent', kind: 'select', default: 'basic',
        options: [['basic', 'as Authorization: Basic'], ['bearer', 'as Authorization: Bearer'], ['x-www-form-urlencoded', 'in the form body']]},
    ]},
];

/**
 * A destination's entry in AUTH_TYPES. None for no method, and for a
 * HOOKDECK_SIGNATURE without a secret (saved before signatures existed: it
 * signs nothing). A type this dashboard does not know is kept as it is.
 */
function authType(a) {
  if (!a?.type || (a.type === 'HOOKDECK_SIGNATURE' && !a.config?.signing_secret)) return AUTH_TYPES[0];
  return AUTH_TYPES.find((t) => t.type === a.type)
    || {type: a.type, label: a.type, config: [], keep: true, about: () => 'A method this dashboard cannot edit: it is kept as it is.'};
}

/** The secret of a destination's signing method, with the type, or null. */
function signingSecret(dest) {
  const t = authType(dest?.auth_method);
  const secret = t.secret ? dest.auth_method.config?.[t.secret] : null;
  return secret ? {type: t, secret} : null;
}

/** Copies an input's value: the Clipboard API, else (plain http) the selected text. */
export async function copyValue(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    const type = input.type;
    input.type = 'text';
    input.select();
    const ok = document.execCommand('copy');
    if (ok) input.type = type;
    return ok;
  }
}

/** A URL as shown: without the credentials it may carry (amqp://user:password@host). */
export function withoutCredentials(url) {
  return String(url ?? '').replace(/(\/\/)[^/@,\s]*@/g, '$1');
}

/** An AWS client's region, endpoint and credentials (SQS and EventBridge). */
function awsAccess(regionHint) {
  return [
    {key: 'region', label: 'Region', kind: 'text', more: true, placeholder: 'us-east-1', hint: regionHint},
    {key: 'endpoint_url', label: 'Endpoint URL', kind: 'url', more: true, placeholder: 'http://localhost:4566',
      hint: 'Another endpoint: LocalStack, moto, a VPC endpoint. Empty: AWS\'s own.'},
    {key: 'access_key_id', label: 'Access key ID', kind: 'text', more: true, placeholder: 'AKIA…',
      hint: 'With the secret access key. Both empty: the standard AWS chain (environment, profile, instance role).'},
    {key: 'secret_access_key', label: 'Secret access key', kind: 'password', more: true},
    {key: 'session_token', label: 'Session token', kind: 'password', more: true, hint: 'Only for temporary credentials.'},
  ];
}

/**
 * The settings of the HTTP request a delivery is, which HTTP and CLI
 * destinations share (`shared`): one set of fields, kept when the type changes
 * from one to the other. The destination's own fields, not a `config`.
 */
const HTTP_REQUEST = {
  fields: [
    {key: 'http_method', label: 'HTTP method', kind: 'select', more: true,
      options: [['', 'The method the provider used'], ...HTTP_METHODS.map((m) => [m, m])]},
    {key: 'path_forwarding_disabled', label: 'Do not append the request\'s path to the URL or CLI path', kind: 'checkbox', more: true},
  ],
  // Credentials of HTTP requests: the other types take theirs in their config.
  delivery: [
    {key: 'auth_method', label: 'Authentication', kind: 'auth', more: true, hint: 'Credentials added to every delivery.'},
  ],
};

/**
 * Kinds of destination the API delivers to (its `type`), with the fields only
 * they have. HTTP's fields are the destination's own (`url`, `http_method`…);
 * a type marked `config` has its fields in the destination's `config` object,
 * which the API replaces whole on update: the form sends all of it, save an
 * empty optional field, left out (the API refuses e.g. an empty region).
 * `delivery`: fields of the type shown with the delivery settings.
 * `shared`: fields it has in common with other types (HTTP_REQUEST);
 * `unavailableAuth`: authentication methods it cannot use.
 * `target(d)`: where its events go, in a line (lists and cards).
 */
export const DESTINATION_TYPES = [
  {type: 'HTTP', label: 'HTTP endpoint', about: 'Sends each event to a URL with the provider\'s method (or the one set); a 2xx answer is a success.',
    target: (d) => (d.url ? `${d.http_method ? `${d.http_method} ` : ''}${d.url}` : ''),
    shared: HTTP_REQUEST,
    fields: [
      {key: 'url', label: 'URL', kind: 'url', hint: 'The http(s) endpoint events are delivered to.'},
    ]},
  {type: 'CLI', label: 'CLI (hookyard listen)', shared: HTTP_REQUEST,
    // The local server gets no token: the API refuses OAuth2 here.
    unavailableAuth: ['OAUTH2_CLIENT_CREDENTIALS'],
    about: 'Sends each event to a server on a developer\'s machine, through the `hookyard listen` connected for this destination; a 2xx answer is a success. While no CLI is connected, events wait.',
    target: (d) => `${d.http_method ? `${d.http_method} ` : ''}${d.cli_path || '/'}`,
    fields: [
      {key: 'cli_path', label: 'CLI path', kind: 'text', placeholder: '/',
        hint: 'The path on your local server, after the port: with /webhooks, `hookyard listen 9000` delivers to http://localhost:9000/webhooks. Empty: /.'},
    ]},
  {type: 'MOCK_API', label: 'Mock API (accepts and discards)',
    about: 'Accepts every event and discards it, recording a successful attempt: to try a connection\'s rules without a real endpoint.',
    target: () => 'accepts and discards every event', fields: []},
  {type: 'RABBITMQ', label: 'RabbitMQ', config: true,
    about: 'Publishes each event to an exchange, with publisher confirms: the broker\'s confirm is a success.',
    target: (c) => `${withoutCredentials(c.url)} → ${rabbitTarget(c)}`,
    fields: [
      {key: 'url', label: 'Broker URL', kind: 'url', required: true, placeholder: 'amqp://user:password@rabbitmq:5672/%2f',
        hint: 'amqp:// or amqps://, with the credentials and the virtual host (%2f is "/").'},
      {key: 'exchange', label: 'Exchange', kind: 'text', empty: '', placeholder: 'The default exchange',
        hint: 'Empty: the default exchange, which routes to the queue the routing key names.'},
      {key: 'routing_key', label: 'Routing key', kind: 'text', hint: 'Required with the default exchange: the queue\'s name.'},
      {key: 'mandatory', label: 'Fail the attempt when no queue is bound for the routing key (mandatory)', kind: 'checkbox', default: true, more: true},
      {key: 'persistent', label: 'Persistent messages (the broker writes them to disk)', kind: 'checkbox', default: true, more: true},
    ]},
  {type: 'NATS', label: 'NATS JetStream', config: true,
    about: 'Publishes each event to a subject a JetStream stream captures: the stream\'s acknowledgement is a success.',
    target: (c) => `${withoutCredentials(c.url)} → ${c.subject}`,
    fields: [
      {key: 'url', label: 'Server URL', kind: 'url', required: true, placeholder: 'nats://nats:4222',
        hint: 'nats:// or tls://; several servers separated by commas.'},
      {key: 'subject', label: 'Subject', kind: 'text', required: true, placeholder: 'orders.created', hint: 'A concrete subject: no wildcards.'},
      {key: 'token', label: 'Token', kind: 'password', more: true, hint: 'Or a username and password, not both.'},
      {key: 'username', label: 'Username', kind: 'text', more: true, hint: 'With the password.'},
      {key: 'password', label: 'Password', kind: 'password', more: true},
    ]},
  {type: 'AWS_SQS', label: 'Amazon SQS', config: true,
    about: 'Sends each event as a message to an SQS queue, standard or FIFO.',
    target: (c) => `${c.queue_url}${c.message_group_id ? ` (group ${c.message_group_id})` : ''}`,
    fields: [
      {key: 'queue_url', label: 'Queue URL', kind: 'url', required: true, placeholder: 'https://sqs.us-east-1.amazonaws.com/123456789012/orders'},
      {key: 'message_group_id', label: 'Message group ID', kind: 'text', more: true,
        hint: 'FIFO queues only (a queue URL ending in .fifo). Empty: the source\'s id.'},
      ...awsAccess('Empty: the region in the queue URL, else AWS_REGION or the profile\'s.'),
    ]},
  {type: 'AWS_EVENTBRIDGE', label: 'Amazon EventBridge', config: true,
    about: 'Puts each event on an event bus (PutEvents), for its rules to route.',
    target: (c) => `event bus ${c.event_bus_name}${c.region ? ` (${c.region})` : ''}`,
    fields: [
      {key: 'event_bus_name', label: 'Event bus', kind: 'text', required: true, placeholder: 'default', hint: 'Its name or ARN.'},
      {key: 'source', label: 'Source', kind: 'text', more: true, placeholder: 'hookyard.<source id>',
        hint: 'The entries\' Source; must not start with "aws.".'},
      {key: 'detail_type', label: 'Detail type', kind: 'text', more: true, placeholder: 'The request\'s topic, else "webhook"',
        hint: 'Empty: the request\'s x-github-event, x-shopify-topic or x-event-type header, else "webhook".'},
      {key: 'detail', label: 'Detail', kind: 'select', more: true, default: 'body',
        options: [['body', 'The body (a JSON object as it is, anything else as {"body": …})'], ['envelope', 'An envelope: headers, body and Hookyard\'s ids']]},
      ...awsAccess('Empty: AWS_REGION or the profile\'s.'),
    ]},
  {type: 'REDIS_STREAM', label: 'Redis Stream', config: true,
    about: 'Appends each event to a Redis stream (XADD).',
    target: (c) => `${withoutCredentials(c.url)} → ${c.stream}`,
    fields: [
      {key: 'url', label: 'Redis URL', kind: 'url', required: true, placeholder: 'redis://:password@redis:6379/0', hint: 'redis:// or rediss://.'},
      {key: 'stream', label: 'Stream', kind: 'text', required: true, placeholder: 'webhooks', hint: 'The stream\'s key.'},
      {key: 'maxlen', label: 'Keep about this many entries', kind: 'int', more: true, placeholder: 'No trim',
        hint: 'At least 1: older entries are trimmed, approximately (MAXLEN ~).'},
    ]},
];

/** A RabbitMQ destination's exchange and routing key; the default exchange routes to the queue its key names. */
function rabbitTarget(c) {
  if (!c.exchange) return c.routing_key ? `queue ${c.routing_key}` : '(default exchange)';
  return c.routing_key ? `${c.exchange} (routing key ${c.routing_key})` : c.exchange;
}

/**
 * A destination's entry in DESTINATION_TYPES. A type this dashboard does not
 * know (from a newer gateway) gets one without fields: saving sends only its
 * `type`, and the API keeps the config of an unchanged type.
 */
export function destinationType(d) {
  const name = d?.type || 'HTTP';
  return DESTINATION_TYPES.find((t) => t.type === name)
    || {type: name, label: name, about: 'A type this dashboard cannot edit: its settings are kept as they are.', target: () => '', fields: [], keep: true};
}

/** Where a destination's events go, in a line: `POST https://…`, `RABBITMQ · amqp://host/%2f → orders`. */
export function destinationTarget(d, {withType = true} = {}) {
  const t = destinationType(d);
  const target = t.config ? (d.config ? t.target(d.config) : '') : t.target(d);
  if (t.type === 'HTTP' || !withType) return target;
  return target ? `${t.type} · ${target}` : t.type;
}

const DESTINATION_COMMON = [
  {key: 'name', label: 'Name', kind: 'text', required: true, hint: NAME_HINT},
  {key: 'description', label: 'Description', kind: 'textarea', clearable: true, more: true},
];

/** Delivery settings of every type (a type's own, such as HTTP's authentication, come first). */
const DESTINATION_DELIVERY = [
  {key: 'rate_limit', kind: 'rate_limit', more: true},
  {key: 'max_concurrency', label: 'Most deliveries in flight', kind: 'int', nullable: true, more: true, placeholder: 'No limit', hint: '1 to 10000.'},
  {key: 'auto_disable_after', label: 'Disable after this many failures in a row', kind: 'int', nullable: true, more: true,
    placeholder: 'Gateway default', hint: '0: never. A disabled destination holds its events until enabled.'},
];

/** The destination fields: common ones, the type's own (by a type picker), delivery settings. */
function destinationFields(form, values, prefix) {
  const common = buildFields(form, DESTINATION_COMMON, values, prefix);
  const current = destinationType(values);
  const types = DESTINATION_TYPES.includes(current) ? DESTINATION_TYPES : [...DESTINATION_TYPES, current];
  const about = h('span');
  const type = form.field(`${prefix}type`, 'Type', select(types.map((t) => [t.type, t.label]), current.type), {hint: about});
  const panel = (built, ownDelivery) => {
    const [main, more] = built.split();
    return {built, ownDelivery, main: h('div', null, main), more: h('div', null, more), delivery: h('div', null, ownDelivery.nodes)};
  };
  // Every type's fields are built (filled for the current type only) and the picker shows one type's.
  const panels = types.map((t) => {
    const own = t === current ? values : null;
    return {t, ...panel(buildFields(form, t.fields, t.config ? own?.config : own, t.config ? `${prefix}config.` : prefix),
      buildFields(form, t.delivery || [], own, prefix))};
  });
  // Fields types share (HTTP's and CLI's request settings) are built once, shown with any of them.
  const groups = [...new Set(types.map((t) => t.shared).filter(Boolean))].map((g) => {
    const own = current.shared === g ? values : null;
    return {g, ...panel(buildFields(form, g.fields, own, prefix), buildFields(form, g.delivery || [], own, prefix))};
  });
  const delivery = buildFields(form, DESTINATION_DELIVERY, values, prefix);
  const chosen = () => panels.find((p) => p.t.type === type.input.value);
  const sync = () => {
    const shown = chosen();
    for (const p of panels) p.main.hidden = p.more.hidden = p.delivery.hidden = p !== shown;
    for (const p of groups) {
      p.main.hidden = p.more.hidden = p.delivery.hidden = p.g !== shown.t.shared;
      for (const c of p.ownDelivery.controls) c.exclude?.(shown.t.unavailableAuth || []);
    }
    about.textContent = shown.t.about || '';
  };
  type.input.addEventListener('change', sync);
  sync();
  const [commonMain, commonMore] = common.split();
  const shown = [...panels, ...groups];
  const deliveryNodes = [shown.map((p) => p.delivery), delivery.nodes];
  return {
    main: [commonMain, type.wrap, shown.map((p) => p.main)],
    /** The type's other fields, then the description (the type's fields stay together). */
    extra: [shown.map((p) => p.more), commonMore],
    delivery: deliveryNodes,
    more: [commonMore, shown.map((p) => p.more), deliveryNodes],
    read(isNew) {
      const {t, built, ownDelivery} = chosen();
      // HTTP's and CLI's fields are the destination's own; the other types' are its `config` (MOCK_API has none).
      const own = t.keep ? {} : t.config ? {config: built.read(isNew)} : built.read(isNew);
      const group = groups.find((p) => p.g === t.shared);
      const shared = group ? {...group.built.read(isNew), ...group.ownDelivery.read(isNew)} : {};
      return {...common.read(isNew), type: t.type, ...own, ...shared, ...ownDelivery.read(isNew), ...delivery.read(isNew)};
    },
  };
}

// ---------------------------------------------------------------------------
// Source types: WEBHOOK (HTTP at /e/<name> and the publish API) or a broker
// the gateway consumes, each message becoming a request.

/** How many consumers a broker source runs (every broker type has it). */
const CONSUMERS = {key: 'consumers', label: 'Consumers', kind: 'int', placeholder: '1',
  hint: '1 to 64: how many the gateway runs for this source on each replica. Empty: 1.'};

/**
 * Kinds of source (the API's `type`). A broker type's fields are its `config`,
 * which the API replaces whole on update: the form sends all of it, save an
 * empty optional field, left out. `address(config)`: where the gateway
 * consumes from, in a line without credentials (cards, lists).
 */
export const SOURCE_TYPES = [
  {type: 'WEBHOOK', label: 'Webhook (HTTP)', fields: [],
    about: 'Receives webhooks at /e/<name>, and events your services publish (POST /publish).'},
  {type: 'RABBITMQ', label: 'RabbitMQ queue',
    about: 'The gateway consumes a queue: each message becomes a request, acknowledged to the broker once stored.',
    address: (c) => `${withoutCredentials(c.url)} → queue ${c.queue}${c.exchange ? ` (bound to ${c.exchange}${c.routing_key ? `, key ${c.routing_key}` : ''})` : ''}`,
    fields: [
      {key: 'url', label: 'Broker URL', kind: 'url', required: true, placeholder: 'amqp://user:password@rabbitmq:5672/%2f',
        hint: 'amqp:// or amqps://, with the credentials and the virtual host (%2f is "/").'},
      {key: 'queue', label: 'Queue', kind: 'text', required: true, placeholder: 'webhooks', hint: 'Declared (durable) when it does not exist.'},
      CONSUMERS,
      {key: 'exchange', label: 'Bind to exchange', kind: 'text', more: true, hint: 'The queue is bound to this exchange, which must exist. Empty: no binding.'},
      {key: 'routing_key', label: 'Binding key', kind: 'text', more: true, placeholder: '#', hint: 'With an exchange: the routing keys the queue takes. Empty: # (all).'},
    ]},
  {type: 'NATS', label: 'NATS JetStream stream',
    about: 'The gateway reads a JetStream stream with a durable consumer: each message becomes a request, acknowledged once stored.',
    address: (c) => `${withoutCredentials(c.url)} → stream ${c.stream}${c.subject ? ` (${c.subject})` : ''}`,
    fields: [
      {key: 'url', label: 'Server URL', kind: 'url', required: true, placeholder: 'nats://nats:4222', hint: 'nats:// or tls://.'},
      {key: 'stream', label: 'Stream', kind: 'text', required: true, placeholder: 'ORDERS'},
      CONSUMERS,
      {key: 'subject', label: 'Subject filter', kind: 'text', more: true, placeholder: 'orders.>',
        hint: 'Only messages whose subject matches (wildcards allowed). Empty: the whole stream.'},
      {key: 'durable', label: 'Durable consumer name', kind: 'text', more: true, placeholder: 'hookyard-<source id>'},
    ]},
  {type: 'AWS_SQS', label: 'Amazon SQS queue',
    about: 'The gateway long-polls an SQS queue: each message becomes a request, deleted from the queue once stored.',
    address: (c) => c.queue_url,
    fields: [
      {key: 'queue_url', label: 'Queue URL', kind: 'url', required: true, placeholder: 'https://sqs.us-east-1.amazonaws.com/123456789012/webhooks'},
      CONSUMERS,
      ...awsAccess('Empty: the region in the queue URL, else AWS_REGION or the profile\'s.'),
    ]},
  {type: 'REDIS_STREAM', label: 'Redis Stream',
    about: 'The gateway reads a Redis stream in a consumer group: each entry becomes a request, acknowledged (XACK) once stored.',
    address: (c) => `${withoutCredentials(c.url)} → stream ${c.stream}${c.group ? ` (group ${c.group})` : ''}`,
    fields: [
      {key: 'url', label: 'Redis URL', kind: 'url', required: true, placeholder: 'redis://:password@redis:6379/0', hint: 'redis:// or rediss://.'},
      {key: 'stream', label: 'Stream', kind: 'text', required: true, placeholder: 'webhooks', hint: 'The stream\'s key.'},
      CONSUMERS,
      {key: 'group', label: 'Consumer group', kind: 'text', more: true, placeholder: 'hookyard',
        hint: 'Created, with the stream, when missing. Empty: hookyard.'},
    ]},
];

/** A source's entry in SOURCE_TYPES; a type this dashboard does not know is kept as it is. */
export function sourceType(s) {
  const name = s?.type || 'WEBHOOK';
  return SOURCE_TYPES.find((t) => t.type === name)
    || {type: name, label: name, about: 'A type this dashboard cannot edit: its settings are kept as they are.', fields: [], keep: true, address: () => ''};
}

/** Whether the gateway consumes the source from a broker (no /e/ URL, no publishing). */
export function isBrokerSource(s) {
  return sourceType(s).type !== 'WEBHOOK';
}

/** Where a broker source is consumed from, without credentials (`amqp://host/%2f → queue orders`); '' for WEBHOOK. */
export function sourceAddress(s) {
  const t = sourceType(s);
  return t.address && s?.config ? t.address(s.config) : '';
}

/** Where a source finds a request's topic, in words, or ''. */
export function topicFromInWords(rule) {
  if (rule?.header) return `the ${rule.header} header`;
  if (rule?.body) return `the body's ${rule.body} field`;
  return '';
}

/** `topic_from`: none, a header's name, or a dotted path into a JSON body. */
function topicFromField(form, value, prefix) {
  const path = `${prefix}topic_from`;
  const current = value?.header !== undefined ? 'header' : value?.body !== undefined ? 'body' : '';
  const kind = form.field(`${path}.kind`, 'Topic from', select([['', 'Nowhere: requests bring their own, or have none'],
    ['header', 'A header'], ['body', 'A field of the JSON body']], current),
  {hint: 'Where a request\'s topic is found when it brings none (published events and broker messages may bring theirs). Connections subscribe to topics.'});
  const hint = h('span');
  const where = form.field(path, 'Header name', textInput(value?.header ?? value?.body ?? ''), {hint});
  const label = where.wrap.querySelector('label');
  const box = toggled(where.wrap);
  const sync = () => {
    box.hidden = kind.input.value === '';
    const header = kind.input.value === 'header';
    label.textContent = header ? 'Header name' : 'JSON field path';
    where.input.placeholder = header ? 'X-GitHub-Event' : 'type';
    hint.textContent = header ? 'X-GitHub-Event (GitHub), X-Shopify-Topic (Shopify)… Its value is the topic.'
      : 'A dotted path: type (Stripe), data.object.type, items.0.kind. A string or number there is the topic.';
  };
  kind.input.addEventListener('change', sync);
  sync();
  return {nodes: [kind.wrap, box], read(out, isNew) {
    const k = kind.input.value;
    if (k === '') {
      // null removes a stored rule; a new source has none.
      if (!isNew) out.topic_from = null;
      return;
    }
    const t = where.input.value.trim();
    if (!t) throw new FieldProblem(path, k === 'header' ? 'Give the header\'s name.' : 'Give the path of the field, like type.');
    out.topic_from = {[k]: t};
  }};
}

/**
 * The source fields: name, the type picker and the type's fields (a broker's
 * `config`), where the topic is found, and WEBHOOK's HTTP settings.
 */
function sourceFields(form, values, prefix) {
  const common = buildFields(form, SOURCE_FIELDS.filter((d) => !d.webhook), values, prefix);
  const webhook = buildFields(form, SOURCE_FIELDS.filter((d) => d.webhook), values, prefix);
  const current = sourceType(values);
  const types = SOURCE_TYPES.includes(current) ? SOURCE_TYPES : [...SOURCE_TYPES, current];
  const about = h('span');
  const type = form.field(`${prefix}type`, 'Type', select(types.map((t) => [t.type, t.label]), current.type), {hint: about});
  // Every type's fields are built (filled for the current type only) and the picker shows one type's.
  const panels = types.map((t) => {
    const built = buildFields(form, t.fields, t === current ? values?.config : null, `${prefix}config.`);
    const [main, more] = built.split();
    return {t, built, main: h('div', null, main), more: h('div', null, more)};
  });
  const topicFrom = topicFromField(form, values?.topic_from, prefix);
  const http = h('div', null, webhook.nodes);
  const chosen = () => panels.find((p) => p.t.type === type.input.value);
  const sync = () => {
    const shown = chosen();
    for (const p of panels) p.main.hidden = p.more.hidden = p !== shown;
    http.hidden = shown.t.type !== 'WEBHOOK';
    about.textContent = shown.t.about || '';
  };
  type.input.addEventListener('change', sync);
  sync();
  const [commonMain, commonMore] = common.split();
  return {
    main: [commonMain, type.wrap, panels.map((p) => p.main)],
    /** The type's other fields, the topic's rule, the description, then HTTP's settings. */
    more: [panels.map((p) => p.more), topicFrom.nodes, commonMore, http],
    read(isNew) {
      const {t, built} = chosen();
      const out = {...common.read(isNew), type: t.type};
      if (t.type === 'WEBHOOK') Object.assign(out, webhook.read(isNew));
      else if (!t.keep) out.config = built.read(isNew);
      topicFrom.read(out, isNew);
      return out;
    },
  };
}

// ---------------------------------------------------------------------------
// Shared page parts.

/** The save button's busy state around an API call, with errors shown in the form. */
async function saving(form, submitButton, work) {
  form.clearErrors();
  submitButton.disabled = true;
  try {
    return await work();
  } catch (e) {
    if (e instanceof FieldProblem || e instanceof ApiError) form.show(e);
    else form.show(new Error(`Could not save: ${e.message}`));
    return undefined;
  } finally {
    submitButton.disabled = false;
  }
}

/** A delete button that asks again in the page before calling `onDelete`. */
export function confirmDelete(label, question, onDelete) {
  const box = h('div');
  const ask = () => {
    const status = h('div');
    replace(box, notice('error', h('p', null, question),
      h('div', {class: 'actions'},
        button(`Yes, ${label.toLowerCase()}`, async (e) => {
          e.target.disabled = true;
          try {
            await onDelete();
          } catch (err) {
            replace(status, notice('error', err.message));
            e.target.disabled = false;
          }
        }, 'danger'),
        button('Cancel', reset, 'link')),
      status));
    box.querySelector('button.danger')?.focus();
  };
  const reset = () => replace(box, button(label, ask, 'danger'));
  reset();
  return box;
}

/** Disable/enable of a resource through `PUT /{kind}/{id}/disable|enable`. */
function stateCard(kind, item, what, onChange) {
  const status = h('div');
  const disabled = Boolean(item.disabled_at);
  const toggle = button(disabled ? `Enable ${what}` : `Disable ${what}`, async () => {
    toggle.disabled = true;
    try {
      await api.put(`/${kind}/${encodeURIComponent(item.id)}/${disabled ? 'enable' : 'disable'}`);
      onChange();
    } catch (e) {
      replace(status, notice('error', e.message));
      toggle.disabled = false;
    }
  });
  return h('div', {class: 'card'},
    h('h2', null, 'State'),
    h('p', null, disabled ? badge(item.disabled_reason ? 'auto-disabled' : 'disabled') : badge('enabled'),
      disabled ? [' since ', time(item.disabled_at)] : null),
    item.disabled_reason ? notice('info', item.disabled_reason) : null,
    h('div', {class: 'actions'}, toggle), status);
}

function formShell(form, ...children) {
  return h('form', {class: 'card', novalidate: true}, form.top, ...children);
}

function moreOptions(summary, nodes) {
  return h('details', null, h('summary', null, summary), h('div', null, nodes));
}

function loading(main) {
  replace(main, h('p', {class: 'muted'}, 'Loading…'));
}

// ---------------------------------------------------------------------------
// Sources.

async function sourcePage(main, params) {
  const isNew = !params.id;
  loading(main);
  const source = isNew ? null : await api.get(`/sources/${encodeURIComponent(params.id)}`);
  const form = new FormState();
  const fields = sourceFields(form, source, '');
  const submit = h('button', {type: 'submit', class: 'primary'}, isNew ? 'Create source' : 'Save source');
  const el = formShell(form, fields.main, fields.more, h('div', {class: 'actions'}, submit, link('#/', 'Cancel')));
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const saved = await saving(form, submit, () => {
      const body = fields.read(isNew);
      return isNew ? api.post('/sources', body) : api.put(`/sources/${encodeURIComponent(source.id)}`, body);
    });
    if (saved) navigate('#/');
  });
  replace(main,
    pageHeader(isNew ? 'New source' : `Source ${source.name}`,
      isNew ? null : link(`#/requests?source_id=${encodeURIComponent(source.id)}`, 'Requests'),
      isNew ? null : link(`#/connections/new?source_id=${encodeURIComponent(source.id)}`, 'Connect to a destination')),
    isNew ? h('p', {class: 'muted'}, 'A source is where a provider sends webhooks: its URL is ', h('span', {class: 'mono'}, `${location.origin}/e/<name>`),
      '. Or a broker\'s queue or stream, which the gateway consumes.')
      : isBrokerSource(source)
        ? h('p', null, badge(sourceType(source).type), ' Consumed from ', h('span', {class: 'mono', dataset: {address: ''}}, sourceAddress(source)))
        : h('p', null, 'Ingest URL: ', h('span', {class: 'mono'}, `${location.origin}/e/${source.name}`)),
    el,
    isNew ? null : stateCard('sources', source, 'source', () => sourcePage(main, params)),
    isNew ? null : h('div', {class: 'card'}, h('h2', null, 'Delete'),
      confirmDelete('Delete source', `Delete source ${source.name}? Its connections are deleted too, and its URL stops accepting webhooks.`, async () => {
        await api.del(`/sources/${encodeURIComponent(source.id)}`);
        navigate('#/');
      })));
  form.fields.get('name')?.input.focus();
}

// ---------------------------------------------------------------------------
// Destinations.

async function destinationPage(main, params, query = {}) {
  const isNew = !params.id;
  loading(main);
  const dest = isNew ? null : await api.get(`/destinations/${encodeURIComponent(params.id)}`);
  const form = new FormState();
  const fields = destinationFields(form, dest, '');
  const submit = h('button', {type: 'submit', class: 'primary'}, isNew ? 'Create destination' : 'Save destination');
  const el = formShell(form, fields.main, fields.extra,
    h('fieldset', null, h('legend', null, 'Delivery'), fields.delivery),
    h('div', {class: 'actions'}, submit, link('#/', 'Cancel')));
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    let body;
    const saved = await saving(form, submit, () => {
      body = fields.read(isNew);
      return isNew ? api.post('/destinations', body) : api.put(`/destinations/${encodeURIComponent(dest.id)}`, body);
    });
    if (!saved) return;
    // A secret the gateway generated (not typed, not the one kept) is shown on the destination's page, for the receiver.
    const signing = signingSecret(saved);
    const generated = signing && !body.auth_method?.config?.[signing.type.secret] && signing.secret !== signingSecret(dest)?.secret;
    navigate(generated ? `#/destinations/${encodeURIComponent(saved.id)}?secret=generated` : '#/');
  });
  const signing = signingSecret(dest);
  // A CLI destination: whether a CLI is connected, looked up once (the page shows meanwhile).
  const cli = !isNew && destinationType(dest).type === 'CLI' ? h('div', {'aria-live': 'polite'}, h('p', {class: 'muted'}, 'Looking for a connected CLI…')) : null;
  if (cli) cliSessions({destination_id: dest.id}).then((m) => replace(cli, cliStatus(dest, m && (m.get(dest.id) || []))));
  replace(main,
    pageHeader(isNew ? 'New destination' : `Destination ${dest.name}`,
      isNew ? null : link(`#/events?destination_id=${encodeURIComponent(dest.id)}`, 'Events')),
    isNew ? null : h('p', null, badge(destinationType(dest).type), ' ', h('span', {class: 'mono'}, destinationTarget(dest, {withType: false}))),
    cli,
    signing && query.secret === 'generated'
      ? notice('ok', 'Saved. The gateway generated the signing secret: copy it (under Delivery, Authentication) into your receiver\'s configuration.')
      : null,
    el,
    isNew ? null : testCard(dest),
    isNew ? null : stateCard('destinations', dest, 'destination', () => destinationPage(main, params)),
    isNew ? null : h('div', {class: 'card'}, h('h2', null, 'Delete'),
      confirmDelete('Delete destination', `Delete destination ${dest.name}? Its connections are deleted too.`, async () => {
        await api.del(`/destinations/${encodeURIComponent(dest.id)}`);
        navigate('#/');
      })));
  if (signing && query.secret === 'generated') form.at(`auth_method.config.${signing.type.secret}`)?.reveal?.();
  form.fields.get('name')?.input.focus();
}

// ---------------------------------------------------------------------------
// CLI destinations: whether a `hookyard listen` is connected for them.

const CLOCK = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'});
const DAY_CLOCK = new Intl.DateTimeFormat(undefined, {month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23'});

/** "23:23" today, else "Dec 01, 23:23", in the viewer's timezone; UTC on hover. */
function clock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', null, String(iso ?? ''));
  const today = d.toDateString() === new Date().toDateString();
  return h('time', {datetime: d.toISOString(), title: `${d.toISOString().replace('.000Z', 'Z')} (UTC)`}, (today ? CLOCK : DAY_CLOCK).format(d));
}

/**
 * The connected `hookyard listen` sessions by destination id, in one request
 * (`query`: `{destination_id}` for one destination, none for all); null when
 * the gateway could not say (an older one has no `/cli/sessions`).
 */
export async function cliSessions(query = {}) {
  try {
    const byDestination = new Map();
    for (const s of await api.get('/cli/sessions', query)) {
      byDestination.set(s.destination_id, [...(byDestination.get(s.destination_id) || []), s]);
    }
    return byDestination;
  } catch {
    return null;
  }
}

/** `alice@laptop` of `alice@laptop (hookyard 0.1.0)`: the version is on hover. */
function clientName(client) {
  return String(client || '').replace(/\s*\([^)]*\)$/, '') || 'a CLI';
}

/**
 * Whether a CLI is connected for a CLI destination: who and since when, or the
 * command that connects one. `sessions`: its sessions (null: unknown).
 * `connected`: whether it has connections (undefined: not known here); without
 * any, the command names a source, which it connects (a source named while
 * the destination has a connection from it would get a second one).
 */
export function cliStatus(dest, sessions, {connected} = {}) {
  if (!sessions) {
    return h('div', {class: 'muted', dataset: {cliStatus: 'unknown'}}, 'Whether a CLI (hookyard listen) is connected could not be looked up.');
  }
  if (sessions.length) {
    return h('div', {dataset: {cliStatus: 'listening'}}, h('strong', null, 'Listening: '),
      sessions.map((s, i) => [i ? ', ' : '', h('span', {title: s.client || ''}, clientName(s.client)), ' since ', clock(s.connected_at),
        s.in_flight ? h('span', {class: 'muted'}, ` (${s.in_flight} in flight)`) : null]));
  }
  const command = (source) => h('code', {class: 'mono'}, `hookyard listen 9000 ${source ? `${source} ` : ''}--name ${dest.name}`);
  const port = '9000: your local server\'s port';
  return h('div', {dataset: {cliStatus: 'none'}}, notice('info', h('strong', null, 'No CLI connected'), ' — events wait. Run ',
    connected === true ? [command(), ` (${port}): it takes the events of this destination's connections.`]
      : connected === false ? [command('<source>'), ` (${port}; the source is created if new).`]
        : [command(), ' for the events of its connections, or ', command('<source>'), ` to connect a source (${port}).`]));
}

/**
 * "Send test message": `PUT /destinations/{id}/test` sends one message with the
 * saved settings and says what the destination or broker answered, so an
 * address or credentials can be checked before events are routed there.
 */
function testCard(dest) {
  const result = h('div', {'aria-live': 'polite'});
  const send = button('Send test message', async () => {
    send.disabled = true;
    replace(result, h('p', {class: 'muted'}, 'Sending…'));
    try {
      replace(result, testResult(await api.put(`/destinations/${encodeURIComponent(dest.id)}/test`)));
    } catch (e) {
      replace(result, notice('error', `The test message could not be sent: ${e.message}`));
    } finally {
      send.disabled = false;
    }
  });
  return h('section', {class: 'card', 'aria-label': 'Test'},
    h('h2', null, 'Test'),
    h('p', {class: 'muted'}, 'Sends one small JSON message as an event would go, with the saved settings (save changes first), and shows the answer. Nothing is stored; a disabled destination is tested too.'),
    h('div', {class: 'actions'}, send),
    result);
}

/** What a test message got: accepted (with the answer) or why not, in words. */
function testResult(r) {
  const verdict = r.success
    ? notice('ok', h('strong', null, 'Accepted: the test message was delivered.'))
    : r.error_code
      ? notice('error', h('strong', null, errorSentence(r.error_code)), ' ', h('span', {class: 'mono'}, `(${r.error_code})`),
        r.error_message ? h('div', {class: 'mono'}, r.error_message) : null)
      : notice('error', `The destination answered ${r.response_status ?? 'nothing'}, which is not a success (2xx).`);
  const facts = [
    ['Sent to', r.requested_url ? h('span', {class: 'mono'}, r.requested_url) : h('span', {class: 'muted'}, '—')],
    ['Answer', responseInWords({...r, status: r.success ? 'SUCCESSFUL' : 'FAILED'})],
    ['Took', duration(r.duration_ms)],
    ['Message id', h('span', {class: 'mono'}, r.message_id || '—')],
  ];
  const body = r.response_body;
  return h('div', {dataset: {testResult: r.success ? 'success' : 'failure'}},
    verdict,
    h('dl', {class: 'kv'}, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    body === null || body === undefined || body === '' ? null : [h('h3', null, 'Response body'), code(pretty(body))]);
}

// ---------------------------------------------------------------------------
// Connections.

/** Order in which a new connection's rules are written (a filter sees the request before a transform). */
const RULE_ORDER = ['filter', 'transform', 'retry', 'delay'];

const RETRY_FIELDS = [
  {key: 'strategy', label: 'Strategy', kind: 'select', options: [['linear', 'Linear'], ['exponential', 'Exponential']], default: 'linear'},
  {key: 'interval', label: 'Interval (ms)', kind: 'int', placeholder: '60000', hint: 'Wait before a retry (doubled each time when exponential).'},
  {key: 'count', label: 'Retries', kind: 'int', placeholder: '5', hint: '0 to 100.'},
  {key: 'response_status_codes', label: 'Retry on these response statuses', kind: 'list', placeholder: '500-599, !503, 429',
    hint: 'Comma-separated codes, ranges and !exclusions. Empty: every failure.'},
];

const DELAY_FIELDS = [
  {key: 'delay', label: 'Delay (ms)', kind: 'int', placeholder: '1000', hint: 'Hold each event this long before the first attempt (up to 24 h).'},
];

/** A rule switched on by a checkbox, its fields shown while on. */
function optionalRule(form, kind, label, descriptors, rule) {
  const on = form.field(`rules.${kind}`, label, h('input', {type: 'checkbox', checked: Boolean(rule)}), {checkbox: true});
  const built = buildFields(form, descriptors, rule || {}, `rules.${kind}.`);
  const body = h('div', null, built.nodes);
  const sync = () => { body.hidden = !on.input.checked; };
  on.input.addEventListener('change', sync);
  sync();
  return {nodes: [on.wrap, body], read: () => (on.input.checked ? {type: kind, ...built.read(false)} : null)};
}

function transformRule(form, transformations, rule) {
  const options = [['', 'None'], ...transformations.map((t) => [t.id, t.name])];
  const current = rule?.transformation_id || '';
  if (current && !transformations.some((t) => t.id === current)) options.push([current, current]);
  const f = form.field('rules.transform.transformation_id', 'Transformation', select(options, current),
    {hint: transformations.length ? 'Runs on each event before delivery.' : h('span', null, 'No transformations yet: ', link('#/transformations', 'add one'), '.')});
  return {nodes: [f.wrap], read: () => (f.input.value ? {type: 'transform', transformation_id: f.input.value} : null)};
}

function filterSummary(connection) {
  const rule = (connection?.rules || []).find((r) => r.type === 'filter');
  const parts = rule ? ['body', 'headers', 'query', 'path'].filter((p) => rule[p] !== undefined && rule[p] !== null) : [];
  return h('div', {class: 'field'},
    h('strong', null, 'Filter'),
    parts.length ? code(pretty(Object.fromEntries(parts.map((p) => [p, rule[p]])))) : h('div', {class: 'muted'}, 'No filter: every request becomes an event.'),
    connection ? link(`#/connections/${encodeURIComponent(connection.id)}/filter`, parts.length ? 'Edit the filter (with a live test)' : 'Add a filter (with a live test)')
      : h('div', {class: 'hint'}, 'Save the connection first, then add a filter with a live test against its requests.'));
}

function sourceOption(s) {
  return isBrokerSource(s) ? `${s.name} (${sourceType(s).type} · ${sourceAddress(s)})` : s.name;
}

function destinationOption(d) {
  const target = destinationTarget(d);
  return target ? `${d.name} (${target})` : d.name;
}

/** Existing (picked from a list) or new (inline fields) source or destination. */
function pickOrCreate(form, kind, items, chosenId, buildInline) {
  const idPath = `${kind}_id`;
  const name = `${kind}-mode`;
  const useExisting = items.length > 0;
  const existing = h('input', {type: 'radio', name, value: 'existing', checked: useExisting, disabled: !items.length});
  const inline = h('input', {type: 'radio', name, value: 'new', checked: !useExisting});
  const pick = form.field(idPath, kind === 'source' ? 'Source' : 'Destination',
    select([['', `Choose a ${kind}…`], ...items.map((i) => [i.id, kind === 'destination' ? destinationOption(i) : sourceOption(i)])], chosenId));
  const fields = buildInline();
  const pickBox = toggled(pick.wrap);
  const inlineBox = h('div', null, fields.main, moreOptions(`More ${kind} options`, fields.more));
  const sync = () => {
    pickBox.hidden = !existing.checked;
    inlineBox.hidden = !inline.checked;
  };
  existing.addEventListener('change', sync);
  inline.addEventListener('change', sync);
  sync();
  const label = kind === 'source' ? 'Source' : 'Destination';
  return {
    node: h('fieldset', null, h('legend', null, label),
      h('div', {class: 'actions'}, h('label', null, existing, ` Use an existing ${kind}`), h('label', null, inline, ` Create a new ${kind}`)),
      pickBox, inlineBox),
    read() {
      if (existing.checked) {
        if (!pick.input.value) throw new FieldProblem(idPath, `Choose a ${kind}, or create a new one.`);
        return {[idPath]: pick.input.value};
      }
      return {[kind]: fields.read(true)};
    },
  };
}

/**
 * The topics a connection subscribes to: patterns, comma-separated; empty is
 * every request (`null`, which clears a subscription).
 */
function topicsField(form, connection) {
  const f = form.field('topics', 'Topics', textInput((connection?.topics || []).join(', '), {placeholder: 'Every request'}), {
    hint: 'Comma-separated topic patterns it takes: invoice.paid, orders.* (orders.created, orders.line.updated…), *.created, or * (every request, with a topic or not). Empty: every request. Checked before the rules; a request it does not take is ignored (TOPIC_NOT_SUBSCRIBED).'});
  return {nodes: [f.wrap], read(out, isNew) {
    const list = f.input.value.split(',').map((t) => t.trim()).filter(Boolean);
    if (list.length) out.topics = list;
    else if (!isNew) out.topics = null;
  }};
}

/** The connection's rules with the form's retry/delay/transform, others (filter) kept, order kept. */
function mergeRules(original, fromForm) {
  const byType = new Map(fromForm.map((r) => [r.type, r]));
  const out = [];
  for (const r of original) {
    if (!['retry', 'delay', 'transform'].includes(r.type)) out.push(r);
    else if (byType.has(r.type)) { out.push(byType.get(r.type)); byType.delete(r.type); }
  }
  for (const type of RULE_ORDER) if (byType.has(type)) out.push(byType.get(type));
  return out;
}

async function connectionPage(main, params, query) {
  const isNew = !params.id;
  loading(main);
  const [connection, transformations, sources, destinations] = await Promise.all([
    isNew ? null : api.get(`/connections/${encodeURIComponent(params.id)}`),
    all('/transformations').catch(() => []),
    isNew ? all('/sources') : [],
    isNew ? all('/destinations') : [],
  ]);
  const form = new FormState();
  const rules = connection?.rules || [];
  const ruleOf = (type) => rules.find((r) => r.type === type);

  const own = buildFields(form, [
    {key: 'name', label: 'Name', kind: 'text', hint: `${NAME_HINT} Optional; unique among the source's connections.`},
    {key: 'description', label: 'Description', kind: 'textarea', clearable: true},
  ], connection);

  let source = null;
  let destination = null;
  let ends;
  if (isNew) {
    source = pickOrCreate(form, 'source', sources, query.source_id || sources[0]?.id, () => sourceFields(form, null, 'source.'));
    destination = pickOrCreate(form, 'destination', destinations, query.destination_id || destinations[0]?.id, () => destinationFields(form, null, 'destination.'));
    ends = [source.node, destination.node];
  } else {
    ends = h('fieldset', null, h('legend', null, 'Route'),
      h('dl', {class: 'kv'},
        h('dt', null, 'Source'), h('dd', null, link(`#/sources/${encodeURIComponent(connection.source.id)}`, connection.source.name)),
        h('dt', null, 'Destination'), h('dd', null, link(`#/destinations/${encodeURIComponent(connection.destination.id)}`, connection.destination.name),
          ' ', h('span', {class: 'muted mono'}, destinationTarget(connection.destination)))),
      h('div', {class: 'hint'}, 'A connection\'s source and destination cannot change: create another connection instead.'));
  }

  const topics = topicsField(form, connection);
  const retry = optionalRule(form, 'retry', 'Retry rule (otherwise the gateway\'s default retries)', RETRY_FIELDS, ruleOf('retry'));
  const delay = optionalRule(form, 'delay', 'Delay each event', DELAY_FIELDS, ruleOf('delay'));
  const transform = transformRule(form, transformations, ruleOf('transform'));

  // Rule errors name an index (rules[2]); it is the index in what was sent.
  let sentKinds = [];
  form.mapPath = (p) => p.replace(/^rules\[(\d+)\]/, (_, i) => `rules.${sentKinds[Number(i)] ?? i}`);

  const submit = h('button', {type: 'submit', class: 'primary'}, isNew ? 'Create connection' : 'Save connection');
  const el = formShell(form,
    h('fieldset', null, h('legend', null, 'Connection'), own.nodes),
    ends,
    h('fieldset', null, h('legend', null, 'Topic subscription'), topics.nodes),
    h('fieldset', null, h('legend', null, 'Rules'),
      filterSummary(connection), transform.nodes, retry.nodes, delay.nodes),
    h('div', {class: 'actions'}, submit, link('#/', 'Cancel')));

  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    let body;
    const saved = await saving(form, submit, () => {
      body = own.read(isNew);
      const fromForm = [transform.read(), retry.read(), delay.read()].filter(Boolean);
      body.rules = mergeRules(rules, fromForm);
      sentKinds = body.rules.map((r) => r.type);
      topics.read(body, isNew);
      if (isNew) {
        Object.assign(body, source.read(), destination.read());
        return api.post('/connections', body);
      }
      return api.put(`/connections/${encodeURIComponent(connection.id)}`, body);
    });
    if (!saved) return;
    // A new destination's secret the gateway generated is shown on its page, for the receiver.
    const signing = body.destination && signingSecret(saved.destination);
    const generated = signing && !body.destination.auth_method?.config?.[signing.type.secret];
    navigate(generated ? `#/destinations/${encodeURIComponent(saved.destination.id)}?secret=generated` : '#/');
  });

  replace(main,
    pageHeader(isNew ? 'New connection' : `Connection ${connection.full_name || connection.id}`,
      isNew ? null : link(`#/events?connection_id=${encodeURIComponent(connection.id)}`, 'Events'),
      isNew ? null : link(`#/connections/${encodeURIComponent(connection.id)}/filter`, 'Filter')),
    isNew ? h('p', {class: 'muted'}, 'A connection routes the webhooks a source receives to a destination, through its rules.') : null,
    el,
    isNew ? null : connectionStateCard(connection, () => connectionPage(main, params, query)),
    isNew ? null : h('div', {class: 'card'}, h('h2', null, 'Delete'),
      confirmDelete('Delete connection', `Delete connection ${connection.full_name || connection.id}? Its source and destination stay.`, async () => {
        await api.del(`/connections/${encodeURIComponent(connection.id)}`);
        navigate('#/');
      })));
  (isNew ? form.fields.get('source_id')?.input : form.fields.get('name')?.input)?.focus?.();
}

/** Pause (hold events) and disable (ignore new requests) of a connection. */
function connectionStateCard(c, onChange) {
  const status = h('div');
  const act = (verb) => async (e) => {
    e.target.disabled = true;
    try {
      await api.put(`/connections/${encodeURIComponent(c.id)}/${verb}`);
      onChange();
    } catch (err) {
      replace(status, notice('error', err.message));
      e.target.disabled = false;
    }
  };
  return h('div', {class: 'card'},
    h('h2', null, 'State'),
    h('p', null,
      c.disabled_at ? badge('disabled') : c.paused_at ? badge('paused') : badge('active'),
      c.paused_at ? [' paused since ', time(c.paused_at)] : null,
      c.disabled_at ? [' disabled since ', time(c.disabled_at)] : null),
    h('p', {class: 'muted'}, 'Paused: events are held and delivered on unpause. Disabled: new requests are ignored for this connection.'),
    h('div', {class: 'actions'},
      button(c.paused_at ? 'Unpause' : 'Pause', act(c.paused_at ? 'unpause' : 'pause')),
      button(c.disabled_at ? 'Enable connection' : 'Disable connection', act(c.disabled_at ? 'enable' : 'disable'))),
    status);
}

export const routes = [
  ['/sources/new', (main) => sourcePage(main, {})],
  ['/sources/:id', sourcePage],
  ['/destinations/new', (main) => destinationPage(main, {})],
  ['/destinations/:id', destinationPage],
  ['/connections/new', (main, _params, query) => connectionPage(main, {}, query)],
  ['/connections/:id', connectionPage],
];
