//! Routing of stored requests, for the Router worker, with transformations.
//!
//! Decisions are made outside the write transaction: transformations run on
//! blocking threads (never on the async workers), then one transaction stores
//! every decision of the batch. A connection's rules apply in their order: a
//! filter before the transform sees the request as received, one after it sees
//! the transformed request. A failing transformation makes its event FAILED
//! (`TRANSFORMATION_FAILED`) with an execution record holding the error and the
//! logs; the other connections and requests are unaffected.

use std::collections::HashMap;
use std::sync::Arc;

use hookyard_core::id::IdKind;

use super::invoke::HttpRequest;
use super::records::{Execution, PreparedRoute, Transformation};
use super::Transforms;
use crate::clock::{new_id, now_ms};
use crate::issues::{Failure, IssueType};
use crate::model::{Connection, EventStatus, IgnoredEvent, NewEvent, RequestRecord, Rule};
use crate::route::{failed_parts, route_request, RequestView, RouteInput, RulesCache};
use crate::store::{Store, StoreResult};

/// The transformation a connection's rules name, if any.
pub fn transformation_id(c: &Connection) -> Option<&str> {
    c.rules.iter().find_map(|r| match r {
        Rule::Transform {
            transformation_id, ..
        } => transformation_id.as_deref(),
        _ => None,
    })
}

/// Whether any of these connections transforms requests.
pub fn any_transform(conns: &[Connection]) -> bool {
    conns
        .iter()
        .any(|c| c.rules.iter().any(|r| matches!(r, Rule::Transform { .. })))
}

/// Routes up to `limit` unrouted requests. Returns (requests routed, events made).
pub async fn route_batch(
    store: &Arc<dyn Store>,
    rules: &Arc<RulesCache>,
    transforms: &Arc<Transforms>,
    limit: i64,
) -> StoreResult<(usize, usize)> {
    let (pending, by_source) = store.unrouted_requests(limit).await?;
    if pending.is_empty() {
        return Ok((0, 0));
    }
    let mut wanted: Vec<String> = by_source
        .values()
        .flatten()
        .filter_map(|c| transformation_id(c).map(str::to_owned))
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut found = HashMap::new();
    for id in wanted {
        if let Some(t) = store.get_transformation(&id, true).await? {
            found.insert(id, Arc::new(t));
        }
    }
    let ctx = Arc::new(BatchContext {
        by_source,
        transformations: found,
        rules: rules.clone(),
        transforms: transforms.clone(),
    });
    let routes = if any_transform_in(&ctx) {
        let workers = transforms.config().workers.max(1);
        tokio::task::spawn_blocking(move || prepare_parallel(&ctx, pending, workers))
            .await
            .map_err(|e| crate::store::StoreError::Corrupt(format!("routing worker failed: {e}")))?
    } else {
        pending.iter().map(|r| prepare_one(&ctx, r)).collect()
    };
    let stored = store.store_prepared_routes(&routes, now_ms()).await?;
    record_transformation_issues(store, &routes).await;
    Ok(stored)
}

/// Groups the failed transformations into `transformation` issues (per
/// connection), as delivery failures are; best effort, like the tracker.
async fn record_transformation_issues(store: &Arc<dyn Store>, routes: &[PreparedRoute]) {
    let failures: Vec<Failure> = routes
        .iter()
        .flat_map(|r| {
            r.failed_events.iter().filter_map(|id| {
                let e = r.route.events.iter().find(|e| &e.id == id)?;
                Some(Failure {
                    issue_type: IssueType::Transformation,
                    connection_id: Some(e.connection_id.clone()),
                    destination_id: Some(e.destination_id.clone()),
                    response_status: None,
                    error_code: Some("TRANSFORMATION_FAILED".into()),
                    event_id: Some(id.clone()),
                    attempt_id: None,
                    is_final: true,
                })
            })
        })
        .collect();
    if failures.is_empty() {
        return;
    }
    if let Err(e) = store.record_failures(&failures, now_ms()).await {
        tracing::error!(error = %e, "grouping failed transformations into issues failed");
    }
}

struct BatchContext {
    by_source: HashMap<String, Vec<Connection>>,
    transformations: HashMap<String, Arc<Transformation>>,
    rules: Arc<RulesCache>,
    transforms: Arc<Transforms>,
}

fn any_transform_in(ctx: &BatchContext) -> bool {
    ctx.by_source.values().any(|c| any_transform(c))
}

