//! Dispatch: lease due events, deliver them, record each attempt and decide what
//! happens next.
//!
//! - [`outcome`]: success, retry later (schedule or `Retry-After`), or give up.
//! - [`limits`]: per-destination rate and concurrency limits, in front of every
//!   adapter, shared by the replicas through the database.
//! - [`handoff`]: events ingest stored leased, delivered without a lease round.
//! - [`results`]: attempt results, written by ingest's committer in its next
//!   transaction.
//! - [`Dispatcher`]: the worker loop. Attempts run concurrently up to
//!   `delivery.concurrency`; their results are gathered in batches by one task,
//!   written ([`results`]), then handed to the issue tracker.

pub mod handoff;
pub mod limits;
pub mod outcome;
pub mod results;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookyard_core::id::IdKind;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::catalog::Catalog;
use crate::clock::{new_id, now_ms};
use crate::destinations::{Adapters, Delivery, DeliveryResult};
use crate::egress::redact;
use crate::issues::tracker::Tracker;
use crate::model::{Attempt, AttemptStatus, AttemptTrigger};
use crate::route::rules::RetryPolicy;
use crate::route::RulesCache;
use crate::shutdown::Shutdown;
use crate::signals::{Signal, Signals};
use crate::store::{AttemptOutcome, DueEvent, LeaseScope, Store};
use handoff::Handed;
use limits::{DestinationLimits, LimitSpec};

pub struct Dispatcher {
    pub store: Arc<Store>,
    pub catalog: Arc<Catalog>,
    pub rules: Arc<RulesCache>,
    pub adapters: Arc<Adapters>,
    pub default_retry: RetryPolicy,
    pub concurrency: usize,
    /// `concurrency` delivery slots, shared with ingest's [`handoff::Handoff`].
    pub slots: Arc<Semaphore>,
    pub signals: Signals,
    pub poll: Duration,
    /// How long a lease outlives the attempt timeout before another replica may
    /// take the event over.
    pub lease: Duration,
    pub limits: DestinationLimits,
    /// Sees every stored batch of results (issues, destination health, metrics).
    pub tracker: Arc<Tracker>,
    /// Has ingest's committer write the results.
    pub recorder: results::Recorder,
}

