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
//!
//! A batch is capped by count (`ingest.max_batch`) and by body bytes
//! (`ingest.max_commit_bytes`). Events due now are offered to this replica's
//! dispatcher ([`Handoff`]): stored leased, they are delivered without a lease
//! round.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::dispatch::handoff::Handoff;
use crate::model::NewRequest;
use crate::route::{walk, RouteInput, RulesCache};
use crate::signals::{Signal, Signals};
use crate::store::{Store, StoreError};

/// The id the sender is answered with: its own, or for a duplicate of a
/// request already stored (same dedup key) the stored one's.
type Reply = oneshot::Sender<Result<Committed, Arc<StoreError>>>;

/// A request stored (or found already stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub request_id: String,
    /// An earlier request with the same dedup key was stored; this one was not.
    pub duplicate: bool,
}

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
    pub fn start(ctx: CommitContext, limits: BatchLimits) -> Self {
        let (tx, rx) = mpsc::channel(limits.max_requests * 8);
        tokio::spawn(run(ctx, rx, limits));
        Committer { tx }
    }

    /// Stores the request durably (idempotent on its id, and on its dedup key
    /// within its source); returns once committed.
    pub async fn commit(&self, req: NewRequest) -> Result<Committed, CommitError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((req, reply))
            .await
            .map_err(|_| CommitError::Closed)?;
        match done.await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(CommitError::Store(e)),
            Err(_) => Err(CommitError::Closed),
        }
    }
}

/// How much one transaction takes.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// `ingest.max_batch`.
    pub max_requests: usize,
    /// `ingest.max_commit_bytes`: body bytes per transaction (a larger body goes
    /// alone). While a batch commits its bodies exist several times over (the
    /// bound arguments, SQLite's copies, the WAL), so this, not the in-flight
    /// budget, bounds that overhead.
    pub max_bytes: usize,
}

/// Requests waiting for a transaction, in arrival order.
struct Waiting {
    rx: mpsc::Receiver<(NewRequest, Reply)>,
    queue: VecDeque<(NewRequest, Reply)>,
    limits: BatchLimits,
}

impl Waiting {
    /// The next batch: the oldest waiting requests up to the limits, at least one.
    /// Waits only when nothing is queued; `None` once the channel is closed and
    /// everything has been taken.
    async fn next_batch(&mut self) -> Option<Vec<(NewRequest, Reply)>> {
        let room = self.limits.max_requests.saturating_sub(self.queue.len());
        if self.queue.is_empty() {
            let mut got = Vec::with_capacity(room);
            if self.rx.recv_many(&mut got, room).await == 0 {
                return None;
            }
            self.queue.extend(got);
        } else {
            while self.queue.len() < self.limits.max_requests {
                match self.rx.try_recv() {
                    Ok(x) => self.queue.push_back(x),
                    Err(_) => break,
                }
            }
        }
        let mut bytes = 0usize;
        let mut n = 0;
        for (req, _) in self.queue.iter().take(self.limits.max_requests) {
            bytes = bytes.saturating_add(req.envelope.body.len());
            if n > 0 && bytes > self.limits.max_bytes {
                break;
            }
            n += 1;
        }
        Some(self.queue.drain(..n).collect())
    }
}

/// What the commit task works with.
pub struct CommitContext {
    pub store: Arc<Store>,
    pub catalog: Arc<Catalog>,
    pub rules: Arc<RulesCache>,
    /// The router hears of requests stored unrouted, dispatch of new events.
    pub signals: Signals,
    /// Events stored leased go straight to this replica's dispatcher.
    pub handoff: Handoff,
}

