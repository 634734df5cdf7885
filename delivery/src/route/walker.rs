//! The one rules walker: what one request becomes for each connection of its
//! source. Ingest's commit, the router worker and request retries all route
//! through [`walk`], so a rule means the same thing wherever a request is routed.
//!
//! A connection's rules apply in their order: a filter before the transform sees
//! the request as received, one after it sees the transformed request. A failing
//! transformation makes its event FAILED (`TRANSFORMATION_FAILED`) with an
//! execution holding the error and the logs; the other connections are unaffected.

use std::collections::HashMap;
use std::sync::Arc;

use hookyard_core::id::IdKind;

use super::cache::RulesCache;
use super::view::{failed_parts, RequestView, RouteInput};
use crate::clock::new_id;
use crate::model::{
    subscribed, Connection, EventStatus, Execution, HttpRequest, IgnoredEvent, NewEvent,
    PreparedRoute, RejectionCause, Rule, Transformation,
};
use crate::transform::Transforms;

/// What runs the transform rules: the wasm host and the transformations the
/// connections name, loaded with their modules.
pub struct Transformations<'a> {
    pub host: &'a Transforms,
    pub loaded: &'a HashMap<String, Arc<Transformation>>,
}

/// Whether an active connection among these transforms requests.
pub fn any_transform(conns: &[Connection]) -> bool {
    conns
        .iter()
        .any(|c| c.disabled_at.is_none() && c.transformation_id().is_some())
}

/// Routes `req` (of `source_id`) through `connections`.
///
/// `None` when a connection would run a transformation and `transformations` is
/// `None`: ingest passes none, since user code never runs inside the commit, and
/// leaves such requests to the router.
pub fn walk(
    req: &RouteInput<'_>,
    source_id: &str,
    connections: &[Connection],
    rules: &RulesCache,
    transformations: Option<&Transformations<'_>>,
    now: i64,
) -> Option<PreparedRoute> {
    if transformations.is_none() && any_transform(connections) {
        return None;
    }
    let mut out = PreparedRoute {
        request_id: req.request_id.to_owned(),
        source_id: source_id.to_owned(),
        ..Default::default()
    };
    if connections.is_empty() {
        out.route.rejection = Some(RejectionCause::NoConnection);
        return Some(out);
    }
    // Parsed at most once, however many connections filter the request as received.
    let mut original_view: Option<RequestView> = None;
    for c in connections {
        walk_connection(
            req,
            c,
            rules,
            transformations,
            now,
            &mut original_view,
            &mut out,
        );
    }
    Some(out)
}

/// Applies one connection's rules, in order, adding its event or ignored event.
fn walk_connection(
    req: &RouteInput<'_>,
    c: &Connection,
    rules: &RulesCache,
    transformations: Option<&Transformations<'_>>,
    now: i64,
    original_view: &mut Option<RequestView>,
    out: &mut PreparedRoute,
) {
    let ignore = |cause: &str, meta: Option<serde_json::Value>| IgnoredEvent {
        id: new_id(IdKind::IgnoredEvent),
        request_id: req.request_id.to_owned(),
        connection_id: c.id.clone(),
        cause: cause.into(),
        meta,
        created_at: now,
    };
    if c.disabled_at.is_some() {
        out.route.ignored.push(ignore("DISABLED", None));
        return;
    }
    // The subscription comes before every rule: a connection does not see, or
    // spend a transformation on, what it did not subscribe to.
    if !subscribed(c.topics.as_deref(), req.topic) {
        out.route.ignored.push(ignore(
            "TOPIC_NOT_SUBSCRIBED",
            Some(serde_json::json!({"topic": req.topic, "topics": c.topics})),
        ));
        return;
    }
    let compiled = rules.get(c);
    let event_id = new_id(IdKind::Event);
    // `None` until a transformation rewrote the request.
    let mut transformed: Option<HttpRequest> = None;
    for rule in &c.rules {
        match rule {
            Rule::Filter { .. } => {
                let Some(f) = &compiled.filter else { continue };
                let failed = match &transformed {
                    None => failed_parts(
                        f,
                        original_view.get_or_insert_with(|| RequestView::new(req)),
                    ),
                    Some(t) => failed_parts(
                        f,
                        &RequestView::new(&RouteInput::of_http(req.request_id, t, req.topic)),
                    ),
                };
                if !failed.is_empty() {
                    out.route
                        .ignored
                        .push(ignore("FILTERED", Some(serde_json::json!(failed))));
                    return;
                }
            }
            Rule::Transform {
                transformation_id: Some(tid),
                ..
            } => {
                let Some(ts) = transformations else { continue };
                let input = transformed.take().unwrap_or_else(|| req.to_http());
                let (result, execution) = run(ts, tid, input, req.request_id, c, &event_id, now);
                out.executions.push(execution);
                match result {
                    Some(next) => transformed = Some(next),
                    None => {
                        out.route.events.push(new_event(
                            c,
                            event_id.clone(),
                            EventStatus::Failed,
                            now,
                        ));
                        out.failed_events.push(event_id);
                        return;
                    }
                }
            }
            _ => {}
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
    out.route
        .events
        .push(new_event(c, event_id.clone(), status, now + delay));
    if let Some(t) = transformed {
        out.event_data.push((event_id, t));
    }
}

fn new_event(c: &Connection, id: String, status: EventStatus, next_attempt_at: i64) -> NewEvent {
    NewEvent {
        id,
        connection_id: c.id.clone(),
        destination_id: c.destination_id.clone(),
        status,
        next_attempt_at,
        lease_until: None,
    }
}

/// Runs transformation `tid`; `None` as the request when it failed.
fn run(
    ts: &Transformations<'_>,
    tid: &str,
    input: HttpRequest,
    request_id: &str,
    c: &Connection,
    event_id: &str,
    now: i64,
) -> (Option<HttpRequest>, Execution) {
    let mut execution = Execution {
        id: new_id(IdKind::TransformationExecution),
        transformation_id: tid.to_owned(),
        module_hash: String::new(),
        request_id: Some(request_id.to_owned()),
        event_id: Some(event_id.to_owned()),
        connection_id: Some(c.id.clone()),
        ok: false,
        error: None,
        logs: Vec::new(),
        duration_us: 0,
        created_at: now,
    };
    let Some(t) = ts.loaded.get(tid) else {
        execution.error = Some(format!("transformation {tid} does not exist"));
        return (None, execution);
    };
    execution.module_hash = t.module_hash.clone();
    let limits = ts.host.limits(t.memory_limit_bytes, t.timeout_ms);
    let outcome = ts.host.run_module(
        t.module.as_deref().unwrap_or_default(),
        input,
        &t.env_pairs(),
        &limits,
    );
    execution.logs = outcome.logs;
    execution.duration_us = outcome.duration.as_micros() as i64;
    match outcome.result {
        Ok(r) => {
            execution.ok = true;
            (Some(r), execution)
        }
        Err(e) => {
            execution.error = Some(e.to_string());
            (None, execution)
        }
    }
}
