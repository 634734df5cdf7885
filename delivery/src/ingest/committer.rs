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
//! round. The dispatcher's attempt results waiting to be written go into the same
//! transaction ([`crate::dispatch::results`]), or into one of their own when no
//! request is waiting.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::dispatch::handoff::Handoff;
use crate::dispatch::results::{RecorderQueue, ResultBatch};
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
    /// Starts the commit task, which also writes the attempt results queued on
    /// `results`.
    pub fn start(ctx: CommitContext, limits: BatchLimits, results: RecorderQueue) -> Self {
        let (tx, rx) = mpsc::channel(limits.max_requests * 8);
        let waiting = Waiting {
            rx: Some(rx),
            queue: VecDeque::new(),
            results: Some(results),
            limits,
        };
        tokio::spawn(run(ctx, waiting));
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

/// Work waiting for a transaction: requests in arrival order, and the attempt
/// results the dispatcher queued.
struct Waiting {
    /// `None` once closed (every [`Committer`] dropped).
    rx: Option<mpsc::Receiver<(NewRequest, Reply)>>,
    queue: VecDeque<(NewRequest, Reply)>,
    /// `None` once closed (the dispatcher stopped).
    results: Option<RecorderQueue>,
    limits: BatchLimits,
}

/// What one transaction writes: at least one of the two.
struct Work {
    requests: Vec<(NewRequest, Reply)>,
    results: Option<ResultBatch>,
}

/// What arrived while nothing was waiting.
enum Arrived {
    Requests(Vec<(NewRequest, Reply)>),
    Results(ResultBatch),
    RequestsClosed,
    ResultsClosed,
}

impl Waiting {
    /// The next batch: the oldest waiting requests up to the limits, with the
    /// results waiting. Waits only when nothing is queued; `None` once both
    /// channels are closed and everything has been taken.
    async fn next_work(&mut self) -> Option<Work> {
        let mut results = None;
        while self.queue.is_empty() && results.is_none() {
            let room = self.limits.max_requests;
            let arrived = tokio::select! {
                got = recv_requests(&mut self.rx, room), if self.rx.is_some() => match got {
                    Some(got) => Arrived::Requests(got),
                    None => Arrived::RequestsClosed,
                },
                batch = recv_results(&mut self.results), if self.results.is_some() => match batch {
                    Some(batch) => Arrived::Results(batch),
                    None => Arrived::ResultsClosed,
                },
                else => return None,
            };
            match arrived {
                Arrived::Requests(got) => self.queue.extend(got),
                Arrived::Results(batch) => results = Some(batch),
                Arrived::RequestsClosed => self.rx = None,
                Arrived::ResultsClosed => self.results = None,
            }
        }
        if let Some(rx) = self.rx.as_mut() {
            while self.queue.len() < self.limits.max_requests {
                match rx.try_recv() {
                    Ok(x) => self.queue.push_back(x),
                    Err(_) => break,
                }
            }
        }
        if results.is_none() {
            results = self.results.as_mut().and_then(|q| q.try_recv().ok());
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
        Some(Work {
            requests: self.queue.drain(..n).collect(),
            results,
        })
    }
}

/// Up to `room` requests, waiting for the first; `None` once the channel is closed.
async fn recv_requests(
    rx: &mut Option<mpsc::Receiver<(NewRequest, Reply)>>,
    room: usize,
) -> Option<Vec<(NewRequest, Reply)>> {
    let rx = rx.as_mut()?;
    let mut got = Vec::with_capacity(room);
    (rx.recv_many(&mut got, room).await > 0).then_some(got)
}

/// The next batch of results; `None` once the queue is closed.
async fn recv_results(results: &mut Option<RecorderQueue>) -> Option<ResultBatch> {
    results.as_mut()?.recv().await
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

impl CommitContext {
    /// A context on a new SQLite database in `dir` (fsynced as in production),
    /// for the tests of the commit task and of what feeds it. The receiver gets
    /// what is handed to the dispatcher.
    #[cfg(test)]
    pub(crate) async fn for_test(
        dir: &std::path::Path,
    ) -> (
        Self,
        tokio::sync::mpsc::UnboundedReceiver<crate::dispatch::handoff::Handed>,
    ) {
        use std::time::Duration;
        let url = format!("sqlite://{}", dir.join("t.db").display());
        let store = Arc::new(
            Store::connect(&url, crate::config::SqliteSync::Full)
                .await
                .expect("a SQLite store in the test's directory"),
        );
        let signals = Signals::default();
        let (handoff, handed) = Handoff::new(
            Arc::new(tokio::sync::Semaphore::new(4)),
            Duration::from_secs(30),
        );
        let ctx = CommitContext {
            catalog: Arc::new(Catalog::new(
                store.clone(),
                Duration::from_secs(1),
                signals.clone(),
            )),
            store,
            rules: Arc::new(RulesCache::default()),
            signals,
            handoff,
        };
        (ctx, handed)
    }
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

async fn run(ctx: CommitContext, mut waiting: Waiting) {
    while let Some(Work {
        requests,
        mut results,
    }) = waiting.next_work().await
    {
        if !requests.is_empty() {
            commit_requests(&ctx, requests, &mut results).await;
        }
        // Results no commit of requests took (none was waiting, or theirs failed)
        // go in a transaction of their own.
        if let Some(batch) = results {
            let result = ctx.store.record_attempts(&batch.outcomes, now_ms()).await;
            batch.finish(result.map_err(Arc::new));
        }
    }
}

/// Commits a batch of requests and answers each sender. The attempt results in
/// `results` go into the same transaction; they are taken (and answered) when it
/// commits, and left in place when it fails.
async fn commit_requests(
    ctx: &CommitContext,
    batch: Vec<(NewRequest, Reply)>,
    results: &mut Option<ResultBatch>,
) {
    let (kept, later) = match take_duplicates(ctx, batch).await {
        Ok(x) => x,
        Err((e, replies)) => {
            tracing::error!(error = %e, "ingest commit failed (reading dedup keys)");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
    };
    let (mut reqs, replies): (Vec<NewRequest>, Vec<Reply>) = kept.into_iter().unzip();
    find_topics(ctx, &mut reqs).await;
    route_all(ctx, &mut reqs).await;
    let now = now_ms();
    let offer = ctx.handoff.offer(&mut reqs, now);
    let outcomes = results.as_ref().map_or(&[][..], |b| &b.outcomes[..]);
    let mut result = ctx
        .store
        .store_requests_and_record(&reqs, outcomes, now)
        .await;
    let mut recorded = None;
    match &result {
        Ok(_) => recorded = results.take(),
        // Neither part is stored; the requests must not wait on results
        // that may be what failed.
        Err(e) if !outcomes.is_empty() => {
            tracing::warn!(error = %e, "ingest commit with attempt results failed; committing them apart");
            result = ctx.store.store_requests(&reqs, now).await;
        }
        Err(_) => {}
    }
    let mut handed = 0;
    let outcome = match result {
        Ok(stored) => {
            handed = stored.leased_events.len();
            ctx.handoff.hand_over(offer, &reqs, &stored, now);
            if let Some(batch) = recorded {
                batch.finish(Ok(()));
            }
            let new_ids = stored.new_ids;
            // Counted once per stored request: a redelivered one is not new.
            for r in reqs.iter().filter(|r| new_ids.contains(&r.envelope.id)) {
                crate::telemetry::request_received(&r.source_id, r.rejection_cause.is_some());
            }
            answers(ctx, &reqs, &new_ids, later).await
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
            return;
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

    fn waiting(
        rx: mpsc::Receiver<(NewRequest, Reply)>,
        results: Option<RecorderQueue>,
        max_requests: usize,
        max_bytes: usize,
    ) -> Waiting {
        Waiting {
            rx: Some(rx),
            queue: VecDeque::new(),
            results,
            limits: BatchLimits {
                max_requests,
                max_bytes,
            },
        }
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
        let mut waiting = waiting(rx, None, 8, 10);
        let mut batches = Vec::new();
        while let Some(w) = waiting.next_work().await {
            batches.push(sizes(&w.requests));
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
        let mut waiting = waiting(rx, None, 2, 1 << 20);
        let mut batches = Vec::new();
        while let Some(w) = waiting.next_work().await {
            batches.push(w.requests.len());
        }
        assert_eq!(batches, vec![2, 2, 1]);
    }

    /// An empty batch of results; nobody waits for its answer.
    fn results_batch() -> ResultBatch {
        ResultBatch {
            outcomes: Vec::new(),
            done: oneshot::channel().0,
        }
    }

    #[tokio::test]
    async fn results_go_with_the_requests_waiting_or_alone() {
        let (tx, rx) = mpsc::channel(16);
        let (results_tx, results_rx) = mpsc::channel(1);
        let mut waiting = waiting(rx, Some(results_rx), 8, 1 << 20);
        // Requests and results both waiting: one transaction takes both.
        tx.send(request(1)).await.unwrap();
        tx.send(request(2)).await.unwrap();
        results_tx.send(results_batch()).await.unwrap();
        let w = waiting.next_work().await.unwrap();
        assert_eq!(sizes(&w.requests), vec![1, 2]);
        assert!(w.results.is_some(), "the results ride with the requests");

        // Results alone do not wait for a request.
        results_tx.send(results_batch()).await.unwrap();
        let w = waiting.next_work().await.unwrap();
        assert!(w.requests.is_empty());
        assert!(w.results.is_some());

        // Both closed: nothing more, once everything was taken.
        tx.send(request(3)).await.unwrap();
        drop(tx);
        drop(results_tx);
        let w = waiting.next_work().await.unwrap();
        assert_eq!(sizes(&w.requests), vec![3]);
        assert!(w.results.is_none());
        assert!(waiting.next_work().await.is_none());
    }

    #[tokio::test]
    async fn results_are_still_taken_after_every_committer_is_gone() {
        let (tx, rx) = mpsc::channel::<(NewRequest, Reply)>(16);
        let (results_tx, results_rx) = mpsc::channel(1);
        let mut waiting = waiting(rx, Some(results_rx), 8, 1 << 20);
        // Ingest stops before the dispatcher has written its last results.
        drop(tx);
        let send = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            results_tx.send(results_batch()).await.unwrap();
        });
        let w = waiting.next_work().await.unwrap();
        assert!(w.requests.is_empty());
        assert!(w.results.is_some());
        send.await.unwrap();
        assert!(waiting.next_work().await.is_none());
    }

    fn outcome(id: &str) -> crate::store::AttemptOutcome {
        use crate::model::{Attempt, AttemptStatus, AttemptTrigger, EventStatus};
        crate::store::AttemptOutcome {
            attempt: Attempt {
                id: id.into(),
                event_id: "evt_1".into(),
                destination_id: "des_1".into(),
                attempt_number: 1,
                trigger: AttemptTrigger::Initial,
                status: AttemptStatus::Successful,
                response_status: Some(200),
                response_headers: None,
                response_body: None,
                error_code: None,
                error_message: None,
                requested_url: None,
                http_method: None,
                duration_ms: 1,
                created_at: 1,
                bulk_retry_id: None,
            },
            connection_id: "web_1".into(),
            status: EventStatus::Successful,
            next_attempt_at: None,
            lease_until: 1,
        }
    }

    /// Results that cannot be stored (here: an attempt id already taken) must
    /// not cost the requests committed with them.
    #[tokio::test]
    async fn requests_are_stored_when_the_results_beside_them_fail() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _handed) = CommitContext::for_test(dir.path()).await;
        let store = ctx.store.clone();
        store.record_attempts(&[outcome("att_1")], 1).await.unwrap();

        let (req, reply) = request(7);
        let (reply_tx, answer) = oneshot::channel();
        drop(reply);
        let (done, recorded) = oneshot::channel();
        let mut results = Some(ResultBatch {
            outcomes: vec![outcome("att_1")],
            done,
        });
        commit_requests(&ctx, vec![(req, reply_tx)], &mut results).await;

        let committed = answer.await.unwrap().unwrap();
        assert_eq!(committed.request_id, "req_7");
        assert!(store.get_request("req_7", false).await.unwrap().is_some());
        // The results are left for a transaction of their own, whose failure goes
        // back to the dispatcher.
        let batch = results.expect("the failed results are left in place");
        let result = store.record_attempts(&batch.outcomes, 1).await;
        batch.finish(result.map_err(Arc::new));
        let (outcomes, result) = recorded.await.unwrap();
        assert_eq!(outcomes.len(), 1);
        assert!(result.is_err());
    }
}