/// Gives each request without a topic the one its source's `topic_from` finds.
async fn find_topics(ctx: &CommitContext, reqs: &mut [NewRequest]) {
    for req in reqs.iter_mut().filter(|r| r.topic.is_none()) {
        match ctx.catalog.source(&req.source_id).await {
            Ok(Some(source)) => {
                if let Some(rule) = &source.topic_from {
                    req.topic = rule.topic_of(&req.envelope.headers, &req.envelope.body);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "source unavailable; request stored without its topic")
            }
        }
    }
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
                    &RouteInput::of_envelope(&req.envelope, req.topic.as_deref()),
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

type DedupKey = (String, String);

fn dedup_key(r: &NewRequest) -> Option<DedupKey> {
    r.dedup_key
        .as_ref()
        .map(|k| (r.source_id.clone(), k.clone()))
}

/// Answers the requests of `batch` whose dedup key is already stored, with the
/// stored request's id, and returns the others. Of several in the batch with
/// one key, the first is kept; the later ones are answered after its commit.
async fn take_duplicates(
    ctx: &CommitContext,
    batch: Vec<(NewRequest, Reply)>,
) -> Result<(Vec<(NewRequest, Reply)>, Vec<(DedupKey, Reply)>), (Arc<StoreError>, Vec<Reply>)> {
    let keys: Vec<DedupKey> = batch.iter().filter_map(|(r, _)| dedup_key(r)).collect();
    if keys.is_empty() {
        return Ok((batch, Vec::new()));
    }
    let stored = match ctx.store.requests_by_dedup_key(&keys).await {
        Ok(s) => s,
        Err(e) => return Err((Arc::new(e), batch.into_iter().map(|(_, r)| r).collect())),
    };
    let mut kept = Vec::with_capacity(batch.len());
    let mut later = Vec::new();
    let mut in_batch = std::collections::HashSet::new();
    for (req, reply) in batch {
        let Some(key) = dedup_key(&req) else {
            kept.push((req, reply));
            continue;
        };
        if let Some(id) = stored.get(&key) {
            let _ = reply.send(Ok(Committed {
                request_id: id.clone(),
                duplicate: true,
            }));
        } else if !in_batch.insert(key.clone()) {
            later.push((key, reply));
        } else {
            kept.push((req, reply));
        }
    }
    Ok((kept, later))
}

async fn run(ctx: CommitContext, rx: mpsc::Receiver<(NewRequest, Reply)>, limits: BatchLimits) {
    let mut waiting = Waiting {
        rx,
        queue: VecDeque::new(),
        limits,
    };
    while let Some(batch) = waiting.next_batch().await {
        let (kept, later) = match take_duplicates(&ctx, batch).await {
            Ok(x) => x,
            Err((e, replies)) => {
                tracing::error!(error = %e, "ingest commit failed (reading dedup keys)");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
                continue;
            }
        };
        let (mut reqs, replies): (Vec<NewRequest>, Vec<Reply>) = kept.into_iter().unzip();
        find_topics(&ctx, &mut reqs).await;
        route_all(&ctx, &mut reqs).await;
        let now = now_ms();
        let offer = ctx.handoff.offer(&mut reqs, now);
        let result = ctx.store.store_requests(&reqs, now).await;
        let mut handed = 0;
        let outcome = match result {
            Ok(stored) => {
                handed = stored.leased_events.len();
                ctx.handoff.hand_over(offer, &reqs, &stored, now);
                let new_ids = stored.new_ids;
                // Counted once per stored request: a redelivered one is not new.
                for r in reqs.iter().filter(|r| new_ids.contains(&r.envelope.id)) {
                    crate::telemetry::request_received(&r.source_id, r.rejection_cause.is_some());
                }
                answers(&ctx, &reqs, &new_ids, later).await
            }
            Err(e) => {
                tracing::error!(error = %e, batch = reqs.len(), "ingest commit failed");
                Err(Arc::new(e))
            }
        };
        match outcome {
            Ok((ids, later)) => {
                for (reply, committed) in replies.into_iter().zip(ids) {
                    let _ = reply.send(Ok(committed));
                }
                for (reply, committed) in later {
                    let _ = reply.send(Ok(committed));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
                continue;
            }
        }
        let routed_later = reqs
            .iter()
            .any(|r| r.rejection_cause.is_none() && r.route.is_none());
        if routed_later {
            ctx.signals.notify(Signal::Route);
        }
        // Events handed over need no lease round; the others wait for one.
        let events: usize = reqs
            .iter()
            .filter_map(|r| r.route.as_ref())
            .map(|x| x.events.len())
            .sum();
        if events > handed {
            ctx.signals.notify(Signal::Dispatch);
        }
    }
}

type Answers = (Vec<Committed>, Vec<(Reply, Committed)>);

/// What each committed request is answered with. A request with a dedup key
/// that was not new lost to one stored meanwhile (another replica): its id is
/// looked up. The transaction is committed either way, so a failed lookup
/// answers with the request's own id rather than an error that would make the
/// sender send it again.
async fn answers(
    ctx: &CommitContext,
    reqs: &[NewRequest],
    new_ids: &[String],
    later: Vec<(DedupKey, Reply)>,
) -> Result<Answers, Arc<StoreError>> {
    let new: std::collections::HashSet<&str> = new_ids.iter().map(String::as_str).collect();
    let lost: Vec<DedupKey> = reqs
        .iter()
        .filter(|r| !new.contains(r.envelope.id.as_str()))
        .filter_map(dedup_key)
        .collect();
    let stored = if lost.is_empty() {
        Default::default()
    } else {
        ctx.store
            .requests_by_dedup_key(&lost)
            .await
            .unwrap_or_default()
    };
    let first_of: std::collections::HashMap<DedupKey, String> = reqs
        .iter()
        .filter_map(|r| dedup_key(r).map(|k| (k, r.envelope.id.clone())))
        .collect();
    let ids = reqs
        .iter()
        .map(|r| match dedup_key(r).and_then(|k| stored.get(&k)) {
            Some(id) if *id != r.envelope.id => Committed {
                request_id: id.clone(),
                duplicate: true,
            },
            _ => Committed {
                request_id: r.envelope.id.clone(),
                duplicate: false,
            },
        })
        .collect();
    let later = later
        .into_iter()
        .map(|(key, reply)| {
            let id = stored
                .get(&key)
                .or_else(|| first_of.get(&key))
                .cloned()
                .unwrap_or_default();
            (
                reply,
                Committed {
                    request_id: id,
                    duplicate: true,
                },
            )
        })
        .collect();
    Ok((ids, later))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookyard_core::envelope::Envelope;

    fn request(body_len: usize) -> (NewRequest, Reply) {
        let envelope = Envelope {
            id: format!("req_{body_len}"),
            source: "s".into(),
            received_at_ms: 0,
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers: Vec::new(),
            body: vec![b'x'; body_len],
        };
        let req = NewRequest {
            envelope,
            source_id: "src_1".into(),
            verified: None,
            rejection_cause: None,
            route: None,
            topic: None,
            dedup_key: None,
        };
        (req, oneshot::channel().0)
    }

    fn sizes(batch: &[(NewRequest, Reply)]) -> Vec<usize> {
        batch.iter().map(|(r, _)| r.envelope.body.len()).collect()
    }

    #[tokio::test]
    async fn a_batch_stops_at_its_byte_limit_and_a_larger_body_goes_alone() {
        let (tx, rx) = mpsc::channel(16);
        for len in [4, 4, 4, 30, 1, 4] {
            tx.send(request(len)).await.unwrap();
        }
        drop(tx);
        let mut waiting = Waiting {
            rx,
            queue: VecDeque::new(),
            limits: BatchLimits {
                max_requests: 8,
                max_bytes: 10,
            },
        };
        let mut batches = Vec::new();
        while let Some(b) = waiting.next_batch().await {
            batches.push(sizes(&b));
        }
        assert_eq!(
            batches,
            vec![vec![4, 4], vec![4], vec![30], vec![1, 4]],
            "in arrival order, none over 10 bytes unless alone"
        );
    }

    #[tokio::test]
    async fn a_batch_stops_at_its_request_limit() {
        let (tx, rx) = mpsc::channel(16);
        for _ in 0..5 {
            tx.send(request(1)).await.unwrap();
        }
        drop(tx);
        let mut waiting = Waiting {
            rx,
            queue: VecDeque::new(),
            limits: BatchLimits {
                max_requests: 2,
                max_bytes: 1 << 20,
            },
        };
        let mut batches = Vec::new();
        while let Some(b) = waiting.next_batch().await {
            batches.push(b.len());
        }
        assert_eq!(batches, vec![2, 2, 1]);
    }
}