/// Spreads the batch over `workers` threads, so one slow transformation does not
/// hold up every other request of the batch.
fn prepare_parallel(
    ctx: &BatchContext,
    pending: Vec<RequestRecord>,
    workers: usize,
) -> Vec<PreparedRoute> {
    let chunk = pending.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = pending
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || part.iter().map(|r| prepare_one(ctx, r)).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            // A panic in the host (not the guest: guest faults are errors) would
            // lose this part of the batch; it stays unrouted and is tried again.
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn prepare_one(ctx: &BatchContext, req: &RequestRecord) -> PreparedRoute {
    let now = now_ms();
    let conns = ctx
        .by_source
        .get(&req.source_id)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let (with, plain): (Vec<Connection>, Vec<Connection>) = conns
        .iter()
        .cloned()
        .partition(|c| c.disabled_at.is_none() && transformation_id(c).is_some());
    let mut out = PreparedRoute {
        request_id: req.id.clone(),
        source_id: req.source_id.clone(),
        ..Default::default()
    };
    if with.is_empty() || !plain.is_empty() {
        out.route = route_request(&req.into(), &plain, &ctx.rules, now);
        if with.is_empty() {
            return out;
        }
    }
    out.route.rejection = None;
    for c in &with {
        transform_for(ctx, req, c, now, &mut out);
    }
    out
}

/// Applies one transforming connection's rules, in order, to `req`.
fn transform_for(
    ctx: &BatchContext,
    req: &RequestRecord,
    c: &Connection,
    now: i64,
    out: &mut PreparedRoute,
) {
    let compiled = ctx.rules.get(c);
    let mut current = HttpRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        headers: req.headers.clone(),
        body: req.body.clone().unwrap_or_default(),
    };
    let mut transformed = false;
    let event_id = new_id(IdKind::Event);
    for rule in &c.rules {
        match rule {
            Rule::Filter { .. } => {
                let Some(f) = &compiled.filter else { continue };
                let view = RequestView::new(&RouteInput {
                    request_id: &req.id,
                    path: &current.path,
                    query: &current.query,
                    headers: &current.headers,
                    body: &current.body,
                });
                let failed = failed_parts(f, &view);
                if !failed.is_empty() {
                    out.route.ignored.push(IgnoredEvent {
                        id: new_id(IdKind::IgnoredEvent),
                        request_id: req.id.clone(),
                        connection_id: c.id.clone(),
                        cause: "FILTERED".into(),
                        meta: Some(serde_json::json!(failed)),
                        created_at: now,
                    });
                    return;
                }
            }
            Rule::Transform {
                transformation_id: Some(tid),
                ..
            } => {
                let (result, execution) = run(ctx, tid, current.clone(), req, c, &event_id, now);
                out.executions.push(execution);
                match result {
                    Some(next) => {
                        current = next;
                        transformed = true;
                    }
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
    let mut event = new_event(c, event_id.clone(), status, now);
    event.next_attempt_at = now + delay;
    out.route.events.push(event);
    if transformed {
        out.event_data.push((event_id, current));
    }
}

fn new_event(c: &Connection, id: String, status: EventStatus, now: i64) -> NewEvent {
    NewEvent {
        id,
        connection_id: c.id.clone(),
        destination_id: c.destination_id.clone(),
        status,
        next_attempt_at: now,
    }
}

/// Runs transformation `tid`; `None` as the request when it failed.
fn run(
    ctx: &BatchContext,
    tid: &str,
    input: HttpRequest,
    req: &RequestRecord,
    c: &Connection,
    event_id: &str,
    now: i64,
) -> (Option<HttpRequest>, Execution) {
    let mut execution = Execution {
        id: new_id(IdKind::TransformationExecution),
        transformation_id: tid.to_owned(),
        module_hash: String::new(),
        request_id: Some(req.id.clone()),
        event_id: Some(event_id.to_owned()),
        connection_id: Some(c.id.clone()),
        ok: false,
        error: None,
        logs: Vec::new(),
        duration_us: 0,
        created_at: now,
    };
    let Some(t) = ctx.transformations.get(tid) else {
        execution.error = Some(format!("transformation {tid} does not exist"));
        return (None, execution);
    };
    execution.module_hash = t.module_hash.clone();
    let limits = ctx.transforms.limits(t.memory_limit_bytes, t.timeout_ms);
    let outcome = ctx.transforms.run_module(
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
