//! The events list (`#/events?status=FAILED&…`): every event, filtered as the
//! API filters them, newest first, live on its first page, with a way to retry
//! everything the filters match in bulk.

import {h} from '../dom.js';
import {
  mountList, eventColumns, chipsFilter, selectFilter, textFilter, timeRangeFilter,
  responseStatusFilter, jsonFilter, topicFilter,
} from '../listing.js';

export const EVENT_STATUSES = ['SCHEDULED', 'QUEUED', 'HOLD', 'SUCCESSFUL', 'FAILED'];

/** Error codes an event or attempt can carry (dispatch, HTTP destinations, routing, CLI destinations, then brokers). */
export const ERROR_CODES = ['TIMEOUT', 'CONNECTION_REFUSED', 'CONNECTION_RESET', 'SOCKET_CLOSED',
  'DNS_LOOKUP_FAILED', 'HOST_UNREACHABLE', 'SSL_ERROR_CA_UNKNOWN', 'SELF_SIGNED_CERT', 'PROTOCOL_ERROR',
  'EGRESS_BLOCKED', 'MISSING_URL', 'OAUTH2_HANDSHAKE_FAILED',
  'TRANSFORMATION_FAILED', 'CANCELLED', 'UNKNOWN',
  'CLI', 'CLI_UNAVAILABLE',
  'NOT_FOUND', 'PERMISSION_DENIED', 'MESSAGE_REJECTED', 'BROKER_REFUSED', 'UNROUTABLE', 'THROTTLED', 'BROKER_ERROR'];

export function byName(map, label = (x) => x.name) {
  return [...map.values()].map((x) => [x.id, label(x) || x.id]).sort((a, b) => a[1].localeCompare(b[1]));
}

/** The toolbar's event filters; `n` holds the names to choose from. */
function controls(n) {
  return [
    chipsFilter('status', 'Status', EVENT_STATUSES),
    selectFilter('source_id', 'Source', byName(n.sources)),
    topicFilter(n.topics),
    selectFilter('destination_id', 'Destination', byName(n.destinations)),
    selectFilter('webhook_id', 'Connection', byName(n.connections, (c) => c.full_name || c.name)),
    responseStatusFilter(),
    selectFilter('error_code', 'Error', ERROR_CODES.map((c) => [c, c])),
    timeRangeFilter('created_at', 'Created'),
    textFilter('search_term', 'Search', 'text in body, headers, path'),
  ];
}

function advanced() {
  return [
    jsonFilter('headers', 'Headers pattern (JSON)', '{"x-shopify-topic": "orders/create"}'),
    jsonFilter('body', 'Body pattern (JSON)', '{"type": "payment.failed"}'),
  ];
}

function render(main) {
  return mountList(main, {
    title: 'Events',
    noun: 'event',
    path: '/events',
    timeParam: 'created_at',
    timeField: 'created_at',
    columns: eventColumns,
    controls,
    advanced,
    detail: (e) => `#/events/${encodeURIComponent(e.id)}`,
    actions: (filters) => [
      h('a', {class: 'button', href: `#/bulk/new${filters.toString() ? `?${filters}` : ''}`,
        title: 'Retry every event these filters match'}, 'Retry these…'),
    ],
  });
}

export const routes = [['/events', render]];