impl Dispatcher {
    /// Delivers until `shutdown`: events ingest hands over (`handed`) and those
    /// it leases.
    pub async fn run(self, mut handed: mpsc::UnboundedReceiver<Handed>, mut shutdown: Shutdown) {
        let this = Arc::new(self);
        let permits = this.slots.clone();
        let (results_tx, results_rx) = mpsc::channel::<AttemptOutcome>(this.concurrency * 4);
        let writer = tokio::spawn(write_results(this.clone(), results_rx));
        let start =
            |h: Handed| spawn_attempt(&this, &results_tx, h.due, None, h.lease_until, h.slot);

        loop {
            if shutdown.is_triggered() {
                break;
            }
            while let Ok(h) = handed.try_recv() {
                start(h);
            }
            let free = permits.available_permits();
            if free == 0 {
                // All slots busy: wait for one to free up (or for shutdown).
                tokio::select! {
                    p = permits.clone().acquire_owned() => drop(p),
                    Some(h) = handed.recv() => start(h),
                    _ = shutdown.recv() => break,
                }
                continue;
            }
            // The slots for what this round leases are taken before it leases:
            // ingest takes free slots for the events it hands over, and a round
            // waiting for a slot while handed events hold them all (and wait for
            // this loop to start them) would wait forever.
            let Ok(mut reserved) = permits.clone().try_acquire_many_owned(free as u32) else {
                continue;
            };
            let now = now_ms();
            let lease_until = now + this.lease.as_millis() as i64;
            let round = match this.lease_round(now, free, lease_until).await {
                Ok(r) => r,
                Err(e) => {
                    drop(reserved);
                    tracing::error!(error = %e, "leasing due events failed; will retry");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if round.due.is_empty() {
                drop(reserved);
                let mut sleep = this.sleep_until_next_due().await;
                if let Some(limited) = round.limited_wait {
                    sleep = sleep.min(limited);
                }
                let wake = tokio::time::sleep(sleep);
                tokio::pin!(wake);
                // Handed events start while the dispatcher sleeps.
                loop {
                    tokio::select! {
                        Some(h) = handed.recv() => start(h),
                        _ = this.signals.notified(Signal::Dispatch) => break,
                        _ = &mut wake => break,
                        _ = shutdown.recv() => break,
                    }
                }
                continue;
            }
            // A round leases at most `free` events, one reserved slot each; the
            // slots left over go back when `reserved` drops.
            for (item, start_at) in round.due {
                let Some(slot) = reserved.split(1) else {
                    break;
                };
                spawn_attempt(&this, &results_tx, item, start_at, lease_until, slot);
            }
        }
        // Events handed over are leased to this replica: deliver them rather than
        // leave them waiting for their leases to lapse.
        handed.close();
        while let Some(h) = handed.recv().await {
            start(h);
        }
        // Let attempts in flight finish and their results be written.
        let _ = permits.acquire_many(this.concurrency as u32).await;
        drop(results_tx);
        let _ = writer.await;
    }

    /// Leases up to `free` due events: those of unlimited destinations first, then
    /// of each limited destination as many as its limits let start within
    /// [`limits::HORIZON`] (the database paces them across replicas).
    async fn lease_round(
        &self,
        now: i64,
        free: usize,
        lease_until: i64,
    ) -> crate::store::StoreResult<LeaseRound> {
        let limited = self.catalog.limited_destinations().await?;
        let listening = self.adapters.cli.listeners.connections();
        self.limits.retain(&limited);
        // Events that were transformed go out as transformed (the store overlays them).
        let mut due: Vec<(DueEvent, Option<Instant>)> = self
            .store
            .lease_due_events_in(
                now,
                free.min(500) as i64,
                lease_until,
                &LeaseScope::Unlimited,
                &listening,
            )
            .await?
            .into_iter()
            .map(|e| (e, None))
            .collect();
        let mut limited_wait: Option<Duration> = None;
        let mut wait_at_most = |w: Duration| {
            limited_wait = Some(limited_wait.map_or(w, |l: Duration| l.min(w)));
        };
        for d in limited.iter() {
            let room = free.saturating_sub(due.len()).min(500);
            if room == 0 {
                break;
            }
            let wait = self.limits.wait(&d.id, Instant::now());
            if !wait.is_zero() {
                wait_at_most(wait);
                continue;
            }
            let lease = self
                .store
                .lease_limited(
                    &d.id,
                    &LimitSpec::of(d).pacing(),
                    room as i64,
                    now,
                    lease_until,
                    limits::HORIZON.as_micros() as i64,
                    &listening,
                )
                .await?;
            let retry_in = lease
                .retry_in_us
                .map(|us| Duration::from_micros(us.max(0) as u64));
            self.limits
                .learned(&d.id, Instant::now(), retry_in, lease.cap_full);
            if let Some(w) = retry_in {
                wait_at_most(w);
            }
            due.extend(lease.events.into_iter().map(|(e, at)| (e, Some(at))));
        }
        Ok(LeaseRound { due, limited_wait })
    }

    /// Attempts' leases were given up: a destination whose cap was full is
    /// worth a lease round now.
    fn attempts_ended<'a>(&self, destination_ids: impl IntoIterator<Item = &'a str>) {
        if self.limits.attempts_ended(destination_ids) {
            self.signals.notify(Signal::Dispatch);
        }
    }

    async fn sleep_until_next_due(&self) -> Duration {
        let listening = self.adapters.cli.listeners.connections();
        match self.store.next_due_at(now_ms(), &listening).await {
            Ok(Some(at)) => {
                let wait = (at - now_ms()).max(5) as u64;
                Duration::from_millis(wait).min(self.poll)
            }
            _ => self.poll,
        }
    }

    /// One attempt, or `None` when nothing was sent (a CLI destination nobody
    /// listens for now): the lease is given back and the event waits.
    async fn attempt(&self, item: DueEvent, lease_until: i64) -> Option<AttemptOutcome> {
        let DueEvent { event, request } = item;
        let attempt_number = event.attempts + 1;
        let started = Instant::now();
        let created_at = now_ms();
        let destination = self.catalog.destination(&event.destination_id).await;
        let result = match &destination {
            Ok(Some(dest)) => {
                let adapter = self.adapters.for_destination(dest);
                adapter
                    .deliver(&Delivery {
                        event_id: &event.id,
                        connection_id: &event.connection_id,
                        request: &request,
                        destination: dest,
                        attempt_number,
                    })
                    .await
            }
            Ok(None) => DeliveryResult::error("UNKNOWN", "the destination was deleted"),
            Err(e) => DeliveryResult::error("UNKNOWN", format!("could not load destination: {e}")),
        };
        if result.held {
            let ids = [event.id.clone()];
            match self.store.release_leases(&ids, lease_until).await {
                Ok(()) => self.attempts_ended([event.destination_id.as_str()]),
                // The lease lapses by itself; the event waits until then.
                Err(e) => {
                    tracing::warn!(error = %e, event = %event.id, "giving a lease back failed")
                }
            }
            return None;
        }
        let policy = match self.catalog.connection(&event.connection_id).await {
            Ok(Some(c)) => self.rules.get(&c).retry.clone(),
            _ => None,
        }
        .unwrap_or_else(|| self.default_retry.clone());
        let (status, next_attempt_at) = outcome::decide(&result, attempt_number, &policy, now_ms());
        Some(AttemptOutcome {
            connection_id: event.connection_id.clone(),
            attempt: Attempt {
                id: new_id(IdKind::Attempt),
                event_id: event.id.clone(),
                destination_id: event.destination_id.clone(),
                attempt_number,
                trigger: event.next_trigger,
                status: if result.success {
                    AttemptStatus::Successful
                } else {
                    AttemptStatus::Failed
                },
                response_status: result.response_status.map(i64::from),
                response_headers: result.response_headers,
                response_body: result.response_body,
                error_code: result.error_code.map(str::to_owned),
                // Adapters redact their own errors; this keeps a URL's
                // credentials out of the store whatever an adapter wrote.
                error_message: result.error_message.as_deref().map(redact::urls_in),
                requested_url: result.requested_url,
                http_method: result.http_method,
                duration_ms: started.elapsed().as_millis() as i64,
                created_at,
                // A bulk retry's id goes with the attempt it queued (or, for an
                // event it created, the first); a later automatic or manual
                // attempt is not the bulk retry's.
                bulk_retry_id: match event.next_trigger {
                    AttemptTrigger::BulkRetry | AttemptTrigger::Initial => {
                        event.bulk_retry_id.clone()
                    }
                    _ => None,
                },
            },
            status,
            next_attempt_at,
            lease_until,
        })
    }
}

/// Runs one leased event's attempt in its own task, holding `slot` until its
/// result is queued for the writer.
fn spawn_attempt(
    this: &Arc<Dispatcher>,
    results: &mpsc::Sender<AttemptOutcome>,
    item: DueEvent,
    start_at: Option<Instant>,
    lease_until: i64,
    slot: OwnedSemaphorePermit,
) {
    let this = this.clone();
    let tx = results.clone();
    tokio::spawn(async move {
        // A limited destination's attempts start at their paced times.
        if let Some(at) = start_at {
            tokio::time::sleep_until(at.into()).await;
        }
        let outcome = this.attempt(item, lease_until).await;
        // If the writer is gone we are shutting down; the lease expires
        // and the event is delivered again (at-least-once).
        if let Some(outcome) = outcome {
            let _ = tx.send(outcome).await;
        }
        drop(slot);
    });
}

/// Events leased in one round, each with when its attempt starts.
struct LeaseRound {
    /// Each event with when it may start (`None`: now).
    due: Vec<(DueEvent, Option<Instant>)>,
    /// When a limited destination may take more.
    limited_wait: Option<Duration>,
}

/// Writes attempt results in batches: whatever has arrived while the last batch was
/// written goes to the committer, into its next transaction (or, with no committer
/// taking batches, into one of its own). A failed write is retried; the results stay
/// in memory until stored (and if the process dies first, the leases expire and the
/// events are delivered again). Stored batches go to the tracker.
async fn write_results(this: Arc<Dispatcher>, mut rx: mpsc::Receiver<AttemptOutcome>) {
    let mut batch = Vec::with_capacity(512);
    while rx.recv_many(&mut batch, 512).await > 0 {
        let mut delay = Duration::from_millis(100);
        loop {
            let (outcomes, result) = match this.recorder.record(batch).await {
                Ok(recorded) => recorded,
                Err(outcomes) => {
                    let result = this.store.record_attempts(&outcomes, now_ms()).await;
                    (outcomes, result.map_err(Arc::new))
                }
            };
            batch = outcomes;
            match result {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, n = batch.len(), "recording attempts failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
        this.attempts_ended(batch.iter().map(|o| o.attempt.destination_id.as_str()));
        this.tracker.observe(&batch).await;
        batch.clear();
    }
}
