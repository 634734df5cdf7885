//! Group commit for ingest: concurrent requests wait on one channel; one task writes
//! everything waiting in a single transaction and answers each only after commit.
//!
//! One fsync then covers a whole batch, which is how ingest reaches tens of
//! thousands of requests per second without acknowledging anything that is not on
//! disk. Under light load a batch is one request and adds no waiting: the task
//! never sleeps to fill a batch, it takes whatever is already queued.
//!
//! Requests are routed here, before the commit, against the (cached) connections
//! of their source, so a request and its events are stored in the same
//! transaction: no second write, no re-reading bodies. A request whose connections
//! cannot be loaded is stored unrouted and the router takes it later.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::model::NewRequest;
use crate::route::{walk, RulesCache};
use crate::signals::{Signal, Signals};
use crate::store::{Store, StoreError};

type Reply = oneshot::Sender<Result<(), Arc<StoreError>>>;

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("storage failed: {0}")]
    Store(Arc<StoreError>),
    #[error("the gateway is shutting down")]
    Closed,
}

/// Handle to the commit task; cheap to clone.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<(NewRequest, Reply)>,
}

impl Committer {
    /// Starts the commit task.
    pub fn start(ctx: CommitContext, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel(max_batch * 8);
        tokio::spawn(run(ctx, rx, max_batch));
        Committer { tx }
    }

    /// Stores the request durably (idempotent on its id); returns once committed.
    pub async fn commit(&self, req: NewRequest) -> Result<(), CommitError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((req, reply))
            .await
            .map_err(|_| CommitError::Closed)?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CommitError::Store(e)),
            Err(_) => Err(CommitError::Closed),
        }
    }
}

/// What the commit task works with.
pub struct CommitContext {
    pub store: Arc<Store>,
    pub catalog: Arc<Catalog>,
    pub rules: Arc<RulesCache>,
    /// The router hears of requests stored unrouted, dispatch of new events.
    pub signals: Signals,
}

/// Routes each request that is not rejected; leaves it unrouted when its
/// connections cannot be read.
async fn route_all(ctx: &CommitContext, reqs: &mut [NewRequest]) {
    let now = now_ms();
    for req in reqs.iter_mut().filter(|r| r.rejection_cause.is_none()) {
        match ctx.catalog.connections_of_source(&req.source_id).await {
            // No transformations here: they run user code, never inside the
            // ingest commit. The walker leaves such requests to the router.
            Ok(conns) => {
                req.route = walk(
                    &(&req.envelope).into(),
                    &req.source_id,
                    &conns,
                    &ctx.rules,
                    None,
                    now,
                )
                .map(|r| r.route);
            }
            Err(e) => tracing::warn!(error = %e, "connections unavailable; routing later"),
        }
    }
}

async fn run(ctx: CommitContext, mut rx: mpsc::Receiver<(NewRequest, Reply)>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let (mut reqs, replies): (Vec<NewRequest>, Vec<Reply>) = batch.drain(..).unzip();
        route_all(&ctx, &mut reqs).await;
        let result = ctx.store.insert_requests(&reqs, now_ms()).await;
        let outcome = match result {
            Ok(new_ids) => {
                // Counted once per stored request: a redelivered one is not new.
                for r in reqs.iter().filter(|r| new_ids.contains(&r.envelope.id)) {
                    crate::telemetry::request_received(&r.source_id, r.rejection_cause.is_some());
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, batch = reqs.len(), "ingest commit failed");
                Err(Arc::new(e))
            }
        };
        for reply in replies {
            let _ = reply.send(outcome.clone());
        }
        if outcome.is_ok() {
            let routed_later = reqs
                .iter()
                .any(|r| r.rejection_cause.is_none() && r.route.is_none());
            if routed_later {
                ctx.signals.notify(Signal::Route);
            }
            if reqs
                .iter()
                .any(|r| r.route.as_ref().is_some_and(|x| !x.events.is_empty()))
            {
                ctx.signals.notify(Signal::Dispatch);
            }
        }
    }
}
