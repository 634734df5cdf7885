//! Routing: each stored request meets its source's connections and becomes one event
//! per matching connection; the others are recorded as ignored, with why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookyard_core::envelope::Envelope;
use hookyard_core::id::IdKind;
use serde_json::{Map, Value};
use tokio::sync::Notify;

use crate::clock::new_id;
use crate::model::Rule;
use crate::model::{
    Connection, EventStatus, IgnoredEvent, NewEvent, RejectionCause, RequestRecord,
};
use crate::rules::{CompiledFilter, CompiledRules};
use crate::shutdown::Shutdown;
use crate::store::{RouteResult, Store};

/// What routing looks at: a stored request or one about to be stored.
pub struct RouteInput<'a> {
    pub request_id: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl<'a> From<&'a RequestRecord> for RouteInput<'a> {
    fn from(r: &'a RequestRecord) -> Self {
        RouteInput {
            request_id: &r.id,
            path: &r.path,
            query: &r.query,
            headers: &r.headers,
            body: r.body.as_deref().unwrap_or_default(),
        }
    }
}

impl<'a> From<&'a Envelope> for RouteInput<'a> {
    fn from(e: &'a Envelope) -> Self {
        RouteInput {
            request_id: &e.id,
            path: &e.path,
            query: &e.query,
            headers: &e.headers,
            body: &e.body,
        }
    }
}

/// A request as the filter language sees it: body parsed once, however many
/// connections look at it. A body that is not JSON is matched as a string.
pub struct RequestView {
    pub body: Value,
    pub headers: Value,
    pub query: Value,
    pub path: Value,
}

impl RequestView {
    pub fn new(req: &RouteInput<'_>) -> Self {
        let body = if req.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(req.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(req.body).into_owned()))
        };
        let mut headers = Map::new();
        for (k, v) in req.headers {
            match headers.get_mut(k) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(v);
                }
                _ => {
                    headers.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
        RequestView {
            body,
            headers: Value::Object(headers),
            query: parse_query(req.query),
            path: Value::String(req.path.to_owned()),
        }
    }
}

/// A query string as JSON: repeated keys become arrays.
pub fn parse_query(query: &str) -> Value {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            Some(Value::Array(list)) => list.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                map.insert(k.into_owned(), v);
            }
        }
    }
    Value::Object(map)
}

/// The parts of the request a filter rejected (empty: it matched).
pub fn failed_parts(f: &CompiledFilter, view: &RequestView) -> Vec<&'static str> {
    let parts = [
        ("body", &f.body, &view.body),
        ("headers", &f.headers, &view.headers),
        ("path", &f.path, &view.path),
        ("query", &f.query, &view.query),
    ];
    parts
        .into_iter()
        .filter(|(_, filter, input)| filter.as_ref().is_some_and(|f| !f.matches(input)))
        .map(|(name, _, _)| name)
        .collect()
}

/// A connection's rules as last seen, and what they compiled to.
type CompiledEntry = (Vec<Rule>, Arc<CompiledRules>);

/// Compiled rules per connection, recompiled when the connection changes.
#[derive(Default)]
pub struct RulesCache {
    inner: Mutex<HashMap<String, CompiledEntry>>,
}

impl RulesCache {
    pub fn get(&self, c: &Connection) -> Arc<CompiledRules> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Keyed by the rules themselves, not a timestamp: two edits within one
        // millisecond must not leave the first one compiled.
        if let Some((rules, compiled)) = map.get(&c.id) {
            if *rules == c.rules {
                return compiled.clone();
            }
        }
        // Rules were validated when the connection was saved; a rule that no longer
        // compiles (stored by another version) routes as if it had no rules.
        let compiled = Arc::new(CompiledRules::compile(&c.rules).unwrap_or_default());
        // Deleted connections leave entries behind; start over now and then.
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(c.id.clone(), (c.rules.clone(), compiled.clone()));
        compiled
    }
}

/// What routing makes of one request against some connections.
pub fn route_request(
    req: &RouteInput<'_>,
    connections: &[Connection],
    rules: &RulesCache,
    now: i64,
) -> RouteResult {
    if connections.is_empty() {
        return RouteResult {
            rejection: Some(RejectionCause::NoConnection),
            ..Default::default()
        };
    }
    let view = RequestView::new(req);
    let mut out = RouteResult::default();
    for c in connections {
        let compiled = rules.get(c);
        let ignore = |cause: &str, meta: Option<Value>| IgnoredEvent {
            id: new_id(IdKind::IgnoredEvent),
            request_id: req.request_id.to_owned(),
            connection_id: c.id.clone(),
            cause: cause.into(),
            meta,
            created_at: now,
        };
        if c.disabled_at.is_some() {
            out.ignored.push(ignore("DISABLED", None));
            continue;
        }
        if let Some(f) = &compiled.filter {
            let failed = failed_parts(f, &view);
            if !failed.is_empty() {
                out.ignored
                    .push(ignore("FILTERED", Some(serde_json::json!(failed))));
                continue;
            }
        }
        let delay = compiled.delay_ms.unwrap_or(0);
        let status = if c.paused_at.is_some() {
            EventStatus::Hold
        } else if delay > 0 {
            EventStatus::Scheduled
        } else {
            EventStatus::Queued
        };
        out.events.push(NewEvent {
            id: new_id(IdKind::Event),
            connection_id: c.id.clone(),
            destination_id: c.destination_id.clone(),
            status,
            next_attempt_at: now + delay,
        });
    }
    out
}

/// The routing worker: routes what ingest stored, then wakes the dispatcher.
pub struct Router {
    pub store: Arc<dyn Store>,
    pub rules: Arc<RulesCache>,
    /// Woken by ingest after each commit.
    pub wake: Arc<Notify>,
    /// Wakes the dispatcher when events were created.
    pub dispatch_wake: Arc<Notify>,
    pub batch: i64,
    /// How often to look for work without being woken (other replicas' requests).
    pub poll: Duration,
    /// Runs the transform rules of the requests ingest left to the router.
    pub transforms: Arc<crate::transform::Transforms>,
}

impl Router {
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            let routed = crate::transform::routing::route_batch(
                &self.store,
                &self.rules,
                &self.transforms,
                self.batch,
            );
            match routed.await {
                Ok((routed, events)) => {
                    if events > 0 {
                        self.dispatch_wake.notify_one();
                    }
                    if routed as i64 >= self.batch {
                        continue;
                    }
                }
                Err(e) => tracing::error!(error = %e, "routing failed; will retry"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
                _ = shutdown.recv() => return,
            }
        }
    }
}
