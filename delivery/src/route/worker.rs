//! Routing off the ingest path: the router worker takes the requests ingest
//! stored unrouted (their connections transform them, or their connections could
//! not be read), and [`retry_request`] routes a stored request again by hand.
//!
//! Transformations run user code: they run on blocking threads, never on the
//! async workers, and the decisions are written in one transaction afterwards.

use std::collections::HashMap;
use std::sync::Arc;

use super::cache::RulesCache;
use super::view::RouteInput;
use super::walker::{any_transform, walk, Transformations};
use crate::clock::now_ms;
use crate::model::{
    Connection, Event, Failure, IssueType, PreparedRoute, RequestRecord, Transformation,
};
use crate::periodic::{every, Periodic, Step};
use crate::signals::{Signal, Signals};
use crate::store::{Store, StoreError, StoreResult};
use crate::transform::Transforms;

/// The routing worker: routes what ingest left unrouted, then wakes dispatch.
pub struct Router {
    pub store: Arc<Store>,
    pub rules: Arc<RulesCache>,
    pub transforms: Arc<Transforms>,
    pub signals: Signals,
    pub batch: i64,
}

impl Router {
    pub async fn run(mut self, poll: std::time::Duration, shutdown: crate::shutdown::Shutdown) {
        let signals = self.signals.clone();
        every(poll, &signals, Signal::Route, shutdown, &mut self).await
    }
}

impl Periodic for Router {
    async fn step(&mut self) -> Step {
        match route_batch(&self.store, &self.rules, &self.transforms, self.batch).await {
            Ok((routed, events)) => {
                if events > 0 {
                    self.signals.notify(Signal::Dispatch);
                }
                if routed as i64 >= self.batch {
                    Step::More
                } else {
                    Step::Idle
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "routing failed; will retry");
                Step::Idle
            }
        }
    }
}

/// Routes up to `limit` unrouted requests. Returns (requests routed, events made).
pub async fn route_batch(
    store: &Arc<Store>,
    rules: &Arc<RulesCache>,
    transforms: &Arc<Transforms>,
    limit: i64,
) -> StoreResult<(usize, usize)> {
    let (pending, by_source) = store.unrouted_requests(limit).await?;
    if pending.is_empty() {
        return Ok((0, 0));
    }
    let all: Vec<&Connection> = by_source.values().flatten().collect();
    let loaded = load_transformations(store, all.iter().copied()).await?;
    let batch = Arc::new(Batch {
        by_source,
        loaded,
        rules: rules.clone(),
        transforms: transforms.clone(),
    });
    let routes = if batch.by_source.values().any(|c| any_transform(c)) {
        let workers = transforms.config().workers.max(1);
        tokio::task::spawn_blocking(move || route_parallel(&batch, pending, workers))
            .await
            .map_err(|e| StoreError::Corrupt(format!("routing worker failed: {e}")))?
    } else {
        pending.iter().filter_map(|r| batch.route(r)).collect()
    };
    let stored = store.store_prepared_routes(&routes, now_ms()).await?;
    record_transformation_issues(store, &routes).await;
    Ok(stored)
}

/// Routes a stored request again through `connections` (of its source): a
/// manual request retry. The same walker as at ingest and in the router, so the
/// new events carry the transformed request (or fail as the transformation does).
pub async fn retry_request(
    store: &Arc<Store>,
    rules: &Arc<RulesCache>,
    transforms: &Arc<Transforms>,
    req: RequestRecord,
    connections: Vec<Connection>,
) -> StoreResult<Vec<Event>> {
    reroute_request(store, rules, transforms, req, connections, None).await
}

/// [`retry_request`], for bulk retry `bulk_retry_id` when given (its events
/// carry the id to their first attempt). Bookmarks and bulk retries route
/// through here, so every replay runs the same walker.
pub async fn reroute_request(
    store: &Arc<Store>,
    rules: &Arc<RulesCache>,
    transforms: &Arc<Transforms>,
    req: RequestRecord,
    connections: Vec<Connection>,
    bulk_retry_id: Option<&str>,
) -> StoreResult<Vec<Event>> {
    let loaded = load_transformations(store, connections.iter()).await?;
    let (rules, transforms) = (rules.clone(), transforms.clone());
    let route = tokio::task::spawn_blocking(move || {
        let ts = Transformations {
            host: &transforms,
            loaded: &loaded,
        };
        walk(
            &RouteInput::from(&req),
            &req.source_id,
            &connections,
            &rules,
            Some(&ts),
            now_ms(),
        )
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("routing worker failed: {e}")))?
    .unwrap_or_default();
    let events = store.add_events_of(&route, bulk_retry_id, now_ms()).await?;
    record_transformation_issues(store, std::slice::from_ref(&route)).await;
    Ok(events)
}

/// The transformations these connections name, with their modules.
async fn load_transformations<'c>(
    store: &Store,
    connections: impl Iterator<Item = &'c Connection>,
) -> StoreResult<HashMap<String, Arc<Transformation>>> {
    let mut wanted: Vec<String> = connections
        .filter_map(|c| c.transformation_id().map(str::to_owned))
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut found = HashMap::new();
    for id in wanted {
        if let Some(t) = store.get_transformation(&id, true).await? {
            found.insert(id, Arc::new(t));
        }
    }
    Ok(found)
}

/// Groups the failed transformations into `transformation` issues (per
/// connection), as delivery failures are; best effort, like the tracker.
async fn record_transformation_issues(store: &Store, routes: &[PreparedRoute]) {
    let failures: Vec<Failure> = routes
        .iter()
        .flat_map(|r| {
            r.failed_events.iter().filter_map(|id| {
                let e = r.route.events.iter().find(|e| &e.id == id)?;
                Some(Failure {
                    issue_type: IssueType::Transformation,
                    connection_id: Some(e.connection_id.clone()),
                    destination_id: Some(e.destination_id.clone()),
                    source_id: None,
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

/// One router batch's connections and transformations.
struct Batch {
    by_source: HashMap<String, Vec<Connection>>,
    loaded: HashMap<String, Arc<Transformation>>,
    rules: Arc<RulesCache>,
    transforms: Arc<Transforms>,
}

impl Batch {
    fn route(&self, req: &RequestRecord) -> Option<PreparedRoute> {
        let conns = self
            .by_source
            .get(&req.source_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let ts = Transformations {
            host: &self.transforms,
            loaded: &self.loaded,
        };
        walk(
            &RouteInput::from(req),
            &req.source_id,
            conns,
            &self.rules,
            Some(&ts),
            now_ms(),
        )
    }
}

/// Spreads the batch over `workers` threads that each take the next request not
/// yet taken, so a slow transformation holds up only the thread running it: the
/// others go on through the rest of the batch.
fn route_parallel(
    batch: &Batch,
    pending: Vec<RequestRecord>,
    workers: usize,
) -> Vec<PreparedRoute> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = || {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        pending.get(i)
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers.clamp(1, pending.len().max(1)))
            .map(|_| {
                s.spawn(|| {
                    std::iter::from_fn(take)
                        .filter_map(|r| batch.route(r))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            // A panic in the host (not the guest: guest faults are errors) would
            // lose what this thread routed; those requests stay unrouted and are
            // tried again.
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}
