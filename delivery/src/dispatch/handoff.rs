//! Events ingest stores already leased, handed to this replica's dispatcher in
//! memory: a webhook received now is delivered without the dispatcher leasing
//! it back and re-reading its request from the store (two round trips to the
//! one SQLite writer and a read, per batch).
//!
//! Ingest reserves a delivery slot (one of `delivery.concurrency`) for each
//! event it offers, so a handed event starts at once and its lease (the same
//! length as a dispatcher's) cannot lapse while it waits. The store grants the
//! lease only on the lease query's terms; an event it does not lease, or one
//! without a free slot, waits in the store for the dispatcher as before.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::model::{EventStatus, NewRequest};
use crate::store::{event_as_stored, request_as_stored, DueEvent, StoredRequests};

/// Bodies larger than this are not handed over: the dispatcher reads them when
/// it leases them, so a flood of large webhooks is not held twice in memory.
const MAX_HANDED_BODY: usize = 64 * 1024;

/// Ingest's side: offers events and hands over those stored leased.
#[derive(Clone)]
pub struct Handoff {
    /// The dispatcher's delivery slots.
    slots: Arc<Semaphore>,
    tx: mpsc::UnboundedSender<Handed>,
    lease: Duration,
}

/// The dispatcher's side.
pub struct Handed {
    pub due: DueEvent,
    pub lease_until: i64,
    /// The delivery slot reserved for it; given back when dropped.
    pub slot: OwnedSemaphorePermit,
}

/// Slots reserved for the events of one commit, by event id.
#[derive(Default)]
pub struct Offer {
    lease_until: i64,
    slots: HashMap<String, OwnedSemaphorePermit>,
}

impl Handoff {
    /// The hand-off of a dispatcher with `slots` and leases of `lease`.
    pub fn new(slots: Arc<Semaphore>, lease: Duration) -> (Self, mpsc::UnboundedReceiver<Handed>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Handoff { slots, tx, lease }, rx)
    }

    /// Asks for a lease on each event of `reqs` that is due now, as far as free
    /// delivery slots go, and reserves a slot for each.
    pub fn offer(&self, reqs: &mut [NewRequest], now: i64) -> Offer {
        let lease_until = now + self.lease.as_millis() as i64;
        let mut offer = Offer {
            lease_until,
            slots: HashMap::new(),
        };
        if self.tx.is_closed() {
            return offer;
        }
        let events = reqs
            .iter_mut()
            .filter(|r| r.envelope.body.len() <= MAX_HANDED_BODY)
            .filter_map(|r| r.route.as_mut())
            .flat_map(|route| route.events.iter_mut())
            .filter(|e| e.status == EventStatus::Queued && e.next_attempt_at <= now);
        for event in events {
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                break;
            };
            event.lease_until = Some(lease_until);
            offer.slots.insert(event.id.clone(), slot);
        }
        offer
    }

    /// Hands the events the store leased (storing `reqs` at `now`) to the
    /// dispatcher, each with its slot; the other slots are given back.
    pub fn hand_over(
        &self,
        mut offer: Offer,
        reqs: &[NewRequest],
        stored: &StoredRequests,
        now: i64,
    ) {
        if offer.slots.is_empty() {
            return;
        }
        let leased: std::collections::HashSet<&str> =
            stored.leased_events.iter().map(String::as_str).collect();
        for req in reqs {
            let Some(route) = &req.route else { continue };
            for e in route
                .events
                .iter()
                .filter(|e| leased.contains(e.id.as_str()))
            {
                let Some(slot) = offer.slots.remove(&e.id) else {
                    continue;
                };
                let due = DueEvent {
                    event: event_as_stored(req, e, now),
                    request: request_as_stored(req, now),
                };
                // A dispatcher that has stopped leaves the event leased in the
                // store: it is delivered once the lease lapses, as after a crash.
                let _ = self.tx.send(Handed {
                    due,
                    lease_until: offer.lease_until,
                    slot,
                });
            }
        }
    }
}
